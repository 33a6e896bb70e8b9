"""The resume cache: each chunk's Whisper result and the diarization, saved as soon as they exist.

Layout under the output folder (``outputs/.podscribe-cache/`` by default)::

    <sha256[:16]>/whisper-<key>/language.json, chunk-00000.json, ...
    <sha256[:16]>/diarize-<key>.json

A key is a digest of everything that changes the result (model, device, the stage's options, the chunk plan's
options); the whisper folder keeps it readable in ``key.json``, the diarization file under ``"key"``. Every file
is written atomically, so a kill at any point leaves only complete files, and a later run takes what is there
and redoes the rest. Merging, ``[?]`` marking and writing are not cached: they are pure and take milliseconds.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Sequence

from pipeline.files import atomic_write_text
from pipeline.types import Chunk, Diarization, Segment, SpeakerTurn, Word

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".podscribe-cache"
VERSION = 1


def key_digest(key: dict[str, Any]) -> str:
    """A short stable digest of a JSON-able key."""
    text = json.dumps({"version": VERSION, **key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class EpisodeCache:
    """Saved results for one episode (by content hash) under ``root``."""

    def __init__(self, root: str | Path, sha256: str, whisper_key: dict[str, Any], diarize_key: dict[str, Any]):
        self.folder = Path(root) / sha256[:16]
        self.whisper_dir = self.folder / f"whisper-{key_digest(whisper_key)}"
        self.diarize_file = self.folder / f"diarize-{key_digest(diarize_key)}.json"
        self._whisper_key, self._diarize_key = whisper_key, diarize_key

    def language(self) -> Optional[str]:
        data = _load(self.whisper_dir / "language.json")
        return data.get("language") if data else None

    def save_language(self, language: str) -> None:
        self._save_whisper("language.json", {"language": language})

    def chunks(self, chunks: Sequence[Chunk]) -> dict[int, list[Segment]]:
        """Saved segments of the chunks in this plan (a file whose span differs is ignored)."""
        found = {}
        for chunk in chunks:
            data = _load(self._chunk_path(chunk))
            if data and _same_span(data, chunk):
                found[chunk.index] = [segment_from_dict(s) for s in data["segments"]]
        return found

    def save_chunk(self, chunk: Chunk, segments: Sequence[Segment]) -> None:
        self._save_whisper(self._chunk_path(chunk).name, {"start_s": chunk.start_s, "end_s": chunk.end_s,
                                             "segments": [asdict(s) for s in segments]})

    def diarization(self) -> Optional[Diarization]:
        data = _load(self.diarize_file)
        if not data:
            return None
        if "speech" not in data:
            return None  # made before speech activity was kept: redone
        centroids = tuple((label, tuple(vector)) for label, vector in data.get("centroids", []))
        return Diarization(turns=_turns(data["turns"]), exclusive=_turns(data["exclusive"]), centroids=centroids,
                           speech=tuple(tuple(span) for span in data["speech"]))

    def save_diarization(self, diarization: Diarization) -> None:
        _save(self.diarize_file, {"key": self._diarize_key, "turns": [asdict(t) for t in diarization.turns],
                                  "exclusive": [asdict(t) for t in diarization.exclusive],
                                  "centroids": [list(c) for c in diarization.centroids],
                                  "speech": [list(span) for span in diarization.speech]})

    def _chunk_path(self, chunk: Chunk) -> Path:
        return self.whisper_dir / f"chunk-{chunk.index:05d}.json"

    def _save_whisper(self, name: str, data: dict) -> None:
        key_path = self.whisper_dir / "key.json"
        if not key_path.exists():
            _save(key_path, self._whisper_key)
        _save(self.whisper_dir / name, data)


def _save(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, sort_keys=True, default=str))


def segment_from_dict(data: dict[str, Any]) -> Segment:
    return Segment(**{**data, "words": tuple(Word(**w) for w in data["words"])})


def _turns(rows: list[dict]) -> tuple[SpeakerTurn, ...]:
    return tuple(SpeakerTurn(**row) for row in rows)


def _same_span(data: dict, chunk: Chunk) -> bool:
    return abs(data["start_s"] - chunk.start_s) < 1e-6 and abs(data["end_s"] - chunk.end_s) < 1e-6


def _load(path: Path) -> Optional[dict]:
    """The JSON in ``path``; None when it is missing or unreadable (then it is simply redone)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable cache file %s (%s)", path, exc)
        return None
