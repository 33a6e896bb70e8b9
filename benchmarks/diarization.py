"""Benchmark diarization, stock pyannote against ours, on the same files in one run.

For each file and configuration, one child process (``--one``) loads the models, warms them up
on one second of audio, diarizes the file and reports wall time, real-time factor, its own peak
RSS (``ru_maxrss``, so rows do not contaminate each other), DER at collars 0 and 0.25 and the
number of speakers found. Then the ratio ours / the first configuration per file.

Configurations (same two models, same clustering: agglomerative, centroid, threshold 0.75,
min cluster size 12, no PLDA):

* ``stock``: pyannote.audio's ``SpeakerDiarization`` with its defaults otherwise: segmentation
  step 0.1 (1 s), segmentation and embedding batch size 1, each (window, speaker) embedded
  on its own by our CAM++ wrapper.
* ``batched``: the same with batch sizes 32 (podscribe before the fast path).
* ``ours``: ``DiarizeOptions()`` defaults: CAM++ frame features once per file, pooled per
  (window, speaker) (``pipeline/diarization/frame_embeddings.py``); on a CPU segmentation-3.0 and
  CAM++'s trunk run in ONNX Runtime (``pipeline/diarization/onnx_runtime.py``).
* ``torch``: ``ours`` with both networks in torch (``onnx=False``; podscribe before ONNX Runtime).
* ``step0.2``, ``step0.3``, ``step0.2m6``: ``ours`` with a coarser segmentation step (and a smaller
  minimum cluster size), measured and dropped (README "Diarization").

Files: pyannote's ``sample.wav``, ``audio/samples/interview.flac`` and ``concat:SECONDS``, the two
concatenated in memory (interview, sample, interview, ...) up to that length, with the
references shifted to match. Run from the repo root:

    python -m benchmarks.diarization [--configs stock,ours] [--device cpu] [FILE|concat:600 ...]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from pipeline.decode import decode  # noqa: E402
from pipeline.diarization.diarize import DiarizeOptions, diarize  # noqa: E402
from pipeline.types import Audio, Diarization  # noqa: E402

COLLARS = (0.0, 0.25)
CONFIGS = {
    "stock": dict(fast=False, segmentation_batch_size=1, embedding_batch_size=1, segmentation_step=0.1,
                  onnx=False),
    "batched": dict(fast=False, segmentation_batch_size=32, embedding_batch_size=32, onnx=False),
    "ours": dict(),
    # the fast path with both networks in torch (podscribe before ONNX Runtime)
    "torch": dict(onnx=False),
    # a coarser segmentation step: fewer 10 s windows to segment (pyannote's default is 0.1)
    "step0.2": dict(segmentation_step=0.2),
    "step0.3": dict(segmentation_step=0.3),
    "step0.2m6": dict(segmentation_step=0.2, min_cluster_size=6),
}
DEFAULT_FILES = ("sample.wav", "interview.flac", "concat:600")


def sources() -> list[Path]:
    pyannote_dir = Path(importlib.util.find_spec("pyannote.audio").origin).parent
    return [REPO / "audio" / "samples" / "interview.flac", pyannote_dir / "sample" / "sample.wav"]


def resolve(name: str) -> Path:
    for path in sources():
        if path.name == name:
            return path
    return Path(name)


def reference_tracks(path: Path) -> list[tuple[float, float, str]]:
    tracks = []
    for line in path.with_suffix(".rttm").read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            tracks.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return tracks


def load(name: str) -> tuple[Audio, list[tuple[float, float, str]]]:
    """Audio and reference tracks of a file, or of ``concat:SECONDS``."""
    if not name.startswith("concat:"):
        path = resolve(name)
        return decode(path), reference_tracks(path)
    target_s = float(name.split(":", 1)[1])
    parts, tracks, offset, i = [], [], 0.0, 0
    while offset < target_s:
        path = sources()[i % 2]
        audio = decode(path)
        parts.append(audio.samples)
        tracks += [(s + offset, e + offset, f"{path.stem}-{label}") for s, e, label in reference_tracks(path)]
        offset += audio.duration_s
        i += 1
    return Audio(samples=np.concatenate(parts), path=name.replace(":", "-"), sha256=""), tracks


def der(tracks: list[tuple[float, float, str]], result: Diarization, duration_s: float, collar: float) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for start, end, label in tracks:
        reference[Segment(start, end)] = label
    for turn in result.turns:
        hypothesis[Segment(turn.start_s, turn.end_s)] = turn.speaker
    return DiarizationErrorRate(collar=collar)(reference, hypothesis, uem=Segment(0.0, duration_s))


def run_one(name: str, config: str, device: str) -> dict:
    """Diarize one file with one configuration in this process; a dict for the parent."""
    options = DiarizeOptions(device=device, **CONFIGS[config])
    audio, tracks = load(name)
    start = time.perf_counter()
    diarize(Audio(samples=np.zeros(16_000, dtype=np.float32), path="warm-up", sha256=""), options)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    result = diarize(audio, options)
    wall_s = time.perf_counter() - start
    return {"file": name, "config": config, "dur_s": audio.duration_s, "wall_s": wall_s, "load_s": load_s,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "der0": 100 * der(tracks, result, audio.duration_s, 0.0),
            "der25": 100 * der(tracks, result, audio.duration_s, 0.25), "spk": len(result.speakers)}


def child(name: str, config: str, device: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.diarization", "--one", name, "--config", config, "--device", device]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"{name} / {config} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(r: dict) -> str:
    return (f"{Path(r['file']).name:15s} {r['config']:8s} {r['dur_s']:7.1f} {r['wall_s']:8.2f} "
            f"{r['wall_s'] / r['dur_s']:6.3f} {r['rss_mb']:7.0f} {r['der0']:7.2f} {r['der25']:8.2f} {r['spk']:4d}")


def ratio(ours: dict, stock: dict) -> str:
    return (f"{'':15s} {'ratio':8s} {'':7s} {ours['wall_s'] / stock['wall_s']:8.3f} {'':6s} "
            f"{ours['rss_mb'] / stock['rss_mb']:7.2f} {ours['der0'] - stock['der0']:+7.2f} "
            f"{ours['der25'] - stock['der25']:+8.2f} {ours['spk'] - stock['spk']:+4d}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=list(DEFAULT_FILES))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--configs", default="stock,ours")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--config", default="ours", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.config, args.device)))
        return
    configs = args.configs.split(",")
    print(f"device {args.device}; configs: " + "; ".join(f"{c} {CONFIGS[c] or 'defaults'}" for c in configs))
    print("wall_s excludes model load and warm-up; RSS_MB is each run's own process peak; "
          "ratio row: wall and RSS ours/first config, DER and speakers ours-first")
    print(f"{'file':15s} {'config':8s} {'dur_s':>7s} {'wall_s':>8s} {'RTF':>6s} {'RSS_MB':>7s} "
          f"{'DER_0%':>7s} {'DER.25%':>8s} {'spk':>4s}", flush=True)
    for name in args.files:
        results = {c: child(name, c, args.device) for c in configs}
        for c in configs:
            print(row(results[c]), flush=True)
        if "ours" in results and configs[0] != "ours":
            print(ratio(results["ours"], results[configs[0]]), flush=True)


if __name__ == "__main__":
    main()
