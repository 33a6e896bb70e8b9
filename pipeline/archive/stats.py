"""Speaker statistics: each speaker's talk time, words, turns and words marked ``[?]``. Pure."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from pipeline.types import Transcript, Turn


@dataclass(frozen=True)
class SpeakerStats:
    speaker: str
    talk_s: float  # the sum of the speaker's turns, first word's start to last word's end
    words: int  # recognised words (gaps left out)
    turns: int
    marked: int  # of ``words``, those marked [?]

    @property
    def marked_share(self) -> float:
        return self.marked / self.words if self.words else 0.0


def speaker_stats(transcript: Transcript) -> tuple[SpeakerStats, ...]:
    """One entry per speaker of the transcript's turns, most talk first: each turn counted, then summed."""
    return combine(_turn_stats(turn) for turn in transcript.turns)


def _turn_stats(turn: Turn) -> SpeakerStats:
    words = [w for w in turn.words if not w.gap]
    talk_s = max(0.0, turn.words[-1].end_s - turn.words[0].start_s) if turn.words else 0.0
    return SpeakerStats(turn.speaker, talk_s, len(words), 1, sum(w.uncertain for w in words))


def combine(stats: Iterable[SpeakerStats]) -> tuple[SpeakerStats, ...]:
    """Several episodes' statistics summed per speaker (a show's), most talk first."""
    total: dict[str, list] = defaultdict(lambda: [0.0, 0, 0, 0])
    for s in stats:
        t = total[s.speaker]
        t[0] += s.talk_s
        t[1] += s.words
        t[2] += s.turns
        t[3] += s.marked
    return tuple(sorted((SpeakerStats(name, round(t[0], 3), t[1], t[2], t[3]) for name, t in total.items()),
                        key=lambda x: (-x.talk_s, x.speaker)))
