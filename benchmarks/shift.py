"""How much one file's WER moves when nothing but the start of the audio moves: the noise floor of a per-file
comparison.

    .venv/bin/python -m benchmarks.shift [--models tiny.en] [--files quiet_speaker,real_podcast]
                                         [--shifts 0,0.25,0.5,1.0] [--systems podscribe,whisper]

Each dev-set file is run again with that much silence put before it (ffmpeg), by podscribe and by plain whisper
exactly as ``benchmarks/accuracy.py`` runs them, and scored against the same reference (WER needs no times).
Plain whisper's 30 s windows fall elsewhere with every shift; podscribe cuts its chunks at pauses, which move
with the audio. The spread (max - min) of a system's WER over the shifts is how far apart two equally good
systems can land on that file by chance. Transcripts are kept in ``--hyp-dir/<model>/<system>/<file>@<shift>``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent

from benchmarks.accuracy import RUNNERS, episodes  # noqa: E402
from pipeline.evaluate import read_hypothesis, read_reference, score  # noqa: E402


def shifted(audio: Path, shift_s: float, folder: Path) -> Path:
    """The file with ``shift_s`` seconds of silence before it, named like it (the reference is found by name)."""
    if shift_s == 0:
        return audio
    out = folder / audio.name
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-t", str(shift_s), "-i",
                    "anullsrc=r=16000:cl=mono", "-i", str(audio), "-filter_complex", "[0][1]concat=n=2:v=0:a=1",
                    "-ar", "16000", "-ac", "1", str(out)], check=True)
    return out


def wer_at(pair, model: str, system: str, shift_s: float, hyp_dir: Path) -> float:
    out = hyp_dir / model / system / f"{pair.name}@{shift_s:g}"
    hyp = out / f"{pair.name}.json"
    if not hyp.is_file():
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            RUNNERS[system](shifted(pair.audio, shift_s, Path(tmp)), model, out)
    return score(read_reference(list(pair.references)), read_hypothesis(hyp)).wer


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en")
    parser.add_argument("--files", default="quiet_speaker,real_podcast")
    parser.add_argument("--shifts", default="0,0.25,0.5,1.0", help="seconds of silence put before the audio")
    parser.add_argument("--systems", default="podscribe,whisper")
    parser.add_argument("--manifest", type=Path, default=REPO / "audio/dev/manifest.toml")
    parser.add_argument("--hyp-dir", type=Path, default=REPO / "outputs/shift")
    args = parser.parse_args(argv)
    os.environ.setdefault("PODSCRIBE_MODELS_DIR", str(REPO / "models"))
    shifts = [float(s) for s in args.shifts.split(",")]
    wanted = args.files.split(",")
    pairs = [p for p in episodes(args.manifest) if p.name in wanted]
    print(f"{'model':<9}{'file':<15}{'system':<11}" + "".join(f"{f'+{s:g} s':>8}" for s in shifts)
          + f"{'mean':>8}{'spread':>8}")
    for model in args.models.split(","):
        for pair in pairs:
            for system in args.systems.split(","):
                wers = [wer_at(pair, model, system, s, args.hyp_dir) for s in shifts]
                print(f"{model:<9}{pair.name:<15}{system:<11}" + "".join(f"{w:8.1%}" for w in wers)
                      + f"{sum(wers) / len(wers):8.1%}{max(wers) - min(wers):8.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
