"""Names from show notes as the episode's vocabulary: do "Ducharme" and "Dike" come out right?

Runs podscribe's own transcriber (``pipeline.run.Transcriber``, no diarization, no cache) on
audio/samples/interview.flac twice per model: with no vocabulary, and with the names that
:func:`pipeline.library.show_notes.names_from` picks out of the show title and the show notes below, as
``podscribe feed`` passes them (``Transcriber.run(..., vocabulary=names)``). Prints WER against
interview.txt and, per name, how often the reference and each run say it.

    .venv/bin/python -m benchmarks.vocabulary [tiny.en base]
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SAMPLE = REPO / "audio" / "samples" / "interview.flac"
SHOW = "Virtual Strategy Magazine"
NOTES = ("Brian Ducharme talks with Jeff Dike, author and maintainer of User-Mode Linux, and with Christopher Aker, "
         "president of Linode, who built their business around UML.")


def main(models: list[str]) -> None:
    import jiwer

    from pipeline.evaluate.metrics import get_normalizer
    from pipeline.library.show_notes import names_from
    from pipeline.run import RunOptions, Transcriber
    from pipeline.transcribe import TranscribeOptions

    names = names_from(SHOW, NOTES)
    print(f"names from the show title and notes: {', '.join(names)}\n")
    ref = " ".join(line.split(":", 1)[1] for line in (REPO / "audio/samples/interview.txt").read_text().splitlines()
                   if ":" in line)
    normalize = get_normalizer("whisper")
    words = ["Ducharme", "Dike", "Aker", "Linode", "Linux", "UML"]
    print(f"{'model':<8} {'vocabulary':<10} {'WER':>6} {'wall_s':>7}  " + "  ".join(f"{w:>8}" for w in words))
    print(f"{'':<8} {'(reference)':<10} {'':>6} {'':>7}  " + "  ".join(f"{_count(ref, w):>8}" for w in words))
    for model in models:
        transcriber = Transcriber(RunOptions(transcribe=TranscribeOptions(model=model, device="cpu"),
                                             diarization=False), keep_loaded=True)
        for label, vocabulary in (("none", ()), ("names", names)):
            start = time.perf_counter()
            transcript = transcriber.run(SAMPLE, vocabulary=vocabulary)
            wall = time.perf_counter() - start
            hyp = " ".join(w.text for w in transcript.words)
            wer = jiwer.wer(normalize(ref), normalize(hyp))
            print(f"{model:<8} {label:<10} {wer:>6.1%} {wall:>7.1f}  "
                  + "  ".join(f"{_count(hyp, w):>8}" for w in words), flush=True)
        transcriber.close()


def _count(text: str, word: str) -> int:
    return len(re.findall(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE))


if __name__ == "__main__":
    main(sys.argv[1:] or ["tiny.en", "base"])
