"""The archive served by ``podscribe serve``: a 3-hour episode's review page, the index and search pages, in chromium.

    .venv/bin/python -m benchmarks.archive [--episodes 1000] [--runs 5] [--keep DIR]

Builds an output folder with a real catalog.sqlite: the synthetic one-hour episodes of ``benchmarks.search``
(``--episodes``, indexed as a batch does) and one real 3-hour episode, ``three-hours``: its JSON transcript and
static review page written by ``pipeline.writers.write_all`` (about 28,000 words from the bundled interview's
sentences, 2-4 speakers, 8 % marked [?]), its audio (the bundled sample encoded once to mono 16 kHz Opus at
16 kb/s and looped to 3 hours by stream copy, 21 MB) and a ``done`` catalog row naming both, indexed by
``pipeline.library.search.catch_up``. Then it starts ``python -m pipeline serve -o DIR --port 0`` and measures:

- the server: the episode page's HTML (urllib, outside the browser, a new connection each time: the first request
  and the median and max of ``--runs`` more), its size, and whether a Range request for the audio gets a 206;
- in Debian's headless chromium (tests/browser.py), a fresh browser and profile for each load, ``--runs`` loads of
  the served page ``/episode/three-hours`` and as many of the same episode's static page opened as a file
  (``file://.../three-hours.html``, its audio read from disk), alternating: from navigation start to the page's
  HTML received (``responseEnd``), to its script done (``podscribeReadyMs``), to its first frame
  (``podscribeShownMs``), to the audio's metadata (``loadedmetadata``: ``readyState >= 1``, through HTTP Range
  when served), and how long a seek to 2:30:00 takes (``currentTime`` set to ``seeked``);
- the index page ``/`` (every episode listed) and ``/search?q=...`` for the text's commonest word ("linux"), two
  others, a phrase and a prefix: size, server time (urllib, as above) and chromium's load time (navigation
  start to the load event, a fresh browser each).

Goal (issue #30): a 3-hour episode's page ready (script done) in under 1 s when served.
"""
from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from benchmarks import search as synthetic_archive
from pipeline.library.catalog import Catalog, EpisodeRecord, Holder, Outcome
from pipeline.library.search import catch_up
from pipeline.types import Transcript
from pipeline.writers import write_all
from tests.archive_server import ArchiveServer

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "audio" / "samples" / "interview.flac"
NAME = "three-hours"
HOURS = 3.0
SEEK_S = 9000.0  # 2:30:00
GOAL_READY_MS = 1000.0
QUERIES = ("linux", "that", "kernel", '"linux kernel"', "virt*")  # "linux" is in nearly every synthetic passage

# Installed before any of the page's own scripts run: media events do not bubble, but a capturing listener on the
# document sees them, so the time the audio's metadata arrived is known even when it came before we looked.
PROBE = """
document.addEventListener('loadedmetadata', () => { window.benchMetaMs ??= performance.now(); }, true);
"""

SEEK = """
const done = arguments[arguments.length - 1];
const audio = document.getElementById('audio');
const t0 = performance.now();
const timer = setTimeout(() => done({ms: null, at: audio.currentTime}), 30000);
audio.addEventListener('seeked', () => {
  clearTimeout(timer);
  done({ms: performance.now() - t0, at: audio.currentTime});
}, {once: true});
audio.currentTime = arguments[0];
"""


# ---------------------------------------------------------------- the archive


def three_hour_episode(source: list[list[str]], audio: Path) -> Transcript:
    """The synthetic one-hour episode generator of benchmarks.search run for three hours, named and with audio."""
    transcript = synthetic_archive.episode(7, source, hours=HOURS)
    return Transcript(**{**transcript.__dict__, "episode": NAME, "sha256": "3" * 64, "source": str(audio)})


def make_audio(path: Path) -> None:
    """Three hours of speech: the sample encoded once to Opus, then looped by stream copy (seconds, not minutes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    once = path.with_name("once.ogg")
    ffmpeg = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    subprocess.run(ffmpeg + ["-i", str(SAMPLE), "-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a", "16k",
                             str(once)], check=True)
    subprocess.run(ffmpeg + ["-stream_loop", "-1", "-i", str(once), "-t", str(HOURS * 3600), "-c", "copy", str(path)],
                   check=True)
    once.unlink()


def add_episode(catalog: Catalog, transcript: Transcript, outputs: list[Path], audio: Path) -> None:
    """A ``done`` row for the episode, as a run that wrote ``outputs`` from ``audio`` records it."""
    holder = Holder.here()
    record = EpisodeRecord(key=f"sha256:{transcript.sha256}", kind="file", source=str(audio), name=NAME,
                           show="Long talks", title="Three hours", date="2026-12-31", sha256=transcript.sha256)
    catalog.claim(record, "base", "k", {}, holder)
    catalog.finish(record.key, Outcome(status="done", outputs=tuple(str(p) for p in outputs), audio_path=str(audio),
                                       duration_s=transcript.duration_s), holder)


def build(folder: Path, episodes: int) -> tuple[Transcript, Path]:
    """The output folder: ``episodes`` synthetic one-hour episodes and the 3-hour one; (its transcript, its page)."""
    source = synthetic_archive.sentences()
    out = folder / "out"
    catalog = Catalog.in_folder(out)
    started = time.perf_counter()
    synthetic_archive.build(catalog, episodes, source)
    print(f"{episodes} synthetic one-hour episodes recorded and indexed in {time.perf_counter() - started:.0f} s")
    audio = folder / "audio" / f"{NAME}.ogg"
    make_audio(audio)
    transcript = three_hour_episode(source, audio)
    json_path, page = write_all(transcript, out, ("json", "html"))
    add_episode(catalog, transcript, [json_path, page], audio)
    if catch_up(catalog) != 1:
        raise SystemExit(f"{NAME} was not indexed")
    print(f"{NAME}: {len(transcript.words)} words, {len(transcript.turns)} turns, "
          f"{sum(w.uncertain for w in transcript.words)} marked [?]; JSON {json_path.stat().st_size / 1e6:.1f} MB, "
          f"static page {page.stat().st_size / 1e6:.2f} MB, audio {audio.stat().st_size / 1e6:.1f} MB Opus")
    return transcript, page


# ---------------------------------------------------------------- the server


def get(url: str, headers: Optional[dict] = None) -> tuple[float, int, bytes, dict]:
    """One GET on a new connection: (ms to the last byte, status, body, headers)."""
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as response:
        body = response.read()
        return (time.perf_counter() - start) * 1000, response.status, body, dict(response.headers)


def server_times(url: str, runs: int) -> dict:
    """The first GET of ``url`` and ``runs`` more: first, median and max ms; size; how it was encoded."""
    first, _, body, headers = get(url, {"Accept-Encoding": "gzip"})
    later = [get(url, {"Accept-Encoding": "gzip"})[0] for _ in range(runs)]
    return {"first": first, "median": statistics.median(later), "max": max(later), "bytes": len(body),
            "gzip_bytes": len(gzip.compress(body)), "encoding": headers.get("content-encoding", "none")}


def range_check(audio_url: str) -> str:
    """What the server answers to a Range request in the middle of the audio."""
    _, status, body, headers = get(audio_url, {"Range": "bytes=15000000-15000099"})
    return f"{status}, {len(body)} bytes, Content-Range {headers.get('content-range')}"


# ---------------------------------------------------------------- the browser


def load_review_page(url: str) -> dict:
    """One load of a review page in a fresh chromium: ready, shown, audio metadata and seek, each in ms."""
    from tests.browser import chromium

    with chromium() as driver:
        driver.set_script_timeout(60)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        driver.get(url)
        wait_for(driver, "return document.documentElement.dataset.ready === '1'")
        row = {"html": driver.execute_script("return performance.getEntriesByType('navigation')[0].responseEnd"),
               "ready": driver.execute_script("return window.podscribeReadyMs"),
               "shown": wait_for(driver, "return window.podscribeShownMs"),
               "metadata": wait_for(driver, "return window.benchMetaMs", timeout_s=30)}
        seek = driver.execute_async_script(SEEK, SEEK_S)
        if seek["ms"] is None or abs(seek["at"] - SEEK_S) > 1:
            raise SystemExit(f"{url}: the seek to {SEEK_S:.0f} s did not happen ({seek})")
        row["seek"] = seek["ms"]
    return row


def load_page(url: str) -> float:
    """Navigation start to the load event of ``url`` in a fresh chromium, in ms."""
    from tests.browser import chromium

    with chromium() as driver:
        driver.get(url)
        return wait_for(driver, "const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd")


def wait_for(driver, script: str, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while not (value := driver.execute_script(script)):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {script}")
        time.sleep(0.02)
    return value


def episode_loads(served: str, static: Path, runs: int) -> tuple[list[dict], list[dict]]:
    """``runs`` loads of each page, alternating which goes first: (served rows, static rows)."""
    served_rows, static_rows = [], []
    for n in range(runs):
        order = [(served, served_rows), (static.as_uri(), static_rows)]
        for url, rows in order if n % 2 == 0 else reversed(order):
            rows.append(load_review_page(url))
    return served_rows, static_rows


# ---------------------------------------------------------------- the report


def med_max(values: list[float]) -> str:
    return f"{statistics.median(values):>8.0f} {max(values):>6.0f}"


def print_episode(html: dict, audio_range: str, served: list[dict], static: list[dict], static_bytes: int) -> None:
    print(f"\nthe page HTML from the server (urllib, a new connection each): first {html['first']:.0f} ms, "
          f"then median {html['median']:.0f} ms, max {html['max']:.0f} ms;")
    print(f"{html['bytes'] / 1e6:.2f} MB sent (Content-Encoding: {html['encoding']}; "
          f"{html['gzip_bytes'] / 1e6:.2f} MB gzipped; the static page {static_bytes / 1e6:.2f} MB)")
    print(f"audio Range request: {audio_range}")
    print(f"\n{len(served)} loads each, a fresh chromium each    served: median    max   static: median    max"
          f"   served/static")
    labels = {"html": "HTML received (responseEnd)", "ready": "ready (script done)", "shown": "shown (first frame)",
              "metadata": "audio metadata (readyState >= 1)", "seek": "seek to 2:30:00 (to seeked)"}
    for key, label in labels.items():
        a, b = [r[key] for r in served], [r[key] for r in static]
        ratio = statistics.median(a) / statistics.median(b)
        print(f"{label:<40}{med_max(a)} {'':>8}{med_max(b)}   {ratio:>12.2f}")
    ready = statistics.median(r["ready"] for r in served)
    print(f"goal: served page ready < {GOAL_READY_MS:.0f} ms: {'met' if ready < GOAL_READY_MS else 'NOT met'} "
          f"(median {ready:.0f} ms, max {max(r['ready'] for r in served):.0f} ms)")


def archive_pages(base: str, episodes: int, runs: int) -> None:
    """The index and a few searches: size, server ms (urllib), chromium's load ms."""
    pages = [("/", f"index ({episodes + 1} episodes)")] + [(f"/search?q={quote(q)}", f"search {q}") for q in QUERIES]
    print(f"\n{'page':<28}{'KB':>7}{'server: first':>15}{'median':>8}{'max':>6}{'chromium load: median':>23}{'max':>6}")
    for path, label in pages:
        server = server_times(base + path, runs)
        loads = [load_page(base + path) for _ in range(runs)]
        print(f"{label:<28}{server['bytes'] / 1e3:>7.0f}{server['first']:>15.0f}{server['median']:>8.0f}"
              f"{server['max']:>6.0f}{statistics.median(loads):>23.0f}{max(loads):>6.0f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=1000, help="synthetic one-hour episodes beside the 3-hour one")
    parser.add_argument("--runs", type=int, default=5, help="loads of each page")
    parser.add_argument("--keep", type=Path, default=None, help="build the archive here (kept) instead of a temp dir")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="podscribe-archive-bench-") as tmp:
        folder = args.keep or Path(tmp)
        _, static = build(folder, args.episodes)
        with ArchiveServer(folder / "out") as server:  # podscribe serve, as the tests start it
            base = server.base
            episode_url = f"{base}/episode/{quote(NAME)}"
            html = server_times(episode_url, args.runs)
            audio_range = range_check(f"{episode_url}/audio")
            served, static_rows = episode_loads(episode_url, static, args.runs)
            print_episode(html, audio_range, served, static_rows, static.stat().st_size)
            archive_pages(base, args.episodes, args.runs)


if __name__ == "__main__":
    main()
