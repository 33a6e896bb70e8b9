"""``podscribe search``: every episode of a catalog, by words, phrases and prefixes (pipeline/library/search.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from pipeline.cli.errors import Failure
from pipeline.cli.options import HELP


@click.command(context_settings=HELP)
@click.argument("query", required=False, default="")
@click.option("-o", "--output-dir", default="outputs", show_default=True, type=click.Path(path_type=Path),
              help="The output folder whose catalog.sqlite to search.")
@click.option("--speaker", default=None, help="Only what this speaker said (as the transcripts name them).")
@click.option("--show", default=None, help="Only this show's episodes (as `podscribe status` shows it).")
@click.option("--uncertain", is_flag=True,
              help="Only words marked [?] (and gaps: the word 'gap'); with no QUERY, every passage with a mark, the "
                   "newest episode first.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many hits.")
@click.option("--rebuild", is_flag=True, help="Make the index again from every done episode's JSON transcript first.")
def search(query: str, output_dir: Path, speaker: Optional[str], show: Optional[str], uncertain: bool, limit: int,
           rebuild: bool) -> None:
    """Search every transcribed episode: words (all must be there; case and accents ignored), "a phrase" and
    prefix*, best first. Each hit gives the episode, the time, the speaker and the passage around it; exit 1
    when nothing matches."""
    from pipeline.library import search as index
    from pipeline.writers.format import timestamp

    catalog = existing_catalog(output_dir)
    if rebuild:
        episodes, passages = index.rebuild(catalog)
        click.echo(f"indexed {episodes} episode(s), {passages} passage(s)", err=True)
        if not query and not uncertain:
            return
    catch_up(catalog)
    hits = index.search(catalog, query, speaker=speaker, show=show, uncertain=uncertain, limit=limit)
    for hit in hits:
        at = timestamp(hit.time_s, always_hours=False)
        where = " · ".join(filter(None, (hit.show, hit.episode, at, hit.speaker)))
        click.echo(f"{where}\n    {hit.text}")
    if not hits:
        raise Failure(f"no match for {query!r}" if query else "no passage with a [?] mark")


def existing_catalog(output_dir: Path):
    """The output folder's catalog, for ``search`` and ``serve``: a one-line error where it has none (rather than
    an empty one made)."""
    from pipeline.library.catalog import CATALOG_NAME, Catalog

    if not (output_dir / CATALOG_NAME).is_file():
        raise Failure(f"{output_dir}: no {CATALOG_NAME} here (transcribe something first, or give -o)")
    return Catalog.in_folder(output_dir)


def catch_up(catalog) -> None:
    """Index the done episodes the index lacks (done before it existed, or left out by a killed run), saying so."""
    from pipeline.library.search import catch_up as index_missing

    if added := index_missing(catalog):
        click.echo(f"added {added} episode(s) to the search index", err=True)
