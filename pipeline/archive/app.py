"""``podscribe serve``: the archive as a web app (Starlette on uvicorn), over an output folder's catalog.

Pages are server-side Jinja2 templates (``templates/``) with our own small CSS and JavaScript (``static/``); an
episode opens the review page the html writer makes, served with its audio (HTTP Range, so seeking works in a
long file) and saving to the server (:mod:`pipeline.archive.revisions`). Only files the catalog names are served:
an episode's audio and its outputs, found by the episode's name, never by a path from the request.
:mod:`pipeline.archive.guard` decides who may ask. Every refusal is a 4xx with one line of text.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipeline.archive import revisions, teach
from pipeline.archive.guard import Guard
from pipeline.archive.stats import SpeakerStats, combine
from pipeline.errors import PodscribeError
from pipeline.library import search as index
from pipeline.library.catalog import Catalog, Row, row_from
from pipeline.writers import WRITERS, output_path

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024 * 1024  # a saved transcript: a 3-hour episode's JSON is about 5 MB
SEARCH_LIMIT = 50
PAGE = 100  # episodes listed on a page


@dataclass(frozen=True)
class EpisodeLine:
    """An episode as the archive lists it."""

    row: Row
    speakers: int
    words: int
    marked: int

    @property
    def marked_share(self) -> Optional[float]:
        return self.marked / self.words if self.words else None


def create_app(output_dir: Path, host: str = "127.0.0.1", token: Optional[str] = None):
    """The ASGI app for ``output_dir``'s catalog, behind its guard."""
    catalog = Catalog.in_folder(output_dir)
    pages = _templates()
    app = Starlette(routes=[
        Route("/", partial(_index, catalog=catalog, pages=pages)),
        Route("/search", partial(_search, catalog=catalog, pages=pages)),
        Route("/show", partial(_show, catalog=catalog, pages=pages)),
        Route("/show/vocabulary", partial(_vocabulary, catalog=catalog), methods=["POST"]),
        Route("/episode/{name}", partial(_episode, catalog=catalog)),
        Route("/episode/{name}/audio", partial(_audio, catalog=catalog)),
        Route("/episode/{name}/history", partial(_history, catalog=catalog, pages=pages)),
        Route("/episode/{name}/file/{fmt}", partial(_output, catalog=catalog)),
        Route("/episode/{name}/export", partial(_export, catalog=catalog)),
        Route("/episode/{name}/revisions", partial(_save, catalog=catalog), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], exception_handlers={HTTPException: _http_error, PodscribeError: _bad_request, Exception: _server_error})
    return Guard(app, host, token)


def _templates():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from pipeline.writers.format import timestamp

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["clock"] = lambda s: timestamp(s or 0.0, always_hours=False).split(".")[0]
    env.filters["pct"] = lambda x: "" if x is None else f"{100 * x:.1f} %"
    env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""
    env.globals["PAGE"] = PAGE
    env.filters["q"] = lambda s: quote(s or "", safe="")
    env.filters["marked"] = index.highlight
    env.filters["hit_url"] = hit_url
    return env


def _page(pages, template: str, **values) -> HTMLResponse:
    return HTMLResponse(pages.get_template(template).render(**values))


# ---------------------------------------------------------------- lists


def episode_lines(catalog: Catalog, show: Optional[str] = None, page: int = 0) -> tuple[list[EpisodeLine], bool]:
    """One page of episodes, newest first (of one show: ``""`` for those with none), and whether more follow."""
    where = "WHERE COALESCE(e.show, '') = ?" if show is not None else ""
    sql = (f"SELECT e.*, COUNT(s.speaker), COALESCE(SUM(s.words), 0), COALESCE(SUM(s.marked), 0) FROM episodes e "
           f"LEFT JOIN speaker_stats s ON s.key = e.key {where} GROUP BY e.key "
           f"ORDER BY COALESCE(e.date, '') DESC, e.updated_at DESC, e.key LIMIT ? OFFSET ?")
    args = ([show] if show is not None else []) + [PAGE + 1, page * PAGE]
    with catalog.connect() as conn:
        found = conn.execute(sql, args).fetchall()
    lines = [EpisodeLine(row_from(r), *r[-3:]) for r in found[:PAGE]]
    return lines, len(found) > PAGE


@dataclass(frozen=True)
class ShowLine:
    name: str  # "" for episodes with no show
    episodes: int
    done: int
    reviewed: int


def show_lines(catalog: Catalog) -> list[ShowLine]:
    with catalog.connect() as conn:
        return [ShowLine(*r) for r in conn.execute(
            "SELECT COALESCE(show, ''), COUNT(*), SUM(status = 'done'), COUNT(reviewed_at) FROM episodes "
            "GROUP BY COALESCE(show, '') ORDER BY MAX(COALESCE(date, '')) DESC")]


def show_stats(catalog: Catalog, show: Optional[str]) -> tuple[SpeakerStats, ...]:
    """Speaker statistics over a show's done episodes (``None``: the whole archive)."""
    sql = ("SELECT s.speaker, s.talk_s, s.words, s.turns, s.marked FROM speaker_stats s JOIN episodes e "
           "ON e.key = s.key WHERE e.status = 'done'" + (" AND COALESCE(e.show, '') = ?" if show is not None else ""))
    with catalog.connect() as conn:
        rows = conn.execute(sql, (show,) if show is not None else ()).fetchall()
    return combine(SpeakerStats(*r) for r in rows)


def episode_stats(catalog: Catalog, key: str) -> tuple[SpeakerStats, ...]:
    with catalog.connect() as conn:
        rows = conn.execute("SELECT speaker, talk_s, words, turns, marked FROM speaker_stats WHERE key = ? "
                            "ORDER BY talk_s DESC", (key,)).fetchall()
    return tuple(SpeakerStats(*r) for r in rows)


def _index(request: Request, catalog: Catalog, pages) -> HTMLResponse:
    page = _page_number(request)
    lines, more = episode_lines(catalog, page=page)
    return _page(pages, "index.html", lines=lines, shows=show_lines(catalog), page=page, more=more,
                 title="All episodes")


def _show(request: Request, catalog: Catalog, pages) -> HTMLResponse:
    name, page = request.query_params.get("name", ""), _page_number(request)
    lines, more = episode_lines(catalog, name, page)
    return _page(pages, "show.html", name=name, lines=lines, page=page, more=more, stats=show_stats(catalog, name),
                 vocabulary=teach.entries(catalog, name), title=name or "Episodes without a show")


def _page_number(request: Request) -> int:
    page = _int(request.query_params.get("page"), 0)
    if page < 0:
        raise HTTPException(400, "page is 0 or more")
    return page


async def _vocabulary(request: Request, catalog: Catalog) -> Response:
    body = await _json_body(request)
    show, text = body.get("show"), body.get("terms")
    if not isinstance(show, str) or not isinstance(text, str):
        raise HTTPException(400, "give show and terms (text)")
    return JSONResponse({"terms": list(await run_in_threadpool(teach.replace_vocabulary, catalog, show, text))})


def _search(request: Request, catalog: Catalog, pages) -> Response:
    q = request.query_params
    query, speaker, show = q.get("q", ""), q.get("speaker") or None, q.get("show") or None
    uncertain = q.get("uncertain") == "1"
    hits = []
    if query.strip() or uncertain:
        hits = index.search(catalog, query, speaker=speaker, show=show, uncertain=uncertain, limit=SEARCH_LIMIT)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"hits": [{"episode": h.episode, "show": h.show, "speaker": h.speaker, "time_s": h.time_s,
                                       "text": h.text, "url": hit_url(h)} for h in hits]})
    return _page(pages, "search.html", query=query, speaker=speaker or "", show=show or "", uncertain=uncertain,
                 hits=hits, shows=sorted(s.name for s in show_lines(catalog)), title=f"Search: {query}")


def hit_url(hit: index.Hit) -> str:
    """The review page of the hit's episode, at the hit's time (the page selects the word there)."""
    return f"/episode/{quote(hit.episode, safe='')}#t={hit.time_s:.2f}"


# ---------------------------------------------------------------- one episode


def _row(request: Request, catalog: Catalog) -> Row:
    """The episode the URL names (by its output name); 404 for any other name, paths included."""
    name = request.path_params["name"]
    with catalog.connect() as conn:
        found = conn.execute("SELECT * FROM episodes WHERE name = ? ORDER BY updated_at DESC LIMIT 1",
                             (name,)).fetchone()
    if found is None:
        raise HTTPException(404, f"no episode named {name!r} in this archive")
    return row_from(found)


def _done(row: Row) -> Row:
    if row.status != "done":
        raise HTTPException(409, f"{row.name} is {row.status}: nothing to show yet")
    return row


def _episode(request: Request, catalog: Catalog) -> Response:
    """The review page, made once per revision of the transcript (a 3-hour episode's JSON takes a fifth of a
    second to read) and sent compressed where the browser takes it."""
    row = _done(_row(request, catalog))
    path = revisions.current_path(catalog, row)
    stat = path.stat()
    page, packed = _episode_page(str(path), stat.st_mtime_ns, stat.st_size, row.name, row.revision,
                                 bool(row.audio_path))
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    headers = {"content-encoding": "gzip", "vary": "accept-encoding"} if gzip else {"vary": "accept-encoding"}
    return Response(packed if gzip else page, media_type="text/html; charset=utf-8", headers=headers)


@lru_cache(maxsize=8)
def _episode_page(path: str, mtime_ns: int, size: int, name: str, revision: int,
                  has_audio: bool) -> tuple[bytes, bytes]:
    """The page and its gzip, for this transcript file as it is now (its time and size are part of the key)."""
    import gzip

    from pipeline.writers import json_format
    from pipeline.writers.html import PageAudio, render

    with open(path, encoding="utf-8") as f:
        transcript = json_format.read(f)
    base = f"/episode/{quote(name)}"
    audio = PageAudio(src=f"{base}/audio") if has_audio else PageAudio()
    server = {"save": f"{base}/revisions", "revision": revision, "history": f"{base}/history", "archive": "/"}
    page = render(transcript, audio, server=server).encode("utf-8")
    return page, gzip.compress(page, compresslevel=5)


def _audio(request: Request, catalog: Catalog) -> FileResponse:
    row = _row(request, catalog)
    path = _served_audio(row, catalog.folder)
    return FileResponse(path, media_type=_audio_type(path))


def _served_audio(row: Row, output_dir: Path) -> Path:
    """The catalog's audio file of the episode: a regular file, and, if it is a symlink, one that stays in its
    own folder. A relative path is the run's: from where it ran, else beside the output folder (``audio/`` and
    ``outputs/`` of one project)."""
    if not row.audio_path:
        raise HTTPException(404, f"{row.name}: the catalog names no audio file")
    path = Path(row.audio_path)
    if not path.is_absolute() and not path.exists():
        path = output_dir.resolve().parent / path
    _inside(path, path.parent.resolve(), row.name)
    return path


def _inside(path: Path, folder: Path, name: str) -> None:
    real = path.resolve()
    if not real.is_relative_to(folder):
        raise HTTPException(403, f"{name}: {path.name} leads out of its folder; not served")
    if not real.is_file():
        raise HTTPException(404, f"{name}: {path.name} is not there any more")


def _audio_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _output(request: Request, catalog: Catalog) -> FileResponse:
    row = _row(request, catalog)
    fmt = request.path_params["fmt"]
    if fmt not in WRITERS:
        raise HTTPException(404, f"no format {fmt!r}: {', '.join(WRITERS)}")
    if fmt not in revisions.formats_of(row):
        raise HTTPException(404, f"{row.name} was not written as {fmt}")
    path = output_path(catalog.folder, row.name, fmt)
    _inside(path, catalog.folder.resolve(), row.name)
    return FileResponse(path, filename=path.name)


def _export(request: Request, catalog: Catalog) -> Response:
    """The forum text with every [?] word as the mark alone (``?style=bare``, a reference for ``evaluate``), or
    with the model's guess kept before its mark (the default, as the saved outputs)."""
    import io

    from pipeline.writers import forum

    row = _done(_row(request, catalog))
    style = request.query_params.get("style", "guess")
    if style not in ("guess", "bare"):
        raise HTTPException(400, "style is guess or bare")
    buf = io.StringIO()
    forum.write(revisions.current_transcript(catalog, row), buf, drop_uncertain=style == "bare")
    suffix = ".reference" if style == "bare" else ""
    return PlainTextResponse(buf.getvalue(), headers={
        "content-disposition": f'attachment; filename="{row.name}{suffix}.forum.txt"'})


def _history(request: Request, catalog: Catalog, pages) -> HTMLResponse:
    row = _row(request, catalog)
    revs = revisions.history(catalog, row.key)
    changes, a, b = [], None, None
    if len(revs) >= 2:
        numbers = [r.n for r in revs]
        b = _int(request.query_params.get("b"), numbers[-1])
        a = _int(request.query_params.get("a"), max(n for n in numbers if n < b) if b > numbers[0] else numbers[0])
        if a not in numbers or b not in numbers:
            raise HTTPException(404, f"no such revision: there are {', '.join(map(str, numbers))}")
        changes = revisions.diff(revisions.revision_transcript(catalog, row.key, a),
                                 revisions.revision_transcript(catalog, row.key, b))
    return _page(pages, "history.html", row=row, formats=revisions.formats_of(row), revisions=revs, changes=changes,
                 a=a, b=b, stats=episode_stats(catalog, row.key), title=f"{row.name}: history")


def _int(value: Optional[str], default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise HTTPException(400, f"not a number: {value!r}") from None


async def _save(request: Request, catalog: Catalog) -> JSONResponse:
    from pipeline.writers.json_format import from_dict

    row = _row(request, catalog)
    body = await _json_body(request)
    base, data = body.get("base"), body.get("transcript")
    if not isinstance(base, int) or not isinstance(data, dict):
        raise HTTPException(400, "give base (the revision the page was opened at) and transcript")
    try:
        transcript = from_dict({**data, "episode": row.name, "sha256": row.sha256 or ""})
    except (KeyError, TypeError, ValueError) as exc:
        raise HTTPException(400, f"not a transcript ({type(exc).__name__}: {exc})") from None
    corrections = [(c.get("from", ""), c.get("to", "")) for c in (data.get("review") or {}).get("corrections", [])
                   if isinstance(c, dict) and isinstance(c.get("from", ""), str) and isinstance(c.get("to", ""), str)]
    try:
        saved = await run_in_threadpool(revisions.save, catalog, row.key, base, transcript,
                                        str(body.get("author") or ""), corrections)  # files written: off the loop
    except revisions.Conflict as exc:
        return JSONResponse({"error": str(exc), "revision": exc.current}, status_code=409)
    return JSONResponse({"revision": saved.revision, "learned": list(saved.learned)})


async def _json_body(request: Request) -> dict:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise HTTPException(413, f"too large: at most {MAX_BODY // 2**20} MB")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, f"too large: at most {MAX_BODY // 2**20} MB")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body is not a JSON object")
    return body


# ---------------------------------------------------------------- errors: one line, never a traceback


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return _line(exc.status_code, exc.detail)


async def _bad_request(request: Request, exc: PodscribeError) -> Response:
    return _line(400, str(exc))


async def _server_error(request: Request, exc: Exception) -> Response:
    import logging

    logging.getLogger(__name__).exception("serving %s", request.url.path)
    return _line(500, f"internal error ({type(exc).__name__}); the server's log has the details")


def _line(status: int, text: str) -> Response:
    return PlainTextResponse(text.splitlines()[0] + "\n" if text else "\n", status_code=status)


def url_for(host: str, port: int, token: Optional[str]) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")

