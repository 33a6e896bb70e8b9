"""Search across a catalog's episodes: SQLite FTS5 in a real catalog.sqlite, hand-written transcripts, the
`podscribe search` command through CliRunner, and an episode indexed as a real batch (fake models) ends."""
from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.library.catalog import Catalog, EpisodeRecord, Holder, Outcome
from pipeline.library.search import fts_query, passages, rebuild, search
from pipeline.types import Transcript, Turn, Word
from pipeline.writers import json_format
from tests.audio import bursts, write_wav


def turn(speaker: str, start: float, text: str, marked: tuple[str, ...] = ()) -> Turn:
    out, t = [], start
    for token in text.split():
        joins = token.startswith(("'", "-"))
        out.append(replace(Word(token, t, t + 0.3, 0.3 if token in marked else 0.9, speaker, token in marked),
                           joins=joins))
        t += 0.4
    return Turn(speaker, tuple(out))


EPISODES = {
    "ep1": ("Open Source Hour", "2026-11-01", (
        turn("BRIAN", 0.0, "Welcome to the show. Today we talk about User-mode Linux with Jeff."),
        turn("JEFF", 5.0, "Thanks Brian. Linode runs thousands of virtual machines.", marked=("thousands",)),
    )),
    "ep2": ("Open Source Hour", "2026-11-08", (
        turn("BRIAN", 0.0, "Last week Jeff mentioned Linode and its virtual servers."),
        turn("CHRIS", 4.0, "We moved to Linode in 2003 ."),
    )),
    "ep3": ("Le Café Numérique", "2026-11-09", (
        turn("ANNE", 0.0, "L 'étoile du café n 'est pas loin. Souhaitez -vous un café ?"),
    )),
}


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    """Three done episodes, their JSON transcripts written and recorded as outputs, the index made from them."""
    cat = Catalog.in_folder(tmp_path)
    holder = Holder.here()
    for name, (show, date, turns) in EPISODES.items():
        transcript = Transcript(episode=name, sha256="0" * 64, duration_s=12.0, language="en", turns=turns)
        path = tmp_path / f"{name}.json"
        with open(path, "w", encoding="utf-8") as f:
            json_format.write(transcript, f)
        record = EpisodeRecord(key=f"guid:{name}", kind="feed", source=f"http://x/{name}.mp3", name=name, show=show,
                               date=date)
        cat.claim(record, "base", "k", {}, holder)
        cat.finish(record.key, Outcome("done", outputs=(str(path),)), holder)
    assert rebuild(cat) == (3, 8)
    return cat


def test_passages_cut_at_sentences_and_keep_words_as_written():
    found = passages(Transcript(episode="x", sha256="0" * 64, duration_s=9, language="fr", turns=EPISODES["ep3"][2]))
    assert [p.text for p in found] == ["L'étoile du café n'est pas loin.", "Souhaitez-vous un café ?"]
    assert found[1].start_s == pytest.approx(3.2)


def test_words_phrases_prefixes_and_accents(catalog):
    assert {h.episode for h in search(catalog, "linode")} == {"ep1", "ep2"}
    assert [h.episode for h in search(catalog, '"virtual servers"')] == ["ep2"]  # a phrase, not both words
    assert [h.episode for h in search(catalog, "virt* jeff")] == ["ep2"]  # all terms, in one passage's words
    assert search(catalog, "chris") == []  # a speaker's name is a filter (--speaker), not a word they said
    assert [(h.episode, h.speaker) for h in search(catalog, "cafe")] == [("ep3", "ANNE"), ("ep3", "ANNE")]
    assert [h.time_s for h in search(catalog, "loin")] == [pytest.approx(2.8)]  # the word's own time
    assert [h.time_s for h in search(catalog, "etoile")] == [0.0]  # L'étoile, one word as written
    assert search(catalog, "CAFÉ") and search(catalog, "souhaitez-vous")
    assert search(catalog, "nothing-like-this") == []


def test_filters_by_speaker_show_and_marks(catalog):
    assert [h.speaker for h in search(catalog, "linode", speaker="CHRIS")] == ["CHRIS"]
    assert {h.show for h in search(catalog, "cafe", show="Le Café Numérique")} == {"Le Café Numérique"}
    assert search(catalog, "linode", show="Le Café Numérique") == []
    marked = search(catalog, "thousands", uncertain=True)
    assert [(h.episode, h.speaker, h.time_s) for h in marked] == [("ep1", "JEFF", pytest.approx(6.6))]
    assert search(catalog, "linode", uncertain=True) == []  # said, but never marked
    assert [(h.episode, h.time_s) for h in search(catalog, "", uncertain=True)] == [("ep1", pytest.approx(6.6))]


def test_ranked_best_first(catalog):
    hits = search(catalog, "linode")
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


@pytest.mark.parametrize("query", ['"', "AND", "NOT x", "a OR b", "NEAR(a b)", "col:x", "*", "^x", "(", "x'y"])
def test_any_text_is_a_query_never_a_syntax_error(catalog, query):
    search(catalog, query + " linode")  # FTS5 operators in user text are only words
    assert all(part.startswith('"') for part in fts_query(query + " linode").split())


def test_an_episode_done_again_replaces_its_passages(catalog, tmp_path):
    from pipeline.library.search import index_episode

    index_episode(catalog, "guid:ep2", Transcript(episode="ep2", sha256="0" * 64, duration_s=3.0, language="en",
                                                  turns=(turn("BRIAN", 0.0, "Nothing about hosting."),)))
    assert [h.episode for h in search(catalog, "linode")] == ["ep1"]
    assert [h.episode for h in search(catalog, "hosting")] == ["ep2"]
    with catalog.connect() as conn:  # ep2's two passages gave way to one, after the others' rowids
        assert conn.execute("SELECT count(*) FROM passages").fetchone()[0] == 7
        spans = conn.execute("SELECT key, first, last FROM passage_rows ORDER BY first").fetchall()
        assert [key for key, _, _ in spans[:2]] == ["guid:ep3", "guid:ep1"] and spans[2] == ("guid:ep2", 9, 9)
        for key, first, last in spans:
            assert {k for (k,) in conn.execute("SELECT key FROM passages WHERE rowid BETWEEN ? AND ?",
                                               (first, last))} == {key}


def test_the_ranking_is_the_same_with_and_without_a_filter(catalog):
    """Unfiltered, the best rowids are found first; with a filter, in FTS5's rank order: the same hits."""
    plain = search(catalog, "linode")
    assert len(plain) == 3
    assert [(h.episode, h.time_s, h.rank) for h in search(catalog, "linode", show="Open Source Hour")] == \
        [(h.episode, h.time_s, h.rank) for h in plain]
    assert [h.text for h in search(catalog, "linode", limit=1)] == [plain[0].text]


def test_the_marked_passages_are_listed_newest_episode_first_each_in_time_order(catalog):
    from pipeline.library.search import index_episode

    def again(name: str, *turns: Turn) -> None:
        index_episode(catalog, f"guid:{name}", Transcript(episode=name, sha256="0" * 64, duration_s=9.0,
                                                          language="en", turns=turns))

    again("ep2", turn("BRIAN", 0.0, "One mark here. None here.", marked=("One",)),
          turn("CHRIS", 4.0, "Two marks here.", marked=("Two", "marks")))
    again("ep1", turn("JEFF", 0.0, "Old mark.", marked=("Old",)), turn("BRIAN", 3.0, "Later mark.", marked=("mark.",)))
    # ep1 (2026-11-01) was indexed last, so its passages have the highest rowids; ep2 (2026-11-08) is newer
    listed = [(h.episode, h.speaker, h.time_s) for h in search(catalog, "", uncertain=True)]
    assert listed == [("ep2", "BRIAN", 0.0), ("ep2", "CHRIS", 4.0), ("ep1", "JEFF", 0.0), ("ep1", "BRIAN", 3.4)]
    assert [h.episode for h in search(catalog, "", uncertain=True, limit=2)] == ["ep2", "ep2"]
    assert [(h.episode, h.time_s) for h in search(catalog, "", uncertain=True, speaker="BRIAN")] == [
        ("ep2", 0.0), ("ep1", 3.4)]
    assert search(catalog, "", uncertain=True, show="Le Café Numérique") == []


def test_a_schema_4_index_keeps_each_episode_s_rowids(catalog, tmp_path):
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as conn:  # schema 4, one episode's passages not one run (never made by podscribe)
        conn.execute("DROP TABLE passage_rows")
        conn.execute("DROP INDEX episodes_date")
        conn.execute("INSERT INTO passages (rowid, text, speaker, key) VALUES (100, 'stray linode', 'JEFF', 'guid:ep1')")
        conn.execute("PRAGMA user_version = 4")
    migrated = Catalog(path)
    with migrated.connect() as conn:
        assert [key for (key,) in conn.execute("SELECT key FROM passage_rows ORDER BY first")] == ["guid:ep3",
                                                                                                   "guid:ep2"]
    assert migrated.get("guid:ep1").indexed_at is None and migrated.get("guid:ep2").indexed_at is not None
    assert {h.episode for h in search(migrated, "linode")} == {"ep2"}  # ep1's passages wait for the catch-up
    out = search_cli(tmp_path, "linode")
    assert out.exit_code == 0 and "added 1 episode(s) to the search index" in out.output
    assert sorted(h.episode for h in search(migrated, "linode")) == ["ep1", "ep2", "ep2"]


def search_cli(folder: Path, *args: str):
    return CliRunner().invoke(main, ["search", *args, "-o", str(folder)])


def test_the_command_prints_each_hit_and_exits_1_on_none(catalog, tmp_path):
    out = search_cli(tmp_path, "linode", "--speaker", "CHRIS")
    assert out.exit_code == 0, out.output
    assert out.output == "Open Source Hour · ep2 · 00:05.200 · CHRIS\n    We moved to Linode in 2003 .\n"
    none = search_cli(tmp_path, "kubernetes")
    assert none.exit_code == 1 and none.output == "error: no match for 'kubernetes'\n"
    assert search_cli(tmp_path / "nowhere", "x").output.startswith("error: ")


def test_episodes_done_before_the_index_are_indexed_first_and_rebuild_indexes_all(catalog, tmp_path):
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:  # as an old catalog, or a run killed before indexing
        conn.execute("DELETE FROM passages")
        conn.execute("UPDATE episodes SET indexed_at = NULL")
    out = search_cli(tmp_path, "linode")
    assert out.exit_code == 0 and "added 3 episode(s) to the search index" in out.output and "ep2" in out.output
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:  # an index damaged some other way
        conn.execute("DELETE FROM passages")
    assert search_cli(tmp_path, "linode").exit_code == 1
    out = search_cli(tmp_path, "linode", "--rebuild")
    assert out.exit_code == 0 and "indexed 3 episode(s), 8 passage(s)" in out.output and "ep2" in out.output


def test_an_episode_is_indexed_as_its_batch_ends(tmp_path, fake_models):
    write_wav(tmp_path / "talk.wav", bursts(6))
    run = CliRunner().invoke(main, ["transcribe", str(tmp_path / "talk.wav"), "-o", str(tmp_path / "out"),
                                    "-m", "tiny.en", "-q"])
    assert run.exit_code == 0, run.output
    out = search_cli(tmp_path / "out", "w10")  # the fake engine's words: w<tenths of a second>
    assert out.exit_code == 0, out.output
    assert out.output.startswith("talk · 00:01.000 · SPEAKER 1\n")


def test_the_speaker_filter_is_the_exact_name(tmp_path):
    from tests.archive import add_episode, spoken, transcript

    add_episode(tmp_path, transcript("names", (spoken("JEFF", 0.0, "kernel talk here"),
                                               spoken("JEFF DIKE", 3.0, "kernel talk there"),
                                               spoken("SPEAKER 1", 6.0, "kernel talk again"),
                                               spoken("SPEAKER 10", 9.0, "kernel talk more"))))
    cat = Catalog.in_folder(tmp_path)
    assert [h.speaker for h in search(cat, "kernel", speaker="JEFF")] == ["JEFF"]
    assert [h.speaker for h in search(cat, "kernel", speaker="JEFF DIKE")] == ["JEFF DIKE"]
    assert [h.speaker for h in search(cat, "kernel", speaker="SPEAKER 1")] == ["SPEAKER 1"]
    assert search(cat, "kernel", speaker="O'Brien; DROP") == []


def test_highlight_marks_the_words_the_query_found():
    from pipeline.library.search import highlight

    def plain(text: str, marked: tuple[str, ...] = ()) -> list[tuple[str, bool]]:
        return [(word, word in marked) for word in text.split()]

    assert highlight(plain("We moved to Linode, in 2003 ."), 'linode "in 2003"') == [
        ("We", False), ("moved", False), ("to", False), ("Linode,", True), ("in", True), ("2003", True), (".", False)]
    assert highlight(plain("Café crème"), "cafe cr*") == [("Café", True), ("crème", True)]
    assert highlight(plain("nothing here"), "") == [("nothing", False), ("here", False)]
    # only uncertain: the marked words the query found, and with no query every marked word (a gap as "gap")
    words = plain("Linode [?] runs Linode", marked=("[?]", "runs"))
    words[-1] = ("Linode", True)
    assert highlight(words, "linode", uncertain=True) == [("Linode", False), ("[?]", False), ("runs", False),
                                                          ("Linode", True)]
    assert [found for _, found in highlight(words, "", uncertain=True)] == [False, True, True, True]
    assert [found for _, found in highlight(words, "gap", uncertain=True)] == [False, True, False, False]


def test_a_hit_carries_its_words_with_their_marks(catalog):
    hit, = search(catalog, "thousands")
    assert hit.text == " ".join(word for word, _ in hit.words)
    assert [word for word, marked in hit.words if marked] == ["thousands"]
