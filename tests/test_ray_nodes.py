"""The Ray executor on a real multi-node cluster: Ray's own test cluster (``ray.cluster_utils.Cluster``), a head
that runs nothing and three one-CPU nodes, each a raylet process of its own on this machine, with the fake models of
tests/ray_fakes.py (orchestration only). Episodes spread over the nodes; a node taken away while it runs an episode
costs only that episode, which finishes on another node; a driver killed with SIGKILL mid-run leaves claims that the
next run takes over. The catalog ends consistent each time."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray  # a real local Ray cluster

from ray._private import ray_constants  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from pipeline.library.batch import run_batch  # noqa: E402
from pipeline.library.catalog import Catalog  # noqa: E402
from pipeline.library.jobs import plan_inputs  # noqa: E402
from pipeline.library.ray_executor import ray_executor  # noqa: E402
from tests.audio import bursts, write_wav  # noqa: E402
from tests.ray_driver import OPTIONS  # noqa: E402
from tests.ray_fakes import LoggedModels  # noqa: E402
from tests.test_ray import local, outputs  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NODES = 3
EPISODES = 6


@pytest.fixture
def cluster(monkeypatch):
    """A head with no CPU (so it runs no actor and is never the node taken away) and three one-CPU nodes; the
    driver is this process. Every raylet's workers import this checkout's code (PYTHONPATH). Everything listens on
    127.0.0.1: Ray's switch for a one-machine cluster (read when ray is imported, so set for the processes Ray
    starts, and in this one, where ray is imported already)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv(ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR, "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    nodes = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [nodes.add_node(num_cpus=1) for _ in range(NODES)]
    ray.init(address=nodes.address, log_to_driver=False)
    nodes.wait_for_nodes()
    assert nodes.address.startswith("127.0.0.1:")
    try:
        yield nodes, workers
    finally:
        ray.shutdown()
        nodes.shutdown()


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("episodes")
    for n in range(1, EPISODES + 1):
        write_wav(folder / f"ep{n}.wav", bursts(4 + n, seed=n))
    return folder


def batch(folder: Path, output_dir: Path, execute):
    jobs, failures = plan_inputs([str(folder)], output_dir / "audio")
    assert len(jobs) == EPISODES and not failures
    catalog = Catalog.in_folder(output_dir)
    return run_batch(jobs, OPTIONS, output_dir, catalog, execute=execute), catalog


def decodes(models: LoggedModels) -> list[tuple[str, str, str, str]]:
    """(episode, chunk, pid, node) of every decode."""
    return [tuple(line.split()[1:5]) for line in models.lines() if line.startswith("decode")]


def wait_for_line(models: LoggedModels, prefix: str, timeout_s: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in models.lines():
            if line.startswith(prefix):
                return line.split()
        time.sleep(0.05)
    raise AssertionError(f"no '{prefix}' line in {timeout_s} s: {models.lines()}")


def gone(pid: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} still runs {timeout_s} s after its node was taken away")


def consistent(catalog: Catalog) -> None:
    """Every row done, its claim let go, its outputs on disk."""
    rows = catalog.rows()
    assert len(rows) == EPISODES and [row.status for row in rows] == ["done"] * EPISODES
    assert all(row.claim_token is None for row in rows)
    assert all(Path(p).is_file() for row in rows for p in row.outputs)


def test_episodes_spread_over_the_nodes_and_give_the_local_executors_outputs(cluster, episodes, tmp_path):
    _, workers = cluster
    here, _ = batch(episodes, tmp_path / "local", local(tmp_path / "local"))
    models = LoggedModels(str(tmp_path / "models.log"))
    there, catalog = batch(episodes, tmp_path / "ray", ray_executor(factories=models.factories()))

    assert [r.status for r in there.results] == ["done"] * EPISODES
    consistent(catalog)
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local") != {}
    on = {stem: node for stem, _, _, node in decodes(models)}
    assert set(on) == {f"ep{n}" for n in range(1, EPISODES + 1)}
    assert len(set(on.values())) >= 2 and set(on.values()) <= {w.node_id for w in workers}
    assert len(decodes(models)) == len(set(decodes(models)))  # each chunk decoded once


def test_a_node_taken_away_mid_episode_costs_only_that_episode_which_finishes_on_another_node(
        cluster, episodes, tmp_path):
    nodes, workers = cluster
    flag = tmp_path / "released"
    models = LoggedModels(str(tmp_path / "models.log"), hold_on="ep2", flag=str(flag))
    lost: list[str] = []

    def take_the_node_away() -> None:
        _, _, pid, node_id = wait_for_line(models, "hold ep2")
        nodes.remove_node(next(w for w in workers if w.node_id == node_id), allow_graceful=False)
        gone(int(pid))  # the node's worker processes end with it
        lost.append(node_id)
        flag.touch()  # the next run of ep2 is not held

    remover = threading.Thread(target=take_the_node_away, daemon=True)
    remover.start()
    summary, catalog = batch(episodes, tmp_path / "out", ray_executor(factories=models.factories()))
    remover.join(timeout=5)

    assert lost, "the node was taken away while it held ep2"
    assert sorted((r.name, r.status) for r in summary.results) == [(f"ep{n}", "done") for n in range(1, 7)]
    consistent(catalog)
    assert {row.attempts for row in catalog.rows()} == {1}  # run again within the one claim: not a new attempt
    done = decodes(models)
    assert {node for stem, _, _, node in done if stem == "ep2"} - set(lost)  # ep2 finished on another node
    assert not [d for d in done if d[3] == lost[0]] or all(d[0] != "ep2" for d in done if d[3] == lost[0])
    assert len(done) == len(set(done))  # no chunk decoded twice: the held decode never ran


def test_a_killed_driver_leaves_claims_that_the_next_run_takes_over(cluster, episodes, tmp_path):
    nodes, _ = cluster
    out, flag = tmp_path / "out", tmp_path / "released"
    first = LoggedModels(str(tmp_path / "first.log"))
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.ray_driver", nodes.address, str(episodes), str(out), first.log, "ep3",
         str(flag)], cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_line(first, "hold ep3", timeout_s=90)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    at_kill = {row.name: row for row in Catalog.in_folder(out).rows()}
    held = {name for name, row in at_kill.items() if row.claim_pid == driver.pid}
    done_first = {name for name, row in at_kill.items() if row.status == "done"}
    assert "ep3" in held and all(at_kill[name].status == "pending" for name in held)

    flag.touch()
    second = LoggedModels(str(tmp_path / "second.log"))
    batch(episodes, out, ray_executor(nodes.address, factories=second.factories()))
    catalog = Catalog.in_folder(out)
    consistent(catalog)
    rows = {row.name: row for row in catalog.rows()}
    assert {name for name, row in rows.items() if row.attempts == 2} == held  # taken over from the killed driver
    assert {row.attempts for name, row in rows.items() if name not in held} == {1}
    again = {stem for stem, *_ in decodes(second)}
    assert not again & done_first  # what the killed driver finished is not run again
    assert again | {stem for stem, *_ in decodes(first)} == set(rows)  # (its resume cache may spare a rerun)
