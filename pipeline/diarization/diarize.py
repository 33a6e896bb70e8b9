"""Speaker diarization: pyannote segmentation-3.0 + CAM++ embeddings + agglomerative clustering.

pyannote.audio's ``SpeakerDiarization`` pipeline does the work; we hand it the two local
models as ``Model`` instances (no hub access) and audio in memory (no torchcodec).
There is no PLDA for CAM++, so VBx clustering is out and we use ``AgglomerativeClustering``.

By default (``fast=True``) the embeddings come from ``pipeline/diarization/frame_embeddings.py``: CAM++'s trunk
runs once over the file and its frame features are pooled per (window, speaker) with
pyannote's masks, instead of embedding every overlapping 10 s window again (about 5x faster
on CPU, same DER on our samples; ``benchmarks/diarization.py``). ``fast=False`` is pyannote's
own per-window path. Segmentation, clustering and reconstruction are pyannote's either way.
Edge blips in the turns it gives are then joined to the turn they touch (``turns.py``).

Default clustering parameters were tuned with ``benchmarks/diarization.py`` on
pyannote's ``sample.wav`` (30 s, 2 speakers) and ``audio/samples/interview.flac``
(105 s, 3 speakers); see ``DiarizeOptions`` for the values and the DER they give.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from pipeline.checks import check_bool, check_choice, check_float, check_int
from pipeline.device import DEVICES
from pipeline.diarization.turns import EDGE_BLIP_S, absorb_edge_blips, to_turns
from pipeline.errors import PodscribeError
from pipeline.types import SAMPLE_RATE, Audio, Diarization

log = logging.getLogger(__name__)

Progress = Optional[Callable[[int, int], None]]


METHODS = ("centroid", "average", "complete", "single", "weighted", "ward", "median")
_PROGRESS_TOTAL = 1000
# share of the progress bar given to segmentation; embeddings take the rest
_SEGMENTATION_SHARE = 0.2

# The hooks below (``_NoPLDA``; ``FastSpeakerDiarization`` and ``BoundedAgglomerativeClustering`` in
# frame_embeddings.py) were written for the pyannote.audio that pyproject.toml pins (tests/test_pins.py).


@dataclass(frozen=True)
class DiarizeOptions:
    """How to diarize one episode.

    Tuned defaults (collar 0 DER, benchmarks/diarization.py, CPU):
    sample.wav 6.6 %, interview.flac 6.1 %; both find the right number of speakers.
    """

    num_speakers: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None
    threshold: float = 0.75
    method: str = "centroid"
    min_cluster_size: int = 12
    min_duration_off: float = 0.0
    # a turn shorter than this that only touches another speaker's longer turn goes to that speaker
    # (pipeline/diarization/turns.py, "edge blips"); 0 keeps pyannote's turns as they are
    edge_blip_s: float = EDGE_BLIP_S
    device: str = "auto"
    segmentation_batch_size: int = 32
    embedding_batch_size: int = 32
    # the window step as a share of segmentation-3.0's 10 s window (pyannote's default: 0.1)
    segmentation_step: float = 0.1
    # fast path: CAM++ frame features once per file, pooled per (window, speaker);
    # False runs pyannote's own per-window embedding (the "stock" path)
    fast: bool = True
    # fast path: CAM++ runs on blocks of this many seconds with this much context each side
    block_s: float = 10.0
    margin_s: float = 2.0
    # at most this many embeddings go into agglomerative clustering (O(n^2) memory), picked
    # evenly; the rest are assigned to the nearest centroid
    max_embeddings: int = 4000
    # on a CPU, segmentation-3.0 and CAM++'s trunk run in ONNX Runtime (diarization 1.5-1.9x faster, same DER;
    # pipeline/diarization/onnx_runtime.py); False, or no onnxruntime installed: torch. CUDA: always torch
    onnx: bool = True

    def __post_init__(self) -> None:
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None:
                check_int(name, value, 1)
        for name in ("min_cluster_size", "segmentation_batch_size", "embedding_batch_size", "max_embeddings"):
            check_int(name, getattr(self, name), 1)
        check_bool("fast", self.fast)
        check_bool("onnx", self.onnx)
        check_float("segmentation_step", self.segmentation_step, 0.0, 1.0, low_open=True)
        check_float("block_s", self.block_s, 1.0, 3600.0)
        check_float("margin_s", self.margin_s, 0.0, 60.0)
        self._check_speaker_bounds()
        check_float("threshold", self.threshold, 0.0, 2.0, low_open=True)
        check_float("min_duration_off", self.min_duration_off, 0.0, math.inf)
        check_float("edge_blip_s", self.edge_blip_s, 0.0, 10.0)
        check_choice("diarize method", self.method, METHODS)
        check_choice("diarize device", self.device, DEVICES)

    def _check_speaker_bounds(self) -> None:
        low, high, num = self.min_speakers, self.max_speakers, self.num_speakers
        if low is not None and high is not None and low > high:
            raise PodscribeError(f"min_speakers ({low}) is more than max_speakers ({high})")
        if num is not None and low is not None and num < low:
            raise PodscribeError(f"num_speakers ({num}) is less than min_speakers ({low})")
        if num is not None and high is not None and num > high:
            raise PodscribeError(f"num_speakers ({num}) is more than max_speakers ({high})")


class PyannoteDiarizer:
    """pyannote's ``SpeakerDiarization`` over the store's segmentation-3.0 and CAM++, loaded on one device.

    Holds the loaded models until :meth:`close`; ``pipeline.run.Transcriber`` decides when that is.
    """

    def __init__(self, options: DiarizeOptions, device: str):
        self.options, self.device = options, device
        self._segmentation, self._embedding = _load_models(device, onnx=options.onnx)

    def diarize(self, audio: Audio, progress: Progress = None) -> Diarization:
        """Who speaks when: full (overlapping) turns, exclusive (one speaker at a time) turns, and each
        speaker's centroid embedding. ``progress(done, total)`` is called as batches finish. Labels are
        pyannote's SPEAKER_00, SPEAKER_01, ... in order of first appearance."""
        if audio.sample_rate != SAMPLE_RATE:
            raise PodscribeError(f"diarization needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate} Hz")
        if len(audio.samples) == 0:
            return Diarization(turns=(), exclusive=())
        import torch

        options = self.options
        file = {"waveform": torch.from_numpy(audio.samples).float().reshape(1, -1),
                "sample_rate": audio.sample_rate, "uri": Path(audio.path).stem or "audio"}
        with torch.inference_mode(), warnings.catch_warnings():
            # On a clip too short for any embedding pyannote averages an empty array for the unused
            # centroid (numpy warns "Mean of empty slice"); the diarization itself is one speaker.
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "invalid value encountered in divide", RuntimeWarning)
            output = self._pipeline()(file, num_speakers=options.num_speakers, min_speakers=options.min_speakers,
                                      max_speakers=options.max_speakers, hook=_hook(progress))
        turns, exclusive = (absorb_edge_blips(to_turns(_tracks(annotation)), options.edge_blip_s)
                            for annotation in (output.speaker_diarization, output.exclusive_speaker_diarization))
        result = Diarization(turns=turns, exclusive=exclusive,
                             centroids=_centroids(output), speech=_union((t.start_s, t.end_s) for t in turns))
        log.info("diarization: %d speakers, %d turns", len(result.speakers), len(result.turns))
        return result

    def speech_activity(self, audio: Audio) -> Diarization:
        """Where segmentation-3.0 hears speech (pyannote's voice activity detection), without speakers."""
        if len(audio.samples) == 0:
            return Diarization(turns=(), exclusive=())
        import torch
        from pyannote.audio.pipelines import VoiceActivityDetection

        pipeline = VoiceActivityDetection(segmentation=self._segmentation,
                                          batch_size=self.options.segmentation_batch_size)
        pipeline.instantiate({"min_duration_on": 0.0, "min_duration_off": self.options.min_duration_off})
        file = {"waveform": torch.from_numpy(audio.samples).float().reshape(1, -1), "sample_rate": audio.sample_rate,
                "uri": Path(audio.path).stem or "audio"}
        with torch.inference_mode():
            annotation = pipeline.to(torch.device(self.device))(file)
        return Diarization(turns=(), exclusive=(), speech=_union((s, e) for s, e, _ in _tracks(annotation)))

    def close(self) -> None:
        self._segmentation = self._embedding = None

    def _pipeline(self):
        """A SpeakerDiarization pipeline over the loaded models, instantiated with the options."""
        import torch
        from pyannote.audio.core.plda import PLDA
        from pyannote.audio.pipelines import SpeakerDiarization

        class _NoPLDA(PLDA):
            """pyannote 4.0.7 rejects ``plda=None`` and would download its default; we never use VBx."""

            def __init__(self):  # noqa: D107 - deliberately skips loading PLDA files
                pass

        options = self.options
        kwargs = dict(segmentation=self._segmentation, embedding=self._embedding, plda=_NoPLDA(),
                      clustering="AgglomerativeClustering", segmentation_step=options.segmentation_step,
                      segmentation_batch_size=options.segmentation_batch_size,
                      embedding_batch_size=options.embedding_batch_size)
        if options.fast:
            from pipeline.diarization.frame_embeddings import FastSettings, FastSpeakerDiarization

            settings = FastSettings(block_s=options.block_s, margin_s=options.margin_s,
                                    max_embeddings=options.max_embeddings)
            pipeline = FastSpeakerDiarization(settings=settings, **kwargs)
        else:
            pipeline = SpeakerDiarization(**kwargs)
        pipeline.instantiate({
            "segmentation": {"min_duration_off": options.min_duration_off},
            "clustering": {"method": options.method, "threshold": options.threshold,
                           "min_cluster_size": options.min_cluster_size},
        })
        return pipeline.to(torch.device(self.device))


def diarize(audio: Audio, options: DiarizeOptions, device: str = "cpu", progress: Progress = None) -> Diarization:
    """One episode through a freshly loaded :class:`PyannoteDiarizer` (benchmarks and tests)."""
    return PyannoteDiarizer(options, device).diarize(audio, progress)


def _load_models(device: str, onnx: bool = False):
    """(segmentation, embedding) pyannote Models from the store, in eval mode on ``device``; with ``onnx``
    on a CPU, their forwards run in ONNX Runtime where it can take them."""
    import torch

    _quiet_pyannote_import()
    from pyannote.audio import Model

    from pipeline.diarization.campplus import CAMPPlus
    from pipeline.store.registry import ensure, models_dir

    weights = {"segmentation": ensure("segmentation"), "embedding": ensure("embedding")}
    try:
        segmentation = Model.from_pretrained(str(weights["segmentation"]))
        embedding = CAMPPlus.from_state_dict(weights["embedding"])
    except (OSError, RuntimeError, KeyError) as exc:
        raise PodscribeError(f"could not load diarization models: {exc}") from exc
    segmentation, embedding = segmentation.eval().to(torch.device(device)), embedding.eval().to(torch.device(device))
    if onnx and device == "cpu":
        from pipeline.diarization.onnx_runtime import accelerate

        accelerate(segmentation, embedding, weights, models_dir())
    return segmentation, embedding


def _quiet_pyannote_import() -> None:
    """Import pyannote.audio without its warning that torchcodec is missing (we decode ourselves)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*torchcodec")
        import pyannote.audio  # noqa: F401


def _union(spans: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    from pipeline.coverage import merge_spans

    return tuple(merge_spans(list(spans)))


def _centroids(output) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """(label, centroid embedding) per speaker of pyannote's output, where it has them."""
    embeddings = getattr(output, "speaker_embeddings", None)
    labels = output.speaker_diarization.labels()
    if embeddings is None or len(embeddings) < len(labels):
        return ()
    import numpy as np

    return tuple((str(label), tuple(round(float(x), 6) for x in embeddings[i]))
                 for i, label in enumerate(labels) if np.all(np.isfinite(embeddings[i])))


def _hook(progress: Progress):
    """A pyannote pipeline hook that reports batch progress as ``progress(done, total)``."""
    if progress is None:
        return None
    offsets = {"segmentation": (0.0, _SEGMENTATION_SHARE), "embeddings": (_SEGMENTATION_SHARE, 1.0)}

    def hook(step_name, step_artifact, file=None, total=None, completed=None):
        if step_name not in offsets or not total or completed is None:
            return
        low, high = offsets[step_name]
        fraction = low + (high - low) * min(completed / total, 1.0)
        progress(int(fraction * _PROGRESS_TOTAL), _PROGRESS_TOTAL)

    return hook


def _tracks(annotation) -> list[tuple[float, float, str]]:
    return [(seg.start, seg.end, str(label)) for seg, _, label in annotation.itertracks(yield_label=True)]

