"""Names worth spelling right, picked out of a show's title and an episode's show notes.

Pure text rules, no model: runs of capitalised words (``Brian Ducharme``, ``Virtual Strategy Magazine``),
CamelCase and inner capitals (``PostgreSQL``, ``iPhone``, ``DeSharn``), acronyms (``UML``, ``KDE``), and single
capitalised words that are not just starting a sentence, in any script with capitals (``Émilie Dupré``,
``Łukasz``). Common English words are dropped, and so are
words that the notes also write in lower case (an ordinary word, capitalised only at the start of a line).
"""
from __future__ import annotations

import re

MAX_NAMES = 40

# Function words and the words show notes capitalise most often; a name is never made only of these.
COMMON = frozenset("""
a about after all also an and any are as at be because been before being but by can could did do does
during each episode episodes for from had has have he her here him his how i if in into is it its just
join last let like listen make me more most my new next no not now of on one or our out over part
please podcast season she show so some subscribe than that the their them then there these they this
those through to today too two up us was we week welcome what when where which while who why will with
would you your yes our ours thanks thank guest guests host hosts interview talk talks
links link chapters chapter notes transcript sponsor sponsors sponsored follow support
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
""".split())

_LETTER = r"[^\W\d_]"  # any script's letter: Émilie, Søren, Łukasz, Ğ
_WORD = rf"{_LETTER}[\w'’.+-]*[^\W_]|{_LETTER}"
_TOKEN = re.compile(_WORD)
_SENTENCE_END = re.compile(r"[.!?:;\n]\s*$|^\s*$")


def names_from(show_title: str, description: str, limit: int = MAX_NAMES) -> tuple[str, ...]:
    """Names in the show title and the episode description, most mentioned first (ties: first seen)."""
    text = f"{show_title}.\n{description}"
    lower_words = {m.group(0).lower() for m in _TOKEN.finditer(text) if m.group(0).islower()}
    counts: dict[str, int] = {}
    for name in _candidates(text, lower_words):
        counts[name] = counts.get(name, 0) + 1
    ranked = sorted(counts, key=lambda n: -counts[n])
    return tuple(_without_parts(ranked))[:limit]


def _candidates(text: str, lower_words: set[str]) -> list[str]:
    """Every name-like run, in order of appearance."""
    found, run = [], []
    for match in _TOKEN.finditer(text):
        word = _without_elision(match.group(0).rstrip(".'’"))
        starts_sentence = _SENTENCE_END.search(text[:match.start()]) is not None
        gap = text[run[-1][1]:match.start()] if run else ""
        if run and not re.fullmatch(r"[ \t]+", gap):
            found.extend(_flush(run, lower_words))
            run = []
        if _capitalised(word):
            run.append((word, match.end(), starts_sentence))
        else:
            found.extend(_flush(run, lower_words))
            run = []
    found.extend(_flush(run, lower_words))
    return found


def _flush(run: list[tuple[str, int, bool]], lower_words: set[str]) -> list[str]:
    """A run of capitalised words -> the name it holds (common words trimmed from its ends), if any."""
    words = [w for w, _, _ in run]
    while words and words[0].lower() in COMMON:
        words.pop(0)
    while words and words[-1].lower() in COMMON:
        words.pop()
    if not words:
        return []
    if len(words) > 1:
        return [" ".join(words)]
    word = words[0]
    if _special(word):
        return [word]
    sentence_start = run[0][2] and run[0][0] == word
    if sentence_start or word.lower() in lower_words or len(word) < 3:
        return []
    return [word]


def _without_elision(word: str) -> str:
    """``d'Œdipe``, ``l'Italia``, ``dell'Europa``: the name without the elided article or preposition before it
    (``O'Brien`` stays whole: its first part is capitalised)."""
    head, sep, rest = word.partition("'") if "'" in word else word.partition("’")
    return rest if sep and 1 <= len(head) <= 4 and head.islower() and rest[:1].isupper() else word


def _capitalised(word: str) -> bool:
    return word[:1].isupper() or _special(word)


def _special(word: str) -> bool:
    """An acronym (``UML``), CamelCase or an inner capital (``PostgreSQL``, ``iPhone``, ``DeSharn``)."""
    letters = "".join(c for c in word if c.isalpha())
    if len(letters) >= 2 and letters.isupper():
        return True
    return any(c.isupper() for c in letters[1:]) and any(c.islower() for c in letters)


def _without_parts(names: list[str]) -> list[str]:
    """Drop a single word already inside a longer name kept (``Ducharme`` when ``Brian Ducharme`` is there)."""
    multi = [n for n in names if " " in n]
    return [n for n in names if " " in n or not any(n in m.split() for m in multi)]
