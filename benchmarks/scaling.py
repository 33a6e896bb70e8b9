"""How podscribe scales with episode length: wall time and peak memory at 1, 10, 30 and 90 minutes.

Builds each input by looping the bundled sample (``audio/samples/interview.flac``, 106.6 s, three speakers)
with ffmpeg, then runs ``python -m pipeline transcribe`` on it in a fresh process (no cache, so every stage
runs) and reads that process's own peak RSS from ``wait4``. Prints, per input: wall time, real-time factor,
the per-stage times from the JSON output, peak RSS, and both as ratios to the 10-minute run. Targets (issue
"Never lose work"): time linear in duration, and peak RSS at 90 minutes under 1.5 times that at 10 minutes.

    python -m benchmarks.scaling [--minutes 1,10,30,90] [--model tiny.en] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import run_child

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "audio" / "samples" / "interview.flac"
STAGES = ("decode", "chunk", "transcribe", "diarize", "merge")


@dataclass(frozen=True)
class Row:
    minutes: float
    duration_s: float
    wall_s: float
    peak_rss_mb: float
    stages_s: dict
    words: int
    speakers: int


def build_input(minutes: float, folder: Path) -> Path:
    """``minutes`` of the sample looped end to end, as 16 kHz mono FLAC."""
    path = folder / f"loop-{minutes:g}min.flac"
    if not path.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(SAMPLE),
                        "-t", str(minutes * 60), "-ac", "1", "-ar", "16000", str(path)], check=True)
    return path


def run_one(path: Path, model: str, out: Path) -> Row:
    """One transcription in its own process; its wall time and its own peak RSS."""
    cmd = [sys.executable, "-m", "pipeline", "transcribe", str(path), "-o", str(out), "-m", model,
           "-f", "json", "-q", "--no-cache"]
    run = run_child(cmd)
    data = json.loads((out / f"{path.stem}.json").read_text())
    words = sum(len(t["words"]) for t in data["turns"])
    return Row(minutes=float(path.stem.split("-")[1].removesuffix("min")), duration_s=data["duration_s"],
               wall_s=run.wall_s, peak_rss_mb=run.peak_rss_mb, stages_s=data["timings_s"], words=words,
               speakers=len(data["speakers"]))


def table(rows: list[Row]) -> str:
    base = next((r for r in rows if r.minutes == 10), rows[0])
    head = (f"{'input':>7} {'dur_s':>7} {'wall_s':>7} {'RTF':>6} {'s/min':>6} {'RSS_MB':>7} "
            f"{'RSS/10min':>9} " + " ".join(f"{s:>10}" for s in STAGES) + f" {'words':>6} {'spk':>4}")
    lines = [head]
    for r in rows:
        per_min = r.wall_s / (r.duration_s / 60)
        stages = " ".join(f"{r.stages_s.get(s, 0.0):>10.1f}" for s in STAGES)
        lines.append(f"{r.minutes:>5g}m {r.duration_s:>7.0f} {r.wall_s:>7.1f} {r.wall_s / r.duration_s:>6.3f} "
                     f"{per_min:>6.1f} {r.peak_rss_mb:>7.0f} {r.peak_rss_mb / base.peak_rss_mb:>9.2f} {stages} "
                     f"{r.words:>6} {r.speakers:>4}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10,30,90", help="comma-separated input lengths")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--keep", type=Path, default=None, help="keep the inputs here (reused on the next run)")
    args = parser.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for m in minutes:
            rows.append(run_one(build_input(m, folder), args.model, Path(tmp) / "out"))
            print(f"done {m:g} min: {rows[-1].wall_s:.0f} s, {rows[-1].peak_rss_mb:.0f} MB", file=sys.stderr)
    print(f"model {args.model}, diarization on, {os.cpu_count()} CPUs; s/min = wall seconds per audio minute")
    print(table(rows))


if __name__ == "__main__":
    main()
