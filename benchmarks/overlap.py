"""Transcription and diarization one after the other (as ``pipeline/run.py`` does) against both at once.

    .venv/bin/python -m benchmarks.overlap [--engine ctranslate2] [--model tiny.en] [--files a.flac ...]

The files are joined into one long episode in memory (default: the dev set's audio, else the bundled sample
four times). Each mode runs in its own child process, models loaded inside the timed span:

- ``sequential``: the engine with every core, then (engine freed) the diarizer with every core;
- ``concurrent``: the engine in a thread with half the cores, the diarizer beside it with the other half
  (CTranslate2 and torch release the GIL in their kernels). Both models are resident together.

Prints wall seconds and peak RSS of each; the faster mode is what run.py should do.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import pipeline  # noqa: E402,F401  (its OpenMP setting must hold before torch is loaded)


def long_episode(files: list[str]):
    import numpy as np

    from pipeline.decode import decode
    from pipeline.types import Audio

    samples = np.concatenate([decode(f).samples for f in files])
    return Audio(samples=samples, path="joined", sha256="0" * 64)


def child(mode: str, engine: str, model: str, files: list[str], out: Path) -> None:
    import torch

    import pipeline.asr.faster_whisper as ct2
    from pipeline.asr import load_engine
    from pipeline.chunk import ChunkOptions, envelope_db, plan_chunks
    from pipeline.diarization.diarize import DiarizeOptions, PyannoteDiarizer
    from pipeline.transcribe import TranscribeOptions, transcribe

    audio = long_episode(files)
    cores = ct2.cpu_threads()
    share = max(1, cores // 2) if mode == "concurrent" else cores
    ct2.cpu_threads = lambda: share
    torch.set_num_threads(share)
    options = TranscribeOptions(model=model, engine=engine)
    chunks = plan_chunks(envelope_db(audio.samples, audio.sample_rate, ChunkOptions().frame_s), ChunkOptions())
    times: dict[str, float] = {}
    start = time.perf_counter()

    def words() -> None:
        asr = load_engine(options, "cpu")
        transcribe(asr, audio, chunks, options, "en")
        asr.close()
        times["transcribe_s"] = time.perf_counter() - start

    def speakers() -> None:
        diarizer = PyannoteDiarizer(DiarizeOptions(), "cpu")
        diarizer.diarize(audio)
        diarizer.close()
        times["diarize_s"] = time.perf_counter() - start - (times.get("transcribe_s", 0.0) if mode == "sequential"
                                                               else 0.0)

    if mode == "sequential":
        words()
        speakers()
    else:
        thread = threading.Thread(target=words)
        thread.start()
        speakers()
        thread.join()
    times["wall_s"] = time.perf_counter() - start
    times["audio_s"] = audio.duration_s
    (out / "times.json").write_text(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="ctranslate2")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--files", nargs="+", default=None)
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.engine, args.model, args.files, Path(args.child[1]))
    files = args.files or _default_files()
    from benchmarks.engines import run_child

    print(f"{'mode':<12}{'audio s':>8}{'wall s':>8}{'asr s':>8}{'diar s':>8}{'RSS MB':>8}"
          f"  ({args.engine}, {args.model})")
    for mode in ("sequential", "concurrent"):
        with tempfile.TemporaryDirectory() as tmp:
            wall, rss = run_child([sys.executable, "-m", "benchmarks.overlap", "--child", mode, tmp,
                                   "--engine", args.engine, "--model", args.model, "--files", *map(str, files)])
            t = json.loads(Path(tmp, "times.json").read_text())
            print(f"{mode:<12}{t['audio_s']:8.1f}{t['wall_s']:8.1f}{t['transcribe_s']:8.1f}{t['diarize_s']:8.1f}"
                  f"{rss:8.0f}", flush=True)


def _default_files() -> list[Path]:
    dev = REPO / "audio/dev/manifest.toml"
    if dev.is_file():
        from pipeline.evaluate.manifest import read_manifest

        return [p.audio for p in read_manifest(dev)]
    return [REPO / "audio/samples/interview.flac"] * 4


if __name__ == "__main__":
    main()
