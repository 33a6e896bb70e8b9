"""Diarization with the store's real models on pyannote.audio's own sample, plus option checks."""
import importlib.util
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.diarization.diarize import DiarizeOptions, diarize
from pipeline.errors import PodscribeError
from pipeline.files import file_sha256
from pipeline.types import Audio

SAMPLE_DIR = Path(importlib.util.find_spec("pyannote.audio").submodule_search_locations[0]) / "sample"


def load_wav(path: Path) -> Audio:
    with wave.open(str(path)) as f:
        assert f.getframerate() == 16000 and f.getnchannels() == 1 and f.getsampwidth() == 2
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    return Audio(samples=samples, path=str(path), sha256=file_sha256(path))


@pytest.fixture(scope="module")
def sample_result():
    return diarize(load_wav(SAMPLE_DIR / "sample.wav"), DiarizeOptions(device="cpu"))


def der(turns, rttm: Path, collar: float = 0.0) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for line in rttm.read_text().splitlines():
        f = line.split()
        reference[Segment(float(f[3]), float(f[3]) + float(f[4]))] = f[7]
    for t in turns:
        hypothesis[Segment(t.start_s, t.end_s)] = t.speaker
    return DiarizationErrorRate(collar=collar)(reference, hypothesis)


@pytest.mark.slow
def test_pyannote_sample_der_under_10_percent_with_two_speakers(sample_result):
    assert len(sample_result.speakers) == 2
    assert der(sample_result.turns, SAMPLE_DIR / "sample.rttm") < 0.10


@pytest.mark.slow
def test_exclusive_turns_do_not_overlap(sample_result):
    ex = sample_result.exclusive
    assert ex and all(a.end_s <= b.start_s + 1e-3 for a, b in zip(ex, ex[1:]))
    assert {t.speaker for t in ex} == set(sample_result.speakers)


@pytest.fixture(scope="module")
def stock_result():
    """pyannote's own per-window embedding path (batch sizes change speed, not results)."""
    return diarize(load_wav(SAMPLE_DIR / "sample.wav"), DiarizeOptions(device="cpu", fast=False))


def test_default_is_the_fast_path():
    assert DiarizeOptions().fast is True


@pytest.mark.slow
def test_fast_path_finds_the_stock_speakers_within_one_der_point(sample_result, stock_result):
    assert len(sample_result.speakers) == len(stock_result.speakers) == 2
    rttm = SAMPLE_DIR / "sample.rttm"
    for collar in (0.0, 0.25):
        assert der(sample_result.turns, rttm, collar) <= der(stock_result.turns, rttm, collar) + 0.01


@pytest.mark.slow
def test_campplus_trunk_plus_pooling_equals_the_whole_network():
    import torch

    from pipeline.diarization.campplus import _fbank
    from pipeline.diarization.diarize import _load_models
    from pipeline.diarization.pooling import masked_stats

    model = _load_models("cpu")[1]
    waveform = torch.from_numpy(load_wav(SAMPLE_DIR / "sample.wav").samples[16000:64000].copy())
    with torch.inference_mode():
        feats = _fbank(waveform[None, None], 16000)
        feats = feats - feats.mean(dim=1, keepdim=True)
        whole = model.campplus(feats)[0].numpy()
        frames = model.campplus.frame_features(feats)[0].T.numpy()
        stats = masked_stats(frames, np.ones((1, len(frames))))
        pooled = model.campplus.embed_stats(torch.from_numpy(stats))[0].numpy()
    np.testing.assert_allclose(pooled, whole, rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_bounded_clustering_assigns_the_rest_to_centroids():
    audio = load_wav(SAMPLE_DIR / "sample.wav")
    result = diarize(audio, DiarizeOptions(device="cpu", max_embeddings=20))
    assert len(result.speakers) == 2
    assert der(result.turns, SAMPLE_DIR / "sample.rttm") < 0.10


@pytest.mark.slow
def test_num_speakers_is_honoured():
    audio = load_wav(SAMPLE_DIR / "sample.wav")
    result = diarize(audio, DiarizeOptions(device="cpu", num_speakers=3))
    assert len(result.speakers) == 3


@pytest.mark.parametrize("kwargs", [dict(min_speakers=3, max_speakers=2), dict(num_speakers=1, min_speakers=2),
                                    dict(num_speakers=0), dict(threshold=0), dict(device="tpu"),
                                    dict(fast="yes"), dict(segmentation_step=0), dict(max_embeddings=0),
                                    dict(block_s=0.5), dict(margin_s=-1),
                                    dict(edge_blip_s=-0.1)])
def test_invalid_options_are_refused(kwargs):
    with pytest.raises(PodscribeError):
        DiarizeOptions(**kwargs)
