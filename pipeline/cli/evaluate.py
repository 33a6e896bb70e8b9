"""``podscribe evaluate``: score a transcript against a reference, a manifest of episodes, or every reviewed episode
of an output folder's catalog (``--catalog``, :mod:`pipeline.evaluate.catalog`).

Exit codes: 0 scored, 1 a file could not be read or scored (one-line error), 2 usage.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import click

from pipeline.cli.errors import OptionError
from pipeline.cli.options import HELP, setup_logging
from pipeline.errors import PodscribeError
from pipeline.evaluate.manifest import read_manifest
from pipeline.evaluate.metrics import NORMALIZERS
from pipeline.evaluate.readers import FORMATS as _FORMATS

log = logging.getLogger(__name__)


@click.command(context_settings=HELP)
@click.option("--ref", "refs", multiple=True, type=click.Path(path_type=Path),
              help="Reference transcript; repeat to add speaker turns (e.g. --ref ep.forum.txt --ref ep.rttm).")
@click.option("--hyp", "hyps", multiple=True, type=click.Path(path_type=Path),
              help="Hypothesis transcript (our JSON keeps probabilities and [?] flags); repeatable like --ref.")
@click.option("--ref-format", type=click.Choice(_FORMATS), multiple=True,
              help="Reference format, paired with the --ref files in order (default: detected).")
@click.option("--hyp-format", type=click.Choice(_FORMATS), multiple=True,
              help="Hypothesis format, paired with the --hyp files in order (default: detected).")
@click.option("--manifest", type=click.Path(path_type=Path), default=None,
              help="TOML or CSV of (audio, reference[, hypothesis]); missing transcripts are made into OUTPUTS.")
@click.option("--catalog", "catalog_dir", type=click.Path(path_type=Path), default=None,
              help="Score every episode reviewed in this output folder's catalog: the model's transcript against "
                   "the latest review, per episode (with its date and the vocabulary terms its prompt had), per show "
                   "and in total; words the reviewer left marked are not scored.")
@click.option("--show", default=None, help="With --catalog: only this show's episodes.")
@click.option("--outputs", "outputs_dir", type=click.Path(path_type=Path), default=Path("outputs"), show_default=True,
              help="Where manifest hypotheses are looked for (<audio stem>.json) and written.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "html"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the report here (html default: next to the hypothesis as <stem>.report.html).")
@click.option("--collar", type=click.FloatRange(min=0.0), default=0.25, show_default=True,
              help="DER forgiveness collar, pyannote's convention: total width around each reference boundary (s).")
@click.option("--normalizer", type=click.Choice(NORMALIZERS), default="auto", show_default=True,
              help="Text normalisation before WER/CER: auto picks Whisper's English normaliser for an English (or "
                   "unknown-language) transcript and its basic one (accents kept) otherwise; basic-ascii strips "
                   "accents; none only makes quotes ASCII. The report says which was used.")
@click.option("-v", "--verbose", count=True, help="Log what is read and scored.")
def evaluate(refs, hyps, ref_format, hyp_format, manifest, catalog_dir, show, outputs_dir, fmt, output, collar,
             normalizer, verbose):
    """Score a transcript: WER/CER, per-speaker WER, cpWER, DER and how well the [?] marks find errors; or, with
    --catalog, the model on every episode reviewed in an output folder."""
    setup_logging(verbose, debug=False)
    if catalog_dir is not None:
        if manifest is not None or refs or hyps:
            raise click.UsageError("give either --catalog or --ref/--hyp/--manifest, not both")
        if fmt == "html":
            raise OptionError("--catalog reports as a table or json, not html")
        _run_catalog(catalog_dir, show, fmt, output, normalizer)
        return
    if show is not None:
        raise click.UsageError("--show goes with --catalog")
    if manifest is not None and (refs or hyps):
        raise click.UsageError("give either --manifest or --ref/--hyp, not both")
    if manifest is None and not (refs and hyps):
        raise click.UsageError("give --ref and --hyp (or --manifest, or --catalog)")
    if manifest is not None:
        _run_manifest(manifest, outputs_dir, fmt, output, collar, normalizer)
    else:
        _run_pair(refs, hyps, ref_format, hyp_format, fmt, output, collar, normalizer)


def _run_pair(refs, hyps, ref_format, hyp_format, fmt, output, collar, normalizer) -> None:
    from pipeline.evaluate import read_hypothesis, read_reference, score
    from pipeline.evaluate.report import Row

    ref = read_reference(list(refs), list(ref_format))
    hyp = read_hypothesis(list(hyps), list(hyp_format))
    name = Path(hyps[0]).name.split(".")[0]
    row = Row(name, ref, hyp, score(ref, hyp, collar=collar, normalizer=normalizer))
    if fmt == "html":
        target = output or Path(hyps[0]).with_name(f"{name}.report.html")
        _html(row, target)
    else:
        _emit([row], None, fmt, output)


def _html(row, target: Path) -> None:
    from pipeline.evaluate.report import page
    from pipeline.files import atomic_write_text

    atomic_write_text(target, page(row))
    click.echo(f"{row.name}: report -> {target}")


def _emit(rows, totals, fmt: str, output: Optional[Path]) -> None:
    from pipeline.evaluate.report import as_json, table

    _write(json.dumps(as_json(rows, totals), indent=1) if fmt == "json" else table(rows, totals), output)


def _write(text: str, output: Optional[Path]) -> None:
    from pipeline.files import atomic_write_text

    if output:
        atomic_write_text(output, text + "\n")
        click.echo(f"report -> {output}", err=True)
    else:
        click.echo(text)


def _run_catalog(catalog_dir: Path, show: Optional[str], fmt: str, output: Optional[Path], normalizer: str) -> None:
    from pipeline.evaluate.catalog import as_json, evaluate_catalog, table

    result = evaluate_catalog(catalog_dir, show=show, normalizer=normalizer)
    _write(json.dumps(as_json(result), indent=1) if fmt == "json" else table(result), output)


def _run_manifest(manifest: Path, outputs_dir: Path, fmt, output, collar, normalizer) -> None:
    from pipeline.evaluate import read_hypothesis, read_reference, score, total
    from pipeline.evaluate.report import Row

    rows = []
    for pair in read_manifest(manifest):
        hyp_path = pair.hypothesis or _transcript_of(pair.audio, outputs_dir)
        ref, hyp = read_reference(list(pair.references)), read_hypothesis(hyp_path)
        rows.append(Row(pair.name, ref, hyp, score(ref, hyp, collar=collar, normalizer=normalizer)))
        if fmt == "html":
            _html(rows[-1], hyp_path.with_name(f"{pair.name}.report.html"))
    _emit(rows, total([r.scores for r in rows]), "json" if fmt == "json" else "table",
          output if fmt != "html" else None)


def _transcript_of(audio: Path, outputs_dir: Path) -> Path:
    """``outputs/<stem>.json``, transcribing the audio first (with default options) when it is not there."""
    path = outputs_dir / f"{audio.stem}.json"
    if path.is_file():
        return path
    if not audio.is_file():
        raise PodscribeError(f"{audio}: no such audio file, and no transcript at {path}")
    from pipeline.run import RunOptions, Transcriber
    from pipeline.writers import write_all

    click.echo(f"{audio.name}: no transcript at {path}; transcribing", err=True)
    transcript = Transcriber(RunOptions()).run(audio)
    return write_all(transcript, outputs_dir, ("json",))[0]
