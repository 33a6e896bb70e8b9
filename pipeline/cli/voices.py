"""``podscribe voices``: enrol, list and remove the voices transcripts name speakers by."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from pipeline.cli.options import HELP
from pipeline.errors import PodscribeError

_VOICES = click.option("--voices", "folder", default="voices", show_default=True, type=click.Path(path_type=Path),
                       help="The folder of enrolled voices.")


@click.group(context_settings=HELP)
def voices() -> None:
    """Enrolled voices: transcripts name the speakers they recognise.

    A voice is a few CAM++ embeddings of a person's speech (biometric data: kept only in the voices folder,
    never any audio); delete a voice with `podscribe voices remove NAME`, or all of them by deleting the folder.
    """


@voices.command("add")
@click.argument("name")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--start", type=float, default=None, help="Start of the clip in FILE, in seconds.")
@click.option("--end", type=float, default=None, help="End of the clip in FILE, in seconds.")
@click.option("--from", "episode", type=click.Path(path_type=Path), default=None,
              help="A transcript JSON (outputs/EP.json) to enrol from, with --speaker.")
@click.option("--speaker", default=None, help="The speaker label in --from's transcript (e.g. 'SPEAKER 2').")
@_VOICES
def add(name: str, file: Optional[Path], start, end, episode: Optional[Path], speaker: Optional[str],
        folder: Path) -> None:
    """Enrol NAME from FILE (one speaker; --start/--end pick a part), or from a transcribed episode
    (--from outputs/EP.json --speaker LABEL). Adding to an existing NAME adds to its voice."""
    if (file is None) == (episode is None):
        raise click.UsageError("give either FILE or --from EPISODE.json")
    if episode is not None and not speaker:
        raise click.UsageError("--from needs --speaker LABEL")
    if episode is not None and (start is not None or end is not None):
        raise click.UsageError("--start/--end go with FILE, not --from")
    if file is not None and speaker:
        raise click.UsageError("--speaker goes with --from")
    _add(name, file, start, end, episode, speaker, folder)


def _add(name, file, start, end, episode, speaker, folder: Path) -> None:
    from pipeline.voices.enrol import VoiceEmbedder, clip, episode_turns
    from pipeline.voices.store import Enrolment, Voice, check_name, embedding_identity, find_voice, now, save_voice

    name = check_name(name)
    identity = embedding_identity()
    existing = find_voice(folder, name, identity)  # a bad file of that name stops us here, unchanged
    if file is not None:
        samples, source = clip(file, start, end)
        pieces = [samples]
    else:
        pieces, source = episode_turns(episode, speaker)
    embedded = VoiceEmbedder().embed(pieces, source)
    enrolment = Enrolment(source=source, speech_s=embedded.speech_s, added=now())
    voice = existing.added(embedded.embeddings, enrolment) if existing else \
        Voice(name=name, model_sha256=identity, embeddings=embedded.embeddings, enrolments=(enrolment,))
    path = save_voice(folder, voice)
    click.echo(f"{name}: {embedded.speech_s:.1f} s of speech enrolled from {source} "
               f"({voice.speech_s:.1f} s in all) -> {path}")


@voices.command("list")
@_VOICES
def list_voices(folder: Path) -> None:
    """Each voice: name, seconds of speech enrolled, from where, when."""
    from pipeline.voices.store import SUFFIX, embedding_identity, read_voice

    identity = embedding_identity()
    paths = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    if not paths:
        click.echo(f"no voices enrolled in {folder}")
        return
    bad = 0
    for path in paths:
        try:
            voice = read_voice(path, identity)
        except PodscribeError as exc:  # one unreadable voice does not hide the others
            click.echo(f"error: {exc}", err=True)
            bad += 1
            continue
        click.echo(f"{voice.name}: {voice.speech_s:.1f} s")
        for e in voice.enrolments:
            click.echo(f"  {e.speech_s:6.1f} s  {e.added}  {e.source}")
    if bad:
        raise click.exceptions.Exit(1)


@voices.command("remove")
@click.argument("name")
@_VOICES
def remove(name: str, folder: Path) -> None:
    """Delete the voice NAME (its file in the voices folder)."""
    from pipeline.voices.store import remove_voice

    path = remove_voice(folder, name)
    click.echo(f"removed {name} ({path})")

