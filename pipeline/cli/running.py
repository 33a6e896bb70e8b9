"""Running a batch of episodes from a command: the executor, the catalog, bars and lines, the table at the end and
the exit code. ``transcribe`` and ``feed`` both run their jobs through :func:`run_jobs`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import click

from pipeline.cli.errors import OptionError
from pipeline.errors import PodscribeError
from pipeline.library.batch import BatchInterrupted, BatchOptions, Executor, run_batch
from pipeline.library.catalog import Catalog
from pipeline.library.jobs import EpisodeJob, EpisodeResult


def executor_for(name: str, ray_address: Optional[str]) -> Optional[Executor]:
    """The batch executor ``--executor`` names (None: the default, here); Ray is checked now, before any work."""
    if ray_address and name != "ray":
        raise OptionError("--ray-address needs --executor ray")
    if name == "local":
        return None
    from pipeline.library.ray_executor import ray_executor

    return check(ray_executor, ray_address)


def open_catalog(output_dir: Path) -> Catalog:
    return Catalog.in_folder(output_dir)


def run_jobs(jobs: Sequence[EpisodeJob], options: BatchOptions, output_dir: Path, catalog: Catalog, quiet: bool,
             always_say_plan: bool, execute: Optional[Executor] = None) -> tuple[EpisodeResult, ...]:
    """Run the batch with bars and a line per episode. Ctrl-C or SIGTERM stops it, says how to resume, exit 130."""
    from pipeline.library.progress import CliReporter

    reporter = CliReporter(quiet=quiet, always_say_plan=always_say_plan)
    try:
        return run_batch(jobs, options, output_dir, catalog, reporter, execute=execute).results
    except BatchInterrupted as stop:
        reporter.close()
        from pipeline.cache import CACHE_DIRNAME

        saved = f"finished chunks are saved in {output_dir / CACHE_DIRNAME}; " if options.use_cache else ""
        click.echo(f"\ninterrupted during {stop.job.record.source} ({stop.left} file(s) not done): {saved}"
                   f"run the same command again to resume", err=True)
        raise click.exceptions.Exit(130) from None
    finally:
        reporter.close()


def finish(results: Sequence[EpisodeResult], table: bool) -> None:
    """The table of a batch (with ``table``, or when something failed), the count of failures; exit 1 if any."""
    failed = sum(r.status == "failed" for r in results)
    if table or failed:
        from pipeline.library.progress import summary_table

        click.echo(summary_table(results))
    if failed:
        click.echo(f"{failed} of {len(results)} file(s) failed", err=True)
        raise click.exceptions.Exit(1)


def check(fn, *args):
    """``fn(*args)``; a :class:`PodscribeError` from it is an option the run cannot use (exit 2, before any work)."""
    try:
        return fn(*args)
    except PodscribeError as exc:
        raise OptionError(str(exc)) from None
