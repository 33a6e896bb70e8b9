"""Names and terms to spell right: from ``--vocabulary``, ``--vocabulary-file`` and ``EPISODE.vocab.txt``.

The terms reach Whisper as its prompt (``TranscribeOptions.prompt``), which biases every chunk toward
those spellings. Pure: no model here.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from pipeline.errors import PodscribeError

SUFFIX = ".vocab.txt"
# Whisper's prompt holds at most 223 tokens; terms past this many characters are dropped (with their order kept).
MAX_CHARS = 600


def split_terms(text: str) -> tuple[str, ...]:
    """``"Linode, UML\\nJeff Dike"`` -> ``("Linode", "UML", "Jeff Dike")``: comma or line separated."""
    return unique(terms_in(text))


def terms_in(text: str) -> list[str]:
    """Every term of the text, none dropped (:func:`split_terms` cuts them to what fits the prompt)."""
    return [t.strip() for t in re.split(r"[,\n;]", text) if t.strip()]


def read_vocabulary(path: str | Path) -> tuple[str, ...]:
    """The terms in a vocabulary file (UTF-8, comma or line separated; ``#`` starts a comment line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PodscribeError(f"{path}: cannot read vocabulary ({getattr(exc, 'strerror', None) or exc})") from None
    return split_terms("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))


def beside(audio: str | Path) -> tuple[str, ...]:
    """The terms of ``EPISODE.vocab.txt`` next to ``EPISODE.mp3``, if there is one."""
    path = Path(audio)
    candidate = path.with_name(path.stem + SUFFIX)
    return read_vocabulary(candidate) if candidate.is_file() else ()


def unique(terms: Iterable[str]) -> tuple[str, ...]:
    """Terms once each (case-insensitively), in first-seen order, cut to what fits Whisper's prompt."""
    seen: dict[str, str] = {}
    total = 0
    for term in terms:
        key = term.casefold()
        if key in seen:
            continue
        total += len(term) + 2
        if total > MAX_CHARS:
            break
        seen[key] = term
    return tuple(seen.values())
