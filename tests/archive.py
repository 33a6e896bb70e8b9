"""An output folder with a catalog and done episodes made from hand-written transcripts, for the archive's tests
(no model): the JSON and forum outputs written as a run writes them, the row claimed and finished as a run does."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

from pipeline.library.catalog import Catalog, EpisodeRecord, Holder, Outcome
from pipeline.library.search import index_outputs
from pipeline.types import SpeakerTurn, Transcript, Turn, Word
from pipeline.writers import write_all

FORMATS = ("json", "forum", "txt", "srt", "html")


def spoken(speaker: str, start_s: float, text: str, marked: tuple[int, ...] = ()) -> Turn:
    """A turn of ``text``'s words 0.5 s apart; the words at ``marked`` (indices) uncertain."""
    words = tuple(Word(w, round(start_s + 0.5 * i, 3), round(start_s + 0.5 * i + 0.4, 3),
                       0.3 if i in marked else 0.95, speaker, i in marked) for i, w in enumerate(text.split()))
    return Turn(speaker, words)


def transcript(name: str, turns: tuple[Turn, ...], source: str = "") -> Transcript:
    end = max(t.words[-1].end_s for t in turns)
    return Transcript(episode=name, sha256=name.ljust(64, "0")[:64], duration_s=end + 1.0, language="en", turns=turns,
                      speaker_turns=tuple(SpeakerTurn(t.speaker, t.words[0].start_s, t.words[-1].end_s) for t in turns),
                      source=source, models={"asr": "base"})


def add_episode(out: Path, t: Transcript, show: Optional[str] = None, audio: Optional[Path] = None,
                date: str = "2026-11-01", formats: tuple[str, ...] = FORMATS, force: bool = False) -> str:
    """``t`` as a done episode of ``out``'s catalog, indexed; its key."""
    catalog = Catalog.in_folder(out)
    written = write_all(t, out, formats)
    key = f"sha256:{t.sha256}"
    record = EpisodeRecord(key=key, kind="file", source=str(audio or t.episode), name=t.episode, show=show,
                           title=t.episode.replace("-", " ").title(), date=date, sha256=t.sha256)
    holder = Holder.here()
    catalog.claim(record, "base", "options", {}, holder, force=force)
    catalog.finish(key, Outcome("done", outputs=tuple(str(p) for p in written), duration_s=t.duration_s,
                                audio_path=str(audio) if audio else None), holder)
    index_outputs(catalog, key, [str(p) for p in written])
    return key


def tone(path: Path, seconds: float) -> Path:
    """A short Ogg/Opus tone (ffmpeg) to serve as an episode's audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
                    "-ac", "1", "-c:a", "libopus", "-b:a", "24k", str(path)], check=True)
    return path
