"""A real HTTP server on 127.0.0.1 (a free port) for the feed tests: serves a folder with Range requests,
plus the ways a podcast host goes wrong. Every request is logged as (path, Range header)."""
from __future__ import annotations

import email.utils
import hashlib
import http.server
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from xml.sax.saxutils import escape


class FeedServer:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str]] = []
        self.flaky_left: dict[str, int] = {}  # /flaky/NAME: how many more requests stop half-way
        self.halved: set[str] = set()  # /files/NAME sends the first half as if it were the whole file
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a stalled handler must not hold up the test's end
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _ in self.requests if p.startswith(prefix)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer (podscribe giving up on a bad download) is expected: say nothing.
        Anything else is a bug in the test server and is printed as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_state: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server_state
        state.requests.append((self.path, self.headers.get("Range", "")))
        kind, _, name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/").partition("/")
        if kind == "files" and name in state.halved:  # half the file, with a Content-Length that matches it
            data = (state.root / name).read_bytes()
            return self._send(200, data[: len(data) // 2])
        if kind == "files":
            return self._file(state.root / name)
        if kind == "loop":  # /loop/a -> /loop/b -> /loop/a ...
            return self._redirect(f"/loop/{'b' if name == 'a' else 'a'}")
        if kind == "to-file":
            return self._redirect("file:///etc/passwd")
        if kind == "moved":
            return self._redirect(f"/files/{name}")
        if kind == "cut":  # promises the whole file, sends half, closes
            data = (state.root / name).read_bytes()
            return self._send(200, data[: len(data) // 2], length=len(data), close=True)
        if kind == "cut-unsized":  # no Content-Length, half the file, then closes
            data = (state.root / name).read_bytes()
            return self._send(200, data[: len(data) // 2], length=None, close=True)
        if kind == "unsized":  # the whole file, no Content-Length
            return self._send(200, (state.root / name).read_bytes(), length=None, close=True)
        if kind == "flaky":  # stops half-way while flaky_left says so, then serves ranges
            if state.flaky_left.get(name, 0) > 0:
                state.flaky_left[name] -= 1
                data = (state.root / name).read_bytes()
                head = {"ETag": _etag(data), "Last-Modified": _date(state.root / name)}
                return self._send(200, data[: len(data) // 2], length=len(data), close=True, headers=head)
            return self._file(state.root / name)
        if kind == "html-as-mp3":
            return self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>", ctype="audio/mpeg")
        if kind == "page":
            return self._send(200, b"<html><body>Not found, but 200</body></html>", ctype="text/html")
        if kind == "huge":
            return self._send(200, b"", length=50 * 1024 ** 3)
        if kind == "stall":
            time.sleep(3)
            return self._send(200, b"late")
        return self._send(404, b"not found", ctype="text/plain")

    def _file(self, path: Path) -> None:
        if not path.is_file():
            return self._send(404, b"not found", ctype="text/plain")
        data = path.read_bytes()
        headers = {"ETag": _etag(data), "Last-Modified": _date(path), "Accept-Ranges": "bytes"}
        ctype = "application/rss+xml" if path.suffix == ".xml" else "audio/mpeg"
        wanted = self.headers.get("Range", "")
        if_range = self.headers.get("If-Range")
        if wanted.startswith("bytes=") and if_range in (None, headers["ETag"], headers["Last-Modified"]):
            start = int(wanted[6:].split("-")[0])
            if start >= len(data):
                return self._send(416, b"", headers={"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            return self._send(206, data[start:], ctype=ctype, headers=headers)
        return self._send(200, data, ctype=ctype, headers=headers)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", headers={"Location": location})

    def _send(self, status: int, body: bytes, ctype: str = "audio/mpeg", length: int | None = -1,
              close: bool = False, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(len(body) if length == -1 else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if close or length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


def _date(path: Path) -> str:
    return email.utils.formatdate(path.stat().st_mtime, usegmt=True)


def make_mp3(path: Path, seconds: float = 2.0, freq: int = 440) -> Path:
    """A short tone encoded as MP3 by ffmpeg (a real audio file, a few KB)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
                    "-ac", "1", "-ar", "16000", "-b:a", "32k", str(path)], check=True)
    return path


def rss(title: str, items: list[dict], description: str = "A show about software.",
        language: str | None = None) -> str:
    """An RSS 2.0 podcast feed; each item: title, guid, date (YYYY-MM-DD), url, length, description and, if given,
    duration, type and language; ``language``: the channel's."""
    parts = []
    for item in items:
        date = email.utils.format_datetime(_datetime(item["date"])) if item.get("date") else ""
        parts.append(
            "<item>"
            f"<title>{escape(item['title'])}</title>"
            + (f"<guid isPermaLink=\"false\">{escape(item['guid'])}</guid>" if item.get("guid") else "")
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + f"<description>{escape(item.get('description', ''))}</description>"
            + (f"<itunes:duration>{item['duration']}</itunes:duration>" if item.get("duration") else "")
            + (f"<language>{escape(item['language'])}</language>" if item.get("language") else "")
            + f"<enclosure url=\"{escape(item['url'])}\" length=\"{item.get('length', 0)}\" "
              f"type=\"{item.get('type', 'audio/mpeg')}\"/>"
            "</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><title>{escape(title)}</title><link>https://example.invalid/</link>"
            f"<description>{escape(description)}</description>"
            + (f"<language>{escape(language)}</language>" if language else "")
            + f"{''.join(parts)}</channel></rss>\n")


def _datetime(day: str):
    import datetime

    return datetime.datetime.fromisoformat(day).replace(hour=6, tzinfo=datetime.timezone.utc)
