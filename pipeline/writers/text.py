"""Plain text: ``JEFF: text``, ``[?]`` after uncertain spans, a blank line between turns."""
from typing import TextIO

from pipeline.types import Transcript
from pipeline.writers.format import PLAIN_MARK, render_words, speaker_label


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    file.write("\n\n".join(
        f"{speaker_label(t.speaker)} {render_words(t.words, PLAIN_MARK, drop_uncertain)}" for t in transcript.turns
    ))
    if transcript.turns:
        file.write("\n")
