"""Run the stages on one episode: decode -> chunk -> transcribe -> diarize -> merge."""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from pipeline.chunk import ChunkOptions, envelope_db, plan_chunks, threshold_for
from pipeline.decode import decode
from pipeline.diarize import DiarizeOptions, diarize
from pipeline.merge import MergeOptions, merge, relabel_turns
from pipeline.seam import join, snap_to_sound
from pipeline.device import resolve_device
from pipeline.transcribe import TranscribeOptions, transcribe
from pipeline.types import Audio, Diarization, Transcript

log = logging.getLogger(__name__)

StageProgress = Optional[Callable[[str, int, int], None]]


@dataclass(frozen=True)
class RunOptions:
    chunk: ChunkOptions = field(default_factory=ChunkOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    diarize: DiarizeOptions = field(default_factory=DiarizeOptions)
    merge: MergeOptions = field(default_factory=MergeOptions)
    diarization: bool = True


class Transcriber:
    """Holds the loaded Whisper model across episodes; ``run`` transcribes one file."""

    def __init__(self, options: RunOptions = RunOptions()):
        self.options = options
        self._model = None
        self.device = resolve_device(options.transcribe.device)

    @property
    def model(self):
        if self._model is None:
            from pipeline.models import load_whisper

            self._model = load_whisper(self.options.transcribe.model, self.device)
        return self._model

    def run(self, path: str | Path, progress: StageProgress = None) -> Transcript:
        timings: dict[str, float] = {}
        audio = _timed(timings, "decode", lambda: decode(path))
        _tick(progress, "decode", 1, 1)
        env = envelope_db(audio.samples, audio.sample_rate, self.options.chunk.frame_s)
        chunks = _timed(timings, "chunk", lambda: plan_chunks(env, self.options.chunk))
        language, per_chunk = _timed(timings, "transcribe", lambda: transcribe(
            audio, chunks, self.options.transcribe, self.model,
            progress=lambda n, total: _tick(progress, "transcribe", n, total)))
        loud = env >= threshold_for(env, self.options.chunk)
        segments = snap_to_sound(join(chunks, per_chunk), loud, self.options.chunk.frame_s)
        diar = _timed(timings, "diarize", lambda: self._diarize(audio, progress))
        turns, labels = _timed(timings, "merge", lambda: merge(segments, diar.exclusive, self.options.merge))
        return Transcript(
            episode=Path(path).stem, sha256=audio.sha256, duration_s=audio.duration_s, language=language,
            turns=turns, segments=tuple(segments), speaker_turns=relabel_turns(diar.turns, labels),
            models=self._models(), options=_options_dict(self.options),
            timings_s={k: round(v, 3) for k, v in timings.items()},
        )

    def _diarize(self, audio: Audio, progress: StageProgress) -> Diarization:
        if not self.options.diarization or audio.duration_s < 0.5:
            return Diarization(turns=(), exclusive=())
        result = diarize(audio, self.options.diarize, progress=lambda n, total: _tick(progress, "diarize", n, total))
        _tick(progress, "diarize", 1, 1)
        return result

    def _models(self) -> dict[str, str]:
        models = {"whisper": self.options.transcribe.model, "device": self.device}
        if self.options.diarization:
            models |= {"segmentation": "pyannote/segmentation-3.0", "embedding": "CAM++ (3D-Speaker, 192-d)"}
        return models


def _timed(timings: dict[str, float], stage: str, fn):
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _tick(progress: StageProgress, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _options_dict(options: RunOptions) -> dict:
    return {name: asdict(getattr(options, name)) for name in ("chunk", "transcribe", "diarize", "merge")} | {
        "diarization": options.diarization}
