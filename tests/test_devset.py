"""The dev-set builder's pure parts (script parsing, layout, regions, references, manifest) and the
lost-speech measure, on hand-written values: nothing is downloaded or synthesized."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import devset_scripts as scripts
from benchmarks.devset import (
    Built,
    Line,
    Music,
    Placed,
    forum_text,
    layout,
    manifest_toml,
    parse_script,
    regions_of,
    rttm_text,
)
from pipeline.evaluate import read_reference
from pipeline.evaluate.lost import lost_speech, lost_speech_spans
from pipeline.evaluate.manifest import read_manifest


def test_parse_script_reads_marks_and_music():
    items = parse_script(["~music 20", "HOST: Hello there.", "GUEST^: Yeah.", "HOST+: And so on.", "GUEST>: Hi."])
    assert items == [Music(20.0), Line("HOST", "Hello there."), Line("GUEST", "Yeah.", "^"),
                     Line("HOST", "And so on.", "+"), Line("GUEST", "Hi.", ">")]


def test_parse_script_rejects_a_line_without_a_speaker():
    with pytest.raises(ValueError, match="not a script line"):
        parse_script(["hello without a name"])


def test_every_shipped_script_parses_and_the_outro_is_verbatim():
    for script in (scripts.MUSIC_OUTRO, scripts.CROSSTALK, scripts.NAMES_JARGON, scripts.QUIET_SPEAKER,
                   scripts.POEM + scripts.PROSE):
        assert parse_script(script)
    outro = [i for i in parse_script(scripts.MUSIC_OUTRO) if isinstance(i, Line)][-1]
    assert outro.text == ("Thanks for listening to this short test, and remember to check the show notes for "
                          "links to everything we talked about today.")


def test_layout_places_pauses_overlaps_backchannels_and_continuations():
    items = [Music(10.0), Line("A", "first half"), Line("B", "yeah", "^"), Line("A", "second half", "+"),
             Line("B", "overlapping", ">"), Line("A", "after a pause")]
    durations = [10.0, 4.0, 0.5, 3.0, 2.0, 1.0]
    starts = layout(items, durations, np.random.default_rng(0))
    assert starts[0] == 0.5
    assert starts[1] == pytest.approx(10.8)  # speech follows the music closely
    a_end = starts[1] + 4.0
    assert a_end - 0.6 <= starts[2] <= a_end - 0.3  # the backchannel starts inside A's line
    assert a_end + 0.15 <= starts[3] <= a_end + 0.35  # A carries on after its own line, not after the "yeah"
    b_end = starts[3] + 3.0
    assert b_end - 1.0 <= starts[4] <= b_end - 0.3  # overlap of 0.3-1.0 s
    assert starts[5] >= starts[4] + 2.0 + 0.4  # a pause after the latest end


def test_layout_is_the_same_for_the_same_seed():
    items = [Line("A", "x"), Line("B", "y"), Line("A", "z", ">")]
    durations = [1.0, 2.0, 3.0]
    assert layout(items, durations, np.random.default_rng(7)) == layout(items, durations, np.random.default_rng(7))


def test_regions_join_short_pauses_and_split_at_long_ones():
    loud = [False] + [True] * 5 + [False] * 2 + [True] * 5 + [False] * 40 + [True] * 10 + [False, True]
    assert regions_of(loud, frame_s=0.01, min_pause_s=0.3) == [(0.01, 0.13), (0.53, 0.65)]


def test_references_and_manifest_read_back_through_podscribe_evaluate(tmp_path):
    placed = [Placed("ANNA", "We're recording now.", 0.5, 2.0, ((0.5, 2.0),)),
              Placed("CARL", "Yeah.", 1.7, 2.1, ((1.7, 2.1),)),
              Placed("ANNA", "So the plan is simple.", 2.3, 4.0, ((2.3, 3.0), (3.4, 4.0)))]
    (tmp_path / "ep.forum.txt").write_text(forum_text(placed))
    (tmp_path / "ep.rttm").write_text(rttm_text("ep", placed))
    (tmp_path / "manifest.toml").write_text(manifest_toml([Built("ep", 4.5, ("ANNA", "CARL"), "synthetic", "x")]))
    pair, = read_manifest(tmp_path / "manifest.toml")
    assert pair.audio == tmp_path / "ep.flac"
    ref = read_reference(list(pair.references))
    assert [w.text for w in ref.words] == ["We're", "recording", "now.", "Yeah.", "So", "the", "plan", "is",
                                           "simple."]
    assert [w.speaker for w in ref.words] == ["ANNA"] * 3 + ["CARL"] + ["ANNA"] * 5
    assert [(t.speaker, t.start_s, t.end_s) for t in ref.speaker_turns] == [
        ("ANNA", 0.5, 2.0), ("CARL", 1.7, 2.1), ("ANNA", 2.3, 3.0), ("ANNA", 3.4, 4.0)]


def test_lost_speech_counts_only_holes_with_a_second_of_speech():
    speech = [(0.0, 10.0), (12.0, 20.0)]
    words = [(0.2, 0.5), (0.6, 1.0), (1.2, 1.5), (6.0, 6.4), (6.5, 9.9), (12.1, 19.8)]
    lost = lost_speech_spans(speech, words, pad_s=0.5, min_s=1.0)
    assert lost.holes == ((2.0, 5.5, 3.5),)  # 1.5 s + 0.5 pad to 6.0 - 0.5: 3.5 s of speech without words
    assert lost.seconds == 3.5 and lost.speech_s == 18.0


def test_lost_speech_ignores_pauses_and_counts_a_missing_ending():
    speech = [(0.0, 2.0), (2.8, 5.0), (30.0, 33.0)]
    words = [(0.1, 1.9), (2.9, 4.9)]  # the 0.8 s pause between words is not lost; the last 3 s are
    assert lost_speech_spans(speech, words).seconds == 3.0
    assert lost_speech_spans(speech, []).seconds == 7.2


def test_lost_speech_reads_documents(tmp_path):
    (tmp_path / "r.rttm").write_text("SPEAKER r 1 0.0 10.0 <NA> <NA> A <NA> <NA>\n")
    (tmp_path / "r.forum.txt").write_text("[b]A:[/b] one two three\n")
    (tmp_path / "h.srt").write_text("1\n00:00:00,000 --> 00:00:03,000\none two three\n")
    ref = read_reference([tmp_path / "r.forum.txt", tmp_path / "r.rttm"])
    from pipeline.evaluate import read_hypothesis

    lost = lost_speech(ref, read_hypothesis(tmp_path / "h.srt"))
    assert lost.seconds == 6.5 and lost.holes == ((3.5, 10.0, 6.5),)


def test_complete_only_when_the_manifest_and_all_its_files_are_there(tmp_path):
    from benchmarks.devset import complete

    assert not complete(tmp_path)
    (tmp_path / "manifest.toml").write_text(manifest_toml([Built("ep", 1.0, ("A",), "synthetic", "x")]))
    for name in ("ep.flac", "ep.forum.txt"):
        (tmp_path / name).write_text("x")
    assert not complete(tmp_path)  # the RTTM is missing
    (tmp_path / "ep.rttm").write_text("x")
    assert complete(tmp_path)


def test_dropped_words_counts_runs_of_deletions_by_the_words_alone(tmp_path):
    from pipeline.evaluate import read_hypothesis, score
    from pipeline.evaluate.lost import dropped_words

    (tmp_path / "r.txt").write_text("he might have been made still more respectable than he was he might even\n")
    (tmp_path / "h.txt").write_text("he might have been he was he might oven\n")
    scores = score(read_reference(tmp_path / "r.txt"), read_hypothesis(tmp_path / "h.txt"))
    assert dropped_words(scores) == 5  # made still more respectable than: 5 in a row; "even" misheard, not dropped
    assert dropped_words(scores, min_run=6) == 0


def test_words_outside_reference_speech_are_counted(tmp_path):
    from pipeline.evaluate import read_hypothesis
    from pipeline.evaluate.lost import outside_speech

    (tmp_path / "r.rttm").write_text("SPEAKER r 1 10.0 5.0 <NA> <NA> A <NA> <NA>\n")
    (tmp_path / "h.srt").write_text("1\n00:00:02,000 --> 00:00:03,000\nmusic words\n\n"
                                    "2\n00:00:10,000 --> 00:00:12,000\nreal speech\n")
    assert outside_speech(read_reference(tmp_path / "r.rttm"), read_hypothesis(tmp_path / "h.srt")) == 2
