"""The catalog: one row per episode in ``OUTPUT_DIR/catalog.sqlite`` (standard-library sqlite3).

An episode is keyed by what identifies it: ``guid:<guid>`` for a feed item, ``url:<url>`` for a URL given
on the command line, ``sha256:<hash>`` for a local file. Its row says where it came from, its status
(``pending`` while it runs, then ``done`` or ``failed``), the model and a digest of the options it ran with,
the error, outputs and timings, and who runs it now: its **claim** (host, process, the run's token, a
heartbeat). Every change is one ``BEGIN IMMEDIATE`` transaction on a connection of its own (WAL, a busy timeout),
so several processes share the file safely, and a kill at any point leaves every row in one of the three states.

An episode is run by one process at a time: :meth:`Catalog.claim` moves it to ``pending`` with the claim in the
same transaction, and refuses while another live run holds it. A claim is live while its heartbeat is younger
than :data:`LEASE_S` and, on this host, its process exists; a claim whose holder is gone (killed, its machine
lost) is taken over. Only the holder records the end (:meth:`Catalog.finish`). SQLite's locking needs a local
disk: the catalog must not live on NFS (docs/feeds.md).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

from pipeline.errors import PodscribeError
from pipeline.files import process_alive

SCHEMA_VERSION = 5
CATALOG_NAME = "catalog.sqlite"
# A claim whose heartbeat is older than this has no holder any more (another host's lost machine, a hung run).
LEASE_S = 300.0
# How often a running batch renews its claims' heartbeat: well inside the lease.
HEARTBEAT_S = 20.0
STATUSES = ("pending", "done", "failed")
#: the status changes allowed, from -> to (None: no row yet)
TRANSITIONS = {None: {"pending"}, "pending": {"pending", "done", "failed"}, "done": {"pending"},
               "failed": {"pending"}}

_SCHEMA = """
CREATE TABLE episodes (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('feed', 'url', 'file')),
    source TEXT NOT NULL,
    feed TEXT,
    show TEXT,
    title TEXT,
    date TEXT,
    guid TEXT,
    name TEXT NOT NULL,
    sha256 TEXT,
    audio_path TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    model TEXT,
    options_key TEXT,
    options TEXT,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    duration_s REAL,
    wall_s REAL,
    timings TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX episodes_status ON episodes (status);
"""
# Schema 2: who runs an episode now (pipeline/library/catalog.py, "claims").
_CLAIMS = """
ALTER TABLE episodes ADD COLUMN claim_host TEXT;
ALTER TABLE episodes ADD COLUMN claim_pid INTEGER;
ALTER TABLE episodes ADD COLUMN claim_token TEXT;
ALTER TABLE episodes ADD COLUMN claimed_at REAL;
ALTER TABLE episodes ADD COLUMN heartbeat_at REAL;
CREATE INDEX episodes_claim ON episodes (claim_token);
"""
# Schema 3: the search index (pipeline/library/search.py): each done episode's passages, case and accents folded.
_SEARCH = """
CREATE VIRTUAL TABLE passages USING fts5(
    text, marked, speaker, key UNINDEXED, start_s UNINDEXED, end_s UNINDEXED, words UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
)
"""
# Schema 4: the archive (pipeline/archive): when an episode was last indexed, its reviewed revisions, each
# speaker's share of it, and each show's vocabulary learned from corrections. Episodes indexed before are indexed
# again once (search.catch_up), for their speaker statistics.
_ARCHIVE = """
ALTER TABLE episodes ADD COLUMN indexed_at REAL;
ALTER TABLE episodes ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE episodes ADD COLUMN reviewed_at REAL;
CREATE TABLE revisions (
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('model', 'review')),
    author TEXT NOT NULL,
    created_at REAL NOT NULL,
    transcript TEXT NOT NULL,
    PRIMARY KEY (key, n)
);
CREATE TABLE speaker_stats (
    key TEXT NOT NULL,
    speaker TEXT NOT NULL,
    talk_s REAL NOT NULL,
    words INTEGER NOT NULL,
    turns INTEGER NOT NULL,
    marked INTEGER NOT NULL,
    PRIMARY KEY (key, speaker)
);
CREATE TABLE vocabulary (
    show TEXT NOT NULL,
    term TEXT NOT NULL,
    origin TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (show, term)
);
CREATE INDEX episodes_name ON episodes (name);
"""
# Schema 5: the rowids of each episode's passages (one run, inserted together), so that indexing an episode again
# deletes its old passages by rowid instead of reading every passage's key, and the marked passages are listed
# newest episode first (by date) without reading the whole index. Passages indexed before are found once
# here; an episode whose passages are not one run (never expected) loses them and is indexed again by the next
# catch-up.
_SPANS = """
CREATE TABLE passage_rows (key TEXT PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL);
CREATE INDEX episodes_date ON episodes (date);
INSERT INTO passage_rows SELECT key, min(rowid), max(rowid) FROM passages GROUP BY key
    HAVING count(*) = max(rowid) - min(rowid) + 1;
UPDATE episodes SET indexed_at = NULL WHERE key IN (SELECT key FROM passages EXCEPT SELECT key FROM passage_rows);
DELETE FROM passages WHERE key NOT IN (SELECT key FROM passage_rows);
"""
#: what each schema version adds to the one before
_MIGRATIONS = {1: _SCHEMA, 2: _CLAIMS, 3: _SEARCH, 4: _ARCHIVE, 5: _SPANS}


@dataclass(frozen=True)
class EpisodeRecord:
    """What is known of an episode before it runs."""

    key: str
    kind: str  # feed | url | file
    source: str  # enclosure URL, URL or path
    name: str  # output name
    feed: Optional[str] = None
    show: Optional[str] = None
    title: Optional[str] = None
    date: Optional[str] = None
    guid: Optional[str] = None
    sha256: Optional[str] = None


@dataclass(frozen=True)
class Outcome:
    """What a run of an episode gave, for its row."""

    status: str  # done | failed
    error: Optional[str] = None
    sha256: Optional[str] = None
    audio_path: Optional[str] = None
    outputs: tuple[str, ...] = ()
    duration_s: Optional[float] = None
    wall_s: Optional[float] = None
    timings: Optional[dict] = None


@dataclass(frozen=True)
class Holder:
    """Who runs an episode: this host, this process, and the run's own token (a process may run one batch after
    another; each claims with its own)."""

    host: str
    pid: int
    token: str

    @classmethod
    def here(cls) -> "Holder":
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex)


@dataclass(frozen=True)
class Row:
    key: str
    kind: str
    source: str
    name: str
    status: str
    feed: Optional[str]
    show: Optional[str]
    title: Optional[str]
    date: Optional[str]
    guid: Optional[str]
    sha256: Optional[str]
    audio_path: Optional[str]
    model: Optional[str]
    options_key: Optional[str]
    error: Optional[str]
    outputs: tuple[str, ...]
    duration_s: Optional[float]
    wall_s: Optional[float]
    attempts: int
    updated_at: float
    claim_host: Optional[str] = None
    claim_pid: Optional[int] = None
    claim_token: Optional[str] = None
    claimed_at: Optional[float] = None
    heartbeat_at: Optional[float] = None
    indexed_at: Optional[float] = None
    revision: int = 0  # the reviewed revision the outputs are written from (0: the model's own)
    reviewed_at: Optional[float] = None

    def held(self, now: Optional[float] = None) -> bool:
        """Whether a live run holds this episode now (see the module's docstring)."""
        if self.status != "pending" or not self.claim_token or self.heartbeat_at is None:
            return False
        if (now or time.time()) - self.heartbeat_at >= LEASE_S:
            return False
        return self.claim_host != socket.gethostname() or process_alive(self.claim_pid)


#: what :meth:`Catalog.claim` found
CLAIMED, HELD, DONE = "claimed", "held", "done"


class Catalog:
    """The catalog file at ``path``; each method is one short transaction on its own connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def in_folder(cls, output_dir: str | Path) -> "Catalog":
        """The catalog of an output folder, created if needed (a clear error if it cannot be)."""
        catalog = cls(Path(output_dir) / CATALOG_NAME)
        catalog.rows(limit=1)
        return catalog

    @property
    def folder(self) -> Path:
        """The output folder: the catalog's, where every episode's outputs are written."""
        return self.path.parent

    def outputs(self, paths: Sequence[str]) -> list[Path]:
        """An episode's outputs in the catalog's folder (recorded as the run named them, perhaps relative to where
        it ran)."""
        return [self.folder / Path(p).name for p in paths]

    def get(self, key: str) -> Optional[Row]:
        with self._connect() as conn:
            return get_row(conn, key)

    def rows(self, status: Optional[str] = None, limit: Optional[int] = None, show: Optional[str] = None) -> list[Row]:
        """Rows, newest episode first (then most recently changed), optionally of one status or one show."""
        where = [c for c, v in (("status = ?", status), ("show = ?", show)) if v]
        args = [v for v in (status, show) if v]
        sql = (f"SELECT * FROM episodes {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY COALESCE(date, '') DESC, updated_at DESC, key" + (" LIMIT ?" if limit else ""))
        with self._connect() as conn:
            return [row_from(r) for r in conn.execute(sql, args + ([limit] if limit else []))]

    def is_done(self, key: str, options_key: str) -> bool:
        """Done with these options, and every output it wrote still there."""
        return is_done(self.get(key), options_key)

    def claim(self, record: EpisodeRecord, model: str, options_key: str, options: dict, holder: Holder,
              force: bool = False) -> str:
        """Take the episode for ``holder`` and make its row ``pending`` (created if new), in one transaction:
        :data:`CLAIMED`; or leave it, :data:`HELD` when a live run holds it, :data:`DONE` when it is done with
        these options (unless ``force``)."""
        now = time.time()
        with self._connect(write=True) as conn:
            row = get_row(conn, record.key)
            if row is not None and row.claim_token != holder.token and row.held(now):
                return HELD
            if not force and is_done(row, options_key):
                return DONE
            self._transition(conn, row, "pending")
            conn.execute(
                """INSERT INTO episodes (key, kind, source, feed, show, title, date, guid, name, sha256, status,
                                         model, options_key, options, attempts, created_at, updated_at,
                                         claim_host, claim_pid, claim_token, claimed_at, heartbeat_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET
                     kind = excluded.kind, source = excluded.source, feed = excluded.feed, show = excluded.show,
                     title = excluded.title, date = excluded.date, guid = excluded.guid, name = excluded.name,
                     sha256 = COALESCE(excluded.sha256, sha256), status = 'pending', model = excluded.model,
                     options_key = excluded.options_key, options = excluded.options, error = NULL,
                     attempts = attempts + 1, updated_at = excluded.updated_at, claim_host = excluded.claim_host,
                     claim_pid = excluded.claim_pid, claim_token = excluded.claim_token,
                     claimed_at = excluded.claimed_at, heartbeat_at = excluded.heartbeat_at""",
                (record.key, record.kind, record.source, record.feed, record.show, record.title, record.date,
                 record.guid, record.name, record.sha256, model, options_key,
                 json.dumps(options, sort_keys=True, default=str), now, now,
                 holder.host, holder.pid, holder.token, now, now))
        return CLAIMED

    def finish(self, key: str, outcome: Outcome, holder: Holder) -> bool:
        """The episode's run ended: ``done`` or ``failed``, with what it gave, and the claim let go. Only the
        holder records it: False (nothing written) when another run took the claim over meanwhile."""
        with self._connect(write=True) as conn:
            row = get_row(conn, key)
            if row is None or row.claim_token != holder.token:
                return False
            self._transition(conn, row, outcome.status)
            conn.execute(
                """UPDATE episodes SET status = ?, error = ?, sha256 = COALESCE(?, sha256),
                     audio_path = COALESCE(?, audio_path), outputs = ?, duration_s = ?, wall_s = ?, timings = ?,
                     updated_at = ?, claim_host = NULL, claim_pid = NULL, claim_token = NULL, claimed_at = NULL,
                     heartbeat_at = NULL, revision = CASE WHEN ?1 = 'done' THEN 0 ELSE revision END,
                     reviewed_at = CASE WHEN ?1 = 'done' THEN NULL ELSE reviewed_at END WHERE key = ?""",
                (outcome.status, outcome.error, outcome.sha256, outcome.audio_path, json.dumps(list(outcome.outputs)),
                 outcome.duration_s, outcome.wall_s, json.dumps(outcome.timings or {}), time.time(), key))
        return True

    def beat(self, holder: Holder) -> None:
        """Renew the heartbeat of every episode ``holder`` runs now."""
        with self._connect(write=True) as conn:
            conn.execute("UPDATE episodes SET heartbeat_at = ? WHERE claim_token = ? AND status = 'pending'",
                         (time.time(), holder.token))

    def release(self, holder: Holder) -> None:
        """Let go of every claim ``holder`` still has (a batch that stops): those rows stay ``pending``, for the
        next run to take at once."""
        with self._connect(write=True) as conn:
            conn.execute("""UPDATE episodes SET claim_host = NULL, claim_pid = NULL, claim_token = NULL,
                              claimed_at = NULL, heartbeat_at = NULL WHERE claim_token = ?""", (holder.token,))

    @staticmethod
    def _transition(conn: sqlite3.Connection, row: Optional[Row], new: str) -> None:
        """The one place a status changes: refuse a change :data:`TRANSITIONS` does not allow."""
        old = row.status if row else None
        if new not in TRANSITIONS.get(old, set()):
            key = row.key if row else "?"
            raise PodscribeError(f"catalog: episode {key} cannot go from {old or 'nothing'} to {new}")

    def connect(self, write: bool = False):
        """One transaction on the catalog's database, for the tables of the catalog's other users (the search
        index): as :meth:`_connect`."""
        return self._connect(write)

    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction: ``BEGIN IMMEDIATE`` for a write (the write lock taken first, so a
        read-then-write sees no other writer between), committed on success, rolled back on any error."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise PodscribeError(f"{self.path.parent}: cannot write here ({_why(exc)})") from None
        try:
            _prepare(conn, self.path)
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise PodscribeError(f"{self.path}: catalog unusable ({exc})") from None
        finally:
            conn.close()


BUSY_TIMEOUT_S = 30.0


def get_row(conn: sqlite3.Connection, key: str) -> Optional[Row]:
    """The episode's row, inside a transaction of the caller's (:meth:`Catalog.connect`)."""
    found = conn.execute("SELECT * FROM episodes WHERE key = ?", (key,)).fetchone()
    return row_from(found) if found else None


def is_done(row: Optional[Row], options_key: str) -> bool:
    """Done with these options, and every output it wrote still there."""
    return (row is not None and row.status == "done" and row.options_key == options_key
            and all(Path(p).is_file() for p in row.outputs))


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """WAL mode and the schema, created or brought up to date on first use (each step in one transaction, so two
    processes cannot both apply it); a newer schema is refused, not guessed at."""
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # again, under the write lock
        if version > SCHEMA_VERSION:
            raise PodscribeError(f"{path}: catalog schema {version} is newer than this podscribe's "
                                 f"({SCHEMA_VERSION})")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


_COLUMNS = ("key", "kind", "source", "feed", "show", "title", "date", "guid", "name", "sha256", "audio_path",
            "status", "model", "options_key", "options", "error", "outputs", "duration_s", "wall_s", "timings",
            "attempts", "created_at", "updated_at", "claim_host", "claim_pid", "claim_token", "claimed_at",
            "heartbeat_at", "indexed_at", "revision", "reviewed_at")
_SKIPPED = {"options", "timings", "created_at"}


def row_from(r: tuple) -> Row:
    """A :class:`Row` from ``SELECT *`` of the episodes table (its columns first, in order)."""
    values = dict(zip(_COLUMNS, r))
    values["outputs"] = tuple(json.loads(values["outputs"]))
    return Row(**{k: v for k, v in values.items() if k not in _SKIPPED})


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
