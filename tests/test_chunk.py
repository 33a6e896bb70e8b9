"""Chunk planning on synthetic energy envelopes (no audio, no torch)."""
import numpy as np
import pytest

from pipeline.chunk import ChunkOptions, envelope_db, plan_chunks, speech_regions
from pipeline.errors import PodscribeError

FRAME = 0.02
SPEECH, SILENCE = -20.0, -60.0


def envelope(*pattern):
    """pattern: (level, seconds) pairs -> dB per 20 ms frame."""
    return np.concatenate([np.full(int(round(s / FRAME)), lvl, dtype=np.float32) for lvl, s in pattern])


def test_speech_regions_split_at_silences_only_when_long_enough():
    env = envelope((SILENCE, 1), (SPEECH, 2), (SILENCE, 0.1), (SPEECH, 1), (SILENCE, 1), (SPEECH, 1))
    regions = speech_regions(env, FRAME, -40, min_silence_s=0.3)
    assert [(round(a, 2), round(b, 2)) for a, b in regions] == [(1.0, 4.1), (5.1, 6.1)]


def test_all_silence_gives_no_chunks():
    assert plan_chunks(envelope((SILENCE, 20))) == []
    assert plan_chunks(np.zeros(0, dtype=np.float32)) == []


def test_short_speech_is_merged_into_one_padded_chunk():
    env = envelope((SILENCE, 2), (SPEECH, 3), (SILENCE, 1), (SPEECH, 4), (SILENCE, 2))
    chunks = plan_chunks(env, ChunkOptions(pad_s=0.2))
    assert len(chunks) == 1
    assert chunks[0].start_s == pytest.approx(1.8)
    assert chunks[0].end_s == pytest.approx(10.2)


def test_cuts_fall_in_silences_and_respect_the_maximum():
    pattern = []
    for _ in range(10):  # 10 x (8 s speech + 1 s silence) = 90 s
        pattern += [(SPEECH, 8), (SILENCE, 1)]
    chunks = plan_chunks(envelope(*pattern), ChunkOptions(max_chunk_s=30))
    assert all(c.duration_s <= 30 for c in chunks)
    silences = [(9 * k + 8, 9 * k + 9) for k in range(10)]
    for a, b in zip(chunks, chunks[1:]):
        assert a.end_s <= b.start_s  # no overlap needed
        assert any(s <= a.end_s <= e for s, e in silences)
    covered = sum(c.duration_s for c in chunks)
    assert covered >= 80  # every speech frame is inside some chunk


def test_every_speech_frame_is_covered():
    rng = np.random.default_rng(1)
    env = np.where(rng.random(6000) < 0.7, SPEECH, SILENCE).astype(np.float32)
    chunks = plan_chunks(env, ChunkOptions(max_chunk_s=20, min_silence_s=0.1))
    loud = np.flatnonzero(env > -40) * FRAME
    starts, ends = np.array([c.start_s for c in chunks]), np.array([c.end_s for c in chunks])
    inside = ((loud[:, None] >= starts - 1e-6) & (loud[:, None] + FRAME <= ends + 1e-6)).any(axis=1)
    assert inside.all()
    assert all(c.duration_s <= 20 + 1e-6 for c in chunks)


def test_speech_without_silence_is_cut_with_an_overlap_at_the_quietest_point():
    env = envelope((SPEECH, 70))
    env[int(25 / FRAME)] = -35.0  # a dip where the cut should go
    opts = ChunkOptions(max_chunk_s=30, overlap_s=2.0, pad_s=0.0)
    chunks = plan_chunks(env, opts)
    assert len(chunks) == 3
    assert all(c.duration_s <= 30 for c in chunks)
    first, second = chunks[0], chunks[1]
    assert second.start_s < first.end_s  # overlapping seam
    assert first.end_s - second.start_s == pytest.approx(2.0, abs=0.05)
    assert (first.end_s + second.start_s) / 2 == pytest.approx(25.01, abs=0.05)
    assert chunks[-1].end_s == pytest.approx(70.0)


def test_tiny_island_is_widened_to_the_minimum():
    env = envelope((SILENCE, 5), (SPEECH, 0.2), (SILENCE, 5))
    (chunk,) = plan_chunks(env, ChunkOptions(min_chunk_s=1.0, pad_s=0.1))
    assert chunk.duration_s == pytest.approx(1.0)
    assert chunk.start_s <= 5.0 and chunk.end_s >= 5.2


def test_adaptive_threshold_follows_the_noise_floor():
    env = envelope((-45, 3), (-15, 3), (-45, 3), (-15, 3))  # noisy floor at -45 dBFS
    chunks = plan_chunks(env, ChunkOptions(pad_s=0))
    assert [(c.start_s, c.end_s) for c in chunks] == [(3.0, 12.0)]  # the -45 dB floor is not speech


def test_envelope_levels():
    sr = 16000
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    env = envelope_db(np.concatenate([np.zeros(sr), tone]).astype(np.float32), sr)
    assert env[:40].max() == pytest.approx(-100.0)
    assert env[60:].mean() == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.2)


@pytest.mark.parametrize("kwargs", [dict(max_chunk_s=40), dict(min_chunk_s=0), dict(min_chunk_s=31),
                                    dict(overlap_s=20), dict(frame_s=0)])
def test_invalid_options_are_refused(kwargs):
    with pytest.raises(PodscribeError):
        ChunkOptions(**kwargs)


def test_speech_source_plans_chunks_over_speech_activity_only():
    env = envelope((SPEECH, 10), (SPEECH, 10))  # loud throughout: music then speech, say
    chunks = plan_chunks(env, ChunkOptions(source="speech"), speech=[(12.0, 14.0), (14.1, 16.0)])
    assert [(c.start_s, c.end_s) for c in chunks] == [(11.8, 16.2)]
    energy = plan_chunks(env, ChunkOptions(source="energy"), speech=[(12.0, 14.0)])
    assert [(c.start_s, c.end_s) for c in energy] == [(0.0, 20.0)], "the energy source ignores speech activity"
