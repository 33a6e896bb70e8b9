"""The catalog: one row per episode in ``OUTPUT_DIR/catalog.sqlite`` (standard-library sqlite3).

An episode is keyed by what identifies it: ``guid:<guid>`` for a feed item, ``url:<url>`` for a URL given
on the command line, ``sha256:<hash>`` for a local file. Its row says where it came from, its status
(``pending`` while it runs, then ``done`` or ``failed``), the model and a digest of the options it ran with,
the error, outputs and timings. Every operation opens its own connection (WAL, a busy timeout), so several
processes can share the file; status changes go through :meth:`Catalog._transition` only, in one
transaction each, so a kill at any point leaves every row in one of the three states. A row left
``pending`` by a killed run is simply run again.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from pipeline.errors import PodscribeError

SCHEMA_VERSION = 1
CATALOG_NAME = "catalog.sqlite"
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

    def get(self, key: str) -> Optional[Row]:
        with self._connect() as conn:
            found = conn.execute("SELECT * FROM episodes WHERE key = ?", (key,)).fetchone()
        return _row(found) if found else None

    def rows(self, status: Optional[str] = None, limit: Optional[int] = None) -> list[Row]:
        """Rows, newest episode first (then most recently changed), optionally of one status."""
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        sql = (f"SELECT * FROM episodes {where} ORDER BY COALESCE(date, '') DESC, updated_at DESC, key"
               + (" LIMIT ?" if limit else ""))
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(sql, args + ([limit] if limit else []))]

    def is_done(self, key: str, options_key: str) -> bool:
        """Done with these options, and every output it wrote still there."""
        row = self.get(key)
        return (row is not None and row.status == "done" and row.options_key == options_key
                and all(Path(p).is_file() for p in row.outputs))

    def start(self, record: EpisodeRecord, model: str, options_key: str, options: dict) -> None:
        """The episode is about to run: its row becomes ``pending`` (created if new)."""
        now = time.time()
        with self._connect() as conn:
            self._transition(conn, record.key, "pending")
            conn.execute(
                """INSERT INTO episodes (key, kind, source, feed, show, title, date, guid, name, sha256, status,
                                         model, options_key, options, attempts, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, 1, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET
                     kind = excluded.kind, source = excluded.source, feed = excluded.feed, show = excluded.show,
                     title = excluded.title, date = excluded.date, guid = excluded.guid, name = excluded.name,
                     sha256 = COALESCE(excluded.sha256, sha256), status = 'pending', model = excluded.model,
                     options_key = excluded.options_key, options = excluded.options, error = NULL,
                     attempts = attempts + 1, updated_at = excluded.updated_at""",
                (record.key, record.kind, record.source, record.feed, record.show, record.title, record.date,
                 record.guid, record.name, record.sha256, model, options_key,
                 json.dumps(options, sort_keys=True, default=str), now, now))

    def finish(self, key: str, outcome: Outcome) -> None:
        """The episode's run ended: ``done`` or ``failed``, with what it gave."""
        with self._connect() as conn:
            self._transition(conn, key, outcome.status)
            conn.execute(
                """UPDATE episodes SET status = ?, error = ?, sha256 = COALESCE(?, sha256),
                     audio_path = COALESCE(?, audio_path), outputs = ?, duration_s = ?, wall_s = ?, timings = ?,
                     updated_at = ? WHERE key = ?""",
                (outcome.status, outcome.error, outcome.sha256, outcome.audio_path, json.dumps(list(outcome.outputs)),
                 outcome.duration_s, outcome.wall_s, json.dumps(outcome.timings or {}), time.time(), key))

    @staticmethod
    def _transition(conn: sqlite3.Connection, key: str, new: str) -> None:
        """The one place a status changes: refuse a change :data:`TRANSITIONS` does not allow."""
        found = conn.execute("SELECT status FROM episodes WHERE key = ?", (key,)).fetchone()
        old = found[0] if found else None
        if new not in TRANSITIONS.get(old, set()):
            raise PodscribeError(f"catalog: episode {key} cannot go from {old or 'nothing'} to {new}")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise PodscribeError(f"{self.path.parent}: cannot write here ({_why(exc)})") from None
        try:
            _prepare(conn, self.path)
            with conn:  # one transaction: committed on success, rolled back on any error
                yield conn
        except sqlite3.DatabaseError as exc:
            raise PodscribeError(f"{self.path}: catalog unusable ({exc})") from None
        finally:
            conn.close()


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """WAL mode and the schema, created on first use; a newer schema is refused, not guessed at."""
    conn.execute("PRAGMA busy_timeout = 30000")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise PodscribeError(f"{path}: catalog schema {version} is newer than this podscribe's ({SCHEMA_VERSION})")
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
    except sqlite3.OperationalError as exc:
        conn.rollback()
        if "already exists" not in str(exc):  # else another process created it first
            raise PodscribeError(f"{path.parent}: cannot write here ({exc})") from None


def _row(r: tuple) -> Row:
    (key, kind, source, feed, show, title, date, guid, name, sha256, audio_path, status, model, options_key,
     _options, error, outputs, duration_s, wall_s, _timings, attempts, _created, updated_at) = r
    return Row(key=key, kind=kind, source=source, name=name, status=status, feed=feed, show=show, title=title,
               date=date, guid=guid, sha256=sha256, audio_path=audio_path, model=model, options_key=options_key,
               error=error, outputs=tuple(json.loads(outputs)), duration_s=duration_s, wall_s=wall_s,
               attempts=attempts, updated_at=updated_at)


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
