"""Generate the synthetic three-speaker podcast sample in ``audio/samples/``.

The turns are taken verbatim from the hand-made forum transcript of the
Virtual Strategy Magazine podcast on User-Mode Linux (BRIAN the host, JEFF
Dike, and later CHRIS Aker); stage marks such as ``*chuckles*`` are left out.
Each turn is spoken by a different Debian ``flite`` voice, trimmed of its
leading and trailing silence, and placed on a 16 kHz mono timeline with short
pauses, one backchannel that overlaps the end of a JEFF turn, and light
white noise.  Every random choice uses a fixed seed, so a re-run with the same
flite build gives the same audio.

Outputs (in ``--out-dir``, default ``audio/samples``):

* ``interview.flac``       16 kHz mono 16-bit FLAC
* ``interview.forum.txt``  reference, one ``[b]NAME:[/b] text`` line per turn
* ``interview.txt``        reference, one ``NAME: text`` line per turn (ASCII)
* ``interview.rttm``       exact speaker turns from the assembly

Needs the Debian packages ``flite`` and ``ffmpeg``.  Run from the repo root:

    python -m benchmarks.make_sample
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
SEED = 20070213  # the podcast's date
RECORDING = "interview"
DEFAULT_OUT_DIR = Path(__file__).resolve().parents[1] / "audio" / "samples"
PAUSE_RANGE_S = (0.3, 1.0)
LEAD_IN_S = 0.5  # noise before the first turn
OVERLAP_S = 0.5  # how far a backchannel starts before the previous turn ends
NOISE_DBFS = -40.0  # RMS level of the added white noise
PEAK_DBFS = -1.0  # final peak level
TRIM_DB = 40.0  # frames this far below the loudest frame count as silence
FRAME_S = 0.01
FADE_S = 0.005
SPEECH_STRETCH = 0.88  # flite duration_stretch: < 1 speaks faster

VOICES = {"BRIAN": "slt", "JEFF": "rms", "CHRIS": "awb"}
REQUIRED_PROGRAMS = {"flite": "flite", "ffmpeg": "ffmpeg"}  # program -> apt package

# (speaker, text, overlaps_previous).  Text is the seed's wording verbatim,
# typographic characters included; tts_text() makes it ASCII for flite.
TURNS = [
    ("BRIAN", "You’re listening to the Virtual Strategy Magazine podcast. I’m Brian "
              "Ducharme, and I’m here with Jeff Dike, author and maintainer of "
              "User-Mode Linux – and later on in the show, we’re gonna have Christopher "
              "Aker, president of Linode, who uses and built their entire business "
              "around UML. How’re you doing today, Jeff?", False),
    ("JEFF", "I’m good, how are you?", False),
    ("BRIAN", "Great. It’s good to talk to a New Hampshire native.", False),
    ("JEFF", "I’m actually a Connecticut native. I’ve lived in New Hampshire for quite "
             "a while.", False),
    ("BRIAN", "Alright. Can you tell us a little bit about UML? Not too many of our "
              "readers have probably heard of UML, and if they have, have maybe "
              "forgotten about it, so if you can kind of remind us about, y’know, how "
              "it works, and what it is and where it’s at?", False),
    ("JEFF", "UML is Linux that runs on top of Linux. I took a Linux kernel and by "
             "doing a port – not to a hardware architecture but to a software "
             "architecture – I ported it to the Linux system call interface, so that "
             "you have the Linux kernel running inside a Linux process. And in "
             "reality, it turns out to be instead of Linux, Linux processes. But it "
             "behaves just as though it’s a real Linux box although its hardware is a "
             "little bit, uh, virtual.", False),
    ("BRIAN", "Mmhmm.", True),
    ("JEFF", "It otherwise behaves exactly like a normal Linux system.", False),
    ("BRIAN", "So it’s been pretty profitable for you?", False),
    ("CHRIS", "Yeah, it’s been a great venture, and I have to say much of the success "
              "of User-Mode Linux is its fantastic technology.", False),
    ("BRIAN", "We’ve just heard from Jeff talking about User-Mode Linux and how it "
              "works… what made you decide to go the User-Mode Linux route?", False),
    ("CHRIS", "Well, when I first started out doing this – this is probably over 4 "
              "years ago – there really weren’t many virtualisation technologies out "
              "there. And, I don’t know, User-Mode Linux is just… it hit the spot for "
              "me, I guess. It worked, it was mature, it didn’t crash, and it was "
              "something I saw that we could use to build a successful business off "
              "of.", False),
]

# Spoken forms that flite reads closer to the reference than the written ones.
TTS_SPELLING = {"UML": "U M L", "User-Mode": "User Mode", "Mmhmm": "Mhm",
                "Jeff talking": "Jeff, talking"}
ASCII_MAP = {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."}


@dataclass(frozen=True)
class Placed:
    """One turn on the timeline: who, what, and its exact speech extent."""

    speaker: str
    text: str
    start_s: float
    end_s: float


def to_ascii(text: str) -> str:
    """Replace the seed's typographic quotes, dashes and ellipses by ASCII."""
    for src, dst in ASCII_MAP.items():
        text = text.replace(src, dst)
    return text


def tts_text(text: str) -> str:
    """ASCII text for flite; dashes become commas so they are read as pauses."""
    text = text.replace(" – ", ", ").replace("… ", ", ").replace("…", ".")
    for written, spoken in TTS_SPELLING.items():
        text = re.sub(rf"\b{re.escape(written)}\b", spoken, text)
    return to_ascii(text)


def check_programs() -> None:
    """Exit with a clear message when a required program is not installed."""
    missing = [pkg for prog, pkg in REQUIRED_PROGRAMS.items() if shutil.which(prog) is None]
    if missing:
        sys.exit(f"make_sample: missing program(s); install them with: "
                 f"apt-get install {' '.join(missing)}")
    listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
    absent = sorted(set(VOICES.values()) - set(listed))
    if absent:
        sys.exit(f"make_sample: flite lacks voice(s) {absent}; install the Debian "
                 f"package 'flite' (2.x), which builds them in")


def read_wav(path: Path) -> np.ndarray:
    """Decode any audio file to 16 kHz mono float32 with ffmpeg."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def synthesize(text: str, voice: str, workdir: Path) -> np.ndarray:
    """Speak ``text`` with a flite voice and return 16 kHz float samples."""
    wav = workdir / "turn.wav"
    subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={SPEECH_STRETCH}",
                    "-t", tts_text(text), "-o", str(wav)],
                   check=True)
    return read_wav(wav)


def trim_silence(x: np.ndarray) -> np.ndarray:
    """Cut leading and trailing frames more than TRIM_DB below the loudest frame."""
    hop = int(FRAME_S * SAMPLE_RATE)
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -TRIM_DB)
    y = x[loud[0] * hop: (loud[-1] + 1) * hop].copy()
    fade = np.linspace(0.0, 1.0, int(FADE_S * SAMPLE_RATE), dtype=np.float32)
    y[: len(fade)] *= fade
    y[len(y) - len(fade):] *= fade[::-1]
    return y


def layout(clips: list[np.ndarray], rng: np.random.Generator) -> list[float]:
    """Start time of each clip: a random pause after the latest end, or an overlap."""
    starts, end = [], 0.0
    for clip, (_, _, overlaps) in zip(clips, TURNS):
        if overlaps:
            start = end - OVERLAP_S
        else:
            start = end + (rng.uniform(*PAUSE_RANGE_S) if starts else LEAD_IN_S)
        start = round(start * SAMPLE_RATE) / SAMPLE_RATE
        starts.append(start)
        end = max(end, start + len(clip) / SAMPLE_RATE)
    return starts


def mix(clips: list[np.ndarray], starts: list[float], rng: np.random.Generator) -> np.ndarray:
    """Sum the clips at their starts, add white noise and normalise the peak."""
    total = max(round(s * SAMPLE_RATE) + len(c) for s, c in zip(starts, clips))
    out = np.zeros(total + SAMPLE_RATE // 2, dtype=np.float64)
    for start, clip in zip(starts, clips):
        i = round(start * SAMPLE_RATE)
        out[i: i + len(clip)] += clip / np.abs(clip).max() * 0.5
    out *= 10 ** (PEAK_DBFS / 20) / np.abs(out).max()
    out += rng.standard_normal(len(out)) * 10 ** (NOISE_DBFS / 20)
    out *= 10 ** (PEAK_DBFS / 20) / np.abs(out).max()
    return out


def write_flac(samples: np.ndarray, path: Path) -> None:
    """Write 16-bit mono FLAC via ffmpeg, without version-dependent metadata."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1",
         "-i", "-", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         "-c:a", "flac", "-compression_level", "12", str(path)],
        input=pcm, check=True)


def write_references(placed: list[Placed], out_dir: Path) -> None:
    """Write the forum-style and plain transcripts and the RTTM."""
    forum = "".join(f"[b]{p.speaker}:[/b] {p.text}\n" for p in placed)
    plain = "".join(f"{p.speaker}: {to_ascii(p.text)}\n" for p in placed)
    rttm = "".join(
        f"SPEAKER {RECORDING} 1 {p.start_s:.3f} {p.end_s - p.start_s:.3f} "
        f"<NA> <NA> {p.speaker} <NA> <NA>\n"
        for p in sorted(placed, key=lambda p: p.start_s))
    (out_dir / f"{RECORDING}.forum.txt").write_text(forum, encoding="utf-8")
    (out_dir / f"{RECORDING}.txt").write_text(plain, encoding="utf-8")
    (out_dir / f"{RECORDING}.rttm").write_text(rttm, encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                        help="where to write the sample (default: the repo's audio/samples)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_programs()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        clips = [trim_silence(synthesize(text, VOICES[who], Path(tmp)))
                 for who, text, _ in TURNS]
    starts = layout(clips, rng)
    audio = mix(clips, starts, rng)
    write_flac(audio, args.out_dir / f"{RECORDING}.flac")
    placed = [Placed(who, text, s, s + len(c) / SAMPLE_RATE)
              for (who, text, _), s, c in zip(TURNS, starts, clips)]
    write_references(placed, args.out_dir)
    print(f"wrote {args.out_dir / RECORDING}.* ({len(audio) / SAMPLE_RATE:.1f} s, "
          f"{len(placed)} turns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
