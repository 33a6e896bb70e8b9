"""``podscribe serve`` as the tests meet it: the real command in its own process, on a free port of 127.0.0.1
(port 0: the server binds and prints its URL), stopped with SIGTERM at the end."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
_URL = re.compile(r"serving .* at (http://\S+)")


class ArchiveServer:
    def __init__(self, out: Path, *args: str):
        self.log = out.parent / f"serve-{os.getpid()}-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "-o", str(out), "--port", "0", *args],
                                     cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        self.url = self._wait_for_url()
        self.base = re.sub(r"/\?token=.*$", "", self.url).rstrip("/")
        found = re.search(r"token=(\S+)$", self.url)
        self.token: Optional[str] = found.group(1) if found else None
        self.origin = self.base

    def _wait_for_url(self, timeout_s: float = 30.0) -> str:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            found = _URL.search(self.log.read_text())
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"podscribe serve exited: {self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"podscribe serve did not start: {self.log.read_text()}")

    def stop(self) -> str:
        """Stop it (SIGTERM), and what it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text()

    def __enter__(self) -> "ArchiveServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
