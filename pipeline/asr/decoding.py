"""What every engine does the same way around its model: a chunk's samples, segments from the words a decode
gave, and the checks that send a decode back to be done again without its prompt. Pure: no model library."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

from pipeline.types import Audio, Chunk, Segment, Word, word_key

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.asr.options import TranscribeOptions

# A run this long written out again from the prompt (or earlier in the chunk) is a copy, not speech: decoded again
MIN_COPIED_WORDS = 8


def make_segment(text: str, words: Sequence[tuple[str, float, float, float]], chunk: Chunk,
                 options: TranscribeOptions, *,
                 avg_logprob: float, no_speech_prob: float, compression_ratio: float,
                 temperature: float) -> Segment:
    """A Segment on the episode timeline from chunk-relative (word, start, end, probability) tuples and the
    checks Whisper ran on it; ``failed_checks`` when it broke ``options``' compression or log-prob limit."""
    offset = chunk.start_s
    made = tuple(Word(text=w.strip(), start_s=round(float(start) + offset, 3), end_s=round(float(end) + offset, 3),
                      probability=round(float(p), 4), joins=joins(w, first=k == 0))
                 for k, (w, start, end, p) in enumerate(words))
    failed = compression_ratio > options.compression_ratio_threshold or avg_logprob < options.logprob_threshold
    return Segment(
        text=text.strip(), start_s=made[0].start_s, end_s=made[-1].end_s, words=made,
        avg_logprob=round(float(avg_logprob), 4), no_speech_prob=round(float(no_speech_prob), 4),
        compression_ratio=round(float(compression_ratio), 4), temperature=float(temperature),
        chunk_index=chunk.index, failed_checks=bool(failed),
    )


def joins(raw: str, first: bool) -> bool:
    """Whether a word as Whisper wrote it (``" l"``, ``"'étoile,"``) attaches to the word before it: it has no
    leading space. A segment's first word attaches only in a script written without spaces (Chinese, Japanese,
    Thai...), since a segment of any other starts a word."""
    if not raw or raw[0].isspace():
        return False
    return not first or _unspaced(raw.lstrip()[:1])


def _unspaced(char: str) -> bool:
    import unicodedata

    name = unicodedata.name(char, "") if char else ""
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"))


def slice_audio(audio: Audio, chunk: Chunk):
    """The chunk's samples."""
    a, b = int(chunk.start_s * audio.sample_rate), int(chunk.end_s * audio.sample_rate)
    return audio.samples[a:b]


def copied_run(words: Sequence[str], context: Optional[Sequence[str]] = None) -> int:
    """The longest run of consecutive ``words`` that also stands, in the same order, in ``context``; with no
    ``context``, earlier in ``words`` themselves (before the run, not overlapping it)."""
    own = context is None
    keys = [word_key(w) for w in words]
    known = keys if own else [word_key(w) for w in context]
    best, above = 0, [0] * (len(known) + 1)
    for i, key in enumerate(keys):
        row = [0] * (len(known) + 1)
        for j, other in enumerate(known[:i] if own else known, 1):
            if key and key == other:
                row[j] = above[j - 1] + 1
                if own:  # the run and the one it repeats may not overlap: at most the distance between them
                    row[j] = min(row[j], i - j + 1)
                best = max(best, row[j])
        above = row
    return best


def redecode_reason(words: Sequence[str]) -> Optional[str]:
    """Why a chunk's words must be decoded again without the previous-text prompt, or None. Within a chunk
    Whisper prompts each later 30 s window with the text of the earlier ones, and two failures of that are
    known: a decoding loop, and, over music or silence, the prompt written out again (found on the dev set
    with base: 14 words of a story copied into a music stinger). Speech that does repeat itself is only
    decoded a second time, never dropped."""
    if repetition_loop(words):
        return "repetition loop"
    copied = copied_run(words)
    if copied >= MIN_COPIED_WORDS:
        return f"{copied} words of its own earlier text written again"
    return None


def repetition_loop(words: Sequence[str], max_ngram: int = 8) -> bool:
    """True when some n-gram repeats back to back often enough to be a decoding loop."""
    tokens = [word_key(w) for w in words]
    tokens = [t for t in tokens if t]
    for n in range(1, max_ngram + 1):
        needed = 5 if n == 1 else 4
        for i in range(0, len(tokens) - n * needed + 1):
            gram = tokens[i:i + n]
            if all(tokens[i + k * n:i + (k + 1) * n] == gram for k in range(1, needed)):
                return True
    return False
