"""Files: the one atomic writer (temporary file in the same folder, fsync, rename), the one content hash, and the
sweep of temporary files a killed process left behind."""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from pipeline.errors import PodscribeError

_HASH_BLOCK = 1 << 20
_TMP_SUFFIX = ".tmp"


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` so that ``path`` holds either its old content or all of the new."""
    return atomic_write_stream(path, lambda f: f.write(data))


def atomic_write_stream(path: str | os.PathLike, fill: Callable[[BinaryIO], object],
                        check: Optional[Callable[[Path], None]] = None) -> Path:
    """``fill(file)`` writes the content; ``check(temporary_path)`` may refuse it (by raising) before
    the rename. ``path`` ends up with the old content or all of the new, with the usual permissions
    (0666 less the umask, as ``open`` would give; the temporary file alone is 0600)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=_TMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise PodscribeError(f"{path.parent}: cannot write here ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
        _fsync_dir(path.parent)
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


def publish_file(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Give a finished file written elsewhere under a temporary name (a download's ``.part``, filled over
    several runs) its final name: fsync, the usual permissions, rename, fsync the folder."""
    path = Path(path)
    try:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise PodscribeError(f"{path}: write failed ({reason})") from None
    return path


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the atomic writer's temporary files under ``folder`` whose process is gone (killed mid-write: the
    final name still has its old content or none). Those of a live process are left alone. Returns what went."""
    gone = []
    for tmp in Path(folder).rglob(f".*{_TMP_SUFFIX}"):
        pid = tmp.name[: -len(_TMP_SUFFIX)].rsplit(".", 1)[-1].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            _remove(str(tmp))
            gone.append(tmp)
    return gone


def process_alive(pid: Optional[int]) -> bool:
    """Whether process ``pid`` of this host is alive (a zombie, killed but not yet reaped, is not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it exists
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
