"""The forum style of the seed transcript: ``[b]JEFF:[/b] text``, unclear words followed by ``[i][?][/i]``."""
from typing import TextIO

from pipeline.types import Transcript
from pipeline.writers.format import FORUM_MARK, render_words, speaker_label


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    for turn in transcript.turns:
        text = render_words(turn.words, FORUM_MARK, drop_uncertain)
        file.write(f"{speaker_label(turn.speaker, 'forum')} {text}\n")
