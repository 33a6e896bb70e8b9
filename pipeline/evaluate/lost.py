"""Lost speech: reference speech that no hypothesis word comes near (a dropped window, a skipped stretch).

Each timed hypothesis word covers its own span widened by ``pad_s`` on both sides; a *hole* is a stretch
the words leave uncovered. The reference speech inside a hole (from the reference's speaker turns, e.g. an
RTTM) counts as lost when it adds up to at least ``min_s``: shorter pauses between words are not losses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pipeline.evaluate.metrics import Scores, speaker_turns
from pipeline.evaluate.readers import Document

PAD_S = 0.5
MIN_S = 1.0
NEAR_S = 0.5  # outside_speech: a word this far from every stretch of reference speech lies outside it

Span = tuple[float, float]


@dataclass(frozen=True)
class LostSpeech:
    """Seconds of reference speech in holes of the hypothesis, the holes themselves, and all reference speech."""

    seconds: float
    holes: tuple[tuple[float, float, float], ...]  # (start_s, end_s, reference speech seconds inside)
    speech_s: float

    @property
    def share(self) -> float:
        return self.seconds / self.speech_s if self.speech_s else 0.0


def union(spans: Sequence[Span]) -> list[Span]:
    """Sorted, merged spans (touching or overlapping ones become one)."""
    out: list[list[float]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def overlap_s(spans: Sequence[Span], start_s: float, end_s: float) -> float:
    return sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in spans)


def lost_speech_spans(speech: Sequence[Span], words: Sequence[Span], pad_s: float = PAD_S,
                      min_s: float = MIN_S) -> LostSpeech:
    """The pure measure on plain spans: reference speech and hypothesis word times."""
    speech = union(speech)
    if not speech:
        return LostSpeech(0.0, (), 0.0)
    covered = union([(a - pad_s, b + pad_s) for a, b in words])
    edges = [speech[0][0]] + [x for span in covered for x in span] + [speech[-1][1]]
    holes = []
    for start, end in zip(edges[0::2], edges[1::2]):
        inside = overlap_s(speech, start, end)
        if end > start and inside >= min_s:
            holes.append((round(start, 3), round(end, 3), round(inside, 3)))
    total = sum(b - a for a, b in speech)
    return LostSpeech(round(sum(h[2] for h in holes), 3), tuple(holes), round(total, 3))


def lost_speech(ref: Document, hyp: Document, pad_s: float = PAD_S, min_s: float = MIN_S) -> LostSpeech:
    """Lost speech of a hypothesis with word times against a reference with speaker turns (e.g. an RTTM)."""
    speech = [(t.start_s, t.end_s) for t in speaker_turns(ref)]
    words = [(w.start_s, w.end_s) for w in hyp.words
             if not w.unknown and w.start_s is not None and w.end_s is not None]
    return lost_speech_spans(speech, words, pad_s, min_s)


def dropped_words(scores: Scores, min_run: int = 5) -> int:
    """Reference words in runs of at least ``min_run`` deletions in a row: sentences that went missing, found by
    the words alone (a word Whisper stretched over the skipped speech hides such a run from the timing)."""
    if scores.alignment is None:
        return 0
    total, run = 0, 0
    for op in scores.alignment.ops + (None,):
        if op is not None and op.kind == "delete" and not op.forgiven:
            run += 1
            continue
        total, run = total + (run if run >= min_run else 0), 0
    return total


def outside_speech(ref: Document, hyp: Document, near_s: float = NEAR_S) -> int:
    """Hypothesis words whose middle lies more than ``near_s`` from every stretch of reference speech (words on
    music or silence: insertions there)."""
    speech = union([(t.start_s - near_s, t.end_s + near_s) for t in speaker_turns(ref)])
    middles = [(w.start_s + w.end_s) / 2 for w in hyp.words if w.start_s is not None and w.end_s is not None]
    return sum(1 for m in middles if not any(a <= m <= b for a, b in speech))
