"""``podscribe feed`` and ``podscribe status``: a show's feed through the catalog, and what the catalog holds."""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Optional

import click

from pipeline.cli.options import HELP, batch_options, batch_running, setup_logging, transcription_options
from pipeline.cli.running import check, executor_for, finish, open_catalog, run_jobs


@click.command(context_settings=HELP)
@click.argument("source", metavar="FEED")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the newest N episodes.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only episodes published on or after this date (YYYY-MM-DD).")
@click.option("--publish", "publish_dir", type=click.Path(path_type=Path), default=None,
              help="Also write each transcript as WebVTT and Podcasting 2.0 JSON into this folder (what a web server "
                   "serves), and print the <podcast:transcript> lines for the feed.")
@click.option("--publish-url", default=None,
              help="The URL the --publish folder is served at, for absolute URLs in the tag lines.")
@transcription_options
@batch_running
def feed(source, limit, since, publish_dir, publish_url, output_dir, audio_dir, executor, ray_address, quiet,
         verbose, **params) -> None:
    """Transcribe the episodes of a podcast feed (an http(s) URL or a local file) that have no transcript yet:
    each is downloaded into audio/<show>/, transcribed into OUTPUT_DIR as <date>-<title>.<format> with the show,
    title, date, guid, enclosure URL and description in its JSON, and recorded in OUTPUT_DIR/catalog.sqlite; a
    second run does only what is new, and retries what failed."""
    from pipeline.asr import whisper_languages
    from pipeline.library.feed import load_feed
    from pipeline.library.jobs import declared_languages, plan_feed
    from pipeline.library.publish import PublishOptions

    setup_logging(verbose, params["debug"])
    publish = check(PublishOptions, publish_dir, publish_url) if publish_dir else None
    options = batch_options(params, publish=publish)
    execute = executor_for(executor, ray_address)
    catalog = open_catalog(output_dir)
    loaded = load_feed(source, options.download)
    jobs = plan_feed(loaded, audio_dir, limit, since.date().isoformat() if since else None)
    if any(job.language for job in jobs):
        jobs = check(declared_languages, jobs, options.run.transcribe, whisper_languages())
    click.echo(f"{loaded.title or source}: {len(loaded.episodes)} episode(s) in the feed, {len(jobs)} selected")
    results = run_jobs(jobs, options, output_dir, catalog, quiet, always_say_plan=True, execute=execute)
    if publish and not publish_url and any(r.tags for r in results):
        click.echo(f"(the tag URLs are relative: pass --publish-url with the URL {publish_dir} is served at)")
    finish(results, table=len(results) > 1)


@click.command(context_settings=HELP)
@click.option("-o", "--output-dir", default="outputs", show_default=True, type=click.Path(path_type=Path),
              help="The output folder whose catalog.sqlite to list.")
@click.option("--status", "only", type=click.Choice(["pending", "done", "failed"]), default=None,
              help="Only episodes in this state.")
@click.option("--show", default=None, help="Only the episodes of this show (as the show column gives it).")
def status(output_dir: Path, only: Optional[str], show: Optional[str]) -> None:
    """List the episodes in OUTPUT_DIR/catalog.sqlite: status (a pending episode a live run holds is 'running'),
    show, date, name, model, attempts, when, and which process runs it or why it failed."""
    from pipeline.library.catalog import CATALOG_NAME, Catalog

    path = output_dir / CATALOG_NAME
    if not path.is_file():
        click.echo(f"no catalog at {path}: nothing has been transcribed into {output_dir} yet")
        return
    rows = Catalog(path).rows(status=only, show=show)
    header = ("status", "show", "date", "episode", "model", "tries", "updated", "running on / error")
    _echo_table([header] + [_status_line(row) for row in rows])
    running = sum(row.held() for row in rows)
    counts = {s: sum(row.status == s for row in rows) for s in ("done", "failed", "pending")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()) + (f" ({running} running now)" if running else ""))


def _status_line(row) -> tuple[str, ...]:
    when = datetime.datetime.fromtimestamp(row.updated_at).strftime("%Y-%m-%d %H:%M")
    held = row.held()
    state = "running" if held else row.status
    detail = f"{row.claim_host} pid {row.claim_pid}" if held else (row.error or "")
    return (state, row.show or "", row.date or "", row.name, row.model or "", str(row.attempts), when, detail)


def _echo_table(table: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell; the last one is left as it is (an error line can be long)."""
    width = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    for r in table:
        click.echo("  ".join([c.ljust(w) for c, w in zip(r, width)] + [r[-1]]).rstrip())
