"""Podcasting 2.0 JSON transcript (``<podcast:transcript type="application/json">``).

``{"version": "1.0.0", "segments": [{"speaker", "startTime", "endTime", "body"}]}``: one segment per
subtitle cue (the same cues as the SRT and VTT files: split at speaker changes and pauses, at most 7 s),
times in seconds, the speaker's name without its label, ``[?]`` after uncertain spans as in the other
plain-text formats.
"""
from __future__ import annotations

import json
from typing import Any, TextIO

from pipeline.types import Transcript
from pipeline.writers.format import speaker_label
from pipeline.writers.subtitles import cues

VERSION = "1.0.0"


def to_dict(transcript: Transcript, drop_uncertain: bool = False) -> dict[str, Any]:
    segments = []
    for start, end, speaker, lines in cues(transcript, drop_uncertain):
        text = " ".join(lines)
        label = speaker_label(speaker)
        body = text[len(label):].lstrip() if text.startswith(label) else text
        segments.append({"speaker": speaker, "startTime": round(start, 3), "endTime": round(end, 3), "body": body})
    return {"version": VERSION, "segments": segments}


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    json.dump(to_dict(transcript, drop_uncertain), file, ensure_ascii=False, indent=1)
    file.write("\n")
