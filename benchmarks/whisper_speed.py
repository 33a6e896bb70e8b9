"""What makes the openai-whisper engine faster on a CPU without changing the words: side by side in one run.

    .venv/bin/python -m benchmarks.whisper_speed [--models tiny.en base] [--variants fp32 int8] [--files ...]

Variants (each in its own child process, words only, no diarization, no cache):
``fp32`` the engine as it is; ``int8`` dynamic int8 quantization of every Linear layer
(``torch.ao.quantization.quantize_dynamic``); ``threads1`` one torch thread; ``passive`` OpenMP threads that
sleep instead of spinning while they wait (``OMP_WAIT_POLICY=PASSIVE``, which matters on a shared machine);
``batchN`` N first windows a batch.
Prints the transcribe stage's seconds (model load included), the wall time and WER against the reference.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def quantized(model):
    """The model with every Linear (whisper's own subclass included) as a dynamic int8 Linear."""
    import torch
    import whisper.model

    for module in model.modules():
        if type(module) is whisper.model.Linear:
            module.__class__ = torch.nn.Linear  # same parameters; quantize_dynamic matches exact types
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def child(variant: str, model: str, files: list[str], out: Path) -> None:
    import torch  # before pipeline, whose OMP_WAIT_POLICY default must not reach the other variants' libgomp

    from pipeline.asr.openai_whisper import WhisperEngine, load
    from pipeline.run import RunOptions, Transcriber
    from pipeline.transcribe import TranscribeOptions
    from pipeline.writers import write_all

    if variant == "threads1":
        torch.set_num_threads(1)
    batch = int(variant.removeprefix("batch")) if variant.startswith("batch") else "auto"

    def factory(options, device):
        loaded = load(options.model, device)
        return WhisperEngine(options, device, model=quantized(loaded) if variant == "int8" else loaded)

    options = RunOptions(transcribe=TranscribeOptions(model=model, batch_size=batch), diarization=False)
    transcriber = Transcriber(options, asr=factory)
    stage = 0.0
    for path in files:
        transcript = transcriber.run(path)
        stage += transcript.timings_s["transcribe"]
        write_all(transcript, out, ("json",))
    (out / "stage.json").write_text(json.dumps({"transcribe_s": stage}))


def run(args) -> None:
    from benchmarks import engines
    from benchmarks.engines import run_child
    from pipeline.evaluate import read_hypothesis, read_reference, score, total

    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':<8}{'variant':<10}{'asr s':>8}{'wall s':>8}{'cpu s':>8}{'RSS MB':>8}{'WER':>7}")
    for model in args.models:
        for variant in args.variants:
            with tempfile.TemporaryDirectory() as tmp:
                env = os.environ | ({"OMP_WAIT_POLICY": "PASSIVE"} if variant == "passive" else {})
                wall, rss = run_child([sys.executable, "-m", "benchmarks.whisper_speed", "--child", variant, tmp,
                                       "--models", model, "--files", *args.files], env=env)
                stage = json.loads(Path(tmp, "stage.json").read_text())["transcribe_s"]
                scores = [score(read_reference(Path(f).with_name(Path(f).stem + ".forum.txt")),
                                read_hypothesis(Path(tmp, Path(f).stem + ".json"))) for f in args.files]
                print(f"{model:<8}{variant:<10}{stage:8.1f}{wall:8.1f}{engines.LAST_CPU_S[0]:8.1f}{rss:8.0f}"
                      f"{total(scores).wer:7.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--variants", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--files", nargs="+", default=[str(REPO / "audio/samples/interview.flac")])
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.models[0], [str(Path(f).resolve()) for f in args.files], Path(args.child[1]))
    else:
        run(args)


if __name__ == "__main__":
    main()
