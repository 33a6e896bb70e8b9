"""What the transcribe stage and every ASR engine are given: :class:`TranscribeOptions`, checked on construction,
and the constants that go with them (the engines, compute types, the previous-text context)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.checks import check_bool, check_choice, check_positive_int
from pipeline.device import DEVICES
from pipeline.errors import PodscribeError

ENGINES = ("whisper", "ctranslate2")
INT8_DECODER = "int8_decoder"  # the ctranslate2 engine's decoder in int8, its encoder in float32 (float16 on CUDA)
COMPUTE_TYPES = ("auto", "int8", INT8_DECODER, "int8_float32", "int8_float16", "float16", "float32")
# The most words of the chunk before that a chunk's prompt carries (about 65 tokens; whisper's own loop carries up to
# 223): fewer lost a quiet guest, more made a model mishear (docs/engines.md, "Previous-text context").
CONTEXT_WORDS = 50
# Models whose chunks carry context by default (``context="auto"``) with the whisper engine: the models it helped on
# the dev set (docs/engines.md, "Previous-text context"; the runs: benchmarks/README.md, "Accuracy").
CONTEXT_MODELS = ("tiny.en", "tiny")
RESET_TEMPERATURE = 0.5  # a chunk decoded hotter than this passes no context on (whisper's prompt reset)


def is_english(language: str) -> bool:
    return language.strip().lower() in ("en", "english")


def english_only(model: str) -> bool:
    """Whether ``model`` (a name, a checkpoint file or a CTranslate2 folder) is an English-only Whisper (``*.en``)."""
    name = Path(model).name.removeprefix("ct2-")
    return re.sub(r"\.(pt|bin)$", "", name).endswith(".en")


def english_only_refusal(model: str, language: str) -> str:
    return (f"--model {model} is English-only and cannot transcribe {language!r}: use a multilingual model "
            f"such as base")


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "base"
    engine: str = "whisper"
    compute_type: str = "auto"  # ctranslate2 engine: see pipeline.asr.faster_whisper.precision_for
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
        if self.language is not None and not is_english(self.language) and english_only(self.model):
            raise PodscribeError(english_only_refusal(self.model, self.language))
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

    def temperatures_for(self, condition: bool) -> tuple[float, ...]:
        """The temperature schedule for a decode with (``condition``) or without the previous-text prompt: a
        decode again without it skips temperature 0, which already failed (1.0 when nothing else is left)."""
        return self.temperatures if condition else tuple(t for t in self.temperatures if t > 0) or (1.0,)

    @property
    def prompt(self) -> str:
        """The decoder prompt the vocabulary gives: the terms, comma separated."""
        return ", ".join(v.strip() for v in self.vocabulary) + ("." if self.vocabulary else "")
