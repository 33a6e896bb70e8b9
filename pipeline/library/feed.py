"""A podcast feed (RSS or Atom, by URL or local file) parsed with feedparser into typed episodes."""
from __future__ import annotations

import html
import html.parser
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError
from pipeline.library.download import DownloadOptions, check_url, fetch_bytes, is_url
from pipeline.library.names import episode_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Episode:
    """One item of a feed that has an enclosure."""

    show: str
    title: str
    date: Optional[str]  # YYYY-MM-DD, from the item's publication date
    guid: str  # the item's guid; its enclosure URL when it has none
    enclosure_url: str
    enclosure_length: Optional[int]  # bytes, as the feed declares (often approximate, 0 when unknown)
    enclosure_type: str
    description: str  # plain text (HTML show notes reduced to their text)
    duration_s: Optional[float] = None  # itunes:duration, when given
    language: Optional[str] = None  # the item's <language>, else the channel's: its primary subtag (fr-CA: fr)

    @property
    def name(self) -> str:
        """The output name: date and a slug of the title."""
        return episode_name(self.title, self.date)

    def metadata(self, feed_source: str) -> dict[str, str]:
        """What the JSON transcript records of the episode."""
        return {"show": self.show, "title": self.title, "date": self.date or "", "guid": self.guid,
                "enclosure_url": self.enclosure_url, "description": self.description, "feed": feed_source}


@dataclass(frozen=True)
class Feed:
    source: str  # the URL or path it was read from
    title: str
    description: str
    episodes: tuple[Episode, ...]  # newest first, as feeds list them


def load_feed(source: str, options: DownloadOptions = DownloadOptions()) -> Feed:
    """Read and parse the feed at ``source``: an http(s) URL or a local file."""
    if is_url(source):
        data = fetch_bytes(check_url(source), options)
    else:
        path = Path(source)
        if not path.is_file():
            raise PodscribeError(f"{source}: no such file" if not path.exists() else f"{source}: not a file")
        data = path.read_bytes()
    return parse_feed(data, source)


def parse_feed(data: bytes, source: str) -> Feed:
    """The show and its episodes with audio; a one-line error for malformed XML or a feed with none."""
    import feedparser

    if not data.strip():
        raise PodscribeError(f"{source}: empty, not a readable feed")
    headers = {"content-type": "application/xml"} | ({"content-location": source} if is_url(source) else {})
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False)
    show = _clean(parsed.feed.get("title", ""))
    language = parsed.feed.get("language")
    episodes = tuple(ep for ep in (_episode(show, entry, language) for entry in parsed.entries) if ep is not None)
    if parsed.bozo and not episodes:
        raise PodscribeError(f"{source}: not a readable feed ({_bozo_reason(parsed.bozo_exception)})")
    if parsed.bozo:  # feedparser's lenient parser recovered the episodes: go on, but say so
        log.warning("%s: feed has errors, read anyway (%s)", source, _bozo_reason(parsed.bozo_exception))
    if not episodes:
        what = f"{len(parsed.entries)} item(s), none with an audio enclosure" if parsed.entries else "no episodes"
        raise PodscribeError(f"{source}: {what}")
    description = _text(parsed.feed.get("subtitle") or parsed.feed.get("summary") or "")
    return Feed(source=source, title=show, description=description, episodes=episodes)


def _episode(show: str, entry, language: Optional[str]) -> Optional[Episode]:
    enclosure = _enclosure(entry)
    if enclosure is None:
        return None
    url = enclosure.get("href", "").strip()
    title = _clean(entry.get("title", "")) or Path(url).stem or "untitled"
    return Episode(
        show=show, title=title, date=_date(entry), guid=(entry.get("id") or url).strip(),
        enclosure_url=url, enclosure_length=_int(enclosure.get("length")),
        enclosure_type=enclosure.get("type", ""), description=_text(_description(entry)),
        duration_s=_duration_s(entry.get("itunes_duration")), language=_language(entry.get("language") or language),
    )


def _language(value: Optional[str]) -> Optional[str]:
    """``fr-FR``, ``FR``: ``fr``; None for nothing or what is not a language tag."""
    primary = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _enclosure(entry) -> Optional[dict]:
    """The item's first audio (or video) enclosure, else its first enclosure of any type with a URL."""
    enclosures = [e for e in entry.get("enclosures", []) if e.get("href")]
    media = [e for e in enclosures if e.get("type", "").split("/")[0] in ("audio", "video")]
    return (media or enclosures or [None])[0]


def _description(entry) -> str:
    content = entry.get("content") or []
    longest = max((c.get("value", "") for c in content), key=len, default="")
    summary = entry.get("summary", "")
    return longest if len(longest) > len(summary) else summary


def _date(entry) -> Optional[str]:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}" if parsed else None


def _duration_s(value) -> Optional[float]:
    """``itunes:duration``: seconds, ``MM:SS`` or ``HH:MM:SS``."""
    if not value:
        return None
    try:
        seconds = 0.0
        for part in str(value).strip().split(":"):
            seconds = seconds * 60 + float(part)
        return seconds if seconds > 0 else None
    except ValueError:
        return None


def _int(value) -> Optional[int]:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class _TextOnly(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("p", "br", "li", "div", "h1", "h2", "h3", "h4"):
            self.parts.append("\n")


def _text(markup: str) -> str:
    """Show notes as plain text: tags dropped, entities decoded, blank runs squeezed."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts))
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", _text(text)).strip()


def _bozo_reason(exc: Optional[Exception]) -> str:
    if exc is None:
        return "unknown error"
    reason = getattr(exc, "getMessage", lambda: str(exc))()
    line = getattr(exc, "getLineNumber", lambda: None)()
    return f"malformed XML: {reason}" + (f" at line {line}" if line else "")
