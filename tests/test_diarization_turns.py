"""Speaker turns from tracks and the edge-blip clean-up (pipeline/diarization/turns.py), on hand-written turns."""
from pipeline.diarization.turns import absorb_edge_blips, to_turns


def spans(turns):
    return [(t.speaker, t.start_s, t.end_s) for t in turns]


def test_tracks_become_sorted_turns_without_empty_ones():
    turns = to_turns([(2.0, 3.0, "B"), (0.0, 1.23456, "A"), (4.0, 4.0, "A")])
    assert spans(turns) == [("A", 0.0, 1.235), ("B", 2.0, 3.0)]


def test_a_blip_at_the_onset_or_the_end_of_a_turn_joins_it():
    # seen on a 2-core AMD EPYC: the first 0.25 s of a guest's clip under the previous clip's speaker
    onset = to_turns([(14.2, 15.5, "BIG"), (16.771, 17.024, "SMALL"), (17.024, 17.986, "GUEST")])
    assert spans(absorb_edge_blips(onset)) == [("BIG", 14.2, 15.5), ("GUEST", 16.771, 17.986)]
    tail = to_turns([(0.031, 1.027, "SMALL"), (1.027, 1.178, "GUEST"), (2.07, 2.7, "BIG")])
    assert spans(absorb_edge_blips(tail)) == [("SMALL", 0.031, 1.178), ("BIG", 2.07, 2.7)]


def test_short_turns_that_are_not_edges_stay_as_they_are():
    cases = [
        [(0.0, 3.0, "A"), (3.5, 3.75, "B"), (4.5, 6.0, "A")],  # a lone "yes" between pauses
        [(0.0, 3.0, "A"), (3.0, 3.25, "B"), (3.25, 6.0, "A")],  # between two turns
        [(0.0, 3.0, "A"), (2.0, 2.25, "B")],  # overlapped: a backchannel
        [(0.0, 3.0, "A"), (3.0, 3.4, "B")],  # as long as the threshold
        [(0.0, 0.2, "A"), (0.2, 0.4, "B")],  # the neighbour is no longer than it
        [(0.0, 3.0, "A"), (3.0, 3.2, "A")],  # its own speaker
    ]
    for case in cases:
        turns = to_turns(case)
        assert absorb_edge_blips(turns, 0.3) == turns, case
    assert absorb_edge_blips(to_turns([(0.0, 3.0, "A"), (3.0, 3.25, "B")]), 0.0) == to_turns(
        [(0.0, 3.0, "A"), (3.0, 3.25, "B")])


def test_no_time_is_lost_and_a_turn_can_take_a_blip_on_each_side():
    turns = to_turns([(0.9, 1.0, "C"), (1.0, 4.0, "A"), (4.0, 4.2, "B"), (6.0, 7.0, "B")])
    assert spans(absorb_edge_blips(turns)) == [("A", 0.9, 4.2), ("B", 6.0, 7.0)]


def test_a_short_turn_that_took_a_blip_is_not_joined_again():
    # C (0.1 s) joins B (0.25 s); B, replaced by B-with-C, is not looked at again
    turns = to_turns([(0.0, 0.1, "C"), (0.1, 0.35, "B"), (1.0, 3.0, "A")])
    assert spans(absorb_edge_blips(turns, 0.3)) == [("B", 0.0, 0.35), ("A", 1.0, 3.0)]
    between = to_turns([(0.0, 3.0, "A"), (3.0, 3.25, "B"), (3.25, 3.35, "C")])  # B is between two turns
    assert spans(absorb_edge_blips(between, 0.3)) == [("A", 0.0, 3.0), ("B", 3.0, 3.35)]
