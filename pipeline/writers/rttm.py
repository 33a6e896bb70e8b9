"""NIST RTTM of the speaker turns (the full, overlapping diarization when there is one)."""
from pathlib import Path
from typing import TextIO

from pipeline.types import SpeakerTurn, Transcript


def turns_of(transcript: Transcript) -> list[SpeakerTurn]:
    if transcript.speaker_turns:
        return sorted(transcript.speaker_turns, key=lambda t: t.start_s)
    return [SpeakerTurn(t.speaker, t.start_s, t.end_s) for t in transcript.turns]


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    uri = Path(transcript.episode).name.replace(" ", "_") or "episode"
    for t in turns_of(transcript):
        speaker = t.speaker.replace(" ", "_")
        file.write(f"SPEAKER {uri} 1 {t.start_s:.3f} {t.end_s - t.start_s:.3f} <NA> <NA> {speaker} <NA> <NA>\n")
