"""Pooling frame features per (window, speaker): hand-written arrays, no torch."""
import numpy as np
import pytest

from pipeline.diarization.pooling import (
    SINGLE_FRAME_STD,
    evenly_spaced,
    masked_stats,
    resample_indices,
    window_frames,
    window_stats,
)


def test_resample_indices_is_nearest_floor_like_torch_interpolate():
    assert resample_indices(2, 4).tolist() == [0, 0, 1, 1]
    assert resample_indices(4, 2).tolist() == [0, 2]
    assert resample_indices(3, 3).tolist() == [0, 1, 2]
    assert resample_indices(589, 500).max() == 587


def test_resample_indices_refuses_empty_input():
    with pytest.raises(ValueError):
        resample_indices(0, 3)


def test_window_frames_covers_start_to_end_at_20_ms():
    assert window_frames(0.0, 10.0, 0.02) == (0, 500)
    assert window_frames(1.0, 10.0, 0.02) == (50, 550)
    assert window_frames(0.01, 0.05, 0.02) == (1, 3)  # frames at 0.02 and 0.04


def test_masked_stats_mean_and_unbiased_std_per_speaker():
    features = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]])
    masks = np.array([[1, 1, 0], [0, 1, 1]])
    stats = masked_stats(features, masks)
    assert stats.shape == (2, 4)
    np.testing.assert_allclose(stats[0], [2.0, 10.0, np.sqrt(2.0), 0.0], atol=1e-6)
    np.testing.assert_allclose(stats[1], [4.0, 25.0, np.sqrt(2.0), np.sqrt(450.0)], atol=1e-5)


def test_masked_stats_one_frame_gets_fixed_std_and_silent_speaker_nan():
    features = np.array([[1.0, 2.0], [3.0, 4.0]])
    stats = masked_stats(features, np.array([[0, 1], [0, 0]]))
    np.testing.assert_allclose(stats[0], [3.0, 4.0, SINGLE_FRAME_STD, SINGLE_FRAME_STD])
    assert np.isnan(stats[1]).all()


def test_masked_stats_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        masked_stats(np.zeros((3, 2)), np.zeros((1, 4)))


def test_window_stats_stretches_masks_and_drops_frames_past_the_end():
    # 2 mask frames over a 4-frame window: speaker 0 in the first half, speaker 1 in the second;
    # only 3 feature frames exist (the window runs past the end of the file)
    masks = np.array([[1.0, 0.0], [0.0, 1.0]])
    features = np.array([[2.0], [4.0], [9.0]])
    stats = window_stats(features, masks, num_window_frames=4)
    np.testing.assert_allclose(stats[0], [3.0, np.sqrt(2.0)], atol=1e-6)
    np.testing.assert_allclose(stats[1], [9.0, SINGLE_FRAME_STD], atol=1e-6)


def test_window_stats_reads_nan_masks_as_silence():
    stats = window_stats(np.ones((2, 1)), np.array([[np.nan], [np.nan]]), num_window_frames=2)
    assert np.isnan(stats).all()


def test_evenly_spaced_keeps_all_when_few_and_spreads_when_many():
    assert evenly_spaced(3, 5).tolist() == [0, 1, 2]
    assert evenly_spaced(10, 4).tolist() == [0, 3, 6, 9]
    picked = evenly_spaced(100_000, 4000)
    assert len(picked) == 4000 and picked[0] == 0 and picked[-1] == 99_999
    assert np.all(np.diff(picked) > 0)


def test_evenly_spaced_needs_at_least_one():
    with pytest.raises(ValueError):
        evenly_spaced(10, 0)
