"""What to pip-install on a machine without CUDA, from pyproject.toml, the one place versions are pinned.

    python tools/deps.py torch            the CPU torch to install first        (tool.podscribe.cpu.torch)
    python tools/deps.py no-deps          what is installed without dependencies (tool.podscribe.cpu.no-deps), each
                                          at the version pyproject.toml pins where it pins one
    python tools/deps.py rest EXTRA...    everything else: podscribe's dependencies and those extras, plus what the
                                          no-deps packages require (read from their installed metadata), less
                                          torch, those packages and tool.podscribe.cpu.skip

Requirements are read with ``packaging`` (environment markers evaluated here, extras' requirements left out); each
package appears once, its specifiers joined. ``torch`` and ``no-deps`` need only the standard library (the Makefile
runs them before the virtualenv has anything); ``rest`` needs ``packaging``.
"""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _project() -> dict:
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)


def _cpu() -> dict:
    return _project()["tool"]["podscribe"]["cpu"]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pins() -> dict[str, str]:
    """``name -> name==version`` for every ``==`` pin in the dependencies and the optional dependencies."""
    project = _project()["project"]
    found = {}
    for spec in project["dependencies"] + [s for extra in project["optional-dependencies"].values() for s in extra]:
        name, _, version = spec.split(";")[0].partition("==")
        if version:
            found[_normal(name.strip())] = f"{name.strip()}=={version.strip()}"
    return found


def no_deps() -> list[str]:
    """The no-deps packages, each with its pin (its own, or the one the project's dependencies give it)."""
    known = pins()
    return [spec if "==" in spec else known.get(_normal(spec), spec) for spec in _cpu()["no-deps"]]


def rest(extras: list[str]) -> list[str]:
    import importlib.metadata

    from packaging.requirements import Requirement

    project = _project()["project"]
    wanted = [Requirement(s) for s in project["dependencies"]]
    for extra in extras:
        wanted += [Requirement(s) for s in project["optional-dependencies"][extra]]
    installed_without_deps = [Requirement(s).name for s in no_deps()]
    for dist in installed_without_deps:
        wanted += [Requirement(s) for s in importlib.metadata.requires(dist) or []]
    skip = {_normal(n) for n in _cpu()["skip"] + installed_without_deps}
    specs: dict[str, tuple[str, list[str]]] = {}
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # another platform's, or an extra's that is not asked for
        if _normal(req.name) not in skip:
            specs.setdefault(_normal(req.name), (req.name, []))[1].extend(str(s) for s in req.specifier)
    return [name + ",".join(dict.fromkeys(parts)) for name, parts in specs.values()]


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    out = {"torch": lambda: [_cpu()["torch"]], "no-deps": no_deps, "rest": lambda: rest(args)}[command]()
    print(" ".join(out))  # the Makefile splits this on spaces: no quoting
