"""The pure parts of pipeline/library on hand-written values: names, vocabulary, feed parsing, the catalog's
status rules, options; and the podcast-json writer."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.asr.options import TranscribeOptions
from pipeline.cli.options import parse_size
from pipeline.errors import PodscribeError
from pipeline.library.batch import BatchOptions, Plan
from pipeline.library.catalog import CLAIMED, DONE, HELD, LEASE_S, Catalog, EpisodeRecord, Holder, Outcome
from pipeline.library.download import DownloadOptions, check_url, is_url
from pipeline.library.feed import parse_feed
from pipeline.library.jobs import plan_inputs
from pipeline.library.names import episode_name, safe_filename, safe_join, slugify
from pipeline.library.show_notes import names_from
from pipeline.run import RunOptions
from pipeline.writers import parse_formats, podcast_json
from tests.feed_server import rss
from tests.helpers import small_transcript


@pytest.mark.parametrize("text, slug", [
    ("Ep. 12: Linux & UML!", "ep-12-linux-uml"),
    ("Café Crème — Épisode 3", "cafe-creme-episode-3"),
    ("../../etc/passwd", "etc-passwd"),
    ("", "untitled"),
    ("日本語", "untitled"),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_episode_name_is_date_then_slug():
    assert episode_name("Linux & UML", "2026-11-23") == "2026-11-23-linux-uml"
    assert episode_name("Linux & UML", None) == "linux-uml"


@pytest.mark.parametrize("name, safe", [
    ("../../x.mp3", "x.mp3"),
    ("/etc/passwd", "passwd"),
    ("..\\..\\windows.mp3", "windows.mp3"),
    ("evil\x00.mp3", "evil.mp3"),
    ("..", "download"),
    (".hidden.mp3", "hidden.mp3"),
    ("my episode (1).mp3", "my_episode_1_.mp3"),
    ("a" * 300 + ".mp3", "a" * 116 + ".mp3"),
])
def test_safe_filename_keeps_only_a_plain_leaf(name, safe):
    assert safe_filename(name) == safe


def test_safe_join_refuses_to_leave_its_folder(tmp_path):
    assert safe_join(tmp_path, "show", "ep.mp3") == tmp_path.resolve() / "show" / "ep.mp3"
    for parts in (("..", "x.mp3"), ("/etc/passwd",), ("show", "../../x"), ("a\x00b",), (".",)):
        with pytest.raises(PodscribeError, match="refused"):
            safe_join(tmp_path, *parts)
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(PodscribeError, match="outside"):
        safe_join(tmp_path, "link", "x.mp3")


@pytest.mark.parametrize("url, ok", [
    ("http://host/a.mp3", True), ("HTTPS://host/a.mp3", True), ("file:///etc/passwd", False),
    ("ftp://host/a.mp3", False), ("http:///nohost", False), ("javascript:alert(1)", False), ("data:,x", False),
])
def test_only_http_and_https_urls(url, ok):
    if ok:
        assert check_url(url) == url
    else:
        with pytest.raises(PodscribeError, match="only http and https"):
            check_url(url)


def test_is_url():
    assert is_url("https://h/x.mp3") and is_url("file:///x") and not is_url("audio/x.mp3") and not is_url("C:x.mp3")


def test_a_url_input_is_saved_under_its_host_with_a_safe_name(tmp_path):
    jobs, failures = plan_inputs(["https://cdn.example/a/%2e%2e%2F%2e%2e%2Fevil%00.mp3?x=1"], tmp_path)
    assert not failures
    assert jobs[0].path == str(tmp_path.resolve() / "cdn-example" / "evil.mp3")
    assert jobs[0].key == "url:https://cdn.example/a/%2e%2e%2F%2e%2e%2Fevil%00.mp3?x=1"


def test_sizes_and_download_options():
    assert parse_size("4G") == 4 * 1024 ** 3 and parse_size("500M") == 500 * 1024 ** 2
    assert parse_size("1048576") == 1048576 and parse_size("1.5kb") == 1536
    for bad in ("", "-1", "0", "lots", "5T"):
        with pytest.raises(PodscribeError):
            parse_size(bad)
    for kwargs in ({"max_size": 0}, {"timeout_s": 0}, {"max_redirects": -1}):
        with pytest.raises(PodscribeError):
            DownloadOptions(**kwargs)


# ---------------------------------------------------------------- feeds


def test_parse_feed_reads_episodes_metadata_and_plain_text_notes():
    xml = rss("Show &amp; Tell", [
        {"title": "Two", "guid": "g2", "date": "2026-11-09", "url": "https://h/2.mp3", "length": 1234,
         "duration": "1:02:03", "description": "<p>With <b>Jeff Dike</b> &amp; friends.</p><p>Links</p>"},
        {"title": "No guid", "date": "2026-11-02", "url": "https://h/1.m4a", "type": "audio/x-m4a"},
        {"title": "Text only", "guid": "g0", "url": "https://h/notes.pdf", "type": "application/pdf"},
    ]).replace("<title>Show &amp;amp; Tell</title>", "<title>Show &amp; Tell</title>")
    feed = parse_feed(xml.encode(), "https://h/feed.xml")
    assert feed.title == "Show & Tell" and len(feed.episodes) == 3
    two, one, _ = feed.episodes
    assert (two.guid, two.date, two.enclosure_length, two.duration_s) == ("g2", "2026-11-09", 1234, 3723.0)
    assert two.description == "With Jeff Dike & friends.\nLinks"
    assert one.guid == "https://h/1.m4a" and one.enclosure_length is None and one.name == "2026-11-02-no-guid"


def test_parse_feed_reads_atom():
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Show</title>
      <entry><title>First</title><id>urn:1</id><updated>2026-10-01T00:00:00Z</updated>
      <link rel="enclosure" href="https://h/1.mp3" type="audio/mpeg" length="10"/></entry></feed>"""
    feed = parse_feed(atom, "atom.xml")
    assert [(e.title, e.guid, e.date, e.enclosure_url) for e in feed.episodes] == [
        ("First", "urn:1", "2026-10-01", "https://h/1.mp3")]


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<rss><channel><item>", "not a readable feed (malformed XML"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable feed"),
    (rss("S", []).encode(), "no episodes"),
])
def test_a_bad_feed_is_one_clear_error(data, message):
    with pytest.raises(PodscribeError, match=message.replace("(", r"\(")):
        parse_feed(data, "feed.xml")


# ---------------------------------------------------------------- vocabulary


def test_names_from_show_notes():
    notes = ("In this episode Brian Ducharme talks with Jeff Dike about User-mode Linux and UML.\n"
             "Today we cover PostgreSQL on the iPhone and the Linux Foundation. Thanks to our sponsor Acme Corp!\n"
             "Links: https://example.com/uml\nJeff also mentions Red Hat. Software is great.")
    names = names_from("Virtual Strategy Magazine Podcast", notes)
    assert set(names) == {"Virtual Strategy Magazine", "Brian Ducharme", "Jeff Dike", "User-mode Linux", "UML",
                          "PostgreSQL", "iPhone", "Linux Foundation", "Acme Corp", "Red Hat"}


def test_names_drop_sentence_starts_and_words_also_written_in_lower_case():
    assert names_from("", "Great show. Python is fun. We like python.") == ()
    assert names_from("", "We met Guido in Amsterdam.") == ("Guido", "Amsterdam")
    assert names_from("", "") == ()


def test_names_are_ranked_by_mentions_and_capped():
    notes = "We use Kubernetes. Later, Kubernetes again and also Terraform."
    assert names_from("", notes)[:2] == ("Kubernetes", "Terraform")
    many = " ".join(f"with Name{chr(65 + i)}x" for i in range(26))
    assert len(names_from("", many, limit=5)) == 5


# ---------------------------------------------------------------- the catalog


def record(key="guid:1"):
    return EpisodeRecord(key=key, kind="feed", source="https://h/1.mp3", name="ep", title="Ep")


ME = Holder("this-host", 1, "my-run")


def test_catalog_status_changes_follow_the_rules(tmp_path):
    catalog = Catalog.in_folder(tmp_path)
    assert not catalog.finish("guid:1", Outcome("done"), ME), "nothing to finish: no row, no claim"
    assert catalog.claim(record(), "base", "k1", {"m": 1}, ME) == CLAIMED
    assert catalog.get("guid:1").status == "pending"
    assert catalog.finish("guid:1", Outcome("failed", error="HTTP 404"), ME)
    assert not catalog.finish("guid:1", Outcome("done"), ME), "the claim ended with the run"
    assert catalog.claim(record(), "base", "k1", {}, ME) == CLAIMED
    assert catalog.finish("guid:1", Outcome("done", outputs=()), ME)
    row = catalog.get("guid:1")
    assert (row.status, row.error, row.attempts, row.claim_token) == ("done", None, 2, None)
    assert catalog.is_done("guid:1", "k1") and not catalog.is_done("guid:1", "k2")
    assert catalog.claim(record(), "base", "k1", {}, ME) == DONE, "done with these options: nothing to claim"
    assert catalog.claim(record(), "base", "k1", {}, ME, force=True) == CLAIMED


def test_catalog_done_means_the_outputs_are_still_there(tmp_path):
    catalog = Catalog.in_folder(tmp_path)
    out = tmp_path / "ep.json"
    out.write_text("{}")
    catalog.claim(record(), "base", "k", {}, ME)
    catalog.finish("guid:1", Outcome("done", outputs=(str(out),)), ME)
    assert catalog.is_done("guid:1", "k")
    out.unlink()
    assert not catalog.is_done("guid:1", "k")


def test_a_live_claim_is_respected_and_a_dead_one_taken_over(tmp_path, monkeypatch):
    catalog = Catalog.in_folder(tmp_path)
    host = socket.gethostname()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = Holder(host, child.pid, "other-run")
        mine = Holder(host, os.getpid(), "my-run")
        assert catalog.claim(record(), "base", "k", {}, other) == CLAIMED
        assert catalog.get("guid:1").held()
        assert catalog.claim(record(), "base", "k", {}, mine) == HELD, "its process is alive"
        assert not catalog.finish("guid:1", Outcome("done"), mine), "only the holder records the end"
        child.kill()
        child.wait()
        assert not catalog.get("guid:1").held(), "its process is gone"
        assert catalog.claim(record(), "base", "k", {}, mine) == CLAIMED
        row = catalog.get("guid:1")
        assert (row.claim_token, row.claim_pid, row.attempts) == ("my-run", os.getpid(), 2)
        assert not catalog.finish("guid:1", Outcome("done"), other), "the old holder lost it"
    finally:
        child.kill()
        child.wait()


def test_another_hosts_claim_lives_as_long_as_its_heartbeat(tmp_path, monkeypatch):
    catalog = Catalog.in_folder(tmp_path)
    far = Holder("another-host", 1, "far-run")
    assert catalog.claim(record(), "base", "k", {}, far) == CLAIMED
    now = time.time()
    assert catalog.get("guid:1").held(now + LEASE_S - 1)
    assert not catalog.get("guid:1").held(now + LEASE_S + 1), "no heartbeat for a lease: its machine is gone"
    monkeypatch.setattr(time, "time", lambda: now + LEASE_S - 1)
    catalog.beat(far)
    assert catalog.get("guid:1").held(now + LEASE_S + 1), "the heartbeat renewed it"


def test_a_released_claim_is_free_at_once_and_stays_pending(tmp_path):
    catalog = Catalog.in_folder(tmp_path)
    far = Holder("another-host", 1, "far-run")
    catalog.claim(record(), "base", "k", {}, far)
    catalog.release(far)
    row = catalog.get("guid:1")
    assert (row.status, row.claim_token, row.held()) == ("pending", None, False)
    assert catalog.claim(record(), "base", "k", {}, ME) == CLAIMED


def test_a_schema_1_catalog_is_brought_up_to_date_with_its_rows(tmp_path):
    import sqlite3

    from pipeline.library import catalog as module

    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        conn.executescript(module._SCHEMA + "PRAGMA user_version = 1;")
        conn.execute("INSERT INTO episodes (key, kind, source, name, status, attempts, created_at, updated_at) "
                     "VALUES ('guid:1', 'feed', 'https://h/1.mp3', 'ep', 'done', 1, 0, 0)")
    catalog = Catalog.in_folder(tmp_path)
    assert catalog.get("guid:1").status == "done" and catalog.get("guid:1").claim_token is None
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == module.SCHEMA_VERSION


def test_a_file_that_is_not_a_catalog_is_one_clear_error(tmp_path):
    (tmp_path / "catalog.sqlite").write_text("not a database" * 100)
    with pytest.raises(PodscribeError, match="catalog unusable"):
        Catalog.in_folder(tmp_path)


def test_a_newer_catalog_schema_is_refused(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(PodscribeError, match="schema 99 is newer"):
        Catalog.in_folder(tmp_path)


# ---------------------------------------------------------------- options and plans


def test_the_options_key_ignores_batch_size_but_not_the_model_or_formats():
    base = BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model="base")), formats=("json",))
    same = BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model="base", batch_size=2)), formats=("json",))
    bigger = BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model="large-v3")), formats=("json",))
    more = BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model="base")), formats=("json", "srt"))
    assert base.key == same.key and len({base.key, bigger.key, more.key}) == 3
    with pytest.raises(PodscribeError, match="unknown format"):
        BatchOptions(formats=("docx",))


def test_plan_description():
    assert Plan((), (), ()).describe() == "0 new, 0 already done"
    assert Plan(("a", "b", "c"), ("d",), ("new", "retry", "new")).describe() == "2 new, 1 to retry, 1 already done"


# ---------------------------------------------------------------- podcast-json


def test_podcast_json_is_podcasting_2_0_segments():
    buf = io.StringIO()
    podcast_json.write(small_transcript(), buf)
    data = json.loads(buf.getvalue())
    assert data == {"version": "1.0.0", "segments": [
        {"speaker": "BRIAN", "startTime": 0.0, "endTime": 1.6, "body": "You're listening to the podcast."},
        {"speaker": "JEFF", "startTime": 2.0, "endTime": 3.7, "body": "I'm good, erm lkml [?] thanks."}]}
    buf = io.StringIO()
    podcast_json.write(small_transcript(), buf, drop_uncertain=True)
    assert json.loads(buf.getvalue())["segments"][1]["body"] == "I'm good, [?] thanks."


def test_podcast_json_is_a_format_named_podcast_json():
    assert parse_formats("podcast-json") == ("podcast-json",) and "podcast-json" in parse_formats("all")


def test_a_feed_plan_lists_each_guid_once_and_names_each_episode_apart(tmp_path):
    from pipeline.library.jobs import plan_feed

    xml = rss("Show", [
        {"title": "Same", "guid": "a", "date": "2026-11-02", "url": "https://h/a.mp3"},
        {"title": "Same", "guid": "b", "date": "2026-11-02", "url": "https://h/b.mp3"},
        {"title": "Again", "guid": "a", "date": "2026-11-02", "url": "https://h/a2.mp3"},
        {"title": "Undated", "guid": "c", "url": "https://h/c.ogg", "type": "audio/ogg"},
    ])
    jobs = plan_feed(parse_feed(xml.encode(), "feed.xml"), tmp_path)
    assert [(j.key, Path(j.path).name) for j in jobs] == [
        ("guid:a", "2026-11-02-same.mp3"), ("guid:b", "2026-11-02-same-3e23e8.mp3"), ("guid:c", "undated.ogg")]
    assert [j.key for j in plan_feed(parse_feed(xml.encode(), "feed.xml"), tmp_path, since="2026-11-01")] == [
        "guid:a", "guid:b"]
    assert len(plan_feed(parse_feed(xml.encode(), "feed.xml"), tmp_path, limit=1)) == 1


def test_names_in_any_latin_script_language_are_found():
    notes = ("Émilie Dupré reçoit Søren Kierkegaard et Łukasz Żurek. Ils parlent de Málaga, "
             "d'Œdipe et de l'ÉTÉ.")
    names = names_from("Le Café Numérique", notes)
    assert {"Émilie Dupré", "Søren Kierkegaard", "Łukasz Żurek", "Málaga", "Le Café Numérique"} <= set(names)
    assert "ÉTÉ" in names  # an acronym in capitals
    assert "Ils" not in names  # a sentence's first word
