"""Print the requirements to pip-install on a machine without CUDA, after the Makefile's --no-deps packages.

pyproject.toml stays the one list of podscribe's dependencies; this adds what the --no-deps packages
(openai-whisper, pyannote.audio, torch-audiomentations, ...) require, and leaves out torch itself (installed
first, CPU build) and the CUDA-only packages pip would otherwise pull: triton, torchcodec. Each package appears
once, its specifiers joined. Run with the virtualenv's python from the project root.
"""
from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib

NO_DEPS = ("openai-whisper", "pyannote.audio", "torch-audiomentations", "torch-pitch-shift")
SKIP = {"torch", "triton", "torchcodec", "torchaudio", "torch-audiomentations", "torch-pitch-shift", "primepy",
        "openai-whisper", "pyannote-audio"}


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def requirements(extras: list[str]) -> list[str]:
    project = tomllib.load(open("pyproject.toml", "rb"))["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project.get("optional-dependencies", {}).get(extra, [])
    for dist in NO_DEPS:
        wanted += [r for r in importlib.metadata.requires(dist) or [] if "extra ==" not in r]
    specs: dict[str, list[str]] = {}
    for requirement in wanted:
        requirement = requirement.split(";")[0].split("#")[0].strip()
        name = _name(requirement)
        if name and name not in SKIP:
            spec = requirement[len(re.match(r"[\w.\-\[\]]+", requirement).group(0)):].strip(" ()")
            specs.setdefault(name, []).extend(s for s in spec.split(",") if s.strip())
    return [name + ",".join(dict.fromkeys(s.strip() for s in parts)) for name, parts in specs.items()]


if __name__ == "__main__":
    print(" ".join(requirements(sys.argv[1:])))  # the Makefile splits this on spaces: no quoting
