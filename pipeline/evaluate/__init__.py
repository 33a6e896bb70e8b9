"""Score transcripts against references: WER/CER, per-speaker WER, cpWER, DER and [?] calibration.

    from pipeline.evaluate import read_reference, read_hypothesis, score
    scores = score(read_reference("ref.forum.txt"), read_hypothesis("outputs/ep.json"))
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from pipeline.evaluate.calibration import Calibration, JudgedWord, Sweep, SweepPoint, sweep
from pipeline.evaluate.metrics import DER, CpWER, Errors, Scores, SpeakerErrors, score, total
from pipeline.evaluate.readers import FORMATS, Document, DocWord, read_document

Paths = Union[str, Path, Sequence[Union[str, Path]]]

__all__ = ["read_reference", "read_hypothesis", "score", "sweep", "total", "Document", "DocWord", "Scores",
           "Errors", "SpeakerErrors", "CpWER", "DER", "Calibration", "Sweep", "SweepPoint", "JudgedWord", "FORMATS"]


def read_reference(path: Paths, fmt: Optional[Union[str, Sequence[Optional[str]]]] = None) -> Document:
    """A reference: ``[?]`` marks are gaps the hypothesis is not scored on; an empty one is an error."""
    return read_document(path, fmt, role="reference")


def read_hypothesis(path: Paths, fmt: Optional[Union[str, Sequence[Optional[str]]]] = None) -> Document:
    """A hypothesis: ``[?]`` marks flag the words before them as uncertain; it may be empty."""
    return read_document(path, fmt, role="hypothesis")
