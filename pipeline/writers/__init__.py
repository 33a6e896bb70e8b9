"""One small writer per output format, each ``write(transcript, file, drop_uncertain=False)``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, TextIO

from pipeline.errors import PodscribeError
from pipeline.files import atomic_write_text
from pipeline.types import Transcript
from pipeline.writers import forum, html, json_format, markdown, podcast_json, rttm, subtitles, text

Writer = Callable[..., None]

WRITERS: dict[str, tuple[str, Writer]] = {
    "forum": ("forum.txt", forum.write),
    "txt": ("txt", text.write),
    "md": ("md", markdown.write),
    "srt": ("srt", subtitles.write_srt),
    "vtt": ("vtt", subtitles.write_vtt),
    "json": ("json", json_format.write),
    "rttm": ("rttm", rttm.write),
    "html": ("html", html.write),
    "podcast-json": ("podcast.json", podcast_json.write),  # Podcasting 2.0 <podcast:transcript> JSON
}


def parse_formats(spec: str | Iterable[str]) -> tuple[str, ...]:
    """``"forum,json"``, ``("forum", "json")`` (``-f`` given twice) or ``"all"`` -> format names, unknown ones
    refused."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    names = [n.strip().lower() for s in specs for n in s.split(",") if n.strip()]
    if "all" in names:
        return tuple(WRITERS)
    unknown = [n for n in names if n not in WRITERS]
    if unknown or not names:
        bad = ", ".join(unknown) if unknown else repr(",".join(specs))
        raise PodscribeError(f"unknown format {bad}: choose from {', '.join(WRITERS)} or all")
    return tuple(dict.fromkeys(names))


def output_path(out_dir: str | os.PathLike, episode: str, fmt: str) -> Path:
    return Path(out_dir) / f"{episode}.{WRITERS[fmt][0]}"


def write_all(transcript: Transcript, out_dir: str | os.PathLike, formats: tuple[str, ...],
              drop_uncertain: bool = False, embed_audio: bool = False) -> list[Path]:
    """Write every format atomically; returns the paths written.

    The review page (html) finds the audio relative to ``out_dir``, or carries a compressed copy with ``embed_audio``.
    """
    import io

    paths = []
    for fmt in formats:
        buf: TextIO = io.StringIO()
        extra = {"audio": html.page_audio(transcript.source, out_dir, embed_audio)} if fmt == "html" else {}
        WRITERS[fmt][1](transcript, buf, drop_uncertain=drop_uncertain, **extra)
        path = output_path(out_dir, transcript.episode, fmt)
        atomic_write_text(path, buf.getvalue())
        paths.append(path)
    return paths
