"""Fake models that a Ray worker process can build: picklable factories (a frozen dataclass's bound methods)
that write what they were asked to do as lines of a log file, since a worker's memory is out of the test's
reach; each decode line names the worker's pid and Ray node. ``die_on``: an episode (file stem) whose first decode
kills its worker process (``os._exit``), once: the ``flag`` file records that it happened. ``hold_on``: an episode
whose first decode waits (up to ``HOLD_S``) until the ``flag`` file exists, after writing ``hold STEM PID NODE``:
the test knows where it runs and can take that node away, or kill the driver, while it is held."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.fakes import FakeAsr, FakeDiarizer, Record

HOLD_S = 60.0


@dataclass(frozen=True)
class LoggedModels:
    log: str
    die_on: Optional[str] = None
    hold_on: Optional[str] = None
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
        stem, node = Path(audio.path).stem, _node()
        if stem == self.models.die_on and not Path(self.models.flag).exists():
            Path(self.models.flag).write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-episode, as when a machine goes away
        if stem == self.models.hold_on and not Path(self.models.flag).exists():
            self._hold(stem, node)
        for chunk in chunks:
            self.models.write(f"decode {stem} {chunk.index} {os.getpid()} {node}")
        return super().transcribe_batch(audio, chunks, language, prompt)

    def _hold(self, stem: str, node: str) -> None:
        flag = Path(self.models.flag)
        self.models.write(f"hold {stem} {os.getpid()} {node}")
        deadline = time.monotonic() + HOLD_S
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        flag.touch()


def _node() -> str:
    """The Ray node this worker runs on ("-" outside Ray)."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "-"
