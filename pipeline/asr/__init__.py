"""Speech recognition engines behind one small protocol.

An engine turns chunks of an episode into Whisper-style segments (words with times on the episode
timeline and probabilities, and the checks Whisper ran on each segment). The transcribe stage
(``pipeline/transcribe.py``) batches chunks, saves each finished one and reports progress; it never
touches a model library. Each engine module imports its library lazily and keeps every private-API
hook of that library inside itself, with the library's version pinned in ``pyproject.toml``.
"""
from __future__ import annotations

from typing import Optional, Protocol, Sequence, runtime_checkable

from pipeline.errors import PodscribeError
from pipeline.types import Audio, Chunk, Segment, Word, word_key


@runtime_checkable
class AsrEngine(Protocol):
    """A loaded speech recognizer for one model on one device."""

    #: chunks decoded together by default on this device
    batch_size: int

    def detect_language(self, audio: Audio, chunks: Sequence[Chunk]) -> str:
        """The episode's language code (``en``), detected on its speech."""
        ...

    def transcribe_batch(self, audio: Audio, chunks: Sequence[Chunk], language: str,
                         prompt: str = "") -> list[list[Segment]]:
        """Each chunk's segments (built with :func:`make_segment`: times on the episode timeline, the
        chunk's index, Whisper's checks). ``prompt`` is text given to the decoder as previous context
        (names, vocabulary). An engine applies Whisper's own rules (temperature fallback, skipping a window
        that is both no-speech and improbable) and drops nothing else: podscribe's guards are the
        transcribe stage's, the same for every engine."""
        ...

    def close(self) -> None:
        """Free the model's memory; the engine is not used afterwards."""
        ...


def load_engine(options, device: str) -> AsrEngine:
    """The engine ``options.engine`` names, with ``options.model`` loaded on ``device``."""
    if options.engine == "whisper":
        from pipeline.asr.openai_whisper import WhisperEngine

        return WhisperEngine(options, device)
    if options.engine == "ctranslate2":
        from pipeline.asr.faster_whisper import CTranslate2Engine

        return CTranslate2Engine(options, device)
    raise PodscribeError(f"unknown engine {options.engine!r}: use {' or '.join(ENGINES)}")


ENGINES = ("whisper", "ctranslate2")
# A run this long written out again from the prompt (or earlier in the chunk) is a copy, not speech: decoded again
MIN_COPIED_WORDS = 8


def make_segment(text: str, words: Sequence[tuple[str, float, float, float]], chunk: Chunk, options, *,
                 avg_logprob: float, no_speech_prob: float, compression_ratio: float,
                 temperature: float) -> Segment:
    """A Segment on the episode timeline from chunk-relative (word, start, end, probability) tuples and the
    checks Whisper ran on it; ``failed_checks`` when it broke ``options``' compression or log-prob limit."""
    offset = chunk.start_s
    made = tuple(Word(text=w.strip(), start_s=round(float(start) + offset, 3), end_s=round(float(end) + offset, 3),
                      probability=round(float(p), 4)) for w, start, end, p in words)
    failed = compression_ratio > options.compression_ratio_threshold or avg_logprob < options.logprob_threshold
    return Segment(
        text=text.strip(), start_s=made[0].start_s, end_s=made[-1].end_s, words=made,
        avg_logprob=round(float(avg_logprob), 4), no_speech_prob=round(float(no_speech_prob), 4),
        compression_ratio=round(float(compression_ratio), 4), temperature=float(temperature),
        chunk_index=chunk.index, failed_checks=bool(failed),
    )


def slice_audio(audio: Audio, chunk: Chunk):
    """The chunk's samples."""
    a, b = int(chunk.start_s * audio.sample_rate), int(chunk.end_s * audio.sample_rate)
    return audio.samples[a:b]


def copied_run(words: Sequence[str], context: Optional[Sequence[str]] = None) -> int:
    """The longest run of consecutive ``words`` that also stands, in the same order, in ``context``; with no
    ``context``, earlier in ``words`` themselves (before the run, not overlapping it)."""
    own = context is None
    keys = [word_key(w) for w in words]
    known = keys if own else [word_key(w) for w in context]
    best, above = 0, [0] * (len(known) + 1)
    for i, key in enumerate(keys):
        row = [0] * (len(known) + 1)
        for j, other in enumerate(known[:i] if own else known, 1):
            if key and key == other:
                row[j] = above[j - 1] + 1
                if own:  # the run and the one it repeats may not overlap: at most the distance between them
                    row[j] = min(row[j], i - j + 1)
                best = max(best, row[j])
        above = row
    return best


def redecode_reason(words: Sequence[str]) -> Optional[str]:
    """Why a chunk's words must be decoded again without the previous-text prompt, or None. Within a chunk
    Whisper prompts each later 30 s window with the text of the earlier ones, and two failures of that are
    known: a decoding loop, and, over music or silence, the prompt written out again (found on the dev set
    with base: 14 words of a story copied into a music stinger). Speech that does repeat itself is only
    decoded a second time, never dropped."""
    if repetition_loop(words):
        return "repetition loop"
    copied = copied_run(words)
    if copied >= MIN_COPIED_WORDS:
        return f"{copied} words of its own earlier text written again"
    return None


def repetition_loop(words: Sequence[str], max_ngram: int = 8) -> bool:
    """True when some n-gram repeats back to back often enough to be a decoding loop."""
    tokens = [word_key(w) for w in words]
    tokens = [t for t in tokens if t]
    for n in range(1, max_ngram + 1):
        needed = 5 if n == 1 else 4
        for i in range(0, len(tokens) - n * needed + 1):
            gram = tokens[i:i + n]
            if all(tokens[i + k * n:i + (k + 1) * n] == gram for k in range(1, needed)):
                return True
    return False
