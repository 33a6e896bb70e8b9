"""Fetch a feed or an enclosure over http(s): streamed with httpx, resumable, capped, checked.

Only ``http`` and ``https`` URLs are followed, redirects included (a feed cannot make podscribe read
``file:///etc/passwd``). A download goes to ``NAME.part`` (with ``NAME.part.json`` holding the server's
validators) and becomes ``NAME`` only once complete, so ``NAME`` existing means the download finished; an
interrupted one resumes with a ``Range`` request (``If-Range`` makes a changed file start over). The size is
checked against the server's ``Content-Length`` and, when the server gives none, against the length the feed
declared; a page of HTML served instead of audio is refused.

A finished file is trusted only while the server agrees: before it is used again, one request asks for the size the
server declares now, and a file of another size is fetched again (``refetch`` always fetches again; a file that
does not decode is removed by the batch, :func:`discard`, so the next run fetches it). While a ``.part`` is being
written, the process holds an exclusive lock on it (``flock``): two processes never write one file.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urljoin, urlsplit

from pipeline.errors import PodscribeError
from pipeline.files import atomic_write_text, publish_file

log = logging.getLogger(__name__)

#: (bytes done, bytes in all or None when unknown)
ByteProgress = Optional[Callable[[int, Optional[int]], None]]

GB = 1024 ** 3
FEED_MAX_BYTES = 64 * 1024 ** 2
_HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadOptions:
    max_size: int = 4 * GB  # bytes; a larger enclosure is refused before or while downloading
    timeout_s: float = 30.0  # connect and between two reads
    max_redirects: int = 10

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise PodscribeError(f"max size must be positive, not {self.max_size}")
        if not self.timeout_s > 0:
            raise PodscribeError(f"timeout must be positive, not {self.timeout_s}")
        if self.max_redirects < 0:
            raise PodscribeError("max redirects must be 0 or more")


def is_url(text: str) -> bool:
    """Whether ``text`` names something by a URL scheme (``https://``, ``file://``) rather than a path."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) is not None


def check_url(url: str) -> str:
    """``url`` if it is http or https with a host; otherwise a one-line refusal."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PodscribeError(f"{url}: refused, only http and https URLs are followed")
    return url


def fetch_bytes(url: str, options: DownloadOptions = DownloadOptions(), limit: int = FEED_MAX_BYTES) -> bytes:
    """The whole body at ``url`` (a feed), at most ``limit`` bytes."""
    import httpx

    with _client(options) as client:
        response = _open(client, url, {}, options)
        try:
            if response.status_code != 200:
                raise PodscribeError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            body = bytearray()
            for block in response.iter_bytes():
                body += block
                if len(body) > limit:
                    raise PodscribeError(f"{url}: more than {_mb(limit)}, not a feed")
            return bytes(body)
        except httpx.HTTPError as exc:
            raise PodscribeError(f"{url}: {_reason(exc)}") from None
        finally:
            response.close()


def download(url: str, dest: Path, options: DownloadOptions = DownloadOptions(),
             expected_length: Optional[int] = None, progress: ByteProgress = None, refetch: bool = False) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``. A ``dest`` already there is kept while the server declares
    its size; with ``refetch``, or another size, it is fetched again (and replaced only once the new one is whole)."""
    check_url(url)
    if dest.is_file() and not refetch and _still_current(url, dest, options):
        return dest
    if expected_length and expected_length > options.max_size:
        raise PodscribeError(f"{url}: the feed says {_mb(expected_length)}, over the {_mb(options.max_size)} cap "
                             f"(--max-size)")
    part = _part(dest)
    with _locked(url, part):
        if refetch or dest.is_file():  # what was fetched before is not to be trusted: start over
            _start_over(part)
        _fetch_part(url, part, options, expected_length, progress)
        _refuse_html(url, part)
        publish_file(part, dest)
        _meta_path(part).unlink(missing_ok=True)
    return dest


def discard(dest: Path) -> None:
    """Remove a downloaded file (and any part of it), so that the next run fetches it again."""
    dest.unlink(missing_ok=True)
    _discard_part(_part(dest))


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _discard_part(part: Path) -> None:
    part.unlink(missing_ok=True)
    _meta_path(part).unlink(missing_ok=True)


def _start_over(part: Path) -> None:
    """Empty ``part`` in place (the file its lock is on) and forget its validators: the next request is a fresh
    download, not a resume."""
    with open(part, "wb"):
        pass
    _meta_path(part).unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(url: str, part: Path):
    """An exclusive lock on ``part`` (created if needed) while it is written: another process writing the same
    file is refused at once, in one line, instead of the two interleaving."""
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PodscribeError(f"{url}: another process is downloading it into {part}; "
                                 f"it is tried again on the next run") from None
        try:
            yield
        finally:
            if part.is_file() and part.stat().st_size == 0:  # nothing received: no part to resume from
                _discard_part(part)


def _still_current(url: str, dest: Path, options: DownloadOptions) -> bool:
    """Whether the server still declares ``dest``'s size for ``url`` (one request, headers only). A server that
    declares none, or cannot be asked now, leaves the file trusted: decoding it is the next check."""
    import httpx

    try:
        with _client(options) as client:
            response = _open(client, url, {}, options)
            response.close()
    except (PodscribeError, httpx.HTTPError) as exc:
        log.info("%s: cannot ask its size now (%s); using %s", url, exc, dest)
        return True
    length = response.headers.get("content-length")
    if response.status_code != 200 or not (length and length.isdigit()):
        return True
    if int(length) == dest.stat().st_size:
        return True
    log.warning("%s: the server now declares %s, the local copy has %s: fetching it again", url,
                _mb(int(length)), _mb(dest.stat().st_size))
    return False


def _fetch_part(url: str, part: Path, options: DownloadOptions, expected_length: Optional[int],
                progress: ByteProgress) -> None:
    """Fill ``part`` with the whole body, resuming from what it holds."""
    import httpx

    offset, headers = _resume_headers(part)
    total: Optional[int] = None
    with _client(options) as client:
        response = _open(client, url, headers, options)
        if response.status_code == 416 and offset:  # the part is no prefix of this file: start over
            response.close()
            _start_over(part)
            return _fetch_part(url, part, options, expected_length, progress)
        try:
            offset, total = _start(url, response, offset, options)
            _save_meta(part, url, response)
            done = _stream(url, response, part, offset, total, options, progress)
        except httpx.HTTPError as exc:
            have = part.stat().st_size if part.exists() else 0
            raise PodscribeError(f"{url}: download stopped at {_mb(have)}{_of(total)} "
                                 f"({_reason(exc)}); run again to resume") from None
        finally:
            response.close()
    _check_size(url, done, total, expected_length)


def _resume_headers(part: Path) -> tuple[int, dict[str, str]]:
    """The offset to resume from and the Range/If-Range headers; (0, {}) for a fresh start."""
    meta = _load_meta(part)
    if not part.is_file() or meta is None or part.stat().st_size == 0:
        return 0, {}
    etag = meta.get("etag") or ""
    validator = (etag if not etag.startswith("W/") else "") or meta.get("last_modified")  # If-Range: strong only
    if not validator:
        return 0, {}
    offset = part.stat().st_size
    log.info("resuming %s at byte %d", part.name, offset)
    return offset, {"Range": f"bytes={offset}-", "If-Range": validator}


def _start(url: str, response, offset: int, options: DownloadOptions) -> tuple[int, Optional[int]]:
    """Check the response; the offset it continues from (0: start over) and the whole size if known."""
    status = response.status_code
    if status == 206 and offset:
        match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("content-range", ""))
        if match and int(match.group(1)) == offset:
            total = int(match.group(2)) if match.group(2) != "*" else None
            _check_cap(url, total, options)
            return offset, total
        raise PodscribeError(f"{url}: the server answered a resume with the wrong range "
                             f"({response.headers.get('content-range')!r})")
    if status != 200:
        raise PodscribeError(f"{url}: HTTP {status} {response.reason_phrase}")
    if "text/html" in response.headers.get("content-type", "").lower():
        raise PodscribeError(f"{url}: the server sent an HTML page, not audio")
    length = response.headers.get("content-length")
    total = int(length) if length and length.isdigit() else None
    _check_cap(url, total, options)
    return 0, total


def _stream(url: str, response, part: Path, offset: int, total: Optional[int], options: DownloadOptions,
            progress: ByteProgress) -> int:
    """Append the body to ``part`` (from ``offset``), within the size cap; the bytes now in ``part``."""
    done = offset
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "r+b" if offset else "wb") as f:
        f.seek(offset)
        f.truncate()
        if progress:
            progress(done, total)
        for block in response.iter_raw():  # as received: bytes read before a failure are kept for resuming
            done += len(block)
            if done > options.max_size:
                f.close()
                part.unlink(missing_ok=True)
                _meta_path(part).unlink(missing_ok=True)
                raise PodscribeError(f"{url}: over the {_mb(options.max_size)} cap (--max-size), download abandoned")
            f.write(block)
            if progress:
                progress(done, total)
    return done


def _check_size(url: str, done: int, total: Optional[int], expected_length: Optional[int]) -> None:
    """A body shorter than the server or, failing that, the feed said is a truncated download."""
    if total is not None and done != total:
        raise PodscribeError(f"{url}: download stopped at {_mb(done)} of {_mb(total)}; run again to resume")
    if total is None and expected_length and done < expected_length:
        raise PodscribeError(f"{url}: download stopped at {_mb(done)} of the {_mb(expected_length)} the feed "
                             f"declares; run again to resume")
    if expected_length and done != expected_length:
        log.warning("%s: %d bytes, the feed declares %d (ad insertion or a stale feed)", url, done, expected_length)


def _check_cap(url: str, total: Optional[int], options: DownloadOptions) -> None:
    if total is not None and total > options.max_size:
        raise PodscribeError(f"{url}: {_mb(total)}, over the {_mb(options.max_size)} cap (--max-size)")


def _refuse_html(url: str, part: Path) -> None:
    """An HTML page (an error or login page) saved under an audio name is refused and removed."""
    with open(part, "rb") as f:
        head = f.read(512)
    if _HTML_START.match(head):
        part.unlink(missing_ok=True)
        _meta_path(part).unlink(missing_ok=True)
        raise PodscribeError(f"{url}: the server sent an HTML page, not audio")


def _client(options: DownloadOptions):
    import httpx

    timeout = httpx.Timeout(options.timeout_s)
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                        headers={"User-Agent": "podscribe", "Accept-Encoding": "identity"})


def _open(client, url: str, headers: dict[str, str], options: DownloadOptions):
    """The streamed response for ``url``, following at most ``max_redirects`` http(s) redirects by hand."""
    import httpx

    seen = []
    for _ in range(options.max_redirects + 1):
        check_url(url)
        try:
            response = client.send(client.build_request("GET", url, headers=headers), stream=True)
        except httpx.HTTPError as exc:
            raise PodscribeError(f"{url}: {_reason(exc)}") from None
        if not response.is_redirect:
            return response
        response.close()
        seen.append(url)
        url = urljoin(url, response.headers.get("location", ""))
    loop = " (a redirect loop)" if url in seen else ""
    raise PodscribeError(f"{seen[0]}: more than {options.max_redirects} redirects{loop}")


def _reason(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        closed = "complete message body" in str(exc) or "incomplete" in str(exc).lower()
        return "the server closed the connection mid-file" if closed else str(exc)
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})"
    return str(exc) or type(exc).__name__


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _save_meta(part: Path, url: str, response) -> None:
    meta = {"url": url, "etag": response.headers.get("etag"), "last_modified": response.headers.get("last-modified")}
    atomic_write_text(_meta_path(part), json.dumps(meta))


def _load_meta(part: Path) -> Optional[dict]:
    try:
        return json.loads(_meta_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _mb(n: int) -> str:
    """A size as people read it: ``6.2 KB``, ``48.0 MB``, ``4.0 GB``."""
    for unit, size in (("GB", GB), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _of(total: Optional[int]) -> str:
    return f" of {_mb(total)}" if total else ""
