"""Markdown: a title, then ``**JEFF:** text`` paragraphs with their start time; uncertain words in italics."""
from pathlib import Path
from typing import TextIO

from pipeline.types import Transcript
from pipeline.writers.format import MD_MARK, render_words, speaker_label, timestamp


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    file.write(f"# {Path(transcript.episode).name}\n\n")
    speakers = ", ".join(transcript.speakers) or "none"
    file.write(f"{timestamp(transcript.duration_s, always_hours=False)[:-4]} · {speakers} · "
               f"words the model was unsure of are in *italics* and marked {MD_MARK}\n\n")
    for turn in transcript.turns:
        when = timestamp(turn.start_s, always_hours=False)[:-4]
        text = render_words(turn.words, MD_MARK, drop_uncertain, emphasis="*")
        file.write(f"{speaker_label(turn.speaker, 'md')} `{when}` {text}\n\n")
