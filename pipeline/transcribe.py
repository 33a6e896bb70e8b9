"""Whisper on each chunk: word times and probabilities, Whisper's own checks kept per segment."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from pipeline.device import DEVICES, resolve_device
from pipeline.errors import PodscribeError
from pipeline.types import Audio, Chunk, Segment, Word

log = logging.getLogger(__name__)

Progress = Optional[Callable[[int, int], None]]
OnChunk = Optional[Callable[[Chunk, list[Segment]], None]]


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "base"
    device: str = "auto"
    language: Optional[str] = None
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    logprob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    hallucination_silence_s: float = 2.0

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise PodscribeError(f"unknown device {self.device!r}: use auto, cpu or cuda")
        if not self.temperatures or any(not 0 <= t <= 1 for t in self.temperatures):
            raise PodscribeError("temperatures must be a non-empty list of values in [0, 1]")
        if self.language is not None and not re.fullmatch(r"[a-z]{2,3}|[A-Za-z ]+", self.language):
            raise PodscribeError(f"unknown language {self.language!r}")



def transcribe(audio: Audio, chunks: Sequence[Chunk], options: TranscribeOptions, model=None,
               progress: Progress = None, done: Optional[Mapping[int, list[Segment]]] = None,
               on_chunk: OnChunk = None, language: Optional[str] = None) -> tuple[str, list[list[Segment]]]:
    """Language and each chunk's segments (times on the episode timeline).

    ``done`` holds results already made (by chunk index, e.g. from a cache): those chunks are not
    decoded again. ``on_chunk(chunk, segments)`` is called as each new chunk finishes, so a caller
    can save it before the next one starts. ``language`` is a language detected in an earlier run.
    """
    from pipeline.models import load_whisper

    done = done or {}
    device = resolve_device(options.device)
    model = model if model is not None else load_whisper(options.model, device)
    language = language or detect_language(model, audio, chunks, options.language)
    results = []
    for n, chunk in enumerate(chunks, 1):
        segments = done.get(chunk.index)
        if segments is None:
            segments = transcribe_chunk(model, audio, chunk, language, options)
            if on_chunk:
                on_chunk(chunk, segments)
        results.append(segments)
        if progress:
            progress(n, len(chunks))
    return language, results


def detect_language(model, audio: Audio, chunks: Sequence[Chunk], language: Optional[str]) -> str:
    """The language once per episode: given, implied by an English-only model, or detected on speech."""
    import whisper

    if language:
        return whisper.tokenizer.TO_LANGUAGE_CODE.get(language.lower(), language.lower())
    if not model.is_multilingual:
        return "en"
    if not chunks:
        return "en"
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(_slice(audio, chunks[0])), model.dims.n_mels)
    _, probs = model.detect_language(mel.to(model.device))
    return max(probs, key=probs.get)


def transcribe_chunk(model, audio: Audio, chunk: Chunk, language: str, options: TranscribeOptions) -> list[Segment]:
    """One chunk through Whisper; a repetition loop is decoded again without the text prompt.

    Sampling at fallback temperatures is seeded by the chunk's index, so a chunk decodes the same way
    whether or not the run was interrupted and resumed.
    """
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(chunk.index)
        return _transcribe_chunk(model, audio, chunk, language, options)


def _transcribe_chunk(model, audio: Audio, chunk: Chunk, language: str, options: TranscribeOptions) -> list[Segment]:
    result = _decode(model, _slice(audio, chunk), language, options, condition=True)
    if repetition_loop([w["word"] for s in result["segments"] for w in s.get("words", [])]):
        log.info("chunk %d: repetition loop, decoding again without the previous-text prompt", chunk.index)
        result = _decode(model, _slice(audio, chunk), language, options, condition=False)
    return [_segment(s, chunk, options) for s in result["segments"] if s.get("words")]


def _decode(model, samples, language: str, options: TranscribeOptions, condition: bool) -> dict:
    temperatures = options.temperatures if condition else tuple(t for t in options.temperatures if t > 0) or (1.0,)
    return model.transcribe(
        samples, language=language, task="transcribe", word_timestamps=True, verbose=None,
        temperature=temperatures, condition_on_previous_text=condition,
        compression_ratio_threshold=options.compression_ratio_threshold,
        logprob_threshold=options.logprob_threshold, no_speech_threshold=options.no_speech_threshold,
        hallucination_silence_threshold=options.hallucination_silence_s,
        fp16=str(model.device).startswith("cuda"),
    )


def _slice(audio: Audio, chunk: Chunk):
    a, b = int(chunk.start_s * audio.sample_rate), int(chunk.end_s * audio.sample_rate)
    return audio.samples[a:b]


def _segment(raw: dict, chunk: Chunk, options: TranscribeOptions) -> Segment:
    offset = chunk.start_s
    words = tuple(
        Word(text=w["word"].strip(), start_s=round(w["start"] + offset, 3), end_s=round(w["end"] + offset, 3),
             probability=round(float(w["probability"]), 4))
        for w in raw["words"]
    )
    failed = (raw["compression_ratio"] > options.compression_ratio_threshold
              or raw["avg_logprob"] < options.logprob_threshold)
    return Segment(
        text=raw["text"].strip(), start_s=words[0].start_s, end_s=words[-1].end_s, words=words,
        avg_logprob=round(float(raw["avg_logprob"]), 4), no_speech_prob=round(float(raw["no_speech_prob"]), 4),
        compression_ratio=round(float(raw["compression_ratio"]), 4), temperature=float(raw["temperature"]),
        chunk_index=chunk.index, failed_checks=bool(failed),
    )


def repetition_loop(words: Sequence[str], max_ngram: int = 8) -> bool:
    """True when some n-gram repeats back to back often enough to be a decoding loop."""
    tokens = [re.sub(r"[^\w']", "", w.lower()) for w in words]
    tokens = [t for t in tokens if t]
    for n in range(1, max_ngram + 1):
        needed = 5 if n == 1 else 4
        for i in range(0, len(tokens) - n * needed + 1):
            gram = tokens[i:i + n]
            if all(tokens[i + k * n:i + (k + 1) * n] == gram for k in range(1, needed)):
                return True
    return False
