"""Atomic file writes: temporary file in the same folder, fsync, rename."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from pipeline.errors import PodscribeError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` so that ``path`` holds either its old content or all of the new."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise PodscribeError(f"{path.parent}: cannot write here ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise PodscribeError(f"{path}: write failed ({reason})") from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_publish(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Give a finished temporary file (a download's ``.part``) its final name: fsync, then rename."""
    path = Path(path)
    try:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise PodscribeError(f"{path}: write failed ({reason})") from None
    return path
