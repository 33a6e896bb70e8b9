"""The soak test: `podscribe feed` runs that overlap on one output folder, and one killed with SIGKILL at a random
moment, all real processes against a real feed on 127.0.0.1 (6 short episodes), with the fake models of
tests/fakes.py (this is orchestration: tests/soak_podscribe.py logs what each process does). Then a final run.

What must hold, for every seed: no episode is transcribed by two processes at once; each one's end is recorded
once, and it is transcribed again only where the killed process had not recorded it; every catalog row ends
``done`` and its ``attempts`` is the number of claims, a retry only where the killed process held the episode; no ``.part`` or temporary file is left; every output is byte-identical
to one clean run's (the timings aside)."""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from pipeline.library.catalog import Catalog
from tests.feed_server import FeedServer, make_mp3, rss

pytestmark = pytest.mark.server

REPO = Path(__file__).resolve().parent.parent
SEEDS = (11, 23, 37)
EPISODES = 6
SURVIVORS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    items = []
    for n in range(1, EPISODES + 1):
        path = make_mp3(root / f"ep{n}.mp3", seconds=2.0 + n / 2, freq=200 + 60 * n)
        items.append({"title": f"Episode {n}", "guid": f"soak-{n}", "date": f"2026-10-0{n}",
                      "url": f"/files/ep{n}.mp3", "length": path.stat().st_size})
    srv = FeedServer(root)
    for i in items:
        i["url"] = srv.url + i["url"]
    (root / "feed.xml").write_text(rss("Soak Show", items), encoding="utf-8")
    yield srv
    srv.close()


def start(base: Path, url: str, log: Path, delay_s: float) -> subprocess.Popen:
    env = dict(os.environ, PODSCRIBE_SOAK_LOG=str(log), PODSCRIBE_SOAK_DELAY_S=str(delay_s), PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "tests.soak_podscribe", "feed", url, "-o", str(base / "out"),
                             "--audio-dir", str(base / "audio"), "-q", "--timeout", "10"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(proc: subprocess.Popen, timeout_s: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, out


def events(log: Path) -> list[tuple[str, tuple[str, ...], int, float]]:
    """(kind, fields, pid, time) per line of the soak log."""
    out = []
    for line in log.read_text().splitlines():
        kind, *fields, pid, at = line.split(" ")
        out.append((kind, tuple(fields), int(pid), float(at)))
    return out


def outputs(base: Path) -> dict[str, bytes]:
    """Every output file under OUT (the catalog aside), with the run's own folder and timings taken out."""
    files = {}
    for path in sorted((base / "out").rglob("*")):
        if path.is_file() and not path.name.startswith("catalog.sqlite"):
            data = path.read_bytes().replace(str(base).encode(), b"BASE")
            files[str(path.relative_to(base / "out"))] = re.sub(rb'"timings_s": \{[^}]*\}', b"", data)
    return files


@pytest.fixture(scope="module")
def clean(server, tmp_path_factory) -> dict[str, bytes]:
    base = tmp_path_factory.mktemp("clean")
    code, out = finished(start(base, f"{server.url}/files/feed.xml", base / "log", 0.0))
    assert code == 0, out
    return outputs(base)


@pytest.mark.parametrize("seed", SEEDS)
def test_overlapping_and_killed_runs_transcribe_every_episode_exactly_once(server, clean, tmp_path, seed):
    rng = random.Random(seed)
    url, log = f"{server.url}/files/feed.xml", tmp_path / "soak.log"
    runs = [start(tmp_path, url, log, rng.uniform(0.2, 0.6)) for _ in range(SURVIVORS + 1)]
    victim = runs[-1]
    _wait_for_a_claim(log, victim, timeout_s=60)  # the moment is random within the victim's work, not its start-up
    time.sleep(rng.uniform(0.0, 1.0))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.time()
    for proc in runs[:SURVIVORS]:
        code, out = finished(proc)
        assert code == 0, out
        assert "error" not in out, out
    code, out = finished(start(tmp_path, url, log, 0.0))
    assert code == 0, out

    seen = events(log)
    _no_episode_ran_twice_at_once(seen, victim.pid, killed_at)
    _each_finished_once_and_attempts_are_claims(seen, victim.pid, Catalog(tmp_path / "out" / "catalog.sqlite"))
    left = [p for p in tmp_path.rglob("*") if p.name.endswith((".part", ".part.json", ".tmp"))]
    assert not left, f"left behind: {left}"
    assert outputs(tmp_path) == clean
    if os.environ.get("PODSCRIBE_SOAK_REPORT"):
        print(json.dumps({"seed": seed, "events": len(seen), "by_process": [sum(
            1 for kind, _, pid, _ in seen if kind == k and pid == p.pid) for p in runs for k in ("claim", "end")]}))


def _wait_for_a_claim(log: Path, proc: subprocess.Popen, timeout_s: float) -> None:
    """Until ``proc`` has claimed an episode (or ended, or the time is up: then it is killed as it is)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and any(k == "claim" and pid == proc.pid for k, _, pid, _ in events(log)):
            return
        time.sleep(0.02)


def _no_episode_ran_twice_at_once(seen, victim: int, killed_at: float) -> None:
    spans: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    open_: dict[tuple[str, int], float] = {}
    for kind, fields, pid, at in seen:
        if kind == "start":
            open_[(fields[0], pid)] = at
        elif kind == "end":
            spans[fields[0]].append((open_.pop((fields[0], pid)), at, pid))
    for (name, pid), began in open_.items():
        assert pid == victim, f"{name}: started by {pid}, which was not killed, and never ended"
        spans[name].append((began, killed_at, pid))
    assert len(spans) == EPISODES
    for name, runs in spans.items():
        runs.sort()
        for (_, end, a), (begin, _, b) in zip(runs, runs[1:]):
            assert end <= begin, f"{name}: processes {a} and {b} transcribed it at the same time"


def _each_finished_once_and_attempts_are_claims(seen, victim: int, catalog: Catalog) -> None:
    """Each episode's end is recorded once; it is transcribed again only where the victim did it and was killed
    before recording it; its attempts are its claims, more than one only where the victim held it unfinished."""
    ends, claims, finishes = defaultdict(list), defaultdict(list), defaultdict(list)
    for kind, fields, pid, _ in seen:
        {"end": ends, "claim": claims, "finish": finishes}.get(kind, {}).setdefault(fields[0], []).append(pid)
    rows = catalog.rows()
    assert len(rows) == EPISODES and {r.status for r in rows} == {"done"}
    for row in rows:
        assert len(finishes[row.key]) == 1, f"{row.name}: its end recorded by {finishes[row.key]}"
        lost = int(victim in claims[row.key] and victim not in finishes[row.key])
        assert len(ends[row.name + ".mp3"]) in (1, 1 + lost), f"{row.name}: transcribed by {ends[row.name + '.mp3']}"
        assert row.attempts == len(claims[row.key]) == 1 + lost, (row.name, row.attempts, claims[row.key])
        assert not row.claim_token, f"{row.name}: still claimed after every run ended"


def test_the_soak_helper_is_the_real_cli(tmp_path):
    """tests/soak_podscribe.py changes the models and nothing else: its --help is podscribe's."""
    env = dict(os.environ, PODSCRIBE_SOAK_LOG=str(tmp_path / "log"), PYTHONPATH=str(REPO))
    ours = subprocess.run([sys.executable, "-m", "tests.soak_podscribe", "feed", "--help"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True).stdout
    real = subprocess.run([str(Path(sys.executable).parent / "podscribe"), "feed", "--help"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True).stdout
    assert ours == real and shutil.which("ffmpeg")
