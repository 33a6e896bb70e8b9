"""The options ``transcribe`` and ``feed`` share, declared once, and :func:`batch_options`, the one function that
turns their parsed values into the run's options.

Each option names the field it fills, dotted from :class:`~pipeline.library.batch.BatchOptions`
(``run.transcribe.beam_size``); its default is that field's default, so a default is written in one place.
Adding a transcribe option is the field in its stage's options dataclass, one :class:`Fill` line below, and
``make docs`` (docs/architecture.md, "Adding a transcribe option").
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import click

from pipeline.asr import check_engine
from pipeline.asr.options import COMPUTE_TYPES, ENGINES, TranscribeOptions
from pipeline.chunk import ChunkOptions
from pipeline.cli.errors import OptionError
from pipeline.device import DEVICES
from pipeline.errors import PodscribeError
from pipeline.library.batch import BatchOptions
from pipeline.library.download import DownloadOptions
from pipeline.merge import MergeOptions
from pipeline.vocabulary import read_vocabulary, split_terms
from pipeline.writers import WRITERS, parse_formats

HELP = {"help_option_names": ["-h", "--help"]}
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3}


def parse_size(text: str) -> int:
    """``"4G"``, ``"500MB"``, ``"1048576"`` -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise PodscribeError(f"{text!r} is not a size like 500M or 4G")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _size_text(n: int) -> str:
    return next(f"{n // unit}{suffix}" for unit, suffix in ((1024 ** 3, "G"), (1024 ** 2, "M"), (1, ""))
                if n % unit == 0)


class _Size(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except PodscribeError as exc:
            self.fail(str(exc), param, ctx)


class _BatchSize(click.ParamType):
    name = "auto|N"

    def convert(self, value, param, ctx):
        if value == "auto" or isinstance(value, int):
            return value
        if not str(value).isdigit() or int(value) < 1:
            self.fail(f"{value!r} is not 'auto' or a positive whole number", param, ctx)
        return int(value)


def _default(cls, name: str):
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _names(value: Optional[str]) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",")) if value else ()


@dataclass(frozen=True)
class Fill:
    """One click option and the option field(s) its value fills, through ``convert``. Fields filled by more than
    one option take their values joined (``--vocabulary`` and ``--vocabulary-file``)."""

    decls: tuple[str, ...]
    fills: tuple[str, ...]
    attrs: Mapping[str, Any]
    convert: Optional[Callable[[Any], Any]] = None

    @functools.cached_property
    def name(self) -> str:
        """The parameter's name, as click derives it from the declarations."""
        return click.Option(list(self.decls), **self.attrs).name


def _fill(*decls: str, fills: str | tuple[str, ...], convert=None, **attrs) -> Fill:
    return Fill(decls, (fills,) if isinstance(fills, str) else fills, attrs, convert)


# Every option of the transcription itself: the model and its stages, the speakers, the [?] marks.
TRANSCRIPTION = (
    _fill("-m", "--model", fills="run.transcribe.model", default=_default(TranscribeOptions, "model"),
          show_default=True,
          help="Whisper model: a store name (tiny.en, base), a checkpoint path, or an official name (large-v3, "
               "turbo, ...)."),
    _fill("--engine", fills="run.transcribe.engine", type=click.Choice(ENGINES),
          default=_default(TranscribeOptions, "engine"), show_default=True,
          help="Speech recognizer: openai-whisper, or CTranslate2 (faster on a CPU; docs/engines.md)."),
    _fill("--compute-type", fills="run.transcribe.compute_type", type=click.Choice(COMPUTE_TYPES),
          default=_default(TranscribeOptions, "compute_type"), show_default=True,
          help="CTranslate2 engine precision; auto is int8 on a CPU, float16 on a GPU; int8_decoder keeps the "
               "encoder in float32 (a little more accurate, more memory; docs/engines.md)."),
    _fill("--device", fills=("run.transcribe.device", "run.diarize.device"), type=click.Choice(DEVICES),
          default=_default(TranscribeOptions, "device"), show_default=True,
          help="Where the models run; auto takes the GPU when torch sees one."),
    _fill("--language", fills="run.transcribe.language", default=None,
          help="Spoken language (en, de, ...); if omitted, the one the feed declares, else detected once per episode. "
               "An English-only model (*.en) refuses any other."),
    _fill("--speakers", fills="run.merge.speaker_names", convert=_names, default=None,
          help='Names in order of first appearance, e.g. "BRIAN,JEFF,CHRIS".'),
    _fill("--vocabulary", fills="run.transcribe.vocabulary", convert=lambda v: split_terms(v or ""), default=None,
          help='Names and terms to spell right, comma separated, e.g. "Linode, UML, Jeff Dike".'),
    _fill("--vocabulary-file", fills="run.transcribe.vocabulary", default=None,
          convert=lambda path: read_vocabulary(path) if path else (),
          type=click.Path(exists=True, dir_okay=False, path_type=Path),
          help="A file of names and terms (comma or line separated); EPISODE.vocab.txt beside an episode is "
               "read by itself."),
    _fill("--num-speakers", fills="run.diarize.num_speakers", type=click.IntRange(min=1), default=None,
          help="Exact number of speakers, when known."),
    _fill("--min-speakers", fills="run.diarize.min_speakers", type=click.IntRange(min=1), default=None,
          help="Lower bound on the number of speakers."),
    _fill("--max-speakers", fills="run.diarize.max_speakers", type=click.IntRange(min=1), default=None,
          help="Upper bound on the number of speakers."),
    _fill("--uncertain-below", fills="run.merge.uncertain_below", type=float,
          default=_default(MergeOptions, "uncertain_below"), show_default=True,
          help="Mark words whose probability is under this as [?] (how it was chosen: docs/coverage.md)."),
    _fill("--max-chunk", fills="run.chunk.max_chunk_s", type=float, default=_default(ChunkOptions, "max_chunk_s"),
          show_default=True, help="Longest chunk sent to Whisper, in seconds."),
    _fill("--chunk-by", fills="run.chunk.source", type=click.Choice(["energy", "speech"]),
          default=_default(ChunkOptions, "source"), show_default=True,
          help="Where chunks come from: every sound above the noise floor, or only what the segmentation model "
               "calls speech (less decoding where there is music, but speech it misses is never decoded; "
               "docs/coverage.md)."),
    _fill("--beam-size", fills="run.transcribe.beam_size", type=click.IntRange(min=0), convert=lambda n: n or None,
          default=_default(TranscribeOptions, "beam_size"), show_default=True,
          help="Beams at temperature 0 (0: greedy, faster and a little less accurate)."),
    _fill("--context/--no-context", fills="run.transcribe.context", default=None,
          convert=lambda flag: "auto" if flag is None else flag,
          help="Prompt each chunk with the last words of the chunk before it, as plain whisper does from window to "
               "window; chunks then decode one after another instead of in batches (slower). [default: on for "
               "the tiny models with --engine whisper, off otherwise; docs/engines.md]"),
    _fill("--batch-size", fills="run.transcribe.batch_size", type=_BatchSize(),
          default=_default(TranscribeOptions, "batch_size"), show_default=True,
          help="Without context, chunks decoded together: auto (the engine's: 5 with whisper on a CPU) or a "
               "number; the words are the same."),
    _fill("--no-diarize", fills="run.diarization", is_flag=True, convert=lambda flag: not flag,
          help="Skip speaker diarization: one speaker throughout."),
)

# What is written, and how a batch of episodes is fetched and run.
OUTPUT = (
    _fill("-f", "--format", "formats", fills="formats", multiple=True, default=("all",), show_default=True,
          convert=parse_formats,
          help=f"{', '.join(WRITERS)}, or all; comma-separated or -f given again."),
    _fill("--drop-uncertain", fills="drop_uncertain", is_flag=True,
          help="Write the [?] mark alone instead of the model's guess."),
    _fill("--embed-audio", fills="embed_audio", is_flag=True,
          help="Put a compressed copy of the audio (Opus, 24 kbit/s) into the html review page, to share one file."),
    _fill("--no-cache", fills="use_cache", is_flag=True, convert=lambda flag: not flag,
          help="Do not save or reuse finished chunks and diarization in OUTPUT_DIR/.podscribe-cache (the cache "
               "lets an interrupted run resume, and a re-run with new formats or --uncertain-below run no model)."),
    _fill("--force", fills="force", is_flag=True,
          help="Run episodes the catalog (OUTPUT_DIR/catalog.sqlite) says are done with these options."),
    _fill("--max-size", fills="download.max_size", type=_Size(),
          default=_size_text(_default(DownloadOptions, "max_size")), show_default=True,
          help="Refuse a download larger than this (bytes, or 500M, 4G)."),
    _fill("--timeout", "timeout_s", fills="download.timeout_s", type=click.FloatRange(min=0.1),
          default=_default(DownloadOptions, "timeout_s"), show_default=True,
          help="Seconds to wait for a server to connect or send more."),
    _fill("--debug", fills="debug", is_flag=True, help="Show tracebacks and debug logs."),
)

FILLS = TRANSCRIPTION + OUTPUT


def _options(fills: tuple[Fill, ...]):
    def decorate(command):
        for fill in reversed(fills):
            command = click.option(*fill.decls, **fill.attrs)(command)
        return command
    return decorate


#: every option that fills the run's options (``transcribe`` and ``feed``)
transcription_options = _options(FILLS)


def batch_running(command):
    """Where the outputs and downloads go, where the episodes run, what is shown: options of every batch command."""
    for option in reversed([
        click.option("-o", "--output-dir", default="outputs", show_default=True, type=click.Path(path_type=Path),
               help="Folder for the transcripts, written as <episode>.<format>, and their catalog."),
        click.option("--audio-dir", default="audio", show_default=True, type=click.Path(path_type=Path),
               help="Where downloaded episodes are kept (audio/<show>/ for a feed, audio/<host>/ for a URL)."),
        click.option("--voices", "voices_dir", type=click.Path(path_type=Path), default=None,
               help="Folder of enrolled voices that name the speakers they recognise (default: ./voices if it has "
                    "any; see `podscribe voices`). --speakers overrides them."),
        click.option("--no-voices", is_flag=True, help="Do not name speakers by enrolled voices."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
               help="Where episodes run: here one after another, or on a Ray cluster, one per worker "
                    "(pip install 'podscribe[ray]'; docs/feeds.md)."),
        click.option("--ray-address", default=None,
               help="With --executor ray: 'auto' joins the cluster `ray start` made on this machine, "
                    "HOST:PORT another; none starts a local one."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
        click.option("-v", "--verbose", count=True, help="Log what each stage does."),
    ]):
        command = option(command)
    return command


def batch_options(params: Mapping[str, Any], publish=None) -> BatchOptions:
    """The run's options from the parsed values of :data:`FILLS` (and ``--voices``/``--no-voices``): each value
    through its option's ``convert`` into the field it fills. A value the options refuse, a voices folder that
    cannot be read, an engine not installed or a model that cannot be had is an :class:`OptionError`, before any
    work."""
    values: dict[str, Any] = {}
    try:
        for fill in FILLS:
            value = fill.convert(params[fill.name]) if fill.convert else params[fill.name]
            for field in fill.fills:
                values[field] = values[field] + value if field in values else value
        values["run.voices"] = enrolled_voices(params.get("voices_dir"), params.get("no_voices", False))
        options = _build(BatchOptions, values | {"publish": publish})
        check_engine(options.run.transcribe)
        return options
    except PodscribeError as exc:
        raise OptionError(str(exc)) from None


def _build(cls, values: Mapping[str, Any]):
    """``cls`` from dotted field values (``{"run.transcribe.beam_size": 5, "force": True}``): nested option
    dataclasses are built from theirs, fields not named keep their defaults."""
    own = {k: v for k, v in values.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
    hints = typing.get_type_hints(cls)
    return cls(**own, **{name: _build(hints[name], inner) for name, inner in nested.items()})


def enrolled_voices(folder: Optional[Path], disabled: bool) -> tuple:
    """The voices in ``folder`` (default ./voices, when it exists); a bad voices file is a usage error."""
    if disabled:
        if folder is not None:
            raise PodscribeError("--voices and --no-voices exclude each other")
        return ()
    if folder is not None and not Path(folder).is_dir():
        raise PodscribeError(f"--voices {folder}: no such folder")
    from pipeline.voices.store import DEFAULT_DIR, embedding_identity, load_voices

    return load_voices(Path(folder or DEFAULT_DIR), embedding_identity())


def setup_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
