"""`podscribe feed`, `transcribe URL|DIR|glob` and `status` end to end against a real HTTP server on 127.0.0.1,
a real SQLite catalog and real files; the transcriber is a fake (orchestration only: these run in seconds).
The one test with the real models is marked slow."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.decode
import pipeline.library.batch
from pipeline.cli import main
from pipeline.files import file_sha256
from pipeline.library.catalog import CLAIMED, SCHEMA_VERSION, Catalog, EpisodeRecord, Holder
from pipeline.types import Transcript, Turn, Word
from tests.feed_server import FeedServer, make_mp3, rss

pytestmark = pytest.mark.server  # a real HTTP server on 127.0.0.1 (tests/feed_server.py)

SHOW = "Open Source Hour"


class FakeTranscriber:
    """Same ``run`` as pipeline.run.Transcriber: reads the file's hash, returns two words."""

    def __init__(self):
        self.paths: list[Path] = []
        self.options = []
        self.vocabularies: list[tuple[str, ...]] = []
        self.languages: list[str | None] = []
        self.interrupt_on: str | None = None
        self.decode = False  # decode the file for real (ffmpeg), as the real transcriber does first

    def run(self, path, progress=None, cache_dir=None, vocabulary=(), language=None) -> Transcript:
        path = Path(path)
        self.vocabularies.append(tuple(vocabulary))
        self.languages.append(language)
        if self.interrupt_on and self.interrupt_on in path.name:
            raise KeyboardInterrupt
        self.paths.append(path)
        if self.decode:
            pipeline.decode.decode(path)
        if progress:
            progress("transcribe", 1, 1)
        words = (Word("Hello", 0.0, 0.5, 0.9, "SPEAKER 1"), Word("world.", 0.6, 1.0, 0.3, "SPEAKER 1", True))
        return Transcript(episode=path.stem, sha256=file_sha256(path), duration_s=2.0, language="en",
                          turns=(Turn("SPEAKER 1", words),), models={"whisper": "fake"}, source=str(path))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch):
    transcriber = FakeTranscriber()

    def factory(options):
        transcriber.options.append(options)
        return transcriber

    monkeypatch.setattr(pipeline.library.batch, "transcriber_for", factory)
    return transcriber


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    """Four short MP3s (1.5-3 s tones) made once with ffmpeg."""
    folder = tmp_path_factory.mktemp("episodes")
    for n, freq in enumerate((330, 440, 550, 660), 1):
        make_mp3(folder / f"ep{n}.mp3", seconds=1.0 + n / 2, freq=freq)
    return folder


@pytest.fixture
def server(tmp_path, episodes):
    root = tmp_path / "www"
    shutil.copytree(episodes, root)
    srv = FeedServer(root)
    yield srv
    srv.close()


def item(server, n, **extra):
    path = server.root / f"ep{n}.mp3"
    return {"title": f"Episode {n}: Linux & UML", "guid": f"show-ep-{n}", "date": f"2026-11-0{n}",
            "url": f"{server.url}/files/ep{n}.mp3", "length": path.stat().st_size if path.exists() else 0,
            "description": f"<p>Brian Ducharme talks with Jeff Dike about User-mode Linux, part {n}.</p>"} | extra


def write_feed(server, items, title=SHOW, name="feed.xml", language=None):
    (server.root / name).write_text(rss(title, items, language=language), encoding="utf-8")
    return f"{server.url}/files/{name}"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def feed(tmp_path, source, *args):
    return run("feed", source, "-o", tmp_path / "out", "--audio-dir", tmp_path / "audio", "-q", "--timeout", "5",
               *args)


def errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def rows(tmp_path) -> dict[str, str]:
    return {r.key: r.status for r in Catalog(tmp_path / "out" / "catalog.sqlite").rows()}


# ---------------------------------------------------------------- the main path


def test_feed_transcribes_each_episode_and_a_second_run_does_nothing(tmp_path, server, fake):
    url = write_feed(server, [item(server, n) for n in (1, 2, 3)])
    first = feed(tmp_path, url)
    assert first.exit_code == 0, first.output
    assert "3 new, 0 already done" in first.output
    out = tmp_path / "out"
    data = json.loads((out / "2026-11-02-episode-2-linux-uml.json").read_text())
    assert data["metadata"] == {"show": SHOW, "title": "Episode 2: Linux & UML", "date": "2026-11-02",
                                "guid": "show-ep-2", "enclosure_url": f"{server.url}/files/ep2.mp3",
                                "description": "Brian Ducharme talks with Jeff Dike about User-mode Linux, part 2.",
                                "feed": url}
    assert data["source"] == str(tmp_path / "audio" / "open-source-hour" / "2026-11-02-episode-2-linux-uml.mp3")
    audio = tmp_path / "audio" / "open-source-hour"
    assert sorted(p.name for p in audio.iterdir()) == [f"2026-11-0{n}-episode-{n}-linux-uml.mp3" for n in (1, 2, 3)]
    assert (audio / "2026-11-01-episode-1-linux-uml.mp3").read_bytes() == (server.root / "ep1.mp3").read_bytes()
    assert rows(tmp_path) == {f"guid:show-ep-{n}": "done" for n in (1, 2, 3)}

    server.requests.clear()
    second = feed(tmp_path, url)
    assert second.exit_code == 0, second.output
    assert "0 new, 3 already done" in second.output
    assert server.paths() == ["/files/feed.xml"], "a second run fetches the feed and nothing else"
    assert len(fake.paths) == 3


def test_only_the_new_episode_is_fetched_and_transcribed(tmp_path, server, fake):
    feed(tmp_path, write_feed(server, [item(server, n) for n in (1, 2)]))
    server.requests.clear()
    result = feed(tmp_path, write_feed(server, [item(server, n) for n in (1, 2, 3)]))
    assert result.exit_code == 0, result.output
    assert "1 new, 2 already done" in result.output
    assert server.paths("/files/ep") == ["/files/ep3.mp3"]
    assert [p.name for p in fake.paths][-1] == "2026-11-03-episode-3-linux-uml.mp3"


def test_limit_and_since_pick_the_newest(tmp_path, server, fake):
    url = write_feed(server, [item(server, n) for n in (1, 2, 3, 4)])
    assert "2 new" in feed(tmp_path, url, "--limit", "2").output
    assert sorted(rows(tmp_path)) == ["guid:show-ep-3", "guid:show-ep-4"]
    result = feed(tmp_path, url, "--since", "2026-11-02")
    assert "1 new, 2 already done" in result.output


def test_a_failed_episode_costs_no_other_and_is_retried(tmp_path, server, fake):
    missing = item(server, 2, url=f"{server.url}/files/gone.mp3")
    url = write_feed(server, [item(server, 1), missing, item(server, 3)])
    result = feed(tmp_path, url)
    assert result.exit_code == 1
    assert errors(result) == [f"error: {server.url}/files/gone.mp3: HTTP 404 Not Found"]
    assert rows(tmp_path) == {"guid:show-ep-1": "done", "guid:show-ep-2": "failed", "guid:show-ep-3": "done"}

    status = run("status", "-o", tmp_path / "out")
    assert status.exit_code == 0
    failed_line = [line for line in status.output.splitlines() if line.startswith("failed")]
    assert len(failed_line) == 1 and "HTTP 404" in failed_line[0] and "2026-11-02" in failed_line[0]
    assert "2 done, 1 failed, 0 pending" in status.output

    shutil.copy(server.root / "ep2.mp3", server.root / "gone.mp3")
    again = feed(tmp_path, url)
    assert again.exit_code == 0, again.output
    assert "0 new, 1 to retry, 2 already done" in again.output
    assert set(rows(tmp_path).values()) == {"done"}


def test_status_shows_the_show_filters_by_it_and_says_which_process_runs_an_episode(tmp_path, server, fake):
    feed(tmp_path, write_feed(server, [item(server, 1), item(server, 2)]))
    feed(tmp_path, write_feed(server, [item(server, 3, guid="other-3")], title="Another Show", name="other.xml"))
    catalog = Catalog(tmp_path / "out" / "catalog.sqlite")
    record = EpisodeRecord("guid:show-ep-9", "feed", "http://x/9.mp3", "2026-11-09-nine", show=SHOW, date="2026-11-09")
    assert catalog.claim(record, "base", "k", {}, Holder.here()) == CLAIMED  # this process: alive, so running

    listed = run("status", "-o", tmp_path / "out")
    lines = listed.output.splitlines()
    assert lines[0].split() == ["status", "show", "date", "episode", "model", "tries", "updated", "running", "on", "/",
                                "error"]
    assert [line.split()[0] for line in lines[1:5]] == ["running", "done", "done", "done"]
    assert lines[1].rstrip().endswith(f"{socket.gethostname()} pid {os.getpid()}")
    assert sum("Another Show" in line for line in lines) == 1 and sum(SHOW in line for line in lines) == 3
    assert lines[-1] == "3 done, 0 failed, 1 pending (1 running now)"

    only = run("status", "-o", tmp_path / "out", "--show", "Another Show")
    assert only.exit_code == 0 and only.output.splitlines()[-1] == "1 done, 0 failed, 0 pending"
    assert "2026-11-03-episode-3-linux-uml" in only.output and "episode-1" not in only.output


def test_a_redirect_is_followed(tmp_path, server, fake):
    result = feed(tmp_path, write_feed(server, [item(server, 1, url=f"{server.url}/moved/ep1.mp3")]))
    assert result.exit_code == 0, result.output
    assert server.paths("/moved") and server.paths("/files/ep1")


# ---------------------------------------------------------------- bad enclosures and bad feeds


@pytest.mark.parametrize("path, message", [
    ("/loop/a", "more than 10 redirects (a redirect loop)"),
    ("/files/nothing.mp3", "HTTP 404 Not Found"),
    ("/cut/ep1.mp3", "(the server closed the connection mid-file); run again to resume"),
    ("/html-as-mp3/x.mp3", "the server sent an HTML page, not audio"),
    ("/page/x.mp3", "the server sent an HTML page, not audio"),
    ("/to-file/x.mp3", "file:///etc/passwd: refused, only http and https URLs are followed"),
    ("file:///etc/passwd", "file:///etc/passwd: refused, only http and https URLs are followed"),
    ("/huge/x.mp3", "50.0 GB, over the 4.0 GB cap (--max-size)"),
])
def test_a_bad_enclosure_is_one_line_and_a_failed_row(tmp_path, server, fake, path, message):
    url = path if "://" in path else server.url + path
    result = feed(tmp_path, write_feed(server, [item(server, 1, url=url), item(server, 2)]))
    assert result.exit_code == 1
    assert len(errors(result)) == 1 and message in errors(result)[0], result.output
    assert "Traceback" not in result.output
    assert rows(tmp_path) == {"guid:show-ep-1": "failed", "guid:show-ep-2": "done"}
    assert message in Catalog(tmp_path / "out" / "catalog.sqlite").get("guid:show-ep-1").error
    show = tmp_path / "audio" / "open-source-hour"
    assert [p.name for p in show.iterdir() if not p.name.endswith((".part", ".part.json"))] == [
        "2026-11-02-episode-2-linux-uml.mp3"], "nothing but the good episode under its final name"


def test_a_server_that_stops_mid_file_without_a_length_is_caught_by_the_declared_length(tmp_path, server, fake):
    result = feed(tmp_path, write_feed(server, [item(server, 1, url=f"{server.url}/cut-unsized/ep1.mp3",
                                                    length=(server.root / "ep1.mp3").stat().st_size)]))
    assert result.exit_code == 1
    assert "the feed declares; run again to resume" in errors(result)[0]


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path, server, fake):
    server.flaky_left["ep1.mp3"] = 1
    url = write_feed(server, [item(server, 1, url=f"{server.url}/flaky/ep1.mp3")])
    first = feed(tmp_path, url)
    assert first.exit_code == 1 and "run again to resume" in errors(first)[0]
    part = tmp_path / "audio" / "open-source-hour" / "2026-11-01-episode-1-linux-uml.mp3.part"
    size = (server.root / "ep1.mp3").stat().st_size
    assert part.stat().st_size == size // 2

    second = feed(tmp_path, url)
    assert second.exit_code == 0, second.output
    assert server.requests[-1] == ("/flaky/ep1.mp3", f"bytes={size // 2}-")
    assert part.with_suffix("").read_bytes() == (server.root / "ep1.mp3").read_bytes()
    assert not part.exists() and rows(tmp_path) == {"guid:show-ep-1": "done"}


def test_a_download_that_does_not_decode_is_fetched_again_once_the_server_is_fixed(tmp_path, server, fake):
    fake.decode = True
    whole = make_mp3(server.root / "long.mp3", seconds=6.0)  # its header gives 6 s: half of it is truncated
    server.halved.add("long.mp3")
    url = write_feed(server, [item(server, 1, url=f"{server.url}/files/long.mp3", length=whole.stat().st_size // 2),
                              item(server, 2)])
    first = feed(tmp_path, url)
    assert first.exit_code == 1
    local = tmp_path / "audio" / "open-source-hour" / "2026-11-01-episode-1-linux-uml.mp3"
    assert errors(first) == [f"error: {local}: truncated or corrupt: " + errors(first)[0].split("corrupt: ")[1]]
    assert errors(first)[0].endswith("; the download is removed and fetched again on the next run")
    assert not local.exists() and not local.with_name(local.name + ".part").exists()
    assert rows(tmp_path) == {"guid:show-ep-1": "failed", "guid:show-ep-2": "done"}

    server.halved.clear()
    server.requests.clear()
    second = feed(tmp_path, url)
    assert second.exit_code == 0, second.output
    assert server.paths("/files/") == ["/files/feed.xml", "/files/long.mp3"], "the retry fetches it again"
    assert local.read_bytes() == whole.read_bytes()
    assert rows(tmp_path) == {"guid:show-ep-1": "done", "guid:show-ep-2": "done"}


def test_force_fetches_every_download_again(tmp_path, server, fake):
    url = write_feed(server, [item(server, 1)])
    assert feed(tmp_path, url).exit_code == 0
    local = tmp_path / "audio" / "open-source-hour" / "2026-11-01-episode-1-linux-uml.mp3"
    local.write_bytes(b"stale bytes of the same length"[:1] * local.stat().st_size)  # same size, other content
    server.requests.clear()
    forced = feed(tmp_path, url, "--force")
    assert forced.exit_code == 0, forced.output
    assert server.requests[-1] == ("/files/ep1.mp3", ""), "a whole new download, not a resume"
    assert local.read_bytes() == (server.root / "ep1.mp3").read_bytes()
    assert not list(local.parent.glob("*.part*"))


def test_a_kept_download_is_used_again_only_while_the_server_declares_its_size(tmp_path, server):
    from pipeline.library.download import download

    dest = tmp_path / "ep1.mp3"
    url = f"{server.url}/files/ep1.mp3"
    download(url, dest)
    server.requests.clear()
    download(url, dest)
    assert dest.read_bytes() == (server.root / "ep1.mp3").read_bytes()
    assert len(server.requests) == 1, "one request asks the size; the body is not read"
    make_mp3(server.root / "ep1.mp3", seconds=4.0, freq=330)  # the host replaced the file
    download(url, dest)
    assert dest.read_bytes() == (server.root / "ep1.mp3").read_bytes()


def test_an_enclosure_larger_than_the_cap_is_refused_before_downloading(tmp_path, server, fake):
    big = item(server, 1, length=10 * 1024 ** 2)
    result = feed(tmp_path, write_feed(server, [big]), "--max-size", "1M")
    assert result.exit_code == 1 and "the feed says 10.0 MB, over the 1.0 MB cap" in errors(result)[0]
    assert not server.paths("/files/ep1")
    result = feed(tmp_path, write_feed(server, [item(server, 1, length=0)]), "--max-size", "2K")
    assert result.exit_code == 1 and re.search(r"ep1.mp3: \d+\.\d KB, over the 2.0 KB cap", errors(result)[0])
    unsized = item(server, 1, length=0, url=f"{server.url}/unsized/ep1.mp3")
    result = feed(tmp_path, write_feed(server, [unsized]), "--max-size", "2K")
    assert result.exit_code == 1 and "over the 2.0 KB cap (--max-size), download abandoned" in errors(result)[0]
    assert not list((tmp_path / "audio").rglob("*.mp3*")), "an abandoned download leaves nothing behind"


def test_a_stalled_server_times_out(tmp_path, server, fake):
    result = feed(tmp_path, write_feed(server, [item(server, 1, url=f"{server.url}/stall/x.mp3")]),
                  "--timeout", "0.3")
    assert result.exit_code == 1 and "timed out" in errors(result)[0]


@pytest.mark.parametrize("content, message", [
    (b"<rss><channel><title>Broken</title><item><title>x</item></channel>", "not a readable feed (malformed XML"),
    (rss(SHOW, []).encode(), "no episodes"),
    (rss(SHOW, [{"title": "No audio", "guid": "g", "url": ""}]).encode(), "none with an audio enclosure"),
    (b"", "not a readable feed"),
])
def test_a_bad_feed_is_one_line_and_leaves_the_catalog_empty(tmp_path, server, fake, content, message):
    (server.root / "feed.xml").write_bytes(content)
    for source in (f"{server.url}/files/feed.xml", server.root / "feed.xml"):
        result = feed(tmp_path, source)
        assert result.exit_code == 1, result.output
        assert len(errors(result)) == 1 and message in errors(result)[0], result.output
    assert rows(tmp_path) == {}
    assert not (tmp_path / "audio").exists()


@pytest.mark.parametrize("where, message", [
    ("/files/none.xml", "HTTP 404 Not Found"),
    ("/loop/a", "a redirect loop"),
    ("file:///etc/passwd", "refused, only http and https"),
    ("missing-feed.xml", "missing-feed.xml: no such file"),
])
def test_an_unreachable_feed_is_one_line(tmp_path, server, fake, where, message):
    source = server.url + where if where.startswith("/") else where
    result = feed(tmp_path, source)
    assert result.exit_code == 1
    assert len(errors(result)) == 1 and message in errors(result)[0]


def test_names_from_a_feed_never_leave_the_audio_folder(tmp_path, server, fake):
    evil = [
        item(server, 1, title="../../../../tmp/pwned", url=f"{server.url}/files/ep1.mp3#/../../../x.mp3"),
        item(server, 2, title="/etc/passwd\x00.mp3"),
        item(server, 3, title="..", url=f"{server.url}/files/ep3.mp3?name=../../x.mp3"),
    ]
    url = write_feed(server, evil, title="../../Evil Show")
    result = feed(tmp_path, url)
    audio = tmp_path / "audio"
    inside = sorted(str(p.relative_to(audio)) for p in audio.rglob("*") if p.is_file())
    assert inside == ["evil-show/2026-11-01-tmp-pwned.mp3", "evil-show/2026-11-02-etc-passwd-mp3.mp3",
                      "evil-show/2026-11-03-untitled.mp3"], result.output
    outside = sorted(p.name for p in tmp_path.iterdir())
    assert outside == ["audio", "out", "www"]


# ---------------------------------------------------------------- transcribe: URL, folder, glob


def test_transcribe_a_url_downloads_it_and_a_second_run_skips_it(tmp_path, server, fake):
    url = f"{server.url}/files/ep1.mp3"
    args = ("transcribe", url, "-o", tmp_path / "out", "--audio-dir", tmp_path / "audio", "-q")
    result = run(*args)
    assert result.exit_code == 0, result.output
    saved = tmp_path / "audio" / "127-0-0-1" / "ep1.mp3"
    assert saved.read_bytes() == (server.root / "ep1.mp3").read_bytes()
    data = json.loads((tmp_path / "out" / "ep1.json").read_text())
    assert data["source"] == str(saved) and data["metadata"]["enclosure_url"] == url
    again = run(*args)
    assert again.exit_code == 0 and "0 new, 1 already done" in again.output
    assert "ep1: already done with these options" in again.output
    assert len(fake.paths) == 1


def test_transcribe_a_folder_skips_unchanged_files_and_redoes_them_with_other_options(tmp_path, server, fake):
    folder = tmp_path / "episodes"
    (folder / "season 2").mkdir(parents=True)
    for n in (1, 2):
        shutil.copy(server.root / f"ep{n}.mp3", folder / f"ep{n}.mp3")
    shutil.copy(server.root / "ep3.mp3", folder / "season 2" / "ep3.mp3")
    (folder / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    first = run("transcribe", folder, "-o", out, "-q", "-f", "json,txt")
    assert first.exit_code == 0, first.output
    assert "3 done, 0 skipped, 0 failed" in first.output
    second = run("transcribe", folder, "-o", out, "-q", "-f", "json,txt")
    assert "0 new, 3 already done" in second.output and len(fake.paths) == 3
    third = run("transcribe", str(folder / "*.mp3"), "-o", out, "-q", "-f", "json")
    assert "0 new, 2 to redo (other options or outputs missing), 0 already done" in third.output
    assert len(fake.paths) == 5
    (out / "ep3.json").unlink()
    fourth = run("transcribe", folder, "-o", out, "-q", "-f", "json,txt")
    assert "0 new, 3 to redo (other options or outputs missing), 0 already done" in fourth.output


def test_transcribe_reports_a_summary_table_with_reasons(tmp_path, server, fake):
    bad = tmp_path / "bad.mp3"
    bad.write_text("")
    result = run("transcribe", server.root / "ep1.mp3", bad, tmp_path / "nothing-*.mp3", "-o", tmp_path / "out", "-q")
    assert result.exit_code == 1
    table = result.output[result.output.index("status  episode"):]
    assert any(line.split()[:2] == ["done", "ep1"] for line in table.splitlines()) and "bad.mp3: file is empty" in table and "nothing-*.mp3: no files match" in table
    assert "1 done, 0 skipped, 2 failed" in table and "2 of 3 file(s) failed" in result.output


def test_ctrl_c_leaves_the_catalog_consistent_and_a_rerun_finishes(tmp_path, server, fake):
    url = write_feed(server, [item(server, n) for n in (1, 2, 3)])
    fake.interrupt_on = "episode-2"
    stopped = feed(tmp_path, url)
    assert stopped.exit_code == 130
    assert "interrupted during" in stopped.output and "run the same command again to resume" in stopped.output
    # episodes are claimed as they start: the one it stopped in is pending, its claim let go; the next never began
    assert sorted(rows(tmp_path).values()) == ["done", "pending"]
    interrupted = Catalog(tmp_path / "out" / "catalog.sqlite").rows(status="pending")[0]
    assert interrupted.claim_token is None and not interrupted.held()
    fake.interrupt_on = None
    again = feed(tmp_path, url)
    assert again.exit_code == 0 and "1 new, 1 to retry, 1 already done" in again.output
    assert sorted(rows(tmp_path).values()) == ["done", "done", "done"]


def test_the_catalog_is_sqlite_with_a_schema_version_and_wal(tmp_path, server, fake):
    feed(tmp_path, write_feed(server, [item(server, 1)]))
    with sqlite3.connect(tmp_path / "out" / "catalog.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = conn.execute("SELECT kind, source, title, date, status, model, options, attempts FROM episodes").fetchone()
    assert row[:6] == ("feed", f"{server.url}/files/ep1.mp3", "Episode 1: Linux & UML", "2026-11-01", "done", "base")
    assert json.loads(row[6])["transcribe"]["model"] == "base" and row[7] == 1


# ---------------------------------------------------------------- publishing


def test_publish_writes_vtt_and_podcast_json_and_prints_the_tags(tmp_path, server, fake):
    url = write_feed(server, [item(server, 1)])
    pub = tmp_path / "www-transcripts"
    result = feed(tmp_path, url, "--publish", pub, "--publish-url", "https://cdn.example/t/")
    assert result.exit_code == 0, result.output
    name = "2026-11-01-episode-1-linux-uml"
    assert sorted(p.name for p in pub.iterdir()) == [f"{name}.podcast.json", f"{name}.vtt"]
    assert (f'<podcast:transcript url="https://cdn.example/t/{name}.vtt" type="text/vtt" language="en" />'
            in result.output)
    assert f'url="https://cdn.example/t/{name}.podcast.json" type="application/json"' in result.output
    data = json.loads((pub / f"{name}.podcast.json").read_text())
    assert data == {"version": "1.0.0", "segments": [
        {"speaker": "SPEAKER 1", "startTime": 0.0, "endTime": 1.0, "body": "Hello world. [?]"}]}
    assert "<v SPEAKER 1>Hello world. [?]" in (pub / f"{name}.vtt").read_text()

    shutil.rmtree(pub)  # a later run publishes what is done without transcribing it again
    again = feed(tmp_path, url, "--publish", pub)
    assert "0 new, 1 already done" in again.output and len(fake.paths) == 1
    assert (pub / f"{name}.vtt").is_file() and f'url="{name}.vtt"' in again.output


def test_each_episode_gets_the_names_from_its_show_notes(tmp_path, server, fake):
    one = item(server, 1, description="Brian Ducharme talks with Jeff Dike about UML.")
    two = item(server, 2, description="Christopher Aker of Linode.")
    feed(tmp_path, write_feed(server, [one, two], title="Virtual Strategy Magazine"))
    by_episode = dict(zip((p.name for p in fake.paths), fake.vocabularies))
    assert set(by_episode["2026-11-01-episode-1-linux-uml.mp3"]) >= {
        "Virtual Strategy Magazine", "Brian Ducharme", "Jeff Dike", "UML"}
    assert set(by_episode["2026-11-02-episode-2-linux-uml.mp3"]) >= {
        "Virtual Strategy Magazine", "Christopher Aker", "Linode"}
    assert "Jeff Dike" not in by_episode["2026-11-02-episode-2-linux-uml.mp3"]


# ---------------------------------------------------------------- the real thing


@pytest.mark.slow
def test_the_feeds_language_is_each_episodes_language_unless_one_is_given(tmp_path, server, fake, caplog):
    url = write_feed(server, [item(server, 1), item(server, 2, language="es-CO"), item(server, 3, language="tlh")],
                     language="fr-FR")
    result = feed(tmp_path, url)
    assert result.exit_code == 0, result.output
    assert sorted(zip((p.name[:10] for p in fake.paths), fake.languages)) == [
        ("2026-11-01", "fr"), ("2026-11-02", "es"), ("2026-11-03", None)]  # tlh: Whisper does not know it
    assert "the feed declares tlh, which Whisper does not know: detected instead" in caplog.text

    fake.paths.clear(), fake.languages.clear()
    result = feed(tmp_path, url, "--force", "--language", "de")
    assert result.exit_code == 0, result.output
    assert fake.options[-1].transcribe.language == "de"  # the run's language wins (Transcriber.run)


def test_an_english_only_model_on_a_feed_in_another_language_is_refused_before_any_work(tmp_path, server, fake):
    url = write_feed(server, [item(server, 1), item(server, 2)], language="fr")
    server.requests.clear()
    result = feed(tmp_path, url, "-m", "tiny.en")
    assert result.exit_code == 2
    assert errors(result) == ["error: --model tiny.en is English-only and cannot transcribe 'fr': use a multilingual "
                              "model such as base (2 episode(s) of the feed declare fr; --language en forces English)"]
    assert [path for path, _ in server.requests] == ["/files/feed.xml"] and not fake.paths
    assert rows(tmp_path) == {}
    assert feed(tmp_path, url, "-m", "tiny.en", "--language", "en").exit_code == 0  # forced, as asked


def test_feed_end_to_end_with_the_real_models(tmp_path):
    """`podscribe feed` on a local feed of one 8 s clip of the bundled interview, tiny.en and diarization."""
    import subprocess

    root = tmp_path / "www"
    root.mkdir()
    clip = root / "vsm-1.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", "audio/samples/interview.flac", "-t", "8", "-ac", "1",
                    "-b:a", "64k", str(clip)], check=True, cwd=Path(__file__).resolve().parent.parent)
    server = FeedServer(root)
    try:
        episode = {"title": "Jeff Dike on User-mode Linux", "guid": "vsm-1", "date": "2026-11-20",
                   "url": f"{server.url}/files/vsm-1.mp3", "length": clip.stat().st_size,
                   "description": "Brian Ducharme talks with Jeff Dike about UML."}
        url = write_feed(server, [episode], title="Virtual Strategy Magazine")
        args = ("feed", url, "-o", tmp_path / "out", "--audio-dir", tmp_path / "audio", "-m", "tiny.en", "-q",
                "--publish", tmp_path / "pub")
        first = run(*args)
        assert first.exit_code == 0, first.output
        assert "1 new, 0 already done" in first.output
        data = json.loads((tmp_path / "out" / "2026-11-20-jeff-dike-on-user-mode-linux.json").read_text())
        text = " ".join(w["text"] for t in data["turns"] for w in t["words"]).lower()
        assert "listening" in text and "podcast" in text, text
        assert data["metadata"]["guid"] == "vsm-1" and data["metadata"]["show"] == "Virtual Strategy Magazine"
        assert data["models"]["whisper"] == "tiny.en"
        segments = json.loads((tmp_path / "pub" / "2026-11-20-jeff-dike-on-user-mode-linux.podcast.json")
                              .read_text())["segments"]
        assert segments and "listening" in " ".join(s["body"] for s in segments).lower()
        second = run(*args)
        assert second.exit_code == 0 and "0 new, 1 already done" in second.output
    finally:
        server.close()
