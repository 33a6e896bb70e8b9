"""Where chunks come from: the energy envelope or the segmentation model's speech activity, side by side.

    .venv/bin/python -m benchmarks.chunking [--models tiny.en,base] [--files music_outro,crosstalk]
                                            [--manifest audio/dev/manifest.toml] [--rescore]

For each model and file, podscribe runs twice with its default options but ``ChunkOptions.source`` (one
``Transcriber`` per source and model, models loaded once, diarization on), transcripts kept as
``<hyp-dir>/<source>/<model>/podscribe/<file>.json`` (``--rescore`` scores kept ones and runs only the missing,
so ``benchmarks/accuracy.py --hyp-dir outputs/chunking/<source> --rescore`` reads them too). Columns: WER,
cpWER (collar 0.25 s), dropped = reference words in runs of 5 or more deleted in a row (by the words alone:
a sentence that went missing), lost = seconds of reference speech no word comes near (pipeline/evaluate/lost.py),
outside = hypothesis words whose middle is more than 0.5 s from any reference speech (words on music or
silence: insertions there), asr s = the transcribe stage plus the coverage pass (from the JSON's timings).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent

from pipeline.evaluate import read_hypothesis, read_reference, score, total  # noqa: E402
from pipeline.evaluate.lost import NEAR_S, dropped_words, lost_speech, outside_speech  # noqa: E402

SOURCES = ("energy", "speech")
COLLAR_S = 0.25


@dataclass(frozen=True)
class Row:
    model: str
    source: str
    file: str
    scores: object  # pipeline.evaluate.Scores
    lost_s: float
    dropped: int
    outside: int
    asr_s: float


def transcribe_missing(pairs, model: str, source: str, out: Path) -> None:
    """Run podscribe (default options, chunks from ``source``) on the files with no kept transcript."""
    from pipeline.run import RunOptions, Transcriber
    from pipeline.writers import write_all

    todo = [p for p in pairs if not (out / f"{p.name}.json").is_file()]
    if not todo:
        return
    defaults = RunOptions()
    options = replace(defaults, chunk=replace(defaults.chunk, source=source),
                      transcribe=replace(defaults.transcribe, model=model))
    transcriber = Transcriber(options, keep_loaded=True)
    for pair in todo:
        started = time.monotonic()
        write_all(transcriber.run(pair.audio), out, ("json",))
        print(f"# {model} {source} {pair.name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def measure(pair, model: str, source: str, out: Path) -> Row:
    import json

    ref, hyp_path = read_reference(list(pair.references)), out / f"{pair.name}.json"
    hyp = read_hypothesis(hyp_path)
    timings = json.loads(hyp_path.read_text()).get("timings_s", {})
    scores = score(ref, hyp, collar=COLLAR_S)
    return Row(model, source, pair.name, scores, lost_speech(ref, hyp).seconds, dropped_words(scores),
               outside_speech(ref, hyp), timings.get("transcribe", 0.0) + timings.get("coverage", 0.0))


def _pct(x: Optional[float]) -> str:
    return f"{x:7.1%}" if x is not None else f"{'-':>7}"


def line(name: str, source: str, scores, lost_s: float, dropped: int, outside: int, asr_s: float) -> str:
    return (f"{name:<15}{source:<8}{_pct(scores.wer)}{_pct(scores.cpwer.rate if scores.cpwer else None)}"
            f"{dropped:8d}{lost_s:7.1f}{outside:8d}{asr_s:7.0f}")


def table(rows: list[Row]) -> str:
    lines = []
    for model in dict.fromkeys(r.model for r in rows):
        lines += [f"model {model}: cpWER collar {COLLAR_S} s; lost = seconds of reference speech with no word near; "
                  f"outside = words > {NEAR_S} s from reference speech",
                  f"{'file':<15}{'chunks':<8}{'WER':>7}{'cpWER':>7}{'dropped':>8}{'lost s':>7}"
                  f"{'outside':>8}{'asr s':>7}"]
        mine = [r for r in rows if r.model == model]
        for name in dict.fromkeys(r.file for r in mine):
            lines += [line(r.file, r.source, r.scores, r.lost_s, r.dropped, r.outside, r.asr_s)
                      for r in mine if r.file == name]
        for source in SOURCES:
            rs = [r for r in mine if r.source == source]
            if rs:
                lines.append(line("TOTAL", source, total([r.scores for r in rs]), sum(r.lost_s for r in rs),
                                  sum(r.dropped for r in rs), sum(r.outside for r in rs), sum(r.asr_s for r in rs)))
        lines.append("")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    from benchmarks.accuracy import episodes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base", help="comma-separated store names")
    parser.add_argument("--files", default="", help="comma-separated episode names (default: all)")
    parser.add_argument("--manifest", type=Path, default=REPO / "audio/dev/manifest.toml")
    parser.add_argument("--hyp-dir", type=Path, default=REPO / "outputs/chunking")
    parser.add_argument("--rescore", action="store_true", help="score kept transcripts; run only the missing")
    args = parser.parse_args(argv)
    os.environ.setdefault("PODSCRIBE_MODELS_DIR", str(REPO / "models"))
    wanted = {f for f in args.files.split(",") if f}
    pairs = [p for p in episodes(args.manifest) if not wanted or p.name in wanted]
    rows: list[Row] = []
    for model in args.models.split(","):
        for source in SOURCES:
            out = args.hyp_dir / source / model / "podscribe"
            out.mkdir(parents=True, exist_ok=True)
            if not args.rescore:
                for pair in pairs:
                    (out / f"{pair.name}.json").unlink(missing_ok=True)
            transcribe_missing(pairs, model, source, out)
            rows += [measure(pair, model, source, out) for pair in pairs]
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
