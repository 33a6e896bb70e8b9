"""Fake models for the tests of orchestration, the cache, resume, the CLI and writers.

They follow the real adapters' protocols (``pipeline.asr.AsrEngine``, ``pipeline.diarization.Diarizer``) and
are deterministic functions of the audio, so a test can tell which chunks were decoded and compare runs.
Tests about what only the models can show use the real weights (``@pytest.mark.slow``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import pytest

from pipeline.asr.decoding import make_segment, slice_audio
from pipeline.coverage import RETRY_INDEX
from pipeline.types import Audio, Chunk, Diarization, Segment, SpeakerTurn

WORD_S = 0.5


@dataclass
class Record:
    """What the fakes were asked to do: model loads and closes in order, and every decoded chunk."""

    events: list[str] = field(default_factory=list)
    decoded: list[int] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    interrupt_after: Optional[int] = None  # raise KeyboardInterrupt at the next batch once this many were decoded
    deaf: list[tuple[float, float]] = field(default_factory=list)  # no words here in a first pass (a retry hears)
    mute: list[tuple[float, float]] = field(default_factory=list)  # never any words here
    # (start, end, shift): a first pass writes the words of start-end shift seconds late, over (and instead of)
    # the words there, as Whisper's alignment does when it skips speech; a retry hears them where they are
    misplace: list[tuple[float, float, float]] = field(default_factory=list)

    def loaded(self, kind: str) -> int:
        return self.events.count(f"load {kind}")


class FakeAsr:
    """A word every 0.5 s of sound: ``w<tenths of a second>``; every fifth word is doubtful (p 0.3)."""

    batch_size = 3

    def __init__(self, options, device: str, record: Record):
        self.options, self.record = options, record
        record.events.append("load asr")

    def detect_language(self, audio: Audio, chunks: Sequence[Chunk]) -> str:
        return "en"

    def transcribe_batch(self, audio: Audio, chunks: Sequence[Chunk], language: str,
                         prompt: str = "") -> list[list[Segment]]:
        if self.record.interrupt_after is not None and len(self.record.decoded) >= self.record.interrupt_after:
            raise KeyboardInterrupt  # between batches, as Ctrl-C lands while a batch is decoded
        out = []
        for chunk in chunks:
            self.record.decoded.append(chunk.index)
            self.record.prompts.append(prompt)
            out.append(self._segments(audio, chunk))
        return out

    def close(self) -> None:
        self.record.events.append("close asr")

    def _segments(self, audio: Audio, chunk: Chunk) -> list[Segment]:
        samples = slice_audio(audio, chunk)
        step = int(WORD_S * audio.sample_rate)
        # words on a grid from the chunk's start; with ``misplace``, on the episode's own 0.5 s grid, so that a
        # retry (another start) hears a word where and as the first pass did
        offset = (-chunk.start_s) % WORD_S if self.record.misplace else 0.0
        skip = int(round(offset * audio.sample_rate))
        first = chunk.index < RETRY_INDEX  # a retry hears what a first pass missed or misplaced
        words = []
        for k in range((len(samples) - skip) // step):
            window = samples[skip + k * step:skip + (k + 1) * step]
            at = chunk.start_s + offset + k * WORD_S
            if self._missed(at, first):
                continue
            if np.sqrt(np.mean(window.astype(np.float64) ** 2)) > 0.01:
                start = offset + k * WORD_S + (self._shift(at) if first else 0.0)
                words.append((f" w{int(round(at * 10))}", start, start + WORD_S * 0.8,
                              0.3 if len(words) % 5 == 4 else 0.9))
        words.sort(key=lambda word: word[1])
        if not words:
            return []
        return [make_segment("".join(w[0] for w in words), words, chunk, self.options, avg_logprob=-0.2,
                             no_speech_prob=0.01, compression_ratio=1.2, temperature=0.0)]


    def _missed(self, at: float, first: bool) -> bool:
        spans = self.record.mute
        if first:
            spans = spans + self.record.deaf + [(a + shift, b + shift) for a, b, shift in self.record.misplace]
        return any(start <= at < end for start, end in spans)

    def _shift(self, at: float) -> float:
        return next((shift for start, end, shift in self.record.misplace if start <= at < end), 0.0)


class FakeDiarizer:
    """Two speakers taking turns every 10 s of the episode."""

    def __init__(self, options, device: str, record: Record):
        self.record = record
        record.events.append("load diarizer")

    def diarize(self, audio: Audio, progress: Optional[Callable[[int, int], None]] = None) -> Diarization:
        turns = tuple(SpeakerTurn(f"SPEAKER_0{i % 2}", float(t), min(float(t + 10), audio.duration_s))
                      for i, t in enumerate(range(0, int(np.ceil(audio.duration_s)), 10)))
        if progress:
            progress(1, 1)
        return Diarization(turns=turns, exclusive=turns, speech=self.speech(audio),
                           centroids=(("SPEAKER_00", (1.0, 0.0)), ("SPEAKER_01", (0.0, 1.0))))

    def speech_activity(self, audio: Audio) -> Diarization:
        return Diarization(turns=(), exclusive=(), speech=self.speech(audio))

    def close(self) -> None:
        self.record.events.append("close diarizer")

    def speech(self, audio: Audio) -> tuple[tuple[float, float], ...]:
        """Where the audio is loud, by 0.1 s frames: what a speech detector would hear."""
        frame = audio.sample_rate // 10
        loud = [np.sqrt(np.mean(audio.samples[i:i + frame].astype(np.float64) ** 2)) > 0.01
                for i in range(0, len(audio.samples) - frame + 1, frame)]
        spans, start = [], None
        for i, on in enumerate(loud + [False]):
            if on and start is None:
                start = i / 10
            elif not on and start is not None:
                spans.append((start, i / 10))
                start = None
        return tuple(spans)


def factories(record: Record):
    """(asr factory, diarizer factory) for ``pipeline.run.Transcriber``."""
    return (lambda options, device: FakeAsr(options, device, record),
            lambda options, device: FakeDiarizer(options, device, record))


@pytest.fixture()
def fake_models(monkeypatch) -> Record:
    """Every Transcriber made during the test (the CLI's too) gets the fakes; returns their record."""
    import pipeline.run

    record = Record()
    asr, diarizer = factories(record)
    monkeypatch.setattr(pipeline.run, "load_engine", asr)
    monkeypatch.setattr(pipeline.run, "pyannote_diarizer", diarizer)
    return record


@pytest.fixture()
def no_models(monkeypatch) -> None:
    """Any attempt to load a model fails the test."""
    import pipeline.run

    def probe(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(pipeline.run, "load_engine", probe)
    monkeypatch.setattr(pipeline.run, "pyannote_diarizer", probe)
