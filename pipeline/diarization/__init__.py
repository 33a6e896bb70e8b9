"""Speaker diarization: who speaks when, behind one small protocol.

``diarize.py`` is the adapter over pyannote.audio (segmentation-3.0, CAM++ embeddings, agglomerative
clustering); ``campplus.py`` is CAM++ as a pyannote ``Model``; ``frame_embeddings.py`` and ``pooling.py`` are the
fast path that computes CAM++ frame features once per file; ``turns.py`` (pure) makes speaker turns from tracks and
gives edge blips to the turn they touch. Only ``diarize.py`` and ``frame_embeddings.py`` touch pyannote's internals.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol, runtime_checkable

from pipeline.types import Audio, Diarization


@runtime_checkable
class Diarizer(Protocol):
    """A loaded diarizer."""

    def diarize(self, audio: Audio, progress: Optional[Callable[[int, int], None]] = None) -> Diarization:
        """Speaker turns, centroids and speech activity."""
        ...

    def speech_activity(self, audio: Audio) -> Diarization:
        """Speech activity alone (no speakers): what ``--no-diarize`` still needs for the coverage check."""
        ...

    def close(self) -> None:
        """Free the models' memory; the diarizer is not used afterwards."""
        ...
