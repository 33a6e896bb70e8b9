"""The coverage rules on hand-written lists: the no-speech guard, uncovered speech, retries and gaps."""
from dataclasses import replace

from pipeline.coverage import (
    RETRY_INDEX,
    CoverageOptions,
    gaps,
    guard,
    merge_spans,
    misplaced,
    recovered,
    retry_plan,
    uncovered,
    untried,
    without,
)
from pipeline.types import Chunk, Segment, Word


def w(text, start, end, p=0.9):
    return Word(text, start, end, p)


def seg(words, no_speech=0.1, index=0):
    return Segment(" ".join(x.text for x in words), words[0].start_s, words[-1].end_s, tuple(words),
                   no_speech_prob=no_speech, chunk_index=index)


def test_merge_spans_joins_overlaps_and_drops_empty_ones():
    assert merge_spans([(3, 4), (0, 1), (0.5, 2), (5, 5)]) == [(0, 2), (3, 4)]


def test_guard_keeps_words_over_speech_even_when_whisper_says_no_speech():
    outro = seg([w("links", 10.0, 10.4), w("to", 10.5, 10.6), w("everything", 10.7, 11.2)], no_speech=0.78)
    music = seg([w("You", 2.0, 2.3)], no_speech=0.9)
    fine = seg([w("hello", 5.0, 5.4)], no_speech=0.1)
    kept = guard([music, fine, outro], speech=[(4.8, 6.0), (9.9, 11.5)], no_speech_threshold=0.6)
    assert [[x.text for x in s.words] for s in kept] == [["hello"], ["links", "to", "everything"]]


def test_guard_drops_only_the_words_outside_speech():
    mixed = seg([w("music", 1.0, 1.5), w("then", 3.0, 3.3), w("words", 3.4, 3.8)], no_speech=0.7)
    (kept,) = guard([mixed], speech=[(2.9, 4.0)], no_speech_threshold=0.6)
    assert kept.text == "then words" and kept.start_s == 3.0


def test_guard_drops_a_no_speech_segment_whose_words_are_crammed_even_over_speech():
    # CTranslate2, base, names_jargon: the last window after "it was a pleasure." (speech ends at 162.79 s)
    tail = seg([w("Thank", 162.64, 162.64, 0.01), w("you", 162.64, 162.66), w("very", 162.66, 162.72, 0.05),
                w("much.", 162.72, 162.98)], no_speech=0.93)
    assert guard([tail], speech=[(160.56, 162.79)], no_speech_threshold=0.6) == []
    assert guard([replace(tail, no_speech_prob=0.5)], speech=[], no_speech_threshold=0.6) == [replace(tail, no_speech_prob=0.5)], \
        "Whisper hears speech: crammed words are only marked (merge)"
    one = seg([w("Yeah.", 5.0, 5.02)], no_speech=0.9)
    assert guard([one], speech=[(4.9, 5.3)], no_speech_threshold=0.6) == [one], "one short word is not a pace"
    paced = seg([w("So", 3.0, 3.02), w("the", 3.02, 3.04), w("first", 3.1, 3.4), w("story", 3.4, 3.8),
                 w("comes", 3.8, 4.1)], no_speech=0.9)
    assert guard([paced], speech=[(3.0, 4.2)], no_speech_threshold=0.6) == [paced], "two crammed of five: kept"


def test_uncovered_finds_speech_longer_than_the_minimum_with_no_word():
    words = [w("a", 0.0, 0.5), w("b", 0.6, 1.0), w("c", 4.0, 4.5)]
    assert uncovered([(0.0, 6.0)], words) == [(1.3, 3.7), (4.8, 6.0)]
    assert uncovered([(0.0, 1.0), (4.0, 4.5)], words) == []
    assert uncovered([(3.0, 4.2)], words) == [], "under a second uncovered: too short to tell from timing drift"
    assert uncovered([(10.0, 10.4)], words) == [(10.0, 10.4)], "a whole stretch no word touches: a backchannel"
    assert uncovered([(10.0, 10.2)], words) == [], "too short to be a word"
    stretched = [w("month.", 3.4, 4.5), w("And", 5.2, 5.9)]  # Whisper's edges reach over the pauses
    assert uncovered([(3.0, 3.845), (4.688, 5.093), (5.785, 6.5)], stretched) == [(4.688, 5.093)]
    assert uncovered([(0.0, 3.0)], [], CoverageOptions(min_gap_s=0.5)) == [(0.0, 3.0)]


def test_a_word_stretched_over_skipped_speech_does_not_cover_it():
    # tiny.en on the dev set's read_text: the window's last word timed over 15 words Whisper never wrote
    words = [w("he", 20.8, 21.08), w("might", 21.08, 21.36), w("have", 21.36, 28.24), w("been", 28.24, 28.24)]
    assert uncovered([(20.8, 24.1), (25.3, 28.06)], words) == [(22.16, 24.1), (25.3, 27.44)]
    long_so = [w("So", 3.0, 3.9), w("on.", 4.0, 4.2)]  # a drawn-out word under the limit covers all of itself
    assert uncovered([(3.0, 4.2)], long_so) == []
    assert uncovered([(21.0, 28.0)], words, CoverageOptions(max_word_s=10.0)) == []


def test_retry_plan_adds_context_and_splits_long_stretches():
    plan = retry_plan([(5.0, 7.0), (20.0, 80.0)], duration_s=81.0)
    chunks = [chunk for chunk, _ in plan]
    assert [piece for _, piece in plan] == [(5.0, 7.0), (20.0, 46.0), (46.0, 72.0), (72.0, 80.0)]
    assert chunks[0] == Chunk(RETRY_INDEX, 3.0, 9.0)
    assert all(c.duration_s <= 30.0 for c in chunks) and len(chunks) == 4
    assert chunks[-1].end_s == 81.0 and [c.index for c in chunks] == [RETRY_INDEX + i for i in range(4)]


def test_recovered_keeps_only_words_inside_the_stretch():
    chunk = Chunk(RETRY_INDEX, 3.0, 9.0)
    found = recovered(chunk, [seg([w("before", 3.2, 3.6), w("lost", 5.2, 5.6), w("words", 5.7, 6.5),
                                   w("after", 7.9, 8.3)])], [(5.0, 7.0)])
    assert [[x.text for x in s.words] for s in found] == [["lost", "words"]]
    assert found[0].chunk_index == RETRY_INDEX


def test_neighbouring_retries_keep_only_their_own_stretch():
    # two stretches 1.2 s apart: each retry's 2 s of context holds the other one's words
    stretches = [(22.16, 24.1), (25.3, 27.44)]
    words = [w("than", 23.2, 23.5), w("he", 23.5, 23.7), w("was.", 23.7, 24.1), w("He", 25.3, 25.6),
             w("might", 25.6, 25.8)]
    found = []
    for chunk, piece in retry_plan(stretches, duration_s=60.0):
        found += recovered(chunk, [seg(words, index=chunk.index)], [piece])
    assert [x.text for s in found for x in s.words] == ["than", "he", "was.", "He", "might"]


def test_gaps_mark_what_is_still_empty():
    (gap,) = gaps([(5.0, 9.0)], [w("found", 5.0, 5.5)])
    assert (gap.start_s, gap.end_s, gap.gap, gap.uncertain, gap.text) == (5.8, 9.0, True, True, "")
    assert gaps([(5.0, 6.0)], [w("found", 5.0, 5.9)]) == []


def test_words_a_retry_found_elsewhere_are_misplaced():
    # tiny.en with a vocabulary prompt: the sentence spoken at 29 s was timed at 52 s, over a line of the poem
    said = "He began a confused complaint against the wizard".split()
    late = seg([w(t, 52.1 + 0.4 * i, 52.4 + 0.4 * i) for i, t in enumerate(said)] + [w("Stopping", 56.3, 56.6)],
               index=1)
    retry = seg([w(t, 29.2 + 0.4 * i, 29.5 + 0.4 * i) for i, t in enumerate(said)], index=RETRY_INDEX)
    wrong = misplaced([late], [retry])
    assert sorted(x.text for x in wrong) == sorted(said)
    assert [x.text for s in without([late], wrong) for x in s.words] == ["Stopping"]
    assert misplaced([late], [seg(late.words[:8], index=RETRY_INDEX)]) == set(), "found at the same time: not moved"
    assert misplaced([late], [seg(retry.words[:4], index=RETRY_INDEX)]) == set(), "four words in a row are chance"


def test_untried_leaves_out_what_was_decoded_again():
    assert untried([(10.0, 20.0), (30.0, 31.0)], [(12.0, 14.0), (30.0, 31.0)]) == [(10.0, 12.0), (14.0, 20.0)]
