"""The archive's core without a server: speaker statistics, revisions (save, conflict, history, diff, outputs
rewritten), the vocabulary corrections teach and its use by the next runs, the catalog's schema 4 and catch-up
indexing. Real SQLite, hand-written transcripts."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest

from pipeline.archive import revisions, teach
from pipeline.archive.stats import combine, speaker_stats
from pipeline.errors import PodscribeError
from pipeline.library import search
from pipeline.library.batch import _with_show_vocabulary
from pipeline.library.catalog import Catalog, EpisodeRecord
from pipeline.library.jobs import EpisodeJob
from pipeline.types import Word
from tests.archive import add_episode, spoken, transcript


def interview():
    return transcript("ep-1", (
        spoken("BRIAN", 0.0, "welcome to the show about lie node hosting", marked=(5, 6)),
        spoken("JEFF", 5.0, "thanks I run user mode linux there"),
        spoken("BRIAN", 9.0, "tell us more")))


def reviewed(t, replacements: dict[int, str]):
    """``t`` with the words at flat indices replaced (and checked: no longer uncertain)."""
    turns, k = [], 0
    for turn in t.turns:
        words = []
        for w in turn.words:
            words.append(replace(w, text=replacements[k], uncertain=False, probability=1.0) if k in replacements else w)
            k += 1
        turns.append(replace(turn, words=tuple(words)))
    return replace(t, turns=tuple(turns))


# ---------------------------------------------------------------- statistics


def test_speaker_stats_count_talk_words_turns_and_marks():
    stats = {s.speaker: s for s in speaker_stats(interview())}
    assert stats["BRIAN"].turns == 2 and stats["BRIAN"].words == 11 and stats["BRIAN"].marked == 2
    assert stats["BRIAN"].talk_s == pytest.approx(3.9 + 1.4)  # 8 words: 0 .. 3.9; 3 words: 9 .. 10.4
    assert stats["JEFF"].talk_s == pytest.approx(3.4) and stats["JEFF"].marked_share == 0.0
    gap = replace(interview().turns[1], words=interview().turns[1].words + (Word("", 9.0, 9.5, 0.0, "JEFF", True, True),))
    assert {s.speaker: s.words for s in speaker_stats(replace(interview(), turns=(gap,)))} == {"JEFF": 7}
    both = {s.speaker: s for s in combine(speaker_stats(interview()) + speaker_stats(interview()))}
    assert both["BRIAN"].turns == 4 and both["JEFF"].words == 14
    assert [s.speaker for s in combine(speaker_stats(interview()))] == ["BRIAN", "JEFF"]  # most talk first


def test_indexing_fills_speaker_stats_and_catch_up_indexes_what_a_killed_run_left(tmp_path):
    key = add_episode(tmp_path, interview())
    catalog = Catalog.in_folder(tmp_path)
    with catalog.connect() as conn:
        assert conn.execute("SELECT speaker, words, turns FROM speaker_stats WHERE key = ? ORDER BY speaker",
                            (key,)).fetchall() == [("BRIAN", 11, 2), ("JEFF", 7, 1)]
        conn.execute("DELETE FROM passages")  # a run killed between recording the end and indexing
        conn.execute("UPDATE episodes SET indexed_at = NULL")
    assert not search.search(catalog, "hosting")
    assert search.catch_up(catalog) == 1
    assert [h.episode for h in search.search(catalog, "hosting")] == ["ep-1"]
    assert search.catch_up(catalog) == 0  # nothing left: a cheap query


def test_a_schema_3_catalog_is_migrated_and_indexed_again_once(tmp_path):
    key = add_episode(tmp_path, interview())
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as conn:  # back to what schema 3 had
        for statement in ("DROP TABLE revisions", "DROP TABLE speaker_stats", "DROP TABLE vocabulary",
                          "DROP INDEX episodes_name", "ALTER TABLE episodes DROP COLUMN indexed_at",
                          "ALTER TABLE episodes DROP COLUMN revision", "ALTER TABLE episodes DROP COLUMN reviewed_at",
                          "DROP TABLE passage_rows", "DROP INDEX episodes_date", "PRAGMA user_version = 3"):
            conn.execute(statement)
    catalog = Catalog(path)
    assert catalog.get(key).revision == 0 and catalog.get(key).indexed_at is None
    assert search.catch_up(catalog) == 1
    assert catalog.get(key).indexed_at is not None


# ---------------------------------------------------------------- revisions


def test_a_save_keeps_the_model_s_transcript_and_rewrites_every_output(tmp_path):
    t = interview()
    key = add_episode(tmp_path, t)
    catalog = Catalog.in_folder(tmp_path)
    before = (tmp_path / "ep-1.json").read_text()
    fixed = reviewed(t, {5: "Linode", 6: ""})
    saved = revisions.save(catalog, key, 0, fixed, "  Ann  ", corrections=[("lie node", "Linode")])
    assert saved.revision == 1 and saved.learned == ("Linode",)
    history = revisions.history(catalog, key)
    assert [(r.n, r.kind, r.author) for r in history] == [(0, "model", "model base"), (1, "review", "Ann")]
    with catalog.connect() as conn:  # the model's JSON, byte for byte
        assert conn.execute("SELECT transcript FROM revisions WHERE n = 0").fetchone()[0] == before
    assert json.loads((tmp_path / "ep-1.json").read_text())["episode"] == "ep-1"
    original = revisions.revision_transcript(catalog, key, 0)
    assert "lie" in [w.text for w in original.words]  # the model's words, kept
    forum = (tmp_path / "ep-1.forum.txt").read_text()
    assert "Linode" in forum and "lie" not in forum
    for fmt in ("ep-1.txt", "ep-1.srt", "ep-1.json", "ep-1.html"):
        assert "Linode" in (tmp_path / fmt).read_text(), fmt
    row = catalog.get(key)
    assert row.revision == 1 and row.reviewed_at and catalog.is_done(key, "options")
    assert [h.text for h in search.search(catalog, "linode")] and not search.search(catalog, "lie node")
    assert teach.vocabulary(catalog, None) == ("Linode",)


def test_a_second_save_from_the_same_revision_is_a_conflict_and_writes_nothing(tmp_path):
    t = interview()
    key = add_episode(tmp_path, t)
    catalog = Catalog.in_folder(tmp_path)
    revisions.save(catalog, key, 0, reviewed(t, {0: "Welcome"}), "Ann")
    forum = (tmp_path / "ep-1.forum.txt").read_text()
    with pytest.raises(revisions.Conflict) as err:
        revisions.save(catalog, key, 0, reviewed(t, {1: "TO"}), "Bob")
    assert err.value.current == 1 and "saved by Ann" in str(err.value) and "nothing was overwritten" in str(err.value)
    assert (tmp_path / "ep-1.forum.txt").read_text() == forum
    assert len(revisions.history(catalog, key)) == 2
    assert revisions.save(catalog, key, 1, reviewed(t, {0: "Welcome", 1: "TO"}), "Bob").revision == 2


def test_an_episode_transcribed_again_starts_from_the_model_and_keeps_its_history(tmp_path):
    t = interview()
    key = add_episode(tmp_path, t)
    catalog = Catalog.in_folder(tmp_path)
    revisions.save(catalog, key, 0, reviewed(t, {0: "Welcome"}), "Ann")
    add_episode(tmp_path, t, force=True)  # a forced re-run: the outputs are the model's again
    assert catalog.get(key).revision == 0 and catalog.get(key).reviewed_at is None
    saved = revisions.save(catalog, key, 0, reviewed(t, {2: "THE"}), "Bob")
    assert [(r.n, r.kind) for r in revisions.history(catalog, key)] == [(0, "model"), (1, "review"), (2, "model"),
                                                                        (3, "review")]
    assert saved.revision == 3
    with pytest.raises(PodscribeError, match="no revision 9"):
        revisions.revision_transcript(catalog, key, 9)


def test_diff_shows_words_and_speakers_changed():
    t = interview()
    b = reviewed(t, {5: "Linode", 6: ""})
    b = replace(b, turns=(b.turns[0], replace(b.turns[1], speaker="CHRIS"), b.turns[2]))
    changes = revisions.diff(t, b)
    assert ("removed", "lie [?] node [?]") in [(c.op, c.text) for c in changes]
    assert ("added", "Linode") in [(c.op, c.text) for c in changes]
    assert ("removed", "JEFF:") in [(c.op, c.text) for c in changes] and ("added", "CHRIS:") in [(c.op, c.text) for c in changes]
    assert revisions.diff(t, t) and all(c.op == "same" for c in revisions.diff(t, t))


# ---------------------------------------------------------------- the vocabulary corrections teach


@pytest.mark.parametrize("before, after, learned", [
    ("lie node", "Linode", ("Linode",)),
    ("jeff dyke", "Jeff Dike", ("Jeff Dike",)),
    ("i phone", "iPhone", ("iPhone",)),
    ("gpt four", "GPT4,", ("GPT4",)),
    ("node js", "Node.js.", ("Node.js",)),
    ("the", "The", ()),  # a sentence's first word
    ("was", "is", ()),
    ("Linode", "Linode", ()),  # not changed
    ("a", "I", ()),
])
def test_learned_terms(before, after, learned):
    assert teach.learned_terms([(before, after)]) == learned


def test_the_show_vocabulary_is_edited_and_reaches_the_next_runs(tmp_path):
    catalog = Catalog.in_folder(tmp_path)
    with catalog.connect(write=True) as conn:
        assert teach.learn(conn, "Show A", ["Linode", "UML"], "review of ep-1") == ("Linode", "UML")
        assert teach.learn(conn, "Show A", ["Linode"], "review of ep-2") == ()
    assert teach.replace_vocabulary(catalog, "Show A", "UML\nJeff Dike, Linode") == ("Linode", "UML", "Jeff Dike")
    assert [origin for _, origin, _ in teach.entries(catalog, "Show A")] == ["review of ep-1", "review of ep-1",
                                                                            "edited"]
    assert teach.replace_vocabulary(catalog, "Show A", "UML") == ("UML",)
    with pytest.raises(PodscribeError, match="prompt holds"):
        teach.replace_vocabulary(catalog, "Show A", ", ".join(f"Term{i:03d}" for i in range(100)))
    jobs = [EpisodeJob(EpisodeRecord(key=f"k{i}", kind="feed", source="s", name=f"n{i}", show=show), path="p",
                       vocabulary=names) for i, (show, names) in enumerate([("Show A", ("Brian",)), ("Show B", ())])]
    given = _with_show_vocabulary(jobs, catalog)
    assert given[0].vocabulary == ("Brian", "UML") and given[1].vocabulary == ()


def test_a_save_that_cannot_write_every_output_leaves_files_and_catalog_as_they_were(tmp_path, monkeypatch):
    import pipeline.writers as writers

    t = interview()
    key = add_episode(tmp_path, t)
    catalog = Catalog.in_folder(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("ep-1.*")}
    real = writers.WRITERS["srt"]

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(writers.WRITERS, "srt", (real[0], full_disk))  # forum, txt and json are written before it
    with pytest.raises(OSError):
        revisions.save(catalog, key, 0, reviewed(t, {0: "Welcome"}), "Ann")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("ep-1.*")} == before
    assert catalog.get(key).revision == 0 and revisions.history(catalog, key) == []
    monkeypatch.setitem(writers.WRITERS, "srt", real)
    assert revisions.save(catalog, key, 0, reviewed(t, {0: "Welcome"}), "Ann").revision == 1


def test_the_next_run_gives_whisper_the_vocabulary_a_review_taught(tmp_path, fake_models):
    from click.testing import CliRunner

    from pipeline.cli import main
    from tests.audio import bursts, write_wav

    out = tmp_path / "out"
    t = interview()
    key = add_episode(out, t)
    revisions.save(Catalog.in_folder(out), key, 0, reviewed(t, {5: "Linode", 6: ""}), "Ann",
                   corrections=[("lie node", "Linode")])
    write_wav(tmp_path / "next.wav", bursts(4))
    run = CliRunner().invoke(main, ["transcribe", str(tmp_path / "next.wav"), "-o", str(out), "-m", "tiny.en", "-q"])
    assert run.exit_code == 0, run.output
    options = json.loads((out / "next.json").read_text())["options"]
    assert "Linode" in options["transcribe"]["vocabulary"]  # in the prompt of the episode after the review
