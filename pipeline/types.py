"""Typed, frozen values passed between the stages.

Times are float seconds on the episode timeline and their names end in ``_s``.
Nothing here imports torch or numpy at module level except for type hints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """A decoded episode: 16 kHz mono float32 samples plus where they came from."""

    samples: "np.ndarray"
    path: str
    sha256: str
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Chunk:
    """A span of the episode sent to Whisper as one window."""

    index: int
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def word_key(text: str) -> str:
    """A word as two decodes are compared: lower case, letters, digits and apostrophes only ("Don't," -> "don't")."""
    return re.sub(r"[^\w']", "", text.lower())


@dataclass(frozen=True)
class Word:
    """A recognised word; or, with ``gap`` set, a stretch of speech no word could be decoded from.

    A gap has no text and is always ``uncertain``: writers show it as the ``[?]`` mark alone, in its
    place in its speaker's turn, so the reader knows to listen there.
    """

    text: str
    start_s: float
    end_s: float
    probability: float
    speaker: Optional[str] = None
    uncertain: bool = False
    gap: bool = False
    joins: bool = False  # written straight after the word before it, no space: "l" "'étoile", "souhaitez" "-vous"


def written(words: Sequence[Word]) -> list[Word]:
    """The words as the language writes them: each joining word fused into the one before it (its text appended,
    its end taken; the fused word is uncertain when any part is). Writers, the review page and ``evaluate``'s reader
    of our JSON all see words this way."""
    out: list[Word] = []
    for w in words:
        if w.joins and out and not out[-1].gap and not w.gap:
            last = out[-1]
            out[-1] = replace(last, text=last.text + w.text, end_s=w.end_s, uncertain=last.uncertain or w.uncertain,
                              probability=min(last.probability, w.probability))
        else:
            out.append(replace(w, joins=False) if w.joins else w)
    return out


def join_words(words: Sequence[Word]) -> str:
    """The text of ``words`` as written: spaces between words, none before a joining one."""
    return " ".join(w.text for w in written(words) if w.text)


@dataclass(frozen=True)
class Segment:
    """One Whisper segment, with the checks Whisper ran on it."""

    text: str
    start_s: float
    end_s: float
    words: tuple[Word, ...]
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    temperature: float = 0.0
    chunk_index: int = 0
    failed_checks: bool = False


@dataclass(frozen=True)
class SpeakerTurn:
    """A diarization label: who speaks from start to end."""

    speaker: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Diarization:
    """Full (possibly overlapping) turns for RTTM, exclusive turns for word assignment, each speaker's
    centroid embedding (label, vector) where the diarizer gives one, and speech activity: the (start_s, end_s)
    stretches the segmentation model hears speech in (with ``--no-diarize``, the only field filled)."""

    turns: tuple[SpeakerTurn, ...]
    exclusive: tuple[SpeakerTurn, ...]
    centroids: tuple[tuple[str, tuple[float, ...]], ...] = ()
    speech: tuple[tuple[float, float], ...] = ()

    @property
    def speakers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for turn in sorted(self.turns, key=lambda t: t.start_s):
            seen.setdefault(turn.speaker, None)
        return tuple(seen)


@dataclass(frozen=True)
class Turn:
    """Consecutive words of one speaker: one paragraph of the transcript."""

    speaker: str
    words: tuple[Word, ...]

    @property
    def start_s(self) -> float:
        return self.words[0].start_s

    @property
    def end_s(self) -> float:
        return self.words[-1].end_s


@dataclass(frozen=True)
class Transcript:
    """Everything a writer needs, and what the JSON format round-trips.

    ``source`` is the audio file as it was given; ``metadata`` what is known of the episode besides its
    audio (a feed's show, title, date, guid, description); ``speech`` the speech activity the coverage check
    used (every stretch of it holds words or a gap); ``voices`` each speaker's best enrolled voice, score and
    margin, where voices were enrolled.
    """

    episode: str
    sha256: str
    duration_s: float
    language: str
    turns: tuple[Turn, ...]
    segments: tuple[Segment, ...] = ()
    speaker_turns: tuple[SpeakerTurn, ...] = ()
    models: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    source: str = ""
    metadata: dict = field(default_factory=dict)
    speech: tuple[tuple[float, float], ...] = ()  # where the segmentation model heard speech
    voices: dict = field(default_factory=dict)  # speakers against the enrolled voices (pipeline.voices.match.record)

    @property
    def words(self) -> tuple[Word, ...]:
        """The recognised words (gaps left out)."""
        return tuple(w for t in self.turns for w in t.words if not w.gap)

    @property
    def gaps(self) -> tuple[Word, ...]:
        """Stretches of speech left without words, in time order."""
        return tuple(w for t in self.turns for w in t.words if w.gap)

    @property
    def lost_speech_s(self) -> float:
        """Seconds of speech with no words: the sum of the gaps."""
        return round(sum(g.end_s - g.start_s for g in self.gaps), 3)

    @property
    def speakers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for turn in self.turns:
            seen.setdefault(turn.speaker, None)
        return tuple(seen)
