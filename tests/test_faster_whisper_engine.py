"""The CTranslate2 engine beside openai-whisper: the store's CT2 directories, the same kind of Transcript from
both engines on the bundled sample (real tiny.en weights), the cache keeping their results apart, and a run
with chunks missing from the cache resuming with the same engine."""
import difflib
import re
from pathlib import Path

import pytest

from pipeline.asr import load_engine
from pipeline.asr.faster_whisper import CTranslate2Engine, model_dir, precision_for, precision_name
from pipeline.asr.options import TranscribeOptions
from pipeline.cache import CACHE_DIRNAME
from pipeline.errors import PodscribeError
from pipeline.run import RunOptions, Transcriber
from pipeline.store import registry
from pipeline.store.ct2_copy import build, is_ready
from pipeline.types import Transcript

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "audio" / "samples" / "interview.flac"


def test_compute_type_defaults_to_int8_on_cpu_and_float16_on_cuda():
    assert precision_for("auto", "cpu") == ("int8", "int8")  # (encoder, decoder)
    assert precision_for("auto", "cuda:0") == ("float16", "float16")
    assert precision_for("float32", "cuda") == ("float32", "float32")
    assert precision_for("int8_decoder", "cpu") == ("float32", "int8")
    assert precision_for("int8_decoder", "cuda") == ("float16", "int8_float16")
    assert precision_name("int8_decoder", "cpu") == "float32 encoder, int8 decoder"
    assert precision_name("auto", "cpu") == "int8" and precision_name("auto", "cuda") == "float16"


def test_unknown_models_and_incomplete_directories_are_refused(tmp_path):
    with pytest.raises(PodscribeError, match="no CTranslate2 model 'large-v9'"):
        model_dir("large-v9")
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(PodscribeError, match="not a CTranslate2 Whisper directory"):
        model_dir(str(tmp_path))


def _spec(tmp_path):
    files = {"a/model.bin.part1": b"AB", "a/model.bin.part2": b"CD", "a/tokenizer.json": b"{}", "a/c.json": b"[]"}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    sources = tuple(registry.Source("pkg", f) for f in list(files)[:3])
    return registry.ModelSpec("ct2-x", "ct2", "ct2-x", sources, registry.Source("pkg", "a/c.json"))


def test_ct2_directory_joins_the_parts_and_checks_every_file(tmp_path):
    import hashlib

    spec = _spec(tmp_path)
    sha = {"model.bin": hashlib.sha256(b"ABCD").hexdigest(), "config.json": hashlib.sha256(b"[]").hexdigest(),
           "tokenizer.json": hashlib.sha256(b"{}").hexdigest()}
    final = build(spec, tmp_path / "store" / "ct2-x", lambda s: tmp_path / s.file, sha)
    assert is_ready(final) and (final / "model.bin").read_bytes() == b"ABCD"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["ct2-x"]
    with pytest.raises(PodscribeError, match="model.bin checksum mismatch"):
        build(spec, tmp_path / "store" / "ct2-y", lambda s: tmp_path / s.file, sha | {"model.bin": "0" * 64})
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["ct2-x"]  # nothing half-made left


@pytest.mark.slow
def test_store_prepares_the_ct2_directories_from_the_packages(model_store):
    path = registry.prepare("ct2-tiny.en")
    assert path == model_store / "ct2-tiny.en" and is_ready(path)
    assert next(s for s in registry.status() if s.name == "ct2-tiny.en").state == "ready"


class Recording:
    """The real engine factory, noting which chunks each engine was asked to decode."""

    def __init__(self):
        self.decoded: list[int] = []

    def __call__(self, options, device):
        engine = load_engine(options, device)
        real = engine.transcribe_batch

        def transcribe_batch(audio, chunks, language, prompt=""):
            self.decoded.extend(c.index for c in chunks)
            return real(audio, chunks, language, prompt)

        engine.transcribe_batch = transcribe_batch
        return engine


def run(engine: str, cache: Path) -> tuple[Transcript, list[int]]:
    # the same options apart from the engine: no previous-text context for either (with it, a word heard differently
    # early on changes the prompt of every later chunk)
    options = RunOptions(transcribe=TranscribeOptions(model="tiny.en", engine=engine, context=False), diarization=False)
    recording = Recording()
    transcriber = Transcriber(options, asr=recording)
    try:
        return transcriber.run(SAMPLE, cache_dir=cache), recording.decoded
    finally:
        transcriber.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both engines into one cache folder, then the CTranslate2 run again with every third of its saved chunks deleted."""
    cache = tmp_path_factory.mktemp("out") / CACHE_DIRNAME
    whisper, whisper_decoded = run("whisper", cache)
    ct2, ct2_decoded = run("ctranslate2", cache)
    folders = {p: _indices(p.glob("chunk-*.json")) for p in cache.glob("*/whisper-*")}
    ct2_folder = next(p for p in folders if '"ctranslate2"' in (p / "key.json").read_text())
    removed = sorted(ct2_folder.glob("chunk-*.json"))[1::3]
    for path in removed:
        path.unlink()
    resumed, resumed_decoded = run("ctranslate2", cache)
    return dict(whisper=whisper, ct2=ct2, resumed=resumed, whisper_decoded=whisper_decoded, ct2_decoded=ct2_decoded,
                resumed_decoded=resumed_decoded, removed=_indices(removed),
                saved={"ctranslate2" if p == ct2_folder else "whisper": found for p, found in folders.items()})


def _indices(paths) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in paths)


def _words(transcript: Transcript):
    """The decoded words (not the gap marks for speech without words)."""
    return [w for s in transcript.segments for w in s.words if not w.gap]


def _norm(text: str) -> str:
    return re.sub(r"[^\w']", "", text.lower())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["whisper", "ct2"])
def test_both_engines_make_the_same_kind_of_transcript(runs, name):
    transcript = runs[name]
    assert isinstance(transcript, Transcript) and transcript.language == "en"
    assert transcript.models["engine"] == {"whisper": "whisper", "ct2": "ctranslate2"}[name]
    words = _words(transcript)
    assert len(words) > 250  # 363 reference words, about 40 in the first 30 s
    assert all(0.0 <= w.probability <= 1.0 for w in words)
    assert all(0.0 <= w.start_s <= w.end_s <= transcript.duration_s + 0.5 for w in words)
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)
    assert sum(len(t.words) for t in transcript.turns) == sum(len(s.words) for s in transcript.segments)


@pytest.mark.slow
def test_matching_words_have_times_within_0_2_s(runs):
    """Words both engines heard in the same context (the two words either side heard alike too) are placed
    within 0.2 s of each other. Next to a place where the engines heard different words, the alignment
    shares that audio out differently (on the sample: 3 of about 320 words, 0.3-1.1 s apart)."""
    a, b = _words(runs["whisper"]), _words(runs["ct2"])
    matcher = difflib.SequenceMatcher(a=[_norm(w.text) for w in a], b=[_norm(w.text) for w in b], autojunk=False)
    blocks = [m for m in matcher.get_matching_blocks() if m.size]
    pairs = [(a[m.a + k], b[m.b + k]) for m in blocks for k in range(m.size)]
    assert len(pairs) >= 0.85 * min(len(a), len(b))  # the engines mostly hear the same words
    in_context = [(a[m.a + k], b[m.b + k]) for m in blocks for k in range(m.size)
                  if (k >= 2 or m.a + k < 2) and (k < m.size - 2 or m.a + k >= len(a) - 2)]
    assert len(in_context) >= 0.75 * len(pairs)

    def far(x, y):
        return abs(x.start_s - y.start_s) > 0.2 or abs(x.end_s - y.end_s) > 0.2

    assert not [(x.text, x.start_s, y.start_s) for x, y in in_context if far(x, y)]
    assert sum(far(x, y) for x, y in pairs) <= 0.02 * len(pairs)


@pytest.mark.slow
def test_the_cache_keeps_the_engines_apart_and_resumes_with_the_same_engine(runs):
    saved = runs["saved"]
    assert sorted(saved) == ["ctranslate2", "whisper"]  # one cache folder per engine
    assert saved["whisper"] == sorted(runs["whisper_decoded"])
    assert saved["ctranslate2"] == sorted(runs["ct2_decoded"])  # every chunk decoded, none taken from whisper's
    assert runs["removed"] and sorted(runs["resumed_decoded"]) == runs["removed"]  # only what was missing
    assert runs["resumed"].segments == runs["ct2"].segments
    assert runs["resumed"].turns == runs["ct2"].turns


@pytest.mark.slow
def test_the_engine_loads_the_store_directory_with_the_default_compute_type():
    engine = CTranslate2Engine(TranscribeOptions(model="tiny.en", engine="ctranslate2"), "cpu")
    try:
        assert engine.compute_type == "int8" and engine.model.model.compute_type.startswith("int8")  # int8_float32
        assert engine.batch_size == 8
    finally:
        engine.close()


@pytest.mark.slow
def test_int8_decoder_encodes_with_a_float32_load_of_the_same_weights():
    import ctranslate2
    import numpy as np

    from pipeline.decode import decode

    engine = CTranslate2Engine(TranscribeOptions(model="tiny.en", engine="ctranslate2", compute_type="int8_decoder"),
                               "cpu")
    try:
        split = engine.model.model
        assert split.compute_type.startswith("int8") and split._encoder.compute_type == "float32"
        features = engine.model.feature_extractor(decode(SAMPLE).samples[:30 * 16000])[:, :3000]
        window = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))
        encoded = np.asarray(split.encode(window))
        assert np.array_equal(encoded, np.asarray(split._encoder.encode(window)))
        assert not np.array_equal(encoded, np.asarray(split._decoder.encode(window))), "int8 encodes differently"
    finally:
        engine.close()


@pytest.mark.slow
def test_a_compute_type_the_device_lacks_is_one_clear_error():
    with pytest.raises(PodscribeError, match="cannot load .*ct2-tiny.en with compute type float16 on cpu"):
        CTranslate2Engine(TranscribeOptions(model="tiny.en", engine="ctranslate2", compute_type="float16"), "cpu")


@pytest.mark.slow
def test_windows_encoded_one_at_a_time_match_the_batch(monkeypatch):
    """On a CPU the batch's windows are encoded one at a time (same output, a fraction of the memory) and
    decoded together."""
    import numpy as np

    from pipeline.asr import faster_whisper as engine_module
    from pipeline.decode import decode

    engine = CTranslate2Engine(TranscribeOptions(model="tiny.en", engine="ctranslate2"), "cpu")
    try:
        samples = decode(SAMPLE).samples
        windows = [engine_module._first_window(engine.model.feature_extractor(samples[i * 160_000:(i + 1) * 160_000]))
                   for i in range(3)]
        one_by_one = engine._encode(windows)
        monkeypatch.setattr(engine_module, "ENCODE_GROUP_CPU", 3)
        together = engine._encode(windows)
        assert np.asarray(one_by_one.batch).shape == np.asarray(together.batch).shape == (3, 1500, 384)
        assert np.allclose(np.asarray(one_by_one.batch), np.asarray(together.batch), atol=1e-3)
        assert np.array_equal(np.asarray(one_by_one.one(2)), np.asarray(one_by_one.batch)[2:3])
    finally:
        engine.close()
