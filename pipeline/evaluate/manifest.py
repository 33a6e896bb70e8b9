"""A manifest of episodes for ``podscribe evaluate --manifest`` and the benchmarks: (audio, reference(s)[,
hypothesis]) in TOML or CSV."""
from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError


@dataclass(frozen=True)
class Pair:
    """One manifest entry: the audio, its reference file(s) and, if given, its hypothesis."""

    audio: Path
    references: tuple[Path, ...]
    hypothesis: Optional[Path] = None

    @property
    def name(self) -> str:
        return self.audio.stem



def read_manifest(path: Path) -> list[Pair]:
    """``[[episode]]`` tables (audio, reference: path or list, hypothesis) in TOML, or CSV rows (header optional).

    Relative paths are relative to the manifest's folder; in CSV several references are joined by ``;``.
    """
    if not path.is_file():
        raise PodscribeError(f"manifest {path}: no such file")
    entries = _toml_entries(path) if path.suffix.lower() == ".toml" else _csv_entries(path)
    if not entries:
        raise PodscribeError(f"manifest {path}: no episodes in it")
    return [_pair(path, e, n) for n, e in enumerate(entries, 1)]


def _toml_entries(path: Path) -> list[dict]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PodscribeError(f"manifest {path}: not valid TOML ({exc})") from None
    return list(data.get("episode", data.get("episodes", [])))


def _csv_entries(path: Path) -> list[dict]:
    rows = [r for r in csv.reader(path.read_text(encoding="utf-8").splitlines()) if r and not r[0].startswith("#")]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["audio", "reference"]:
        header, rows = [c.strip().lower() for c in rows[0]], rows[1:]
    else:
        header = ["audio", "reference", "hypothesis"]
    return [{k: v.strip() for k, v in zip(header, r) if v.strip()} for r in rows]


def _pair(manifest: Path, entry: dict, n: int) -> Pair:
    if not isinstance(entry, dict) or not entry.get("audio") or not entry.get("reference"):
        raise PodscribeError(f"manifest {manifest}: episode {n} needs an audio and a reference")
    refs = entry["reference"]
    refs = refs.split(";") if isinstance(refs, str) else list(refs)
    base = manifest.parent
    hyp = entry.get("hypothesis")
    return Pair(base / entry["audio"], tuple(base / r.strip() for r in refs), base / hyp if hyp else None)
