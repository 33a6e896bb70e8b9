"""Seam de-duplication and time shifting, on hand-written words."""
from pipeline.seam import dedupe, join, shift
from pipeline.types import Chunk, Segment, Word


def w(text, start, end, p=0.9):
    return Word(text, start, end, p)


def texts(groups):
    return [[x.text for x in g] for g in groups]


def test_shift_moves_words_onto_the_episode_timeline():
    (moved,) = shift([w("hi", 0.5, 0.9)], 30.0)
    assert (moved.start_s, moved.end_s) == (30.5, 30.9)


def test_no_overlap_keeps_everything():
    chunks = [Chunk(0, 0, 10), Chunk(1, 10, 20)]
    words = [[w("a", 1, 2), w("b", 9, 9.8)], [w("c", 10.2, 11)]]
    assert texts(dedupe(chunks, words)) == [["a", "b"], ["c"]]


def test_overlap_keeps_each_word_once():
    # chunk 0 covers 0-30, chunk 1 covers 28-58: both heard "the quick brown" in 28-30
    chunks = [Chunk(0, 0, 30), Chunk(1, 28, 58)]
    first = [w("jumps", 26.0, 26.5), w("over", 27.9, 28.4), w("the", 28.5, 28.8), w("lazy", 29.1, 29.6), w("do-", 29.7, 30.0)]
    second = [w("over", 28.0, 28.4), w("the", 28.5, 28.8), w("lazy", 29.1, 29.6), w("dog", 29.7, 30.2), w("today", 30.5, 31)]
    kept = dedupe(chunks, [first, second])
    flat = [x.text for g in kept for x in g]
    assert flat == ["jumps", "over", "the", "lazy", "dog", "today"]


def test_word_kept_by_both_sides_at_the_seam_is_dropped_once():
    chunks = [Chunk(0, 0, 30), Chunk(1, 28, 58)]
    first = [w("seam", 28.7, 29.05)]  # midpoint 28.875 < 29
    second = [w("Seam,", 28.9, 29.3)]  # midpoint 29.1 >= 29, same word, overlapping time
    assert texts(dedupe(chunks, [first, second])) == [["seam"], []]


def test_different_words_at_the_seam_are_both_kept():
    chunks = [Chunk(0, 0, 30), Chunk(1, 28, 58)]
    first = [w("big", 28.6, 28.95)]
    second = [w("cat", 29.0, 29.3)]
    assert texts(dedupe(chunks, [first, second])) == [["big"], ["cat"]]


def test_join_rebuilds_segments_and_drops_empty_ones():
    chunks = [Chunk(0, 0, 30), Chunk(1, 28, 58)]
    s0 = Segment("one two", 27.0, 28.9, (w("one", 27.0, 27.5), w("two", 28.6, 28.9)))
    s1 = Segment("two three", 28.6, 30.0, (w("two", 28.6, 28.9), w("three", 29.5, 30.0)))
    s2 = Segment("four", 40, 41, (w("four", 40, 41),))
    out = join(chunks, [[s0], [s1, s2]])
    assert [s.text for s in out] == ["one two", "three", "four"]
    assert out[1].start_s == 29.5


def test_word_start_in_silence_snaps_forward_to_the_sound():
    from pipeline.seam import snap_to_sound

    loud = [False] * 10 + [True] * 20 + [False] * 10  # 20 ms frames: sound from 0.2 s to 0.6 s
    seg = Segment("a b", 0.0, 0.7, (w("a", 0.02, 0.4), w("b", 0.45, 0.7)))
    (out,) = snap_to_sound([seg], loud, 0.02)
    assert [(x.start_s, x.end_s) for x in out.words] == [(0.2, 0.4), (0.45, 0.7)]
    assert out.start_s == 0.2
    silent = Segment("c", 0.65, 0.75, (w("c", 0.65, 0.75),))  # no sound inside the word: left alone
    assert snap_to_sound([silent], loud, 0.02)[0].words[0].start_s == 0.65
