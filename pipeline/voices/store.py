"""Enrolled voices: one small JSON file per voice in a ``voices/`` folder, never any audio.

A file holds the voice's name, the identity of the embedding model (the sha256 that ``models/manifest.toml``
gives the ``embedding`` model), the CAM++ embeddings (one per few seconds of speech) and where each
enrolment came from. Every file is checked when read: a corrupt file, or one made with another embedding
model, is refused with one line naming it. Writes are atomic (``pipeline.files``).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError
from pipeline.files import atomic_write_text

FORMAT = 1
SUFFIX = ".json"
DEFAULT_DIR = "voices"
EMBEDDING_MODEL = "embedding"  # the manifest entry voices are embedded with
_NUMBERED = re.compile(r"SPEAKER \d+", re.IGNORECASE)


@dataclass(frozen=True)
class Enrolment:
    """One `voices add`: where from, how many seconds of speech, when (ISO 8601, UTC)."""

    source: str
    speech_s: float
    added: str


@dataclass(frozen=True)
class Voice:
    name: str
    model_sha256: str
    embeddings: tuple[tuple[float, ...], ...]
    enrolments: tuple[Enrolment, ...]

    @property
    def speech_s(self) -> float:
        return round(sum(e.speech_s for e in self.enrolments), 2)

    def added(self, embeddings: tuple[tuple[float, ...], ...], enrolment: Enrolment) -> "Voice":
        return replace(self, embeddings=self.embeddings + embeddings, enrolments=self.enrolments + (enrolment,))


def embedding_identity() -> str:
    """The sha256 of the embedding model in the manifest: voices made with another model are refused."""
    from pipeline.store.registry import recorded_sha256

    sha256 = recorded_sha256(EMBEDDING_MODEL)
    if sha256 is None:
        raise PodscribeError(f"models/manifest.toml has no {EMBEDDING_MODEL!r} model with a sha256")
    return sha256


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def check_name(name: str) -> str:
    """A voice name becomes a speaker label and a file name: one line, no slash, not ``SPEAKER n``."""
    clean = name.strip()
    if not clean or len(clean) > 64 or any(c in clean for c in "/\\\0") or not clean.isprintable() \
            or clean.startswith(".") or "," in clean:
        raise PodscribeError(f"{name!r} is not a usable voice name (1-64 printable characters, no '/', '\\', ',' "
                             f"or leading '.')")
    if _NUMBERED.fullmatch(clean):
        raise PodscribeError(f"{clean!r} is how unnamed speakers are labelled; give the voice a name")
    return clean


def voice_path(folder: Path, name: str) -> Path:
    return Path(folder) / f"{check_name(name)}{SUFFIX}"


def load_voices(folder: Path, model_sha256: str) -> tuple[Voice, ...]:
    """Every voice in ``folder`` (none if it does not exist), sorted by name; any bad file is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        if folder.exists():
            raise PodscribeError(f"{folder}: not a folder of voices")
        return ()
    return tuple(read_voice(p, model_sha256) for p in sorted(folder.glob(f"*{SUFFIX}")))


def find_voice(folder: Path, name: str, model_sha256: str) -> Optional[Voice]:
    path = voice_path(folder, name)
    return read_voice(path, model_sha256) if path.is_file() else None


def read_voice(path: Path, model_sha256: str) -> Voice:
    """One voice file, checked: a corrupt file or another embedding model is one clear error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PodscribeError(f"{path}: not a readable voices file ({_reason(exc)}); remove it (podscribe voices "
                             f"remove {Path(path).stem}) and enrol the voice again") from None
    voice = _voice_from_dict(path, data)
    if voice.model_sha256 != model_sha256:
        raise PodscribeError(f"{path}: made with another embedding model (sha256 {voice.model_sha256[:12]}..., this "
                             f"podscribe uses {model_sha256[:12]}...); remove it (podscribe voices remove "
                             f"{Path(path).stem}) and enrol the voice again")
    return voice


def save_voice(folder: Path, voice: Voice) -> Path:
    """Write the voice's file atomically: its fields indented, one embedding per line."""
    data = _voice_to_dict(voice)
    rows = ",\n  ".join(json.dumps(v) for v in data.pop("embeddings"))
    text = json.dumps(data, indent=1, ensure_ascii=False)[:-2] + f',\n "embeddings": [\n  {rows}\n ]\n}}\n'
    return atomic_write_text(voice_path(folder, voice.name), text)


def remove_voice(folder: Path, name: str) -> Path:
    path = voice_path(folder, name)
    if not path.is_file():
        known = sorted(p.stem for p in Path(folder).glob(f"*{SUFFIX}")) if Path(folder).is_dir() else []
        raise PodscribeError(f"no voice named {name!r} in {folder} (enrolled: {', '.join(known) or 'none'})")
    try:
        path.unlink()
    except OSError as exc:
        raise PodscribeError(f"{path}: cannot remove ({exc.strerror})") from None
    return path


def _voice_to_dict(voice: Voice) -> dict:
    return {"podscribe_voice": FORMAT, "name": voice.name,
            "model": {"name": EMBEDDING_MODEL, "sha256": voice.model_sha256},
            "enrolments": [{"source": e.source, "speech_s": e.speech_s, "added": e.added} for e in voice.enrolments],
            "embeddings": [list(v) for v in voice.embeddings]}


def _voice_from_dict(path: Path, data) -> Voice:
    def bad(what: str) -> PodscribeError:
        return PodscribeError(f"{path}: not a valid voices file ({what}); remove it (podscribe voices remove "
                              f"{Path(path).stem}) and enrol the voice again")

    if not isinstance(data, dict) or data.get("podscribe_voice") != FORMAT:
        raise bad(f"no 'podscribe_voice': {FORMAT} header")
    try:
        name, sha = data["name"], data["model"]["sha256"]
        embeddings = tuple(tuple(float(x) for x in v) for v in data["embeddings"])
        enrolments = tuple(Enrolment(str(e["source"]), float(e["speech_s"]), str(e["added"]))
                           for e in data["enrolments"])
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"missing or malformed {_reason(exc)}") from None
    if not isinstance(name, str) or name != Path(path).stem or not isinstance(sha, str):
        raise bad(f"its name {name!r} does not match the file name")
    if not embeddings or len({len(v) for v in embeddings}) != 1 \
            or not all(math.isfinite(x) for v in embeddings for x in v) or not any(any(v) for v in embeddings):
        raise bad("no usable embeddings")
    return Voice(name=name, model_sha256=sha, embeddings=embeddings, enrolments=enrolments)


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0] if str(exc) else type(exc).__name__
