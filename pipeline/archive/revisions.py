"""Reviewed revisions of an episode, kept in the catalog (table ``revisions``); nothing is ever overwritten.

The first save of a review first keeps the model's transcript as it was (a ``model`` revision), then the reviewed
one (a ``review`` revision); each later save adds one more. A save names the revision it was made from
(``base``): when another save came first, it is refused as a :class:`Conflict` and nothing is written. After a
save every output file of the episode is written again from the new revision (so the JSON transcript, the forum
text and the rest are the reviewed text), the episode is indexed again and marked reviewed, and the names the
corrections teach join the show's vocabulary (:mod:`pipeline.archive.teach`), all in one write transaction.

The episode's ``revision`` says which revision its outputs are written from: 0 is the model's output as the run
wrote it (a run that transcribes the episode again sets it back to 0; the revisions before stay in the history).
"""
from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from pipeline.errors import PodscribeError
from pipeline.library.catalog import Catalog, Row
from pipeline.types import Transcript, written
from pipeline.writers import WRITERS, json_format, output_path, write_all

MAX_AUTHOR = 60


class Conflict(PodscribeError):
    """Another save came first: ``current`` is the revision the episode is at now."""

    def __init__(self, name: str, current: int, author: str, at: float):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if at else "earlier"
        super().__init__(f"{name}: saved by {author} at {when} (revision {current}) since you opened it; nothing "
                         f"was overwritten: your edits are still on your page")
        self.current = current


@dataclass(frozen=True)
class Revision:
    key: str
    n: int
    kind: str  # model | review
    author: str
    created_at: float


@dataclass(frozen=True)
class Saved:
    revision: int
    learned: tuple[str, ...]  # terms new to the show's vocabulary


def current_path(catalog: Catalog, row: Row) -> Path:
    """The episode's JSON transcript: the latest revision, or the model's own."""
    from pipeline.library.search import json_transcript

    path = json_transcript(catalog.outputs(row.outputs))
    if path is None:
        raise PodscribeError(f"{row.name}: no JSON transcript among its outputs (run it again with -f json or all)")
    return path


def current_transcript(catalog: Catalog, row: Row) -> Transcript:
    with open(current_path(catalog, row), encoding="utf-8") as f:
        return json_format.read(f)


def formats_of(row: Row) -> tuple[str, ...]:
    """The formats the episode was written in, from its outputs' names."""
    names = {Path(p).name for p in row.outputs}
    return tuple(fmt for fmt in WRITERS if output_path("", row.name, fmt).name in names)


def save(catalog: Catalog, key: str, base: int, transcript: Transcript, author: str,
         corrections: Sequence[tuple[str, str]] = ()) -> Saved:
    """Keep ``transcript`` as the episode's next revision, made from revision ``base`` (see the module)."""
    from pipeline.archive import teach
    from pipeline.library.search import index_passages

    author = " ".join(author.split())[:MAX_AUTHOR] or "reviewer"
    with catalog.connect(write=True) as conn:
        row = _row(conn, key)
        if row.status != "done":
            raise PodscribeError(f"{row.name}: it is {row.status} now (being transcribed, or failed): not saved")
        if row.revision != base:
            last = conn.execute("SELECT author, created_at FROM revisions WHERE key = ? AND n = ?",
                                (key, row.revision)).fetchone() or ("a new run of the model", row.updated_at)
            raise Conflict(row.name, row.revision, *last)
        n = conn.execute("SELECT COALESCE(MAX(n) + 1, 0) FROM revisions WHERE key = ?", (key,)).fetchone()[0]
        now = time.time()
        if row.revision == 0:
            model = f"model {row.model or ''}".strip()
            _insert(conn, key, n, "model", model, now, current_path(catalog, row).read_text(encoding="utf-8"))
            n += 1
        transcript = _named(transcript, row)
        _insert(conn, key, n, "review", author, now, json.dumps(json_format.to_dict(transcript), ensure_ascii=False))
        _rewrite(transcript, catalog.folder, formats_of(row))
        conn.execute("UPDATE episodes SET revision = ?, reviewed_at = ?, updated_at = ? WHERE key = ?",
                     (n, now, now, key))
        index_passages(conn, key, transcript)
        learned = teach.learn(conn, row.show, teach.learned_terms(corrections, transcript.language),
                              f"review of {row.name}")
    return Saved(n, learned)


def _rewrite(transcript: Transcript, folder: Path, formats: tuple[str, ...]) -> None:
    """Every output written again from ``transcript``; if one cannot be (a full disk), those already written are put
    back as they were before the error goes on, so the files never hold a revision the catalog rolled back."""
    from pipeline.files import atomic_write_bytes

    before = {path: path.read_bytes() for path in (output_path(folder, transcript.episode, f) for f in formats)
              if path.is_file()}
    try:
        write_all(transcript, folder, formats)
    except BaseException:
        for path, data in before.items():
            atomic_write_bytes(path, data)
        raise


def _named(transcript: Transcript, row: Row) -> Transcript:
    """The saved transcript keeps the episode's name and hash, whatever the page sent."""
    from dataclasses import replace

    return replace(transcript, episode=row.name, sha256=row.sha256 or transcript.sha256)


def _insert(conn, key: str, n: int, kind: str, author: str, at: float, text: str) -> None:
    conn.execute("INSERT INTO revisions (key, n, kind, author, created_at, transcript) VALUES (?, ?, ?, ?, ?, ?)",
                 (key, n, kind, author, at, text))


def _row(conn, key: str) -> Row:
    from pipeline.library.catalog import get_row

    row = get_row(conn, key)
    if row is None:
        raise PodscribeError(f"{key}: no such episode")
    return row


def history(catalog: Catalog, key: str) -> list[Revision]:
    """The episode's revisions, oldest first."""
    with catalog.connect() as conn:
        return [Revision(*r) for r in conn.execute(
            "SELECT key, n, kind, author, created_at FROM revisions WHERE key = ? ORDER BY n", (key,))]


def revision_transcript(catalog: Catalog, key: str, n: int) -> Transcript:
    with catalog.connect() as conn:
        found = conn.execute("SELECT transcript FROM revisions WHERE key = ? AND n = ?", (key, n)).fetchone()
    if found is None:
        raise PodscribeError(f"no revision {n} of this episode")
    return json_format.from_dict(json.loads(found[0]))


def first_model_and_last_review(catalog: Catalog, key: str) -> Optional[tuple[Transcript, Transcript]]:
    """The model's transcript the latest review was made from, and that review (None when never reviewed)."""
    revs = history(catalog, key)
    reviews = [r for r in revs if r.kind == "review"]
    if not reviews:
        return None
    last = reviews[-1]
    model = [r for r in revs if r.kind == "model" and r.n < last.n][-1]
    return revision_transcript(catalog, key, model.n), revision_transcript(catalog, key, last.n)


# ---------------------------------------------------------------- what changed between two revisions (pure)


@dataclass(frozen=True)
class Change:
    op: str  # same | removed | added
    text: str


def tokens(transcript: Transcript) -> list[str]:
    """The transcript as a word list, each turn starting with its speaker's label (so a turn given to another
    speaker shows as a change); a word still marked carries the mark."""
    out = []
    for turn in transcript.turns:
        out.append(f"{turn.speaker}:")
        out.extend("[?]" if w.gap else w.text + (" [?]" if w.uncertain else "") for w in written(turn.words)
                   if w.gap or w.text)
    return out


def diff(a: Transcript, b: Transcript) -> list[Change]:
    """Word-level changes from ``a`` to ``b``, runs of the same kind joined."""
    old, new = tokens(a), tokens(b)
    out: list[Change] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Change("same", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            out.append(Change("removed", " ".join(old[i1:i2])))
        if j2 > j1:
            out.append(Change("added", " ".join(new[j1:j2])))
    return out
