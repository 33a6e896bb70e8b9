"""How the review page copes with a three-hour episode: load, scroll, jump, rename and save, in headless chromium.

    .venv/bin/python -m benchmarks.review_page [--words 30000] [--hours 3] [--runs 3]

Builds a synthetic transcript (3 speakers, turns of 10-150 words, 8 % of the words marked [?], a gap every
~600 words) with the bundled sample as its audio, writes the page with the html writer and
opens it in Debian's headless chromium (tests/browser.py) with a fresh profile each run. It prints:

- ready: navigation start to the page's script done (data parsed, every turn in the DOM, handlers wired), in ms;
- shown: navigation start to the end of the first frame after that (the transcript laid out and drawn), in ms;
- scroll: paging through the whole transcript one screen per animation frame: total time, longest frame, frames
  over 50 ms;
- n, rename, save: one keypress `n` (next [?]: select, scroll, seek), renaming a speaker (every turn header
  redrawn), and Save (forum text and JSON of every word built and handed to two downloads), each in ms.
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from pipeline.types import Transcript, Turn, Word  # noqa: E402
from pipeline.writers import write_all  # noqa: E402
from tests.browser import chromium  # noqa: E402

SAMPLE = REPO / "audio" / "samples" / "interview.flac"  # the page's audio (only its metadata loads before playing)

VOCAB = ("the and to of a in that it is we you this for on with so but they have be what not are just like can "
         "was kernel linux user mode machine virtual host process memory driver code people business think "
         "really about because there would project version running server customers know thing going").split()


def synthetic(n_words: int, duration_s: float, seed: int = 0) -> Transcript:
    rng = random.Random(seed)
    step = duration_s / n_words
    speakers = ("BRIAN", "JEFF", "CHRIS")
    turns, t, i, speaker = [], 0.0, 0, 0
    while i < n_words:
        size = min(rng.randint(10, 150), n_words - i)
        words = []
        for _ in range(size):
            if rng.random() < 1 / 600:
                words.append(Word("", t, t + 0.8 * step, 0.0, speakers[speaker], True, gap=True))
            marked = rng.random() < 0.08
            words.append(Word(rng.choice(VOCAB), t, t + 0.8 * step, 0.3 if marked else 0.9, speakers[speaker], marked))
            t += step
        turns.append(Turn(speakers[speaker], tuple(words)))
        i += size
        speaker = (speaker + rng.randint(1, 2)) % 3
    return Transcript("three-hours", "b" * 64, duration_s, "en", tuple(turns))


SCROLL = """
const done = arguments[arguments.length - 1];
const frames = [];
let last = performance.now();
const start = last;
window.scrollTo(0, 0);
function step() {
  const now = performance.now();
  frames.push(now - last);
  last = now;
  if (window.scrollY + innerHeight >= document.documentElement.scrollHeight - 2) {
    done({total: now - start, frames: frames.length, worst: Math.max(...frames.slice(1)),
          slow: frames.slice(1).filter(f => f > 50).length});
    return;
  }
  window.scrollBy(0, innerHeight);
  requestAnimationFrame(step);
}
requestAnimationFrame(step);
"""


TIMED = """
const t0 = performance.now();
%s
return performance.now() - t0;
"""


def wait_for(driver, script: str):
    while not (value := driver.execute_script(script)):
        time.sleep(0.05)
    return value


def one_run(page: Path, downloads: Path) -> dict:
    with chromium(downloads) as driver:
        driver.set_script_timeout(300)
        driver.get(page.as_uri())
        wait_for(driver, "return document.documentElement.dataset.ready === '1'")
        row = {"ready_ms": driver.execute_script("return window.podscribeReadyMs"),
               "shown_ms": wait_for(driver, "return window.podscribeShownMs")}
        scroll = driver.execute_async_script(SCROLL)
        row.update(scroll_ms=scroll["total"], frames=scroll["frames"], worst_ms=scroll["worst"], slow=scroll["slow"])
        row["n_ms"] = driver.execute_script(TIMED % "window.dispatchEvent(new KeyboardEvent('keydown', {key: 'n'}));")
        driver.find_element("css selector", ".spk").click()
        row["rename_ms"] = driver.execute_script(TIMED % (
            "const i = document.querySelector('#pop input.rename'); i.value = 'HOST';"
            "i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));"))
        row["save_ms"] = driver.execute_script(TIMED % "document.getElementById('save').click();")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="podscribe-review-bench-") as tmp:
        tmp = Path(tmp)
        transcript = synthetic(args.words, args.hours * 3600)
        transcript = Transcript(**{**transcript.__dict__, "source": str(SAMPLE)})
        started = time.perf_counter()
        page = write_all(transcript, tmp / "out", ("html",))[0]
        write_s = time.perf_counter() - started
        words = len(transcript.words)
        print(f"{words} words, {len(transcript.gaps)} gaps, {len(transcript.turns)} turns, "
              f"{args.hours:g} h; page {page.stat().st_size / 1e6:.2f} MB written in {write_s:.2f} s")
        rows = [one_run(page, tmp / "downloads") for _ in range(args.runs)]
    keys = ("ready_ms", "shown_ms", "scroll_ms", "frames", "worst_ms", "slow", "n_ms", "rename_ms", "save_ms")
    print("run  " + "  ".join(f"{k:>9}" for k in keys))
    for n, row in enumerate(rows, 1):
        print(f"{n:>3}  " + "  ".join(f"{row[k]:>9.0f}" for k in keys))
    print("med  " + "  ".join(f"{statistics.median(r[k] for r in rows):>9.0f}" for k in keys))


if __name__ == "__main__":
    main()
