"""Synthetic speech for the tests that need Whisper to hear words: flite voices (Debian's flite), placed on a
timeline with music, pauses and level changes. Each clip's text is known, so a test knows every spoken word."""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.audio import RATE, write_wav

VOICES = ("slt", "rms", "awb", "kal16")


@dataclass(frozen=True)
class Line:
    voice: str
    text: str
    gap_before_s: float = 0.6  # silence before this line
    gain_db: float = 0.0


def say(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by a flite voice: 16 kHz float samples, peak 0.5."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True)
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-f", "s16le", "-ac", "1", "-ar", str(RATE),
                              "-"], check=True, capture_output=True).stdout
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return 0.5 * x / max(np.abs(x).max(), 1e-6)


def episode(path: Path, lines: list[Line], lead_in: np.ndarray | None = None, tail_s: float = 1.0,
            noise_db: float = -60.0) -> Path:
    """The lines one after another (after ``lead_in``, e.g. music), a little noise throughout, as a wav."""
    return placed(path, lines, lead_in, tail_s, noise_db)[0]


def placed(path: Path, lines: list[Line], lead_in: np.ndarray | None = None, tail_s: float = 1.0,
           noise_db: float = -60.0) -> tuple[Path, list[tuple[float, float]]]:
    """:func:`episode`, and each line's (start_s, end_s) in it."""
    parts = [lead_in if lead_in is not None else np.zeros(0, np.float32)]
    spans = []
    for line in lines:
        parts.append(np.zeros(int(line.gap_before_s * RATE), np.float32))
        start = sum(len(p) for p in parts) / RATE
        parts.append(say(line.text, line.voice) * 10 ** (line.gain_db / 20))
        spans.append((start, start + len(parts[-1]) / RATE))
    parts.append(np.zeros(int(tail_s * RATE), np.float32))
    x = np.concatenate(parts)
    x = x + np.random.default_rng(0).normal(0, 10 ** (noise_db / 20), x.size)
    return write_wav(path, x * 32767), spans
