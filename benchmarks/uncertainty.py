"""Which signals find the word errors? Recall against share of words marked, per signal, on the dev set.

    .venv/bin/python -m benchmarks.uncertainty [--hyp-dir outputs/accuracy] [--model base] [--other tiny.en]
                                               [--manifest audio/dev/manifest.toml]

Reads the podscribe JSON transcripts that ``benchmarks/accuracy.py`` kept (no model runs here), judges every word
right or wrong against the reference (``pipeline.evaluate``'s alignment), and ranks the words by each signal:

- ``probability``: Whisper's word probability (the mean of its tokens'), lowest first: today's rule;
- ``rare``: how rare the word is in English (wordfreq Zipf), rarest first; vocabulary terms are never rare;
- ``segment``: the segment's average log-probability, lowest first;
- ``fallback``: words of segments decoded at a fallback temperature or failing Whisper's checks, then probability;
- ``disagree``: words the ``--other`` model's transcript does not have (aligned by text), then probability;
- ``crammed``: words squeezed with a neighbour into under 0.05 s each (``pipeline.confidence.crammed``), then
  probability;
- ``prob+rare``: the rule of ``pipeline/confidence.py``: probability under T, or rare (Zipf under Z) and under T2;
  the grid's best (T, Z, T2) within 10 % of words marked is printed with its recall.

For each ranking it prints the recall (share of wrong words marked) at 5, 10 and 15 % of words marked.
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from pipeline.confidence import crammed, zipf  # noqa: E402
from pipeline.evaluate import read_hypothesis, read_reference  # noqa: E402
from pipeline.evaluate.calibration import judge  # noqa: E402
from pipeline.evaluate.manifest import read_manifest  # noqa: E402
from pipeline.evaluate.metrics import align, get_normalizer, tokens  # noqa: E402
from pipeline.merge import MergeOptions  # noqa: E402
from pipeline.types import Word  # noqa: E402

SHARES = (0.05, 0.10, 0.15)


@dataclass(frozen=True)
class Judged:
    text: str
    wrong: bool
    probability: float
    zipf: float
    avg_logprob: float
    fallback: bool
    disagree: bool
    crammed: bool


def words_with_segments(path: Path) -> list[tuple[dict, dict]]:
    """(word, its segment) for every word of a podscribe JSON, in order (gaps left out)."""
    data = json.loads(path.read_text())
    segments = sorted(data.get("segments", []), key=lambda s: s["start_s"])
    out = []
    for turn in data["turns"]:
        for w in turn["words"]:
            if w.get("gap"):
                continue
            seg = next((s for s in segments if s["start_s"] - 0.05 <= w["start_s"] <= s["end_s"] + 0.05), {})
            out.append((w, seg))
    return out


def other_words(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    return [w["text"] for t in data["turns"] for w in t["words"] if not w.get("gap")]


def disagreements(mine: list[str], other: list[str]) -> list[bool]:
    """Per word of ``mine``: not matched by the same word in ``other`` (text alignment)."""
    import jiwer

    norm = get_normalizer("whisper")
    a = [(norm(w) or "_").replace(" ", "_") for w in mine]  # one token per word
    b = [(norm(w) or "_").replace(" ", "_") for w in other] or ["_"]
    out = [True] * len(a)
    result = jiwer.process_words(" ".join(a), " ".join(b))
    for chunk in result.alignments[0]:
        if chunk.type == "equal":
            for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
                out[i] = False
    return out


def crammed_flags(pairs: list[tuple[dict, dict]]) -> list[bool]:
    """``pipeline.confidence.crammed`` over each run of words that share a segment."""
    flags: list[bool] = []
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][1] is pairs[i][1]:
            j += 1
        words = [Word(w["text"], w["start_s"], w["end_s"], w["probability"]) for w, _ in pairs[i:j]]
        flags += crammed(words, MergeOptions.crammed_below_s)
        i = j
    return flags


def judged_words(pair, hyp: Path, other: Path | None, vocabulary: tuple[str, ...]) -> list[Judged]:
    ref, doc = read_reference(list(pair.references)), read_hypothesis(hyp)
    normalize = get_normalizer("whisper")
    verdicts = {j.index: j.wrong for j in judge(align(tokens(ref, normalize), tokens(doc, normalize)), doc)}
    pairs = words_with_segments(hyp)
    disagree = disagreements([w["text"] for w, _ in pairs], other_words(other)) if other else [False] * len(pairs)
    out = []
    for i, ((w, seg), d, c) in enumerate(zip(pairs, disagree, crammed_flags(pairs))):
        if i not in verdicts:
            continue
        out.append(Judged(w["text"], verdicts[i], w["probability"], zipf(w["text"], vocabulary),
                          seg.get("avg_logprob", 0.0),
                          bool(seg.get("temperature", 0.0) > 0 or seg.get("failed_checks")),
                          d, c))
    return out


RANKINGS = {
    "probability": lambda j: j.probability,
    "rare": lambda j: (j.zipf, j.probability),
    "segment": lambda j: (j.avg_logprob, j.probability),
    "fallback": lambda j: (not j.fallback, j.probability),
    "disagree": lambda j: (not j.disagree, j.probability),
    "crammed": lambda j: (not j.crammed, j.probability),
}


def recall_at(words: list[Judged], key, share: float) -> float:
    ranked = sorted(words, key=key)[:round(share * len(words))]
    wrong = sum(j.wrong for j in words)
    return sum(j.wrong for j in ranked) / wrong if wrong else 0.0


def rule_grid(words: list[Judged], max_share: float = 0.10):
    """Best (recall, share, T, Z, T2) of the probability + rare-word rule within ``max_share`` marked."""
    wrong = sum(j.wrong for j in words) or 1
    best = None
    grid = ([0.3, 0.4, 0.5, 0.55, 0.6, 0.7], [2.0, 2.5, 3.0, 3.5], [0.7, 0.8, 0.9, 0.95, 1.01])
    for t, z, t2 in itertools.product(*grid):
        marked = [j for j in words if j.probability < t or (j.zipf < z and j.probability < t2)]
        share, recall = len(marked) / len(words), sum(j.wrong for j in marked) / wrong
        if share <= max_share and (best is None or recall > best[0]):
            best = (recall, share, t, z, t2)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hyp-dir", type=Path, default=REPO / "outputs" / "accuracy")
    parser.add_argument("--manifest", type=Path, default=REPO / "audio" / "dev" / "manifest.toml")
    parser.add_argument("--model", default="base")
    parser.add_argument("--other", default="tiny.en", help="the model whose disagreement is a signal ('' for none)")
    args = parser.parse_args()
    words: list[Judged] = []
    for pair in read_manifest(args.manifest):
        hyp = args.hyp_dir / args.model / "podscribe" / f"{pair.name}.json"
        other = args.hyp_dir / args.other / "podscribe" / f"{pair.name}.json" if args.other else None
        vocab_file = pair.audio.with_name(pair.audio.stem + ".vocab.txt")
        vocabulary = tuple(v.strip() for v in vocab_file.read_text().split(",")) if vocab_file.is_file() else ()
        if hyp.is_file():
            words += judged_words(pair, hyp, other if other and other.is_file() else None, vocabulary)
    wrong = sum(j.wrong for j in words)
    print(f"model {args.model}: {len(words)} words judged, {wrong} wrong ({wrong / max(len(words), 1):.1%})")
    print(f"{'signal':<14}" + "".join(f"{f'recall@{s:.0%}':>13}" for s in SHARES))
    for name, key in RANKINGS.items():
        print(f"{name:<14}" + "".join(f"{recall_at(words, key, s):>13.1%}" for s in SHARES))
    best = rule_grid(words)
    if best:
        recall, share, t, z, t2 = best
        print(f"prob+rare rule: recall {recall:.1%} marking {share:.1%} (T={t}, Zipf<{z} and p<{t2})")


if __name__ == "__main__":
    main()
