"""Which diarized speaker is which enrolled voice. Pure: numpy and scipy, no torch.

Each speaker (a diarization centroid) is scored against each voice by cosine similarity with the voice's
mean embedding. Speakers and voices are matched one to one (``scipy.optimize.linear_sum_assignment`` on the
scores), and a matched pair is named only when its score is at least ``min_score`` and beats the
speaker's runner-up voice by at least ``min_margin``. The defaults come from ``benchmarks/voices.py``
(docs/voices.md, "The operating point").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from pipeline.checks import check_float

Vector = Sequence[float]


@dataclass(frozen=True)
class MatchOptions:
    min_score: float = 0.5  # cosine with the voice's mean embedding (docs/voices.md)
    min_margin: float = 0.1  # over the speaker's runner-up voice

    def __post_init__(self) -> None:
        check_float("voice min_score", self.min_score, -1.0, 1.0)
        check_float("voice min_margin", self.min_margin, 0.0, 2.0)


@dataclass(frozen=True)
class SpeakerMatch:
    """A diarized speaker against the voices: its best voice, that score, and the margin over the
    runner-up (None with one voice enrolled). ``name`` is set only when the match was accepted."""

    best: str
    score: float
    margin: Optional[float]
    name: Optional[str] = None


def cosine_matrix(rows: Sequence[Vector], columns: Sequence[Vector]) -> np.ndarray:
    """(len(rows), len(columns)) cosine similarities; a zero vector scores 0 with everything."""
    a, b = _unit(rows), _unit(columns)
    return a @ b.T


def mean_embedding(embeddings: Sequence[Vector]) -> np.ndarray:
    """The mean of the unit-length embeddings (the direction a voice is scored against)."""
    return _unit(embeddings).mean(axis=0)


def name_speakers(centroids: Sequence[tuple[str, Vector]], voices: Mapping[str, Sequence[Vector]],
                  options: MatchOptions = MatchOptions()) -> dict[str, SpeakerMatch]:
    """Raw speaker label -> its match, for every speaker with a centroid (none when no voice is enrolled)."""
    if not centroids or not voices:
        return {}
    labels = [label for label, _ in centroids]
    names = list(voices)
    scores = cosine_matrix([c for _, c in centroids], [mean_embedding(voices[n]) for n in names])
    assigned = _assignment(scores)
    result = {}
    for i, label in enumerate(labels):
        best = int(np.argmax(scores[i]))
        j = assigned.get(i, best)
        score = float(scores[i, j])
        margin = _margin(scores[i], j)
        accepted = i in assigned and score >= options.min_score and (margin is None or margin >= options.min_margin)
        result[label] = SpeakerMatch(best=names[j], score=round(score, 4),
                                     margin=None if margin is None else round(margin, 4),
                                     name=names[j] if accepted else None)
    return result


def _assignment(scores: np.ndarray) -> dict[int, int]:
    """Speaker index -> voice index, one to one, maximising the summed score."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    return {int(r): int(c) for r, c in zip(rows, cols)}


def _margin(row: np.ndarray, j: int) -> Optional[float]:
    """How far voice ``j``'s score is above the best other voice's for this speaker."""
    others = np.delete(row, j)
    return float(row[j] - others.max()) if others.size else None


def _unit(vectors: Sequence[Vector]) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a list of vectors, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def record(matches: Mapping[str, SpeakerMatch], labels: Mapping[str, str], options: MatchOptions) -> dict:
    """What the JSON keeps: the thresholds, and per transcript speaker its best voice, score, margin and
    whether it is named by it (not where ``--speakers`` named it; speakers with no words, absent from
    ``labels``, are left out)."""
    speakers = {labels[raw]: {"voice": m.best, "score": m.score, "margin": m.margin,
                              "named": m.name is not None and labels[raw] == m.name}
                for raw, m in matches.items() if raw in labels}
    return {"min_score": options.min_score, "min_margin": options.min_margin, "speakers": speakers}
