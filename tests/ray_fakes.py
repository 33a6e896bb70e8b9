"""Fake models that a Ray worker process can build: picklable factories (a frozen dataclass's bound methods)
that write what they were asked to do as lines of a log file, since a worker's memory is out of the test's
reach. ``die_on``: an episode (file stem) whose first decode kills its worker process (``os._exit``), once:
the ``flag`` file records that it happened."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.fakes import FakeAsr, FakeDiarizer, Record


@dataclass(frozen=True)
class LoggedModels:
    log: str
    die_on: Optional[str] = None
    flag: Optional[str] = None

    def factories(self) -> tuple:
        return self.asr, self.diarizer

    def asr(self, options, device):
        self.write(f"load asr {os.getpid()}")
        return _LoggedAsr(options, device, Record(), self)

    def diarizer(self, options, device):
        self.write(f"load diarizer {os.getpid()}")
        return FakeDiarizer(options, device, Record())

    def write(self, line: str) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def lines(self) -> list[str]:
        path = Path(self.log)
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


class _LoggedAsr(FakeAsr):
    def __init__(self, options, device, record: Record, models: LoggedModels):
        super().__init__(options, device, record)
        self.models = models

    def transcribe_batch(self, audio, chunks, language, prompt=""):
        stem = Path(audio.path).stem
        if stem == self.models.die_on and not Path(self.models.flag).exists():
            Path(self.models.flag).write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-episode, as when a machine goes away
        for chunk in chunks:
            self.models.write(f"decode {stem} {chunk.index} {os.getpid()}")
        return super().transcribe_batch(audio, chunks, language, prompt)
