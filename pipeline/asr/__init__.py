"""Speech recognition engines behind one small protocol.

An engine turns chunks of an episode into Whisper-style segments (words with times on the episode
timeline and probabilities, and the checks Whisper ran on each segment). The transcribe stage
(``pipeline/transcribe.py``) batches chunks, saves each finished one and reports progress; it never
touches a model library. Each engine module imports its library lazily and keeps every private-API
hook of that library inside itself, with the library's version pinned in ``pyproject.toml``.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from pipeline.types import Audio, Chunk, Segment


@runtime_checkable
class AsrEngine(Protocol):
    """A loaded speech recognizer for one model on one device."""

    #: what identifies this engine's results in the resume cache (engine, model, device, compute type)
    identity: dict
    #: chunks decoded together by default on this device
    batch_size: int

    def detect_language(self, audio: Audio, chunks: Sequence[Chunk]) -> str:
        """The episode's language code (``en``), detected on its speech."""
        ...

    def transcribe_batch(self, audio: Audio, chunks: Sequence[Chunk], language: str,
                         prompt: str = "") -> list[list[Segment]]:
        """Each chunk's segments, times on the episode timeline, ``chunk_index`` set; ``prompt`` is
        text given to the decoder as previous context (names, vocabulary)."""
        ...

    def close(self) -> None:
        """Free the model's memory; the engine is not used afterwards."""
        ...
