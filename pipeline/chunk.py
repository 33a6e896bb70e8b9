"""Plan Whisper chunks: cut in silences, bounded length, silence never sent to Whisper.

Planning is a pure function of an energy envelope (dBFS per frame), so it is tested
with synthetic envelopes. Where speech runs longer than the maximum with no silence,
chunks overlap and :func:`pipeline.seam.dedupe` later removes the doubled words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from pipeline.errors import PodscribeError
from pipeline.types import Chunk


@dataclass(frozen=True)
class ChunkOptions:
    max_chunk_s: float = 30.0
    min_chunk_s: float = 1.0
    min_silence_s: float = 0.3
    pad_s: float = 0.2
    overlap_s: float = 2.0
    frame_s: float = 0.02
    silence_db: Optional[float] = None  # absolute dBFS; None adapts to the episode's noise floor
    # where chunks come from: "energy" (sound above the noise floor) or "speech" (the segmentation model's speech
    # activity, with the energy envelope still choosing the cut points inside long speech)
    source: str = "energy"

    def __post_init__(self) -> None:
        if self.source not in ("energy", "speech"):
            raise PodscribeError(f"unknown chunk source {self.source!r}: use energy or speech")
        if not 1.0 <= self.max_chunk_s <= 30.0:
            raise PodscribeError("max chunk length must be between 1 and 30 s (one Whisper window)")
        if not 0 < self.min_chunk_s <= self.max_chunk_s:
            raise PodscribeError("min chunk length must be positive and at most the max chunk length")
        if not 0 <= self.overlap_s < self.max_chunk_s / 2:
            raise PodscribeError("chunk overlap must be under half the max chunk length")
        if self.frame_s <= 0 or self.min_silence_s < 0 or self.pad_s < 0:
            raise PodscribeError("chunk frame, silence and padding lengths must be positive")


def envelope_db(samples: np.ndarray, sample_rate: int, frame_s: float = 0.02) -> np.ndarray:
    """RMS level of each frame in dBFS (floor -100)."""
    hop = max(1, int(round(frame_s * sample_rate)))
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return (20 * np.log10(np.maximum(rms, 1e-5))).astype(np.float32)


def silence_threshold_db(env_db: np.ndarray) -> float:
    """Adaptive threshold: a little above the noise floor, well below the loudest frames.

    A recording whose loudest frame is under -55 dBFS holds no speech at all.
    """
    if env_db.size == 0:
        return -50.0
    floor, loudest = float(np.percentile(env_db, 10)), float(env_db.max())
    if loudest < -55.0:
        return loudest + 1.0
    return float(np.clip(floor + 8.0, max(loudest - 45.0, -70.0), loudest - 10.0))


def threshold_for(env_db: np.ndarray, options: ChunkOptions) -> float:
    """The options' absolute silence level, or the adaptive one."""
    return options.silence_db if options.silence_db is not None else silence_threshold_db(env_db)


def speech_regions(env_db: np.ndarray, frame_s: float, threshold_db: float,
                   min_silence_s: float) -> list[tuple[float, float]]:
    """Spans of sound separated by silences of at least ``min_silence_s``."""
    loud = np.flatnonzero(env_db >= threshold_db)
    if loud.size == 0:
        return []
    gap_frames = max(1, int(round(min_silence_s / frame_s)))
    breaks = np.flatnonzero(np.diff(loud) > gap_frames)
    starts = np.concatenate(([loud[0]], loud[breaks + 1]))
    ends = np.concatenate((loud[breaks], [loud[-1]])) + 1
    return [(float(s) * frame_s, float(e) * frame_s) for s, e in zip(starts, ends)]


def plan_chunks(env_db: np.ndarray, options: ChunkOptions = ChunkOptions(),
                speech: Optional[Sequence[tuple[float, float]]] = None) -> list[Chunk]:
    """Chunks covering every sound region of the envelope (or, with ``options.source == "speech"``, every
    stretch of ``speech``, joined across pauses shorter than ``min_silence_s``), cut at silences where possible."""
    threshold = threshold_for(env_db, options)
    total_s = len(env_db) * options.frame_s
    if options.source == "speech" and speech is not None:
        regions = _joined(speech, options.min_silence_s)
    else:
        regions = speech_regions(env_db, options.frame_s, threshold, options.min_silence_s)
    pieces = [p for r in regions for p in _split_long(r, env_db, options)]
    spans = _group(pieces, options)
    spans = [_pad(span, _bounds(spans, i, total_s), options) for i, span in enumerate(spans)]
    return [Chunk(index=i, start_s=round(s, 3), end_s=round(e, 3)) for i, (s, e) in enumerate(spans)]


def _joined(spans: Sequence[tuple[float, float]], min_gap_s: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] < min_gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        elif end > start:
            out.append((start, end))
    return out


def _split_long(region: tuple[float, float], env_db: np.ndarray, options: ChunkOptions) -> list[tuple[float, float]]:
    """Cut a region longer than the maximum at its quietest frames, with overlapping seams."""
    start, end = region
    limit = options.max_chunk_s - 2 * options.pad_s
    pieces = []
    while end - start > limit:
        cut = _quietest(env_db, options.frame_s, start + 0.6 * limit, start + limit - options.overlap_s / 2)
        pieces.append((start, cut + options.overlap_s / 2))
        start = cut - options.overlap_s / 2
    pieces.append((start, end))
    return pieces


def _quietest(env_db: np.ndarray, frame_s: float, lo_s: float, hi_s: float) -> float:
    lo, hi = int(lo_s / frame_s), max(int(lo_s / frame_s) + 1, int(hi_s / frame_s))
    window = env_db[lo:hi]
    if window.size == 0:
        return hi_s
    return (lo + int(np.argmin(window)) + 0.5) * frame_s


def _group(pieces: Sequence[tuple[float, float]], options: ChunkOptions) -> list[tuple[float, float]]:
    """Greedily merge neighbouring pieces while the merged span fits the maximum."""
    limit = options.max_chunk_s - 2 * options.pad_s
    spans: list[tuple[float, float]] = []
    for start, end in pieces:
        if spans and end - spans[-1][0] <= limit and start >= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _bounds(spans: Sequence[tuple[float, float]], i: int, total_s: float) -> tuple[float, float]:
    """How far span ``i`` may grow: to the middle of the silence on either side."""
    lo = 0.0 if i == 0 else (spans[i - 1][1] + spans[i][0]) / 2
    hi = total_s if i == len(spans) - 1 else (spans[i][1] + spans[i + 1][0]) / 2
    return min(lo, spans[i][0]), max(hi, spans[i][1])


def _pad(span: tuple[float, float], bounds: tuple[float, float], options: ChunkOptions) -> tuple[float, float]:
    """Pad into the surrounding silence, and widen spans shorter than the minimum."""
    lo, hi = bounds
    start, end = max(lo, span[0] - options.pad_s), min(hi, span[1] + options.pad_s)
    short = options.min_chunk_s - (end - start)
    if short > 0:
        start = max(lo, start - short / 2)
        end = min(hi, start + options.min_chunk_s)
        start = max(lo, end - options.min_chunk_s)
    return start, end
