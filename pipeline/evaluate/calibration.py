"""How well the [?] marks find the errors: each hypothesis word judged right or wrong, then counted.

A hypothesis word is *wrong* when one of its tokens is substituted or inserted, or a deleted
reference token sits next to it (a deletion attaches to the hypothesis word before it, else
after it). Words whose tokens are all forgiven (at a reference [?] gap) or that normalise to
nothing (``uh``) are not judged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.evaluate.metrics import Alignment
    from pipeline.evaluate.readers import Document

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 .. 0.95
MIN_RECALL = 0.5  # at least half of the errors marked ...
MAX_MARKED = 0.10  # ... while marking at most 10% of the words


@dataclass(frozen=True)
class JudgedWord:
    index: int  # in the hypothesis document
    text: str
    probability: Optional[float]
    uncertain: bool
    wrong: bool


@dataclass(frozen=True)
class Calibration:
    words: int
    marked: int
    wrong: int
    marked_wrong: int

    @property
    def precision(self) -> Optional[float]:
        """Share of marked words that are wrong."""
        return self.marked_wrong / self.marked if self.marked else None

    @property
    def recall(self) -> Optional[float]:
        """Share of wrong words that are marked."""
        return self.marked_wrong / self.wrong if self.wrong else None

    @property
    def marked_share(self) -> Optional[float]:
        return self.marked / self.words if self.words else None


@dataclass(frozen=True)
class SweepPoint:
    threshold: float  # a word is marked when its probability is under this
    calibration: Calibration


@dataclass(frozen=True)
class Sweep:
    points: tuple[SweepPoint, ...]
    best: Optional[SweepPoint]  # highest recall with recall >= MIN_RECALL and marked share <= MAX_MARKED


def judge(alignment: "Alignment", hyp: "Document") -> tuple[JudgedWord, ...]:
    """Every scored hypothesis word, right or wrong."""
    scored = {alignment.hyp[op.hyp].word for op in alignment.ops if op.hyp is not None and not op.forgiven}
    wrong = {alignment.hyp[op.hyp].word for op in alignment.ops
             if op.hyp is not None and op.error}
    wrong |= _deletion_neighbours(alignment)
    return tuple(JudgedWord(i, hyp.words[i].text, hyp.words[i].probability, hyp.words[i].uncertain, i in wrong)
                 for i in sorted(scored))


def _deletion_neighbours(alignment: "Alignment") -> set[int]:
    ops = alignment.ops
    before, last = [], None
    for op in ops:
        before.append(last)
        last = op.hyp if op.hyp is not None else last
    after, following = [None] * len(ops), None
    for i in range(len(ops) - 1, -1, -1):
        after[i] = following
        following = ops[i].hyp if ops[i].hyp is not None else following
    near = [before[i] if before[i] is not None else after[i]
            for i, op in enumerate(ops) if op.kind == "delete" and not op.forgiven]
    return {alignment.hyp[j].word for j in near if j is not None}


def calibrate(judged: Sequence[JudgedWord],
              marked: Callable[[JudgedWord], bool] = lambda w: w.uncertain) -> Calibration:
    flags = [(marked(w), w.wrong) for w in judged]
    return Calibration(len(flags), sum(m for m, _ in flags), sum(x for _, x in flags), sum(m and x for m, x in flags))


def sweep(judged: Sequence[JudgedWord], thresholds: Sequence[float] = THRESHOLDS,
          min_recall: float = MIN_RECALL, max_marked: float = MAX_MARKED) -> Sweep:
    """Recall and marked share when words under each probability threshold are marked (words with a probability
    only)."""
    known = [w for w in judged if w.probability is not None]
    points = tuple(SweepPoint(t, calibrate(known, lambda w, t=t: w.probability < t)) for t in thresholds)
    fits = [p for p in points if (p.calibration.recall or 0.0) >= min_recall
            and p.calibration.marked_share is not None and p.calibration.marked_share <= max_marked]
    best = max(fits, key=lambda p: (p.calibration.recall, -p.calibration.marked_share, -p.threshold), default=None)
    return Sweep(points, best)
