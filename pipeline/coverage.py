"""Every spoken word is in the transcript, or the reader is told where something is missing. Pure: no torch.

Speech activity comes from the segmentation model (pyannote's, computed for diarization, or its voice
activity detection alone with ``--no-diarize``). Three rules use it:

- :func:`guard`: Whisper's no-speech check drops text only where the segmentation model hears no speech,
  or where the word alignment found no audio for the text either (most of its words crammed into a few frames:
  "Thank you very much." after an episode's last words); other words over speech are kept (they may still be
  marked ``[?]``). Speech that a dropped segment leaves without words is decoded again by the next rule.
- :func:`uncovered`: stretches of speech longer than ``min_gap_s`` that hold no word; the caller decodes each
  again on its own with some context (:func:`retry_plan`, :func:`recovered`).
- :func:`gaps`: what is still empty after that becomes a gap word (``Word.gap``), shown as ``[?]`` in every
  format at its time, and counted in ``Transcript.lost_speech_s``.
"""
from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, replace
from typing import Sequence

from pipeline.checks import check_float
from pipeline.confidence import CRAMMED_BELOW_S, crammed
from pipeline.types import Chunk, Segment, Word, join_words, word_key

log = logging.getLogger(__name__)

Span = tuple[float, float]
# chunk indices of re-decoded stretches start here, so their cache files never clash with the plan's chunks
RETRY_INDEX = 100_000
# ... and those of the second round (the time of misplaced words) here
SECOND_ROUND = RETRY_INDEX + 50_000


@dataclass(frozen=True)
class CoverageOptions:
    min_gap_s: float = 1.0  # speech with no word for longer than this is decoded again, then marked
    min_island_s: float = 0.3  # ... and so is a whole stretch of speech this long that no word touches ("Yeah.")
    slack_s: float = 0.3  # a word covers its own span and this much on either side (Whisper's times drift)
    context_s: float = 2.0  # audio decoded on either side of a stretch when it is decoded again
    speech_margin_s: float = 0.2  # a word within this of speech activity is over speech
    # a word longer than this covers only half of it at each end: Whisper stretches a window's last word over
    # speech it skipped (tiny.en: "have" timed 21.4-28.2 s over 15 words it never wrote)
    max_word_s: float = 1.0

    def __post_init__(self) -> None:
        check_float("coverage min gap", self.min_gap_s, 0.1, 30.0)
        check_float("coverage min island", self.min_island_s, 0.0, 30.0)
        check_float("coverage slack", self.slack_s, 0.0, 5.0)
        check_float("coverage context", self.context_s, 0.0, 10.0)
        check_float("speech margin", self.speech_margin_s, 0.0, 5.0)
        check_float("coverage max word length", self.max_word_s, 0.1, 30.0)


def merge_spans(spans: Sequence[Span]) -> list[Span]:
    """The union of spans, sorted, touching ones joined."""
    out: list[list[float]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in out]


def over_speech(word: Word, speech: Sequence[Span], margin_s: float) -> bool:
    """Whether the word overlaps speech activity (widened by ``margin_s``)."""
    return any(word.start_s < end + margin_s and word.end_s > start - margin_s for start, end in speech)


def guard(segments: Sequence[Segment], speech: Sequence[Span], no_speech_threshold: float,
          options: CoverageOptions = CoverageOptions(), crammed_below_s: float = CRAMMED_BELOW_S) -> list[Segment]:
    """Segments with the words Whisper's no-speech check may drop removed. Of a segment Whisper calls no-speech:
    all of it when most of its words (two or more) are crammed (``confidence.crammed``: the alignment found no
    audio for them), else the words that lie outside speech activity. Segments left with no word are dropped."""
    kept = []
    for seg in segments:
        if seg.no_speech_prob <= no_speech_threshold:
            kept.append(seg)
            continue
        if _mostly_crammed(seg.words, crammed_below_s):
            log.info("chunk %d: dropped %r, no speech and crammed into %.2f s (no-speech probability %.2f)",
                     seg.chunk_index, seg.text, seg.end_s - seg.start_s, seg.no_speech_prob)
            continue
        words = tuple(w for w in seg.words if over_speech(w, speech, options.speech_margin_s))
        if len(words) < len(seg.words):
            dropped = join_words([w for w in seg.words if w not in words])
            log.info("chunk %d: dropped %r outside speech (no-speech probability %.2f)", seg.chunk_index, dropped,
                     seg.no_speech_prob)
        if words:
            kept.append(replace(seg, words=words, start_s=words[0].start_s, end_s=words[-1].end_s,
                                text=seg.text if len(words) == len(seg.words) else join_words(words)))
    return kept


def _mostly_crammed(words: Sequence[Word], below_s: float) -> bool:
    count = sum(crammed(words, below_s))
    return count >= 2 and 2 * count >= len(words)


def uncovered(speech: Sequence[Span], words: Sequence[Word],
              options: CoverageOptions = CoverageOptions()) -> list[Span]:
    """Stretches of speech no word covers: a whole stretch of speech of at least ``min_island_s`` with no word's
    middle in it (a one-word backchannel: Whisper stretches the words around it over the pauses, so their
    edges are no evidence), or a part of a stretch that no word (widened by ``slack_s``) covers, longer than
    ``min_gap_s`` (shorter parts are within Whisper's timing drift). A word longer than ``max_word_s`` covers
    only ``max_word_s / 2`` at each end: its middle is no evidence of speech heard."""
    covered = merge_spans([(a - options.slack_s, b + options.slack_s) for w in words for a, b in _covers(w, options)])
    middles = sorted((w.start_s + w.end_s) / 2 for w in words)
    out = []
    for start, end in merge_spans(speech):
        if end - start >= options.min_island_s and not _any_between(middles, start - options.slack_s,
                                                                     end + options.slack_s):
            out.append((round(start, 3), round(end, 3)))
            continue
        out += [(round(s, 3), round(e, 3)) for s, e in _subtract((start, end), covered) if e - s > options.min_gap_s]
    return out


def _covers(word: Word, options: CoverageOptions) -> list[Span]:
    """The time a word vouches for: all of it, or only its ends when it is implausibly long."""
    if word.end_s - word.start_s <= options.max_word_s:
        return [(word.start_s, word.end_s)]
    half = options.max_word_s / 2
    return [(word.start_s, word.start_s + half), (word.end_s - half, word.end_s)]


def _any_between(sorted_values: Sequence[float], low: float, high: float) -> bool:
    i = bisect.bisect_left(sorted_values, low)
    return i < len(sorted_values) and sorted_values[i] <= high


def _subtract(span: Span, covered: Sequence[Span]) -> list[Span]:
    start, end = span
    pieces = []
    for c_start, c_end in covered:
        if c_end <= start or c_start >= end:
            continue
        if c_start > start:
            pieces.append((start, c_start))
        start = max(start, c_end)
    if end > start:
        pieces.append((start, end))
    return pieces


def retry_plan(stretches: Sequence[Span], duration_s: float, options: CoverageOptions = CoverageOptions(),
               max_s: float = 30.0, first_index: int = RETRY_INDEX) -> list[tuple[Chunk, Span]]:
    """One chunk per stretch (longer ones split into pieces), with ``context_s`` of audio on either side, at most
    ``max_s``; each with the piece of speech it is decoded for (its words count only there)."""
    room = max_s - 2 * options.context_s
    plan = []
    for start, end in stretches:
        while start < end:
            piece_end = min(end, start + room)
            chunk = Chunk(index=first_index + len(plan), start_s=round(max(0.0, start - options.context_s), 3),
                          end_s=round(min(duration_s, piece_end + options.context_s), 3))
            plan.append((chunk, (start, piece_end)))
            start = piece_end
    return plan


def recovered(chunk: Chunk, segments: Sequence[Segment], stretches: Sequence[Span],
              options: CoverageOptions = CoverageOptions()) -> list[Segment]:
    """The words a retry chunk found inside the stretches it was made for (its context is only context, and
    another stretch in it is another retry's)."""
    inside = []
    for seg in segments:
        words = tuple(w for w in seg.words if _within(w, stretches, options.slack_s))
        if words:
            inside.append(replace(seg, words=words, start_s=words[0].start_s, end_s=words[-1].end_s,
                                  text=join_words(words), chunk_index=chunk.index))
    return inside


def misplaced(segments: Sequence[Segment], found: Sequence[Segment], min_words: int = 5) -> set[Word]:
    """Words a retry found again somewhere else: Whisper wrote them, skipped what followed, and its word alignment
    put them over later speech (tiny.en with a vocabulary prompt: a sentence spoken at 29 s timed at 52 s, over a
    line of a poem that was never written). Matched as runs of ``min_words`` words in the same order."""
    theirs = [(seg, {gram for gram, _ in _runs(seg.words, min_words)}) for seg in found]
    out: set[Word] = set()
    for seg in segments:
        for gram, run in _runs(seg.words, min_words):
            if any(gram in grams and not (run[0].start_s < other.end_s and other.start_s < run[-1].end_s)
                   for other, grams in theirs):
                out.update(run)
    return out


def without(segments: Sequence[Segment], words: set[Word]) -> list[Segment]:
    """The segments with those words taken out (and segments left empty dropped)."""
    out = []
    for seg in segments:
        kept = tuple(w for w in seg.words if w not in words)
        if len(kept) == len(seg.words):
            out.append(seg)
        elif kept:
            out.append(replace(seg, words=kept, start_s=kept[0].start_s, end_s=kept[-1].end_s,
                               text=join_words(kept)))
    return out


def untried(stretches: Sequence[Span], tried: Sequence[Span]) -> list[Span]:
    """The parts of ``stretches`` outside the ones already decoded again."""
    done = merge_spans(tried)
    return [piece for span in stretches for piece in _subtract(span, done)]


def _runs(words: Sequence[Word], n: int) -> list[tuple[tuple[str, ...], tuple[Word, ...]]]:
    """Each run of ``n`` words (punctuation-only ones skipped) as (normalised text, the words)."""
    kept = [(t, w) for t, w in ((word_key(w.text), w) for w in words) if t]
    return [(tuple(t for t, _ in kept[i:i + n]), tuple(w for _, w in kept[i:i + n]))
            for i in range(len(kept) - n + 1)]


def _within(word: Word, stretches: Sequence[Span], slack_s: float) -> bool:
    middle = (word.start_s + word.end_s) / 2
    return any(start - slack_s <= middle <= end + slack_s for start, end in stretches)


def gaps(stretches: Sequence[Span], words: Sequence[Word], options: CoverageOptions = CoverageOptions()) -> list[Word]:
    """A gap word for each stretch still without words (the parts of it no word covers)."""
    return [Word(text="", start_s=s, end_s=e, probability=0.0, uncertain=True, gap=True)
            for stretch in stretches for s, e in uncovered([stretch], words, options)]
