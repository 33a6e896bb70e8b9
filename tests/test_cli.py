"""The podscribe command through click's CliRunner: help, usage errors, bad input (fake models), and what only
the real models can show (slow): no words from silence or music, a one-second clip."""
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.asr.options import CONTEXT_WORDS
from pipeline.cli import main
from pipeline.cli.options import FILLS
from pipeline.cli.reference import reference
from tests import assets
from tests.audio import bursts, music, write_wav

REPO = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _commands(group, path=()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))
        else:
            yield path + (name,), command


@pytest.mark.parametrize("path, command", list(_commands(main)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_help_documents_every_option_click_knows(path, command):
    result = run(*path, "--help")
    assert result.exit_code == 0
    for param in command.params:
        for name in (param.opts if isinstance(param, click.Option) else [param.human_readable_name]):
            assert name in result.output, f"podscribe {' '.join(path)} --help does not show {name}"


def test_transcribe_and_feed_share_every_transcription_option():
    names = lambda command: {p.name for p in command.params}
    assert {fill.name for fill in FILLS} <= names(main.commands["transcribe"]) & names(main.commands["feed"])


def test_the_command_reference_is_generated_from_the_commands():
    """docs/commands.md is what `make docs` writes: an option added or changed without it fails here."""
    assert (REPO / "docs" / "commands.md").read_text() == reference(main), "run `make docs`"


def test_python_dash_m_works_like_the_console_script():
    result = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "transcribe" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--format", "docx"], "unknown format docx"),
    (["--min-speakers", "3", "--max-speakers", "2"], "min_speakers"),
    (["--speakers", "A,A"], "distinct"),
    (["--uncertain-below", "2"], "between 0 and 1"),
    (["--max-chunk", "45"], "30 s"),
    (["--num-speakers", "4", "--max-speakers", "2"], "num_speakers (4) is more than max_speakers (2)"),
    (["--no-diarize", "--num-speakers", "2"], "--no-diarize"),
    (["--batch-size", "0"], "'0' is not 'auto' or a positive whole number"),
    (["--batch-size", "many"], "'many' is not 'auto'"),
    (["--beam-size", "-1"], "--beam-size"),
    (["--chunk-by", "vad"], "--chunk-by"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    result = run("transcribe", tmp_path / "x.mp3", *args)
    assert result.exit_code == 2
    assert message in result.output


def bad_file(tmp_path, kind):
    if kind == "missing":
        return tmp_path / "nope.mp3", "no such file"
    if kind == "directory":
        return tmp_path, "is a directory"
    path = tmp_path / f"{kind}.mp3"
    if kind == "empty":
        path.write_bytes(b"")
        return path, "file is empty"
    if kind == "text":
        path.write_text("this is not audio\n" * 50)
        return path, "cannot decode audio"
    if kind == "truncated":
        path.write_bytes(b"fLaC\x00\x00\x00\x22" + bytes(20))
        return path, "cannot decode audio"
    if kind == "image":
        png = tmp_path / "cover.png"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1",
                        str(png)], check=True)
        path.write_bytes(png.read_bytes())
        return path, "no audio track"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "text", "truncated", "image"])
def test_bad_input_is_one_line_and_exit_1(tmp_path, kind, fake_models):
    path, message = bad_file(tmp_path, kind)
    result = run("transcribe", path, "-o", tmp_path / "out", "--no-diarize", "-q", "-m", "tiny.en")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.output


def test_one_bad_file_never_costs_the_others(tmp_path, fake_models):
    good = write_wav(tmp_path / "Jeff's épisode one.wav", bursts(12))  # spaces, a quote and a non-ASCII letter
    bad, _ = bad_file(tmp_path, "text")
    out = tmp_path / "out"
    result = run("transcribe", bad, good, "-o", out, "-m", "tiny.en", "--no-diarize", "-q", "-f", "json,forum")
    assert result.exit_code == 1
    assert "1 of 2 file(s) failed" in result.output
    forum = (out / "Jeff's épisode one.forum.txt").read_text()
    assert forum.startswith("[b]SPEAKER 1:[/b] w0 w5")
    data = json.loads((out / "Jeff's épisode one.json").read_text())
    assert data["models"]["whisper"] == "tiny.en" and len(data["sha256"]) == 64
    assert set(data["timings_s"]) >= {"decode", "chunk", "transcribe", "merge"}
    assert "words" in result.output and "RTF" in result.output
    assert data["speakers"] == ["SPEAKER 1"] and data["speaker_turns"] == [], "--no-diarize: speech activity only"


def test_chunk_by_speech_reaches_the_options_and_the_json(tmp_path, fake_models):
    good = write_wav(tmp_path / "ep.wav", bursts(12))
    result = run("transcribe", good, "-o", tmp_path, "-m", "tiny.en", "--chunk-by", "speech", "-q", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ep.json").read_text())["options"]["chunk"]["source"] == "speech"


@pytest.mark.parametrize("model, flag, words", [("tiny.en", [], CONTEXT_WORDS), ("base", [], 0),
                                                ("base", ["--context"], CONTEXT_WORDS), ("tiny.en", ["--no-context"], 0)])
def test_context_auto_is_resolved_and_the_flag_reaches_the_options(tmp_path, fake_models, model, flag, words):
    """The transcript records the context as used: the words each chunk's prompt carries (0: none)."""
    good = write_wav(tmp_path / "ep.wav", bursts(12))
    result = run("transcribe", good, "-o", tmp_path, "-m", model, *flag, "-q", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ep.json").read_text())["options"]["transcribe"]["context"] == words


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["silence", "music"])
def test_no_speech_gives_an_empty_transcript_not_hallucinated_text(tmp_path, kind):
    samples = np.random.default_rng(0).normal(0, 30, 16000 * 8) if kind == "silence" else music(12)
    path = write_wav(tmp_path / f"{kind}.wav", samples)
    result = run("transcribe", path, "-o", tmp_path, "-m", "tiny.en", "-q", "-f", "txt,json", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "no speech found" in result.output
    assert json.loads((tmp_path / f"{kind}.json").read_text())["turns"] == []


@pytest.mark.slow
@pytest.mark.filterwarnings("error::RuntimeWarning")  # pyannote's empty-centroid warning is handled
def test_a_one_second_clip_is_transcribed(tmp_path):
    import wave

    with wave.open(str(assets.jfk_wav())) as f:
        rate = f.getframerate()
        f.readframes(int(0.2 * rate))
        clip = np.frombuffer(f.readframes(rate), dtype=np.int16)
    path = write_wav(tmp_path / "clip.wav", clip)
    result = run("transcribe", path, "-o", tmp_path, "-m", "tiny.en", "-q", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "clip.json").read_text())
    assert data["duration_s"] == pytest.approx(1.0, abs=0.01)
    words = [w["text"].strip(",.").lower() for t in data["turns"] for w in t["words"]]
    assert words[:2] == ["and", "so"], words


def test_unwritable_output_folder(tmp_path, fake_models):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere a mode allows; sysfs refuses even root
        locked = Path("/sys")
    clip = write_wav(tmp_path / "clip.wav", bursts(4))
    result = run("transcribe", clip, "-o", locked, "-m", "tiny.en", "--no-diarize", "-q", "--no-cache")
    assert result.exit_code == 1 and "cannot write here" in result.output


def test_output_folder_that_is_a_file(tmp_path, fake_models):
    blocker = tmp_path / "out"
    blocker.write_text("x")
    clip = write_wav(tmp_path / "clip.wav", bursts(4))
    result = run("transcribe", clip, "-o", blocker, "-m", "tiny.en", "--no-diarize", "-q", "-f", "txt")
    assert result.exit_code == 1 and "cannot write here" in result.output


@pytest.mark.parametrize("engine", ["whisper", "ctranslate2"])
def test_an_unknown_model_is_refused_before_any_work(tmp_path, engine, no_models):
    """Found before anything is decoded, diarized or written: one line, exit 2, no catalog."""
    result = run("transcribe", assets.jfk_wav(), "-o", tmp_path / "out", "-m", "tiny.en.typo", "--engine", engine)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ") and "tiny.en.typo" in result.output
    assert not (tmp_path / "out").exists()


def test_models_list_shows_every_model():
    result = run("models", "list")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert {"tiny.en", "base", "segmentation", "embedding"} <= set(names)
