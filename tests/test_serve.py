"""``podscribe serve`` over HTTP: the real server process on a free port of 127.0.0.1 and a real SQLite catalog.
Pages, search, statistics, the audio with Range, saving revisions and conflicts, and what the server refuses:
paths out of the archive, other hosts, requests from other origins, and, on any host but loopback, requests
without the token; every refusal one line, never a traceback. Also a writer filling the catalog while the app
reads it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.library.catalog import Catalog
from pipeline.writers import json_format
from tests.archive import add_episode, spoken, tone, transcript
from tests.archive_server import REPO, ArchiveServer

pytestmark = pytest.mark.server


def first():
    return transcript("first-episode", (
        spoken("BRIAN", 0.0, "welcome to the show about lie node hosting", marked=(5, 6)),
        spoken("JEFF", 5.0, "thanks I run user mode linux there"),
        spoken("BRIAN", 9.0, "tell us more about the café")))


def second():
    return transcript("second-episode", (spoken("ANN", 0.0, "the weather today is sunny and warm"),))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    out = root / "outputs"
    audio = tone(root / "audio" / "first-episode.ogg", 12.0)
    add_episode(out, first(), show="Show A", audio=audio, date="2026-11-02")
    add_episode(out, second(), show="Show B", date="2026-11-01")
    outside = tone(root / "elsewhere" / "secret.ogg", 1.0)  # an audio path that is a symlink out of its folder
    (root / "audio" / "linked.ogg").symlink_to(outside)
    add_episode(out, transcript("linked", (spoken("ANN", 0.0, "hello there"),)), show="Show B",
                audio=root / "audio" / "linked.ogg")
    return out


@pytest.fixture(scope="module")
def server(archive):
    with ArchiveServer(archive) as s:
        yield s


def get(server, path: str, **kw) -> httpx.Response:
    return httpx.get(server.base + path, timeout=10, **kw)


def post(server, path: str, body, origin: str | None = "same", **kw) -> httpx.Response:
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    if origin:
        headers["origin"] = server.origin if origin == "same" else origin
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(server.base + path, content=data, headers=headers, timeout=10, **kw)


def one_line(response: httpx.Response) -> str:
    text = response.text
    assert text.count("\n") <= 1 and "Traceback" not in text, text
    return text.strip()


# ---------------------------------------------------------------- pages


def test_the_archive_lists_shows_and_episodes(server):
    page = get(server, "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    for text in ("Show A", "Show B", "First Episode", "Second Episode", "/episode/first-episode", "2026-11-02"):
        assert text in html, text
    assert "not yet" in html  # reviewed or not
    assert "9.5 %" in html  # 2 of 21 words of the first episode marked [?]
    show = get(server, "/show?name=Show%20A").text
    assert "BRIAN" in show and "JEFF" in show and "Second Episode" not in show
    assert "00:06" in show  # BRIAN's talk time: 3.9 s + 2.9 s


def test_search_finds_words_with_episode_speaker_and_time(server):
    hits = get(server, "/search?q=linux", headers={"accept": "application/json"}).json()["hits"]
    assert [(h["episode"], h["speaker"], h["time_s"]) for h in hits] == [("first-episode", "JEFF", 7.5)]
    assert hits[0]["url"] == "/episode/first-episode#t=7.50"
    assert get(server, "/search?q=cafe", headers={"accept": "application/json"}).json()["hits"][0]["speaker"] == "BRIAN"
    by_ann = get(server, "/search?q=the&speaker=ANN", headers={"accept": "application/json"}).json()["hits"]
    assert {h["episode"] for h in by_ann} == {"second-episode"}
    marked = get(server, "/search?q=&uncertain=1", headers={"accept": "application/json"}).json()["hits"]
    assert [h["time_s"] for h in marked] == [2.5]
    listed = get(server, "/search?q=&uncertain=1").text  # what is left to review: the marked words highlighted
    assert "the newest episode first" in listed and "<mark>lie</mark> <mark>node</mark> hosting" in listed
    assert "best first" in get(server, "/search?q=lie&uncertain=1").text
    page = get(server, "/search?q=%22user+mode%22")
    assert page.status_code == 200 and 'href="/episode/first-episode#t=' in page.text
    assert "<mark>user</mark> <mark>mode</mark> linux" in page.text


def test_the_review_page_is_served_with_where_saves_go(server):
    page = get(server, "/episode/first-episode")
    assert page.status_code == 200
    assert '"save":"/episode/first-episode/revisions"' in page.text and '"revision":0' in page.text
    assert '"src":"/episode/first-episode/audio"' in page.text
    assert "http://" not in page.text.replace(server.base, "")  # nothing from the network


def test_the_audio_is_served_with_range_requests(server, archive):
    audio = (archive.parent / "audio" / "first-episode.ogg").read_bytes()
    whole = get(server, "/episode/first-episode/audio")
    assert whole.status_code == 200 and whole.content == audio and whole.headers["accept-ranges"] == "bytes"
    part = get(server, "/episode/first-episode/audio", headers={"range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == audio[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(audio)}"
    tail = get(server, "/episode/first-episode/audio", headers={"range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == audio[-100:]
    assert get(server, "/episode/first-episode/audio", headers={"range": f"bytes={len(audio) + 10}-"}).status_code == 416


def test_outputs_and_the_reference_export(server):
    forum = get(server, "/episode/first-episode/file/forum")
    assert forum.status_code == 200 and "[b]JEFF:[/b]" in forum.text and "lie node [i][?][/i]" in forum.text
    bare = get(server, "/episode/first-episode/export?style=bare").text
    assert "[b]BRIAN:[/b] welcome to the show about [i][?][/i] hosting" in bare
    assert "second-episode was not written as rttm" in one_line(get(server, "/episode/second-episode/file/rttm"))
    assert get(server, "/episode/first-episode/export?style=odd").status_code == 400


# ---------------------------------------------------------------- only what the catalog names


@pytest.mark.parametrize("path", [
    "/episode/..%2F..%2Fetc%2Fpasswd/audio",
    "/episode/%2e%2e/audio",
    "/episode/%2E%2E%2F%2E%2E%2Fcatalog.sqlite",
    "/episode/first-episode/file/..%2F..%2Fcatalog.sqlite",
    "/episode/first-episode/file/%2e%2e",
    "/episode//etc/passwd/audio",
    "/episode/%2Fetc%2Fpasswd/audio",
    "/static/..%2F..%2Fcli%2Fserve.py",
    "/static/%2e%2e/app.py",
    "/../catalog.sqlite",
    "/catalog.sqlite",
    "/episode/nothing-like-it",
])
def test_paths_out_of_the_archive_are_not_served(server, path):
    response = httpx.get(server.base + path, timeout=10)
    assert response.status_code == 404, (path, response.status_code, response.text[:200])
    one_line(response)
    assert "root:" not in response.text and "SQLite" not in response.text


def test_a_symlink_out_of_its_folder_is_not_served(server, archive):
    response = get(server, "/episode/linked/audio")
    assert response.status_code == 403 and "leads out of its folder" in one_line(response)
    forum = archive / "second-episode.forum.txt"
    forum.unlink()
    forum.symlink_to(archive.parent / "elsewhere" / "secret.ogg")
    response = get(server, "/episode/second-episode/file/forum")
    assert response.status_code == 403 and "leads out of its folder" in one_line(response)


def test_other_hosts_and_origins_are_refused(server):
    assert get(server, "/", headers={"host": "evil.example"}).status_code == 421
    assert get(server, "/", headers={"host": f"localhost:{server.base.rsplit(':', 1)[1]}"}).status_code == 200
    body = {"show": "Show A", "terms": "Linode"}
    assert post(server, "/show/vocabulary", body, origin=None).status_code == 403
    refused = post(server, "/show/vocabulary", body, origin="http://evil.example")
    assert refused.status_code == 403 and "does not come from the archive" in one_line(refused)
    assert post(server, "/show/vocabulary", body, origin="null").status_code == 403


@pytest.mark.parametrize("body, status, says", [
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 400, "not a JSON object"),
    ({"base": "0", "transcript": {}}, 400, "give base"),
    ({"base": 0, "transcript": {"turns": [{"speaker": "A"}]}}, 400, "not a transcript"),
])
def test_bad_saves_get_a_4xx_with_one_line(server, body, status, says):
    response = post(server, "/episode/first-episode/revisions", body)
    assert response.status_code == status and says in one_line(response)


def test_a_save_from_an_episode_that_is_not_there_is_a_404(server):
    assert post(server, "/episode/nope/revisions", {"base": 0, "transcript": {}}).status_code == 404


# ---------------------------------------------------------------- saving


def test_save_rewrites_the_outputs_and_a_second_save_from_the_same_revision_is_a_conflict(tmp_path):
    out = tmp_path / "outputs"
    add_episode(out, first(), show="Show A")
    with ArchiveServer(out) as server:
        data = json_format.to_dict(first())
        data["turns"][0]["words"][5] |= {"text": "Linode", "uncertain": False, "probability": 1.0}
        del data["turns"][0]["words"][6]
        data["review"] = {"corrections": [{"from": "lie node", "to": "Linode"}]}
        saved = post(server, "/episode/first-episode/revisions", {"base": 0, "author": "Ann", "transcript": data})
        assert saved.status_code == 200 and saved.json() == {"revision": 1, "learned": ["Linode"]}
        assert "Linode hosting" in (out / "first-episode.forum.txt").read_text()
        hits = get(server, "/search?q=linode", headers={"accept": "application/json"}).json()["hits"]
        assert [h["episode"] for h in hits] == ["first-episode"]
        again = post(server, "/episode/first-episode/revisions", {"base": 0, "author": "Bob", "transcript": data})
        assert again.status_code == 409 and "saved by Ann" in again.json()["error"] and again.json()["revision"] == 1
        history = get(server, "/episode/first-episode/history").text
        assert "Ann" in history and "model base" in history and "<del>lie [?] node [?]</del>" in history
        assert "<ins>Linode</ins>" in history
        page = get(server, "/episode/first-episode")  # made again for the new revision, sent compressed
        assert '"revision":1' in page.text and "Linode" in page.text and page.headers["content-encoding"] == "gzip"
        assert "✓" in get(server, "/").text  # reviewed
        assert "Linode" in get(server, "/show?name=Show%20A").text  # the show's vocabulary learned it
        edited = post(server, "/show/vocabulary", {"show": "Show A", "terms": "Linode, UML"})
        assert edited.json() == {"terms": ["Linode", "UML"]}
    assert Catalog.in_folder(out).get(f"sha256:{first().sha256}").revision == 1


def test_long_lists_come_in_pages(tmp_path):
    out = tmp_path / "outputs"
    for i in range(101):
        add_episode(out, transcript(f"ep-{i:03d}", (spoken("ANN", 0.0, f"number {i}"),)), show="Big",
                    date=f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}", formats=("json",))
    with ArchiveServer(out) as server:
        first_page = get(server, "/").text
        assert "Ep 100" in first_page and "Ep 000" not in first_page and "older →" in first_page
        assert "101 episodes · 101 done · 0 reviewed" in first_page
        second = get(server, "/?page=1").text
        assert "Ep 000" in second and "Ep 001" not in second and "← newer" in second and "older →" not in second
        assert "Ep 000" in get(server, "/show?name=Big&page=1").text
        assert get(server, "/?page=-1").status_code == 400 and get(server, "/?page=x").status_code == 400


# ---------------------------------------------------------------- the token


def test_any_host_but_loopback_needs_the_token(tmp_path):
    out = tmp_path / "outputs"
    add_episode(out, second())
    with ArchiveServer(out, "--host", "0.0.0.0") as server:  # listens everywhere; the test talks to 127.0.0.1 only
        assert server.token and len(server.token) >= 24
        server.base = server.base.replace("0.0.0.0", "127.0.0.1")
        server.origin = server.base
        refused = get(server, "/")
        assert refused.status_code == 401 and "a token is needed" in one_line(refused)
        assert get(server, "/episode/second-episode/file/json").status_code == 401
        assert get(server, "/?token=wrong").status_code == 401
        opened = get(server, f"/search?q=weather&token={server.token}")
        assert opened.status_code == 303 and opened.headers["location"] == "/search?q=weather"
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        with httpx.Client(base_url=server.base, cookies=opened.cookies, timeout=10) as client:
            assert client.get("/search?q=weather").status_code == 200
            assert client.post("/show/vocabulary", json={"show": "", "terms": "X"}).status_code == 403  # no Origin
            ok = client.post("/show/vocabulary", json={"show": "", "terms": "Linode"}, headers={"origin": server.base})
            assert ok.status_code == 200
        assert get(server, "/", headers={"x-podscribe-token": server.token}).status_code == 200
        # any name of the machine will do with the token (none without it)
        assert get(server, "/", headers={"x-podscribe-token": server.token, "host": "studio.lan"}).status_code == 200
        assert get(server, "/", headers={"host": "studio.lan"}).status_code == 401
        assert post(server, "/show/vocabulary", {"show": "", "terms": "Y"}).status_code == 401  # the Origin alone


def test_serve_refusals_are_one_line(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["serve", "-o", str(tmp_path)])
    assert missing.exit_code == 1 and "no catalog.sqlite here" in missing.output
    add_episode(tmp_path, second())
    short = runner.invoke(main, ["serve", "-o", str(tmp_path), "--token", "abc"])
    assert short.exit_code == 2 and "at least 16" in short.output
    with ArchiveServer(tmp_path) as server:
        port = server.base.rsplit(":", 1)[1]
        busy = subprocess.run([sys.executable, "-m", "pipeline", "serve", "-o", str(tmp_path), "--port", port],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert busy.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
        assert "Traceback" not in busy.stderr


# ---------------------------------------------------------------- a feed run writing while the app reads


WRITER = """
import sys
from pathlib import Path
from tests.archive import add_episode, spoken, transcript
out = Path(sys.argv[1])
for i in range(int(sys.argv[2])):
    add_episode(out, transcript(f"new-{i:03d}", (spoken("ANN", 0.0, f"episode number {i} says zebra"),)), show="Live")
"""


def test_the_app_reads_while_a_run_writes_the_catalog(tmp_path):
    out = tmp_path / "outputs"
    add_episode(out, second())
    with ArchiveServer(out) as server:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(out), "40"], cwd=REPO,
                                  env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True)
        statuses, seen = [], set()
        while writer.poll() is None:
            statuses.append(get(server, "/").status_code)
            hits = get(server, "/search?q=zebra&show=Live", headers={"accept": "application/json"}).json()["hits"]
            seen.add(len(hits))
            time.sleep(0.01)
        assert writer.returncode == 0, writer.stderr.read()
        assert statuses and set(statuses) == {200}
        final = get(server, "/search?q=zebra", headers={"accept": "application/json"}).json()["hits"]
        assert len(final) == 40 and max(seen) <= 40 and len(seen) > 1  # read part-way through, never an error
