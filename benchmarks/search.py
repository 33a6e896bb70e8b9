"""Search at archive size: a synthetic catalog of one-hour episodes, indexed and searched as podscribe does.

    .venv/bin/python -m benchmarks.search [--episodes 1000] [--queries 200] [--keep DIR]

Each episode is an hour of talk by 2-4 speakers (turns of 10-150 words, about 2.6 words a second, 8 % marked
[?]), its words drawn in runs from the real sentences of the bundled interview's reference
(audio/samples/interview.txt), so that phrases exist and word frequencies are those of speech. Episodes are
recorded in a real catalog.sqlite and indexed by ``pipeline.library.search.index_episode``, the function a batch
calls. It prints the index size, the indexing time per episode hour, and the latency (median, 95th percentile)
of queries of each kind, drawn from the same text: one word, two words, a three-word phrase, a prefix, one word
with a speaker filter, and the marked passages of a show (``--uncertain`` with no query: its newest first).
Goals (issue #30): search median under 50 ms, indexing under 1 s per episode hour.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.library.catalog import Catalog, EpisodeRecord, Holder, Outcome
from pipeline.library.search import index_episode, search
from pipeline.types import Transcript, Turn, Word

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "audio" / "samples" / "interview.txt"
WORDS_PER_S = 2.6
SPEAKERS = ("BRIAN", "JEFF", "CHRIS", "ANNE")


def sentences() -> list[list[str]]:
    """The reference's sentences as lists of words (speaker labels and marks left out)."""
    text = re.sub(r"^[A-Z ]+:\s*|\[\?\]", " ", SOURCE.read_text(encoding="utf-8"), flags=re.M)
    return [s.split() for s in re.split(r"(?<=[.?!])\s+", text) if len(s.split()) >= 3]


def episode(n: int, source: list[list[str]], hours: float = 1.0) -> Transcript:
    rng = random.Random(n)
    speakers = SPEAKERS[: rng.randint(2, 4)]
    turns, t, total_s = [], 0.0, hours * 3600
    while t < total_s:
        who, size, words = rng.choice(speakers), rng.randint(10, 150), []
        while len(words) < size:
            words += rng.choice(source)
        step = 1 / WORDS_PER_S
        turns.append(Turn(who, tuple(Word(w, round(t + k * step, 3), round(t + k * step + 0.3, 3),
                                          0.3 if rng.random() < 0.08 else 0.9, who, rng.random() < 0.08)
                                     for k, w in enumerate(words))))
        t += len(words) * step + 0.5
    return Transcript(episode=f"ep{n:04d}", sha256=f"{n:064d}", duration_s=total_s, language="en", turns=tuple(turns))


def build(catalog: Catalog, count: int, source: list[list[str]]) -> tuple[float, int]:
    """Record and index ``count`` episodes: (seconds spent indexing, words indexed)."""
    holder, spent, words = Holder.here(), 0.0, 0
    for n in range(count):
        transcript = episode(n, source)
        record = EpisodeRecord(key=f"guid:{n}", kind="feed", source=f"http://x/{n}.mp3", name=transcript.episode,
                               show=f"Show {n % 5}", date=f"2026-{1 + n % 12:02d}-01")
        catalog.claim(record, "base", "k", {}, holder)
        catalog.finish(record.key, Outcome("done", duration_s=transcript.duration_s), holder)
        start = time.perf_counter()
        index_episode(catalog, record.key, transcript)
        spent += time.perf_counter() - start
        words += sum(len(turn.words) for turn in transcript.turns)
    return spent, words


def queries(source: list[list[str]], count: int, seed: int = 1) -> dict[str, list[tuple[str, dict]]]:
    rng = random.Random(seed)
    plain = [re.sub(r"\W", "", w) for s in source for w in s]
    plain = [w for w in plain if len(w) > 3]

    def phrase(n: int) -> str:
        s = rng.choice([s for s in source if len(s) >= n])
        k = rng.randrange(len(s) - n + 1)
        return '"' + " ".join(s[k:k + n]) + '"'

    def two() -> str:  # two words of one sentence, not side by side
        s = [re.sub(r"\W", "", w) for w in rng.choice([s for s in source if len(s) >= 6])]
        k = rng.randrange(len(s) - 3)
        return f"{s[k]} {s[k + 3]}"

    return {
        "one word": [(rng.choice(plain), {}) for _ in range(count)],
        "two words": [(two(), {}) for _ in range(count)],
        "3-word phrase": [(phrase(3), {}) for _ in range(count)],
        "prefix": [(rng.choice(plain)[:4] + "*", {}) for _ in range(count)],
        "word + speaker": [(rng.choice(plain), {"speaker": rng.choice(SPEAKERS)}) for _ in range(count)],
        "[?] of a show": [("", {"uncertain": True, "show": f"Show {rng.randrange(5)}"}) for _ in range(count)],
    }


def latency(catalog: Catalog, cases: list[tuple[str, dict]]) -> tuple[float, float, float]:
    """(median ms, 95th percentile ms, median hits) over the cases."""
    times, hits = [], []
    for query, filters in cases:
        start = time.perf_counter()
        hits.append(len(search(catalog, query, limit=20, **filters)))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.median(hits)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="build the catalog here (kept) instead of a temp dir")
    parser.add_argument("--reuse", action="store_true", help="search the catalog --keep built before, not a new one")
    args = parser.parse_args(argv)
    if args.reuse and not (args.keep and (args.keep / "catalog.sqlite").is_file()):
        parser.error("--reuse needs --keep DIR holding a catalog.sqlite this benchmark built")
    source = sentences()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        catalog = Catalog.in_folder(folder)
        size_mb = lambda: sum(p.stat().st_size for p in folder.glob("catalog.sqlite*")) / 1e6
        if args.reuse:
            print(f"the catalog in {folder}: {len(catalog.rows())} episodes, {size_mb():.0f} MB")
        else:
            spent, words = build(catalog, args.episodes, source)
            print(f"{args.episodes} one-hour episodes, {words / 1e6:.1f} M words: index and catalog {size_mb():.0f} "
                  f"MB, indexing {spent / args.episodes:.3f} s per episode hour")
        print(f"{'query':<16}{'median ms':>10}{'p95 ms':>9}{'hits':>6}")
        for kind, cases in queries(source, args.queries).items():
            median, p95, hits = latency(catalog, cases)
            print(f"{kind:<16}{median:>10.1f}{p95:>9.1f}{hits:>6.0f}")


if __name__ == "__main__":
    main()
