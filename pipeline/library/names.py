"""Safe names: slugs for outputs and folders, file names from a feed or a URL that stay where they belong."""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError

MAX_SLUG = 80
MAX_FILENAME = 120


def slugify(text: str, max_len: int = MAX_SLUG) -> str:
    """``"Ep. 12: Linux & UML!"`` -> ``"ep-12-linux-uml"``; never empty, never a path."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "untitled"


def episode_name(title: str, date: Optional[str]) -> str:
    """The output name of a feed episode: its date, then a slug of its title (``2026-11-23-linux-and-uml``)."""
    return f"{date}-{slugify(title)}" if date else slugify(title)


def safe_filename(name: str, default: str = "download") -> str:
    """The last part of ``name`` with only letters, digits, ``.``, ``-`` and ``_``; no leading dot, no NUL."""
    leaf = re.split(r"[/\\]", name.replace("\x00", ""))[-1]
    ascii_leaf = unicodedata.normalize("NFKD", leaf).encode("ascii", "ignore").decode("ascii")
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_leaf).lstrip(".-_")
    if len(clean) > MAX_FILENAME:
        stem, dot, ext = clean.rpartition(".")
        clean = (stem[:MAX_FILENAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 8 else clean[:MAX_FILENAME]
    return clean or default


def safe_join(folder: str | os.PathLike, *parts: str) -> Path:
    """``folder/part/...``, refused unless it stays inside ``folder`` (checked after resolving links)."""
    if any("\x00" in part for part in parts):
        raise PodscribeError(f"{'/'.join(parts)!r}: refused, a file name with a NUL byte")
    base = Path(folder).resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base) or target == base:
        raise PodscribeError(f"{'/'.join(parts)!r}: refused, it would be written outside {folder}")
    return target
