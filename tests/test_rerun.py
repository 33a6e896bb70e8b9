"""A re-run with another Whisper model: the catalog runs the episode again, the resume cache gives back its
diarization (whose key leaves the Whisper model out), so only the words are redone: no diarizer loads."""
from __future__ import annotations

import json

from pipeline.asr.options import TranscribeOptions
from pipeline.library.batch import BatchOptions, run_batch
from pipeline.library.catalog import Catalog
from pipeline.library.jobs import plan_inputs
from pipeline.run import RunOptions
from tests.audio import bursts, write_wav


def options(model: str) -> BatchOptions:
    return BatchOptions(run=RunOptions(transcribe=TranscribeOptions(model=model, device="cpu")))


def test_another_whisper_model_reuses_the_cached_diarization(fake_models, tmp_path):
    wav = write_wav(tmp_path / "episode.wav", bursts(12))
    out = tmp_path / "out"
    catalog = Catalog.in_folder(out)
    jobs, _ = plan_inputs([str(wav)], tmp_path / "audio")

    first = run_batch(jobs, options("tiny.en"), out, catalog)
    assert fake_models.loaded("diarizer") == 1 and fake_models.loaded("asr") == 1
    speakers = json.loads((out / "episode.json").read_text())["speaker_turns"]
    fake_models.events.clear()

    second = run_batch(jobs, options("base"), out, catalog)  # on a GPU machine: a bigger model
    assert [r.status for r in first.results + second.results] == ["done", "done"]
    assert fake_models.loaded("diarizer") == 0  # the diarization came from the cache
    assert fake_models.loaded("asr") == 1  # the words were redone with the other model
    written = json.loads((out / "episode.json").read_text())
    assert written["models"]["whisper"] == "base" and written["speaker_turns"] == speakers != []
    assert catalog.get(jobs[0].key).model == "base"
