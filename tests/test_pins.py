"""The adapters' hooks were written for one version of each model library, pinned in pyproject.toml and nowhere
else: fail loudly when the installed version differs, or when the CPU install would take another."""
import importlib.metadata
import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# the libraries whose internals an adapter hooks: pipeline/asr/openai_whisper.py, pipeline/diarization/,
# pipeline/asr/faster_whisper.py (the ctranslate2 extra)
HOOKED = ("openai-whisper", "pyannote.audio", "faster-whisper", "ctranslate2")


def deps():
    spec = importlib.util.spec_from_file_location("deps", REPO / "tools" / "deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pinned(package: str) -> str:
    return deps().pins()[package.lower().replace(".", "-")].split("==")[1]


@pytest.mark.parametrize("package", HOOKED)
def test_installed_version_is_the_one_the_hooks_were_written_for(package):
    installed, pin = importlib.metadata.version(package), pinned(package)
    assert installed == pin, (
        f"{package} {installed} is installed, but podscribe's hooks into its internals were written for "
        f"{pin}: re-check every hook in the adapter (see its module docstring), then move the pin")


def test_the_cpu_install_takes_the_pinned_versions():
    no_deps = deps().no_deps()
    for package in ("openai-whisper", "pyannote.audio"):
        assert f"{package}=={pinned(package)}" in no_deps
    assert all("==" in spec for spec in no_deps), "every package installed without dependencies is pinned"


def test_the_makefile_keeps_no_versions_of_its_own():
    makefile = (REPO / "Makefile").read_text()
    assert not re.search(r"[A-Za-z]==\d", makefile), "versions belong in pyproject.toml (read by tools/deps.py)"
    assert re.search(r"(?m)^EXTRAS :=.*\bctranslate2\b", makefile), "make test installs the ctranslate2 extra"
