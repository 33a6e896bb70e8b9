"""Engines side by side in one run: plain whisper, faster-whisper batched, podscribe with each engine.

    .venv/bin/python -m benchmarks.engines [--models tiny.en base] [--manifest audio/dev/manifest.toml]
                                           [--files a.flac b.flac] [--device cpu|cuda] [--out results.json]

Each configuration runs in its own child process, over all the files (one model load), so that its wall time
includes loading and its peak RSS (``wait4``) is its own:

- ``whisper CLI``: plain openai-whisper, ``--word_timestamps True``, on the store's checkpoint (beam 5);
- ``faster-whisper batched``: faster-whisper's ``BatchedInferencePipeline`` (Silero VAD, batch 8, beam 5, word
  timestamps: the WhisperX way) on the store's CTranslate2 directory, int8 on a CPU, float16 on CUDA;
- ``podscribe whisper`` and ``podscribe ctranslate2``: ``podscribe transcribe --engine ...``, diarization on,
  no cache, default options (chunks in batches; with tiny models on the whisper engine one after another, each
  prompted with the previous chunk's text); their JSON gives the transcribe stage's own time. Rows with
  ``--context``, ``--no-context`` or ``--compute-type int8_decoder`` only when named in ``--configs``.

WER is counted over all the files together (``<stem>.forum.txt`` beside each file, or the manifest's first
reference). Ratios are wall times against faster-whisper batched with the same model. Targets (not tests):
podscribe ctranslate2 with diarization at most 1.3x faster-whisper batched; WER within 0.5 point of
faster-whisper's; the two engines within 1 point; peak RSS at most the whisper CLI's + 300 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks import harness
from pipeline.evaluate import read_hypothesis, read_reference, score, total

REPO = Path(__file__).resolve().parent.parent

CONFIGS = ("faster-whisper batched", "whisper CLI", "podscribe whisper", "podscribe ctranslate2",
           "podscribe whisper --context", "podscribe whisper --no-context", "podscribe ctranslate2 --context",
           "podscribe ctranslate2 --compute-type int8_decoder")
DEFAULT_CONFIGS = CONFIGS[:4]  # the other settings only when asked for (--configs)
BASELINE = "faster-whisper batched"


@dataclass(frozen=True)
class Result:
    model: str
    config: str
    wall_s: float
    rtf: float
    peak_rss_mb: float
    wer: float
    cpu_s: float = 0.0  # user + system seconds of the child: less sensitive than wall time to a shared machine
    transcribe_s: float | None = None  # podscribe: the transcribe stage alone, summed over files


def run_child(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process (:func:`benchmarks.harness.run_child`); its CPU seconds
    in ``LAST_CPU_S``."""
    run = harness.run_child(cmd, env=env)
    LAST_CPU_S[0] = run.cpu_s
    return run.wall_s, run.peak_rss_mb


LAST_CPU_S = [0.0]


def whisper_cli(files: list[Path], model: str, device: str, out: Path) -> list[str]:
    from pipeline.store.registry import ensure

    return ([str(Path(sys.executable).parent / "whisper"), *map(str, files), "--model", str(ensure(model)),
             "--word_timestamps", "True", "--output_format", "txt", "--output_dir", str(out), "--beam_size", "5",
             "--device", device, "--fp16", str(device == "cuda"), "--verbose", "False"]
            + (["--language", "en"] if model.endswith(".en") else []))


def podscribe(files: list[Path], model: str, device: str, config: str, out: Path) -> list[str]:
    """``config`` is ``podscribe ENGINE [FLAGS...]``."""
    engine, *flags = config.split()[1:]
    return [sys.executable, "-m", "pipeline", "transcribe", *map(str, files), "-o", str(out), "-m", model,
            "--engine", engine, *flags, "--device", device, "-f", "json", "--no-cache", "-q"]


def faster_whisper_batched(files: list[Path], model: str, device: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.engines", "--child-faster-whisper", str(out), "--device", device,
            "--models", model, "--files", *map(str, files)]


def child_faster_whisper(files: list[Path], model: str, device: str, out: Path) -> None:
    """faster-whisper's own batched pipeline, as a user of WhisperX-style batching would run it."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from pipeline.asr.faster_whisper import cpu_threads, model_dir, precision_for

    whisper = WhisperModel(str(model_dir(model)), device=device, compute_type=precision_for("auto", device)[1],
                           cpu_threads=cpu_threads(), local_files_only=True)
    pipeline = BatchedInferencePipeline(whisper)
    out.mkdir(parents=True, exist_ok=True)
    for path in files:
        segments, _ = pipeline.transcribe(str(path), batch_size=8, beam_size=5, word_timestamps=True,
                                          language="en" if model.endswith(".en") else None)
        (out / f"{path.stem}.txt").write_text("\n".join(s.text.strip() for s in segments) + "\n")


def wer(pairs: list[tuple[Path, Path]], hyp_dir: Path, suffix: str, fmt: str | None) -> float:
    scores = [score(read_reference(ref), read_hypothesis(hyp_dir / f"{audio.stem}{suffix}", fmt))
              for audio, ref in pairs]
    return total(scores).wer


def stage_seconds(pairs: list[tuple[Path, Path]], hyp_dir: Path) -> float:
    return sum(json.loads((hyp_dir / f"{a.stem}.json").read_text())["timings_s"]["transcribe"] for a, _ in pairs)


def measure(pairs: list[tuple[Path, Path]], model: str, device: str, configs: tuple[str, ...]) -> list[Result]:
    files = [a for a, _ in pairs]
    audio_s = sum(_duration(f) for f in files)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            out = Path(tmp, config.replace(" ", "-"), model)
            if config == "whisper CLI":
                cmd, suffix, fmt = whisper_cli(files, model, device, out), ".txt", "text"
            elif config == "faster-whisper batched":
                cmd, suffix, fmt = faster_whisper_batched(files, model, device, out), ".txt", "text"
            else:
                cmd, suffix, fmt = podscribe(files, model, device, config, out), ".json", None
            wall, rss = run_child(cmd)
            stage = stage_seconds(pairs, out) if config.startswith("podscribe") else None
            results.append(Result(model, config, round(wall, 2), round(wall / audio_s, 3), round(rss),
                                  round(wer(pairs, out, suffix, fmt), 4), round(LAST_CPU_S[0], 1),
                                  stage and round(stage, 2)))
            print(_row(results[-1], results), flush=True)
    return results


def _duration(path: Path) -> float:
    from pipeline.decode import decode

    return decode(path).duration_s


def _row(r: Result, results: list[Result]) -> str:
    base = next((x for x in results if x.model == r.model and x.config == BASELINE), None)
    ratio = f"{r.wall_s / base.wall_s:6.2f}" if base else f"{'-':>6}"
    stage = f"{r.transcribe_s:8.1f}" if r.transcribe_s is not None else f"{'-':>8}"
    return (f"{r.model:<8}{r.config:<50}{r.wall_s:8.1f}{r.rtf:7.3f}{r.cpu_s:8.1f}{r.peak_rss_mb:8.0f}{r.wer:7.1%}"
            f"{ratio}{stage}")


def pairs_from(args) -> list[tuple[Path, Path]]:
    if args.files:
        return [(Path(f), Path(f).with_name(Path(f).stem + ".forum.txt")) for f in args.files]
    manifest = args.manifest
    if manifest is None or not manifest.is_file():
        sample = REPO / "audio/samples/interview.flac"
        print(f"no dev set manifest ({manifest}): using the bundled sample", file=sys.stderr)
        return [(sample, sample.with_name("interview.forum.txt"))]
    from pipeline.evaluate.manifest import read_manifest

    return [(p.audio, next(r for r in p.references if r.name.endswith(".forum.txt"))) for p in read_manifest(manifest)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--manifest", type=Path, default=REPO / "audio/dev/manifest.toml")
    parser.add_argument("--files", nargs="+", default=None, help="audio files, <stem>.forum.txt beside each")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(DEFAULT_CONFIGS))
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--child-faster-whisper", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_faster_whisper:
        return child_faster_whisper([Path(f) for f in args.files], args.models[0], args.device,
                                    args.child_faster_whisper)
    pairs = pairs_from(args)
    audio_s = sum(_duration(a) for a, _ in pairs)
    print(f"{len(pairs)} file(s), {audio_s:.1f} s of audio, device {args.device}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; ratio = wall / {BASELINE}; podscribe diarizes")
    print(f"{'model':<8}{'config':<50}{'wall s':>8}{'RTF':>7}{'cpu s':>8}{'RSS MB':>8}{'WER':>7}{'ratio':>6}"
          f"{'asr s':>8}")
    results = [r for model in args.models for r in measure(pairs, model, args.device, tuple(args.configs))]
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")


if __name__ == "__main__":
    main()
