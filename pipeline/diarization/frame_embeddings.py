"""Fast diarization: CAM++ frame features computed once per file, pooled per (window, speaker).

pyannote's ``SpeakerDiarization`` embeds every (10 s window, local speaker) pair on its own,
so with its 1 s step each second of speech goes through CAM++ about ten times. CAM++ is
convolutional up to its statistics pooling, so here the trunk runs once over the file, in
blocks of ``block_s`` seconds with ``margin_s`` of context on each side (dropped after), and
each window's embedding is CAM++'s own pooling (mean and std over the speaker's frames,
``pipeline.diarization.pooling``) followed by its final dense layer. Segmentation, clustering and
reconstruction stay pyannote's. The blocks are 10 s: CAM++'s context-aware masking averages
over its whole input, and with 30 s blocks two speakers of the 10-minute concatenation merged
(DER 9.1 % against 3.1 %); 10 s is the window length CAM++ sees in the stock path.

Memory does not depend on the file's length beyond pyannote's own per-window arrays: blocks
are computed as the sliding windows need them and dropped once the windows have passed, and
agglomerative clustering (an O(n^2) distance matrix) sees at most ``max_embeddings``
embeddings, picked evenly; pyannote then assigns every embedding to the nearest centroid.

This module imports torch and pyannote at import time: import it lazily.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np
import torch
from pyannote.audio.pipelines import SpeakerDiarization
from pyannote.audio.pipelines.clustering import AgglomerativeClustering
from pyannote.core import SlidingWindowFeature

from pipeline.diarization.campplus import NUM_MEL_BINS, CAMPPlus
from pipeline.diarization.pooling import evenly_spaced, window_frames, window_stats
from pipeline.types import SAMPLE_RATE

log = logging.getLogger(__name__)

FBANK_HOP = 160  # samples (10 ms at 16 kHz)
FBANK_WINDOW = 400  # samples (25 ms)
FRAME_HOP = 2 * FBANK_HOP  # the trunk's first TDNN has stride 2: one feature per 20 ms
# windows pooled before their stats go through the dense layer together
_DENSE_BATCH = 256


@dataclass(frozen=True)
class FastSettings:
    """How the frame features are computed and how many embeddings clustering sees."""

    block_s: float = 10.0
    margin_s: float = 2.0
    max_embeddings: int = 4000


class BoundedAgglomerativeClustering(AgglomerativeClustering):
    """pyannote's agglomerative clustering on at most ``max_embeddings`` evenly picked
    embeddings; the others are assigned to the nearest centroid by pyannote as usual."""

    def __init__(self, metric: str = "cosine", max_embeddings: int = 4000):
        super().__init__(metric=metric)
        self.max_embeddings = max_embeddings

    def filter_embeddings(self, embeddings, segmentations=None, min_active_ratio=0.2):
        train, chunk_idx, speaker_idx = super().filter_embeddings(
            embeddings, segmentations=segmentations, min_active_ratio=min_active_ratio)
        keep = evenly_spaced(len(train), self.max_embeddings)
        if len(keep) < len(train):
            log.debug("clustering %d of %d embeddings", len(keep), len(train))
        return train[keep], chunk_idx[keep], speaker_idx[keep]


class FastSpeakerDiarization(SpeakerDiarization):
    """``SpeakerDiarization`` whose embeddings are pooled from per-file CAM++ frame features."""

    def __init__(self, *args, settings: FastSettings = FastSettings(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fast_settings = settings
        self.clustering = BoundedAgglomerativeClustering(
            metric=self._embedding.metric, max_embeddings=settings.max_embeddings)

    def get_embeddings(self, file, binary_segmentations: SlidingWindowFeature,
                       exclude_overlap: bool = False, hook: Optional[Callable] = None) -> np.ndarray:
        model: CAMPPlus = self._embedding.model_
        waveform = file["waveform"][0]
        return pooled_embeddings(model, waveform, binary_segmentations, self.fast_settings, hook)


def pooled_embeddings(model: CAMPPlus, waveform: torch.Tensor, segmentations: SlidingWindowFeature,
                      settings: FastSettings, hook: Optional[Callable] = None) -> np.ndarray:
    """(num_windows, num_speakers, dimension) embeddings, NaN where a speaker is silent."""
    windows = segmentations.sliding_window
    num_windows, mask_frames, num_speakers = segmentations.data.shape
    total_frames = _num_frames(len(waveform))
    window_len = window_frames(0.0, windows.duration, FRAME_HOP / SAMPLE_RATE)[1]
    active = _active_windows(segmentations.data)
    blocks = _feature_blocks(model, waveform, settings, _needed(active, windows, total_frames))
    buffer = _FrameBuffer(blocks)
    embeddings = np.full((num_windows, num_speakers, model.dimension), np.nan, dtype=np.float32)
    pending: list[tuple[int, np.ndarray]] = []
    for c in range(num_windows):
        first, end = window_frames(windows[c].start, windows.duration, FRAME_HOP / SAMPLE_RATE)
        end = min(end, total_frames)
        if active[c] and end > first:
            pending.append((c, window_stats(buffer.frames(first, end), segmentations.data[c], window_len)))
        if len(pending) >= _DENSE_BATCH or c == num_windows - 1:
            _embed_pending(model, pending, embeddings)
            pending = []
            if hook is not None:
                hook("embeddings", None, total=num_windows, completed=c + 1)
    return embeddings


def _embed_pending(model: CAMPPlus, pending: list[tuple[int, np.ndarray]], out: np.ndarray) -> None:
    """Run the dense layer on pooled stats of several windows; silent speakers stay NaN."""
    if not pending:
        return
    stats = np.stack([s for _, s in pending])  # (n, speakers, 2 * channels)
    flat = stats.reshape(-1, stats.shape[-1])
    valid = ~np.isnan(flat).any(axis=1)
    if not valid.any():
        return
    param = next(model.parameters())
    with torch.inference_mode():
        dense = model.campplus.embed_stats(torch.from_numpy(flat[valid]).to(param.device))
    result = np.full((len(flat), out.shape[-1]), np.nan, dtype=np.float32)
    result[valid] = dense.float().cpu().numpy()
    out[[c for c, _ in pending]] = result.reshape(len(pending), stats.shape[1], -1)


def _num_frames(num_samples: int) -> int:
    """Trunk output frames for a whole file (fbank frames, snip_edges, halved by the stride)."""
    fbank = 1 + (num_samples - FBANK_WINDOW) // FBANK_HOP if num_samples >= FBANK_WINDOW else 0
    return (fbank + 1) // 2


def _active_windows(data: np.ndarray) -> np.ndarray:
    """(num_windows,) True where some speaker is active in the window."""
    return np.nan_to_num(data, nan=0.0).reshape(len(data), -1).max(axis=1) > 0


def _needed(active: np.ndarray, windows, total_frames: int) -> Callable[[int, int], bool]:
    """Whether frames [first, end) fall inside some window with speech (else they are skipped)."""
    hop_s = FRAME_HOP / SAMPLE_RATE
    starts = windows.start + windows.step * np.arange(len(active))

    def needed(first: int, end: int) -> bool:
        overlapping = (starts < end * hop_s) & (starts + windows.duration > first * hop_s)
        return bool(np.any(active[overlapping]))

    return needed


def _feature_blocks(model: CAMPPlus, waveform: torch.Tensor, settings: FastSettings,
                    needed: Callable[[int, int], bool]) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, (frames, channels) float32 trunk features) per block, in order."""
    total = _num_frames(len(waveform))
    block = max(1, round(settings.block_s * SAMPLE_RATE / FRAME_HOP))
    margin = round(settings.margin_s * SAMPLE_RATE / FRAME_HOP)
    channels = None
    for first in range(0, total, block):
        end = min(first + block, total)
        if not needed(first, end) and channels is not None:
            yield first, np.zeros((end - first, channels), dtype=np.float32)
            continue
        features = _trunk(model, waveform, max(0, first - margin), min(total, end + margin))
        channels = features.shape[1]
        offset = first - max(0, first - margin)
        yield first, features[offset: offset + end - first]


def _trunk(model: CAMPPlus, waveform: torch.Tensor, first: int, end: int) -> np.ndarray:
    """Trunk features of frames [first, end) computed from that stretch of audio alone."""
    import torchaudio.compliance.kaldi as kaldi

    param = next(model.parameters())
    start = first * FRAME_HOP
    stop = min(len(waveform), (2 * end - 1) * FBANK_HOP + FBANK_WINDOW)
    audio = waveform[start:stop].to(param.device, torch.float32)
    with torch.inference_mode():
        feats = kaldi.fbank(audio[None], num_mel_bins=NUM_MEL_BINS, sample_frequency=SAMPLE_RATE, dither=0.0)
        feats = feats - feats.mean(dim=0, keepdim=True)
        out = model.campplus.frame_features(feats[None])[0]
    return out[:, : end - first].T.float().cpu().numpy()


class _FrameBuffer:
    """Trunk features from a block iterator, kept only from the earliest frame still asked for."""

    def __init__(self, blocks: Iterator[tuple[int, np.ndarray]]):
        self._blocks = blocks
        self._start = 0
        self._data: Optional[np.ndarray] = None

    def frames(self, first: int, end: int) -> np.ndarray:
        """Frames [first, end); ``first`` never goes back."""
        while self._data is None or self._start + len(self._data) < end:
            block_first, features = next(self._blocks)
            if self._data is None:
                self._start, self._data = block_first, features
            else:
                self._data = np.concatenate([self._data, features])
        drop = max(0, first - self._start)
        self._data, self._start = self._data[drop:], self._start + drop
        return self._data[first - self._start: end - self._start]
