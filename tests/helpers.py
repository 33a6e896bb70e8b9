"""Hand-written transcripts for the pure tests."""
from pipeline.types import SpeakerTurn, Transcript, Turn, Word


def word(text, start, end, p=0.95, speaker=None, uncertain=False):
    return Word(text, start, end, p, speaker, uncertain)


def small_transcript() -> Transcript:
    brian = (word("You're", 0.0, 0.3, speaker="BRIAN"), word("listening", 0.3, 0.8, speaker="BRIAN"),
             word("to", 0.8, 0.9, speaker="BRIAN"), word("the", 0.9, 1.0, speaker="BRIAN"),
             word("podcast.", 1.0, 1.6, speaker="BRIAN"))
    jeff = (word("I'm", 2.0, 2.2, speaker="JEFF"), word("good,", 2.2, 2.5, speaker="JEFF"),
            word("erm", 2.6, 2.8, 0.2, "JEFF", True), word("lkml", 2.8, 3.2, 0.3, "JEFF", True),
            word("thanks.", 3.3, 3.7, speaker="JEFF"))
    return Transcript(
        episode="episode", sha256="0" * 64, duration_s=4.0, language="en",
        turns=(Turn("BRIAN", brian), Turn("JEFF", jeff)),
        speaker_turns=(SpeakerTurn("BRIAN", 0.0, 1.7), SpeakerTurn("JEFF", 1.9, 3.8)),
    )
