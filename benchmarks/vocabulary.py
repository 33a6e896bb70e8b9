"""Names from show notes as Whisper's prompt: does "Ducharme" come out right?

Plain whisper (``whisper.transcribe``) on audio/samples/interview.flac, once without a prompt and once with
``initial_prompt`` made of the names :func:`pipeline.library.vocabulary.names_from` picks out of the show title
and show notes below (what the publisher wrote; podscribe's own vocabulary option, which the transcriber passes
to Whisper the same way, was not there yet when this was written). Reports WER against interview.txt and, per
name, how often the reference and each hypothesis say it.

    .venv/bin/python benchmarks/vocabulary.py [tiny.en base]
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # before benchmarks/, whose pipeline.py would shadow the package
SAMPLE = REPO / "audio" / "samples" / "interview.flac"
SHOW = "Virtual Strategy Magazine"
NOTES = ("Brian Ducharme talks with Jeff Dike, author and maintainer of User-Mode Linux, and with Christopher Aker, "
         "president of Linode, who built their business around UML.")


def main(models: list[str]) -> None:
    import jiwer

    from pipeline.decode import decode
    from pipeline.evaluate.metrics import get_normalizer
    from pipeline.library.vocabulary import names_from
    from pipeline.store.registry import load_whisper

    names = names_from(SHOW, NOTES)
    prompt = ", ".join(names) + "."
    print(f"names from the notes: {names}\nprompt: {prompt!r}\n")
    ref_text = " ".join(line.split(":", 1)[1] for line in (REPO / "audio/samples/interview.txt").read_text().splitlines()
                        if ":" in line)
    normalize = get_normalizer("whisper")
    words = sorted({w for n in names for w in n.split() if len(w) > 2} | {"Linux"})
    audio = decode(SAMPLE).samples
    print(f"{'model':<8} {'prompt':<7} {'WER':>6} {'wall_s':>7}  " + "  ".join(f"{w:>10}" for w in words))
    print(f"{'':<8} {'ref':<7} {'':>6} {'':>7}  " + "  ".join(f"{_count(ref_text, w):>10}" for w in words))
    for model_name in models:
        model = load_whisper(model_name, "cpu")
        for label, initial in (("none", None), ("names", prompt)):
            start = time.perf_counter()
            hyp = model.transcribe(audio, language="en", initial_prompt=initial, fp16=False, beam_size=5,
                                   best_of=5, temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0))["text"]
            wall = time.perf_counter() - start
            wer = jiwer.wer(normalize(ref_text), normalize(hyp))
            print(f"{model_name:<8} {label:<7} {wer:>6.1%} {wall:>7.1f}  "
                  + "  ".join(f"{_count(hyp, w):>10}" for w in words), flush=True)


def _count(text: str, word: str) -> int:
    return len(re.findall(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE))


if __name__ == "__main__":
    main(sys.argv[1:] or ["tiny.en", "base"])
