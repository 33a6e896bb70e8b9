"""Podcasting 2.0 transcripts where a web server can serve them, and the ``<podcast:transcript>`` lines to paste."""
from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError
from pipeline.types import Transcript
from pipeline.writers import output_path, write_all

#: format -> the MIME type the <podcast:transcript> tag names
PUBLISHED = {"vtt": "text/vtt", "podcast-json": "application/json"}


@dataclass(frozen=True)
class PublishOptions:
    folder: Path  # what the web server serves
    base_url: Optional[str] = None  # the URL of ``folder``; without it the tags hold relative URLs

    def __post_init__(self) -> None:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise PodscribeError(f"publish URL {self.base_url!r} must start with http:// or https://")


def publish(transcript: Transcript, options: PublishOptions, drop_uncertain: bool = False) -> tuple[str, ...]:
    """Write the VTT and Podcasting 2.0 JSON into the publish folder; the tag lines that reference them."""
    write_all(transcript, options.folder, tuple(PUBLISHED), drop_uncertain)
    return tag_lines(transcript.episode, transcript.language, options)


def tag_lines(name: str, language: str, options: PublishOptions) -> tuple[str, ...]:
    lines = []
    for fmt, mime in PUBLISHED.items():
        leaf = output_path(options.folder, name, fmt).name
        url = f"{options.base_url.rstrip('/')}/{leaf}" if options.base_url else leaf
        lang = f' language="{escape(language)}"' if language else ""
        lines.append(f'<podcast:transcript url="{escape(url)}" type="{mime}"{lang} />')
    return tuple(lines)


def published(name: str, options: PublishOptions) -> bool:
    """Whether both files of ``name`` are in the publish folder."""
    return all(os.path.isfile(output_path(options.folder, name, fmt)) for fmt in PUBLISHED)
