"""One way to time a child process: its wall time, CPU time and its own peak RSS (``wait4``'s rusage of that child
alone, so runs measured one after another do not contaminate each other)."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    cpu_s: float  # user + system
    peak_rss_mb: float


def run_child(cmd: list[str], env: Optional[dict] = None, cwd: Path = REPO) -> ChildRun:
    """Run ``cmd`` to its end (stdout discarded); a failure stops the benchmark with the end of its stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if code:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}\n{err[-2000:]}")
    return ChildRun(wall_s=wall_s, cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024)
