"""Decode any ffmpeg-readable file (audio, or a video's audio track) to 16 kHz mono float32."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from pipeline.errors import PodscribeError
from pipeline.types import SAMPLE_RATE, Audio

log = logging.getLogger(__name__)

_HASH_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_readable(path: str | os.PathLike) -> Path:
    """Fail with a one-line reason unless ``path`` is a non-empty readable file."""
    p = Path(path)
    if not p.exists():
        raise PodscribeError(f"{p}: no such file")
    if p.is_dir():
        raise PodscribeError(f"{p}: is a directory, not an audio file")
    if not os.access(p, os.R_OK):
        raise PodscribeError(f"{p}: permission denied")
    if p.stat().st_size == 0:
        raise PodscribeError(f"{p}: file is empty")
    return p


def decode(path: str | os.PathLike) -> Audio:
    """Decode ``path`` through pydub/ffmpeg; the content hash travels with the samples."""
    p = check_readable(path)
    if shutil.which("ffmpeg") is None:
        raise PodscribeError("ffmpeg not found: install it (apt-get install ffmpeg) or run `make demo`")
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    try:
        segment = AudioSegment.from_file(str(p))
    except (CouldntDecodeError, IndexError, KeyError, OSError) as exc:
        raise PodscribeError(f"{p}: cannot decode audio ({_last_line(exc)})") from None
    segment = segment.set_channels(1).set_frame_rate(SAMPLE_RATE).set_sample_width(2)
    samples = np.frombuffer(segment.raw_data, dtype=np.int16).astype(np.float32) / 32768.0
    if samples.size == 0:
        raise PodscribeError(f"{p}: contains no audio samples")
    log.info("decoded %s: %.1f s", p.name, samples.size / SAMPLE_RATE)
    return Audio(samples=samples, path=str(p), sha256=file_sha256(p))


def _last_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if "Invalid" in ln or "rror" in ln or "not" in ln]
    return (useful or lines or [type(exc).__name__])[-1][:200]
