"""The Ray executor on a real local Ray cluster (2 CPUs on 127.0.0.1, started by the fixture), with fake
models built inside the Ray workers (tests/ray_fakes.py): orchestration only, so these run in seconds."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray  # a real local Ray cluster

from click.testing import CliRunner  # noqa: E402

from pipeline.asr.options import TranscribeOptions  # noqa: E402
from pipeline.cli import main  # noqa: E402
from pipeline.library.batch import BatchOptions, run_batch, run_here  # noqa: E402
from pipeline.library.catalog import Catalog  # noqa: E402
from pipeline.library.jobs import plan_inputs  # noqa: E402
from pipeline.library.ray_executor import ray_executor  # noqa: E402
from pipeline.run import RunOptions, Transcriber  # noqa: E402
from pipeline.writers import WRITERS  # noqa: E402
from tests.audio import bursts, write_wav  # noqa: E402
from tests.fakes import Record, factories  # noqa: E402
from tests.ray_fakes import LoggedModels  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OPTIONS = BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model="tiny.en", device="cpu")))


@pytest.fixture(scope="module")
def cluster():
    """A real Ray cluster of this machine, 2 CPUs; its workers import this checkout's code."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), old) if p)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("episodes")
    for n, seconds in enumerate((6, 9, 12), 1):
        write_wav(folder / f"ep{n}.wav", bursts(seconds, seed=n))
    return folder


def batch(folder: Path, output_dir: Path, execute):
    jobs, failures = plan_inputs([str(folder)], output_dir / "audio")
    assert len(jobs) == 3 and not failures
    catalog = Catalog.in_folder(output_dir)
    return run_batch(jobs, OPTIONS, output_dir, catalog, execute=execute), catalog


def outputs(output_dir: Path) -> dict[str, object]:
    """Every output file by name: its text, the JSON without its stage timings (wall times)."""
    found = {}
    for path in sorted(output_dir.glob("ep*.*")):
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            data.pop("timings_s", None)
            found[path.name] = data
        else:
            found[path.name] = path.read_bytes()
    return found


def local(output_dir: Path):
    transcriber = Transcriber(OPTIONS.run, *factories(Record()))
    return functools.partial(run_here, transcriber=transcriber)


def test_three_episodes_on_ray_give_the_local_executors_outputs_and_catalog(cluster, episodes, tmp_path):
    here, here_catalog = batch(episodes, tmp_path / "local", local(tmp_path / "local"))
    models = LoggedModels(str(tmp_path / "models.log"))
    there, there_catalog = batch(episodes, tmp_path / "ray", ray_executor(factories=models.factories()))

    assert [r.status for r in there.results] == ["done"] * 3
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local") != {}
    for row in here_catalog.rows():
        other = there_catalog.get(row.key)
        assert (other.status, other.sha256, other.duration_s) == ("done", row.sha256, row.duration_s)
        assert [Path(p).name for p in other.outputs] == [Path(p).name for p in row.outputs]
    # one ASR load per worker, kept for all the episodes that worker ran
    lines = models.lines()
    loads = Counter(line.split()[2] for line in lines if line.startswith("load asr"))
    decoders = {line.split()[3] for line in lines if line.startswith("decode")}
    assert set(loads) == decoders and set(loads.values()) == {1} and 1 <= len(loads) <= 2


def test_a_worker_killed_mid_episode_costs_only_that_episode_which_is_run_again(cluster, episodes, tmp_path):
    flag = tmp_path / "died"
    models = LoggedModels(str(tmp_path / "models.log"), die_on="ep2", flag=str(flag))
    summary, catalog = batch(episodes, tmp_path / "out", ray_executor(factories=models.factories()))

    assert flag.exists()  # the worker did die, in ep2's first decode
    assert sorted((r.name, r.status) for r in summary.results) == [("ep1", "done"), ("ep2", "done"), ("ep3", "done")]
    assert [row.status for row in catalog.rows()] == ["done"] * 3
    decodes = [tuple(line.split()[1:3]) for line in models.lines() if line.startswith("decode")]
    assert {stem for stem, _ in decodes} == {"ep1", "ep2", "ep3"}
    assert len(decodes) == len(set(decodes))  # every chunk of every episode decoded once (ep2's by the new worker)
    dead = flag.read_text()
    assert all(line.split()[3] != dead for line in models.lines() if line.startswith("decode ep2"))
    assert sorted(p.name for p in (tmp_path / "out").glob("ep2.*"))  # its outputs are there


def test_help_does_not_import_ray_and_a_bad_ray_address_is_one_line(tmp_path):
    code = ("import sys; from click.testing import CliRunner; from pipeline.cli import main; "
            "r = CliRunner().invoke(main, ['transcribe', '--help']); "
            "assert '--executor [local|ray]' in r.output, r.output; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    wav = write_wav(tmp_path / "a.wav", bursts(2))
    result = CliRunner().invoke(main, ["transcribe", str(wav), "-o", str(tmp_path), "--ray-address", "auto"])
    assert result.exit_code == 2 and "--ray-address needs --executor ray" in result.output
    result = CliRunner().invoke(main, ["transcribe", str(wav), "-o", str(tmp_path), "--executor", "ray",
                                       "--ray-address", "127.0.0.1:1"])
    assert result.exit_code == 2 and "error: --ray-address 127.0.0.1:1: no Ray cluster answers there" in result.output
    assert not (tmp_path / "catalog.sqlite").exists(), "refused before any work"
    assert Catalog.in_folder(tmp_path).rows() == []  # no episode was started


@pytest.mark.slow
def test_the_cli_on_ray_with_real_models_writes_what_the_local_executor_writes(cluster, tmp_path):
    """`podscribe transcribe --executor ray` (joining the fixture's cluster), tiny.en and diarization, on two
    8 s clips of the bundled interview: the same transcripts as `--executor local`."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for n, start in enumerate((0, 40), 1):
        subprocess.run(["ffmpeg", "-v", "error", "-ss", str(start), "-t", "8", "-i",
                        str(REPO / "audio/samples/interview.flac"), str(clips / f"ep{n}.flac")], check=True)
    for executor in ("local", "ray"):
        result = CliRunner().invoke(main, ["transcribe", str(clips), "-o", str(tmp_path / executor), "-m", "tiny.en",
                                           "--device", "cpu", "-q", "--executor", executor])
        assert result.exit_code == 0, result.output
    assert len(outputs(tmp_path / "ray")) == 2 * len(WRITERS) and outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    assert [row.status for row in Catalog.in_folder(tmp_path / "ray").rows()] == ["done", "done"]
