"""Diarization's networks in ONNX Runtime: the same outputs as torch, exports kept and reused, torch kept
whenever ONNX Runtime cannot take a model."""
import logging

import numpy as np
import pytest

from pipeline.diarization import onnx_runtime
from pipeline.diarization.diarize import DiarizeOptions, diarize
from pipeline.errors import PodscribeError
from tests.test_diarize import SAMPLE_DIR, der, load_wav


def torch_models():
    from pipeline.diarization.diarize import _load_models

    return _load_models("cpu", onnx=False)


def store_weights():
    from pipeline.store.registry import ensure

    return {"segmentation": ensure("segmentation"), "embedding": ensure("embedding")}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(torch models, the same models accelerated with a fresh store)."""
    reference, accelerated = torch_models(), torch_models()
    assert onnx_runtime.accelerate(*accelerated, store_weights(), tmp_path_factory.mktemp("store"))
    return reference, accelerated


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 5, 32])
def test_segmentation_matches_torch_at_any_batch_size(pair, batch):
    import torch

    (seg, _), (fast_seg, _) = pair
    audio = load_wav(SAMPLE_DIR / "sample.wav").samples
    starts = np.linspace(0, len(audio) - 160_000, batch).astype(int)
    chunks = torch.from_numpy(np.stack([audio[s: s + 160_000] for s in starts])[:, None].copy())
    with torch.inference_mode():
        expected, got = seg(chunks).numpy(), fast_seg(chunks).numpy()
    assert got.shape == expected.shape == (batch, 589, 7)
    # log-probabilities of the 7 powerset classes: the same probabilities, the same best class
    np.testing.assert_allclose(np.exp(got), np.exp(expected), atol=1e-4)
    assert (got.argmax(-1) == expected.argmax(-1)).mean() > 0.999


@pytest.mark.slow
@pytest.mark.parametrize("frames", [150, 700, 1399])
def test_campplus_trunk_matches_torch_at_any_length(pair, frames):
    import torch

    (_, emb), (_, fast_emb) = pair
    feats = torch.from_numpy(np.random.default_rng(frames).standard_normal((1, frames, 80), dtype=np.float32))
    with torch.inference_mode():
        expected = emb.campplus.frame_features(feats).numpy()
        got = fast_emb.campplus.frame_features(feats).numpy()
    assert got.shape == expected.shape == (1, 512, (frames + 1) // 2)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_exports_are_kept_and_reused(tmp_path, monkeypatch):
    assert onnx_runtime.accelerate(*torch_models(), store_weights(), tmp_path)
    kept = sorted(p.name for p in (tmp_path / "onnx").iterdir())
    assert [name.split("-")[0] for name in kept] == ["campplus", "segmentation"]
    assert all(name.endswith(".onnx") for name in kept)

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_runtime, "_export", no_export)
    assert onnx_runtime.accelerate(*torch_models(), store_weights(), tmp_path)
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == kept


@pytest.mark.slow
def test_an_export_that_disagrees_with_torch_is_refused(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(onnx_runtime, "TOLERANCE", -1.0)
    seg, emb = torch_models()
    forward = seg.forward
    with caplog.at_level(logging.WARNING):
        assert not onnx_runtime.accelerate(seg, emb, store_weights(), tmp_path)
    assert seg.forward == forward and "frame_features" not in vars(emb.campplus)
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").glob("*.onnx"))
    assert "diarization runs in torch" in caplog.text


def test_without_onnxruntime_the_models_stay_in_torch(tmp_path, monkeypatch, caplog):
    class Model:
        campplus = object()

    monkeypatch.setattr(onnx_runtime, "available", lambda: False)
    seg, emb = Model(), Model()
    with caplog.at_level(logging.INFO):
        assert not onnx_runtime.accelerate(seg, emb, {}, tmp_path)
    assert "forward" not in vars(seg) and not (tmp_path / "onnx").exists()
    assert "pip install onnxruntime onnx" in caplog.text


def test_onnx_option_is_checked():
    assert DiarizeOptions().onnx is True
    with pytest.raises(PodscribeError, match="onnx must be True or False"):
        DiarizeOptions(onnx="yes")


@pytest.mark.slow
def test_diarization_is_the_same_with_onnx_runtime_and_torch():
    audio = load_wav(SAMPLE_DIR / "sample.wav")
    fast = diarize(audio, DiarizeOptions(device="cpu"))
    slow = diarize(audio, DiarizeOptions(device="cpu", onnx=False))
    assert fast.speakers == slow.speakers
    rttm = SAMPLE_DIR / "sample.rttm"
    assert abs(der(fast.turns, rttm) - der(slow.turns, rttm)) < 0.002
