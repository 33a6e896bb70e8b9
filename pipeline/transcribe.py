"""The transcribe stage: chunks through an ASR engine in batches, each finished chunk handed on at once.

The engine (``pipeline.asr``) does the recognition; this module decides which chunks to decode, in what
batches, with which prompt, and reports each finished chunk so that the caller can save it. It imports no
model library.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from pipeline.asr import ENGINES, MIN_COPIED_WORDS, AsrEngine, copied_run
from pipeline.checks import check_bool, check_choice, check_positive_int
from pipeline.device import DEVICES
from pipeline.errors import PodscribeError
from pipeline.types import Audio, Chunk, Segment

log = logging.getLogger(__name__)

Progress = Optional[Callable[[int, int], None]]
OnChunk = Optional[Callable[[Chunk, list[Segment]], None]]
INT8_DECODER = "int8_decoder"  # the ctranslate2 engine's decoder in int8, its encoder in float32 (float16 on CUDA)
COMPUTE_TYPES = ("auto", "int8", INT8_DECODER, "int8_float32", "int8_float16", "float16", "float32")
# The most words of the chunk before that a chunk's prompt carries (about 65 tokens; whisper's own loop carries up to
# 223). On the dev set 25 words lost tiny.en's quiet guest, 100 made base mishear a poem after a novel (README
# "Previous-text context").
CONTEXT_WORDS = 50
# Models whose chunks carry context by default (``context="auto"``) with the whisper engine: on the dev set it made
# tiny.en no worse than the whisper CLI on any file (10.8 -> 10.0 % in total); base met that without it and lost 0.4-0.5
# points in total with it, and CTranslate2's tiny.en got worse (README "Previous-text context").
CONTEXT_MODELS = ("tiny.en", "tiny")
RESET_TEMPERATURE = 0.5  # a chunk decoded hotter than this passes no context on (whisper's prompt reset)


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "base"
    engine: str = "whisper"
    compute_type: str = "auto"  # ctranslate2 engine: see asr.faster_whisper.precision_for
    device: str = "auto"
    language: Optional[str] = None
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    logprob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    hallucination_silence_s: float = 2.0
    beam_size: Optional[int] = 5  # at temperature 0; None is greedy (the whisper CLI's default is 5)
    best_of: Optional[int] = 5  # samples per fallback temperature
    batch_size: int | str = "auto"  # chunks whose first window is decoded together; "auto": the engine's
    vocabulary: tuple[str, ...] = ()  # names and terms every chunk is biased toward, through the prompt
    # True: each chunk's prompt carries the text of the chunk before it, as whisper's own loop does from one 30 s
    # window to the next, and chunks are decoded one after another; False: first windows in batches, no context;
    # "auto": True for the tiny models with the whisper engine (``CONTEXT_MODELS``), False otherwise
    context: bool | str = "auto"

    def __post_init__(self) -> None:
        check_choice("device", self.device, DEVICES)
        check_choice("engine", self.engine, ENGINES)
        check_choice("compute type", self.compute_type, COMPUTE_TYPES)
        if not self.temperatures or any(not 0 <= t <= 1 for t in self.temperatures):
            raise PodscribeError("temperatures must be a non-empty list of values in [0, 1]")
        if self.language is not None and not re.fullmatch(r"[a-z]{2,3}|[A-Za-z ]+", self.language):
            raise PodscribeError(f"unknown language {self.language!r}")
        for name in ("beam_size", "best_of"):
            if getattr(self, name) is not None:
                check_positive_int(name.replace("_", " "), getattr(self, name), "or None")
        if self.batch_size != "auto":
            check_positive_int("batch size", self.batch_size, "or 'auto'")
        if any(not isinstance(v, str) or not v.strip() or "\n" in v for v in self.vocabulary):
            raise PodscribeError("vocabulary entries must be non-empty single-line text")
        if self.context != "auto":
            check_bool("context", self.context, "or 'auto'")

    @property
    def model_identity(self) -> str:
        """The model name, or for a checkpoint file its path, size and modification time."""
        path = Path(self.model)
        if path.is_file():
            stat = path.stat()
            return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return self.model

    @property
    def with_context(self) -> bool:
        """Whether chunks carry the text before them (``context``, with ``auto`` resolved by engine and model)."""
        if self.context == "auto":
            return self.engine == "whisper" and self.model in CONTEXT_MODELS
        return self.context

    @property
    def prompt(self) -> str:
        """The decoder prompt the vocabulary gives: the terms, comma separated."""
        return ", ".join(v.strip() for v in self.vocabulary) + ("." if self.vocabulary else "")


def transcribe(engine: AsrEngine, audio: Audio, chunks: Sequence[Chunk], options: TranscribeOptions,
               language: str, progress: Progress = None, done: Optional[Mapping[int, list[Segment]]] = None,
               on_chunk: OnChunk = None) -> list[list[Segment]]:
    """Each chunk's segments (times on the episode timeline), in chunk order.

    ``done`` holds results already made (by chunk index, e.g. from a cache): those chunks are not decoded
    again. ``on_chunk(chunk, segments)`` is called as each new chunk finishes, so a caller can save it
    before the next one starts.
    """
    done = done or {}
    results: dict[int, list[Segment]] = {}
    before = {chunk.index: previous for previous, chunk in zip([None, *chunks], chunks)}
    pending = [c for c in chunks if c.index not in done]
    finished = len(chunks) - len(pending)
    if progress and finished:
        progress(finished, len(chunks))
    size = 1 if options.with_context else batch_size_for(options, engine)
    for start in range(0, len(pending), size):
        batch = pending[start:start + size]
        previous = before[batch[0].index]
        context = context_words(options, _result(previous, done, results) if previous else None)
        for chunk, segments in zip(batch, _decode(engine, audio, batch, language, options.prompt, context)):
            results[chunk.index] = segments
            if on_chunk:
                on_chunk(chunk, segments)
            finished += 1
            if progress:
                progress(finished, len(chunks))
    return [_result(c, done, results) for c in chunks]


def _decode(engine: AsrEngine, audio: Audio, batch: Sequence[Chunk], language: str, prompt: str,
            context: Sequence[str]) -> list[list[Segment]]:
    """The batch decoded with the vocabulary prompt and the context words after it; a chunk that copied a run of
    its context is decoded again without it (whisper's known failure: on music or silence after a prompt, it
    writes the prompt out again)."""
    out = engine.transcribe_batch(audio, batch, language, " ".join(filter(None, (prompt, *context))))
    if not context:
        return out
    copied = copied_run([w.text for s in out[0] for w in s.words], context)
    if copied < MIN_COPIED_WORDS:
        return out
    log.info("chunk %d: %d words of the previous chunk's text written again, decoding it without that context",
             batch[0].index, copied)
    return engine.transcribe_batch(audio, batch, language, prompt)


def context_words(options: TranscribeOptions, previous: Optional[Sequence[Segment]]) -> list[str]:
    """The context a chunk's prompt carries after the vocabulary (with ``options.with_context``): the last
    ``CONTEXT_WORDS`` words of the chunk before it, none when that chunk's last segment needed a fallback
    temperature above ``RESET_TEMPERATURE``."""
    if not options.with_context or not previous or previous[-1].temperature > RESET_TEMPERATURE:
        return []
    return " ".join(segment.text.strip() for segment in previous).split()[-CONTEXT_WORDS:]


def _result(chunk: Chunk, done: Mapping[int, list[Segment]], made: Mapping[int, list[Segment]]) -> list[Segment]:
    return done[chunk.index] if chunk.index in done else made[chunk.index]


def batch_size_for(options: TranscribeOptions, engine: AsrEngine) -> int:
    """Chunks per batched decode: the option, or the engine's own when it is ``auto``."""
    return engine.batch_size if options.batch_size == "auto" else int(options.batch_size)


def language_code(language: str) -> str:
    """``English`` or ``en`` -> ``en``."""
    from whisper.tokenizer import TO_LANGUAGE_CODE

    return TO_LANGUAGE_CODE.get(language.lower(), language.lower())
