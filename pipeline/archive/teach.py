"""Corrections that teach: the names and terms a reviewer wrote in become the show's vocabulary, which goes into
the next episodes' prompt (:mod:`pipeline.vocabulary`) as the show notes' names do.

A term is learned from a correction (the model's words -> the reviewer's) when the reviewer's words hold a word
the model's did not, written as a name or a term: capitalised and not a common word (``Linode``, ``Jeff Dike``),
or with a capital, digit or dot inside (``iPhone``, ``GPT4``, ``Node.js``). Consecutive such words are one term.
:func:`learned_terms` is pure; the rest keeps a show's vocabulary in the catalog (table ``vocabulary``).
"""
from __future__ import annotations

import re
import time
from typing import Iterable, Optional

from pipeline.library.catalog import Catalog
from pipeline.vocabulary import MAX_CHARS, split_terms, terms_in, unique

#: a capitalised word at least this common (wordfreq's Zipf scale) is a sentence's first word, not a name
COMMON_ZIPF = 5.0
_EDGE = re.compile(r"^[^\w]+|[^\w.]+$|\.+$")


def learned_terms(corrections: Iterable[tuple[str, str]], language: str = "en") -> tuple[str, ...]:
    """The terms ``(before, after)`` corrections teach, each once, in order."""
    found = []
    for before, after in corrections:
        had = set(before.split())
        run: list[str] = []
        for token in after.split():
            word = _EDGE.sub("", token)
            if word and word not in had and _is_term(word, language):
                run.append(word)
                continue
            if run:
                found.append(" ".join(run))
            run = []
        if run:
            found.append(" ".join(run))
    return tuple(dict.fromkeys(found))


def _is_term(word: str, language: str) -> bool:
    if len(word) < 2 or not any(c.isalpha() for c in word):
        return False
    if any(c.isupper() or c.isdigit() or c == "." for c in word[1:]):
        return True
    return word[0].isupper() and _zipf(word, language) < COMMON_ZIPF


def _zipf(word: str, language: str) -> float:
    from wordfreq import zipf_frequency

    try:
        return zipf_frequency(word, language or "en")
    except (LookupError, ValueError):  # a language wordfreq does not know
        return zipf_frequency(word, "en")


# ---------------------------------------------------------------- the show's vocabulary in the catalog


def show_key(show: Optional[str]) -> str:
    """Episodes given as files have no show: they share the folder's own vocabulary, under ``""``."""
    return show or ""


def vocabulary(catalog: Catalog, show: Optional[str]) -> tuple[str, ...]:
    """The show's terms, oldest first, cut to what fits Whisper's prompt."""
    return unique(term for term, _, _ in entries(catalog, show))


def learn(conn, show: Optional[str], terms: Iterable[str], origin: str) -> tuple[str, ...]:
    """Add ``terms`` to the show's vocabulary inside the caller's write transaction; those that were new."""
    added = []
    for term in terms:
        cur = conn.execute("INSERT OR IGNORE INTO vocabulary (show, term, origin, added_at) VALUES (?, ?, ?, ?)",
                           (show_key(show), term, origin, time.time()))
        if cur.rowcount:
            added.append(term)
    return tuple(added)


def replace_vocabulary(catalog: Catalog, show: Optional[str], text: str) -> tuple[str, ...]:
    """The show's vocabulary as a person edited it (comma or line separated): terms kept keep their origin."""
    terms = split_terms(text)
    if len(terms) < len({t.casefold() for t in terms_in(text)}):  # some were cut to fit
        from pipeline.errors import PodscribeError

        raise PodscribeError(f"the vocabulary is longer than Whisper's prompt holds ({MAX_CHARS} characters)")
    with catalog.connect(write=True) as conn:
        keep = {t for (t,) in conn.execute("SELECT term FROM vocabulary WHERE show = ?", (show_key(show),))}
        conn.execute(f"DELETE FROM vocabulary WHERE show = ? AND term NOT IN ({','.join('?' * len(terms))})",
                     (show_key(show), *terms))
        learn(conn, show, [t for t in terms if t not in keep], "edited")
    return vocabulary(catalog, show)


def entries(catalog: Catalog, show: Optional[str]) -> list[tuple[str, str, float]]:
    """(term, origin, added_at) of the show's vocabulary, oldest first."""
    with catalog.connect() as conn:
        return conn.execute("SELECT term, origin, added_at FROM vocabulary WHERE show = ? ORDER BY added_at, term",
                            (show_key(show),)).fetchall()
