"""Jobs -> one run per episode, recorded in the catalog.

``run_batch`` skips what the catalog says is done with the same options, marks the rest pending and hands them
to an executor, which calls :func:`run_episode` for each (the default runs them here, one after another; another
executor can run them elsewhere: a job and its result are plain frozen values, see ``jobs.py``).
``run_episode`` downloads if needed, transcribes, writes the outputs and returns an :class:`EpisodeResult`; it
never raises for a bad episode, so one never costs the others.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Protocol, Sequence

from pipeline.cache import CACHE_DIRNAME, key_digest
from pipeline.errors import PodscribeError, UnreadableAudio
from pipeline.files import sweep_temporaries
from pipeline.library.catalog import CLAIMED, HEARTBEAT_S, HELD, Catalog, Holder, Outcome, Row, is_done
from pipeline.library.download import DownloadOptions, discard, download
from pipeline.library.jobs import EpisodeJob, EpisodeResult, running_elsewhere
from pipeline.library.publish import PublishOptions, publish
from pipeline.run import RunOptions
from pipeline.types import Transcript
from pipeline.writers import WRITERS, write_all

log = logging.getLogger(__name__)

#: (stage, done, total): the transcriber's stages, and "download" in bytes
Progress = Optional[Callable[[str, int, int], None]]


@dataclass(frozen=True)
class BatchOptions:
    run: RunOptions = field(default_factory=RunOptions)
    formats: tuple[str, ...] = tuple(WRITERS)
    drop_uncertain: bool = False
    embed_audio: bool = False  # the html review page carries the audio
    use_cache: bool = True  # the resume cache in OUTPUT_DIR/.podscribe-cache
    force: bool = False  # run episodes the catalog says are done
    download: DownloadOptions = field(default_factory=DownloadOptions)
    publish: Optional[PublishOptions] = None
    debug: bool = False  # let unexpected exceptions through

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in WRITERS]
        if unknown or not self.formats:
            raise PodscribeError(f"unknown format(s) {unknown}: choose from {', '.join(WRITERS)}")

    @property
    def key(self) -> str:
        """What "the same model and options" means for the catalog: the run's identity and what else changes
        the outputs (the formats written, and how)."""
        return key_digest({"catalog": self.run.identity(), "formats": sorted(self.formats),
                           "drop_uncertain": self.drop_uncertain, "embed_audio": self.embed_audio})


@dataclass(frozen=True)
class BatchSummary:
    results: tuple[EpisodeResult, ...]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during ``job``; ``left`` jobs, that one included, are not done."""

    def __init__(self, job: EpisodeJob, left: int):
        super().__init__(job.record.source)
        self.job, self.left = job, left


class Reporter(Protocol):
    def planned(self, plan: "Plan") -> None: ...

    def progress(self, job: EpisodeJob, stage: str, done: int, total: int) -> None: ...

    def finished(self, job: EpisodeJob, result: EpisodeResult) -> None: ...


class SilentReporter:
    def planned(self, plan) -> None:
        pass

    def progress(self, job, stage, done, total) -> None:
        pass

    def finished(self, job, result) -> None:
        pass


#: runs jobs and yields each one's result as it ends (in any order)
Executor = Callable[[Sequence[EpisodeJob], BatchOptions, Path, Reporter], Iterable[EpisodeResult]]


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class Plan:
    """What a batch will do: the jobs to run (and why each runs), the results of those it skips because they are
    done, and of those another run is running now."""

    todo: tuple[EpisodeJob, ...]
    skipped: tuple[EpisodeResult, ...]
    reasons: tuple[str, ...]  # per job in ``todo``: new | retry | changed | forced
    elsewhere: tuple[EpisodeResult, ...] = ()

    def describe(self) -> str:
        """``3 new, 41 already done`` (and how many are retried, re-run with other options, or running elsewhere)."""
        counts = {reason: self.reasons.count(reason) for reason in dict.fromkeys(self.reasons)}
        words = {"new": "new", "retry": "to retry", "changed": "to redo (other options or outputs missing)",
                 "forced": "to redo (--force)"}
        parts = [f"{counts.get('new', 0)} new"] + [f"{n} {words[r]}" for r, n in counts.items() if r != "new"]
        parts.append(f"{len(self.skipped)} already done")
        return ", ".join(parts + ([f"{len(self.elsewhere)} running elsewhere"] if self.elsewhere else []))


def plan_batch(jobs: Sequence[EpisodeJob], options: BatchOptions, output_dir: Path, catalog: Catalog) -> Plan:
    """Split ``jobs`` into those to run, those the catalog says are done with these options, and those a live
    run holds now."""
    todo, reasons, skipped, elsewhere = [], [], [], []
    for job in jobs:
        row = catalog.get(job.key)
        if row is not None and row.held():
            elsewhere.append(running_elsewhere(job, row))
            continue
        reason = _why_run(job, row, options)
        if reason is None:
            skipped.append(_skipped(job, row, options, output_dir))
        else:
            todo.append(job)
            reasons.append(reason)
    return Plan(tuple(todo), tuple(skipped), tuple(reasons), tuple(elsewhere))


def _why_run(job: EpisodeJob, row: Optional[Row], options: BatchOptions) -> Optional[str]:
    """Why ``job`` runs (new, retry, changed, forced), or None when it is done with these options."""
    if row is None:
        return "new"
    if options.force:
        return "forced"
    if is_done(row, options.key):
        return None
    return "changed" if row.status == "done" else "retry"


class Claims:
    """The batch's jobs as an executor takes them: each is claimed in the catalog only then, so that runs that
    overlap share the work, one episode to one run. A job another run holds, or finished meanwhile, is set aside
    with its result (``set_aside``) instead of handed out. ``len`` is at most how many are handed out."""

    def __init__(self, plan: Plan, options: BatchOptions, output_dir: Path, catalog: Catalog, holder: Holder,
                 reporter: Reporter):
        self.plan, self.options, self.output_dir = plan, options, output_dir
        self.catalog, self.holder, self.reporter = catalog, holder, reporter
        self.set_aside: dict[str, EpisodeResult] = {}
        self.by_key = {job.key: job for job in plan.todo}

    def __len__(self) -> int:
        return len(self.plan.todo)

    def __iter__(self) -> Iterator[EpisodeJob]:
        identity = self.options.run.identity()
        for job, reason in zip(self.plan.todo, self.plan.reasons):
            found = self.catalog.claim(job.record, self.options.run.transcribe.model, self.options.key, identity,
                                       self.holder, force=reason == "forced")
            if found == CLAIMED:
                yield job
                continue
            row = self.catalog.get(job.key)
            result = (running_elsewhere(job, row) if found == HELD
                      else _skipped(job, row, self.options, self.output_dir))
            self.set_aside[job.key] = result
            self.reporter.finished(job, result)


def run_batch(jobs: Sequence[EpisodeJob], options: BatchOptions, output_dir: Path, catalog: Catalog,
              reporter: Reporter = SilentReporter(), execute: Optional[Executor] = None) -> BatchSummary:
    """Skip what is done or running elsewhere; claim each other episode as the executor takes it, run it and record
    its end. The batch's claims are kept alive by a heartbeat while it runs and let go however it stops."""
    for tmp in sweep_temporaries(output_dir) if output_dir.is_dir() else ():
        log.info("removed %s, left by a process that was killed while writing it", tmp)
    _catch_up(catalog)
    plan = plan_batch(_with_show_vocabulary(jobs, catalog), options, output_dir, catalog)
    reporter.planned(plan)
    holder = Holder.here()
    claims = Claims(plan, options, output_dir, catalog, holder, reporter)
    results: dict[str, EpisodeResult] = {}
    try:
        with sigterm_as_interrupt(), heartbeat(catalog, holder):
            for result in (execute or run_here)(claims, options, output_dir, reporter):
                results[result.key] = result
                if not catalog.finish(result.key, _outcome(result), holder):
                    log.warning("%s: another run took this episode over while it ran; its row is that run's to "
                                "record", result.name)
                elif result.status == "done":
                    _index(catalog, result)
                reporter.finished(claims.by_key[result.key], result)
    except KeyboardInterrupt:
        left = [job for job in plan.todo if job.key not in results and job.key not in claims.set_aside]
        raise BatchInterrupted(left[0] if left else plan.todo[-1], len(left)) from None
    finally:
        catalog.release(holder)
    ended = results | claims.set_aside
    return BatchSummary(plan.skipped + plan.elsewhere + tuple(ended[j.key] for j in plan.todo if j.key in ended))


def _with_show_vocabulary(jobs: Sequence[EpisodeJob], catalog: Catalog) -> list[EpisodeJob]:
    """Each job with its show's vocabulary (learned from reviews, pipeline/archive/teach.py) after its own names."""
    from pipeline.archive.teach import vocabulary
    from pipeline.vocabulary import unique

    by_show: dict[Optional[str], tuple[str, ...]] = {}
    out = []
    for job in jobs:
        show = job.record.show
        if show not in by_show:
            by_show[show] = vocabulary(catalog, show)
        terms = by_show[show]
        out.append(dataclasses.replace(job, vocabulary=unique(job.vocabulary + terms)) if terms else job)
    return out


def _catch_up(catalog: Catalog) -> None:
    """Index the done episodes a killed run left unindexed (pipeline/library/search.py, ``catch_up``)."""
    from pipeline.library.search import catch_up

    try:
        if n := catch_up(catalog):
            log.info("added %d episode(s) to the search index that an earlier run left out", n)
    except PodscribeError as exc:
        log.warning("search index: %s", exc)


def _index(catalog: Catalog, result: EpisodeResult) -> None:
    """Put a finished episode in the search index; a failure here is a warning, never the episode's."""
    from pipeline.library.search import index_outputs

    try:
        index_outputs(catalog, result.key, result.outputs)
    except (PodscribeError, OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: not added to the search index (%s); `podscribe search --rebuild` adds it", result.name, exc)


@contextlib.contextmanager
def heartbeat(catalog: Catalog, holder: Holder, every_s: float = HEARTBEAT_S):
    """While the block runs, renew ``holder``'s claims every ``every_s`` (a thread: the models' work releases
    the GIL); a heartbeat that fails is logged and tried again at the next beat."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                catalog.beat(holder)
            except PodscribeError as exc:
                log.warning("catalog heartbeat: %s", exc)

    thread = threading.Thread(target=beat, name="podscribe-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every_s)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM (``kill PID``, a job scheduler, systemd stopping a timer's run) stops a batch as Ctrl-C does: cleanly,
    rows of what did not finish left to be run again. Outside the main thread signals are left alone."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_here(jobs: Sequence[EpisodeJob], options: BatchOptions, output_dir: Path,
             reporter: Reporter, transcriber=None) -> Iterator[EpisodeResult]:
    """The default executor: each job in this process, one after another, one transcriber for them all
    (so the models load once), closed at the end."""
    own = transcriber is None and bool(jobs)
    runner = transcriber_for(options.run) if own else transcriber
    try:
        for job in jobs:
            yield run_episode(job, options, output_dir, transcriber=runner,
                              progress=lambda stage, done, total, job=job: reporter.progress(job, stage, done, total))
    finally:
        if own:
            runner.close()


def run_episode(job: EpisodeJob, options: BatchOptions, output_dir: Path, transcriber=None,
                progress: Progress = None) -> EpisodeResult:
    """Download (if needed), transcribe and write one episode; a failure is returned, never raised
    (Ctrl-C is raised). ``transcriber``: anything with ``run(path, progress, cache_dir, vocabulary,
    language) -> Transcript`` and ``close()``, as :class:`pipeline.run.Transcriber`; keep one across episodes so the
    models stay loaded (by default one is made and closed for this episode). The episode's names from its show notes
    go to it as ``vocabulary``, the language its feed declares as ``language``."""
    if transcriber is None:
        runner = transcriber_for(options.run)
        try:
            return run_episode(job, options, output_dir, runner, progress)
        finally:
            runner.close()
    start = time.perf_counter()
    try:
        path = _fetch(job, options.download, progress, refetch=options.force)
        cache_dir = output_dir / CACHE_DIRNAME if options.use_cache else None
        transcript = transcriber.run(path, progress=progress, cache_dir=cache_dir, vocabulary=job.vocabulary,
                                     language=job.language)
        transcript = dataclasses.replace(transcript, episode=job.record.name,
                                         metadata={**transcript.metadata, **job.metadata})
        written = write_all(transcript, output_dir, options.formats, options.drop_uncertain, options.embed_audio)
        tags = publish(transcript, options.publish, options.drop_uncertain) if options.publish else ()
    except KeyboardInterrupt:
        raise
    except UnreadableAudio as exc:
        if job.url is None:
            return _failed(job, str(exc), time.perf_counter() - start)
        discard(Path(job.path))
        return _failed(job, f"{exc}; the download is removed and fetched again on the next run",
                       time.perf_counter() - start)
    except PodscribeError as exc:
        return _failed(job, str(exc), time.perf_counter() - start)
    except Exception as exc:  # one bad episode never costs the others
        if options.debug:
            raise
        return _failed(job, f"{job.record.source}: {type(exc).__name__}: {exc} (run with --debug for details)",
                       time.perf_counter() - start)
    return _done(job, transcript, written, tags, path, time.perf_counter() - start)


def transcriber_for(options: RunOptions, factories: Optional[tuple] = None, keep_loaded: bool = False):
    """A :class:`pipeline.run.Transcriber` for ``options`` (it loads its models when first needed);
    ``factories``: (asr, diarizer) model factories instead of the real models (the tests' fakes)."""
    from pipeline.run import Transcriber

    asr, diarizer = factories or (None, None)
    return Transcriber(options, asr=asr, diarizer=diarizer, keep_loaded=keep_loaded)


def _fetch(job: EpisodeJob, options: DownloadOptions, progress: Progress, refetch: bool) -> str:
    if job.url is None:
        return job.path
    tick = (lambda done, total: progress("download", done, total or 0)) if progress else None
    return str(download(job.url, Path(job.path), options, job.expected_length, tick, refetch=refetch))


def _done(job: EpisodeJob, transcript: Transcript, written: list[Path], tags: tuple[str, ...], path: str,
          wall_s: float) -> EpisodeResult:
    words = transcript.words
    return EpisodeResult(
        key=job.key, name=job.record.name, source=job.record.source, status="done",
        outputs=tuple(str(p) for p in written), sha256=transcript.sha256, audio_path=path,
        duration_s=transcript.duration_s, wall_s=wall_s, words=len(words), speakers=len(transcript.speakers),
        marked=sum(w.uncertain for w in words) / len(words) if words else 0.0,
        lost_speech_s=transcript.lost_speech_s if transcript.gaps else 0.0, timings=dict(transcript.timings_s),
        tags=tags)


def _failed(job: EpisodeJob, error: str, wall_s: float) -> EpisodeResult:
    return EpisodeResult(key=job.key, name=job.record.name, source=job.record.source, status="failed",
                         error=error, wall_s=wall_s, duration_s=job.duration_s)


def _skipped(job: EpisodeJob, row: Row, options: BatchOptions, output_dir: Path) -> EpisodeResult:
    """A done episode; published now if ``--publish`` asks for it and it is not there yet."""
    tags: tuple[str, ...] = ()
    if options.publish:
        tags = _publish_from_outputs(row.name, options, output_dir)
    return EpisodeResult(key=job.key, name=row.name, source=row.source, status="skipped", outputs=row.outputs,
                         sha256=row.sha256, audio_path=row.audio_path, duration_s=row.duration_s, tags=tags)


def _publish_from_outputs(name: str, options: BatchOptions, output_dir: Path) -> tuple[str, ...]:
    """Publish a done episode from its JSON transcript (rewriting the same files is harmless)."""
    from pipeline.writers import json_format, output_path

    source = output_path(output_dir, name, "json")
    if not source.is_file():
        log.warning("%s: not published, its JSON transcript is not in %s", name, output_dir)
        return ()
    with open(source, encoding="utf-8") as f:
        return publish(json_format.read(f), options.publish, options.drop_uncertain)


def _outcome(result: EpisodeResult) -> Outcome:
    return Outcome(status=result.status, error=result.error, sha256=result.sha256, audio_path=result.audio_path,
                   outputs=result.outputs, duration_s=result.duration_s, wall_s=round(result.wall_s, 3),
                   timings=result.timings)
