"""Accuracy of podscribe and plain whisper (same model file) on the dev set, per file and in total.

    .venv/bin/python -m benchmarks.accuracy [--models tiny.en,base] [--files crosstalk,read_text]
                                            [--manifest audio/dev/manifest.toml] [--out results.json]

The dev set is built by ``make devset`` (benchmarks/devset.py); ``--manifest`` also takes the bundled sample
(``audio/samples``: every audio file with ``<stem>.forum.txt`` and ``<stem>.rttm`` beside it).
podscribe runs through its CLI with diarization and ``--no-cache``; plain whisper through its own CLI
(beam 5, ``--word_timestamps True``), its words marked [?] at podscribe's default threshold so both have
a [?] baseline. Columns: WER; cpWER and DER (collar 0.25 s; podscribe only: whisper has no speakers);
lost = seconds of reference speech (RTTM) in stretches no hypothesis word comes within 0.5 s of, counted
where a stretch holds at least 1 s of speech (pipeline/evaluate/lost.py); dropped = reference words in runs of
5 or more deleted in a row (by the words alone: also a run a stretched word hides from the timing);
recall = share of wrong words
marked [?]; [?] = share of all words marked. Transcripts are kept under ``--hyp-dir``; ``--rescore``
scores the kept ones again and runs the models only for the missing ones (none with ``--no-run``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent

from pipeline.evaluate import read_hypothesis, read_reference, score, total  # noqa: E402
from pipeline.evaluate.lost import dropped_words, lost_speech  # noqa: E402
from pipeline.evaluate.manifest import Pair, read_manifest  # noqa: E402
from pipeline.files import atomic_write_text  # noqa: E402

SYSTEMS = ("podscribe", "whisper")
COLLAR_S = 0.25


@dataclass(frozen=True)
class Result:
    model: str
    system: str
    file: str
    scores: object  # pipeline.evaluate.Scores
    lost_s: float
    dropped: int
    speech_s: float
    wall_s: float


def episodes(manifest: Path) -> list[Pair]:
    if manifest.is_dir():  # a folder like audio/samples: <stem>.<audio> with .forum.txt and .rttm beside it
        return [Pair(p, (p.with_suffix(".forum.txt"), p.with_suffix(".rttm"))) for p in sorted(manifest.iterdir())
                if p.suffix in {".flac", ".wav", ".mp3"} and p.with_suffix(".rttm").exists()]
    if not manifest.is_file():
        sys.exit(f"accuracy: {manifest} not found; build the dev set first with: make devset")
    return read_manifest(manifest)


def run_podscribe(audio: Path, model: str, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pipeline", "transcribe", str(audio), "-o", str(out), "-m", model,
                    "-f", "json", "-q", "--no-cache", "--force"], check=True, capture_output=True)
    return out / f"{audio.stem}.json"


def run_whisper(audio: Path, model: str, out: Path) -> Path:
    """Plain whisper's JSON turned into our JSON (one speaker, [?] at our default threshold)."""
    from pipeline.merge import MergeOptions, merge
    from pipeline.store.registry import ensure
    from pipeline.types import Segment, Transcript, Word
    from pipeline.writers import write_all

    raw_dir = out / "raw"
    subprocess.run([str(Path(sys.executable).parent / "whisper"), str(audio), "--model", str(ensure(model)),
                    "--beam_size", "5", "--word_timestamps", "True", "--output_format", "json",
                    "--output_dir", str(raw_dir), "--fp16", "False", "--verbose", "False"],
                   check=True, capture_output=True)
    raw = json.loads((raw_dir / f"{audio.stem}.json").read_text())
    segments = [Segment(s["text"], s["start"], s["end"], tuple(Word(w["word"].strip(), w["start"], w["end"],
                                                                    w["probability"]) for w in s["words"]))
                for s in raw["segments"] if s.get("words")]
    turns, _ = merge(segments, [], MergeOptions())
    t = Transcript(episode=audio.stem, sha256="", duration_s=0.0, language=raw.get("language", ""), turns=turns)
    return write_all(t, out, ("json",))[0]


RUNNERS = {"podscribe": run_podscribe, "whisper": run_whisper}


def evaluate_one(pair: Pair, model: str, system: str, hyp_dir: Path, rescore: bool,
                 run: bool = True) -> Optional[Result]:
    """Run one system on one file (or reuse its kept transcript) and score it; None when not run nor kept."""
    out = hyp_dir / model / system
    out.mkdir(parents=True, exist_ok=True)
    hyp_path, wall = out / f"{pair.name}.json", 0.0
    if not (rescore and hyp_path.is_file()):
        if not run:
            return None
        started = time.monotonic()
        hyp_path = RUNNERS[system](pair.audio, model, out)
        wall = time.monotonic() - started
        atomic_write_text(out / f"{pair.name}.wall_s", f"{wall:.1f}\n")
    elif (out / f"{pair.name}.wall_s").is_file():  # the kept run's wall time
        wall = float((out / f"{pair.name}.wall_s").read_text())
    ref, hyp = read_reference(list(pair.references)), read_hypothesis(hyp_path)
    lost, scores = lost_speech(ref, hyp), score(ref, hyp, collar=COLLAR_S)
    return Result(model, system, pair.name, scores, lost.seconds, dropped_words(scores), lost.speech_s, wall)


def _pct(x: Optional[float]) -> str:
    return f"{x:7.1%}" if x is not None else f"{'-':>7}"


def row(name: str, r: Result, scores, lost_s: float, dropped: int, wall_s: float) -> str:
    speakers, c = r.system == "podscribe", scores.calibration
    return (f"{name:<15}{r.system:<10}{_pct(scores.wer)}"
            f"{_pct(scores.cpwer.rate if speakers and scores.cpwer else None)}"
            f"{_pct(scores.der.rate if speakers and scores.der else None)}{lost_s:7.1f}{dropped:5d}"
            f"{_pct(c.recall if c else None)}{_pct(c.marked_share if c else None)}{wall_s:7.0f}")


def table(results: list[Result]) -> str:
    lines = []
    for model in dict.fromkeys(r.model for r in results):
        lines += [f"model {model}: DER collar {COLLAR_S} s; lost = seconds of reference speech with no word near",
                  f"{'file':<15}{'system':<10}{'WER':>7}{'cpWER':>7}{'DER':>7}{'lost s':>7}{'drop':>5}{'recall':>7}"
                  f"{'[?]':>7}{'wall s':>7}"]
        mine = [r for r in results if r.model == model]
        for r in mine:
            lines.append(row(r.file, r, r.scores, r.lost_s, r.dropped, r.wall_s))
        for system in dict.fromkeys(r.system for r in mine):
            rs = [r for r in mine if r.system == system]
            lines.append(row("TOTAL", rs[0], total([r.scores for r in rs]), sum(r.lost_s for r in rs),
                             sum(r.dropped for r in rs), sum(r.wall_s for r in rs)))
        lines.append("")
    return "\n".join(lines)


def as_json(results: list[Result]) -> dict:
    def one(r: Result) -> dict:
        s, c = r.scores, r.scores.calibration
        return {"model": r.model, "system": r.system, "file": r.file, "wer": s.wer,
                "errors": s.words.__dict__ if s.words else None,
                "cpwer": s.cpwer.rate if s.cpwer and r.system == "podscribe" else None,
                "der": s.der.rate if s.der and r.system == "podscribe" else None,
                "lost_s": r.lost_s, "dropped": r.dropped, "speech_s": r.speech_s,
                "recall": c.recall if c else None, "marked_share": c.marked_share if c else None,
                "wall_s": round(r.wall_s, 1)}
    return {"collar_s": COLLAR_S, "results": [one(r) for r in results]}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base", help="comma-separated store names")
    parser.add_argument("--files", default="", help="comma-separated episode names (default: all)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="podscribe, whisper or both")
    parser.add_argument("--manifest", type=Path, default=REPO / "audio/dev/manifest.toml",
                        help="dev-set manifest (TOML/CSV as `podscribe evaluate` reads) or a samples folder")
    parser.add_argument("--hyp-dir", type=Path, default=REPO / "outputs/accuracy",
                        help="where transcripts are kept, as <model>/<system>/<file>.json")
    parser.add_argument("--rescore", action="store_true", help="score kept transcripts; run models only for missing")
    parser.add_argument("--no-run", action="store_true", help="with --rescore: skip what is not kept, run nothing")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("PODSCRIBE_MODELS_DIR", str(REPO / "models"))
    pairs = episodes(args.manifest)
    wanted = [f for f in args.files.split(",") if f]
    unknown = set(wanted) - {p.name for p in pairs}
    if unknown:
        sys.exit(f"accuracy: no such file(s) in {args.manifest}: {', '.join(sorted(unknown))}")
    pairs = [p for p in pairs if not wanted or p.name in wanted]
    results: list[Result] = []
    for model in args.models.split(","):
        for pair in pairs:
            for system in args.systems.split(","):
                result = evaluate_one(pair, model, system, args.hyp_dir, args.rescore, run=not args.no_run)
                if result is None:
                    print(f"# {model} {system} {pair.name}: no kept transcript, skipped", file=sys.stderr)
                    continue
                results.append(result)
                print(f"# {model} {system} {pair.name}: WER {results[-1].scores.wer:.1%}, "
                      f"{results[-1].wall_s:.0f} s", file=sys.stderr, flush=True)
                if args.out:  # after every file, so a long run leaves what it has
                    atomic_write_text(args.out, json.dumps(as_json(results), indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
