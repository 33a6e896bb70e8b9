"""One word alignment (jiwer) of reference and hypothesis; WER, CER, per-speaker WER, cpWER and DER as views.

Every word is normalised on its own (Whisper's English normaliser by default), so each scored
token keeps the word it came from: its speaker, probability and [?] flag. A reference ``[?]``
gap is one placeholder token; hypothesis words aligned to it (substituted for it or inserted
next to it) and the gap itself are *forgiven*: neither counted as errors nor as words.
"""
from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from pipeline.asr.options import is_english
from pipeline.errors import PodscribeError
from pipeline.evaluate.calibration import Calibration, JudgedWord, Sweep, calibrate, judge, sweep
from pipeline.evaluate.readers import Document
from pipeline.types import SpeakerTurn

log = logging.getLogger(__name__)

GAP = "\u2047"  # the placeholder token of a reference [?] gap; the normalisers never produce it
#: auto: Whisper's English normaliser for an English (or unknown-language) transcript, its basic one otherwise;
#: basic keeps accents, basic-ascii strips them (``é`` = ``e``); none only makes quotes ASCII
NORMALIZERS = ("auto", "whisper", "basic", "basic-ascii", "none")


def resolve_normalizer(name: str, language: Optional[str]) -> str:
    """The normaliser ``auto`` stands for, given the transcript's language (None: unknown)."""
    if name != "auto":
        return name
    return "whisper" if not language or is_english(language) else "basic"


# ---------------------------------------------------------------- the typed alignment


@dataclass(frozen=True)
class Token:
    """A normalised token and the document word it came from."""

    text: str
    word: int
    speaker: Optional[str] = None

    @property
    def gap(self) -> bool:
        return self.text == GAP


@dataclass(frozen=True)
class Op:
    """One alignment step: ``equal``, ``substitute``, ``delete`` or ``insert`` (token indices)."""

    kind: str
    ref: Optional[int]
    hyp: Optional[int]
    forgiven: bool = False

    @property
    def error(self) -> bool:
        return self.kind != "equal" and not self.forgiven


@dataclass(frozen=True)
class Errors:
    """Hits, substitutions, deletions and insertions of words (or characters)."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def ref_count(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def hyp_count(self) -> int:
        return self.hits + self.substitutions + self.insertions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors per reference unit; 0 for nothing against nothing, inf for insertions against nothing."""
        if self.ref_count:
            return self.errors / self.ref_count
        return float("inf") if self.errors else 0.0

    def __add__(self, other: "Errors") -> "Errors":
        return Errors(self.hits + other.hits, self.substitutions + other.substitutions,
                      self.deletions + other.deletions, self.insertions + other.insertions)


_KIND_FIELD = {"equal": "hits", "substitute": "substitutions", "delete": "deletions", "insert": "insertions"}


@dataclass(frozen=True)
class Alignment:
    ref: tuple[Token, ...]
    hyp: tuple[Token, ...]
    ops: tuple[Op, ...]

    def errors(self, ops: Optional[Iterable[Op]] = None) -> Errors:
        counts = dict.fromkeys(_KIND_FIELD.values(), 0)
        for op in self.ops if ops is None else ops:
            if not op.forgiven:
                counts[_KIND_FIELD[op.kind]] += 1
        return Errors(**counts)

    def ref_speakers(self) -> list[Optional[str]]:
        """The reference speaker at each op: its own, else the previous reference token's, else the first one's."""
        refs = [self.ref[op.ref].speaker for op in self.ops if op.ref is not None]
        last = refs[0] if refs else None
        out = []
        for op in self.ops:
            last = self.ref[op.ref].speaker if op.ref is not None else last
            out.append(last)
        return out


def align(ref: Sequence[Token], hyp: Sequence[Token]) -> Alignment:
    """The minimum-edit alignment (jiwer), with the ops at reference [?] gaps forgiven."""
    if not ref or not hyp:
        ops = [Op("delete", i, None) for i in range(len(ref))] + [Op("insert", None, j) for j in range(len(hyp))]
    else:
        import jiwer

        out = jiwer.process_words(" ".join(t.text for t in ref), " ".join(t.text for t in hyp))
        ops = [op for chunk in out.alignments[0] for op in _expand(chunk)]
    return Alignment(tuple(ref), tuple(hyp), _forgive(tuple(ref), ops))


def _expand(chunk) -> list[Op]:
    kind, r0, r1, h0, h1 = chunk.type, chunk.ref_start_idx, chunk.ref_end_idx, chunk.hyp_start_idx, chunk.hyp_end_idx
    if kind == "delete":
        return [Op(kind, i, None) for i in range(r0, r1)]
    if kind == "insert":
        return [Op(kind, None, j) for j in range(h0, h1)]
    return [Op(kind, i, j) for i, j in zip(range(r0, r1), range(h0, h1))]


def _forgive(ref: tuple[Token, ...], ops: list[Op]) -> tuple[Op, ...]:
    """Ops on a gap token, and runs of insertions touching one, are not scored."""
    at_gap = [op.ref is not None and ref[op.ref].gap for op in ops]
    out = []
    for i, op in enumerate(ops):
        forgiven = at_gap[i]
        if op.kind == "insert":
            before = next((at_gap[k] for k in range(i - 1, -1, -1) if ops[k].kind != "insert"), False)
            after = next((at_gap[k] for k in range(i + 1, len(ops)) if ops[k].kind != "insert"), False)
            forgiven = before or after
        out.append(Op(op.kind, op.ref, op.hyp, forgiven))
    return tuple(out)


# ---------------------------------------------------------------- normalisation and tokens


_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_PRIVATE = "_podscribe_whisper_normalizers"
_WORDLIKE = re.compile(r"\w")  # Whisper leaves stray dots ("works…" -> "works .."): tokens without a letter or digit go


@lru_cache(maxsize=None)
def get_normalizer(name: str = "whisper") -> Callable[[str], str]:
    """``text -> normalised text``; curly quotes become ASCII first (Whisper's rules expect ``'``)
    and tokens with no letter or digit are dropped."""
    if name == "none":
        return lambda text: text.translate(_TYPOGRAPHIC)
    if name not in NORMALIZERS:
        raise PodscribeError(f"unknown normalizer {name!r}: choose from {', '.join(NORMALIZERS)}")
    if name == "auto":
        raise PodscribeError("the auto normalizer needs the transcript's language: resolve_normalizer first")
    module = _whisper_normalizers()
    inner = (module.EnglishTextNormalizer() if name == "whisper"
             else module.BasicTextNormalizer(remove_diacritics=name == "basic-ascii"))
    return lambda text: " ".join(t for t in inner(text.translate(_TYPOGRAPHIC)).split() if _WORDLIKE.search(t))


def _whisper_normalizers():
    """``whisper.normalizers`` loaded from its folder under a private name: ``whisper/__init__`` imports torch."""
    if _PRIVATE in sys.modules:
        return sys.modules[_PRIVATE]
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise PodscribeError("the whisper normalizer needs openai-whisper installed (or use --normalizer none)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "normalizers"
    inner = importlib.util.spec_from_file_location(_PRIVATE, folder / "__init__.py",
                                                   submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(inner)
    sys.modules[_PRIVATE] = module
    try:
        inner.loader.exec_module(module)
    except Exception:
        del sys.modules[_PRIVATE]
        raise
    return module


def tokens(doc: Document, normalize: Callable[[str], str]) -> tuple[Token, ...]:
    """Each word normalised on its own; a reference [?] gap is one GAP token."""
    out = []
    for i, w in enumerate(doc.words):
        texts = [GAP] if w.unknown else normalize(w.text).split()
        out += [Token(t, i, w.speaker) for t in texts]
    return tuple(out)


# ---------------------------------------------------------------- measures


@dataclass(frozen=True)
class SpeakerErrors:
    """Word errors of one reference speaker; insertions go to the reference speaker next to them."""

    speaker: str
    errors: Errors


@dataclass(frozen=True)
class CpWER:
    """Concatenated minimum-permutation WER (CHiME-6): each reference speaker's words against one hypothesis
    speaker's."""

    errors: int
    ref_words: int
    pairs: tuple[tuple[Optional[str], Optional[str], int], ...]  # (ref speaker, hyp speaker, errors); None = unmatched

    @property
    def rate(self) -> float:
        return self.errors / self.ref_words if self.ref_words else (float("inf") if self.errors else 0.0)


@dataclass(frozen=True)
class DER:
    """Diarization error in seconds of reference speech (pyannote.metrics, collar as pyannote's total width)."""

    missed_s: float
    false_alarm_s: float
    confusion_s: float
    total_s: float
    collar: float
    mapping: tuple[tuple[str, str], ...] = ()  # hyp speaker -> ref speaker

    @property
    def rate(self) -> float:
        errors = self.missed_s + self.false_alarm_s + self.confusion_s
        return errors / self.total_s if self.total_s else (float("inf") if errors else 0.0)


@dataclass(frozen=True)
class Scores:
    words: Optional[Errors]
    chars: Optional[Errors]
    per_speaker: tuple[SpeakerErrors, ...] = ()
    cpwer: Optional[CpWER] = None
    der: Optional[DER] = None
    calibration: Optional[Calibration] = None
    sweep: Optional[Sweep] = None
    alignment: Optional[Alignment] = field(default=None, compare=False, repr=False)
    judged: tuple[JudgedWord, ...] = field(default=(), compare=False, repr=False)
    normalizer: Optional[str] = None  # the one the words were normalised with (``auto`` resolved)

    @property
    def wer(self) -> Optional[float]:
        return self.words.rate if self.words else None

    @property
    def cer(self) -> Optional[float]:
        return self.chars.rate if self.chars else None


def score(ref: Document, hyp: Document, collar: float = 0.25, normalizer: str = "auto") -> Scores:
    """Every measure the two documents allow: words need words on both sides, DER needs turns on both. ``auto``
    normalises by the hypothesis's language (else the reference's): see :func:`resolve_normalizer`."""
    der = diarization_error(ref, hyp, collar)
    if not (ref.has_words and hyp.has_words):
        if der is None:
            raise PodscribeError(f"nothing to compare: {ref.path} and {hyp.path} share no words or speaker turns")
        return Scores(None, None, der=der)
    normalizer = resolve_normalizer(normalizer, hyp.language or ref.language)
    normalize = get_normalizer(normalizer)
    alignment = align(tokens(ref, normalize), tokens(hyp, normalize))
    judged = judge(alignment, hyp)
    marks = "json" in hyp.format.split("+") or any(w.uncertain for w in hyp.words)
    speakers = any(w.speaker for w in ref.words)
    return Scores(
        words=alignment.errors(), chars=char_errors(alignment),
        per_speaker=per_speaker(alignment) if speakers else (),
        cpwer=cpwer(alignment) if speakers and any(w.speaker for w in hyp.words) else None,
        der=der, calibration=calibrate(judged) if marks else None,
        sweep=sweep(judged) if hyp.has_probabilities else None, alignment=alignment, judged=judged,
        normalizer=normalizer,
    )


def char_errors(alignment: Alignment) -> Errors:
    """CER over the normalised text (spaces included), without [?] gaps and what is forgiven there."""
    forgiven = {op.hyp for op in alignment.ops if op.forgiven and op.hyp is not None}
    ref = " ".join(t.text for t in alignment.ref if not t.gap)
    hyp = " ".join(t.text for j, t in enumerate(alignment.hyp) if j not in forgiven)
    if not ref or not hyp:
        return Errors(deletions=len(ref), insertions=len(hyp))
    import jiwer

    out = jiwer.process_characters(ref, hyp)
    return Errors(out.hits, out.substitutions, out.deletions, out.insertions)


def per_speaker(alignment: Alignment) -> tuple[SpeakerErrors, ...]:
    ops: dict[str, list[Op]] = defaultdict(list)
    for op, speaker in zip(alignment.ops, alignment.ref_speakers()):
        ops[speaker or "?"].append(op)
    return tuple(SpeakerErrors(s, alignment.errors(o)) for s, o in ops.items())


def cpwer(alignment: Alignment) -> CpWER:
    """Speakers paired by ``linear_sum_assignment`` over word edit distances; unmatched speakers' words all count."""
    import numpy as np
    from rapidfuzz.distance import Levenshtein
    from scipy.optimize import linear_sum_assignment

    forgiven = {op.hyp for op in alignment.ops if op.forgiven and op.hyp is not None}
    refs = _by_speaker(t for t in alignment.ref if not t.gap)
    hyps = _by_speaker(t for j, t in enumerate(alignment.hyp) if j not in forgiven)
    r_names, h_names = list(refs), list(hyps)
    size = max(len(r_names), len(h_names))
    r_seqs = [refs[n] for n in r_names] + [[]] * (size - len(r_names))
    h_seqs = [hyps[n] for n in h_names] + [[]] * (size - len(h_names))
    cost = np.array([[Levenshtein.distance(r, h) for h in h_seqs] for r in r_seqs], dtype=float).reshape(size, size)
    rows, cols = linear_sum_assignment(cost)
    pairs = tuple((r_names[r] if r < len(r_names) else None, h_names[c] if c < len(h_names) else None, int(cost[r, c]))
                  for r, c in zip(rows, cols))
    return CpWER(int(cost[rows, cols].sum()), sum(len(s) for s in refs.values()), pairs)


def _by_speaker(toks: Iterable[Token]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for t in toks:
        out[t.speaker or "?"].append(t.text)
    return dict(out)


def speaker_turns(doc: Document) -> tuple[SpeakerTurn, ...]:
    """The document's turns, else runs of timed words of one speaker; () when neither."""
    if doc.speaker_turns:
        return doc.speaker_turns
    words = [w for w in doc.words if not w.unknown]
    if not words or any(w.speaker is None or w.start_s is None or w.end_s is None for w in words):
        return ()
    runs: list[list] = []
    for w in words:
        if runs and runs[-1][0] == w.speaker:
            runs[-1][2] = w.end_s
        else:
            runs.append([w.speaker, w.start_s, w.end_s])
    return tuple(SpeakerTurn(s, a, b) for s, a, b in runs)


def diarization_error(ref: Document, hyp: Document, collar: float) -> Optional[DER]:
    """pyannote.metrics' DER (skip_overlap off) when both sides have timed speakers, else None."""
    ref_turns, hyp_turns = speaker_turns(ref), speaker_turns(hyp)
    if not ref_turns or not hyp_turns:
        missing = [d.path for d, t in ((ref, ref_turns), (hyp, hyp_turns)) if not t]
        log.info("no DER: %s has no speaker times", " and ".join(missing))
        return None
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = _annotation(ref_turns), _annotation(hyp_turns)
    every = ref_turns + hyp_turns
    uem = Timeline([Segment(min(t.start_s for t in every), max(t.end_s for t in every))])
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    parts = metric(reference, hypothesis, uem=uem, detailed=True)
    mapping = metric.optimal_mapping(reference, hypothesis)
    return DER(parts["missed detection"], parts["false alarm"], parts["confusion"], parts["total"], collar,
               tuple(sorted((str(h), str(r)) for h, r in mapping.items())))


def _annotation(turns: Sequence[SpeakerTurn]):
    from pyannote.core import Annotation, Segment

    out = Annotation()
    for i, t in enumerate(turns):
        if t.end_s > t.start_s:
            out[Segment(t.start_s, t.end_s), i] = t.speaker
    return out


# ---------------------------------------------------------------- totals over episodes


def total(scores: Sequence[Scores]) -> Scores:
    """Scores of several episodes together: counts summed over all words and seconds, never averaged."""
    words = [s for s in scores if s.words]
    speakers: dict[str, Errors] = {}
    for s in scores:
        for p in s.per_speaker:
            speakers[p.speaker] = speakers.get(p.speaker, Errors()) + p.errors
    cps = [s.cpwer for s in scores if s.cpwer]
    ders = [s.der for s in scores if s.der]
    judged = tuple(j for s in scores for j in s.judged)
    return Scores(
        words=sum((s.words for s in words), Errors()) if words else None,
        chars=sum((s.chars for s in words), Errors()) if words else None,
        per_speaker=tuple(SpeakerErrors(k, v) for k, v in speakers.items()),
        cpwer=CpWER(sum(c.errors for c in cps), sum(c.ref_words for c in cps), ()) if cps else None,
        der=DER(*(sum(getattr(d, f) for d in ders) for f in ("missed_s", "false_alarm_s", "confusion_s", "total_s")),
                ders[0].collar) if ders else None,
        calibration=calibrate(judged) if any(s.calibration for s in scores) else None,
        sweep=sweep(judged) if any(s.sweep for s in scores) else None, judged=judged,
        normalizer=", ".join(dict.fromkeys(s.normalizer for s in scores if s.normalizer)) or None,
    )
