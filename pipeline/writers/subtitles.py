"""SRT and WebVTT: the speaker in each cue, at most two lines of about 42 characters, cues split at pauses."""
from __future__ import annotations

import textwrap
from typing import Sequence, TextIO

from pipeline.types import Transcript, Word, written
from pipeline.writers.format import PLAIN_MARK, render_words, speaker_label, timestamp

LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
PAUSE_S = 0.6


def cues(transcript: Transcript, drop_uncertain: bool = False) -> list[tuple[float, float, str, list[str]]]:
    """(start, end, speaker, lines) for each cue."""
    out = []
    for turn in transcript.turns:
        for words in _split(turn.speaker, turn.words, drop_uncertain):
            text = f"{speaker_label(turn.speaker)} {render_words(words, PLAIN_MARK, drop_uncertain)}"
            out.append((words[0].start_s, words[-1].end_s, turn.speaker, _wrap(text)))
    return out


def _split(speaker: str, words: Sequence[Word], drop_uncertain: bool) -> list[list[Word]]:
    groups: list[list[Word]] = []
    for w in written(words):  # a cue never ends inside a written word (l'|'étoile)
        if groups and _fits(speaker, groups[-1] + [w], drop_uncertain) and w.start_s - groups[-1][-1].end_s < PAUSE_S:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _fits(speaker: str, words: list[Word], drop_uncertain: bool) -> bool:
    text = f"{speaker_label(speaker)} {render_words(words, PLAIN_MARK, drop_uncertain)}"
    return len(_wrap(text)) <= MAX_LINES and words[-1].end_s - words[0].start_s <= MAX_CUE_S


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, LINE_CHARS, break_long_words=False, break_on_hyphens=False) or [""]


def write_srt(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    for n, (start, end, _, lines) in enumerate(cues(transcript, drop_uncertain), 1):
        file.write(f"{n}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n" + "\n".join(lines) + "\n\n")


def write_vtt(transcript: Transcript, file: TextIO, drop_uncertain: bool = False) -> None:
    file.write("WEBVTT\n\n")
    for start, end, speaker, lines in cues(transcript, drop_uncertain):
        label = speaker_label(speaker)
        first = lines[0][len(label):].lstrip() if lines[0].startswith(label) else lines[0]
        body = "\n".join([f"<v {speaker}>{first}", *lines[1:]])
        file.write(f"{timestamp(start)} --> {timestamp(end)}\n{body}\n\n")
