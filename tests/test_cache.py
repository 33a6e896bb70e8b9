"""The resume cache on hand-written segments: round trips, keys, and files it must ignore."""
import json

from pipeline.cache import EpisodeCache, key_digest
from pipeline.types import Chunk, Diarization, Segment, SpeakerTurn
from tests.helpers import word

SHA = "ab" * 32


def cache(root, model="tiny.en"):
    return EpisodeCache(root, SHA, {"sha256": SHA, "model": model}, {"sha256": SHA, "threshold": 0.75})


def segment(index):
    words = (word("hello", 1.0, 1.4, 0.9), word("there", 1.5, 1.9, 0.4))
    return Segment("hello there", 1.0, 1.9, words, avg_logprob=-0.3, no_speech_prob=0.01,
                   compression_ratio=1.1, temperature=0.2, chunk_index=index, failed_checks=True)


def test_chunks_round_trip_exactly(tmp_path):
    chunks = [Chunk(0, 0.0, 12.5), Chunk(1, 12.5, 30.0)]
    c = cache(tmp_path)
    c.save_chunk(chunks[1], [segment(1)])
    assert c.chunks(chunks) == {1: [segment(1)]}
    assert cache(tmp_path).chunks(chunks) == {1: [segment(1)]}


def test_a_chunk_with_no_speech_is_saved_as_done(tmp_path):
    c = cache(tmp_path)
    c.save_chunk(Chunk(0, 0.0, 5.0), [])
    assert c.chunks([Chunk(0, 0.0, 5.0)]) == {0: []}


def test_a_saved_chunk_from_another_plan_is_not_used(tmp_path):
    c = cache(tmp_path)
    c.save_chunk(Chunk(0, 0.0, 12.5), [segment(0)])
    assert c.chunks([Chunk(0, 0.0, 14.0)]) == {}


def test_another_model_has_its_own_results(tmp_path):
    cache(tmp_path, "tiny.en").save_chunk(Chunk(0, 0.0, 5.0), [segment(0)])
    assert cache(tmp_path, "base").chunks([Chunk(0, 0.0, 5.0)]) == {}
    assert key_digest({"a": 1, "b": 2}) == key_digest({"b": 2, "a": 1})
    assert key_digest({"a": 1}) != key_digest({"a": 2})


def test_language_and_diarization_round_trip(tmp_path):
    c = cache(tmp_path)
    assert c.language() is None and c.diarization() is None
    diar = Diarization(turns=(SpeakerTurn("SPEAKER_00", 0.0, 2.0), SpeakerTurn("SPEAKER_01", 1.5, 3.0)),
                       exclusive=(SpeakerTurn("SPEAKER_00", 0.0, 1.5), SpeakerTurn("SPEAKER_01", 1.5, 3.0)))
    c.save_language("de")
    c.save_diarization(diar)
    again = cache(tmp_path)
    assert again.language() == "de" and again.diarization() == diar


def test_the_key_is_kept_readable_beside_the_results(tmp_path):
    c = cache(tmp_path)
    c.save_language("en")
    assert json.loads((c.whisper_dir / "key.json").read_text())["model"] == "tiny.en"


def test_an_unreadable_file_is_redone_not_trusted(tmp_path):
    c = cache(tmp_path)
    c.save_chunk(Chunk(0, 0.0, 5.0), [segment(0)])
    (c.whisper_dir / "chunk-00000.json").write_text('{"start_s": 0.0, "end_')
    assert c.chunks([Chunk(0, 0.0, 5.0)]) == {}
