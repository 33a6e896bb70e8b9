"""Test audio taken from PyPI sdists, cached under ``<repo>/.cache/test-assets/``.

pip would build an sdist's metadata just to download it, so this reads the simple
index page (``$PIP_INDEX_URL`` if set, else pypi.org), downloads the exact sdist,
checks the ``#sha256=`` from the index, and extracts only the wanted members.
"""
from __future__ import annotations

import hashlib
import html.parser
import os
import shutil
import ssl
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

from pipeline.files import atomic_write_bytes

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "test-assets"
DEFAULT_INDEX = "https://pypi.org/simple"
TIMEOUT_S = 60

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
LIBRIVOX_DIR = "test/data/librivox/"


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


def _context() -> ssl.SSLContext:
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=cafile if cafile and os.path.isfile(cafile) else None)


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "podscribe-tests"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=_context()) as response:
        return response.read()


def _sdist_url(package: str, filename: str) -> tuple[str, str]:
    index = os.environ.get("PIP_INDEX_URL", DEFAULT_INDEX).rstrip("/")
    page_url = f"{index}/{package.lower().replace('_', '-')}/"
    parser = _Links()
    parser.feed(_get(page_url).decode("utf-8", errors="replace"))
    for href in parser.hrefs:
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        if url.rsplit("/", 1)[-1] == filename and fragment.startswith("sha256="):
            return url, fragment.removeprefix("sha256=")
    raise RuntimeError(f"{filename} with a sha256 not listed on {page_url}")


def _sdist(package: str, version: str) -> Path:
    filename = f"{package}-{version}.tar.gz"
    target = CACHE / filename
    if target.is_file():
        return target
    url, expected = _sdist_url(package, filename)
    data = _get(url)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise RuntimeError(f"{url}: sha256 {actual}, index says {expected}")
    atomic_write_bytes(target, data)
    return target


def _extract(package: str, version: str, wanted, dest: Path) -> list[Path]:
    """Members of the sdist for which ``wanted(name)`` holds, flattened into ``dest``."""
    with tarfile.open(_sdist(package, version), "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and wanted(m.name)]
        for member in members:
            atomic_write_bytes(dest / Path(member.name).name, tar.extractfile(member).read())
    return [dest / Path(m.name).name for m in members]


def jfk_wav() -> Path:
    """whisper.cpp's samples/jfk.wav (11 s, 16 kHz mono): JFK_TEXT."""
    target = CACHE / "jfk" / "jfk.wav"
    if not target.is_file():
        wanted = lambda name: name.endswith("/whisper.cpp/samples/jfk.wav")  # noqa: E731
        if not _extract("pywhispercpp", "1.5.1", wanted, target.parent):
            raise RuntimeError("jfk.wav not found in pywhispercpp-1.5.1.tar.gz")
    return target


def _librivox_dir() -> Path:
    folder = CACHE / "librivox"
    if (folder / "fileids").is_file():
        return folder

    def wanted(name: str) -> bool:
        head, _, leaf = name.rpartition("/")
        return head.endswith(LIBRIVOX_DIR.rstrip("/")) and (
            leaf == "fileids" or leaf.endswith((".wav", ".txt", ".lab"))
        )

    found = _extract("pocketsphinx", "5.1.1", wanted, folder / ".partial")
    for path in found:  # fileids last: its presence marks a complete extraction
        if path.name != "fileids":
            os.replace(path, folder / path.name)
    os.replace(folder / ".partial" / "fileids", folder / "fileids")
    shutil.rmtree(folder / ".partial", ignore_errors=True)
    return folder


def librivox() -> list[tuple[Path, str]]:
    """Five LibriVox clips (Sense and Sensibility, 3-7 s, 16 kHz) with lowercase references."""
    folder = _librivox_dir()
    ids = (folder / "fileids").read_text().split()
    return [(folder / f"{i}.wav", (folder / f"{i}.txt").read_text().strip()) for i in ids]


def speech_span(wav: Path) -> tuple[float, float]:
    """(onset_s, offset_s) of speech in a LibriVox clip, from its ``.lab`` labels."""
    onset = offset = None
    for line in wav.with_suffix(".lab").read_text().splitlines():
        start, _, label = line.split()
        if label == "speech" and onset is None:
            onset = float(start)
        elif label == "silence" and onset is not None:
            offset = float(start)
    if onset is None or offset is None:
        raise RuntimeError(f"{wav}: no speech span in its .lab")
    return onset, offset
