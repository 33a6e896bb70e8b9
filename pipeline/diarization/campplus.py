"""CAM++ speaker embeddings as a pyannote.audio ``Model``.

The network is a port of CAM++ ("CAM++: A Fast and Efficient Network for Speaker
Verification Using Context-Aware Masking", Wang et al., Interspeech 2023) from
3D-Speaker, https://github.com/modelscope/3D-Speaker (speakerlab/models/campplus),
Copyright 3D-Speaker, Apache License 2.0. Layer names match that code so its
state dicts (here ``campplus_cn_en_common.pt``, 192-d) load unchanged.

Wrapped as a pyannote ``Model`` so that ``SpeakerDiarization(embedding=...)`` takes it
as is: pyannote calls ``model(waveforms, weights=masks)`` with (batch, 1, samples)
10 s chunks and (batch, frames) 0/1 speaker masks at the segmentation frame rate.
CAM++'s context-aware masking averages over the whole input, so rather than pooling
with weights at the end we keep only the fbank frames where the speaker is active
and embed those, as CAM++ was trained on single-speaker speech.

This module imports torch and pyannote at import time: import it lazily.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from pyannote.audio import Model
from torch import nn

from pipeline.types import SAMPLE_RATE

log = logging.getLogger(__name__)

NUM_MEL_BINS = 80
EMBEDDING_SIZE = 192
# fewer active fbank frames (10 ms each) than this are tiled up to it
MIN_FRAMES = 20


# --- CAM++ network (ported from 3D-Speaker, Apache-2.0) ---------------------------


def _bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([("batchnorm", nn.BatchNorm1d(channels)),
                                      ("relu", nn.ReLU(inplace=True))]))


class _BasicResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _FCM(nn.Module):
    """2-D convolutional front end over (frequency, time)."""

    def __init__(self, m_channels: int = 32, feat_dim: int = NUM_MEL_BINS):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(_BasicResBlock(m_channels, m_channels, 2),
                                    _BasicResBlock(m_channels, m_channels, 1))
        self.layer2 = nn.Sequential(_BasicResBlock(m_channels, m_channels, 2),
                                    _BasicResBlock(m_channels, m_channels, 1))
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        b, c, f, t = out.shape
        return out.reshape(b, c * f, t)


class _TDNNLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1):
        super().__init__()
        padding = (kernel_size - 1) // 2 * dilation
        self.linear = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                                padding=padding, dilation=dilation, bias=False)
        self.nonlinear = _bn_relu(out_channels)

    def forward(self, x):
        return self.nonlinear(self.linear(x))


class _CAMLayer(nn.Module):
    """Context-aware masking: a local TDNN gated by utterance and segment context."""

    def __init__(self, bn_channels, out_channels, kernel_size, padding, dilation, reduction=2):
        super().__init__()
        self.linear_local = nn.Conv1d(bn_channels, out_channels, kernel_size,
                                      padding=padding, dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_channels // reduction, out_channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        context = x.mean(-1, keepdim=True) + _segment_pooling(x)
        mask = self.sigmoid(self.linear2(self.relu(self.linear1(context))))
        return self.linear_local(x) * mask


def _segment_pooling(x: torch.Tensor, seg_len: int = 100) -> torch.Tensor:
    seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
    expanded = seg.unsqueeze(-1).expand(*seg.shape, seg_len)
    return expanded.reshape(*seg.shape[:-1], -1)[..., : x.shape[-1]]


class _CAMDenseTDNNLayer(nn.Module):
    def __init__(self, in_channels, out_channels, bn_channels, kernel_size, dilation):
        super().__init__()
        self.nonlinear1 = _bn_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = _bn_relu(bn_channels)
        padding = (kernel_size - 1) // 2 * dilation
        self.cam_layer = _CAMLayer(bn_channels, out_channels, kernel_size, padding, dilation)

    def forward(self, x):
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _CAMDenseTDNNBlock(nn.ModuleList):
    def __init__(self, num_layers, in_channels, out_channels, bn_channels, kernel_size, dilation):
        super().__init__()
        for i in range(num_layers):
            layer = _CAMDenseTDNNLayer(in_channels + i * out_channels, out_channels,
                                       bn_channels, kernel_size, dilation)
            self.add_module(f"tdnnd{i + 1}", layer)

    def forward(self, x):
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _TransitLayer(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.nonlinear = _bn_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.linear(self.nonlinear(x))


class _StatsPool(nn.Module):
    def forward(self, x):
        mean = x.mean(dim=-1)
        if x.shape[-1] < 2:
            return torch.cat([mean, torch.zeros_like(mean) + 1e-2], dim=-1)
        return torch.cat([mean, x.std(dim=-1, unbiased=True)], dim=-1)


class _DenseLayer(nn.Module):
    """Final projection: 1x1 conv then a BatchNorm without affine (3D-Speaker 'batchnorm_')."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = nn.Sequential(
            OrderedDict([("batchnorm", nn.BatchNorm1d(out_channels, affine=False))])
        )

    def forward(self, x):
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class _CAMPPlusNet(nn.Module):
    """(batch, frames, mel bins) mean-normalised fbank -> (batch, embedding_size)."""

    def __init__(self, feat_dim=NUM_MEL_BINS, embedding_size=EMBEDDING_SIZE,
                 growth_rate=32, bn_size=4, init_channels=128):
        super().__init__()
        self.head = _FCM(feat_dim=feat_dim)
        self.xvector = nn.Sequential(OrderedDict([
            ("tdnn", _TDNNLayer(self.head.out_channels, init_channels, 5, stride=2)),
        ]))
        channels = init_channels
        for i, (num_layers, dilation) in enumerate(((12, 1), (24, 2), (16, 2))):
            block = _CAMDenseTDNNBlock(num_layers, channels, growth_rate,
                                       bn_size * growth_rate, 3, dilation)
            self.xvector.add_module(f"block{i + 1}", block)
            channels += num_layers * growth_rate
            self.xvector.add_module(f"transit{i + 1}", _TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _bn_relu(channels))
        self.xvector.add_module("stats", _StatsPool())
        self.xvector.add_module("dense", _DenseLayer(channels * 2, embedding_size))

    def forward(self, feats):
        return self.xvector(self.head(feats.permute(0, 2, 1)))

    def frame_features(self, feats: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mel bins) fbank -> (batch, channels, ceil(frames / 2)) trunk output:
        everything before statistics pooling, one vector per 20 ms."""
        trunk = self.xvector[:-2]
        return trunk(self.head(feats.permute(0, 2, 1)))

    def embed_stats(self, stats: torch.Tensor) -> torch.Tensor:
        """(n, 2 * channels) [mean, std] pooled trunk output -> (n, embedding_size)."""
        return self.xvector.dense(stats)


# --- pyannote wrapper --------------------------------------------------------------


class CAMPPlus(Model):
    """CAM++ speaker embedding model usable as ``SpeakerDiarization(embedding=...)``."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, num_channels: int = 1,
                 embedding_size: int = EMBEDDING_SIZE, task=None):
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.save_hyperparameters("embedding_size")
        self.campplus = _CAMPPlusNet(embedding_size=embedding_size)

    @classmethod
    def from_state_dict(cls, path: Path | str) -> "CAMPPlus":
        """Build the model and load a 3D-Speaker CAM++ state dict (strictly)."""
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        model = cls(embedding_size=state["xvector.dense.linear.weight"].shape[0])
        model.campplus.load_state_dict(state, strict=True)
        model.eval()
        log.debug("loaded CAM++ (%d-d) from %s", model.dimension, path)
        return model

    @property
    def dimension(self) -> int:
        return self.hparams.embedding_size

    def forward(self, waveforms: torch.Tensor,
                weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(batch, 1, samples) [+ (batch, frames) weights] -> (batch, dimension).

        Rows whose weights are all zero come back as NaN, which pyannote's
        clustering reads as "no embedding" (such speakers are inactive anyway).
        """
        feats = _fbank(waveforms, self.hparams.sample_rate)
        if weights is None:
            return self.campplus(feats - feats.mean(dim=1, keepdim=True))
        masks = _frame_masks(weights, feats.shape[1])
        out = torch.full((len(feats), self.dimension), float("nan"), device=feats.device)
        for i, (feat, mask) in enumerate(zip(feats, masks)):
            if mask.any():
                out[i] = self.campplus(_active_frames(feat, mask)[None])[0]
        return out


def _fbank(waveforms: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Kaldi-style 80-bin log-mel fbank (25 ms / 10 ms, povey window, no dither), as 3D-Speaker."""
    import torchaudio.compliance.kaldi as kaldi

    return torch.stack([
        kaldi.fbank(w[:1], num_mel_bins=NUM_MEL_BINS, sample_frequency=sample_rate, dither=0.0)
        for w in waveforms
    ])


def _frame_masks(weights: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(batch, seg_frames) weights -> (batch, num_frames) bool, nearest-neighbour resampled."""
    resampled = F.interpolate(weights.float()[:, None], size=num_frames, mode="nearest")
    return resampled[:, 0] > 0.5


def _active_frames(feat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The speaker's fbank frames, mean-normalised, tiled to at least MIN_FRAMES."""
    active = feat[mask]
    active = active - active.mean(dim=0, keepdim=True)
    if len(active) < MIN_FRAMES:
        active = active.repeat(-(-MIN_FRAMES // len(active)), 1)
    return active
