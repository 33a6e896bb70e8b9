"""The ``feed`` and ``status`` commands, and the batch behind ``transcribe``: thin click code over the library.

Heavy modules (the batch runner imports the pipeline) are imported inside the commands, so ``--help`` stays fast.
"""
from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path
from typing import Optional

import click

from pipeline.errors import PodscribeError

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3}


def parse_size(text: str) -> int:
    """``"4G"``, ``"500MB"``, ``"1048576"`` -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise PodscribeError(f"{text!r} is not a size like 500M or 4G")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


class _Size(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except PodscribeError as exc:
            self.fail(str(exc), param, ctx)


def download_options(command):
    """The options every command that may download, consult the catalog and run a batch shares."""
    for option in reversed([
        click.option("--audio-dir", default="audio", show_default=True, type=click.Path(path_type=Path),
                     help="Where downloaded episodes are kept (audio/<show>/ for a feed, audio/<host>/ for a URL)."),
        click.option("--max-size", default="4G", show_default=True, type=_Size(),
                     help="Refuse a download larger than this (bytes, or 500M, 4G)."),
        click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
                     help="Seconds to wait for a server to connect or send more."),
        click.option("--force", is_flag=True,
                     help="Run episodes the catalog (OUTPUT_DIR/catalog.sqlite) says are done with these options."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Where episodes run: here one after another, or on a Ray cluster, one per worker "
                          "(pip install 'podscribe[ray]'; see README)."),
        click.option("--ray-address", default=None,
                     help="With --executor ray: 'auto' joins the cluster `ray start` made on this machine, "
                          "HOST:PORT another; none starts a local one."),
    ]):
        command = option(command)
    return command


def transcribe_inputs(inputs, run_options, output_dir: Path, formats, drop_uncertain: bool, no_cache: bool,
                      quiet: bool, debug: bool, audio_dir: Path, max_size: int, timeout_s: float, force: bool,
                      embed_audio: bool = False, executor: str = "local",
                      ray_address: Optional[str] = None) -> int:
    """``podscribe transcribe``: files, folders, globs and URLs through the catalog; the exit code."""
    from pipeline.library.jobs import plan_inputs

    options = _batch_options(run_options, formats, drop_uncertain, no_cache, force, max_size, timeout_s, debug,
                             embed_audio=embed_audio)
    catalog = _catalog(output_dir)
    jobs, failures = plan_inputs(inputs, audio_dir)
    for failure in failures:
        click.echo(failure.line(), err=True)
    execute = _executor(executor, ray_address)
    results = list(failures) + list(_run(jobs, options, output_dir, catalog, quiet, always_say_plan=False,
                                         execute=execute))
    failed = sum(r.status == "failed" for r in results)
    if len(results) > 1:
        from pipeline.library.progress import summary_table

        click.echo(summary_table(results))
    elif results and results[0].status == "skipped":
        click.echo(results[0].line())
    if failed:
        click.echo(f"{failed} of {len(results)} file(s) failed", err=True)
    return 1 if failed else 0


def _executor(name: str, ray_address: Optional[str]):
    """The batch executor ``--executor`` names (None: the default, here)."""
    if ray_address and name != "ray":
        raise click.UsageError("--ray-address needs --executor ray")
    if name == "local":
        return None
    from pipeline.library.ray_executor import ray_executor

    try:
        return ray_executor(ray_address)
    except PodscribeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _run(jobs, options, output_dir: Path, catalog, quiet: bool, always_say_plan: bool, execute=None):
    """Run the batch with bars and lines; Ctrl-C or SIGTERM stops it with how to resume (exit 130)."""
    from pipeline.cli import _sigterm_as_interrupt
    from pipeline.library.batch import BatchInterrupted, run_batch
    from pipeline.library.progress import CliReporter

    reporter = CliReporter(quiet=quiet, always_say_plan=always_say_plan)
    try:
        with _sigterm_as_interrupt():
            return run_batch(jobs, options, output_dir, catalog, reporter, execute=execute).results
    except PodscribeError as exc:  # the executor could not start (no Ray, no cluster at that address)
        reporter.close()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except BatchInterrupted as stop:
        reporter.close()
        from pipeline.cache import CACHE_DIRNAME

        cache_dir = output_dir / CACHE_DIRNAME
        saved = f"finished chunks are saved in {cache_dir}; " if options.use_cache else ""
        click.echo(f"\ninterrupted during {stop.job.record.source} ({stop.left} file(s) not done): {saved}"
                   f"run the same command again to resume", err=True)
        sys.exit(130)
    finally:
        reporter.close()


def _batch_options(run_options, formats, drop_uncertain, no_cache, force, max_size, timeout_s, debug,
                   publish=None, embed_audio=False):
    from pipeline.library.batch import BatchOptions
    from pipeline.library.download import DownloadOptions

    try:
        return BatchOptions(run=run_options, formats=tuple(formats), drop_uncertain=drop_uncertain,
                            use_cache=not no_cache, force=force, publish=publish, debug=debug,
                            embed_audio=embed_audio,
                            download=DownloadOptions(max_size=max_size, timeout_s=timeout_s))
    except PodscribeError as exc:
        raise click.UsageError(str(exc)) from None


def _catalog(output_dir: Path):
    from pipeline.library.catalog import Catalog

    try:
        return Catalog.in_folder(output_dir)
    except PodscribeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def feed_command(transcribe: click.Command) -> click.Command:
    """``podscribe feed``: its own options plus every transcription option of ``transcribe``."""
    own = [
        click.Argument(["source"], metavar="FEED"),
        click.Option(["--limit"], type=click.IntRange(min=1), default=None,
                     help="Only the newest N episodes."),
        click.Option(["--since"], type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="Only episodes published on or after this date (YYYY-MM-DD)."),
        click.Option(["--publish", "publish_dir"], type=click.Path(path_type=Path), default=None,
                     help="Also write each transcript as WebVTT and Podcasting 2.0 JSON into this folder (what a "
                          "web server serves), and print the <podcast:transcript> lines for the feed."),
        click.Option(["--publish-url"], default=None,
                     help="The URL the --publish folder is served at, for absolute URLs in the tag lines."),
    ]
    names = {p.name for p in own}
    shared = [p for p in transcribe.params if p.name != "files" and p.name not in names]
    return click.Command("feed", callback=_feed, params=own + shared,
                         help="Transcribe the episodes of a podcast feed (an http(s) URL or a local file) that have "
                              "no transcript yet: each is downloaded into audio/<show>/, transcribed into "
                              "OUTPUT_DIR as <date>-<title>.<format> with the show, title, date, guid, enclosure "
                              "URL and description in its JSON, and recorded in OUTPUT_DIR/catalog.sqlite; a "
                              "second run does only what is new, and retries what failed.",
                         context_settings={"help_option_names": ["-h", "--help"]})


def _feed(source, limit, since, publish_dir, publish_url, output_dir, formats, drop_uncertain, no_cache, quiet,
          verbose, debug, audio_dir, max_size, timeout_s, force, executor, ray_address, vocabulary, vocabulary_file,
          embed_audio, **transcription) -> None:
    from pipeline.cli import _build_options, _enrolled_voices, _setup_logging
    from pipeline.library.jobs import plan_feed
    from pipeline.library.download import DownloadOptions
    from pipeline.library.feed import load_feed
    from pipeline.library.publish import PublishOptions
    from pipeline.merge import MergeOptions
    from pipeline.vocabulary import read_vocabulary, split_terms
    from pipeline.writers import parse_formats

    _setup_logging(verbose, debug)
    try:
        fmts = parse_formats(formats)
        publish = PublishOptions(publish_dir, publish_url) if publish_dir else None
        terms = split_terms(vocabulary or "") + (read_vocabulary(vocabulary_file) if vocabulary_file else ())
    except PodscribeError as exc:
        raise click.UsageError(str(exc)) from None
    if transcription["uncertain_below"] is None:
        transcription["uncertain_below"] = MergeOptions.uncertain_below
    voices = _enrolled_voices(transcription.pop("voices_dir"), transcription.pop("no_voices"))
    run_options = _build_options(**transcription, vocabulary=terms, voices=voices)
    options = _batch_options(run_options, fmts, drop_uncertain, no_cache, force, max_size, timeout_s, debug, publish,
                             embed_audio)
    catalog = _catalog(output_dir)
    execute = _executor(executor, ray_address)
    try:
        feed = load_feed(source, DownloadOptions(max_size=max_size, timeout_s=timeout_s))
        jobs = plan_feed(feed, audio_dir, limit, since.date().isoformat() if since else None)
    except PodscribeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{feed.title or source}: {len(feed.episodes)} episode(s) in the feed, {len(jobs)} selected")
    results = _run(jobs, options, output_dir, catalog, quiet, always_say_plan=True, execute=execute)
    if len(results) > 1 or any(r.status == "failed" for r in results):
        from pipeline.library.progress import summary_table

        click.echo(summary_table(results))
    if publish and not publish_url and any(r.tags for r in results):
        click.echo(f"(the tag URLs are relative: pass --publish-url with the URL {publish_dir} is served at)")
    sys.exit(1 if any(r.status == "failed" for r in results) else 0)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-o", "--output-dir", default="outputs", show_default=True, type=click.Path(path_type=Path),
              help="The output folder whose catalog.sqlite to list.")
@click.option("--status", "only", type=click.Choice(["pending", "done", "failed"]), default=None,
              help="Only episodes in this state.")
def status(output_dir: Path, only: Optional[str]) -> None:
    """List the episodes in OUTPUT_DIR/catalog.sqlite: status, date, name, model, when, and why one failed."""
    from pipeline.library.catalog import CATALOG_NAME, Catalog

    path = output_dir / CATALOG_NAME
    if not path.is_file():
        click.echo(f"no catalog at {path}: nothing has been transcribed into {output_dir} yet")
        return
    try:
        rows = Catalog(path).rows(status=only)
    except PodscribeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    table = [("status", "date", "episode", "model", "updated", "error")]
    for row in rows:
        when = datetime.datetime.fromtimestamp(row.updated_at).strftime("%Y-%m-%d %H:%M")
        table.append((row.status, row.date or "", row.name, row.model or "", when, row.error or ""))
    width = [max(len(r[i]) for r in table) for i in range(5)]
    for r in table:
        click.echo("  ".join(c.ljust(width[i]) if i < 5 else c for i, c in enumerate(r)).rstrip())
    counts = {s: sum(row.status == s for row in rows) for s in ("done", "failed", "pending")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
