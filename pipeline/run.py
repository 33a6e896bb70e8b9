"""Run the stages on one episode: decode -> chunk -> transcribe -> diarize -> merge."""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from pipeline.cache import EpisodeCache
from pipeline.chunk import ChunkOptions, envelope_db, plan_chunks, threshold_for
from pipeline.decode import decode
from pipeline.diarization.diarize import DiarizeOptions, diarize
from pipeline.merge import MergeOptions, merge, relabel_turns
from pipeline.seam import join, snap_to_sound
from pipeline.device import resolve_device
from pipeline.transcribe import TranscribeOptions, detect_language, transcribe
from pipeline.types import Audio, Chunk, Diarization, Segment, Transcript

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
            from pipeline.store.registry import load_whisper

            self._model = load_whisper(self.options.transcribe.model, self.device)
        return self._model

    def run(self, path: str | Path, progress: StageProgress = None, cache_dir: Optional[str | Path] = None) -> Transcript:
        """Transcribe one file; with ``cache_dir``, finished chunks and the diarization are saved there
        as they are made and taken from there on a later run (see ``pipeline.cache``)."""
        timings: dict[str, float] = {}
        audio = _timed(timings, "decode", lambda: decode(path))
        _tick(progress, "decode", 1, 1)
        cache = self._cache(cache_dir, audio.sha256) if cache_dir is not None else None
        env = envelope_db(audio.samples, audio.sample_rate, self.options.chunk.frame_s)
        chunks = _timed(timings, "chunk", lambda: plan_chunks(env, self.options.chunk))
        language, per_chunk = _timed(timings, "transcribe", lambda: self._transcribe(audio, chunks, cache, progress))
        loud = env >= threshold_for(env, self.options.chunk)
        segments = snap_to_sound(join(chunks, per_chunk), loud, self.options.chunk.frame_s)
        diar = _timed(timings, "diarize", lambda: self._cached_diarize(audio, cache, progress))
        turns, labels = _timed(timings, "merge", lambda: merge(segments, diar.exclusive, self.options.merge))
        return Transcript(
            episode=Path(path).stem, sha256=audio.sha256, duration_s=audio.duration_s, language=language,
            turns=turns, segments=tuple(segments), speaker_turns=relabel_turns(diar.turns, labels),
            models=self._models(), options=_options_dict(self.options),
            timings_s={k: round(v, 3) for k, v in timings.items()},
        )

    def _transcribe(self, audio: Audio, chunks: list[Chunk], cache: Optional[EpisodeCache],
                    progress: StageProgress) -> tuple[str, list[list[Segment]]]:
        """Whisper on the chunks not in the cache (no model is loaded when every chunk is there)."""
        done = cache.chunks(chunks) if cache else {}
        language = (cache.language() if cache else None) or self._fixed_language(chunks)
        if language and all(c.index in done for c in chunks):
            _tick(progress, "transcribe", len(chunks), len(chunks))
            return language, [done[c.index] for c in chunks]
        if language is None:
            language = detect_language(self.model, audio, chunks, self.options.transcribe.language)
            if cache:
                cache.save_language(language)
        if done:
            log.info("%s: %d of %d chunks taken from the cache", Path(audio.path).name, len(done), len(chunks))
        return transcribe(audio, chunks, self.options.transcribe, self.model, language=language, done=done,
                          on_chunk=cache.save_chunk if cache else None,
                          progress=lambda n, total: _tick(progress, "transcribe", n, total))

    def _fixed_language(self, chunks: list[Chunk]) -> Optional[str]:
        """The language when no model is needed to know it: given, an English-only model, or no speech."""
        opts = self.options.transcribe
        if opts.language or not chunks:
            return detect_language(None, None, chunks, opts.language or "en")
        return "en" if opts.model.endswith(".en") else None

    def _cached_diarize(self, audio: Audio, cache: Optional[EpisodeCache], progress: StageProgress) -> Diarization:
        saved = cache.diarization() if cache else None
        if saved is not None:
            _tick(progress, "diarize", 1, 1)
            return saved
        result = self._diarize(audio, progress)
        if cache:
            cache.save_diarization(result)
        return result

    def _cache(self, cache_dir: str | Path, sha256: str) -> EpisodeCache:
        opts = self.options
        whisper_key = {"sha256": sha256, "model": _model_identity(opts.transcribe.model), "device": self.device,
                       "transcribe": asdict(opts.transcribe) | {"device": None, "batch_size": None},  # same words
                       "chunk": asdict(opts.chunk)}
        diarize_key = {"sha256": sha256, "device": resolve_device(opts.diarize.device), "enabled": opts.diarization,
                       "diarize": asdict(opts.diarize) | {"device": None}}
        return EpisodeCache(cache_dir, sha256, whisper_key, diarize_key)

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


def _model_identity(model: str) -> str:
    """A model name, or for a checkpoint file its path, size and modification time."""
    path = Path(model)
    if path.is_file():
        stat = path.stat()
        return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return model


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
