"""Join per-chunk words on the episode timeline without losing or doubling words at seams."""
from __future__ import annotations

from typing import Sequence

from pipeline.types import Chunk, Segment, Word, join_words, word_key


def shift(words: Sequence[Word], offset_s: float) -> list[Word]:
    """Move chunk-relative word times onto the episode timeline."""
    from dataclasses import replace

    return [replace(w, start_s=round(w.start_s + offset_s, 3), end_s=round(w.end_s + offset_s, 3)) for w in words]


def dedupe(chunks: Sequence[Chunk], words_per_chunk: Sequence[Sequence[Word]]) -> list[list[Word]]:
    """Keep each word once where neighbouring chunks overlap.

    Within an overlap, the earlier chunk owns the words whose midpoint falls before the
    middle of the overlap and the later chunk owns the rest; a word that both chunks
    kept right at the seam (same text, overlapping times) is dropped from the later one.
    """
    kept = [list(ws) for ws in words_per_chunk]
    for i in range(1, len(chunks)):
        prev, cur = chunks[i - 1], chunks[i]
        if cur.start_s >= prev.end_s:
            continue
        seam = (cur.start_s + prev.end_s) / 2
        kept[i - 1] = [w for w in kept[i - 1] if _mid(w) < seam]
        kept[i] = [w for w in kept[i] if _mid(w) >= seam]
        if kept[i - 1] and kept[i] and _same(kept[i - 1][-1], kept[i][0]):
            kept[i] = kept[i][1:]
    return kept


def _mid(word: Word) -> float:
    return (word.start_s + word.end_s) / 2


def _same(a: Word, b: Word) -> bool:
    return word_key(a.text) == word_key(b.text) and b.start_s < a.end_s


def join(chunks: Sequence[Chunk], segments_per_chunk: Sequence[Sequence[Segment]]) -> list[Segment]:
    """Segments already on the episode timeline, de-duplicated across seams, empty ones dropped."""
    from dataclasses import replace

    words = [[w for seg in segs for w in seg.words] for segs in segments_per_chunk]
    kept_ids = {id(w) for ws in dedupe(chunks, words) for w in ws}
    joined = []
    for segs in segments_per_chunk:
        for seg in segs:
            kept = tuple(w for w in seg.words if id(w) in kept_ids)
            if kept:
                text = seg.text if len(kept) == len(seg.words) else join_words(kept)
                joined.append(replace(seg, words=kept, text=text, start_s=kept[0].start_s, end_s=kept[-1].end_s))
    return joined


def snap_to_sound(segments: Sequence[Segment], loud: "Sequence[bool]", frame_s: float) -> list[Segment]:
    """Move a word's start that Whisper placed in silence forward to where its sound begins.

    Whisper's alignment starts the first word after a pause too early (by 0.3-0.5 s); ``loud`` holds,
    per envelope frame, whether it is above the silence threshold.
    """
    from dataclasses import replace

    def snapped(w: Word) -> Word:
        first, last = int(w.start_s / frame_s), int(w.end_s / frame_s)
        if first >= len(loud) or loud[first]:
            return w
        hit = next((i for i in range(first, min(last, len(loud))) if loud[i]), None)
        return w if hit is None else replace(w, start_s=round(float(hit) * frame_s, 3))

    out = []
    for seg in segments:
        words = tuple(snapped(w) for w in seg.words)
        out.append(replace(seg, words=words, start_s=words[0].start_s) if words else seg)
    return out
