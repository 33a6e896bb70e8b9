"""``podscribe transcribe``: files, folders, globs and URLs through the catalog."""
from __future__ import annotations

import click

from pipeline.cli.options import HELP, batch_options, batch_running, setup_logging, transcription_options
from pipeline.cli.running import executor_for, finish, open_catalog, run_jobs


@click.command(context_settings=HELP)
@click.argument("files", nargs=-1, required=True)
@transcription_options
@batch_running
def transcribe(files, output_dir, audio_dir, executor, ray_address, quiet, verbose, **params) -> None:
    """Transcribe episodes into OUTPUT_DIR: audio or video files ffmpeg reads, folders of them, globs, or
    http(s) URLs (downloaded into audio/<host>/). Each is recorded in OUTPUT_DIR/catalog.sqlite, and one done
    before with the same model and options is skipped (--force runs it again)."""
    from pipeline.library.jobs import plan_inputs

    setup_logging(verbose, params["debug"])
    options = batch_options(params)
    execute = executor_for(executor, ray_address)
    catalog = open_catalog(output_dir)
    jobs, failures = plan_inputs(files, audio_dir)
    for failure in failures:
        click.echo(failure.line(), err=True)
    results = tuple(failures) + run_jobs(jobs, options, output_dir, catalog, quiet, always_say_plan=False,
                                         execute=execute)
    if len(results) == 1 and results[0].status == "skipped":
        click.echo(results[0].line())
    finish(results, table=len(results) > 1)
