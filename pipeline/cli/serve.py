"""``podscribe serve``: the archive of an output folder as a local web app (pipeline/archive/app.py)."""
from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Optional

import click

from pipeline.cli.errors import Failure, OptionError
from pipeline.cli.options import HELP


@click.command(context_settings=HELP)
@click.option("-o", "--output-dir", default="outputs", show_default=True, type=click.Path(path_type=Path),
              help="The output folder whose catalog.sqlite to serve.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; any but loopback needs a token (made and printed if not given).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port (0: any free one).")
@click.option("--token", default=None, envvar="PODSCRIBE_TOKEN",
              help="The token every request must carry (env PODSCRIBE_TOKEN); also usable on 127.0.0.1.")
def serve(output_dir: Path, host: str, port: int, token: Optional[str]) -> None:
    """Serve the archive: every show and episode, search, speaker statistics, and each episode's review page with
    its audio, saving reviewed revisions to the server. Stop it with Ctrl-C."""
    from pipeline.archive.guard import is_loopback
    from pipeline.cli.search import existing_catalog

    catalog = existing_catalog(output_dir)
    if token is not None and len(token) < 16:
        raise OptionError("--token: at least 16 characters")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    sock = _listen(host, port)
    _run(catalog, host, sock, token)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one line, and port 0 tells its number."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OptionError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise Failure(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    return sock


def _run(catalog, host: str, sock: socket.socket, token: Optional[str]) -> None:
    import uvicorn

    from pipeline.archive.app import create_app, url_for
    from pipeline.cli.search import catch_up

    catch_up(catalog)
    app = create_app(catalog.folder, host=host, token=token)
    port = sock.getsockname()[1]
    click.echo(f"serving {catalog.folder} at {url_for(host, port, token)}  (Ctrl-C stops)", err=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])
