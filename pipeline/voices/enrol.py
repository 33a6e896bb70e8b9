"""Embedding a voice: its speech cut into windows, each window one CAM++ embedding.

A clip (or an episode's turns of one speaker) is reduced to its speech (frames above the adaptive
silence level, ``pipeline.chunk``), joined, and cut into ``window_s`` windows; each window of at least
``min_window_s`` goes through CAM++ (kaldi fbank, mean-normalised, as the diarizer's model sees it). Less
speech than one such window is refused.

torch and the model are imported lazily, inside :class:`VoiceEmbedder`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from pipeline.chunk import envelope_db, silence_threshold_db, speech_regions
from pipeline.errors import PodscribeError
from pipeline.types import SAMPLE_RATE

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.types import Transcript

FRAME_S = 0.02
MIN_SILENCE_S = 0.3
PAD_S = 0.1


@dataclass(frozen=True)
class EmbedOptions:
    window_s: float = 4.0
    min_window_s: float = 2.0


@dataclass(frozen=True)
class Embedded:
    """The embeddings of one enrolment and how many seconds of speech they came from."""

    embeddings: tuple[tuple[float, ...], ...]
    speech_s: float


def speech_samples(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples of a clip's speech, silences (0.3 s or longer) cut out, joined."""
    env = envelope_db(samples, sample_rate, FRAME_S)
    if env.size == 0 or env.max() < -55.0:
        return samples[:0]
    regions = speech_regions(env, FRAME_S, silence_threshold_db(env), MIN_SILENCE_S)
    pieces = [samples[max(0, int((s - PAD_S) * sample_rate)): int((e + PAD_S) * sample_rate)] for s, e in regions]
    return np.concatenate(pieces) if pieces else samples[:0]


def windows(speech: np.ndarray, options: EmbedOptions, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Consecutive ``window_s`` pieces of speech; a last piece under ``min_window_s`` joins the one before."""
    size, least = int(options.window_s * sample_rate), int(options.min_window_s * sample_rate)
    starts = list(range(0, len(speech), size))
    if len(starts) > 1 and len(speech) - starts[-1] < least:
        starts.pop()
    pieces = [speech[s: s + size] for s in starts]
    if pieces and len(speech) > starts[-1] + size:
        pieces[-1] = speech[starts[-1]:]
    return [p for p in pieces if len(p) >= least]


class VoiceEmbedder:
    """CAM++ from the model store, loaded once; :meth:`embed` turns speech into window embeddings."""

    def __init__(self, options: EmbedOptions = EmbedOptions()):
        from pipeline.diarization.campplus import CAMPPlus
        from pipeline.store.registry import ensure

        self.options = options
        try:
            self.model = CAMPPlus.from_state_dict(ensure("embedding"))
        except (OSError, RuntimeError, KeyError) as exc:
            raise PodscribeError(f"could not load the embedding model: {exc}") from exc

    def embed(self, pieces: Sequence[np.ndarray], what: str) -> Embedded:
        """Embeddings of the speech in ``pieces`` (clips or turns of one speaker); ``what`` names them in errors."""
        speech = np.concatenate([speech_samples(p) for p in pieces]) if pieces else np.zeros(0, np.float32)
        found = windows(speech, self.options)
        if not found:
            raise PodscribeError(f"{what}: {len(speech) / SAMPLE_RATE:.1f} s of speech found; a voice needs at least "
                                 f"{self.options.min_window_s:g} s of one speaker talking")
        return Embedded(tuple(self._embed_one(w) for w in found), round(len(speech) / SAMPLE_RATE, 2))

    def _embed_one(self, samples: np.ndarray) -> tuple[float, ...]:
        import torch
        import torchaudio.compliance.kaldi as kaldi

        from pipeline.diarization.campplus import NUM_MEL_BINS

        with torch.inference_mode():
            wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]
            feats = kaldi.fbank(wave, num_mel_bins=NUM_MEL_BINS, sample_frequency=SAMPLE_RATE, dither=0.0)
            vector = self.model.campplus((feats - feats.mean(dim=0, keepdim=True))[None])[0]
        return tuple(round(float(x), 6) for x in vector)


def clip(path: str | Path, start_s: Optional[float] = None, end_s: Optional[float] = None) -> tuple[np.ndarray, str]:
    """The samples of ``path`` from ``start_s`` to ``end_s`` (default: all), and a description of them."""
    from pipeline.decode import decode

    if (start_s is not None and start_s < 0) or (end_s is not None and end_s <= (start_s or 0.0)):
        raise PodscribeError(f"{path}: --start must be at least 0 and --end after it")
    audio = decode(path)
    first = int((start_s or 0.0) * audio.sample_rate)
    last = len(audio.samples) if end_s is None else int(end_s * audio.sample_rate)
    if first >= len(audio.samples):
        raise PodscribeError(f"{path}: --start {start_s:g} s is past its end ({audio.duration_s:.1f} s)")
    end = "end" if end_s is None else f"{end_s:g}"
    span = "" if start_s is None and end_s is None else f" {start_s or 0:g}-{end} s"
    return audio.samples[first:last], f"{path}{span}"


def episode_turns(json_path: str | Path, label: str) -> tuple[list[np.ndarray], str]:
    """The speech of speaker ``label`` in a transcribed episode (its JSON): the label's turns with any other
    speaker's turns cut out, from the audio file the JSON names (checked against its sha256)."""
    from pipeline.decode import decode

    transcript = _read_transcript(Path(json_path))
    try:
        spans = label_spans(transcript, label)
    except PodscribeError as exc:
        raise PodscribeError(f"{json_path}: {exc}") from None
    audio_path = _episode_audio(Path(json_path), transcript)
    audio = decode(audio_path)
    if transcript.sha256 and audio.sha256 != transcript.sha256:
        raise PodscribeError(f"{audio_path}: not the audio {json_path} was made from (its sha256 differs)")
    rate = audio.sample_rate
    return [audio.samples[int(s * rate): int(e * rate)] for s, e in spans], f"{json_path} speaker {label}"


def label_spans(transcript: "Transcript", label: str) -> list[tuple[float, float]]:
    """(start_s, end_s) where ``label`` alone speaks: its diarization turns (its word turns where the file has
    none for it) less every other speaker's."""
    diarized = [(t.speaker, t.start_s, t.end_s) for t in transcript.speaker_turns]
    worded = [(t.speaker, t.start_s, t.end_s) for t in transcript.turns]
    turns = diarized if any(who == label for who, _, _ in diarized) else worded
    mine = sorted((s, e) for who, s, e in turns if who == label)
    if not mine:
        known = sorted({who for who, _, _ in diarized + worded})
        raise PodscribeError(f"no speaker {label!r} in this episode (speakers: {', '.join(known) or 'none'})")
    others = [(s, e) for who, s, e in turns if who != label]
    return [piece for span in mine for piece in _subtract(span, others) if piece[1] - piece[0] > 0.05]


def _subtract(span: tuple[float, float], others: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """``span`` less every overlapping span of ``others``."""
    pieces = [span]
    for cut_start, cut_end in others:
        kept = []
        for start, end in pieces:
            if cut_end <= start or cut_start >= end:
                kept.append((start, end))
                continue
            kept += [p for p in ((start, cut_start), (cut_end, end)) if p[1] > p[0]]
        pieces = kept
    return pieces


def _read_transcript(path: Path) -> "Transcript":
    from pipeline.writers.json_format import read

    try:
        with open(path, encoding="utf-8") as f:
            return read(f)
    except OSError as exc:
        raise PodscribeError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PodscribeError(f"{path}: not a podscribe JSON transcript ({type(exc).__name__}: {exc})") from None


def _episode_audio(json_path: Path, transcript: "Transcript") -> Path:
    """The episode's audio: its ``source`` as given, else relative to the JSON's folder."""
    if not transcript.source:
        raise PodscribeError(f"{json_path}: names no source audio file")
    source = Path(transcript.source)
    for candidate in (source, json_path.parent / source, json_path.parent / source.name):
        if candidate.is_file():
            return candidate
    raise PodscribeError(f"{json_path}: its audio {transcript.source} is not there")
