"""podscribe against the plain `whisper` CLI on the same file, same model, in one run.

    .venv/bin/python -m benchmarks.speed [--model base] [--audio audio/samples/interview.flac]

Prints both wall times, their ratio, both WERs (against the sample's reference) and podscribe's per-stage
times. Plain whisper runs with ``--word_timestamps True`` on the same converted checkpoint from the store.
Targets (not tests): podscribe, diarization included, no slower than plain whisper; its WER no worse.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from pipeline.evaluate import read_hypothesis, read_reference, score  # noqa: E402
from pipeline.store.registry import ensure  # noqa: E402


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--audio", type=Path, default=REPO / "audio/samples/interview.flac")
    parser.add_argument("--reference", type=Path, default=None, help="default: <audio>.forum.txt beside the audio")
    args = parser.parse_args()
    reference = read_reference(args.reference or args.audio.with_name(args.audio.stem + ".forum.txt"))
    checkpoint = ensure(args.model)
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        ours_dir, plain_dir = Path(tmp, "ours"), Path(tmp, "plain")
        ours_s = timed([sys.executable, "-m", "pipeline", "transcribe", str(args.audio), "-o", str(ours_dir),
                        "-m", args.model, "-f", "json", "-q"])
        plain_s = timed([str(bin_dir / "whisper"), str(args.audio), "--model", str(checkpoint), "--word_timestamps",
                         "True", "--output_format", "txt", "--output_dir", str(plain_dir), "--fp16", "False",
                         "--verbose", "False"] + (["--language", "en"] if args.model.endswith(".en") else []))
        ours_json = ours_dir / f"{args.audio.stem}.json"
        ours_wer = score(reference, read_hypothesis(ours_json)).wer
        plain_wer = score(reference, read_hypothesis(plain_dir / f"{args.audio.stem}.txt", "text")).wer
        stages = json.loads(ours_json.read_text())["timings_s"]
    print(f"model {args.model}, {args.audio.name}")
    print(f"{'':<22}{'wall s':>8}{'WER':>8}")
    print(f"{'podscribe (diarized)':<22}{ours_s:>8.1f}{ours_wer:>8.1%}")
    print(f"{'plain whisper':<22}{plain_s:>8.1f}{plain_wer:>8.1%}")
    print(f"ratio podscribe / whisper: {ours_s / plain_s:.2f}")
    print("podscribe stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
