"""Words to speakers, speakers to turns, low-confidence words to [?] spans. Pure: no torch."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Optional, Sequence

from pipeline.checks import check_float
from pipeline.confidence import CRAMMED_BELOW_S, crammed, uncertain
from pipeline.errors import PodscribeError
from pipeline.types import Segment, SpeakerTurn, Turn, Word

UNKNOWN_SPEAKER = "SPEAKER 1"


@dataclass(frozen=True)
class MergeOptions:
    uncertain_below: float = 0.62  # word probability under which a word is marked [?] (docs/coverage.md)
    rare_below_zipf: Optional[float] = None  # a word rarer in English than this (wordfreq Zipf) ...
    rare_uncertain_below: float = 0.9  # ... is marked under this probability (pipeline/confidence.py)
    # two words in a row given less than this each are marked (confidence.crammed)
    crammed_below_s: float = CRAMMED_BELOW_S
    vocabulary: tuple[str, ...] = ()  # terms that are never rare
    max_pause_s: float = 3.0  # a longer pause starts a new paragraph even for the same speaker
    speaker_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.uncertain_below <= 1.0 or not 0.0 <= self.rare_uncertain_below <= 1.0:
            raise PodscribeError("the [?] threshold must be a probability between 0 and 1")
        check_float("the crammed-word duration", self.crammed_below_s, 0.0, 1.0)
        if self.rare_below_zipf is not None:
            check_float("the rare-word Zipf frequency", self.rare_below_zipf, 0.0, 8.0)
        if self.max_pause_s <= 0:
            raise PodscribeError("the paragraph pause must be positive")
        names = [n.strip() for n in self.speaker_names]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise PodscribeError("speaker names must be non-empty and distinct")


def merge(segments: Sequence[Segment], exclusive: Sequence[SpeakerTurn], options: MergeOptions = MergeOptions(),
          known: Optional[Mapping[str, str]] = None) -> tuple[tuple[Turn, ...], dict[str, str]]:
    """Turns of named speakers (each word with its speaker and [?] flag), and raw label -> name.
    ``known``: raw labels recognised by voice -> their names (the options' speaker names override them)."""
    words = sorted(mark_uncertain(segments, options), key=lambda w: w.start_s)  # retries and gaps in time order
    words = assign_speakers(words, exclusive)
    turns = group_turns(words, options.max_pause_s)
    labels = speaker_labels([t.speaker for t in turns], options.speaker_names, known)
    return rename_speakers(turns, labels), labels


def mark_uncertain(segments: Sequence[Segment], options: MergeOptions = MergeOptions()) -> list[Word]:
    """Each word marked ``[?]`` or not by the rules in ``pipeline/confidence.py``; a gap is always marked."""
    return [
        replace(w, uncertain=w.gap or squeezed or uncertain(w, seg, options))
        for seg in segments for w, squeezed in zip(seg.words, crammed(seg.words, options.crammed_below_s))
    ]


def assign_speakers(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> list[Word]:
    """Each word goes to the turn that overlaps it most, else to the nearest turn."""
    if not turns:
        return [replace(w, speaker=UNKNOWN_SPEAKER) for w in words]
    ordered = sorted(turns, key=lambda t: t.start_s)
    return [replace(w, speaker=_best_speaker(w, ordered)) for w in words]


def _best_speaker(word: Word, turns: Sequence[SpeakerTurn]) -> str:
    def overlap(t: SpeakerTurn) -> float:
        return min(word.end_s, t.end_s) - max(word.start_s, t.start_s)

    def distance(t: SpeakerTurn) -> float:
        return max(t.start_s - word.end_s, word.start_s - t.end_s, 0.0)

    best = max(turns, key=overlap)
    if overlap(best) > 0:
        return best.speaker
    return min(turns, key=distance).speaker


def group_turns(words: Sequence[Word], max_pause_s: float) -> list[Turn]:
    """Consecutive words of one speaker form a turn; a speaker change or a long pause ends it."""
    turns: list[list[Word]] = []
    for w in words:
        if turns and turns[-1][-1].speaker == w.speaker and w.start_s - turns[-1][-1].end_s <= max_pause_s:
            turns[-1].append(w)
        else:
            turns.append([w])
    return [Turn(speaker=ws[0].speaker or UNKNOWN_SPEAKER, words=tuple(ws)) for ws in turns]


def speaker_labels(order: Sequence[str], names: Sequence[str] = (),
                   known: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Raw labels in order of first appearance -> given names, then ``SPEAKER n``. Without given names, a
    raw label in ``known`` takes its known name and the others are numbered ``SPEAKER n`` among themselves."""
    known = {} if names else dict(known or {})
    labels: dict[str, str] = {}
    numbered = 0
    for raw in order:
        if raw in labels:
            continue
        if raw in known:
            labels[raw] = known[raw]
            continue
        labels[raw] = names[numbered].strip() if numbered < len(names) else f"SPEAKER {numbered + 1}"
        numbered += 1
    return labels


def unused_names(names: Sequence[str], labels: Mapping[str, str]) -> list[str]:
    """The given speaker names no speaker received (more names than speakers were heard)."""
    given = set(labels.values())
    return [n.strip() for n in names if n.strip() not in given]


def rename_speakers(turns: Sequence[Turn], labels: dict[str, str]) -> tuple[Turn, ...]:
    return tuple(
        Turn(speaker=labels[t.speaker], words=tuple(replace(w, speaker=labels[t.speaker]) for w in t.words))
        for t in turns
    )


def uncertain_spans(words: Sequence[Word]) -> list[tuple[bool, list[Word]]]:
    """Runs of words sharing their [?] flag: consecutive uncertain words form one span."""
    spans: list[tuple[bool, list[Word]]] = []
    for w in words:
        if spans and spans[-1][0] == w.uncertain:
            spans[-1][1].append(w)
        else:
            spans.append((w.uncertain, [w]))
    return spans


def relabel_turns(turns: Sequence[SpeakerTurn], labels: dict[str, str],
                  known: Optional[Mapping[str, str]] = None) -> tuple[SpeakerTurn, ...]:
    """Diarization turns under the transcript's speaker names (unheard speakers: their ``known`` name, else
    numbered after)."""
    labels = {raw: name for raw, name in (known or {}).items() if name not in labels.values()} | labels
    extra = speaker_labels([t.speaker for t in turns if t.speaker not in labels])
    offset = len(labels)
    named = dict(labels)
    for raw, label in extra.items():
        named[raw] = f"SPEAKER {int(label.split()[-1]) + offset}"
    return tuple(SpeakerTurn(named[t.speaker], t.start_s, t.end_s) for t in turns)
