"""The Ray executor: a batch's episodes on a Ray cluster, one machine or many (``--executor ray``).

One Ray task per episode, run by an actor (:class:`EpisodeWorker`) that keeps one transcriber, models loaded,
across the episodes it is given; an actor per worker slot: a GPU each where the cluster has GPUs
(``num_gpus=1``), else a CPU each. The actors call :func:`pipeline.library.batch.run_episode` and send back
plain :class:`EpisodeResult` values; the driver alone writes the catalog (``run_batch`` does, as with the local
executor). An episode whose worker process dies (or whose node is lost) is run again, up to ``retries`` times,
by the next free actor; the other episodes are not touched. Every machine must see OUTPUT_DIR and the audio at the
same paths (a shared file system): the actors write the outputs and the resume cache there themselves.

Ray is an optional extra (``pip install 'podscribe[ray]'``), imported only here and only when this runs.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from pipeline.errors import PodscribeError
from pipeline.library.batch import BatchOptions, Executor, Reporter, run_episode, transcriber_for
from pipeline.library.jobs import EpisodeJob, EpisodeResult

log = logging.getLogger(__name__)

#: extra runs of an episode whose worker died
RETRIES = 2


def ray_executor(address: Optional[str] = None, factories: Optional[tuple] = None,
                 retries: int = RETRIES) -> Executor:
    """An executor for ``run_batch``: ``address`` None starts a local Ray, ``"auto"`` joins the cluster
    started on this machine (``ray start``), ``HOST:PORT`` joins that one. ``factories`` (asr, diarizer):
    picklable model factories for the transcribers (the tests' fakes; None: the real models). Checks now
    that Ray is installed and that something listens at HOST:PORT, before any episode is started."""
    _ray()
    if address not in (None, "auto"):
        _check_listening(address)
    return functools.partial(run_ray, address=address, factories=factories, retries=retries)


class EpisodeWorker:
    """A Ray actor's state: one transcriber, its models kept loaded between the episodes it runs."""

    def __init__(self, options: BatchOptions, factories: Optional[tuple]):
        self.transcriber = transcriber_for(options.run, factories=factories, keep_loaded=True)

    def run(self, job: EpisodeJob, options: BatchOptions, output_dir: str) -> EpisodeResult:
        return run_episode(job, options, Path(output_dir), transcriber=self.transcriber)

    def ready(self) -> bool:
        """Answers once the actor is up (its models loaded)."""
        return True

    def close(self) -> None:
        self.transcriber.close()


def run_ray(jobs: Sequence[EpisodeJob], options: BatchOptions, output_dir: Path, reporter: Reporter,
            address: Optional[str] = None, factories: Optional[tuple] = None,
            retries: int = RETRIES) -> Iterator[EpisodeResult]:
    """Run ``jobs`` on Ray and yield each result as it ends (in any order)."""
    if not jobs:
        return
    ray = _ray()
    started = _connect(ray, address)
    actors: list = []
    try:
        slots, gpu = _slots(ray, len(jobs))
        worker = ray.remote(EpisodeWorker).options(num_cpus=1, num_gpus=1 if gpu else 0, max_restarts=0)
        make = functools.partial(worker.remote, options, factories)
        actors = [make() for _ in range(slots)]
        log.info("ray: %d worker(s) (%s each) for %d episode(s)", slots, "a GPU" if gpu else "a CPU", len(jobs))
        yield from _dispatch(ray, jobs, options, str(output_dir), actors, make, retries)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


class _Pool:
    """The actors: those free for an episode, and replacements not yet up (given work only once they are)."""

    def __init__(self, ray, actors: list, make):
        self.ray, self.actors, self.make = ray, actors, make
        self.idle = list(actors)
        self.starting: dict = {}  # ready ref -> replacement actor

    def replace(self, dead) -> None:
        self.actors.remove(dead)
        self.ray.kill(dead)
        fresh = self.make()
        self.actors.append(fresh)
        self.starting[fresh.ready.remote()] = fresh

    def started(self, ref, lost: tuple) -> None:
        fresh = self.starting.pop(ref)
        try:
            self.ray.get(ref)
            self.idle.append(fresh)
        except lost:  # it died starting (its node went too, or its models failed to load)
            self.actors.remove(fresh)


def _dispatch(ray, jobs: Iterable[EpisodeJob], options, output_dir: str, actors: list, make,
              retries: int) -> Iterator[EpisodeResult]:
    """Keep every actor busy with one episode at a time, taking the next job only when an actor is free (so a job
    is claimed only when it starts). An actor that dies (its process, or its whole node) is replaced, and its
    episode is run again first, by whichever actor is free next: where the dead actor's node is gone and no room is
    left for its replacement, the surviving actors do the rest."""
    from ray.exceptions import RayActorError, WorkerCrashedError

    lost = (RayActorError, WorkerCrashedError)
    upcoming, pool = iter(jobs), _Pool(ray, actors, make)
    again: list[tuple[EpisodeJob, int]] = []  # (job, attempt) to run first: those whose worker died
    running: dict = {}  # object ref -> (job, attempt, actor)
    while True:
        while pool.idle and (item := again.pop(0) if again else _first(upcoming)) is not None:
            actor = pool.idle.pop()
            running[actor.run.remote(item[0], options, output_dir)] = (*item, actor)
        if not running:  # every actor is dead or starting: wait for one if there is work left, else stop
            again += [] if again or (item := _first(upcoming)) is None else [item]
            if not again or not pool.starting:  # none could be started again: what is left fails, each alone
                yield from (_failed(job, "no Ray worker could be started for it") for job in
                            [job for job, _ in again] + list(upcoming))
                return
        (ref,), _ = ray.wait([*running, *pool.starting], num_returns=1)
        if ref in pool.starting:
            pool.started(ref, lost)
            continue
        job, attempt, actor = running.pop(ref)
        try:
            result = ray.get(ref)
        except lost as exc:
            pool.replace(actor)
            if attempt < retries:
                log.warning("%s: its Ray worker died (%s); running it again", job.record.source, type(exc).__name__)
                again.append((job, attempt + 1))
                continue
            result = _failed(job, f"its Ray worker died {attempt + 1} times ({type(exc).__name__})")
        except Exception as exc:  # run_episode raised: --debug, or a bug
            if options.debug:
                raise
            pool.idle.append(actor)
            result = _failed(job, f"{type(exc).__name__}: {exc}")
        else:
            pool.idle.append(actor)
        yield result


def _first(upcoming: Iterator[EpisodeJob]) -> Optional[tuple[EpisodeJob, int]]:
    job = next(upcoming, None)
    return None if job is None else (job, 0)


def _failed(job: EpisodeJob, why: str) -> EpisodeResult:
    return EpisodeResult(key=job.key, name=job.record.name, source=job.record.source, status="failed",
                         error=f"{job.record.source}: {why}", duration_s=job.duration_s)


def _ray():
    try:
        import ray
    except ImportError:
        raise PodscribeError("--executor ray needs Ray: pip install 'podscribe[ray]'") from None
    return ray


def _connect(ray, address: Optional[str]) -> bool:
    """Join (or start) a Ray cluster unless this process already has one; True when it was joined here."""
    if ray.is_initialized():
        return False
    try:
        if address is None:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise PodscribeError(f"cannot join the Ray cluster at {address}: {exc}") from None
    return True


def _check_listening(address: str) -> None:
    """A clear error now for HOST:PORT where nothing listens (Ray itself would retry for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise PodscribeError(f"--ray-address {address}: not auto or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise PodscribeError(f"--ray-address {address}: no Ray cluster answers there ({exc}); start one with "
                             f"`ray start --head` on that machine") from None


def _slots(ray, jobs: int) -> tuple[int, bool]:
    """(actors to start, whether each takes a GPU): a GPU each when the cluster has any, else a CPU each."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return min(jobs, gpus), True
    return max(1, min(jobs, int(resources.get("CPU", 1)))), False
