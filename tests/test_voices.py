"""Speakers named by voice: matching (hand-written vectors), the voices store, merge's known names, the
enrolment helpers that need no model, and the `voices` commands' bad input. No model runs here."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import PodscribeError
from pipeline.merge import merge, relabel_turns, speaker_labels
from pipeline.types import Segment, SpeakerTurn, Transcript, Turn, Word
from pipeline.voices.enrol import EmbedOptions, label_spans, speech_samples, windows
from pipeline.voices.match import MatchOptions, name_speakers, record
from pipeline.voices.store import (
    Enrolment,
    Voice,
    check_name,
    embedding_identity,
    load_voices,
    read_voice,
    remove_voice,
    save_voice,
)
from pipeline.writers.json_format import from_dict, to_dict

X, Y, Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
ANNA = [(0.9, 0.1, 0.0), (1.0, -0.1, 0.0)]
BOB = [(0.1, 0.9, 0.0), (0.0, 1.0, 0.1)]


# --- matching -------------------------------------------------------------------------------------

def test_two_voices_named_and_an_unknown_third_left_alone():
    got = name_speakers([("S0", (0.1, 1.0, 0.0)), ("S1", Z), ("S2", (1.0, 0.05, 0.0))],
                        {"ANNA": ANNA, "BOB": BOB}, MatchOptions(min_score=0.5, min_margin=0.1))
    assert {k: m.name for k, m in got.items()} == {"S0": "BOB", "S1": None, "S2": "ANNA"}
    assert got["S2"].score > 0.99 and got["S2"].margin > 0.85
    assert got["S1"].score == pytest.approx(0.0, abs=0.1)


def test_one_to_one_the_closer_speaker_takes_the_voice():
    got = name_speakers([("S0", (1.0, 0.3, 0.0)), ("S1", X)], {"ANNA": ANNA}, MatchOptions(0.5, 0.1))
    assert got["S1"].name == "ANNA" and got["S0"].name is None
    assert got["S0"].best == "ANNA" and got["S1"].margin is None  # one voice: no runner-up


def test_a_match_needs_the_score_and_the_margin():
    between = (1.0, 0.9, 0.0)  # about as close to ANNA as to BOB
    assert name_speakers([("S0", between)], {"ANNA": ANNA, "BOB": BOB}, MatchOptions(0.5, 0.1))["S0"].name is None
    assert name_speakers([("S0", between)], {"ANNA": ANNA, "BOB": BOB}, MatchOptions(0.5, 0.0))["S0"].name
    weak = (0.45, 0.0, 0.9)
    assert name_speakers([("S0", weak)], {"ANNA": ANNA}, MatchOptions(0.5, 0.0))["S0"].name is None
    assert name_speakers([("S0", weak)], {"ANNA": ANNA}, MatchOptions(0.4, 0.0))["S0"].name == "ANNA"


def test_no_voices_or_no_centroids_names_nobody():
    assert name_speakers([("S0", X)], {}) == {}
    assert name_speakers([], {"ANNA": ANNA}) == {}


def test_a_zero_vector_scores_zero():
    got = name_speakers([("S0", (0.0, 0.0, 0.0))], {"ANNA": ANNA}, MatchOptions(0.5, 0.0))
    assert got["S0"].name is None and got["S0"].score == 0.0


def test_match_options_are_checked():
    with pytest.raises(PodscribeError):
        MatchOptions(min_score=1.5)
    with pytest.raises(PodscribeError):
        MatchOptions(min_margin=-0.1)


def test_record_is_keyed_by_transcript_label():
    matches = name_speakers([("S0", X), ("S1", Z)], {"ANNA": ANNA}, MatchOptions(0.5, 0.1))
    got = record(matches, {"S0": "ANNA", "S1": "SPEAKER 1"}, MatchOptions(0.5, 0.1))
    assert got["speakers"]["ANNA"]["named"] is True and got["speakers"]["SPEAKER 1"]["named"] is False
    assert got["min_score"] == 0.5


# --- merge with known names -------------------------------------------------------------------------

def test_known_names_and_numbered_others():
    assert speaker_labels(["a", "b", "c"], (), {"b": "JEFF"}) == {"a": "SPEAKER 1", "b": "JEFF", "c": "SPEAKER 2"}


def test_given_names_override_known_ones():
    assert speaker_labels(["a", "b"], ("X", "Y"), {"b": "JEFF"}) == {"a": "X", "b": "Y"}


def test_merge_and_relabel_use_known_names():
    words = tuple(Word(t, s, s + 0.4, 0.9) for t, s in (("hi", 0.0), ("there", 2.0)))
    segments = [Segment("hi there", 0.0, 2.4, words)]
    exclusive = [SpeakerTurn("g", 0.0, 1.0), SpeakerTurn("h", 1.5, 3.0)]
    turns, labels = merge(segments, exclusive, known={"h": "JEFF", "u": "BRIAN"})
    assert [t.speaker for t in turns] == ["SPEAKER 1", "JEFF"]
    full = relabel_turns(exclusive + [SpeakerTurn("u", 3.0, 4.0), SpeakerTurn("v", 4.0, 5.0)], labels,
                         {"h": "JEFF", "u": "BRIAN"})
    assert [t.speaker for t in full] == ["SPEAKER 1", "JEFF", "BRIAN", "SPEAKER 4"]


# --- JSON ------------------------------------------------------------------------------------------

def test_json_keeps_the_voice_scores():
    t = Transcript("ep", "0" * 64, 1.0, "en", (Turn("ANNA", (Word("hi", 0, 0.5, 0.9, "ANNA"),)),),
                   voices={"min_score": 0.5, "min_margin": 0.1,
                           "speakers": {"ANNA": {"voice": "ANNA", "score": 0.8, "margin": 0.4, "named": True}}})
    back = from_dict(json.loads(json.dumps(to_dict(t))))
    assert back.voices == t.voices


# --- store -----------------------------------------------------------------------------------------

def voice(name="ANNA", sha="a" * 64) -> Voice:
    return Voice(name, sha, tuple(ANNA), (Enrolment("clip.wav", 12.5, "2026-11-30T17:00:00+00:00"),))


def test_save_load_and_remove(tmp_path):
    save_voice(tmp_path, voice())
    save_voice(tmp_path, voice("BOB"))
    assert [v.name for v in load_voices(tmp_path, "a" * 64)] == ["ANNA", "BOB"]
    assert load_voices(tmp_path, "a" * 64)[0] == voice()
    remove_voice(tmp_path, "ANNA")
    assert [v.name for v in load_voices(tmp_path, "a" * 64)] == ["BOB"]
    with pytest.raises(PodscribeError, match="no voice named 'ANNA'.*enrolled: BOB"):
        remove_voice(tmp_path, "ANNA")


def test_no_folder_no_voices(tmp_path):
    assert load_voices(tmp_path / "missing", "a" * 64) == ()


def test_another_embedding_model_is_refused(tmp_path):
    save_voice(tmp_path, voice(sha="b" * 64))
    with pytest.raises(PodscribeError, match=r"ANNA.json: made with another embedding model"):
        load_voices(tmp_path, "a" * 64)


@pytest.mark.parametrize("content", ["{not json", "", "[]", '{"podscribe_voice": 1}',
                                     '{"podscribe_voice": 1, "name": "ANNA", "model": {"sha256": "x"}, '
                                     '"enrolments": [], "embeddings": [[NaN, 1]]}',
                                     '{"podscribe_voice": 1, "name": "BOB", "model": {"sha256": "x"}, '
                                     '"enrolments": [], "embeddings": [[1, 0]]}'])
def test_a_corrupt_file_is_one_clear_error(tmp_path, content):
    (tmp_path / "ANNA.json").write_text(content)
    with pytest.raises(PodscribeError, match=r"ANNA.json: not a (readable|valid) voices file") as info:
        read_voice(tmp_path / "ANNA.json", "x")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["", "  ", "a/b", ".hidden", "SPEAKER 3", "A,B", "x" * 65, "tab\there"])
def test_bad_names(name):
    with pytest.raises(PodscribeError):
        check_name(name)


def test_good_names():
    assert check_name(" Jeff Dike ") == "Jeff Dike" and check_name("Zoë") == "Zoë"


def test_identity_is_the_manifests_embedding_sha256():
    assert len(embedding_identity()) == 64


# --- enrolment without a model -----------------------------------------------------------------------

def test_windows_cut_speech_and_join_a_short_tail():
    rate = 16000
    lengths = [len(w) / rate for w in windows(np.zeros(int(9.0 * rate)), EmbedOptions(4.0, 2.0))]
    assert lengths == [4.0, 5.0]
    assert [len(w) / rate for w in windows(np.zeros(int(10.5 * rate)), EmbedOptions(4.0, 2.0))] == [4.0, 4.0, 2.5]
    assert windows(np.zeros(int(1.5 * rate)), EmbedOptions(4.0, 2.0)) == []


def test_speech_samples_drop_silence():
    rate = 16000
    tone = 0.3 * np.sin(np.arange(2 * rate) * 2 * np.pi * 220 / rate).astype(np.float32)
    clip = np.concatenate([np.zeros(rate, np.float32), tone, np.zeros(3 * rate, np.float32), tone])
    assert 3.9 < len(speech_samples(clip)) / rate < 4.5
    assert len(speech_samples(np.zeros(5 * rate, np.float32))) == 0


def test_label_spans_cut_out_other_speakers():
    t = Transcript("ep", "0", 10.0, "en", (), speaker_turns=(
        SpeakerTurn("JEFF", 0.0, 4.0), SpeakerTurn("SPEAKER 2", 3.0, 5.0), SpeakerTurn("JEFF", 6.0, 8.0)))
    assert label_spans(t, "JEFF") == [(0.0, 3.0), (6.0, 8.0)]
    with pytest.raises(PodscribeError, match="no speaker 'BOB' in this episode .speakers: JEFF, SPEAKER 2."):
        label_spans(t, "BOB")


def test_label_spans_fall_back_to_word_turns():
    w = lambda s, e: Word("x", s, e, 0.9, "ANNA")  # noqa: E731
    t = Transcript("ep", "0", 10.0, "en", (Turn("ANNA", (w(1.0, 2.0), w(2.0, 3.5))),),
                   speaker_turns=(SpeakerTurn("SPEAKER 1", 1.0, 3.5),))
    assert label_spans(t, "ANNA") == [(1.0, 3.5)]


# --- the commands' bad input (nothing loads a model) ---------------------------------------------------

def run(*args, cwd):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return CliRunner().invoke(main, list(args))


def test_voices_list_remove_and_bad_files(tmp_path):
    sha = embedding_identity()
    save_voice(tmp_path / "voices", voice("ANNA", sha))
    out = run("voices", "list", cwd=tmp_path)
    assert out.exit_code == 0 and "ANNA: 12.5 s" in out.output and "clip.wav" in out.output
    (tmp_path / "voices" / "BAD.json").write_text("{")
    before = sorted(p.name for p in (tmp_path / "voices").iterdir())
    out = run("voices", "list", cwd=tmp_path)
    assert out.exit_code == 1 and "ANNA: 12.5 s" in out.output
    assert out.stderr.count("\n") == 1 and "BAD.json: not a readable voices file" in out.stderr
    out = run("transcribe", "x.wav", cwd=tmp_path)  # a bad voices file stops the run before anything: an option error
    assert out.exit_code == 2 and out.stderr.startswith("error: voices/BAD.json") and out.stderr.count("\n") == 1
    assert sorted(p.name for p in (tmp_path / "voices").iterdir()) == before
    assert run("voices", "remove", "BAD", cwd=tmp_path).exit_code == 0
    out = run("voices", "remove", "NOBODY", cwd=tmp_path)
    assert out.exit_code == 1 and out.stderr == "error: no voice named 'NOBODY' in voices (enrolled: ANNA)\n"


def test_add_usage_errors(tmp_path):
    assert run("voices", "add", "ANNA", cwd=tmp_path).exit_code == 2
    assert run("voices", "add", "ANNA", "a.wav", "--from", "e.json", cwd=tmp_path).exit_code == 2
    assert run("voices", "add", "ANNA", "--from", "e.json", cwd=tmp_path).exit_code == 2
    out = run("voices", "add", "SPEAKER 2", "a.wav", cwd=tmp_path)
    assert out.exit_code == 1 and "give the voice a name" in out.stderr
    out = run("voices", "add", "ANNA", "--from", "missing.json", "--speaker", "X", cwd=tmp_path)
    assert out.exit_code == 1 and out.stderr.startswith("error: missing.json: cannot read")
    assert not (tmp_path / "voices").exists()


def test_add_refuses_to_extend_a_voice_of_another_model(tmp_path):
    save_voice(tmp_path / "voices", voice("ANNA", "b" * 64))
    before = (tmp_path / "voices" / "ANNA.json").read_bytes()
    out = run("voices", "add", "ANNA", "a.wav", cwd=tmp_path)
    assert out.exit_code == 1 and "made with another embedding model" in out.stderr
    assert (tmp_path / "voices" / "ANNA.json").read_bytes() == before


def test_transcribe_voices_flags(tmp_path):
    assert run("transcribe", "x.wav", "--voices", "nowhere", cwd=tmp_path).exit_code == 2
    assert run("transcribe", "x.wav", "--voices", ".", "--no-voices", cwd=tmp_path).exit_code == 2


# --- the Transcriber's naming step (fake engine and diarizer: orchestration only) ------------------------

class _Engine:
    batch_size = 5

    def detect_language(self, audio, chunks):
        return "en"

    def transcribe_batch(self, audio, chunks, language, prompt=""):
        from pipeline.asr.decoding import make_segment
        from pipeline.asr.options import TranscribeOptions

        return [[make_segment("hello there", [(" hello", 0.1, 0.9, 0.9), (" there", c.duration_s - 0.9,
                                                                       c.duration_s - 0.1, 0.9)],
                              c, TranscribeOptions(), avg_logprob=-0.1, no_speech_prob=0.0, compression_ratio=1.0,
                              temperature=0.0)] for c in chunks]

    def close(self):
        pass


class _Diarizer:
    def diarize(self, audio, progress=None):
        from pipeline.types import Diarization

        half = audio.duration_s / 2
        turns = (SpeakerTurn("S0", 0.0, half), SpeakerTurn("S1", half, audio.duration_s))
        return Diarization(turns=turns, exclusive=turns, centroids=(("S0", Y), ("S1", X)))

    def close(self):
        pass


def test_transcriber_names_speakers_by_voice(tmp_path):
    import wave

    from pipeline.run import RunOptions, Transcriber

    rate = 16000
    tone = (0.3 * np.sin(np.arange(4 * rate) * 2 * np.pi * 220 / rate) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "ep.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(tone.tobytes())
    anna = Voice("ANNA", "a" * 64, tuple(ANNA), ())
    run = lambda **kw: Transcriber(RunOptions(voices=(anna,), **kw), asr=lambda o, d: _Engine(),  # noqa: E731
                                   diarizer=lambda o, d: _Diarizer()).run(tmp_path / "ep.wav")
    t = run()
    assert [turn.speaker for turn in t.turns] == ["SPEAKER 1", "ANNA"]
    assert [turn.speaker for turn in t.speaker_turns] == ["SPEAKER 1", "ANNA"]
    assert t.voices["speakers"]["ANNA"]["named"] and not t.voices["speakers"]["SPEAKER 1"]["named"]
    from pipeline.merge import MergeOptions

    t = run(merge=MergeOptions(speaker_names=("JEFF", "BRIAN")))
    assert [turn.speaker for turn in t.turns] == ["JEFF", "BRIAN"]
    assert not any(v["named"] for v in t.voices["speakers"].values())


def test_bad_clip_bounds(tmp_path):
    from pipeline.voices.enrol import clip

    for start, end in ((-1.0, None), (5.0, 4.0), (None, 0.0)):
        with pytest.raises(PodscribeError, match="--start must be at least 0 and --end after it"):
            clip(tmp_path / "a.wav", start, end)
