"""Pooling frame-level speaker features per (window, speaker) with pyannote's masks; numpy only.

The fast diarization path (``pipeline/diarization/frame_embeddings.py``) runs the CAM++ trunk once over the
file and gets one feature vector per 20 ms frame. pyannote slides a 10 s window over the
file and, for each window, gives a 0/1 activity mask per local speaker at the
segmentation model's own frame rate (589 frames per 10 s for segmentation-3.0). Here we

* map a window onto the feature frames it covers (``window_frames``),
* resample its masks to that many frames, nearest neighbour as ``torch.nn.functional.
  interpolate(mode="nearest")`` does (``resample_indices``),
* take mean and standard deviation of the features under each mask (``masked_stats``),
  which is CAM++'s statistics pooling restricted to the speaker's frames,
* and, to keep clustering memory bounded, pick at most N items evenly (``evenly_spaced``).

Nothing here imports torch.
"""
from __future__ import annotations

import math

import numpy as np

# CAM++'s statistics pooling gives a one-frame input this standard deviation
SINGLE_FRAME_STD = 1e-2


def resample_indices(num_in: int, num_out: int) -> np.ndarray:
    """Source index of each of ``num_out`` outputs, nearest neighbour (floor(i * in / out))."""
    if num_in < 1 or num_out < 0:
        raise ValueError(f"cannot resample {num_in} frames to {num_out}")
    return np.minimum((np.arange(num_out) * num_in) // max(num_out, 1), num_in - 1)


def window_frames(start_s: float, duration_s: float, frame_step_s: float) -> tuple[int, int]:
    """[first, end) feature frames of a window: frames j with start <= j * step < start + duration."""
    first = math.ceil(round(start_s / frame_step_s, 6))
    end = math.ceil(round((start_s + duration_s) / frame_step_s, 6))
    return first, end


def masked_stats(features: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(frames, dim) features and (speakers, frames) 0/1 masks -> (speakers, 2 * dim) [mean, std].

    The standard deviation is unbiased, as ``torch.std``; a speaker with one active frame gets
    ``SINGLE_FRAME_STD`` (as CAM++'s pooling does), one with none gets NaN (pyannote reads a NaN
    embedding as "no embedding").
    """
    if features.ndim != 2 or masks.ndim != 2 or masks.shape[1] != features.shape[0]:
        raise ValueError(f"masks {masks.shape} do not match features {features.shape}")
    weights = (masks > 0.5).astype(np.float64)
    x = features.astype(np.float64)
    count = weights.sum(axis=1, keepdims=True)
    total = weights @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        centred_sq = weights @ (x * x) - count * mean * mean
        std = np.sqrt(np.maximum(centred_sq, 0.0) / (count - 1))
    std = np.where(count == 1, SINGLE_FRAME_STD, std)
    stats = np.concatenate([mean, std], axis=1)
    stats[count[:, 0] == 0] = np.nan
    return stats.astype(np.float32)


def window_stats(features: np.ndarray, masks: np.ndarray, num_window_frames: int) -> np.ndarray:
    """Stats of one window: ``features`` are its feature frames (fewer than ``num_window_frames``
    where the window runs past the end of the file), ``masks`` pyannote's (mask_frames, speakers)
    binary segmentation of it, stretched onto ``num_window_frames`` frames."""
    mask_frames, _ = masks.shape
    index = resample_indices(mask_frames, num_window_frames)[: len(features)]
    clean = np.nan_to_num(masks[index], nan=0.0)
    return masked_stats(features[: len(index)], clean.T)


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """At most ``k`` indices of ``range(n)``, evenly spread, first and last included, sorted."""
    if k < 1:
        raise ValueError(f"need at least one index, not {k}")
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))
