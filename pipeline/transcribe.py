"""The transcribe stage: chunks through an ASR engine in batches, each finished chunk handed on at once.

The engine (``pipeline.asr``) does the recognition; this module decides which chunks to decode, in what
batches, with which prompt, and reports each finished chunk so that the caller can save it. It imports no
model library.
"""
from __future__ import annotations

import logging
from typing import Callable, Mapping, Optional, Sequence

from pipeline.asr import AsrEngine
from pipeline.asr.decoding import MIN_COPIED_WORDS, copied_run
from pipeline.asr.options import CONTEXT_WORDS, RESET_TEMPERATURE, TranscribeOptions
from pipeline.types import Audio, Chunk, Segment

log = logging.getLogger(__name__)

Progress = Optional[Callable[[int, int], None]]
OnChunk = Optional[Callable[[Chunk, list[Segment]], None]]


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
