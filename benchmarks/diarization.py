"""Benchmark podscribe's diarization: time, real-time factor, peak RSS, DER, speakers found.

Runs ``pipeline.diarize`` on pyannote.audio's bundled ``sample.wav`` (30 s, 2 speakers)
and on ``audio/samples/interview.flac`` (synthetic, 3 speakers) when it exists, each
scored against the ``.rttm`` next to it. Models are loaded by a warm-up call on one
second of audio first, so the timed runs measure diarization only. Run from the repo root:

    python benchmarks/diarization.py [--device cpu] [--threshold 0.75] [FILE ...]

Every FILE needs a FILE-with-.rttm-suffix reference next to it.
"""
from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.decode import decode  # noqa: E402
from pipeline.diarize import DiarizeOptions, diarize  # noqa: E402
from pipeline.types import Audio, Diarization  # noqa: E402

COLLARS = (0.0, 0.25)


def default_files() -> list[Path]:
    pyannote_dir = Path(importlib.util.find_spec("pyannote.audio").origin).parent
    files = [pyannote_dir / "sample" / "sample.wav", REPO / "audio" / "samples" / "interview.flac"]
    return [f for f in files if f.is_file()]


def der(reference_rttm: Path, result: Diarization, duration_s: float, collar: float) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference = next(iter(load_rttm(str(reference_rttm)).values()))
    hypothesis = Annotation()
    for turn in result.turns:
        hypothesis[Segment(turn.start_s, turn.end_s)] = turn.speaker
    metric = DiarizationErrorRate(collar=collar)
    return metric(reference, hypothesis, uem=Segment(0.0, duration_s))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench(path: Path, options: DiarizeOptions) -> None:
    audio = decode(path)
    start = time.perf_counter()
    result = diarize(audio, options)
    wall_s = time.perf_counter() - start
    reference = path.with_suffix(".rttm")
    ders = [der(reference, result, audio.duration_s, c) if reference.is_file() else float("nan") for c in COLLARS]
    print(f"{path.name:16s} {audio.duration_s:7.1f} {wall_s:7.2f} {wall_s / audio.duration_s:6.3f} "
          f"{peak_rss_mb():8.0f} {100 * ders[0]:7.2f} {100 * ders[1]:8.2f} {len(result.speakers):4d}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--device", default="auto", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threshold", type=float, default=DiarizeOptions.threshold)
    parser.add_argument("--method", default=DiarizeOptions.method)
    parser.add_argument("--embedding-batch-size", type=int, default=DiarizeOptions.embedding_batch_size)
    args = parser.parse_args(argv)
    options = DiarizeOptions(device=args.device, threshold=args.threshold, method=args.method,
                             embedding_batch_size=args.embedding_batch_size)

    start = time.perf_counter()
    warm_up = np.zeros(16_000, dtype=np.float32)
    diarize(Audio(samples=warm_up, path="warm-up", sha256=""), options)
    print(f"model load + warm-up: {time.perf_counter() - start:.2f} s, options: {options}")
    print(f"{'file':16s} {'dur_s':>7s} {'wall_s':>7s} {'RTF':>6s} {'RSS_MB':>8s} {'DER_0%':>7s} {'DER.25%':>8s} {'spk':>4s}")
    for path in args.files or default_files():
        bench(path, options)


if __name__ == "__main__":
    main()
