"""Search every episode of a catalog: SQLite FTS5 in ``catalog.sqlite`` (table ``passages``, schema 3; each
episode's rowids in ``passage_rows``, schema 5).

An episode is indexed as passages: runs of one speaker's words as written (``types.written``), cut at a sentence's
end or after ``PASSAGE_WORDS`` words, each with its speaker, times and the words marked ``[?]`` (a column of its
own, for ``--uncertain``). The tokenizer folds case and accents (``cafe`` finds ``Café``); a query is words (all
must be there), ``"a phrase"`` and ``prefix*``, ranked by bm25. A hit names the episode, the speaker, the time of
the first word that matched and the passage around it.

The index is written by the process that writes the catalog (``run_batch``, as each episode ends) and can be
rebuilt from the JSON transcripts (:func:`rebuild`). Pure SQLite and JSON: no model, no torch.
"""
from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from pipeline.errors import PodscribeError
from pipeline.library.catalog import Catalog
from pipeline.types import Transcript, Word, written

log = logging.getLogger(__name__)

PASSAGE_WORDS = 40
_SENTENCE_END = re.compile(r"[.!?…。？！]$")
_QUERY_PART = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Passage:
    speaker: str
    start_s: float
    end_s: float
    words: tuple[Word, ...]  # as written

    @property
    def text(self) -> str:
        return " ".join(w.text if not w.gap else "[?]" for w in self.words)

    @property
    def marked(self) -> str:
        """The words marked [?] (a gap as the word ``gap``), what ``--uncertain`` searches."""
        return " ".join("gap" if w.gap else w.text for w in self.words if w.uncertain)


@dataclass(frozen=True)
class Hit:
    key: str
    episode: str  # the episode's name (its output files' stem)
    show: str
    date: str
    speaker: str
    time_s: float  # where the first matching word starts
    text: str  # the passage around it
    rank: float  # bm25: lower is better
    words: tuple[tuple[str, bool], ...] = ()  # the passage's words as shown (a gap as [?]), each with its mark


def passages(transcript: Transcript, max_words: int = PASSAGE_WORDS) -> list[Passage]:
    """Each turn's words as written, cut after a sentence's end or ``max_words`` words."""
    out = []
    for turn in transcript.turns:
        run: list[Word] = []
        for w in written(turn.words):
            run.append(w)
            if len(run) >= max_words or _SENTENCE_END.search(w.text):
                out.append(Passage(turn.speaker, run[0].start_s, run[-1].end_s, tuple(run)))
                run = []
        if run:
            out.append(Passage(turn.speaker, run[0].start_s, run[-1].end_s, tuple(run)))
    return out


def index_episode(catalog: Catalog, key: str, transcript: Transcript) -> int:
    """Replace the episode's passages in the index with the transcript's; the number written."""
    with catalog.connect(write=True) as conn:
        return index_passages(conn, key, transcript)


def index_passages(conn, key: str, transcript: Transcript) -> int:
    """:func:`index_episode` inside a write transaction of the caller's: the passages, each speaker's statistics
    (:mod:`pipeline.archive.stats`) and the time it was indexed."""
    from pipeline.archive.stats import speaker_stats

    found = passages(transcript)
    _delete_passages(conn, key)
    last = conn.execute("SELECT rowid FROM passages ORDER BY rowid DESC LIMIT 1").fetchone()
    first = (last[0] if last else 0) + 1  # the passages take the rowids after the last: one run, found by its ends
    conn.executemany(
        "INSERT INTO passages (rowid, text, marked, speaker, key, start_s, end_s, words) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(first + n, p.text, p.marked, p.speaker, key, p.start_s, p.end_s,
          json.dumps([[w.text, w.start_s, int(w.uncertain)] for w in p.words], ensure_ascii=False))
         for n, p in enumerate(found)])
    if found:
        conn.execute("INSERT INTO passage_rows (key, first, last) VALUES (?, ?, ?)",
                     (key, first, first + len(found) - 1))
    conn.execute("DELETE FROM speaker_stats WHERE key = ?", (key,))
    conn.executemany("INSERT INTO speaker_stats (key, speaker, talk_s, words, turns, marked) VALUES (?, ?, ?, ?, ?, ?)",
                     [(key, s.speaker, s.talk_s, s.words, s.turns, s.marked) for s in speaker_stats(transcript)])
    _mark_indexed(conn, key)
    return len(found)


def _delete_passages(conn, key: str) -> None:
    """The episode's passages out of the index, by the rowids they were given (schema 5: every passage's are kept;
    the key is checked too, so a span left stale by a hand-edited index costs no other episode its passages)."""
    span = conn.execute("SELECT first, last FROM passage_rows WHERE key = ?", (key,)).fetchone()
    if span:
        conn.execute("DELETE FROM passages WHERE rowid BETWEEN ? AND ? AND key = ?", (*span, key))
        conn.execute("DELETE FROM passage_rows WHERE key = ?", (key,))


def _mark_indexed(conn, key: str) -> None:
    conn.execute("UPDATE episodes SET indexed_at = max(updated_at, ?) WHERE key = ?", (time.time(), key))


def index_outputs(catalog: Catalog, key: str, outputs: Sequence[str]) -> int:
    """Index an episode from the JSON transcript among its ``outputs`` (0 when it wrote none: it is then marked
    indexed all the same, as there is nothing to index)."""
    from pipeline.writers import json_format

    path = json_transcript(catalog.outputs(outputs))
    if path is None:
        with catalog.connect(write=True) as conn:
            _mark_indexed(conn, key)
        return 0
    with open(path, encoding="utf-8") as f:
        return index_episode(catalog, key, json_format.read(f))


def json_transcript(outputs: Sequence[Path]) -> Optional[Path]:
    """The episode's JSON transcript among its outputs, if it wrote one and it is there."""
    path = next((p for p in outputs if p.name.endswith(".json") and not p.name.endswith(".podcast.json")), None)
    return path if path is not None and path.is_file() else None


def catch_up(catalog: Catalog) -> int:
    """Index every done episode whose index is older than its row (a run killed between recording an episode's
    end and indexing it, or a catalog made before the index existed); the number indexed. A failure is logged and
    the episode left for the next time."""
    with catalog.connect() as conn:
        stale = conn.execute("SELECT key, outputs FROM episodes WHERE status = 'done' AND "
                             "(indexed_at IS NULL OR indexed_at < updated_at)").fetchall()
    done = 0
    for key, outputs in stale:
        try:
            index_outputs(catalog, key, json.loads(outputs))
            done += 1
        except (PodscribeError, OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: not added to the search index (%s)", key, exc)
    return done


def rebuild(catalog: Catalog) -> tuple[int, int]:
    """The index made again from every done episode's JSON transcript: (episodes, passages)."""
    with catalog.connect(write=True) as conn:
        conn.execute("DELETE FROM passages")
        conn.execute("DELETE FROM passage_rows")
        conn.execute("DELETE FROM speaker_stats")
    episodes = count = 0
    for row in catalog.rows(status="done"):
        written_now = index_outputs(catalog, row.key, row.outputs)
        episodes += written_now > 0
        count += written_now
    return episodes, count


def search(catalog: Catalog, query: str, speaker: Optional[str] = None, show: Optional[str] = None,
           uncertain: bool = False, limit: int = 20) -> list[Hit]:
    """The best passages for ``query`` (see the module's docstring), optionally of one speaker or show, or among
    the words marked [?] only (an empty query with ``uncertain``: every passage with a mark, the newest episode
    first, each in time order)."""
    expression = fts_query(query)
    if not expression and not uncertain:
        raise PodscribeError("nothing to search for: give words, a \"phrase\" or a prefix*")
    sql, args = _ranked(expression, uncertain, speaker, show) if expression else _marked(speaker, show)
    with catalog.connect() as conn:
        rows = conn.execute(sql, args + [limit]).fetchall()
    terms = _terms(query)
    return [_hit(row, terms, uncertain) for row in rows]


def _hit(row: tuple, terms: list[tuple[str, bool]], uncertain: bool) -> Hit:
    key, name, show, date, speaker, start_s, text, words, rank = row
    words = json.loads(words)
    return Hit(key, name, show, date, speaker, _first_match(words, terms, start_s, uncertain), text, rank,
               tuple((word or "[?]", bool(flags and flags[0])) for word, _, *flags in words))


_HIT = "p.key, e.name, COALESCE(e.show, ''), COALESCE(e.date, ''), p.speaker, p.start_s, p.text, p.words"


def _ranked(expression: str, uncertain: bool, speaker: Optional[str], show: Optional[str]) -> tuple[str, list]:
    """The query of the best passages for an FTS5 expression, and its arguments but the limit."""
    name = fts_query(f'"{speaker}"') if speaker else ""
    # the words never match the speaker column; a speaker's name narrows the rows FTS5 ranks (2x faster), and the
    # exact name is checked after (the tokens of "JEFF" are in "JEFF DIKE" too)
    args = [f"{{{'marked' if uncertain else 'text'}}}: ({expression})" + (f" AND {{speaker}}: {name}" if name else "")]
    checks, values = _checks(("speaker = ?", speaker), ("key IN (SELECT key FROM episodes WHERE show = ?)", show))
    args += values
    # the best passages first, then their episodes: FTS5 ranks without carrying the join (2-3x faster)
    if checks:
        # FTS5's rank order: the checks read passages in that order only until enough pass
        best = ("SELECT key, speaker, start_s, text, words, rank FROM passages "
                f"WHERE passages MATCH ?{checks} ORDER BY rank LIMIT ?")
    else:
        # nothing to check: the best rowids by bm25 first, then only their passages are read (20-25 % faster than
        # FTS5's rank order, which sorts every match before the first row)
        best = ("SELECT q.key, q.speaker, q.start_s, q.text, q.words, b.rank FROM (SELECT rowid AS id, "
                "bm25(passages) AS rank FROM passages WHERE passages MATCH ? ORDER BY rank LIMIT ?) b "
                "JOIN passages q ON q.rowid = b.id")
    return (f"SELECT {_HIT}, p.rank FROM ({best}) p JOIN episodes e ON e.key = p.key "
            "ORDER BY p.rank, e.date DESC, p.start_s"), args


def _marked(speaker: Optional[str], show: Optional[str]) -> tuple[str, list]:
    """The query of every passage with a mark, the newest episode first and each in time order, and its arguments
    but the limit. Episodes are walked by date and their passages by rowid (``passage_rows``; CROSS JOIN keeps
    that order), so the first are found without reading the rest of the index."""
    checks, args = _checks(("p.speaker = ?", speaker), ("e.show = ?", show))
    return (f"SELECT {_HIT}, 0.0 FROM episodes e CROSS JOIN passage_rows r CROSS JOIN passages p "
            f"WHERE r.key = e.key AND p.rowid >= r.first AND p.rowid <= r.last AND p.marked != ''{checks} "
            "ORDER BY e.date DESC, p.rowid LIMIT ?"), args


def _checks(*filters: tuple[str, Optional[str]]) -> tuple[str, list]:
    """`` AND condition`` for each filter given a value, and those values, in order."""
    given = [(condition, value) for condition, value in filters if value]
    return "".join(f" AND {condition}" for condition, _ in given), [value for _, value in given]


def fts_query(query: str) -> str:
    """The user's words as an FTS5 expression that cannot be a syntax error: ``"a phrase"`` stays a phrase, a term
    ending in ``*`` a prefix, every other term a quoted word; all must match."""
    return " ".join(f'"{" ".join(tokens)}"' if phrase else " ".join(f'"{t}"' for t in tokens) + "*" * prefix
                    for tokens, prefix, phrase in _parts(query))


def _parts(query: str) -> list[tuple[list[str], bool, bool]]:
    """The query's parts, each (its tokens, is a prefix, is a phrase): ``"a phrase"`` in quotes, else one word; a
    word ending in ``*`` is a prefix (FTS5 applies it to its last token)."""
    out = []
    for phrase, word in _QUERY_PART.findall(query):
        tokens = _plain(phrase or word.rstrip("*")).split()
        if tokens:
            out.append((tokens, word.endswith("*"), bool(phrase)))
    return out


def _plain(text: str) -> str:
    """Letters and digits only (what the tokenizer keeps), so that no character is FTS5 syntax."""
    return "".join(c if c.isalnum() else " " for c in text)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _terms(query: str) -> list[tuple[str, bool]]:
    """(folded token, is a prefix) of the query, in order."""
    return [(_fold(t), prefix and k == len(tokens) - 1) for tokens, prefix, _ in _parts(query)
            for k, t in enumerate(tokens)]


def _first_match(words: list, terms: list[tuple[str, bool]], default_s: float, uncertain: bool = False) -> float:
    """The start of the first word of the passage that a query term matches (among the marked ones with
    ``uncertain``; with no term, the first marked word)."""
    for text, start_s, *flags in words:
        if uncertain and not (flags and flags[0]):
            continue
        if not terms or _matches(text, terms):
            return float(start_s)
    return float(default_s)


def _matches(word: str, terms: list[tuple[str, bool]]) -> bool:
    tokens = [_fold(t) for t in _plain(word).split()]
    return any(t == term or (prefix and t.startswith(term)) for t in tokens for term, prefix in terms)


def highlight(words: Sequence[tuple[str, bool]], query: str, uncertain: bool = False) -> list[tuple[str, bool]]:
    """A hit's words (:attr:`Hit.words`) as (word, found) pairs, for showing what the search found: the words a
    query term matches; with ``uncertain``, only among the marked words, and with no term every marked word."""
    terms = _terms(query)

    def found(word: str, marked: bool) -> bool:
        if uncertain and not marked:
            return False
        return _matches("gap" if word == "[?]" else word, terms) if terms else uncertain

    return [(word, found(word, marked)) for word, marked in words]
