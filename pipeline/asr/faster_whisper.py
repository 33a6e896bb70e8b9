"""The CTranslate2 engine: faster-whisper's decoding loop per chunk, first windows encoded and decoded as a batch.

It runs the store's CTranslate2 directories (``models/ct2-<name>``, the files the whisper checkpoints are
converted from) with no conversion: int8 on a CPU and float16 on CUDA unless ``compute_type`` says otherwise
(``precision_for``; ``int8_decoder`` keeps the encoder in float32).

Every hook into faster-whisper's internals lives here and was written for
the faster-whisper and ctranslate2 that pyproject.toml pins (its ``ctranslate2`` extra; ``tests/test_pins.py``
fails when the installed versions differ):

- ``WhisperModel.generate_segments`` is faster-whisper's per-window loop (temperature fallback, the skip of
  a window that is both no-speech and improbable, seeking past the last timestamp, word alignment, the
  hallucination-silence rule); it is handed the chunk's slice of the batch's encoder output;
- ``_serving`` stands in for the CTranslate2 model while that loop runs, answering its first
  temperature-0 ``generate`` call with the result decoded ahead in the batch;
- ``_EncoderApart`` takes the place of ``WhisperModel.model`` when the encoder runs at another precision;
- ``WhisperModel.get_prompt``, ``encode`` and ``feature_extractor``, faster-whisper's ``Tokenizer``,
  ``TranscriptionOptions`` and ``get_suppressed_tokens`` build exactly what that loop would.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from pipeline.asr.decoding import make_segment, redecode_reason, slice_audio
from pipeline.asr.options import INT8_DECODER, RESET_TEMPERATURE, TranscribeOptions
from pipeline.errors import PodscribeError
from pipeline.types import Audio, Chunk, Segment

log = logging.getLogger(__name__)

# Chunks encoded and decoded together by default: faster-whisper's batched pipeline uses 8 on a CPU.
AUTO_BATCH_CPU = 8
AUTO_BATCH_CUDA = 16
# Windows encoded together. On a CPU one at a time: a batch of 8 is no faster there (tiny.en 3.6 s either way,
# base 8.9 s against 7.1 s) and holds every window's encoder attention at once (+500 MB tiny.en, +620 MB base
# peak RSS; the 1500x1500 score matrices). The decode stays batched. On CUDA the whole batch.
ENCODE_GROUP_CPU = 1
MAX_INITIAL_TIMESTAMP_S = 1.0  # as whisper's and faster-whisper's transcribe


def precision_for(compute_type: str, device: str) -> tuple[str, str]:
    """The (encoder, decoder) compute types. ``auto``: int8 on a CPU, float16 on CUDA. ``int8_decoder``: the
    decoder in int8 and the encoder in float32 (float16 on CUDA): on a CPU as fast as int8, fewer errors with base,
    more peak memory (the figures: benchmarks/README.md, "Engines"). Anything else: that type for both."""
    cuda = device.startswith("cuda")
    if compute_type == "auto":
        return ("float16", "float16") if cuda else ("int8", "int8")
    if compute_type == INT8_DECODER:
        return ("float16", "int8_float16") if cuda else ("float32", "int8")
    return compute_type, compute_type


def precision_name(compute_type: str, device: str) -> str:
    """``int8``, or ``float32 encoder, int8 decoder`` when they differ (the transcript's models, the cache key)."""
    encoder, decoder = precision_for(compute_type, device)
    return decoder if encoder == decoder else f"{encoder} encoder, {decoder} decoder"


def cpu_threads() -> int:
    """The cores this process may run on (CTranslate2's own default is 4, too many on a 2-core machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class CTranslate2Engine:
    """faster-whisper on one device; ``options`` is a ``pipeline.asr.options.TranscribeOptions``."""

    def __init__(self, options: TranscribeOptions, device: str, model=None):
        self.options = options
        self.device = device
        self.encoder_type, self.compute_type = precision_for(options.compute_type, device)
        self.model = model if model is not None else load(options.model, device, self.compute_type,
                                                          self.encoder_type)
        self.batch_size = AUTO_BATCH_CUDA if device.startswith("cuda") else AUTO_BATCH_CPU

    def detect_language(self, audio: Audio, chunks: Sequence[Chunk]) -> str:
        if not self.model.model.is_multilingual or not chunks:
            return "en"
        features = self.model.feature_extractor(slice_audio(audio, chunks[0]))
        language, _, _ = self.model.detect_language(features=features)
        return language

    def transcribe_batch(self, audio: Audio, chunks: Sequence[Chunk], language: str,
                         prompt: str = "") -> list[list[Segment]]:
        """Each chunk's segments. The chunks' first 30 s windows are encoded as one batch and decoded as one
        batch at temperature 0; then each chunk goes through faster-whisper's own loop as usual, which takes
        the batch's encoder output and first decode instead of computing them again."""
        from faster_whisper.tokenizer import Tokenizer

        tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                              language=language)
        features = [self.model.feature_extractor(slice_audio(audio, c)) for c in chunks]
        encoded = self._encode([_first_window(f) for f in features])
        options = self._options(tokenizer, prompt, condition=True)
        first = self.model.get_prompt(tokenizer, self._prompt_tokens(tokenizer, prompt), without_timestamps=False)
        results = self.model.model.generate(encoded.batch, [first] * len(chunks), **_t0_kwargs(self.model, options))
        out = []
        for i, (chunk, feats, result) in enumerate(zip(chunks, features, results)):
            out.append(self._chunk(chunk, feats, encoded.one(i), tokenizer, prompt, (first, result)))
        return out

    def close(self) -> None:
        self.model = None

    def _chunk(self, chunk: Chunk, features, encoder_output, tokenizer, prompt: str, prefetched) -> list[Segment]:
        """One chunk through faster-whisper's loop; a repetition loop or a copy of earlier text is decoded
        again without the previous-text prompt (``redecode_reason``).

        Sampling at fallback temperatures cannot be seeded per chunk here: CTranslate2's random generator
        belongs to its worker thread and takes the seed only when that thread first samples
        (OpenNMT/CTranslate2#1757). Seeding by the chunk's index fixes a loaded model's first sampled chunk; a
        later chunk that needs a fallback can decode differently in a resumed run."""
        import ctranslate2

        ctranslate2.set_random_seed(chunk.index)
        with _serving(self.model, encoder_output, *prefetched):
            raw = self._decode(features, encoder_output, tokenizer, prompt, condition=True)
        reason = redecode_reason([w.word for s in raw for w in s.words or ()])
        if reason:
            log.info("chunk %d: %s, decoding again without the previous-text prompt", chunk.index, reason)
            raw = self._decode(features, encoder_output, tokenizer, prompt, condition=False)
        return [_segment(s, chunk, self.options) for s in raw if s.words]

    def _decode(self, features, encoder_output, tokenizer, prompt: str, condition: bool) -> list:
        options = self._options(tokenizer, prompt, condition)
        return list(self.model.generate_segments(features, tokenizer, options, False, encoder_output))

    def _options(self, tokenizer, prompt: str, condition: bool):
        """faster-whisper's options for what ``model.transcribe`` would be given for this chunk."""
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        opts = self.options
        temperatures = opts.temperatures_for(condition)
        return TranscriptionOptions(
            beam_size=opts.beam_size or 1, best_of=opts.best_of or 1, patience=1, length_penalty=1,
            repetition_penalty=1, no_repeat_ngram_size=0, log_prob_threshold=opts.logprob_threshold,
            no_speech_threshold=opts.no_speech_threshold,
            compression_ratio_threshold=opts.compression_ratio_threshold,
            condition_on_previous_text=condition, prompt_reset_on_temperature=RESET_TEMPERATURE,
            temperatures=list(temperatures),
            initial_prompt=self._prompt_tokens(tokenizer, prompt) or None, prefix=None, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]), without_timestamps=False,
            max_initial_timestamp=MAX_INITIAL_TIMESTAMP_S, word_timestamps=True,
            prepend_punctuations="\"'“¿([{-", append_punctuations="\"'.。,，!！?？:：”)]}、", multilingual=False,
            max_new_tokens=None, clip_timestamps="0", hallucination_silence_threshold=opts.hallucination_silence_s,
            hotwords=None,
        )

    @staticmethod
    def _prompt_tokens(tokenizer, prompt: str) -> list[int]:
        """faster-whisper tokenizes its ``initial_prompt`` as " " + text, stripped."""
        return tokenizer.encode(" " + prompt.strip()) if prompt else []

    def _encode(self, windows: list) -> "_Encoded":
        import numpy as np

        group = len(windows) if self.device.startswith("cuda") else ENCODE_GROUP_CPU
        return _Encoded(self.model, [np.stack(windows[i:i + group]) for i in range(0, len(windows), group)])


class _Encoded:
    """A batch's encoder output, encoded a group of windows at a time, and each window's own slice of it
    (as a CPU StorageView)."""

    def __init__(self, model, groups: list):
        import ctranslate2
        import numpy as np

        on_cuda = model.model.device == "cuda"
        encoded = [model.model.encode(ctranslate2.StorageView.from_array(g), to_cpu=on_cuda) for g in groups]
        if len(encoded) == 1:
            self.batch = encoded[0]
            self._array = np.asarray(self.batch)  # a view, shares memory with the StorageView
        else:
            self._array = np.concatenate([np.asarray(e) for e in encoded])
            self.batch = ctranslate2.StorageView.from_array(self._array)  # shares memory with _array
        self._ctranslate2 = ctranslate2

    def one(self, i: int):
        return self._ctranslate2.StorageView.from_array(self._array[i:i + 1])


def _first_window(features):
    """The mel window faster-whisper's loop decodes first (``generate_segments`` at seek 0)."""
    from faster_whisper.audio import pad_or_trim

    content_frames = features.shape[-1] - 1
    return pad_or_trim(features[:, :min(3000, content_frames)])


def _t0_kwargs(model, options) -> dict:
    """The arguments ``generate_with_fallback`` passes to ``generate`` at temperature 0."""
    return dict(length_penalty=options.length_penalty, repetition_penalty=options.repetition_penalty,
                no_repeat_ngram_size=options.no_repeat_ngram_size, max_length=model.max_length,
                return_scores=True, return_no_speech_prob=True, suppress_blank=options.suppress_blank,
                suppress_tokens=options.suppress_tokens,
                max_initial_timestamp_index=int(round(options.max_initial_timestamp / model.time_precision)),
                beam_size=options.beam_size, patience=options.patience)


def _segment(raw, chunk: Chunk, options: TranscribeOptions) -> Segment:
    words = [(w.word, float(w.start), float(w.end), float(w.probability)) for w in raw.words]
    return make_segment(raw.text, words, chunk, options, avg_logprob=raw.avg_logprob,
                        no_speech_prob=raw.no_speech_prob, compression_ratio=raw.compression_ratio,
                        temperature=raw.temperature)


class _serving:
    """While active, the model's CTranslate2 ``generate`` answers the chunk's first temperature-0 call on
    its first window (same encoder output, same prompt) with the prefetched result; any other call (a
    fallback temperature, a later window) is decoded as usual."""

    def __init__(self, model, encoder_output, prompt, result):
        self.model, self.encoder_output, self.prompt, self.result = model, encoder_output, prompt, result
        self.served = 0

    def __enter__(self):
        real = self.model.model
        serving = self

        class Proxy:
            def generate(self, features, prompts, **kwargs):
                if (not serving.served and features is serving.encoder_output and prompts == [serving.prompt]
                        and "sampling_temperature" not in kwargs):
                    serving.served += 1
                    return [serving.result]
                return real.generate(features, prompts, **kwargs)

            def __getattr__(self, name):
                return getattr(real, name)

        self.real = real
        self.model.model = Proxy()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.model.model = self.real
        if exc_type is None and not self.served:
            log.warning("a prefetched first window was not used: decoded it again")


def model_dir(model: str) -> Path:
    """The CTranslate2 directory for ``model``: a directory path, or the store's ``ct2-<model>``."""
    from pipeline.store.registry import ct2_directory

    return ct2_directory(model)


def load(model: str, device: str, compute_type: str, encoder_type: str = ""):
    """faster-whisper's ``WhisperModel`` on the local directory (never the hub), at ``compute_type``; with another
    ``encoder_type``, the same weights are loaded a second time at that precision to encode (``_EncoderApart``)."""
    path = model_dir(model)
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise PodscribeError("--engine ctranslate2 needs faster-whisper: "
                             "pip install 'podscribe[ctranslate2]'") from None

    where = dict(device="cuda" if device.startswith("cuda") else "cpu", device_index=_device_index(device))
    whisper = _loading(path, compute_type, device, lambda: WhisperModel(
        str(path), compute_type=compute_type, cpu_threads=cpu_threads(), local_files_only=True, **where))
    if encoder_type and encoder_type != compute_type:
        import ctranslate2

        encoder = _loading(path, encoder_type, device, lambda: ctranslate2.models.Whisper(
            str(path), compute_type=encoder_type, intra_threads=cpu_threads(), **where))
        whisper.model = _EncoderApart(whisper.model, encoder)
    return whisper


def _loading(path: Path, compute_type: str, device: str, make):
    try:
        return make()
    except (ValueError, RuntimeError) as exc:  # a compute type the device lacks; a CUDA driver too old
        raise PodscribeError(f"cannot load {path} with compute type {compute_type} on {device}: {exc}") from None


class _EncoderApart:
    """The CTranslate2 model, with ``encode`` answered by a second load of the same weights at another
    precision; everything that decodes (``generate``, ``align``, ``detect_language``) is the first's."""

    def __init__(self, decoder, encoder):
        self._decoder, self._encoder = decoder, encoder

    def encode(self, features, to_cpu: bool = False):
        return self._encoder.encode(features, to_cpu=to_cpu)

    def __getattr__(self, name):
        return getattr(self._decoder, name)


def _device_index(device: str) -> int:
    _, _, index = device.partition(":")
    return int(index) if index.isdigit() else 0
