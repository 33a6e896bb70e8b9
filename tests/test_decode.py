"""Decoding: every container a podcast arrives in, streamed to 16 kHz mono float32; damaged files refused.

Inputs are made here with ffmpeg (installed by the Makefile): a 3 s stereo 44.1 kHz tone pair encoded in each
format, a video with and without an audio track, an image, a WAV with an unknown codec, and truncated files.
"""
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.decode import _read_pcm, decode
from pipeline.errors import PodscribeError
from pipeline.types import SAMPLE_RATE

SAMPLE = Path(__file__).resolve().parent.parent / "audio" / "samples" / "interview.flac"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    """3 s of 440 Hz left and 660 Hz right, 44.1 kHz stereo WAV."""
    path = tmp_path_factory.mktemp("decode") / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-f", "lavfi", "-i", "sine=frequency=660:duration=3",
           "-filter_complex", "amerge=inputs=2", "-ar", "44100", str(path))
    return path


def encoded(tone: Path, name: str, *codec: str) -> Path:
    path = tone.parent / name
    ffmpeg("-i", str(tone), *codec, str(path))
    return path


def dominant_hz(samples: np.ndarray) -> set[int]:
    spectrum = np.abs(np.fft.rfft(samples[:SAMPLE_RATE]))
    return {int(round(hz)) for hz in np.fft.rfftfreq(SAMPLE_RATE, 1 / SAMPLE_RATE)[np.argsort(spectrum)[-2:]]}


@pytest.mark.parametrize("name, codec", [
    ("tone.mp3", ()), ("tone.m4a", ()), ("tone.ogg", ("-c:a", "libopus")), ("tone.oga", ("-c:a", "libvorbis")),
    ("tone.flac", ()), ("tone copy.wav", ()),
])
def test_each_audio_format_becomes_16k_mono_float32(tone, name, codec):
    audio = decode(encoded(tone, name, *codec))
    assert audio.sample_rate == SAMPLE_RATE and audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(3.0, abs=0.05)
    assert dominant_hz(audio.samples) == {440, 660}, "both channels are mixed down"
    assert 0.05 < np.abs(audio.samples).max() < 1.0
    assert len(audio.sha256) == 64


def test_a_videos_audio_track_is_decoded(tone):
    video = tone.parent / "episode.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=3:size=64x48:rate=10", "-i", str(tone), "-shortest", str(video))
    audio = decode(video)
    assert audio.duration_s == pytest.approx(3.0, abs=0.05) and dominant_hz(audio.samples) == {440, 660}


def test_the_bundled_sample_decodes_exactly(tone):
    import wave

    audio = decode(SAMPLE)
    assert audio.duration_s == pytest.approx(106.609, abs=0.001)
    ffmpeg("-i", str(SAMPLE), "-ac", "1", "-ar", "16000", str(tone.parent / "sample.wav"))
    with wave.open(str(tone.parent / "sample.wav")) as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    assert np.array_equal(audio.samples, pcm.astype(np.float32) / 32768)


def bad(tone: Path, kind: str) -> Path:
    folder = tone.parent
    if kind == "video without audio":
        path = folder / "silent.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=64x48:rate=10", str(path))
    elif kind == "image named .mp3":
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", str(folder / "img.png"))
        path = folder / "cover.mp3"
        path.write_bytes((folder / "img.png").read_bytes())
    elif kind == "unknown codec":
        data = bytearray(tone.read_bytes())
        at = data.index(b"fmt ") + 8
        data[at:at + 2] = struct.pack("<H", 0x1234)
        path = folder / "odd codec.wav"
        path.write_bytes(bytes(data))
    elif kind == "truncated mp3":
        full = encoded(tone, "full.mp3")
        path = folder / "cut.mp3"
        path.write_bytes(full.read_bytes()[:len(full.read_bytes()) // 3])
    elif kind == "truncated flac":
        path = folder / "cut.flac"
        path.write_bytes(SAMPLE.read_bytes()[:60000])
    else:
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize("kind, message", [
    ("video without audio", "no audio track"),
    ("image named .mp3", "no audio track"),
    ("unknown codec", "unsupported audio codec"),
    ("truncated mp3", "truncated or corrupt: decoded 1."),
    ("truncated flac", "truncated or corrupt: decoded"),
])
def test_damaged_or_wrong_files_are_refused_with_the_reason(tone, kind, message):
    path = bad(tone, kind)
    with pytest.raises(PodscribeError) as error:
        decode(path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)


class Blocks:
    """A stream that hands out ``data`` in blocks of odd sizes, like a pipe might."""

    def __init__(self, data: bytes, sizes):
        self.data, self.sizes = data, list(sizes)

    def read(self, n):
        size = self.sizes.pop(0) if self.sizes else n
        block, self.data = self.data[:size], self.data[size:]
        return block


def test_pcm_blocks_split_mid_sample_and_a_buffer_that_must_grow():
    values = np.arange(-20000, 20000, dtype="<i2")  # 2.5 s
    stream = Blocks(values.tobytes(), [3, 1, 1001, 7])
    samples = _read_pcm(stream, expected_s=0.1)  # the guess (0.1 s + 1 s margin) is too small: the buffer grows
    assert samples.dtype == np.float32
    assert np.array_equal(samples, values.astype(np.float32) / 32768)


def test_an_oversized_guess_is_not_kept():
    samples = _read_pcm(Blocks(np.zeros(1600, dtype="<i2").tobytes(), []), expected_s=600.0)
    assert samples.size == 1600 and samples.base is None
