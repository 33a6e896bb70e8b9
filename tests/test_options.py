"""Option checks that need no model or audio: refused on construction, in one line."""
from __future__ import annotations

import pytest

from pipeline.asr.options import TranscribeOptions
from pipeline.errors import PodscribeError


@pytest.mark.parametrize("model", ["tiny.en", "base.en", "models/whisper-tiny.en.pt", "/x/ct2-tiny.en",
                                   "distil-small.en"])
def test_an_english_only_model_is_refused_with_another_language(model):
    for english in (None, "en", "English"):
        TranscribeOptions(model=model, language=english)
    with pytest.raises(PodscribeError, match=r"English-only and cannot transcribe 'fr': use a multilingual model"):
        TranscribeOptions(model=model, language="fr")
    TranscribeOptions(model=model.replace(".en", ""), language="fr")  # multilingual: fine
