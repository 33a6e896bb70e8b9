"""Languages other than English: podscribe against plain whisper and faster-whisper batched, same model, real speech.

    .venv/bin/python -m benchmarks.languages [--languages it ru cs] [--model base] [--seconds 100]
                                             [--out results.json] [--hyp-dir DIR]

The dev set is built once into ``.cache/languages/`` (git-ignored) from recorded speech in Debian packages, each
language one 16 kHz WAV of clips joined by 0.5 s of silence, and an STM reference (each clip's text at its time):

- ``it``, ``ru``: Asterisk's telephone prompts (asterisk-core-sounds-it-wav, -ru-wav) with the texts of their
  ``core-sounds-*.txt.gz``;
- ``cs``: the voices of Fish Fillets NG (fillets-ng-data-cs) with their lines from ``dialogs_cs.lua``.

A clip is used when its text has at least 4 words and no digits (spoken digits are written either way), no
bracketed note, no ``?`` standing for a lost accented letter, no other prompt's ``name:`` run into it, and audio
long enough for its words; clips are taken evenly from the whole list until ``--seconds``. French and Spanish
prompts (asterisk-prompt-fr-armelle, -es-co) ship without texts: not measured.

Systems, each a child process over all the files: ``podscribe`` (the CLI, ``--no-diarize``, language detected),
``podscribe --language`` (the language given, one run per file), ``whisper CLI`` and ``faster-whisper batched`` as
``benchmarks.engines`` runs them (language detected). WER with Whisper's BasicTextNormalizer (``basic``), and in
brackets the dropped words (reference words in runs of 5 or more deletions: skipped sentences); ``[?]`` = share of
podscribe's words marked; lost = seconds of reference speech no podscribe word comes near. ``--hyp-dir`` keeps the
transcripts.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmarks import engines, harness
from pipeline.evaluate import read_hypothesis, read_reference, score
from pipeline.evaluate.lost import dropped_words, lost_speech

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache/languages"
RATE, GAP_S = 16000, 0.5
ASTERISK = Path("/usr/share/asterisk/sounds")
VOICES = {"it": "it_IT_m_Carlo", "ru": "ru_RU_f_IvrvoiceRU"}
FILLETS = Path("/usr/share/games/fillets-ng")  # dpkg -L fillets-ng-data | grep dialogs_cs
DIALOG = re.compile(r'dialogId\("([^"]+)".*?\)\s*dialogStr\("((?:[^"\\]|\\.)*)"\)', re.S)
# notes, digits, "pu? essere" (a lost "ò"), a line with another prompt's "name:" run into it
UNUSABLE = re.compile(r"[\[\]()\d]|\w\?\s*[a-zàèéìòù]|\w-[\w-]+:")
SYSTEMS = ("podscribe", "podscribe --language", "whisper CLI", "faster-whisper batched")


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str


@dataclass(frozen=True)
class Sample:
    language: str
    audio: Path
    reference: Path  # STM: one line per clip
    seconds: float


@dataclass(frozen=True)
class Result:
    language: str
    system: str
    wer: float
    ref_words: int
    dropped: int  # reference words in runs of 5 or more deleted in a row (pipeline.evaluate.lost.dropped_words)
    wall_s: float
    marked: float | None = None  # share of words marked [?] (podscribe)
    lost_s: float | None = None
    detected: str | None = None


def usable(text: str) -> bool:
    return len(text.split()) >= 4 and not UNUSABLE.search(text)


def asterisk_clips(language: str) -> list[Clip]:
    """Prompts with their texts, in the order of ``core-sounds-<language>.txt.gz`` (``name: text`` lines)."""
    texts = Path(f"/usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz")
    clips = []
    with gzip.open(texts, "rt", encoding="utf-8-sig") as lines:
        for line in lines:
            name, sep, text = line.partition(":")
            wav = ASTERISK / VOICES[language] / f"{name.strip()}.wav"
            if sep and not line.startswith(";") and usable(text.strip()) and wav.is_file():
                clips.append(Clip(wav, text.strip()))
    return clips


def fillets_clips() -> list[Clip]:
    """Czech voice clips, ``sound/<level>/cs/<id>.ogg``, with the ``dialogStr`` after ``dialogId("<id>", ...)``."""
    clips = []
    for script in sorted(FILLETS.glob("script/*/dialogs_cs.lua")):
        lines = {k: v.replace('\\"', '"') for k, v in DIALOG.findall(script.read_text(encoding="utf-8"))}
        for ogg in sorted((FILLETS / "sound" / script.parent.name / "cs").glob("*.ogg")):
            if usable(lines.get(ogg.stem, "")):
                clips.append(Clip(ogg, lines[ogg.stem]))
    return clips


def pick(clips: list[Clip], seconds: float) -> list[tuple[Clip, np.ndarray]]:
    """Clips taken evenly from the whole list (every n-th for about 40 of them) until ``seconds`` of audio."""
    from pipeline.decode import decode

    chosen, total = [], 0.0
    for clip in clips[::max(1, len(clips) // 40)]:
        samples = decode(clip.path).samples
        if samples.size / RATE < len(clip.text.split()) / 6:
            continue  # too short for its text: a description ("un suono beep di errore"), not speech
        chosen.append((clip, samples))
        total += samples.size / RATE + GAP_S
        if total >= seconds:
            break
    return chosen


def build(language: str, seconds: float) -> Sample:
    """``<language>.wav`` and ``<language>.stm`` in the cache, made once."""
    audio, ref = CACHE / f"{language}.wav", CACHE / f"{language}.stm"
    if not (audio.is_file() and ref.is_file()):
        clips = fillets_clips() if language == "cs" else asterisk_clips(language)
        gap, parts, stm, at = np.zeros(int(GAP_S * RATE), np.float32), [], [], 0.0
        for clip, samples in pick(clips, seconds):
            stm.append(f"{language} 1 A {at:.2f} {at + samples.size / RATE:.2f} {' '.join(clip.text.split())}")
            parts += [samples, gap]
            at += samples.size / RATE + GAP_S
        CACHE.mkdir(parents=True, exist_ok=True)
        write_wav(audio, np.concatenate(parts))
        ref.write_text("\n".join(stm) + "\n", encoding="utf-8")
    with wave.open(str(audio)) as w:
        return Sample(language, audio, ref, round(w.getnframes() / RATE, 1))


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def commands(system: str, samples: list[Sample], model: str, out: Path) -> list[list[str]]:
    files = [str(s.audio) for s in samples]
    podscribe = [sys.executable, "-m", "pipeline", "transcribe", "-o", str(out), "-m", model, "--no-diarize",
                 "-f", "json,txt", "-q", "--no-cache"]
    if system == "podscribe":
        return [podscribe + files]
    if system == "podscribe --language":
        return [podscribe + ["--language", s.language, str(s.audio)] for s in samples]
    if system == "whisper CLI":
        return [engines.whisper_cli([s.audio for s in samples], model, "cpu", out)]
    # engines.faster_whisper_batched runs engines.py as a script, which cannot import the benchmarks package
    return [[sys.executable, "-m", "benchmarks.engines", "--child-faster-whisper", str(out), "--device", "cpu",
             "--models", model, "--files", *files]]


def evaluate(system: str, sample: Sample, out: Path, wall_s: float) -> Result:
    ours = system.startswith("podscribe")
    hyp = read_hypothesis(out / f"{sample.audio.stem}{'.json' if ours else '.txt'}", None if ours else "text")
    ref = read_reference(sample.reference)
    scores = score(ref, hyp, normalizer="basic")
    result = Result(sample.language, system, round(scores.wer, 4), scores.words.ref_count, dropped_words(scores),
                    round(wall_s, 1))
    if not ours:
        return result
    detected = json.loads((out / f"{sample.audio.stem}.json").read_text(encoding="utf-8"))["language"]
    return Result(**{**asdict(result), "marked": round(scores.calibration.marked_share, 4),
                     "lost_s": lost_speech(ref, hyp).seconds, "detected": detected})


def measure(samples: list[Sample], model: str, systems: tuple[str, ...], keep: Path | None) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for system in systems:
            out = Path(keep or tmp, system.replace(" ", "_").replace("-", ""))
            wall_s = sum(harness.run_child(cmd).wall_s for cmd in commands(system, samples, model, out))
            results += [evaluate(system, s, out, wall_s) for s in samples]
            print(f"# {system}: {wall_s:.0f} s, WER " + ", ".join(f"{r.language} {r.wer:.1%}" for r in
                                                               results if r.system == system), file=sys.stderr)
    return results


def table(samples: list[Sample], results: list[Result], systems: tuple[str, ...]) -> str:
    """One row per language: WER (dropped words) of each system side by side, then podscribe's [?], lost speech
    and language."""
    head = f"{'lang':<6}{'audio s':>8}{'words':>7}" + "".join(f"{s:>24}" for s in systems)
    lines = [head + f"{'[?]':>7}{'lost s':>8}  detected"]
    for sample in samples:
        mine = {r.system: r for r in results if r.language == sample.language}
        ours = mine.get("podscribe") or mine[systems[0]]
        lines.append(f"{sample.language:<6}{sample.seconds:>8.1f}{ours.ref_words:>7}"
                     + "".join(f"{f'{mine[s].wer:.1%} ({mine[s].dropped})':>24}" for s in systems)
                     + (f"{ours.marked:>7.1%}{ours.lost_s:>8.1f}  {ours.detected}" if ours.detected else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", nargs="+", choices=("it", "ru", "cs"), default=["it", "ru", "cs"])
    parser.add_argument("--model", default="base", help="a multilingual store model")
    parser.add_argument("--seconds", type=float, default=100.0, help="audio per language (when first built)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--hyp-dir", type=Path, default=None, help="keep the transcripts here, one folder a system")
    args = parser.parse_args()
    os.environ.setdefault("PODSCRIBE_MODELS_DIR", str(REPO / "models"))
    samples = [build(language, args.seconds) for language in args.languages]
    results = measure(samples, args.model, tuple(args.systems), args.hyp_dir)
    print(f"model {args.model}, {os.cpu_count()} CPUs; WER (BasicTextNormalizer) and (dropped words); "
          "[?], lost s and detected: podscribe")
    print(table(samples, results, tuple(args.systems)))
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
