"""Conversion and load time of each store Whisper model, prepared into a temp store.

    .venv/bin/python -m benchmarks.models

Models whose pip packages are missing are listed as such. (Whisper small has no
complete CTranslate2 upload on PyPI: see pipeline/models.py.)
"""
from __future__ import annotations

import os
import tempfile
import time


def _row(name: str) -> tuple:
    from pipeline.asr import openai_whisper as whisper_engine
    from pipeline.store import registry as models

    started = time.perf_counter()
    path = models.prepare(name)
    converted = time.perf_counter() - started
    started = time.perf_counter()
    model = whisper_engine.load(name, "cpu")
    loaded = time.perf_counter() - started
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return name, f"{converted:.2f}", f"{loaded:.2f}", f"{path.stat().st_size / 1e6:.0f}", f"{params:.0f}M"


def main() -> None:
    import whisper  # noqa: F401  import cost is not conversion time

    from pipeline.store import ct2_convert as ct2  # noqa: F401
    from pipeline.store import registry as models

    header = ("model", "convert s", "load s", "file MB", "params")
    rows = []
    with tempfile.TemporaryDirectory(prefix="podscribe-bench-") as store:
        os.environ[models.ENV_STORE] = store
        for state in models.status():
            if state.kind != "whisper":
                continue
            if state.state == "missing":
                rows.append((state.name, "missing: pip install " + " ".join(state.packages), "", "", ""))
                continue
            rows.append(_row(state.name))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()
