"""Diarization's two networks on a CPU through ONNX Runtime: diarization faster, same outputs.

segmentation-3.0 (SincNet + LSTM) and CAM++'s trunk (the part ``pipeline.diarization.frame_embeddings``
runs once per file) are exported from the store's torch weights with ``torch.onnx.export`` and run with
``onnxruntime`` (how much faster: benchmarks/README.md, "Diarization"). An export is checked before it is
kept: ONNX Runtime and torch must give the same outputs on a fixed input (within ``TOLERANCE``). Exports
are kept in the store, ``<store>/onnx/<name>-<key>.onnx``, where the key hashes the weights' sha256 and
the torch and onnx versions (the exporter's bytes depend on them), so a new torch makes a new file and
nothing stale is reused.

:func:`accelerate` swaps the two forwards of already loaded models on their instances (the only hooks
here; pyannote's ``Inference`` calls ``model(chunks)``). Anything that goes wrong (no onnxruntime, an
export that fails or disagrees, a file that will not load) leaves the torch forward in place and says so
in the log each time the models load: slower, never different.
"""
from __future__ import annotations

import hashlib
import io
import logging
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.errors import PodscribeError
from pipeline.files import atomic_write_bytes, file_sha256

log = logging.getLogger(__name__)

OPSET = 17
# how far ONNX Runtime's outputs may be from torch's on the check input: TOLERANCE plus as much again relative
# to the value (segmentation's outputs are log-probabilities; float kernels differ most on the very negative ones)
TOLERANCE = 1e-3
# segmentation windows per ONNX Runtime call, whatever pyannote's batch: on real_podcast 8 at a time took 10.1-11.8 s
# and peaked at 873-903 MB, against 15.0-16.8 s and 1027-1035 MB for 32 (and 1455-1549 MB for 1, 2 or 4)
SEGMENTATION_GROUP = 8
# bump when the export below changes, so that kept files are made again
EXPORT_VERSION = 1


def available() -> bool:
    """Whether onnxruntime and onnx (the exporter's dependency) are installed."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def accelerate(segmentation, embedding, weights: dict[str, Path], store: Path) -> bool:
    """Run ``segmentation``'s forward and ``embedding.campplus.frame_features`` with ONNX Runtime.
    ``weights`` maps "segmentation" and "embedding" to their store files. True when both were swapped."""
    if not available():
        log.info("onnxruntime is not installed: diarization runs in torch (pip install onnxruntime onnx)")
        return False
    import torch

    seg_input = torch.from_numpy(_rng().standard_normal((2, 1, 160_000), dtype=np.float32))
    cam_input = torch.from_numpy(_rng().standard_normal((1, 300, 80), dtype=np.float32))
    net = embedding.campplus
    try:
        seg_run = _session(store, "segmentation-3.0", weights["segmentation"], segmentation, seg_input,
                           {0: "batch", 2: "samples"}, {0: "batch", 1: "frames"})
        cam_run = _session(store, "campplus-trunk", weights["embedding"], _trunk_module(net), cam_input,
                           {1: "frames"}, {2: "frames"})
    except Exception as exc:  # any failure of export or runtime leaves torch in place
        log.warning("diarization runs in torch: ONNX Runtime could not take its models (%s)", exc)
        return False
    segmentation.forward = lambda waveforms: torch.from_numpy(
        np.concatenate([seg_run(group) for group in waveforms.split(SEGMENTATION_GROUP)]))
    net.frame_features = lambda feats: torch.from_numpy(cam_run(feats))
    return True


def _trunk_module(net):
    """CAM++'s frame features as a module's forward, for the exporter."""
    import torch

    class Trunk(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, feats):
            return self.net.frame_features(feats)

    return Trunk().eval()


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _session(store: Path, name: str, weights: Path, module, example, in_axes: dict, out_axes: dict
             ) -> Callable[[object], np.ndarray]:
    """A function running ``module``'s ONNX export (made and checked if not kept yet) on a torch tensor."""
    path = store / "onnx" / f"{name}-{_key(weights)}.onnx"
    if path.is_file():
        return _runner(_load(str(path)))
    data = _export(module, example, in_axes, out_axes)
    run = _runner(_load(data))
    _check(run, module, example, name)
    _keep(path, data, name)
    return run


def _runner(session) -> Callable[[object], np.ndarray]:
    """``session`` as a function of a torch tensor."""
    input_name = session.get_inputs()[0].name

    def run(tensor) -> np.ndarray:
        return session.run(None, {input_name: tensor.detach().cpu().numpy().astype(np.float32, copy=False)})[0]

    return run


def _keep(path: Path, data: bytes, name: str) -> None:
    """Keep an export for the next load; a store that cannot be written costs only the next export."""
    try:
        atomic_write_bytes(path, data)
        log.info("exported %s for ONNX Runtime -> %s", name, path)
    except PodscribeError as exc:
        log.info("exported %s for ONNX Runtime; not kept: %s", name, exc)


def _key(weights: Path) -> str:
    import onnx
    import torch

    text = f"{file_sha256(weights)} torch {torch.__version__} onnx {onnx.__version__} v{EXPORT_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _export(module, example, in_axes: dict, out_axes: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    # the exporter warns about instance norm's statistics (taken from the input, as in torch) and about the
    # LSTM's batch size (its initial states are zeros of the input's batch; tests/test_onnx_runtime.py)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=OPSET, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": in_axes, "output": out_axes})
    return buffer.getvalue()


def _load(model: bytes | str):
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Memory: ONNX Runtime's arena keeps hundreds of MB after each diarization (a second one on the next file's
    # models) and its memory patterns preallocate per input shape; without both a run takes a little longer and the
    # process peaks much lower (the figures: benchmarks/README.md, "Diarization")
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    # threads sleep while they wait, as OMP_WAIT_POLICY=PASSIVE has torch's do (pipeline/__init__.py)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _check(run, module, example, name: str) -> None:
    """Refuse an export whose outputs differ from torch's on ``example``."""
    import torch

    with torch.inference_mode():
        expected = module(example).numpy()
    got = run(example)
    if got.shape != expected.shape:
        raise ValueError(f"{name}: ONNX output shape {got.shape}, torch {expected.shape}")
    excess = np.abs(got - expected) - TOLERANCE * (1 + np.abs(expected))
    if excess.max() > 0:
        worst = int(np.argmax(excess))
        raise ValueError(f"{name}: ONNX gives {got.flat[worst]:.4g} where torch gives {expected.flat[worst]:.4g}")
