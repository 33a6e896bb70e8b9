"""The one exception type the CLI turns into a one-line message."""


class PodscribeError(Exception):
    """A user-facing failure: bad input, missing model, unwritable output."""
