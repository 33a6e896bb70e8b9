"""``podscribe models``: the local model store (models/), listed and prepared from installed packages."""
from __future__ import annotations

import click

from pipeline.cli.options import HELP
from pipeline.errors import PodscribeError


@click.group(context_settings=HELP)
def models() -> None:
    """The local model store (models/): list and prepare weights from installed packages."""


@models.command("list")
def models_list() -> None:
    """Show each model: ready, preparable from an installed package, or missing."""
    from pipeline.store.registry import status

    rows = status()
    width = max(len(r.name) for r in rows)
    for r in rows:
        hint = (str(r.path) if r.state == "ready" else f"pip install {' '.join(r.packages)}" if r.state == "missing"
                else f"from {', '.join(r.packages)}")
        click.echo(f"{r.name:<{width}}  {r.kind:<12}  {r.state:<10}  {hint}")


@models.command("prepare")
@click.argument("names", nargs=-1)
def models_prepare(names) -> None:
    """Convert or copy NAMES (default: every preparable model) into models/, checking checksums."""
    from pipeline.store.registry import prepare, status

    targets = names or tuple(r.name for r in status() if r.state != "missing")
    failed = 0
    for name in targets:
        try:
            click.echo(f"{name}: {prepare(name)}")
        except PodscribeError as exc:  # one model that cannot be made does not stop the others
            click.echo(f"error: {exc}", err=True)
            failed += 1
    if failed:
        raise click.exceptions.Exit(1)
