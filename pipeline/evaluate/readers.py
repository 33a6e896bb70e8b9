"""Read references and hypotheses in any transcript format into one typed :class:`Document`.

Formats: ``text`` (plain), ``forum`` (``[b]NAME:[/b] text``), ``named`` (``NAME: text`` lines),
``srt``, ``vtt``, ``stm`` (NIST), ``rttm`` (speaker turns only) and ``json`` (ours).
A ``[?]`` mark means two things: in a reference it stands for words the transcriber could not
make out (an *unknown* gap the hypothesis is not scored on); in a hypothesis it follows the
words the model was unsure of (those words are *uncertain*). In our JSON as a reference (a reviewed transcript),
a word still marked was never checked by a person: it is such a gap too (:func:`document_of`).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from pipeline.errors import PodscribeError
from pipeline.types import SpeakerTurn, Transcript, written

log = logging.getLogger(__name__)

FORMATS = ("text", "forum", "named", "srt", "vtt", "stm", "rttm", "json")
MARK = "[?]"
PathLike = Union[str, Path]


@dataclass(frozen=True)
class DocWord:
    """One word as written; times, speaker and probability only where the format has them."""

    text: str
    speaker: Optional[str] = None
    start_s: Optional[float] = None
    end_s: Optional[float] = None
    probability: Optional[float] = None
    uncertain: bool = False  # hypothesis: marked [?] by the model
    unknown: bool = False  # reference: a [?] gap, words nobody could make out (text is "[?]")


@dataclass(frozen=True)
class Document:
    """A transcript to score: its words (none for RTTM) and speaker turns (where known)."""

    path: str
    format: str
    words: tuple[DocWord, ...]
    speaker_turns: tuple[SpeakerTurn, ...] = ()
    has_words: bool = True
    language: Optional[str] = None  # as a podscribe JSON transcript records it; None for other formats

    @property
    def has_speakers(self) -> bool:
        return bool(self.speaker_turns) or any(w.speaker for w in self.words)

    @property
    def speakers(self) -> tuple[str, ...]:
        names = [w.speaker for w in self.words if w.speaker] or [t.speaker for t in self.speaker_turns]
        return tuple(dict.fromkeys(names))

    @property
    def has_probabilities(self) -> bool:
        return any(w.probability is not None for w in self.words)


# ---------------------------------------------------------------- public entry


def read_document(paths: Union[PathLike, Sequence[PathLike]], fmt: Union[None, str, Sequence[Optional[str]]] = None,
                  role: str = "reference") -> Document:
    """Read one file (or several, combined: e.g. a forum text for the words and an RTTM for the turns)."""
    if isinstance(paths, (str, Path)):
        return _read_one(Path(paths), fmt if isinstance(fmt, (str, type(None))) else (list(fmt) or [None])[0], role)
    fmts = [fmt] if isinstance(fmt, (str, type(None))) else list(fmt)
    if len(fmts) > len(paths):
        raise PodscribeError(f"{len(paths)} {role} file(s) but {len(fmts)} formats")
    fmts += [None] * (len(paths) - len(fmts))  # formats pair with files in order; the rest are detected
    return combine([_read_one(Path(p), f, role) for p, f in zip(paths, fmts)], role)


def combine(docs: Sequence[Document], role: str = "reference") -> Document:
    """Words from the one document that has words, speaker turns from the ones that have them (RTTM first)."""
    if len(docs) == 1:
        return docs[0]
    texts = [d for d in docs if d.has_words]
    if len(texts) > 1:
        raise PodscribeError(f"give at most one {role} with words (got {', '.join(d.path for d in texts)})")
    timed = sorted((d for d in docs if d.speaker_turns), key=lambda d: d.has_words)
    turns = timed[0].speaker_turns if timed else ()
    base = texts[0] if texts else docs[0]
    return Document(" + ".join(d.path for d in docs), "+".join(d.format for d in docs),
                    base.words if texts else (), turns, has_words=bool(texts),
                    language=next((d.language for d in docs if d.language), None))


# ---------------------------------------------------------------- reading and detection


def _read_one(path: Path, fmt: Optional[str], role: str) -> Document:
    if not path.is_file():
        raise PodscribeError(f"{role} {path}: no such file")
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PodscribeError(f"{role} {path}: not UTF-8 text; cannot detect its format") from None
    fmt = (fmt or detect(path, content)).lower()
    if fmt not in READERS:
        raise PodscribeError(f"{role} {path}: unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    try:
        words, turns, *language = READERS[fmt](content, role == "reference")  # a JSON transcript: its language
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise PodscribeError(f"{role} {path}: not valid {fmt}: {exc}") from None
    doc = Document(str(path), fmt, tuple(words), tuple(turns), has_words=fmt != "rttm",
                   language=language[0] if language else None)
    if role == "reference" and not any(not w.unknown for w in doc.words) and not doc.speaker_turns:
        raise PodscribeError(f"reference {path} is empty: no words or speaker turns in it (read as {fmt})")
    log.info("%s %s: %s, %d words, %d turns, speakers %s", role, path, fmt, len(doc.words), len(doc.speaker_turns),
             ", ".join(doc.speakers) or "none")
    return doc


_SRT_TIME = re.compile(r"^\s*\d+\s*\n\s*\d+:\d\d:\d\d[,.]\d+\s*-->", re.M)
_NAMED = re.compile(r"^\s*([A-Z][A-Za-z0-9_.' -]{0,39}?):\s+(.*)$")
_FORUM_TAG = re.compile(r"\[b\]\s*([^\[\]:\n]{1,40}?)\s*(?::\s*\[/b\]|\[/b\]\s*:)", re.I)


def detect(path: Path, content: str) -> str:
    """The format of a file from its name and content; a clear error when none fits."""
    suffix = path.suffix.lower().lstrip(".")
    head = content.lstrip()
    if "\x00" in content:
        raise PodscribeError(f"{path}: binary content; cannot detect its format "
                             f"(give it with --ref-format/--hyp-format)")
    if suffix == "json" or head.startswith("{"):
        return "json"
    if head.startswith("WEBVTT"):
        return "vtt"
    lines = [ln for ln in content.splitlines() if ln.strip() and not ln.startswith(";;")]
    if suffix == "rttm" or (lines and all(ln.split()[0] in _RTTM_TYPES for ln in lines)):
        return "rttm"
    if suffix == "stm" or (lines and all(_STM_LINE.match(ln) for ln in lines)):
        return "stm"
    if suffix == "srt" or _SRT_TIME.search(content):
        return "srt"
    if suffix == "vtt":
        return "vtt"
    if _FORUM_TAG.search(content):
        return "forum"
    if lines and sum(bool(_NAMED.match(ln)) for ln in lines) >= 0.5 * len(lines):
        return "named"
    return "text"


# ---------------------------------------------------------------- words of a text


_STAGE = re.compile(r"(?<!\w)\*[^*\n]{1,40}\*(?!\w)")  # *chuckles*
_NOTE = re.compile(r"\[i\]\s*\[(?:ed|edit|note)\b[^\]]*\]\s*\[/i\]|\[(?:ed|edit|note)\b[:.][^\]]*\]", re.I)
_MARKS = re.compile(r"(?:\[i\]\s*)?\[\?\](?:\s*\[/i\])?", re.I)
_BBCODE = re.compile(r"\[/?[a-z]+(?:=[^\]]*)?\]", re.I)


def clean(text: str) -> str:
    """Text without stage directions, editorial notes or BBCode tags; ``[?]`` marks kept as `` [?] ``."""
    text = _NOTE.sub(" ", text)
    text = _MARKS.sub(f" {MARK} ", text)
    text = _BBCODE.sub("", text)
    return _STAGE.sub(" ", text)


def words_of(text: str, reference: bool, speaker: Optional[str] = None, start_s: Optional[float] = None,
             end_s: Optional[float] = None) -> list[DocWord]:
    """The words of a cleaned text; ``[?]`` becomes an unknown gap (reference) or flags the word before (hypothesis)."""
    out: list[DocWord] = []
    for token in clean(text).split():
        if token != MARK and not re.search(r"\w", token):
            continue  # dashes and ellipses: not words
        if token != MARK:
            out.append(DocWord(token, speaker))
        elif reference:
            if not (out and out[-1].unknown):
                out.append(DocWord(MARK, speaker, unknown=True))
        elif out:
            out[-1] = replace(out[-1], uncertain=True)
    return _spread(out, start_s, end_s) if start_s is not None and end_s is not None else out


def _spread(words: list[DocWord], start_s: float, end_s: float) -> list[DocWord]:
    """Times for the words of a timed cue, in equal shares."""
    step = (end_s - start_s) / max(len(words), 1)
    return [replace(w, start_s=start_s + i * step, end_s=start_s + (i + 1) * step) for i, w in enumerate(words)]


def _text(content: str, reference: bool):
    return words_of(content, reference), ()


def _named(content: str, reference: bool):
    words: list[DocWord] = []
    speaker, names = None, _Names()
    for line in content.splitlines():
        match = _NAMED.match(line)
        if match:
            speaker, line = names.resolve(match.group(1)), match.group(2)
        words += words_of(line, reference, speaker)
    return words, ()


def _forum(content: str, reference: bool):
    body = re.split(r"^\s*={3,}\s*$", content, maxsplit=1, flags=re.M)
    text = re.sub(r"\[quote[^\]]*\].*?\[/quote\]", " ", body[-1], flags=re.S | re.I)
    pieces = _FORUM_TAG.split(text)  # [before, name, text, name, text, ...]
    words = words_of(pieces[0], reference) if len(pieces) == 1 else []  # chatter before the first tag is dropped
    names = _Names()
    for name, part in zip(pieces[1::2], pieces[2::2]):
        words += words_of(part, reference, names.resolve(name))
    return words, ()


class _Names:
    """Speaker labels as written, with abbreviations after first use (``B:`` for ``BRIAN:``) resolved."""

    def __init__(self) -> None:
        self.full: list[str] = []

    def resolve(self, label: str) -> str:
        label = label.strip()
        key = label.upper()
        matches = [n for n in self.full if n.upper().startswith(key) and n.upper() != key]
        if len(key) <= 3 and len(matches) == 1 and key not in (n.upper() for n in self.full):
            return matches[0]
        if label not in self.full:
            self.full.append(label)
        return label


def _cue_text(lines: Sequence[str]) -> tuple[Optional[str], str]:
    """The speaker of a cue (``<v NAME>`` or ``NAME:``) and its text without tags."""
    text = "\n".join(lines)
    voice = re.search(r"<v(?:\.[^ >]*)?\s+([^>]+)>", text)
    text = re.sub(r"</?[a-z][^>]*>|</?v[^>]*>", "", text)
    if voice:
        return voice.group(1).strip(), text
    match = _NAMED.match(text.split("\n", 1)[0])
    if match:
        return match.group(1).strip(), text.split(":", 1)[1]
    return None, text


def _seconds(stamp: str) -> float:
    parts = stamp.strip().replace(",", ".").split(":")
    return sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))


def _cues(content: str, reference: bool):
    words: list[DocWord] = []
    turns: list[SpeakerTurn] = []
    for block in re.split(r"\n\s*\n", content.replace("\r\n", "\n")):
        lines = block.strip("\n").split("\n")
        at = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if at is None:
            continue  # WEBVTT header, NOTE, STYLE
        start, end = (_seconds(t.split()[0]) for t in lines[at].split("-->"))
        speaker, text = _cue_text(lines[at + 1:])
        words += words_of(text, reference, speaker, start, end)
        if speaker:
            turns.append(SpeakerTurn(speaker, start, end))
    return words, turns


_STM_LINE = re.compile(r"^\S+\s+\S+\s+\S+\s+\d+(?:\.\d*)?\s+\d+(?:\.\d*)?(\s|$)")
_STM_SKIP = {"ignore_time_segment_in_scoring", "inter_segment_gap"}


def _stm(content: str, reference: bool):
    words: list[DocWord] = []
    turns: list[SpeakerTurn] = []
    for line in content.splitlines():
        if not line.strip() or line.startswith(";;"):
            continue
        fields = line.split(maxsplit=5)
        speaker, start, end = fields[2], float(fields[3]), float(fields[4])
        text = fields[5] if len(fields) > 5 else ""
        text = re.sub(r"^<[^>]*>\s*", "", text)  # <o,f0,male> labels
        if speaker in _STM_SKIP or text.strip() in _STM_SKIP:
            continue
        words += words_of(text, reference, speaker, start, end)
        turns.append(SpeakerTurn(speaker, start, end))
    return words, turns


_RTTM_TYPES = {"SPEAKER", "SPKR-INFO", "LEXEME", "NON-SPEECH", "NON-LEX", "SEGMENT", "NOSCORE", "NO_RT_METADATA"}


def _rttm(content: str, reference: bool):
    turns = []
    for line in content.splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append(SpeakerTurn(fields[7], start, start + duration))
    return [], sorted(turns, key=lambda t: t.start_s)


def _json(content: str, reference: bool):
    from pipeline.writers.json_format import from_dict

    data = json.loads(content)
    if not isinstance(data, dict) or "turns" not in data:
        raise ValueError("not a podscribe JSON transcript (no 'turns')")
    transcript = from_dict({"episode": "", "sha256": "", "duration_s": 0.0, "language": "", **data})
    doc = document_of(transcript, "reference" if reference else "hypothesis")
    return doc.words, doc.speaker_turns, doc.language


def document_of(transcript: Transcript, role: str = "hypothesis", path: str = "") -> Document:
    """One of our transcripts as a document to score: its words as written, with their times, probabilities and
    speakers; a gap is a mark, not a word, and a word with no text is none. As a ``reference``, a word still marked
    ``[?]`` was never checked by a person (a reviewed transcript keeps the model's guess there, marked): it, and a
    gap left unfilled, is an unknown ``[?]`` gap (one per run within a turn), not scored. As a ``hypothesis`` a
    marked word is uncertain."""
    reference = role == "reference"
    words: list[DocWord] = []
    for turn in transcript.turns:
        said: list[DocWord] = []
        for w in written(turn.words):
            speaker = w.speaker or turn.speaker
            if reference and (w.uncertain or w.gap):
                if not (said and said[-1].unknown):
                    said.append(DocWord(MARK, speaker, unknown=True))
            elif not w.gap and w.text:
                said.append(DocWord(w.text, speaker, w.start_s, w.end_s, w.probability, w.uncertain))
        words += said
    return Document(path, "json", tuple(words), tuple(transcript.speaker_turns),
                    language=transcript.language or None)


Reader = Callable[[str, bool], tuple]  # (words, speaker turns), and the language where the format records one
READERS: dict[str, Reader] = {
    "text": _text, "forum": _forum, "named": _named, "srt": _cues, "vtt": _cues,
    "stm": _stm, "rttm": _rttm, "json": _json,
}
