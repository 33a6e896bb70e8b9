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

# First windows decoded together when batch_size is "auto". On the 2-core CPU machine batches of 3-5 halve
# the stage's time with beam search (benchmarks/batch.py); on a GPU larger batches fill the device.
AUTO_BATCH_CUDA = 16
AUTO_BATCH_CPU = 5


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
    beam_size: Optional[int] = 5  # at temperature 0; None is greedy (the whisper CLI's default is 5)
    best_of: Optional[int] = 5  # samples per fallback temperature
    batch_size: int | str = "auto"  # chunks whose first window is decoded together; "auto": by device

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise PodscribeError(f"unknown device {self.device!r}: use auto, cpu or cuda")
        if not self.temperatures or any(not 0 <= t <= 1 for t in self.temperatures):
            raise PodscribeError("temperatures must be a non-empty list of values in [0, 1]")
        if self.language is not None and not re.fullmatch(r"[a-z]{2,3}|[A-Za-z ]+", self.language):
            raise PodscribeError(f"unknown language {self.language!r}")
        for name in ("beam_size", "best_of"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise PodscribeError(f"{name.replace('_', ' ')} must be a positive whole number or None")
        if self.batch_size != "auto" and (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                                          or self.batch_size < 1):
            raise PodscribeError(f"batch size must be 'auto' or a positive whole number, not {self.batch_size!r}")


def transcribe(audio: Audio, chunks: Sequence[Chunk], options: TranscribeOptions, model=None,
               progress: Progress = None, done: Optional[Mapping[int, list[Segment]]] = None,
               on_chunk: OnChunk = None, language: Optional[str] = None) -> tuple[str, list[list[Segment]]]:
    """Language and each chunk's segments (times on the episode timeline).

    ``done`` holds results already made (by chunk index, e.g. from a cache): those chunks are not
    decoded again. ``on_chunk(chunk, segments)`` is called as each new chunk finishes, so a caller
    can save it before the next one starts. ``language`` is a language detected in an earlier run.
    """
    from pipeline.store.registry import load_whisper

    done = done or {}
    device = resolve_device(options.device)
    model = model if model is not None else load_whisper(options.model, device)
    language = language or detect_language(model, audio, chunks, options.language)
    pending = [c for c in chunks if c.index not in done]
    made: dict[int, list[Segment]] = {}
    finished = len(chunks) - len(pending)
    if progress and finished:
        progress(finished, len(chunks))
    size = batch_size_for(options, str(model.device))
    for start in range(0, len(pending), size):
        batch = pending[start:start + size]
        for chunk, segments in zip(batch, transcribe_batch(model, audio, batch, language, options)):
            made[chunk.index] = segments
            if on_chunk:
                on_chunk(chunk, segments)
            finished += 1
            if progress:
                progress(finished, len(chunks))
    return language, [done[c.index] if c.index in done else made[c.index] for c in chunks]


def batch_size_for(options: TranscribeOptions, device: str) -> int:
    """Chunks per batched first-window decode: the option, or by device when it is ``auto``."""
    if options.batch_size != "auto":
        return int(options.batch_size)
    return AUTO_BATCH_CUDA if device.startswith("cuda") else AUTO_BATCH_CPU


def transcribe_batch(model, audio: Audio, chunks: Sequence[Chunk], language: str,
                     options: TranscribeOptions) -> list[list[Segment]]:
    """Each chunk's segments; with more than one chunk, their first 30 s windows are decoded as one batch.

    The batch only does ahead of time the temperature-0 decode that ``model.transcribe`` would do first
    for each chunk; then each chunk goes through :func:`transcribe_chunk` as usual, which takes that
    result instead of decoding again. So Whisper's own code still makes the segments and word times,
    falls back through the temperature schedule when the checks fail, drops no-speech windows and
    decodes any audio past the first window.
    """
    if len(chunks) < 2:
        return [transcribe_chunk(model, audio, c, language, options) for c in chunks]
    windows = [first_window(model, _slice(audio, c)) for c in chunks]
    prefetched = decode_windows(model, windows, language, options)
    out = []
    for chunk, window, result in zip(chunks, windows, prefetched):
        with _serving(model, window, _first_options(model, language, options), result):
            out.append(transcribe_chunk(model, audio, chunk, language, options))
    return out


def first_window(model, samples):
    """The mel window ``model.transcribe`` decodes first for these samples (same padding, same dtype)."""
    import torch
    import whisper
    from whisper.audio import N_FRAMES, N_SAMPLES

    mel = whisper.log_mel_spectrogram(samples, model.dims.n_mels, padding=N_SAMPLES)
    content = mel.shape[-1] - N_FRAMES
    window = whisper.pad_or_trim(mel[:, :min(N_FRAMES, content)], N_FRAMES)
    return window.to(model.device).to(torch.float16 if _fp16(model) else torch.float32)


def decode_windows(model, windows: Sequence, language: str, options: TranscribeOptions) -> list:
    """Whisper's temperature-0 decode of several mel windows at once."""
    import torch

    return _batch_task(model, _first_options(model, language, options)).run(torch.stack(list(windows)))


def _batch_task(model, options):
    """A whisper DecodingTask that can beam-search a batch of windows.

    whisper 20250625 keeps one copy of each window's encoder output and lets it broadcast over the beams,
    which only works for a single window (a batch of n windows with b beams fails, n*b against n): here
    every beam gets its window's features, as older whisper versions did.
    """
    from whisper.decoding import DecodingTask

    class BatchTask(DecodingTask):
        def _get_audio_features(self, mel):
            features = super()._get_audio_features(mel)
            return features.repeat_interleave(self.n_group, dim=0)

        def _detect_language(self, audio_features, tokens):
            return super()._detect_language(audio_features[::self.n_group], tokens)

    return BatchTask(model, options)


def _first_options(model, language: str, options: TranscribeOptions):
    """The DecodingOptions ``model.transcribe`` (see ``_decode``) uses for a chunk's first window at t=0."""
    import whisper

    return whisper.DecodingOptions(task="transcribe", language=language, temperature=0.0,
                                   beam_size=options.beam_size, fp16=_fp16(model), prompt=[])


class _serving:
    """While active, ``model.decode`` answers the one prefetched window from ``result``; any other call
    (a fallback temperature, a later window, a decode without the prompt) is decoded as usual."""

    def __init__(self, model, window, options, result):
        self.model, self.window, self.options, self.result = model, window, options, result
        self.served = 0

    def __enter__(self):
        import torch

        real = type(self.model).decode

        def decode(mel, options=None, **kwargs):
            if (not kwargs and options == self.options and not self.served
                    and mel.shape == self.window.shape and torch.equal(mel, self.window)):
                self.served += 1
                return self.result
            return real(self.model, mel, options, **kwargs) if options is not None else real(self.model, mel, **kwargs)

        self.model.decode = decode
        return self

    def __exit__(self, exc_type, *exc) -> None:
        del self.model.decode
        if exc_type is None and not self.served:
            log.warning("a prefetched first window was not used: decoded it again")


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
    return [_segment(s, chunk, options) for s in result["segments"] if s.get("words") and _speech(s, chunk, options)]


def _speech(raw: dict, chunk: Chunk, options: TranscribeOptions) -> bool:
    """False for text from a window Whisper itself calls no-speech.

    Whisper skips such a window only when its text is also improbable (avg_logprob under the threshold);
    on silence it still writes "You" at -0.97. Chunks hold only sound by energy, so a window Whisper
    hears no speech in is noise or music: its text is dropped too.
    """
    if raw["no_speech_prob"] <= options.no_speech_threshold:
        return True
    log.info("chunk %d: dropped %r (no-speech probability %.2f)", chunk.index, raw["text"], raw["no_speech_prob"])
    return False


def _decode(model, samples, language: str, options: TranscribeOptions, condition: bool) -> dict:
    temperatures = options.temperatures if condition else tuple(t for t in options.temperatures if t > 0) or (1.0,)
    return model.transcribe(
        samples, language=language, task="transcribe", word_timestamps=True, verbose=None,
        temperature=temperatures, condition_on_previous_text=condition,
        compression_ratio_threshold=options.compression_ratio_threshold,
        logprob_threshold=options.logprob_threshold, no_speech_threshold=options.no_speech_threshold,
        hallucination_silence_threshold=options.hallucination_silence_s,
        beam_size=options.beam_size, best_of=options.best_of, fp16=_fp16(model),
    )


def _fp16(model) -> bool:
    return str(model.device).startswith("cuda")


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
