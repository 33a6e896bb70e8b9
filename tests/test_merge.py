"""Word-to-speaker assignment, turn grouping, labels and [?] spans, on hand-written lists."""
import pytest

from pipeline.errors import PodscribeError
from pipeline.merge import (
    MergeOptions,
    assign_speakers,
    group_turns,
    mark_uncertain,
    merge,
    relabel_turns,
    speaker_labels,
    uncertain_spans,
)
from pipeline.types import Segment, SpeakerTurn, Word
from tests.helpers import word


def test_word_goes_to_the_turn_it_overlaps_most():
    turns = [SpeakerTurn("A", 0.0, 1.05), SpeakerTurn("B", 1.05, 3.0)]
    (w,) = assign_speakers([word("x", 0.9, 1.4)], turns)  # 0.15 s in A, 0.35 s in B
    assert w.speaker == "B"


def test_word_outside_every_turn_goes_to_the_nearest():
    turns = [SpeakerTurn("A", 0.0, 1.0), SpeakerTurn("B", 5.0, 6.0)]
    words = assign_speakers([word("x", 1.5, 1.8), word("y", 4.0, 4.6)], turns)
    assert [w.speaker for w in words] == ["A", "B"]


def test_no_diarization_means_one_speaker():
    assert {w.speaker for w in assign_speakers([word("x", 0, 1)], [])} == {"SPEAKER 1"}


def test_turns_break_at_speaker_change_and_long_pause():
    words = [word("a", 0, 1, speaker="A"), word("b", 1.1, 2, speaker="A"), word("c", 2.1, 3, speaker="B"),
             word("d", 10, 11, speaker="B")]
    turns = group_turns(words, max_pause_s=3.0)
    assert [(t.speaker, [w.text for w in t.words]) for t in turns] == [("A", ["a", "b"]), ("B", ["c"]), ("B", ["d"])]
    assert (turns[0].start_s, turns[0].end_s) == (0, 2)


def test_uncertain_by_probability_or_failed_segment():
    good = Segment("a b", 0, 2, (word("a", 0, 1, 0.9), word("b", 1, 2, 0.3)))
    bad = Segment("c", 2, 3, (word("c", 2, 3, 0.99),), failed_checks=True)
    assert [w.uncertain for w in mark_uncertain([good, bad], MergeOptions(uncertain_below=0.5))] == [False, True, True]


def test_consecutive_uncertain_words_form_one_span():
    ws = [word("a", 0, 1, uncertain=False), word("b", 1, 2, uncertain=True), word("c", 2, 3, uncertain=True),
          word("d", 3, 4, uncertain=False), word("e", 4, 5, uncertain=True)]
    spans = uncertain_spans(ws)
    assert [(u, [w.text for w in s]) for u, s in spans] == [
        (False, ["a"]), (True, ["b", "c"]), (False, ["d"]), (True, ["e"])]


def test_labels_in_order_of_first_appearance_with_names():
    assert speaker_labels(["S_02", "S_00", "S_02", "S_01"]) == {"S_02": "SPEAKER 1", "S_00": "SPEAKER 2", "S_01": "SPEAKER 3"}
    assert speaker_labels(["S_02", "S_00", "S_01"], ["BRIAN", "JEFF"]) == {"S_02": "BRIAN", "S_00": "JEFF", "S_01": "SPEAKER 3"}


def test_merge_end_to_end_on_hand_written_lists():
    segments = [Segment("Hi there. Hello.", 0, 3, (word("Hi", 0.1, 0.4), word("there.", 0.4, 0.9, 0.4),
                                                   word("Hello.", 1.6, 2.2)))]
    diar = [SpeakerTurn("SPK_7", 0.0, 1.0), SpeakerTurn("SPK_3", 1.5, 2.5)]
    turns, labels = merge(segments, diar, MergeOptions(uncertain_below=0.5, speaker_names=("BRIAN", "JEFF")))
    assert labels == {"SPK_7": "BRIAN", "SPK_3": "JEFF"}
    assert [(t.speaker, [(w.text, w.uncertain) for w in t.words]) for t in turns] == [
        ("BRIAN", [("Hi", False), ("there.", True)]), ("JEFF", [("Hello.", False)])]
    assert all(w.speaker == t.speaker for t in turns for w in t.words)


def test_relabel_keeps_names_and_numbers_unheard_speakers():
    out = relabel_turns([SpeakerTurn("A", 0, 1), SpeakerTurn("Z", 1, 2)], {"A": "BRIAN"})
    assert [t.speaker for t in out] == ["BRIAN", "SPEAKER 2"]


@pytest.mark.parametrize("kwargs", [dict(uncertain_below=1.5), dict(max_pause_s=0), dict(speaker_names=("A", "A")),
                                    dict(speaker_names=("A", " "))])
def test_invalid_merge_options(kwargs):
    with pytest.raises(PodscribeError):
        MergeOptions(**kwargs)


def test_rare_words_need_more_probability_unless_in_the_vocabulary():
    seg = Segment("hello Lemux Linode", 0.0, 1.5, (Word("hello", 0.0, 0.4, 0.8), Word("Lemux", 0.5, 1.0, 0.8),
                                                   Word("Linode", 1.0, 1.5, 0.8)))
    plain = MergeOptions(uncertain_below=0.55)
    prior = MergeOptions(uncertain_below=0.55, rare_below_zipf=3.0, rare_uncertain_below=0.9, vocabulary=("Linode",))
    assert [w.uncertain for w in mark_uncertain([seg], plain)] == [False, False, False]
    assert [w.uncertain for w in mark_uncertain([seg], prior)] == [False, True, False]


def test_words_squeezed_into_a_few_frames_are_marked_whatever_their_probability():
    # seen with base: "Thank you very much." written twice more into the last 0.4 s of an episode
    said = [Word("a", 0.0, 0.3, 0.99), Word("pleasure.", 0.3, 0.7, 0.99)]
    squeezed = [Word("Thank", 0.7, 0.7, 0.99), Word("you", 0.7, 0.72, 0.99), Word("very", 0.72, 0.78, 0.99),
                Word("much.", 0.78, 0.98, 0.99)]
    seg = Segment("a pleasure. Thank you very much.", 0.0, 1.0, tuple(said + squeezed))
    # "much." was given 0.2 s: it and "very" are 0.26 s together, a pace people speak at
    assert [w.uncertain for w in mark_uncertain([seg])] == [False, False, True, True, True, False]
    fast = Segment("I can't", 0.0, 0.2, (Word("I", 0.0, 0.05, 0.99), Word("can't", 0.05, 0.2, 0.99)))  # 10 a second
    assert [w.uncertain for w in mark_uncertain([fast])] == [False, False]
    assert [w.uncertain for w in mark_uncertain([seg], MergeOptions(crammed_below_s=0.0))] == [False] * 6


def test_a_word_is_not_crammed_beside_a_gap_or_across_segments():
    gap = Word("", 1.0, 1.0, 0.0, gap=True)
    one = Segment("x", 0.0, 1.0, (Word("x", 0.98, 1.0, 0.99), gap))
    two = Segment("y", 1.0, 2.0, (Word("y", 1.0, 1.02, 0.99),))
    assert [w.uncertain for w in mark_uncertain([one, two])] == [False, True, False]
    with pytest.raises(PodscribeError):
        MergeOptions(crammed_below_s=-0.1)


def test_unused_names_are_those_no_speaker_received():
    from pipeline.merge import unused_names

    assert unused_names(("BRIAN", " JEFF", "CHRIS"), {"A": "BRIAN", "B": "JEFF"}) == ["CHRIS"]
    assert unused_names(("BRIAN",), {"A": "BRIAN", "B": "SPEAKER 2"}) == []
