"""``podscribe`` with the fake models of tests/fakes.py, for the soak test (tests/test_soak.py): the real CLI,
catalog, claims, downloads, decoding, chunking, merge and writers, in a process of its own.

It writes what it does to the file named by $PODSCRIBE_SOAK_LOG, one line per event, appended whole:
``claim KEY NAME PID TIME`` when a claim is granted, ``start NAME PID TIME`` and ``end NAME PID TIME`` around
each episode's transcription (decoding included), ``finish KEY STATUS PID TIME`` once its end is recorded. $PODSCRIBE_SOAK_DELAY_S holds each episode a while before it
starts, so that runs started together overlap.

    python -m tests.soak_podscribe feed URL -o OUT --audio-dir AUDIO
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pipeline.run
from pipeline.cli import main
from pipeline.library.catalog import CLAIMED, Catalog
from tests.fakes import Record, factories

LOG = os.environ["PODSCRIBE_SOAK_LOG"]
DELAY_S = float(os.environ.get("PODSCRIBE_SOAK_DELAY_S", "0.3"))


def note(*fields: object) -> None:
    line = " ".join(str(f) for f in fields) + f" {os.getpid()} {time.time():.6f}\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write with O_APPEND: lines of several processes never interleave
    finally:
        os.close(fd)


def patch() -> None:
    asr, diarizer = factories(Record())
    pipeline.run.load_engine = asr
    pipeline.run.pyannote_diarizer = diarizer

    transcribe = pipeline.run.Transcriber.run

    def run(self, path, *args, **kwargs):
        time.sleep(DELAY_S)
        note("start", Path(path).name)
        transcript = transcribe(self, path, *args, **kwargs)
        note("end", Path(path).name)
        return transcript

    pipeline.run.Transcriber.run = run
    claim = Catalog.claim

    def logged_claim(self, record, *args, **kwargs):
        got = claim(self, record, *args, **kwargs)
        if got == CLAIMED:
            note("claim", record.key, record.name + ".mp3")
        return got

    Catalog.claim = logged_claim
    finish = Catalog.finish

    def logged_finish(self, key, outcome, holder):
        recorded = finish(self, key, outcome, holder)
        if recorded:
            note("finish", key, outcome.status)
        return recorded

    Catalog.finish = logged_finish


if __name__ == "__main__":
    patch()
    sys.exit(main(prog_name="podscribe"))
