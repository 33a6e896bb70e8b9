"""The exception types the CLI turns into a one-line message."""


class PodscribeError(Exception):
    """A user-facing failure: bad input, missing model, unwritable output."""


class UnreadableAudio(PodscribeError):
    """A file whose content is not audio ffmpeg can decode whole (empty, no audio track, damaged, truncated): a
    downloaded one is fetched again on the next run."""
