"""A Ray driver of its own process, for the test that kills one: ``python -m tests.ray_driver ADDRESS FOLDER
OUTPUT_DIR LOG [HOLD_ON FLAG]`` runs the folder's episodes as a batch on the Ray cluster at ADDRESS, with the fake
models of tests/ray_fakes.py (which log to LOG, and hold HOLD_ON's first decode until FLAG exists)."""
from __future__ import annotations

import sys
from pathlib import Path

from pipeline.asr.options import TranscribeOptions
from pipeline.library.batch import BatchOptions, run_batch
from pipeline.library.catalog import Catalog
from pipeline.library.jobs import plan_inputs
from pipeline.library.ray_executor import ray_executor
from pipeline.run import RunOptions
from tests.ray_fakes import LoggedModels

OPTIONS = BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model="tiny.en", device="cpu")))


def main(address: str, folder: str, output_dir: str, log: str, hold_on: str | None = None,
         flag: str | None = None) -> int:
    out = Path(output_dir)
    jobs, failures = plan_inputs([folder], out / "audio")
    models = LoggedModels(log, hold_on=hold_on, flag=flag)
    summary = run_batch(jobs, OPTIONS, out, Catalog.in_folder(out),
                        execute=ray_executor(address, factories=models.factories()))
    return 0 if not failures and all(r.status == "done" for r in summary.results) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
