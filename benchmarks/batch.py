"""Does decoding chunks in batches pay on this machine? The transcribe stage alone, side by side, one process.

    .venv/bin/python -m benchmarks.batch [--model base] [--device auto] [--sizes 1,3,5,8] [--repeat 1]

For each batch size it prints the transcribe stage's wall time (model loaded once, language given) and
whether the words are the same as with batch size 1. ``TranscribeOptions.batch_size="auto"`` takes
AUTO_BATCH_CPU or AUTO_BATCH_CUDA (pipeline/transcribe.py), chosen from this table.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from pipeline.asr.openai_whisper import WhisperEngine  # noqa: E402
from pipeline.chunk import envelope_db, plan_chunks  # noqa: E402
from pipeline.decode import decode  # noqa: E402
from pipeline.device import resolve_device  # noqa: E402
from pipeline.transcribe import TranscribeOptions, transcribe  # noqa: E402


def words(per_chunk) -> list[tuple]:
    return [(w.text, w.start_s, w.end_s, w.probability) for segs in per_chunk for s in segs for w in s.words]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--audio", type=Path, default=REPO / "audio/samples/interview.flac")
    parser.add_argument("--sizes", default="1,3,5,8")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is shown")
    args = parser.parse_args()
    device = resolve_device(args.device)
    audio = decode(args.audio)
    chunks = plan_chunks(envelope_db(audio.samples, audio.sample_rate))
    engine = WhisperEngine(TranscribeOptions(model=args.model), device)
    print(f"model {args.model} on {device}, {args.audio.name}: {len(chunks)} chunks, {audio.duration_s:.1f} s")
    print(f"{'batch':>6}{'wall s':>9}  same words as batch 1")
    reference = None
    for size in (int(s) for s in args.sizes.split(",")):
        options = TranscribeOptions(model=args.model, device=device, batch_size=size)
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            per_chunk = transcribe(engine, audio, chunks, options, "en")
            best = min(best, time.perf_counter() - start)
        reference = reference if reference is not None else words(per_chunk)
        print(f"{size:>6}{best:>9.1f}  {words(per_chunk) == reference}")


if __name__ == "__main__":
    main()
