"""When a word is marked ``[?]``: the signals, and the rule that combines them. Pure (wordfreq is a word list).

Signals, per word (``signals``): Whisper's word probability (the mean of its tokens' probabilities); its
segment's average log-probability, compression ratio and fallback temperature; and a rare-word prior: how common
the word is in English (``wordfreq``'s Zipf scale: 7 for "the", 4 for "podcast", 0 for a word it has never seen).
Whisper is often confident about a mishearing of a name ("Lemux" for Linux, "Desharn" for Ducharme); such words are
rare or unknown in English, so a rare word needs more probability before it goes unmarked. Words in the episode's
vocabulary are not rare. And a word's pace (``crammed``): Whisper sometimes writes text that nothing in the audio
holds ("Thank you very much." twice more after an episode's last words), and the word alignment squeezes it into a
few frames. ``benchmarks/uncertainty.py`` measures each signal on the dev set.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from pipeline.types import Segment, Word


@dataclass(frozen=True)
class WordSignals:
    probability: float
    zipf: float
    avg_logprob: float
    compression_ratio: float
    temperature: float
    failed_checks: bool


def signals(word: Word, segment: Segment, vocabulary: Iterable[str] = ()) -> WordSignals:
    return WordSignals(word.probability, zipf(word.text, tuple(vocabulary)), segment.avg_logprob,
                       segment.compression_ratio, segment.temperature, segment.failed_checks)


def uncertain(word: Word, segment: Segment, options) -> bool:
    """The rule (thresholds from ``pipeline.merge.MergeOptions``): Whisper's checks failed, or the word is
    improbable, or it is rare (and not in the vocabulary) and not probable enough."""
    if segment.failed_checks or word.probability < options.uncertain_below:
        return True
    if options.rare_below_zipf is None or word.probability >= options.rare_uncertain_below:
        return False
    return zipf(word.text, tuple(options.vocabulary)) < options.rare_below_zipf


CRAMMED_BELOW_S = 0.05  # twenty words a second, a pace no one speaks at


def crammed(words: Sequence[Word], below_s: float) -> list[bool]:
    """Per word of one segment, in order: whether it and a neighbour were given less than ``below_s`` each
    (``CRAMMED_BELOW_S`` by default in ``MergeOptions`` and ``coverage.guard``). Gaps are never crammed."""
    flags = [False] * len(words)
    for i in range(len(words) - 1):
        first, second = words[i], words[i + 1]
        if not (first.gap or second.gap) and second.end_s - first.start_s < 2 * below_s:
            flags[i] = flags[i + 1] = True
    return flags


def zipf(text: str, vocabulary: tuple[str, ...] = ()) -> float:
    """How common the word is in English (Zipf scale); 8 (very common) for a vocabulary term, a number or no word."""
    key = _key(text)
    if not key or key.isdigit() or key in _vocabulary_words(vocabulary):
        return 8.0
    return _zipf(key)


def _key(text: str) -> str:
    return re.sub(r"[^\w']", "", text.lower()).strip("'")


@functools.lru_cache(maxsize=64)
def _vocabulary_words(vocabulary: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_key(part) for term in vocabulary for part in term.split())


@functools.lru_cache(maxsize=65536)
def _zipf(key: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(key, "en")
