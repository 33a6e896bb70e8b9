"""Synthetic test audio written with the standard library: tone bursts that the fakes hear as words."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 16_000


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16-bit mono 16 kHz; ``samples`` in int16 units."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(RATE)
        f.writeframes(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())
    return path


def bursts(seconds: float, on_s: float = 1.5, off_s: float = 0.5, seed: int = 0) -> np.ndarray:
    """Loud tone bursts (``on_s``) separated by quiet gaps (``off_s``), with a little noise throughout."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    on = (t % (on_s + off_s)) < on_s
    tone = np.sin(2 * np.pi * (180 + 40 * np.floor(t / (on_s + off_s)) % 200) * t)
    return 8000 * tone * on + rng.normal(0, 20, t.size)


def music(seconds: float) -> np.ndarray:
    """Chords that change every second over a tremolo: loud, tonal, and no speech."""
    t = np.arange(int(RATE * seconds)) / RATE
    root = 220 + 110 * np.floor(t % 4)
    tones = np.sin(2 * np.pi * root * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.7 * np.sin(2 * np.pi * 330 * t)
    return 6000 * tones
