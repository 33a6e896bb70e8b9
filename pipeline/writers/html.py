"""The review page: one self-contained HTML file per episode to listen to, check and correct the ``[?]`` words.

The page itself (HTML, CSS, JavaScript) is ``review.html`` beside this module; this writer only fills in the
transcript as JSON and where the audio is: a path relative to the page, or the audio itself, compressed and
inlined (``--embed-audio``). The page saves the reviewed transcript as forum text, which ``podscribe evaluate``
reads as a reference.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional, TextIO
from urllib.parse import quote

from pipeline.errors import PodscribeError
from pipeline.types import Transcript, written
from pipeline.writers.format import FORUM_MARK, speaker_label

TEMPLATE = "review.html"
#: languages Whisper knows that are written right to left: the transcript's text runs that way on the page
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "yi", "ps", "sd", "ug"})
EMBED_CODEC = ("libopus", "24k", "ogg", "audio/ogg")  # speech stays clear; about 11 MB an hour (15 MB as base64)


@dataclass(frozen=True)
class PageAudio:
    """Where the page finds the episode's audio: ``src`` (a URL relative to the page) or inlined ``data``."""

    src: str = ""
    data: bytes = b""
    mime: str = ""


def page_audio(source: str, out_dir: str | os.PathLike, embed: bool = False) -> PageAudio:
    """The audio for a page written into ``out_dir``: the source file relative to it, or a compressed copy."""
    if not source:
        return PageAudio()
    if embed:
        return PageAudio(data=compress(source), mime=EMBED_CODEC[3])
    rel = os.path.relpath(os.path.abspath(source), os.path.abspath(out_dir))
    return PageAudio(src=quote(Path(rel).as_posix()))


def compress(source: str) -> bytes:
    """The audio as mono Ogg/Opus at a low bitrate (ffmpeg), for inlining into the page."""
    codec, bitrate, container, _ = EMBED_CODEC
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-vn", "-ac", "1", "-c:a", codec, "-b:a", bitrate,
           "-f", container, "pipe:1"]
    try:
        run = subprocess.run(cmd, capture_output=True, check=False)
    except FileNotFoundError:
        raise PodscribeError("ffmpeg not found: it is needed for --embed-audio") from None
    if run.returncode or not run.stdout:
        reason = run.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise PodscribeError(f"{source}: cannot embed audio ({reason[0]})")
    return run.stdout


def page_data(transcript: Transcript, audio: PageAudio) -> dict:
    """What the page reads: the transcript in a compact form (a word is ``[text, start, end, p, flags]``), its words
    as written (a joining word fused into the one before it: the page shows, edits and saves it as one)."""
    speakers = list(transcript.speakers)
    index = {name: k for k, name in enumerate(speakers)}
    turns = [{"speaker": index[t.speaker],
              "words": [[w.text, round(w.start_s, 3), round(w.end_s, 3), round(w.probability, 3),
                         int(w.uncertain) | 2 * int(w.gap)] for w in written(t.words)]}
             for t in transcript.turns]
    return {
        "episode": transcript.episode, "sha256": transcript.sha256, "duration_s": round(transcript.duration_s, 3),
        "language": transcript.language, "source": transcript.source, "metadata": transcript.metadata,
        "models": transcript.models, "options": transcript.options, "speakers": speakers, "turns": turns,
        "speaker_turns": [[index.get(t.speaker, t.speaker), round(t.start_s, 3), round(t.end_s, 3)]
                          for t in transcript.speaker_turns],
        "audio": {"src": audio.src, "type": audio.mime},
        "format": {"mark": FORUM_MARK, "label": speaker_label("{name}", "forum")},
    }


def render(transcript: Transcript, audio: PageAudio = PageAudio(), server: Optional[dict] = None) -> str:
    """The page: the template with the title, the data (JSON, safe inside <script>) and any inlined audio;
    ``server``: where ``podscribe serve`` takes saves (pipeline/archive/app.py), None for a file that downloads them."""
    template = resources.files("pipeline.writers").joinpath(TEMPLATE).read_text(encoding="utf-8")
    fill = {
        "TITLE": html.escape(transcript.episode),
        "DATA": _script_json(page_data(transcript, audio)),
        "SERVER": _script_json(server),
        "AUDIO": base64.b64encode(audio.data).decode("ascii"),
        "LANG": html.escape(transcript.language or "und"),
        "DIR": "rtl" if (transcript.language or "").lower() in RTL_LANGUAGES else "ltr",
    }
    return re.sub(r"__PODSCRIBE_(TITLE|DATA|AUDIO|LANG|DIR|SERVER)__", lambda m: fill[m.group(1)], template)


def _script_json(value) -> str:
    """JSON safe inside <script>: no "</script>" or "<!--" can end it early."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def write(transcript: Transcript, file: TextIO, drop_uncertain: bool = False, audio: PageAudio = PageAudio()) -> None:
    """The review page; ``drop_uncertain`` does not apply (the reviewer needs the model's guess)."""
    file.write(render(transcript, audio))
