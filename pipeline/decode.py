"""Decode any ffmpeg-readable file (audio, or a video's audio track) to 16 kHz mono float32, streamed."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO, Optional

import numpy as np

from pipeline.errors import PodscribeError, UnreadableAudio
from pipeline.files import file_sha256
from pipeline.types import SAMPLE_RATE, Audio

log = logging.getLogger(__name__)

_PCM_BLOCK = 1 << 20


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
        raise UnreadableAudio(f"{p}: file is empty")
    return p


def decode(path: str | os.PathLike) -> Audio:
    """Decode ``path`` with ffmpeg (pydub's converter) streamed into one float32 array.

    The samples arrive in 1 MiB blocks and are written straight into a buffer sized from ffprobe's duration,
    so a long episode is held once, as 16 kHz mono float32 (3.8 MB a minute), never as whole-file copies at
    the source rate. The content hash travels with the samples.
    """
    p = check_readable(path)
    ffmpeg = _converter()
    expected_s = _probed_duration_s(p)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [ffmpeg, "-nostdin", "-v", "error", "-i", str(p), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
             "-f", "s16le", "-"], stdout=subprocess.PIPE, stderr=errors)
        try:
            samples = _read_pcm(proc.stdout, expected_s)
        finally:
            proc.stdout.close()
            returncode = proc.wait()
        errors.seek(0)
        reason = errors.read().decode("utf-8", errors="replace")
    _check(p, returncode, reason, samples.size / SAMPLE_RATE, expected_s)
    log.info("decoded %s: %.1f s", p.name, samples.size / SAMPLE_RATE)
    return Audio(samples=samples, path=str(p), sha256=file_sha256(p))


def _check(path: Path, returncode: int, reason: str, decoded_s: float, expected_s: Optional[float]) -> None:
    """Refuse a file ffmpeg could not decode, or decoded only in part; warn about recoverable glitches."""
    why = _last_line(reason) if reason.strip() else ""
    if returncode != 0:
        if "does not contain any stream" in reason or "matches no streams" in reason:
            raise UnreadableAudio(f"{path}: no audio track")
        if "Decoder (codec" in reason and "not found" in reason:
            raise UnreadableAudio(f"{path}: unsupported audio codec ({why})")
        raise UnreadableAudio(f"{path}: cannot decode audio ({why or f'ffmpeg exit code {returncode}'})")
    if decoded_s == 0:
        raise UnreadableAudio(f"{path}: contains no audio samples")
    if expected_s and decoded_s < expected_s - max(1.0, 0.02 * expected_s):
        detail = f"; ffmpeg: {why}" if why else ""
        raise UnreadableAudio(f"{path}: truncated or corrupt: decoded {decoded_s:.1f} s of the {expected_s:.1f} s "
                             f"its header gives{detail}")
    if why:
        log.warning("%s: ffmpeg reported damage but decoded it all (%s)", path, why)


def _converter() -> str:
    """The ffmpeg binary pydub is set to use (``AudioSegment.converter``)."""
    from pydub import AudioSegment

    converter = AudioSegment.converter
    if shutil.which(converter) is None:
        raise PodscribeError("ffmpeg not found: install it (apt-get install ffmpeg) or run `make demo`")
    return converter


def probe_duration_s(path: str | os.PathLike) -> Optional[float]:
    """The duration ffprobe reads from a file's header (no decoding), or None when it cannot tell."""
    return _probed_duration_s(Path(path))


def _probed_duration_s(path: Path) -> Optional[float]:
    """The container's duration per ffprobe, or None when it does not say (then the buffer grows)."""
    from pydub.utils import get_prober_name

    try:
        out = subprocess.run([get_prober_name(), "-v", "error", "-show_entries", "format=duration",
                              "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
                             capture_output=True, text=True, timeout=60)
        return float(out.stdout.strip().splitlines()[0])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _read_pcm(stream: BinaryIO, expected_s: Optional[float]) -> np.ndarray:
    """16-bit little-endian mono PCM from ``stream`` into a float32 array, block by block."""
    capacity = int(((expected_s or 60.0) + 1.0) * SAMPLE_RATE)
    buffer = np.empty(capacity, dtype=np.float32)
    filled, carry = 0, b""
    while block := stream.read(_PCM_BLOCK):
        block = carry + block
        usable = len(block) - len(block) % 2
        carry = block[usable:]
        values = np.frombuffer(block[:usable], dtype="<i2")
        if filled + values.size > buffer.size:
            buffer = _grown(buffer, filled + values.size)
        np.multiply(values, 1 / 32768.0, out=buffer[filled:filled + values.size], casting="unsafe")
        filled += values.size
    return buffer[:filled] if filled > 0.9 * buffer.size else buffer[:filled].copy()


def _grown(buffer: np.ndarray, needed: int) -> np.ndarray:
    bigger = np.empty(max(needed, int(buffer.size * 1.5)), dtype=np.float32)
    bigger[:buffer.size] = buffer
    return bigger


def _last_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if "Invalid" in ln or "rror" in ln or "not" in ln]
    return (useful or lines or [type(exc).__name__])[-1][:200]
