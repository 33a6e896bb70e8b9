"""Markdown: a title, then ``**JEFF:** text`` paragraphs with their start time."""
from pathlib import Path
from typing import TextIO

from pipeline.types import Transcript
from pipeline.writers.format import PLAIN_MARK, render_words, speaker_label, timestamp


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    file.write(f"# {Path(transcript.episode).name}\n\n")
    speakers = ", ".join(transcript.speakers) or "none"
    file.write(f"*{timestamp(transcript.duration_s, always_hours=False)[:-4]} · {speakers} · "
               f"words marked {PLAIN_MARK} were unclear to the model*\n\n")
    for turn in transcript.turns:
        when = timestamp(turn.start_s, always_hours=False)[:-4]
        text = render_words(turn.words, PLAIN_MARK, drop_uncertain).replace("[?]", r"\[?\]")
        file.write(f"{speaker_label(turn.speaker, 'md')} `{when}` {text}\n\n")
