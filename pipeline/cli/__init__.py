"""The ``podscribe`` command: thin click commands over the library, one module per command group.

``transcribe.py`` and ``feeds.py`` (feed, status) share their options through ``options.py`` and run their
batches through ``running.py``; ``models.py``, ``voices.py`` and ``evaluate.py`` are groups of their own. Heavy
modules are imported inside the commands, so ``--help`` stays fast.
"""
from __future__ import annotations

import click

from pipeline.cli.errors import Failure
from pipeline.cli.evaluate import evaluate
from pipeline.cli.feeds import feed, status
from pipeline.cli.models import models
from pipeline.cli.options import HELP
from pipeline.cli.search import search
from pipeline.cli.serve import serve
from pipeline.cli.transcribe import transcribe
from pipeline.cli.voices import voices
from pipeline.errors import PodscribeError


class PodscribeGroup(click.Group):
    """The one place a :class:`PodscribeError` from any command becomes its one-line error (exit 1)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PodscribeError as exc:
            raise Failure(str(exc)) from None


@click.group(cls=PodscribeGroup, context_settings=HELP)
@click.version_option(package_name="podscribe")
def main() -> None:
    """Speaker-tagged podcast transcripts, with the spans the model was unsure of marked [?]."""


for command in (transcribe, feed, status, search, serve, models, voices, evaluate):
    main.add_command(command)
