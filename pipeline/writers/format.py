"""The one place where speaker labels, [?] marks and timestamps are formatted."""
from __future__ import annotations

from typing import Sequence

from pipeline.merge import uncertain_spans
from pipeline.types import Word, join_words, written

PLAIN_MARK = "[?]"
FORUM_MARK = "[i][?][/i]"
MD_MARK = r"\[?\]"  # brackets escaped, so Markdown never reads the mark as a link


def render_words(words: Sequence[Word], mark: str = PLAIN_MARK, drop_uncertain: bool = False,
                 emphasis: str = "") -> str:
    """Words as written (:func:`pipeline.types.written`: spaces between words, none before a joining one); each
    uncertain span is followed by ``mark`` (or replaced by it), and wrapped in ``emphasis`` (``*`` in Markdown) so
    that a reader sees where a span of several words starts.

    A gap (speech with no words) is uncertain and has no text: it shows as the mark alone.
    """
    parts = []
    for uncertain, span in uncertain_spans(written(words)):
        text = join_words([w for w in span if not w.gap])
        if uncertain:
            parts.append(f"{emphasis}{text}{emphasis} {mark}" if text and not drop_uncertain else mark)
        else:
            parts.append(text)
    return " ".join(parts)


def speaker_label(name: str, style: str = "plain") -> str:
    """``JEFF:`` in plain text, ``[b]JEFF:[/b]`` in the forum style, ``**JEFF:**`` in Markdown."""
    if style == "forum":
        return f"[b]{name}:[/b]"
    if style == "md":
        return f"**{name}:**"
    return f"{name}:"


def timestamp(seconds: float, sep: str = ".", always_hours: bool = True) -> str:
    """``01:02:03.456`` (``,`` for SRT); hours dropped when ``always_hours`` is false and zero."""
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    head = f"{h:02d}:" if always_hours or h else ""
    return f"{head}{m:02d}:{s:02d}{sep}{ms:03d}"
