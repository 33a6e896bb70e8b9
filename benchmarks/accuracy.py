"""Accuracy of podscribe and plain whisper (same model) on the sample set, side by side, in one run.

    .venv/bin/python benchmarks/accuracy.py [--model base]

For each sample in audio/samples (an audio file with <stem>.forum.txt and <stem>.rttm beside it) it prints WER,
cpWER, DER (collar 0) and the [?] calibration of both. Plain whisper has no speakers, so its cpWER and DER are
blank; its [?] marks use podscribe's default threshold on whisper's own word probabilities (its JSON output).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.evaluate import read_hypothesis, read_reference, score  # noqa: E402
from pipeline.merge import MergeOptions, merge  # noqa: E402
from pipeline.store.registry import ensure  # noqa: E402
from pipeline.types import Segment, Transcript, Word  # noqa: E402
from pipeline.writers import write_all  # noqa: E402


def samples() -> list[Path]:
    return sorted(p for p in (REPO / "audio/samples").iterdir()
                  if p.suffix in {".flac", ".wav", ".mp3"} and p.with_suffix(".rttm").exists())


def plain_whisper(audio: Path, model: str, out: Path) -> Path:
    """Plain whisper's JSON turned into our JSON (one speaker), so the same scorer reads both."""
    subprocess.run([str(Path(sys.executable).parent / "whisper"), str(audio), "--model", str(ensure(model)),
                    "--word_timestamps", "True", "--output_format", "json", "--output_dir", str(out),
                    "--fp16", "False", "--verbose", "False"], check=True, capture_output=True)
    raw = json.loads((out / f"{audio.stem}.json").read_text())
    segments = [Segment(s["text"], s["start"], s["end"], tuple(Word(w["word"].strip(), w["start"], w["end"],
                                                                    w["probability"]) for w in s["words"]))
                for s in raw["segments"] if s.get("words")]
    turns, _ = merge(segments, [], MergeOptions())
    t = Transcript(episode=f"{audio.stem}.plain", sha256="", duration_s=0.0, language="en", turns=turns)
    return write_all(t, out, ("json",))[0]


def row(name: str, s, speakers: bool = True) -> str:
    cp = f"{s.cpwer.rate:7.1%}" if speakers and s.cpwer else f"{'-':>7}"
    der = f"{s.der.rate:7.1%}" if speakers and s.der else f"{'-':>7}"
    c = s.calibration
    return f"{name:<28}{s.wer:7.1%}{cp}{der}{c.marked_share:8.1%}{c.recall:8.1%}{c.precision or 0:8.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base")
    args = parser.parse_args()
    print(f"model {args.model}; DER at collar 0; [?] = share of words marked, recall = errors marked")
    print(f"{'':<28}{'WER':>7}{'cpWER':>7}{'DER':>7}{'[?]':>8}{'recall':>8}{'prec':>8}")
    for audio in samples():
        ref = read_reference([audio.with_suffix(".forum.txt"), audio.with_suffix(".rttm")])
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pipeline", "transcribe", str(audio), "-o", tmp, "-m", args.model,
                            "-f", "json", "-q"], check=True, capture_output=True)
            ours = score(ref, read_hypothesis(Path(tmp) / f"{audio.stem}.json"), collar=0.0)
            plain = score(ref, read_hypothesis(plain_whisper(audio, args.model, Path(tmp))), collar=0.0)
        print(row(f"{audio.stem} podscribe", ours))
        print(row(f"{audio.stem} plain whisper", plain, speakers=False))


if __name__ == "__main__":
    main()
