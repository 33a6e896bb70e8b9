"""Never lose work: kill -9 and resume, Ctrl-C, re-runs that load no model, a full disk.

The kill -9 test runs real subprocesses of ``python -m pipeline`` with the real tiny.en and diarization models
on the bundled sample, cut into 10 s chunks so that a run can be stopped between chunks (slow). The others drive
the command in-process with the fake models (tests/fakes.py) on synthetic audio.
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
from tests.audio import bursts, write_wav

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


@pytest.mark.slow
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


@pytest.fixture()
def episode(tmp_path) -> Path:
    return write_wav(tmp_path / "interview.wav", bursts(40))


def fake_args(episode: Path, out: Path, *extra) -> list[str]:
    return ["transcribe", str(episode), "-m", "tiny.en", "--max-chunk", "10", "-q", "-o", str(out), *extra]


def fake_words(out: Path) -> list[dict]:
    data = json.loads((out / "interview.json").read_text())
    return [w for turn in data["turns"] for w in turn["words"]]


@pytest.fixture()
def fake_run(tmp_path, episode, fake_models) -> Path:
    """One finished run with the fake models: its outputs and cache in ``tmp_path/first``."""
    out = tmp_path / "first"
    assert CliRunner().invoke(main, fake_args(episode, out)).exit_code == 0
    return out


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, episode, fake_models):
    fake_models.interrupt_after = 3  # one batch of the fake engine is saved, then Ctrl-C
    out = tmp_path / "out"
    stopped = CliRunner().invoke(main, fake_args(episode, out))
    assert stopped.exit_code == 130
    assert "run the same command again to resume" in stopped.output
    assert str(out / CACHE_DIRNAME) in stopped.output
    assert "Traceback" not in stopped.output
    assert len(saved_chunks(out)) == 3 and not list(out.glob("interview.*"))
    assert not list(out.rglob("*.tmp")), "an interrupted write must not leave its temporary file"
    fake_models.interrupt_after = None
    assert CliRunner().invoke(main, fake_args(episode, out)).exit_code == 0
    assert fake_models.decoded[:3] == [0, 1, 2] and sorted(fake_models.decoded[3:]) == list(
        range(3, len(saved_chunks(out)))), "the resumed run decodes only what was not saved"


@pytest.mark.slow
def test_ctrl_c_on_a_real_run_stops_cleanly(tmp_path):
    stopped = start_and_stop(tmp_path, signal.SIGINT, 1, "--no-diarize")
    assert stopped.returncode == 130
    assert "run the same command again to resume" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert saved_chunks(tmp_path) and not list(tmp_path.glob("interview.*"))
    assert not list(tmp_path.rglob("*.tmp"))


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for old in target.glob("interview.*"):
        old.unlink()
    return target


def test_a_new_format_threshold_or_batch_size_runs_no_model(tmp_path, episode, fake_run, no_models):
    out = copy_run(fake_run, tmp_path / "out")
    result = CliRunner().invoke(main, fake_args(episode, out, "-f", "json", "-f", "srt", "--uncertain-below", "0.95",
                                                "--batch-size", "2"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("interview.*")) == ["interview.json", "interview.srt"]
    before = [w["uncertain"] for w in fake_words(fake_run)]
    after = [w["uncertain"] for w in fake_words(out)]
    assert [w["text"] for w in fake_words(out)] == [w["text"] for w in fake_words(fake_run)]
    assert sum(after) > sum(before), "a higher threshold marks more words"


def test_a_full_disk_is_reported_and_the_cache_stays_usable(tmp_path, episode, fake_run, no_models, monkeypatch):
    import pipeline.files

    out = copy_run(fake_run, tmp_path / "out")
    cache_before = {p: p.read_bytes() for p in (out / CACHE_DIRNAME).rglob("*") if p.is_file()}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(pipeline.files.os, "fsync", full)
        result = CliRunner().invoke(main, fake_args(episode, out, "-f", "forum"))
    assert result.exit_code == 1
    assert "interview.forum.txt: write failed (disk full)" in result.output
    assert not list(out.glob("interview.*")) and not list(out.rglob("*.tmp"))
    assert {p: p.read_bytes() for p in (out / CACHE_DIRNAME).rglob("*") if p.is_file()} == cache_before

    assert CliRunner().invoke(main, fake_args(episode, out, "-f", "forum")).exit_code == 0
    assert (out / "interview.forum.txt").read_text().startswith("[b]SPEAKER 1:[/b]")


def test_a_temporary_file_of_a_killed_writer_is_swept_and_a_live_ones_kept(tmp_path):
    from pipeline.files import sweep_temporaries

    (tmp_path / "cache").mkdir()
    dead = tmp_path / "cache" / ".episode.json.999999999-x1y2.tmp"
    live = tmp_path / f".episode.txt.{os.getpid()}-a1b2.tmp"
    other = tmp_path / ".notes.tmp"  # not the writer's: no pid in its name
    for f in (dead, live, other):
        f.write_text("half")
    assert sweep_temporaries(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other.exists()
