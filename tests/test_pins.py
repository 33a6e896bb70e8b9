"""The adapters' hooks were written for one version of each model library: fail loudly when that changes."""
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

from pipeline.asr.faster_whisper import CTRANSLATE2_VERSION, FASTER_WHISPER_VERSION
from pipeline.asr.openai_whisper import WHISPER_VERSION
from pipeline.diarization.diarize import PYANNOTE_VERSION

REPO = Path(__file__).resolve().parent.parent
PINS = {"openai-whisper": WHISPER_VERSION, "pyannote.audio": PYANNOTE_VERSION}
# the optional extra "ctranslate2" (--engine ctranslate2), which the Makefile installs
EXTRA_PINS = {"faster-whisper": FASTER_WHISPER_VERSION, "ctranslate2": CTRANSLATE2_VERSION}


@pytest.mark.parametrize("package", sorted(PINS | EXTRA_PINS))
def test_installed_version_is_the_one_the_hooks_were_written_for(package):
    installed = importlib.metadata.version(package)
    pin = (PINS | EXTRA_PINS)[package]
    assert installed == pin, (
        f"{package} {installed} is installed, but podscribe's hooks into its internals were written for "
        f"{pin}: re-check every hook in the adapter (see its module docstring), then move the pin")


@pytest.mark.parametrize("package", sorted(EXTRA_PINS))
def test_the_ctranslate2_extra_pins_the_same_version(package):
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert f"{package}=={EXTRA_PINS[package]}" in extras["ctranslate2"]
    assert re.search(r"(?m)^EXTRAS :=.*\bctranslate2\b", (REPO / "Makefile").read_text())


@pytest.mark.parametrize("package", sorted(PINS))
def test_pyproject_and_makefile_pin_the_same_version(package):
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"{package}=={PINS[package]}" in [d.split("#")[0].strip() for d in dependencies]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(rf"(?m)\s{re.escape(package)}=={re.escape(PINS[package])}\s", makefile)
