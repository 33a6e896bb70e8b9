"""JSON: every word, segment and turn, the episode hash, models, options and stage timings; read back by
:func:`read`."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TextIO

from pipeline.types import Segment, SpeakerTurn, Transcript, Turn, Word

VERSION = 1


def to_dict(transcript: Transcript) -> dict[str, Any]:
    return {
        "podscribe_json": VERSION,
        "episode": transcript.episode,
        "sha256": transcript.sha256,
        "duration_s": round(transcript.duration_s, 3),
        "language": transcript.language,
        "source": transcript.source,
        "metadata": transcript.metadata,
        "speakers": list(transcript.speakers),
        "voices": transcript.voices,
        "lost_speech_s": transcript.lost_speech_s,
        "gaps": [{"start_s": g.start_s, "end_s": g.end_s, "speaker": g.speaker} for g in transcript.gaps],
        "models": transcript.models,
        "options": transcript.options,
        "timings_s": transcript.timings_s,
        "turns": [{"speaker": t.speaker, "start_s": t.start_s, "end_s": t.end_s,
                   "words": [asdict(w) for w in t.words]} for t in transcript.turns],
        "segments": [{k: v for k, v in asdict(s).items() if k != "words"} | {"words": len(s.words)}
                     for s in transcript.segments],
        "speaker_turns": [asdict(t) for t in transcript.speaker_turns],
        "speech": [list(span) for span in transcript.speech],
    }


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    json.dump(to_dict(transcript), file, ensure_ascii=False, indent=1)
    file.write("\n")


def from_dict(data: dict[str, Any]) -> Transcript:
    """The transcript a JSON file describes (segments come back without their words)."""
    turns = tuple(Turn(t["speaker"], tuple(Word(**w) for w in t["words"])) for t in data["turns"])
    segments = tuple(Segment(**{**s, "words": ()}) for s in data.get("segments", []))
    return Transcript(
        episode=data["episode"], sha256=data["sha256"], duration_s=data["duration_s"],
        language=data["language"], turns=turns, segments=segments,
        speaker_turns=tuple(SpeakerTurn(**t) for t in data.get("speaker_turns", [])),
        models=data.get("models", {}), options=data.get("options", {}), timings_s=data.get("timings_s", {}),
        source=data.get("source", ""), metadata=data.get("metadata", {}), voices=data.get("voices", {}),
        speech=tuple(tuple(span) for span in data.get("speech", [])),
    )


def read(file: TextIO) -> Transcript:
    return from_dict(json.load(file))
