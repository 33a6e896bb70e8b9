"""How the command reports a failure: one line, ``error: ...``, never a traceback.

A :class:`~pipeline.errors.PodscribeError` raised by any command becomes a :class:`Failure` (exit 1) in one
place, the ``podscribe`` group (``pipeline/cli/__init__.py``); an option the run cannot use, found before any
work, is an :class:`OptionError` (exit 2, as click's own usage errors).
"""
from __future__ import annotations

import click


class Failure(click.ClickException):
    """The command could not do its work: ``error: MESSAGE``, exit 1."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OptionError(click.UsageError):
    """An option the run cannot use (a model that does not resolve, a voices folder that is not one): one line,
    exit 2, before anything is downloaded, decoded, loaded or written to the catalog."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)
