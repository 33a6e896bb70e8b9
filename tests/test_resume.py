"""Never lose work: kill -9 and resume, Ctrl-C, re-runs that load no model, a full disk.

Real subprocesses of ``python -m pipeline`` with the real tiny.en and diarization models on the bundled sample,
cut into 10 s chunks so that a run can be stopped between chunks.
"""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cache import CACHE_DIRNAME
from pipeline.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "audio" / "samples" / "interview.flac"
ARGS = ["transcribe", str(SAMPLE), "-m", "tiny.en", "--max-chunk", "10", "-q"]
WAIT_S = 600


def command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *ARGS, "-o", str(out), *extra]


def saved_chunks(out: Path) -> list[Path]:
    return sorted((out / CACHE_DIRNAME).glob("*/whisper-*/chunk-*.json"))


def default_sigint() -> None:
    """Ctrl-C as at a terminal: a test runner started in the background (``cmd &`` without job control)
    hands its children SIGINT ignored, and Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_stop(out: Path, sig: int, after_chunks: int, *extra: str) -> subprocess.CompletedProcess:
    """Start a run, send ``sig`` once ``after_chunks`` chunks are saved, and wait for it to end."""
    proc = subprocess.Popen(command(out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + WAIT_S
    while len(saved_chunks(out)) < after_chunks and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def words(out: Path) -> list[dict]:
    data = json.loads((out / "interview.json").read_text())
    return [w for turn in data["turns"] for w in turn["words"]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(command(out), check=True, capture_output=True, timeout=WAIT_S)
    return out


def test_kill_9_mid_run_then_resume_gives_the_same_transcript(tmp_path, uninterrupted):
    total = len(saved_chunks(uninterrupted))
    killed = start_and_stop(tmp_path, signal.SIGKILL, 3)
    assert killed.returncode == -signal.SIGKILL
    done = len(saved_chunks(tmp_path))
    assert 3 <= done < total
    assert not list(tmp_path.glob("interview.*")), "no transcript may exist before the run finished"

    resumed = subprocess.run(command(tmp_path, "-v"), capture_output=True, text=True, timeout=WAIT_S)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done} of {total} chunks taken from the cache" in resumed.stderr
    assert words(tmp_path) == words(uninterrupted)
    assert (tmp_path / "interview.rttm").read_text() == (uninterrupted / "interview.rttm").read_text()


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    stopped = start_and_stop(tmp_path, signal.SIGINT, 1, "--no-diarize")
    assert stopped.returncode == 130
    assert "run the same command again to resume" in stopped.stderr
    assert str(tmp_path / CACHE_DIRNAME) in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert saved_chunks(tmp_path) and not list(tmp_path.glob("interview.*"))
    assert not list(tmp_path.rglob("*.tmp")), "an interrupted write must not leave its temporary file"


@pytest.fixture()
def no_models(monkeypatch):
    """Any attempt to load Whisper or the diarization models fails the test."""
    import pipeline.diarization.diarize
    import pipeline.store.registry

    def probe(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(pipeline.store.registry, "load_whisper", probe)
    monkeypatch.setattr(pipeline.diarization.diarize, "_models", probe)


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for old in target.glob("interview.*"):
        old.unlink()
    return target


def test_a_new_format_threshold_or_batch_size_runs_no_model(tmp_path, uninterrupted, no_models):
    out = copy_run(uninterrupted, tmp_path / "out")
    result = CliRunner().invoke(main, [*ARGS, "-o", str(out), "-f", "json,srt", "--uncertain-below", "0.9",
                                       "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("interview.*")) == ["interview.json", "interview.srt"]
    before = [w["uncertain"] for w in words(uninterrupted)]
    after = [w["uncertain"] for w in words(out)]
    assert [w["text"] for w in words(out)] == [w["text"] for w in words(uninterrupted)]
    assert sum(after) > sum(before), "a higher threshold marks more words"


def test_a_full_disk_is_reported_and_the_cache_stays_usable(tmp_path, uninterrupted, no_models, monkeypatch):
    import pipeline.files

    out = copy_run(uninterrupted, tmp_path / "out")
    cache_before = {p: p.read_bytes() for p in (out / CACHE_DIRNAME).rglob("*") if p.is_file()}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(pipeline.files.os, "fsync", full)
        result = CliRunner().invoke(main, [*ARGS, "-o", str(out), "-f", "forum"])
    assert result.exit_code == 1
    assert "interview.forum.txt: write failed (disk full)" in result.output
    assert not list(out.glob("interview.*")) and not list(out.rglob("*.tmp"))
    assert {p: p.read_bytes() for p in (out / CACHE_DIRNAME).rglob("*") if p.is_file()} == cache_before

    assert CliRunner().invoke(main, [*ARGS, "-o", str(out), "-f", "forum"]).exit_code == 0
    assert (out / "interview.forum.txt").read_text().startswith("[b]SPEAKER 1:[/b]")
