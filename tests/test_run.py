"""Orchestration with fake models: who owns loaded models, the resume cache, vocabulary, the transcript's fields."""
import json
import os
from dataclasses import replace

import pytest

from pipeline.asr.options import TranscribeOptions
from pipeline.cache import CACHE_DIRNAME
from pipeline.chunk import ChunkOptions
from pipeline.run import RunOptions, Transcriber
from pipeline.writers import write_all
from tests.audio import bursts, write_wav
from tests.fakes import Record, factories

OPTIONS = RunOptions(chunk=ChunkOptions(max_chunk_s=10.0), transcribe=TranscribeOptions(model="tiny.en"))


@pytest.fixture()
def episode(tmp_path):
    return write_wav(tmp_path / "episode.wav", bursts(40))


def transcriber(record, options=OPTIONS, **kwargs):
    asr, diarizer = factories(record)
    return Transcriber(options, asr=asr, diarizer=diarizer, **kwargs)


def texts(transcript):
    return [(w.text, w.start_s, w.end_s, w.speaker, w.uncertain) for w in transcript.words]


def test_one_model_resident_at_a_time(episode, tmp_path):
    record = Record()
    t = transcriber(record)
    first = t.run(episode)
    t.run(episode)
    assert record.events == ["load diarizer", "close diarizer", "load asr",
                             "close asr", "load diarizer", "close diarizer", "load asr"]
    assert first.words and set(first.speakers) == {"SPEAKER 1", "SPEAKER 2"}
    t.close()
    assert record.events[-1] == "close asr"


def test_keep_loaded_loads_each_model_once(episode):
    record = Record()
    t = transcriber(record, keep_loaded=True)
    t.run(episode)
    t.run(episode)
    assert record.events == ["load diarizer", "load asr"]


def test_resume_decodes_only_the_missing_chunks_and_gives_the_same_transcript(episode, tmp_path):
    cache = tmp_path / CACHE_DIRNAME
    record = Record()
    full = transcriber(record).run(episode, cache_dir=cache)
    chunks = sorted(cache.glob("*/whisper-*/chunk-*.json"))
    assert len(chunks) == len(record.decoded) >= 4
    for lost in chunks[1:3]:
        lost.unlink()
    again = Record()
    resumed = transcriber(again).run(episode, cache_dir=cache)
    assert again.decoded == [1, 2]
    assert again.loaded("diarizer") == 0, "the diarization came from the cache"
    assert texts(resumed) == texts(full)


def test_a_fully_cached_episode_loads_no_model(episode, tmp_path, no_models):
    cache = tmp_path / CACHE_DIRNAME
    record = Record()
    first = transcriber(record).run(episode, cache_dir=cache)
    again = Transcriber(replace(OPTIONS, merge=replace(OPTIONS.merge, uncertain_below=0.95))).run(
        episode, cache_dir=cache)  # the real factories, patched to fail: nothing may load
    assert [w.text for w in again.words] == [w.text for w in first.words]
    assert all(w.uncertain for w in again.words), "the new threshold applies without any model"


def test_vocabulary_from_options_argument_and_file_beside_the_episode(episode, tmp_path):
    (tmp_path / "episode.vocab.txt").write_text("# names\nLinode, UML\nJeff Dike\n")
    record = Record()
    options = replace(OPTIONS, transcribe=replace(OPTIONS.transcribe, vocabulary=("Xen",), context=False))
    transcript = transcriber(record, options).run(episode, vocabulary=("linode", "Ducharme"))
    assert set(record.prompts) == {"Xen, linode, Ducharme, UML, Jeff Dike."}
    assert list(transcript.options["transcribe"]["vocabulary"]) == ["Xen", "linode", "Ducharme", "UML", "Jeff Dike"]


def test_with_context_each_chunk_after_the_first_gets_the_vocabulary_then_the_text_before_it(episode):
    record = Record()
    options = replace(OPTIONS, transcribe=replace(OPTIONS.transcribe, vocabulary=("Xen",), context=True))
    transcriber(record, options).run(episode)
    assert len(record.prompts) > 2 and record.prompts[0] == "Xen.", "the first chunk has no text before it"
    assert all(p.startswith("Xen. w") for p in record.prompts[1:]), "the others: the vocabulary, then context"


def test_the_vocabulary_is_part_of_the_cache_key(episode, tmp_path):
    cache = tmp_path / CACHE_DIRNAME
    transcriber(Record()).run(episode, cache_dir=cache)
    record = Record()
    transcriber(record).run(episode, cache_dir=cache, vocabulary=("Linode",))
    assert record.decoded, "other words may come out with a vocabulary: not taken from the plain run's cache"


@pytest.mark.parametrize("model, context, shared", [("tiny.en", True, True), ("tiny.en", False, False),
                                                   ("base", False, True), ("base", True, False)])
def test_the_context_as_used_is_the_cache_key_not_how_it_was_asked_for(episode, tmp_path, model, context, shared):
    """``auto`` and the setting it resolves to make the same words, so they share the cache; anything else not."""
    cache = tmp_path / CACHE_DIRNAME
    at = lambda value: replace(OPTIONS, transcribe=replace(OPTIONS.transcribe, model=model, context=value))
    transcriber(Record(), at("auto")).run(episode, cache_dir=cache)
    record = Record()
    transcriber(record, at(context)).run(episode, cache_dir=cache)
    assert (record.decoded == []) is shared


@pytest.mark.parametrize("compute_type, shared", [("int8", True), ("int8_decoder", False), ("float32", False)])
def test_the_ctranslate2_precision_as_used_is_the_cache_key(episode, tmp_path, compute_type, shared):
    """On a CPU ``auto`` is int8: it shares int8's results, and no other precision's."""
    cache = tmp_path / CACHE_DIRNAME
    at = lambda value: replace(OPTIONS, transcribe=replace(OPTIONS.transcribe, engine="ctranslate2", device="cpu",
                                                           compute_type=value))
    first = transcriber(Record(), at("auto")).run(episode, cache_dir=cache)
    assert first.models["compute_type"] == "int8"
    record = Record()
    transcriber(record, at(compute_type)).run(episode, cache_dir=cache)
    assert (record.decoded == []) is shared


def test_transcript_records_source_language_and_timings(episode):
    transcript = transcriber(Record()).run(episode)
    assert transcript.source == str(episode) and transcript.language == "en"
    assert set(transcript.timings_s) == {"decode", "chunk", "transcribe", "diarize", "coverage", "merge"}
    assert transcript.duration_s == pytest.approx(40.0)


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_get_the_usual_permissions(episode, tmp_path, umask):
    transcript = transcriber(Record()).run(episode, cache_dir=tmp_path / "out" / CACHE_DIRNAME)
    old = os.umask(umask)
    try:
        paths = write_all(transcript, tmp_path / "out", ("json", "forum"))
    finally:
        os.umask(old)
    assert {oct(p.stat().st_mode & 0o777) for p in paths} == {oct(0o666 & ~umask)}
    assert json.loads(paths[0].read_text())["episode"] == "episode"


def test_speech_missed_by_a_first_pass_is_decoded_again(episode):
    record = Record(deaf=[(12.0, 16.0)])
    transcript = transcriber(record).run(episode)
    times = [w.start_s for w in transcript.words]
    assert any(12.0 <= t < 16.0 for t in times), "the retry found the words"
    assert times == sorted(times) and not transcript.gaps and transcript.lost_speech_s == 0
    assert any(i >= 100_000 for i in record.decoded), "a retry chunk was decoded"


def test_with_context_a_retry_still_gets_no_other_chunks_text(episode):
    record = Record(deaf=[(12.0, 16.0)])
    options = replace(OPTIONS, transcribe=replace(OPTIONS.transcribe, context=True))
    transcript = transcriber(record, options).run(episode)
    assert any(12.0 <= w.start_s < 16.0 for w in transcript.words), "the retry found the words"
    retried = [p for i, p in zip(record.decoded, record.prompts) if i >= 100_000]
    assert retried == [""], "one retry chunk was decoded, with no other chunk's text as its prompt"


def test_words_timed_over_later_speech_are_moved_and_the_speech_they_hid_decoded(tmp_path):
    # long stretches of sound; a first pass writes 11-14 s's words at 15-18 s and nothing of 15-18 s
    episode = write_wav(tmp_path / "long.wav", bursts(40, on_s=9.5, off_s=0.5))
    record = Record(misplace=[(11.0, 14.0, 4.0)])
    words = [(w.text, w.start_s) for w in transcriber(record).run(episode).words if 10.0 <= w.start_s < 19.5]
    assert [t for t, _ in words] == [f"w{k}" for k in range(100, 195, 5)], "each word once, in order"
    assert all(abs(int(t[1:]) / 10 - start) < 0.5 for t, start in words), "each at its own time"
    assert any(i >= 150_000 for i in record.decoded), "the hidden speech was decoded in a second round"


def test_speech_no_pass_can_decode_becomes_a_marked_gap_in_every_format(episode, tmp_path):
    record = Record(mute=[(20.0, 24.0)])
    transcript = transcriber(record).run(episode)
    # The fake hears 19.8-20.2 (its window starts before the mute); 20.2 + 0.3 s of slack to 21.5 is 1.0 s of
    # speech, not more than the 1 s minimum; the burst at 22.0-23.5 is the gap.
    assert [(g.start_s, g.end_s) for g in transcript.gaps] == [(22.0, 23.5)]
    assert transcript.lost_speech_s == 1.5 and {g.speaker for g in transcript.gaps} == {"SPEAKER 1"}
    assert not [w for w in transcript.words if 20.5 < w.start_s < 24.0]
    paths = write_all(transcript, tmp_path / "out", ("forum", "txt", "md", "srt", "vtt", "json"))
    text = {p.name.split(".", 1)[1]: p.read_text() for p in paths}
    assert "w198 [i][?][/i] w243" in text["forum.txt"]
    assert "w198 [?] w243" in text["txt"] and r"w198 \[?\] w243" in text["md"]
    assert "[?]" in text["srt"] and "[?]" in text["vtt"]
    data = json.loads(text["json"])
    assert data["lost_speech_s"] == 1.5 and data["gaps"] == [{"start_s": 22.0, "end_s": 23.5, "speaker": "SPEAKER 1"}]
    gap_items = [w for t in data["turns"] for w in t["words"] if w["gap"]]
    assert [(w["start_s"], w["end_s"], w["text"]) for w in gap_items] == [(22.0, 23.5, "")]


@pytest.mark.parametrize("names, said, speakers", [
    (("BRIAN", "JEFF", "CHRIS"), "2 speakers heard, 3 names given: CHRIS not used", {"BRIAN", "JEFF"}),
    (("BRIAN",), "2 speakers heard, 1 names given: the others are numbered SPEAKER n", {"BRIAN", "SPEAKER 2"}),
])
def test_more_or_fewer_names_than_speakers_is_said(episode, caplog, names, said, speakers):
    options = replace(OPTIONS, merge=replace(OPTIONS.merge, speaker_names=names))
    transcript = transcriber(Record(), options).run(episode)
    assert f"episode.wav: {said}" in caplog.text
    assert set(transcript.speakers) == speakers


def test_as_many_names_as_speakers_says_nothing(episode, caplog):
    options = replace(OPTIONS, merge=replace(OPTIONS.merge, speaker_names=("BRIAN", "JEFF")))
    transcriber(Record(), options).run(episode)
    assert "names given" not in caplog.text


def test_a_language_given_for_the_episode_is_used_unless_the_options_give_one(episode):
    """The feed's declared language (``run(..., language=)``): no detection, the transcript says it; the run's
    --language wins over it."""
    multilingual = replace(OPTIONS, transcribe=replace(OPTIONS.transcribe, model="tiny"))
    declared = transcriber(Record(), multilingual).run(episode, language="fr")
    assert declared.language == "fr" and declared.options["transcribe"]["language"] == "fr"
    options = replace(multilingual, transcribe=replace(multilingual.transcribe, language="de"))
    given = transcriber(Record(), options).run(episode, language="fr")
    assert given.language == "de" and given.options["transcribe"]["language"] == "de"
    assert transcriber(Record(), multilingual).run(episode).language == "en"  # detected (the fake says English)


def test_an_english_only_model_that_marks_most_words_says_the_episode_may_not_be_english(episode, caplog):
    doubtful = replace(OPTIONS, merge=replace(OPTIONS.merge, uncertain_below=0.95))  # every word marked
    transcriber(Record(), doubtful).run(episode)
    assert "episode.wav: 100% of the words are marked [?]: if it is not in English, tiny.en cannot transcribe it; " \
           "use a multilingual model such as base" in caplog.text
    caplog.clear()
    transcriber(Record()).run(episode)  # the fake's usual share (a fifth): English as it sounds
    forced = replace(doubtful, transcribe=replace(doubtful.transcribe, language="en"))
    transcriber(Record(), forced).run(episode)  # English was asked for
    multilingual = replace(doubtful, transcribe=replace(doubtful.transcribe, model="tiny"))
    transcriber(Record(), multilingual).run(episode)
    assert "not in English" not in caplog.text
