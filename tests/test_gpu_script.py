"""benchmarks/gpu.py kept working where there is no GPU: on the CPU with 10 s of the sample (real tiny.en and
diarization, so slow), its table has every stage, a real-time factor and a WER against the CPU run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_the_cpu_with_a_tiny_input():
    out = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--device", "cpu", "--model", "tiny.en",
                          "--seconds", "10"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    header, *rows = [line.split() for line in out.stdout.splitlines() if line.startswith(("input", "sample"))]
    assert header == ["input", "audio", "s", "device", "decode", "diarize", "chunk", "transcribe", "coverage",
                      "merge", "total", "s", "RTF", "WER", "vs", "cpu"]
    assert len(rows) == 1  # 10 s is shorter than the sample: no loop
    name, audio_s, device, *stages, total_s, rtf, wer = rows[0]
    assert (name, device, float(audio_s)) == ("sample", "cpu", pytest.approx(10.0, abs=0.1))
    assert float(stages[1]) > 0 and float(stages[3]) > 0  # diarized and transcribed
    assert float(rtf) == pytest.approx(float(total_s) / float(audio_s), rel=0.01)
    assert float(wer.rstrip("%")) <= 5.0
