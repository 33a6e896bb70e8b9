"""The openai-whisper engine: Whisper's own ``transcribe`` per chunk, first windows decoded as a batch.

Every hook into whisper's internals lives here and was written for the openai-whisper that pyproject.toml pins
(``tests/test_pins.py`` fails when the installed version differs):

- ``_BatchTask`` subclasses ``whisper.decoding.DecodingTask`` so beam search works on a batch of windows, and
  ``_folded_cross_attention`` stands in for the decoder's cross-attention ``qkv_attention`` while it decodes,
  and ``_two_positions`` hooks the decoder's last layer norm so its first pass projects only the positions
  whisper's loop reads;
- ``_serving`` stands in for ``model.decode`` while ``model.transcribe`` runs, answering the one window
  that was decoded ahead in the batch;
- every other window (fallback temperatures, later windows, a chunk decoded alone) goes through
  ``_lean_decode``, whisper's ``decode`` with ``_BatchTask`` for its task;
- ``_skipping_short_windows`` stands in for ``model.decode`` too: a window with under half a second of audio
  (Whisper's loop seeks into a chunk's last fraction of a second, then pads it to 30 s with zeros) is answered
  as no speech instead of decoded: on such near-empty windows Whisper loops ("you you you", 224 tokens) through
  its fallback temperatures, which made a run with a vocabulary prompt 3.5 times slower. A word lost there
  would still be caught by the coverage check (``pipeline/coverage.py``);
- ``load`` sets the alignment heads a store checkpoint carries (``model.set_alignment_heads``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Sequence

from pipeline.asr.decoding import make_segment, redecode_reason, slice_audio
from pipeline.asr.options import TranscribeOptions
from pipeline.types import Audio, Chunk, Segment

log = logging.getLogger(__name__)

# First windows decoded together by default. On the 2-core CPU machine batches of 3-5 halve the stage's time
# with beam search (benchmarks/HISTORY.md, "Batch sizes"); on a GPU larger batches fill the device.
AUTO_BATCH_CUDA = 16
AUTO_BATCH_CPU = 5
MIN_WINDOW_FRAMES = 50  # 0.5 s of mel frames: a window with less audio than this is not decoded


class WhisperEngine:
    """openai-whisper on one device; ``options`` is a ``pipeline.asr.options.TranscribeOptions``."""

    def __init__(self, options: TranscribeOptions, device: str, model=None):
        self.options = options
        self.device = device
        self.model = model if model is not None else load(options.model, device)
        self.batch_size = AUTO_BATCH_CUDA if device.startswith("cuda") else AUTO_BATCH_CPU

    def detect_language(self, audio: Audio, chunks: Sequence[Chunk]) -> str:
        import whisper

        if not self.model.is_multilingual or not chunks:
            return "en"
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(slice_audio(audio, chunks[0])), self.model.dims.n_mels)
        _, probs = self.model.detect_language(mel.to(self.model.device))
        return max(probs, key=probs.get)

    def transcribe_batch(self, audio: Audio, chunks: Sequence[Chunk], language: str,
                         prompt: str = "") -> list[list[Segment]]:
        """Each chunk's segments; with more than one chunk, their first 30 s windows are decoded as one batch.

        The batch only does ahead of time the temperature-0 decode that ``model.transcribe`` would do first
        for each chunk; then each chunk goes through Whisper's own ``transcribe`` as usual, which takes that
        result instead of decoding again. So Whisper's code still makes the segments and word times, falls
        back through the temperature schedule when the checks fail and decodes any audio past the first window.
        """
        if len(chunks) < 2:
            return [self._chunk(audio, c, language, prompt) for c in chunks]
        windows = [self.first_window(slice_audio(audio, c)) for c in chunks]
        # each result's encoder output is a view of the batch's windows x beams tensor (58 MB with tiny.en, 77 MB
        # with base), which would stay alive while every chunk of the batch is transcribed; transcribe never reads it
        prefetched = [dataclasses.replace(r, audio_features=None)
                      for r in self.decode_windows(windows, language, prompt)]
        out = []
        for chunk, window, result in zip(chunks, windows, prefetched):
            with _serving(self.model, window, self._first_options(language, prompt), result):
                out.append(self._chunk(audio, chunk, language, prompt))
        return out

    def close(self) -> None:
        self.model = None

    def first_window(self, samples):
        """The mel window ``model.transcribe`` decodes first for these samples (same padding, same dtype)."""
        import torch
        import whisper
        from whisper.audio import N_FRAMES, N_SAMPLES

        mel = whisper.log_mel_spectrogram(samples, self.model.dims.n_mels, padding=N_SAMPLES)
        content = mel.shape[-1] - N_FRAMES
        window = whisper.pad_or_trim(mel[:, :min(N_FRAMES, content)], N_FRAMES)
        return window.to(self.model.device).to(torch.float16 if self._fp16 else torch.float32)

    def decode_windows(self, windows: Sequence, language: str, prompt: str = "") -> list:
        """Whisper's temperature-0 decode of several mel windows at once."""
        import torch

        return _BatchTask(self.model, self._first_options(language, prompt)).run(torch.stack(list(windows)))

    @property
    def _fp16(self) -> bool:
        return str(self.model.device).startswith("cuda")

    def _first_options(self, language: str, prompt: str):
        """The DecodingOptions ``model.transcribe`` uses for a chunk's first window at t=0."""
        import whisper

        tokens = self._prompt_tokens(prompt)
        return whisper.DecodingOptions(task="transcribe", language=language, temperature=0.0,
                                       beam_size=self.options.beam_size, fp16=self._fp16, prompt=tokens)

    def _prompt_tokens(self, prompt: str) -> list:
        """``model.transcribe`` tokenizes its ``initial_prompt`` as " " + text, stripped."""
        if not prompt:
            return []
        from whisper.tokenizer import get_tokenizer

        tokenizer = get_tokenizer(self.model.is_multilingual, num_languages=self.model.num_languages)
        return tokenizer.encode(" " + prompt.strip())

    def _chunk(self, audio: Audio, chunk: Chunk, language: str, prompt: str) -> list[Segment]:
        """One chunk through Whisper; a repetition loop or a copy of earlier text is decoded again without the
        previous-text prompt (``redecode_reason``).

        Sampling at fallback temperatures is seeded by the chunk's index, so a chunk decodes the same way
        whether or not the run was interrupted and resumed.
        """
        import torch

        with torch.random.fork_rng(), _skipping_short_windows(self.model):
            torch.manual_seed(chunk.index)
            result = self._decode(slice_audio(audio, chunk), language, prompt, condition=True)
            reason = redecode_reason([w["word"] for s in result["segments"] for w in s.get("words", [])])
            if reason:
                log.info("chunk %d: %s, decoding again without the previous-text prompt", chunk.index, reason)
                result = self._decode(slice_audio(audio, chunk), language, prompt, condition=False)
        return [_segment(s, chunk, self.options) for s in result["segments"] if s.get("words")]

    def _decode(self, samples, language: str, prompt: str, condition: bool) -> dict:
        opts = self.options
        temperatures = opts.temperatures_for(condition)
        return self.model.transcribe(
            samples, language=language, task="transcribe", word_timestamps=True, verbose=None,
            temperature=temperatures, condition_on_previous_text=condition, initial_prompt=prompt or None,
            carry_initial_prompt=bool(prompt),
            compression_ratio_threshold=opts.compression_ratio_threshold,
            logprob_threshold=opts.logprob_threshold, no_speech_threshold=opts.no_speech_threshold,
            hallucination_silence_threshold=opts.hallucination_silence_s,
            beam_size=opts.beam_size, best_of=opts.best_of, fp16=self._fp16,
        )


def _segment(raw: dict, chunk: Chunk, options: TranscribeOptions) -> Segment:
    words = [(w["word"], w["start"], w["end"], w["probability"]) for w in raw["words"]]
    return make_segment(raw["text"], words, chunk, options, avg_logprob=raw["avg_logprob"],
                        no_speech_prob=raw["no_speech_prob"], compression_ratio=raw["compression_ratio"],
                        temperature=raw["temperature"])


def load(model: str, device: str):
    """A loaded whisper model: a store checkpoint through :func:`_load_file`, an official name through
    ``whisper.load_model`` (into the store's folder)."""
    import whisper

    from pipeline.store.registry import models_dir, resolve_whisper_file

    target, is_file = resolve_whisper_file(model)
    if is_file:
        return _load_file(target, device)
    return whisper.load_model(target, device=device, download_root=str(models_dir()))


def _load_file(path: str, device: str):
    """What ``whisper.load_model`` builds from a checkpoint file, with the alignment heads a store checkpoint
    carries, but read through mmap: the half-precision weights go from the file's pages into the model's
    float32 parameters and are never a second copy on the heap (that copy, 145 MB for base, stayed in the
    allocator's keeping after each file and raised the floor of a run over many files)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    from pipeline.store.ct2_convert import alignment_heads_dump

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # a legacy (non-zip) checkpoint cannot be mmapped
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    dims = ModelDimensions(**checkpoint["dims"])
    loaded = Whisper(dims)
    loaded.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads")
    del checkpoint
    if heads:
        loaded.set_alignment_heads(alignment_heads_dump(heads, dims.n_text_layer, dims.n_text_head))
    return loaded.to(device)


@contextlib.contextmanager
def _skipping_short_windows(model):
    """While active, ``model.decode`` answers a window with under ``MIN_WINDOW_FRAMES`` of audio as no speech."""
    inner = vars(model).get("decode") or (lambda mel, options=None, **kw: _lean_decode(model, mel, options, **kw))

    def decode(mel, options=None, **kwargs):
        if mel.ndim == 2 and _content_frames(mel) < MIN_WINDOW_FRAMES:
            return _no_speech(mel, options)
        return inner(mel, options, **kwargs)  # both inners take options=None

    own = "decode" in vars(model)
    model.decode = decode
    try:
        yield
    finally:
        if own:
            model.decode = inner
        else:
            del model.decode


def _lean_decode(model, mel, options=None, **kwargs):
    """``whisper.decoding.decode`` through ``_BatchTask``: the same decode, but the first pass projects only the two
    prompt positions whisper's loop reads (whisper's own projects every position for every beam: with a prompt of
    70 tokens and 5 beams, 73 MB with tiny.en) and the cross-attention is folded as in a batch."""
    from whisper.decoding import DecodingOptions

    options = dataclasses.replace(options or DecodingOptions(), **kwargs)
    single = mel.ndim == 2
    result = _BatchTask(model, options).run(mel.unsqueeze(0) if single else mel)  # run is whisper's, under no_grad
    return result[0] if single else result


def _content_frames(mel) -> int:
    """Frames before the zero padding ``whisper.pad_or_trim`` adds at the end of a window."""
    import torch

    silent = (mel == 0).all(dim=0)
    if not bool(silent[-1]):
        return mel.shape[-1]
    nonzero = torch.nonzero(~silent)
    return int(nonzero[-1]) + 1 if len(nonzero) else 0


def _no_speech(mel, options):
    """What ``model.decode`` returns for a window with nothing to hear: Whisper's loop skips it."""
    from whisper.decoding import DecodingResult

    return DecodingResult(audio_features=None, language=getattr(options, "language", None) or "en", tokens=[],
                          text="", avg_logprob=float("-inf"), no_speech_prob=1.0,
                          temperature=getattr(options, "temperature", 0.0) or 0.0, compression_ratio=0.0)


def _BatchTask(model, options):
    """A whisper DecodingTask that can beam-search a batch of windows.

    whisper 20250625 keeps one copy of each window's encoder output and lets it broadcast over the beams,
    which only works for a single window (a batch of n windows with b beams fails, n*b against n). Here the
    decoding loop gets one copy per window too, and each cross-attention folds a window's beams into its
    query rows (``_folded_cross_attention``), so the cross-attention keys and values are computed and held
    once per window, not once per beam: with 5 windows and 5 beams that was 460 MB (tiny.en) and 920 MB
    (base) of peak memory. The rest of ``run`` sees every beam's features, as older whisper versions gave it.
    The prompt's first pass projects only the two positions the loop reads (``_two_positions``). On a CPU the
    encoder takes the windows one at a time: the same features to the bit, 120 MB less at the peak with base
    (its self-attention over 1500 frames for five windows at once), no slower (as in the CTranslate2 engine).
    """
    import torch
    from whisper.decoding import DecodingTask

    class BatchTask(DecodingTask):
        def _get_audio_features(self, mel):
            if mel.device.type == "cpu":  # one window at a time: the same features, less memory
                features = torch.cat([super(BatchTask, self)._get_audio_features(mel[i:i + 1])
                                      for i in range(len(mel))])
            else:
                features = super()._get_audio_features(mel)
            return features.repeat_interleave(self.n_group, dim=0)

        def _detect_language(self, audio_features, tokens):
            return super()._detect_language(audio_features[::self.n_group], tokens)

        def _main_loop(self, audio_features, tokens):
            sot_index, self.sot_index = self.sot_index, 0  # the first of the two positions _two_positions keeps
            try:
                with _folded_cross_attention(self.model, self.n_group), _two_positions(self.model, sot_index):
                    return super()._main_loop(audio_features[::self.n_group], tokens)
            finally:
                self.sot_index = sot_index

    return BatchTask(model, options)


@contextlib.contextmanager
def _two_positions(model, sot_index: int):
    """While active, the decoder's first pass (the whole prompt at once) gives logits for two positions only:
    the start-of-transcript token (for the no-speech probability) and the last (for the next token), the only
    two whisper's loop reads. Whisper computes them for every prompt position: with a vocabulary prompt of
    about 100 tokens, 25 rows x 100 x 51864 floats, 520 MB."""

    def keep(module, args, out):
        return out[:, [sot_index, -1]] if out.shape[1] > 1 else out

    hook = model.decoder.ln.register_forward_hook(keep)
    try:
        yield
    finally:
        hook.remove()


@contextlib.contextmanager
def _folded_cross_attention(model, beams: int):
    """While active, each decoder cross-attention takes queries for n windows x ``beams`` beams (rows grouped
    by window, as whisper's beam search keeps them) against keys and values for the n windows: a window's
    beams become more query rows of that window. Attention treats every query row on its own, so the
    result is the same as giving each beam its own copy of the window."""
    blocks = [block.cross_attn for block in model.decoder.blocks if block.cross_attn is not None]

    def folded(attention):
        plain = attention.qkv_attention

        def qkv_attention(q, k, v, mask=None):
            windows = k.shape[0]
            if windows == q.shape[0]:
                return plain(q, k, v, mask)
            rows, n_ctx, n_state = q.shape
            out, qk = plain(q.reshape(windows, beams * n_ctx, n_state), k, v, mask)
            out = out.reshape(rows, n_ctx, n_state)
            if qk is not None:  # (windows, heads, beams * n_ctx, keys) -> (rows, heads, n_ctx, keys)
                qk = qk.unflatten(2, (beams, n_ctx)).transpose(1, 2).flatten(0, 1)
            return out, qk

        return qkv_attention

    for attention in blocks:
        attention.qkv_attention = folded(attention)
    try:
        yield
    finally:
        for attention in blocks:
            del attention.qkv_attention


class _serving:
    """While active, ``model.decode`` answers the one prefetched window from ``result``; any other call
    (a fallback temperature, a later window, a decode without the prompt) is decoded as usual."""

    def __init__(self, model, window, options, result):
        self.model, self.window, self.options, self.result = model, window, options, result
        self.served = 0

    def __enter__(self):
        import torch

        def decode(mel, options=None, **kwargs):
            if (not kwargs and options == self.options and not self.served
                    and mel.shape == self.window.shape and torch.equal(mel, self.window)):
                self.served += 1
                return self.result
            return _lean_decode(self.model, mel, options, **kwargs)

        self.model.decode = decode
        return self

    def __exit__(self, exc_type, *exc) -> None:
        del self.model.decode
        if exc_type is None and not self.served:
            log.warning("a prefetched first window was not used: decoded it again")
