"""podscribe on a GPU: the bundled sample and a longer loop of it, fp16 and batched, against a CPU run.

    .venv/bin/python -m benchmarks.gpu --device cuda [--model base] [--engine whisper] [--seconds 600]
    .venv/bin/python -m benchmarks.gpu --device cpu --seconds 10        # the quick check `make test` runs

Each input is transcribed by ``pipeline.run.Transcriber`` (diarization on) on ``--device``, then by the same
model on the CPU (its diarization taken from the resume cache, so only the words are redone); prints a table
of per-stage times, the real-time factor (wall / audio) and the WER of the device's words against the CPU's.
Exits 1 when a WER is over ``--max-wer`` (fp16 and batching may change a few words, not more).
Inputs: the sample (its first ``--seconds`` when that is shorter) and, when ``--seconds`` is longer than the
sample, the sample looped to ``--seconds``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from pipeline.decode import probe_duration_s  # noqa: E402
from pipeline.diarization.diarize import DiarizeOptions  # noqa: E402
from pipeline.run import RunOptions, Transcriber  # noqa: E402
from pipeline.transcribe import TranscribeOptions  # noqa: E402

STAGES = ("decode", "diarize", "chunk", "transcribe", "coverage", "merge")


def inputs(sample: Path, seconds: float, folder: Path) -> list[tuple[str, Path]]:
    """(name, 16 kHz mono WAV): the sample (cut to ``seconds`` if shorter) and the loop, when longer."""
    length = probe_duration_s(sample)
    made = [("sample", _cut(sample, min(seconds, length), folder / "sample.wav", loop=False))]
    if seconds > length:
        made.append((f"loop {seconds:g}s", _cut(sample, seconds, folder / "loop.wav", loop=True)))
    return made


def _cut(source: Path, seconds: float, target: Path, loop: bool) -> Path:
    cmd = ["ffmpeg", "-v", "error", "-y"] + (["-stream_loop", "-1"] if loop else []) + [
        "-i", str(source), "-t", f"{seconds:.3f}", "-ac", "1", "-ar", "16000", str(target)]
    subprocess.run(cmd, check=True)
    return target


def options(args, device: str, diarize_device: str) -> RunOptions:
    return RunOptions(transcribe=TranscribeOptions(model=args.model, engine=args.engine, device=device,
                                                   batch_size=args.batch_size),
                      diarize=DiarizeOptions(device=diarize_device))


def transcribe(transcriber: Transcriber, path: Path, cache: Path):
    start = time.perf_counter()
    transcript = transcriber.run(path, cache_dir=cache)
    return transcript, time.perf_counter() - start


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    from pipeline.evaluate.metrics import get_normalizer

    normalize = get_normalizer("whisper")
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return jiwer.wer(ref, hyp)


def text(transcript) -> str:
    return " ".join(w.text for w in transcript.words if not w.gap)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--model", default="base")
    parser.add_argument("--engine", choices=["whisper", "ctranslate2"], default="whisper")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the looped input (default 600)")
    parser.add_argument("--batch-size", default="auto", type=lambda v: v if v == "auto" else int(v))
    parser.add_argument("--max-wer", type=float, default=0.05, help="largest WER against the CPU run (0.05)")
    parser.add_argument("--audio", type=Path, default=REPO / "audio/samples/interview.flac")
    args = parser.parse_args()

    rows = [("input", "audio s", "device", *STAGES, "total s", "RTF", "WER vs cpu")]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        device = Transcriber(options(args, args.device, args.device), keep_loaded=True)
        cpu = Transcriber(options(args, "cpu", args.device), keep_loaded=True)  # same diarization key: cached
        try:
            for name, path in inputs(args.audio, args.seconds, tmp):
                ran, wall_s = transcribe(device, path, tmp / "cache")
                reference, _ = transcribe(cpu, path, tmp / "cache")
                error = wer(text(reference), text(ran))
                worst = max(worst, error)
                rows.append((name, f"{ran.duration_s:.1f}", ran.models.get("device", args.device),
                             *(f"{ran.timings_s.get(s, 0.0):.2f}" for s in STAGES), f"{wall_s:.2f}",
                             f"{wall_s / ran.duration_s:.3f}", f"{error:.2%}"))
        finally:
            device.close()
            cpu.close()
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.rjust(width[i]) if i else c.ljust(width[i]) for i, c in enumerate(row)))
    print(f"model {args.model} ({args.engine}), batch size {args.batch_size}; stage times in seconds, "
          f"RTF = wall / audio (first run includes loading the models)")
    if worst > args.max_wer:
        print(f"FAIL: WER {worst:.2%} against the CPU run is over {args.max_wer:.2%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
