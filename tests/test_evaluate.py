"""Every measure against hand-computed values, and the ``evaluate`` command through click's CliRunner."""
import json
import sys
import types

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import PodscribeError
from pipeline.evaluate import Document, DocWord, score, sweep
from pipeline.evaluate.calibration import JudgedWord, calibrate
from pipeline.evaluate.manifest import read_manifest
from pipeline.evaluate.metrics import get_normalizer
from pipeline.types import SpeakerTurn
from pipeline.writers import json_format
from tests.helpers import small_transcript


def doc(*parts, fmt="text", turns=(), reference=True):
    """``doc("a b c")`` or ``doc(("A", "a b"), ("B", "c"))``; ``[?]`` is a gap (reference) or a flag (hypothesis)."""
    words = []
    for part in parts:
        speaker, text = part if isinstance(part, tuple) else (None, part)
        for t in text.split():
            if t == "[?]" and reference:
                words.append(DocWord("[?]", speaker, unknown=True))
            elif t == "[?]":
                words[-1] = DocWord(words[-1].text, words[-1].speaker, uncertain=True)
            else:
                words.append(DocWord(t, speaker))
    return Document("test", fmt, tuple(words), tuple(SpeakerTurn(*t) for t in turns))


def counts(e):
    return (e.hits, e.substitutions, e.deletions, e.insertions)


# ---------------------------------------------------------------- WER and CER


def test_wer_parts():
    s = score(doc("the cat sat on the mat"), doc("the cat sit on mat"))
    assert counts(s.words) == (4, 1, 1, 0)
    assert s.wer == pytest.approx(2 / 6)


def test_empty_hypothesis_is_all_deletions():
    s = score(doc("a b c"), doc(""), normalizer="none")
    assert counts(s.words) == (0, 0, 3, 0) and s.wer == 1.0
    assert counts(s.chars) == (0, 0, 5, 0) and s.cer == 1.0  # "a b c": five characters


def test_all_insertions():
    s = score(doc("hello world"), doc("hello big wide world"))
    assert counts(s.words) == (2, 0, 0, 2) and s.wer == 1.0
    nothing = score(Document("r", "text", ()), doc("a b"))
    assert counts(nothing.words) == (0, 0, 0, 2) and nothing.wer == float("inf")


def test_cer_by_hand():
    s = score(doc("kitten"), doc("sitting"), normalizer="none")
    assert counts(s.chars) == (4, 2, 0, 1)  # k->s, e->i, +g
    assert s.cer == pytest.approx(3 / 6)


def test_whisper_normalizer_by_default():
    s = score(doc("Twenty-five colours, you’re right! Uh,"), doc("25 colors you are right"))
    assert s.wer == 0.0
    assert score(doc("Hello, World"), doc("hello world"), normalizer="none").wer == 1.0
    assert score(doc("Hello, World"), doc("hello world"), normalizer="basic").wer == 0.0


def test_the_normalizer_follows_the_transcripts_language():
    from dataclasses import replace

    french = replace(doc("Il a vingt-cinq ans, d'accord ? Écoutez."), language="fr")
    s = score(doc("il a vingt-cinq ans d'accord écoutez"), french)
    assert s.normalizer == "basic" and s.wer == 0.0  # the English rules would rewrite "vingt-cinq" and spellings
    assert score(doc("il a vingt cinq ans"), french).normalizer == "basic"
    assert score(doc("ecoutez"), replace(doc("Écoutez."), language="fr"), normalizer="basic").wer == 1.0
    assert score(doc("ecoutez"), replace(doc("Écoutez."), language="fr"), normalizer="basic-ascii").wer == 0.0
    english = score(doc("Twenty-five colours"), replace(doc("25 colors"), language="en"))
    assert english.normalizer == "whisper" and english.wer == 0.0
    assert score(doc("a"), doc("a")).normalizer == "whisper"  # no language known: English, as before


def test_normalizer_loads_without_torch():
    get_normalizer("whisper")
    assert "_podscribe_whisper_normalizers" in sys.modules
    with pytest.raises(PodscribeError, match="unknown normalizer"):
        get_normalizer("fancy")


@pytest.mark.parametrize("hyp, expected", [
    ("for kvm and xen development", (2, 0, 0, 0)),  # words at the gap are not scored
    ("for development", (2, 0, 0, 0)),  # nor is their absence
    ("four kvm development", (1, 1, 0, 0)),  # errors next to the gap still count
    ("for kvm devel", (1, 1, 0, 0)),
])
def test_reference_gap_does_not_penalise(hyp, expected):
    s = score(doc("for [?] development"), doc(hyp))
    assert counts(s.words) == expected


def test_reference_gap_and_cer():
    s = score(doc("ab [?] cd"), doc("ab xyz cd"), normalizer="none")
    assert counts(s.chars) == (5, 0, 0, 0)  # "ab cd" against "ab cd"


# ---------------------------------------------------------------- speakers


def test_per_speaker_wer():
    s = score(doc(("A", "a b c"), ("B", "d e")), doc("a x c d e f"), normalizer="none")
    by = {p.speaker: counts(p.errors) for p in s.per_speaker}
    assert by == {"A": (2, 1, 0, 0), "B": (2, 0, 0, 1)}  # the trailing insertion goes to B
    assert s.cpwer is None  # the hypothesis has no speakers


def test_no_speakers_gives_wer_only():
    s = score(doc("a b"), doc("a b"))
    assert s.per_speaker == () and s.cpwer is None and s.der is None and s.calibration is None


def test_cpwer_speaker_permutation():
    s = score(doc(("A", "a b c"), ("B", "d e")), doc(("S2", "d e"), ("S1", "a b c")), normalizer="none")
    assert s.cpwer.errors == 0 and s.cpwer.rate == 0.0
    assert sorted(s.cpwer.pairs) == [("A", "S1", 0), ("B", "S2", 0)]
    assert s.wer > 0  # the words are out of order, the speakers are right


def test_cpwer_unmatched_reference_speaker():
    # X = B costs 2 insertions ("a b"), A unmatched costs its 2 words: 4 of 5
    s = score(doc(("A", "a b"), ("B", "c d e")), doc(("X", "a b c d e")), normalizer="none")
    assert (s.cpwer.errors, s.cpwer.ref_words) == (4, 5)
    assert sorted(s.cpwer.pairs, key=str) == sorted([("A", None, 2), ("B", "X", 2)], key=str)


def test_cpwer_extra_hypothesis_speaker():
    s = score(doc(("A", "a b c")), doc(("X", "a b"), ("Y", "c")), normalizer="none")
    assert (s.cpwer.errors, s.cpwer.ref_words) == (2, 3)  # c deleted from X, Y's c inserted


def test_cpwer_gap_words_not_counted():
    s = score(doc(("A", "a [?] b")), doc(("X", "a zz b")), normalizer="none")
    assert (s.cpwer.errors, s.cpwer.ref_words) == (0, 2)


# ---------------------------------------------------------------- DER


def turns_doc(*turns):
    return Document("turns", "rttm", (), tuple(SpeakerTurn(*t) for t in turns), has_words=False)


def test_der_permutation_is_free():
    s = score(turns_doc(("A", 0, 10), ("B", 10, 20)), turns_doc(("S2", 0, 10), ("S1", 10, 20)), collar=0)
    assert s.der.rate == 0.0 and dict(s.der.mapping) == {"S2": "A", "S1": "B"}
    assert s.words is None


def test_der_confusion_and_collar():
    ref, hyp = turns_doc(("A", 0, 10), ("B", 10, 20)), turns_doc(("S1", 0, 12), ("S2", 12, 20))
    no_collar = score(ref, hyp, collar=0).der
    assert (no_collar.missed_s, no_collar.false_alarm_s, no_collar.confusion_s, no_collar.total_s) == (0, 0, 2, 20)
    # collar 1.0 = 0.5 s either side of 0, 10 and 20: 18 s scored, confusion 10.5-12
    collar = score(ref, hyp, collar=1.0).der
    assert collar.confusion_s == pytest.approx(1.5) and collar.total_s == pytest.approx(18)
    assert collar.rate == pytest.approx(1.5 / 18)


def test_der_missed_and_false_alarm():
    d = score(turns_doc(("A", 0, 10)), turns_doc(("S", 2, 12)), collar=0).der
    assert (d.missed_s, d.false_alarm_s, d.confusion_s, d.total_s) == (2, 2, 0, 10) and d.rate == pytest.approx(0.4)


def test_der_from_timed_words():
    words = (DocWord("a", "S", 0.0, 1.0), DocWord("b", "S", 1.0, 2.0), DocWord("c", "T", 3.0, 4.0))
    hyp = Document("h", "json", words)
    s = score(Document("r", "forum+rttm", (DocWord("a", "A"), DocWord("b", "A"), DocWord("c", "B")),
                       (SpeakerTurn("A", 0, 2), SpeakerTurn("B", 3, 4))), hyp, collar=0)
    assert s.der.rate == 0.0 and s.wer == 0.0 and s.cpwer.rate == 0.0


def test_nothing_to_compare():
    with pytest.raises(PodscribeError, match="nothing to compare"):
        score(turns_doc(("A", 0, 1)), doc("a b"))


# ---------------------------------------------------------------- calibration

ALPHABET = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
PROBS = {"alpha": .9, "bravo": .9, "charly": .2, "delta": .9, "echo": .4, "golf": .3, "hotel": .95, "india": .9,
         "juliet": .9, "kilo": .1}


def calibration_hyp():
    """charlie -> charly (sub), foxtrot deleted (attaches to echo), kilo inserted; marked: charly, golf, kilo."""
    text = "alpha bravo charly delta echo golf hotel india juliet kilo"
    marked = {"charly", "golf", "kilo"}
    return Document("h", "json", tuple(DocWord(t, probability=PROBS[t], uncertain=t in marked) for t in text.split()))


def test_calibration_by_hand():
    s = score(doc(ALPHABET), calibration_hyp(), normalizer="none")
    assert counts(s.words) == (8, 1, 1, 1)
    assert [j.text for j in s.judged if j.wrong] == ["charly", "echo", "kilo"]
    c = s.calibration
    assert (c.words, c.marked, c.wrong, c.marked_wrong) == (10, 3, 3, 2)
    assert c.precision == pytest.approx(2 / 3) and c.recall == pytest.approx(2 / 3) and c.marked_share == 0.3


def test_sweep_by_hand():
    s = score(doc(ALPHABET), calibration_hyp(), normalizer="none")
    at = {p.threshold: p.calibration for p in s.sweep.points}
    assert (at[0.15].marked, at[0.15].marked_wrong) == (1, 1)  # kilo
    assert (at[0.25].marked, at[0.25].marked_wrong) == (2, 2)  # + charly
    assert (at[0.35].marked, at[0.35].marked_wrong) == (3, 2)  # + golf
    assert (at[0.45].marked, at[0.45].marked_wrong) == (4, 3)  # + echo
    assert s.sweep.best is None  # 10% marked catches a third of the errors
    loose = sweep(s.judged, max_marked=0.2)
    assert loose.best.threshold == 0.25 and loose.best.calibration.recall == pytest.approx(2 / 3)


def test_deletion_at_start_attaches_to_next_word():
    s = score(doc("a b c"), Document("h", "json", (DocWord("b", probability=0.5), DocWord("c", probability=0.5))),
              normalizer="none")
    assert [(j.text, j.wrong) for j in s.judged] == [("b", True), ("c", False)]


def test_words_at_a_gap_are_not_judged():
    hyp = Document("h", "json", tuple(DocWord(t, probability=0.9) for t in "for kvm development".split()))
    s = score(doc("for [?] development"), hyp)
    assert [j.text for j in s.judged] == ["for", "development"] and s.calibration.wrong == 0


def test_calibrate_empty():
    c = calibrate([])
    assert c.precision is None and c.recall is None and c.marked_share is None
    assert calibrate([JudgedWord(0, "a", 0.1, True, False)]).precision == 0.0


# ---------------------------------------------------------------- the command


REF = "[b]BRIAN:[/b] You’re listening to the podcast.\n[b]JEFF:[/b] I’m good, [i][?][/i] thanks.\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ref.forum.txt").write_text(REF, encoding="utf-8")
    with open(tmp_path / "episode.json", "w") as f:
        json_format.write(small_transcript(), f)
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, ["evaluate", *(str(a) for a in args)])


def test_cli_table(files):
    result = run("--ref", files / "ref.forum.txt", "--hyp", files / "episode.json")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[2].split()
    assert first[:6] == ["episode", "10", "0.0%", "0", "0", "0"]  # erm and lkml sit in the reference's [?] gap
    assert "BRIAN" in result.output and "threshold sweep" in result.output


def test_cli_json(files):
    result = run("--ref", files / "ref.forum.txt", "--hyp", files / "episode.json", "--format", "json", "--collar", "0")
    data = json.loads(result.output)
    assert data["wer"]["ref"] == 10 and data["wer"]["rate"] == 0.0
    assert data["cpwer"]["rate"] == 0.0 and data["der"] is None
    assert set(data["per_speaker"]) == {"BRIAN", "JEFF"}
    assert len(data["sweep"]["points"]) == 19 and data["calibration"]["marked"] == 0  # marks at the gap are not judged


def test_cli_html_next_to_hypothesis(files):
    (files / "ref.rttm").write_text("SPEAKER ep 1 0.0 1.7 <NA> <NA> BRIAN <NA> <NA>\n"
                                    "SPEAKER ep 1 1.9 3.8 <NA> <NA> JEFF <NA> <NA>\n")
    result = run("--ref", files / "ref.forum.txt", "--ref", files / "ref.rttm", "--hyp", files / "episode.json",
                  "--format", "html")
    assert result.exit_code == 0, result.output
    page = (files / "episode.report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2 and "class='gap'" in page


def test_cli_usage_errors(files):
    assert run().exit_code == 2
    assert run("--ref", files / "ref.forum.txt").exit_code == 2
    assert run("--manifest", "m.toml", "--ref", "r", "--hyp", "h").exit_code == 2
    assert run("--ref", "r", "--hyp", "h", "--format", "pdf").exit_code == 2


def test_cli_reading_errors(files):
    result = run("--ref", files / "missing.txt", "--hyp", files / "episode.json")
    assert result.exit_code == 1 and "no such file" in result.output
    (files / "empty.txt").write_text("")
    assert run("--ref", files / "empty.txt", "--hyp", files / "episode.json").exit_code == 1


def test_manifest_toml_and_csv(files):
    (files / "m.toml").write_text('[[episode]]\naudio = "episode.flac"\nreference = "ref.forum.txt"\n'
                                  'hypothesis = "episode.json"\n')
    (files / "m.csv").write_text("audio,reference,hypothesis\nepisode.flac,ref.forum.txt;ref.rttm,episode.json\n")
    toml, csv_ = read_manifest(files / "m.toml"), read_manifest(files / "m.csv")
    assert toml[0].references == (files / "ref.forum.txt",) and toml[0].hypothesis == files / "episode.json"
    assert csv_[0].references == (files / "ref.forum.txt", files / "ref.rttm") and csv_[0].name == "episode"


def test_cli_manifest_totals_over_all_words(files, tmp_path):
    (files / "short.txt").write_text("hello there world\n")
    (files / "m.csv").write_text("episode.flac,ref.forum.txt,episode.json\nshort.flac,short.txt,short.txt\n")
    result = run("--manifest", files / "m.csv", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [e["episode"] for e in data["episodes"]] == ["episode", "short"]
    assert data["total"]["wer"]["ref"] == 13 and data["total"]["wer"]["rate"] == 0.0


def test_cli_manifest_transcribes_what_is_missing(files, monkeypatch):
    (files / "episode.flac").write_bytes(b"fake")
    (files / "m.toml").write_text('[[episode]]\naudio = "episode.flac"\nreference = "ref.forum.txt"\n')
    calls = []

    class Transcriber:
        def __init__(self, options):
            pass

        def run(self, audio):
            calls.append(audio)
            return small_transcript()

    fake = types.ModuleType("pipeline.run")
    fake.Transcriber, fake.RunOptions = Transcriber, lambda: None
    monkeypatch.setitem(sys.modules, "pipeline.run", fake)
    out = files / "out"
    result = run("--manifest", files / "m.toml", "--outputs", out)
    assert result.exit_code == 0, result.output
    assert calls == [files / "episode.flac"] and (out / "episode.json").is_file()
    assert "TOTAL" in result.output
    calls.clear()
    assert run("--manifest", files / "m.toml", "--outputs", out).exit_code == 0 and calls == []  # now it exists


def test_cli_manifest_errors(files):
    assert run("--manifest", files / "nope.toml").exit_code == 1
    (files / "bad.toml").write_text("[[episode]]\naudio = 1\n")
    result = run("--manifest", files / "bad.toml")
    assert result.exit_code == 1 and "needs an audio and a reference" in result.output


def test_evaluate_says_which_normalizer_it_used_for_a_french_transcript(tmp_path):
    from dataclasses import replace

    from pipeline.types import Transcript, Turn, Word

    words = (Word("L", 0.0, 0.2, 0.9), replace(Word("'étoile,", 0.2, 0.6, 0.9), joins=True),
             Word("vingt-cinq", 0.7, 1.2, 0.9))
    t = Transcript(episode="fr", sha256="0" * 64, duration_s=2.0, language="fr", turns=(Turn("ANNE", words),))
    with open(tmp_path / "fr.json", "w", encoding="utf-8") as f:
        json_format.write(t, f)
    (tmp_path / "ref.txt").write_text("l'étoile vingt-cinq\n", encoding="utf-8")
    result = run("--ref", tmp_path / "ref.txt", "--hyp", tmp_path / "fr.json")
    assert result.exit_code == 0, result.output
    assert "text normalised with: basic" in result.output and "0.0%" in result.output
