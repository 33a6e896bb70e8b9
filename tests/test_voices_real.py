"""Speakers named by voice, with the real models on real recorded voices (Debian packages, see the Makefile):
the two fish of fillets-ng-data-cs (Czech; ``-m-`` clips are the small fish, ``-v-`` the big one) are enrolled
from one recording made of early levels' clips and recognised in another made of later levels' clips, beside
voices never enrolled (the French and Spanish Asterisk prompt voices). Enrolment (CAM++) and diarization
(pyannote with CAM++) are the real models, through the `podscribe` commands; Whisper is a stub (see _StubEngine)."""
from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.decode import decode

FILLETS = Path("/usr/share/games/fillets-ng/sound")
ASTERISK = Path("/usr/share/asterisk/sounds")
RATE = 16000


def fish(tag: str, levels: slice) -> list[Path]:
    names = sorted(p.name for p in FILLETS.iterdir())[levels]
    return [p for name in names for p in sorted((FILLETS / name / "cs").glob(f"*-{tag}-*.ogg"))]


def prompts(language: str) -> list[Path]:
    """The .gsm prompts of asterisk-prompt-fr-armelle or -es-co (other Asterisk voices installed under the same
    folder by asterisk-core-sounds-* are .wav, and are not the voices this test was written for)."""
    return sorted((ASTERISK / language).glob("*.gsm"))


pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not FILLETS.is_dir() or not prompts("fr") or not prompts("es"),
    reason="needs the Debian packages fillets-ng-data-cs, asterisk-prompt-fr-armelle, asterisk-prompt-es-co "
           "(make voices-data)")]


def take(paths: list[Path], seconds: float) -> list[np.ndarray]:
    """Decoded clips, in order, until they add up to ``seconds``."""
    out, total = [], 0.0
    for path in paths:
        if total >= seconds:
            break
        out.append(decode(path).samples)
        total += len(out[-1]) / RATE
    return out


def write_wav(path: Path, clips: list[np.ndarray], gap_s: float = 0.4) -> list[tuple[float, float]]:
    """The clips one after another with short silences, as 16 kHz 16-bit WAV; each clip's (start_s, end_s)."""
    parts, spans, t = [], [], 0.0
    for c in clips:
        parts += [c, np.zeros(int(gap_s * RATE), np.float32)]
        spans.append((t, t + len(c) / RATE))
        t += len(c) / RATE + gap_s
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE), w.writeframes(pcm.tobytes())
    return spans


def interleave(*voices: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """(voice index, clip) taking one clip of each voice in turn."""
    return [(i, v[n]) for n in range(max(map(len, voices))) for i, v in enumerate(voices) if n < len(v)]


def cli(*args: str, cwd: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        result = CliRunner().invoke(main, list(args))
    return result


class _StubEngine:
    """Stands in for Whisper: a word every half second of each chunk. Words play no part in naming speakers,
    and tiny.en on Czech and telephone speech runs Whisper's temperature fallback for many minutes on a
    shared 2-core machine; diarization and CAM++ below are the real models."""

    batch_size = 5

    def detect_language(self, audio, chunks):
        return "en"

    def transcribe_batch(self, audio, chunks, language, prompt=""):
        from pipeline.asr.decoding import make_segment
        from pipeline.asr.options import TranscribeOptions

        def words(c):
            return [(" la", t, t + 0.4, 0.9) for t in np.arange(0.0, c.duration_s - 0.4, 0.5)]

        return [[make_segment("la", words(c), c, TranscribeOptions(), avg_logprob=-0.1, no_speech_prob=0.0,
                              compression_ratio=1.0, temperature=0.0)] if c.duration_s > 0.5 else [] for c in chunks]

    def close(self):
        pass


@pytest.fixture(autouse=True)
def _no_whisper(monkeypatch):
    monkeypatch.setattr("pipeline.run.load_engine", lambda options, device: _StubEngine())


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The enrolment recording (small fish, then big fish: early levels), a show (small and big fish from later
    levels with a French guest, in turn) and a recording of the French and Spanish voices alone."""
    root = tmp_path_factory.mktemp("voices")
    small, big = take(fish("m", slice(0, 3)), 20.0), take(fish("v", slice(0, 3)), 20.0)
    spans = write_wav(root / "enrol.wav", small + big)
    boundary = (spans[len(small) - 1][1] + spans[len(small)][0]) / 2
    order = interleave(take(fish("m", slice(40, 44)), 10.0), take(fish("v", slice(40, 44)), 10.0),
                       take(prompts("fr"), 10.0))
    spans = write_wav(root / "show.wav", [c for _, c in order])
    guest = [span for (who, _), span in zip(order, spans) if who == 2]
    small_spans = [span for (who, _), span in zip(order, spans) if who == 0]
    write_wav(root / "guests.wav", [c for _, c in interleave(take(prompts("fr"), 10.0), take(prompts("es"), 10.0))])
    return root, boundary, guest, small_spans


def transcribe(root: Path, name: str, *extra: str) -> dict:
    """The JSON of one transcription (the stub engine's words; the real diarizer and CAM++)."""
    out = cli("transcribe", f"{name}.wav", "-o", "out", "-m", "tiny.en", "--beam-size", "0", "-f", "json", "-q",
              *extra, cwd=root)
    assert out.exit_code == 0, out.output
    return json.loads((root / "out" / f"{name}.json").read_text())


def labels(data: dict) -> set[str]:
    return {t["speaker"] for t in data["speaker_turns"]}


def speaker_at(data: dict, t: float) -> str:
    return max(data["speaker_turns"], key=lambda turn: min(turn["end_s"], t + 0.5) - max(turn["start_s"], t - 0.5))[
        "speaker"]


def test_enrolled_voices_name_their_speakers_and_no_one_else(studio):
    root, boundary, guest, small_spans = studio
    out = cli("voices", "add", "SMALL", "enrol.wav", "--end", f"{boundary:.2f}", cwd=root)
    assert out.exit_code == 0, out.output
    assert cli("voices", "add", "BIG", "enrol.wav", "--start", f"{boundary:.2f}", cwd=root).exit_code == 0
    listed = cli("voices", "list", cwd=root).output
    assert "BIG:" in listed and "SMALL:" in listed and "enrol.wav 0-" in listed

    # two enrolled voices and an unknown third in another recording: the two named, the third SPEAKER n
    show = transcribe(root, "show")
    assert {"SMALL", "BIG"} <= labels(show)
    assert all(speaker_at(show, (start + end) / 2).startswith("SPEAKER ") for start, end in guest)
    named = {k for k, v in show["voices"]["speakers"].items() if v["named"]}
    assert named == {"SMALL", "BIG"}

    # impostors alone: no one named
    guests = transcribe(root, "guests")
    assert labels(guests) and all(label.startswith("SPEAKER ") for label in labels(guests))
    assert not any(v["named"] for v in guests["voices"]["speakers"].values())

    # --speakers overrides the voices; --no-voices ignores them (from the cache: no model runs again)
    given = transcribe(root, "show", "--speakers", "A,B,C,D")
    assert not {"SMALL", "BIG"} & labels(given) and "A" in labels(given)
    assert not any(v["named"] for v in given["voices"]["speakers"].values())
    plain = transcribe(root, "show", "--no-voices")
    assert not {"SMALL", "BIG"} & labels(plain) and plain["voices"] == {}

    # enrolment from a transcribed episode: a speaker label of its JSON becomes a voice that names it
    first = speaker_at(plain, 1.0)  # the show opens with the small fish
    episode = str(root / "out" / "show.json")
    out = cli("voices", "add", "FISH", "--from", episode, "--speaker", first, "--voices", "v2", cwd=root)
    assert out.exit_code == 0, out.output
    out = cli("voices", "add", "X", "--from", episode, "--speaker", "NOBODY", "--voices", "v2", cwd=root)
    assert out.exit_code == 1 and out.stderr.count("\n") == 1 and "no speaker 'NOBODY' in this episode" in out.stderr
    assert sorted(p.name for p in (root / "v2").iterdir()) == ["FISH.json"]
    fish_turns = [t for t in transcribe(root, "show", "--voices", "v2")["speaker_turns"] if t["speaker"] == "FISH"]
    # the diarizer may split the small fish into two clusters: one to one, the voice names one of them
    assert fish_turns and all(any(s - 0.5 <= (t["start_s"] + t["end_s"]) / 2 <= e + 0.5 for s, e in small_spans)
                              for t in fish_turns)

    # a removed voice is no longer used
    assert cli("voices", "remove", "BIG", cwd=root).exit_code == 0
    show = transcribe(root, "show")
    assert "SMALL" in labels(show) and "BIG" not in labels(show)
    assert all(v["voice"] == "SMALL" for v in show["voices"]["speakers"].values())


def test_silence_and_too_short_clips_are_refused(tmp_path):
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5",
                    str(tmp_path / "silence.wav")], check=True)
    write_wav(tmp_path / "short.wav", [decode(fish("m", slice(0, 1))[0]).samples[: RATE]])
    for clip in ("silence.wav", "short.wav"):
        out = cli("voices", "add", "ANNA", clip, cwd=tmp_path)
        assert out.exit_code == 1, out.output
        assert out.stderr.count("\n") == 1 and "a voice needs at least 2 s of one speaker talking" in out.stderr
    assert not (tmp_path / "voices").exists()
