"""Speech recognition engines behind one small protocol.

An engine turns chunks of an episode into Whisper-style segments (words with times on the episode
timeline and probabilities, and the checks Whisper ran on each segment). The transcribe stage
(``pipeline/transcribe.py``) batches chunks, saves each finished one and reports progress; it never
touches a model library. Each engine module imports its library lazily and keeps every private-API
hook of that library inside itself, with the library's version pinned in ``pyproject.toml``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from pipeline.asr.options import ENGINES
from pipeline.errors import PodscribeError
from pipeline.types import Audio, Chunk, Segment

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.asr.options import TranscribeOptions


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
        """Each chunk's segments (built with :func:`pipeline.asr.decoding.make_segment`: times on the episode
        timeline, the chunk's index, Whisper's checks). ``prompt`` is text given to the decoder as previous context
        (names, vocabulary). An engine applies Whisper's own rules (temperature fallback, skipping a window
        that is both no-speech and improbable) and drops nothing else: podscribe's guards are the
        transcribe stage's, the same for every engine."""
        ...

    def close(self) -> None:
        """Free the model's memory; the engine is not used afterwards."""
        ...


#: the Python package each engine needs, and how to install it
ENGINE_PACKAGES = {"whisper": ("whisper", "pip install openai-whisper"),
                   "ctranslate2": ("faster_whisper", "pip install 'podscribe[ctranslate2]'")}


def check_engine(options: TranscribeOptions) -> None:
    """Refuse now, in one line, an engine that is not installed or a model it cannot have: found before any
    episode is downloaded, decoded or diarized (nothing is loaded here)."""
    import importlib.util

    from pipeline.store.registry import check_model

    package, install = ENGINE_PACKAGES[options.engine]
    if importlib.util.find_spec(package) is None:
        raise PodscribeError(f"--engine {options.engine} needs {package.replace('_', '-')}: {install}")
    check_model(options.model, options.engine)


def whisper_languages() -> frozenset[str]:
    """The language codes Whisper knows (both engines share them); imports whisper, so only when needed."""
    from whisper.tokenizer import LANGUAGES

    return frozenset(LANGUAGES)


def load_engine(options: TranscribeOptions, device: str) -> AsrEngine:
    """The engine ``options.engine`` names, with ``options.model`` loaded on ``device``."""
    if options.engine == "whisper":
        from pipeline.asr.openai_whisper import WhisperEngine

        return WhisperEngine(options, device)
    if options.engine == "ctranslate2":
        from pipeline.asr.faster_whisper import CTranslate2Engine

        return CTranslate2Engine(options, device)
    raise PodscribeError(f"unknown engine {options.engine!r}: use {' or '.join(ENGINES)}")
