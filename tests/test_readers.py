"""Every reader, format detection, and the errors for missing, empty and unreadable files."""
import io
from collections import Counter
from pathlib import Path

import pytest

from pipeline.errors import PodscribeError
from pipeline.evaluate import read_hypothesis, read_reference
from pipeline.evaluate.readers import detect
from pipeline.writers import json_format, subtitles
from tests.helpers import small_transcript

# The document the project started from: ../shared/seeds beside the checkout (third-party text, never committed)
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_7c33454f43d688a8.txt"

# A fragment of the seed forum post: chatter, the ===== line, full names then abbreviations,
# *chuckles*, an [Ed: ...] note, a [?] mark, the "[b]CHRIS[/b]:" variant and a [url] tag.
FORUM = """Cliff
I just went ahead and made a transcript of the podcast – it’s pretty complete, except for the bits marked [i][?][/i], which I unfortunately couldn’t make out properly.
=====
[b]BRIAN:[/b] You’re listening to the Virtual Strategy Magazine podcast.
[b]JEFF:[/b] I’m good, how are you?
[b]B:[/b] Great. It’s good to talk to a New Hampshire native.
[b]J:[/b] *chuckles* I’m actually a Connecticut native. I’ve lived in New Hampshire for quite a while.
[b]J:[/b] There are a good number of people using it [i][Ed: UML][/i] for kernel development, for [i][?][/i] development, network protocol development… it’s pretty close to ideal.
[b]CHRIS[/b]: Good, how are you?
[b]C:[/b] Sure, right. Well, thanks for having me, Brian. If you’re interested, you can check out Linode at [url=https://www.linode.com/]Linode.com[/url] – that’s L-I-N-O-D-E dot com.
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _texts(doc):
    return [w.text for w in doc.words]


def test_forum_fragment_of_the_seed(tmp_path):
    doc = read_reference(_write(tmp_path, "ref.txt", FORUM))
    assert doc.format == "forum" and doc.has_speakers
    assert doc.speakers == ("BRIAN", "JEFF", "CHRIS")
    words = [w for w in doc.words if not w.unknown]
    # counted by hand: BRIAN 8 + 10, JEFF 5 + 14 + 22, CHRIS 4 + 22; the dash and chatter are not words
    assert Counter(w.speaker for w in words) == {"BRIAN": 18, "JEFF": 41, "CHRIS": 26}
    assert len(words) == 85
    gaps = [i for i, w in enumerate(doc.words) if w.unknown]
    assert len(gaps) == 1 and doc.words[gaps[0] - 1].text == "for" and doc.words[gaps[0] + 1].text == "development,"
    text = " ".join(_texts(doc))
    assert "chuckles" not in text and "Ed:" not in text and "UML" not in text and "[url" not in text
    assert "Linode.com that’s L-I-N-O-D-E dot com." in text
    assert text.startswith("You’re listening")


@pytest.mark.skipif(not SEED.is_file(), reason=f"the seed document is not next to this clone ({SEED})")
def test_whole_seed_document():
    doc = read_reference(SEED)
    assert doc.format == "forum"
    assert doc.speakers == ("BRIAN", "JEFF", "CHRIS")
    assert sum(w.unknown for w in doc.words) == 3  # the three [?] after the ===== line
    assert doc.words[0].text == "You’re" and doc.words[-1].text.startswith("www.virtual-strategy.com")


def test_forum_marks_in_a_hypothesis_flag_the_word_before(tmp_path):
    doc = read_hypothesis(_write(tmp_path, "hyp.forum.txt", "[b]JEFF:[/b] I'm good, erm lkml [i][?][/i] thanks.\n"))
    assert [(w.text, w.uncertain) for w in doc.words] == [
        ("I'm", False), ("good,", False), ("erm", False), ("lkml", True), ("thanks.", False)]


def test_plain_text(tmp_path):
    doc = read_reference(_write(tmp_path, "ref.txt", "Hello world. [?] again – and again…\n"))
    assert doc.format == "text" and not doc.has_speakers
    assert _texts(doc) == ["Hello", "world.", "[?]", "again", "and", "again…"]
    assert [w.unknown for w in doc.words] == [False, False, True, False, False, False]


def test_named_lines_and_continuations(tmp_path):
    doc = read_reference(_write(tmp_path, "ref.txt", "BRIAN: Hello there.\n\nJEFF: Hi.\nstill me\nBRIAN: Bye\n"))
    assert doc.format == "named"
    assert [(w.text, w.speaker) for w in doc.words] == [
        ("Hello", "BRIAN"), ("there.", "BRIAN"), ("Hi.", "JEFF"), ("still", "JEFF"), ("me", "JEFF"), ("Bye", "BRIAN")]


def _written(writer):
    buf = io.StringIO()
    writer(small_transcript(), buf)
    return buf.getvalue()


def test_srt_from_our_writer(tmp_path):
    doc = read_hypothesis(_write(tmp_path, "hyp.srt", _written(subtitles.write_srt)))
    assert doc.format == "srt" and doc.speakers == ("BRIAN", "JEFF")
    assert _texts(doc) == ["You're", "listening", "to", "the", "podcast.", "I'm", "good,", "erm", "lkml", "thanks."]
    assert [w.text for w in doc.words if w.uncertain] == ["lkml"]  # a [?] flags the word before it
    assert doc.speaker_turns[0].speaker == "BRIAN" and doc.speaker_turns[0].start_s == 0.0
    assert doc.words[0].start_s == 0.0 and doc.words[4].end_s == pytest.approx(1.6)


def test_vtt_with_voice_tags(tmp_path):
    doc = read_hypothesis(_write(tmp_path, "hyp.vtt", _written(subtitles.write_vtt)))
    assert doc.format == "vtt" and doc.speakers == ("BRIAN", "JEFF")
    assert _texts(doc)[:3] == ["You're", "listening", "to"]
    assert [t.speaker for t in doc.speaker_turns] == ["BRIAN", "JEFF"]


def test_vtt_without_speakers(tmp_path):
    text = "WEBVTT\n\nNOTE made by hand\n\n1\n00:01.000 --> 00:02.500 align:start\nhello <i>there</i>\n\n00:03.000 --> 00:04.000\nbye\n"
    doc = read_hypothesis(_write(tmp_path, "x.txt", text))
    assert doc.format == "vtt" and not doc.has_speakers
    assert _texts(doc) == ["hello", "there", "bye"]
    assert (doc.words[0].start_s, doc.words[1].end_s) == (1.0, 2.5)


def test_srt_with_speaker_prefix_and_plain_cues(tmp_path):
    text = "1\n00:00:01,000 --> 00:00:02,000\nANN: hi there\n\n2\n00:00:02,500 --> 00:00:03,000\nbye\n"
    doc = read_reference(_write(tmp_path, "x.txt", text))
    assert doc.format == "srt"
    assert [(w.text, w.speaker) for w in doc.words] == [("hi", "ANN"), ("there", "ANN"), ("bye", None)]


def test_stm(tmp_path):
    text = (";; comment\nsample 1 Diane 6.68 7.16 Hello?\nsample 1 Sheila 7.634 8.155 <o,f0,female> Hello?\n"
            "sample 1 excluded 8.2 8.4 ignore_time_segment_in_scoring\n")
    doc = read_reference(_write(tmp_path, "ref.stm", text))
    assert doc.format == "stm"
    assert [(w.text, w.speaker) for w in doc.words] == [("Hello?", "Diane"), ("Hello?", "Sheila")]
    assert [(t.speaker, t.start_s, t.end_s) for t in doc.speaker_turns] == [("Diane", 6.68, 7.16), ("Sheila", 7.634, 8.155)]


def test_rttm_has_turns_only(tmp_path):
    text = "SPEAKER ep 1 1.500 2.000 <NA> <NA> ANN <NA> <NA>\nSPEAKER ep 1 0.000 1.000 <NA> <NA> BOB <NA> <NA>\n"
    doc = read_reference(_write(tmp_path, "ref.txt", text))
    assert doc.format == "rttm" and not doc.has_words and doc.words == ()
    assert [(t.speaker, t.start_s, t.end_s) for t in doc.speaker_turns] == [("BOB", 0.0, 1.0), ("ANN", 1.5, 3.5)]


def test_our_json(tmp_path):
    doc = read_hypothesis(_write(tmp_path, "ep.json", _written(json_format.write)))
    assert doc.format == "json" and doc.has_probabilities
    assert [(w.text, w.speaker, w.uncertain) for w in doc.words][6:9] == [
        ("good,", "JEFF", False), ("erm", "JEFF", True), ("lkml", "JEFF", True)]
    assert doc.words[7].probability == 0.2 and doc.words[7].start_s == 2.6
    assert [(t.speaker, t.start_s, t.end_s) for t in doc.speaker_turns] == [("BRIAN", 0.0, 1.7), ("JEFF", 1.9, 3.8)]


@pytest.mark.parametrize("text, fmt", [
    ("{\"turns\": []}", "json"), ("WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", "vtt"),
    ("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "srt"), ("ep 1 A 0.0 1.0 hi\n", "stm"),
    ("SPEAKER ep 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n", "rttm"), ("[b]A:[/b] hi\n", "forum"),
    ("A: hi\nB: ho\n", "named"), ("just some words\n", "text"),
])
def test_detect(text, fmt):
    assert detect(Path("file.txt"), text) == fmt


def test_format_given_overrides_detection(tmp_path):
    doc = read_reference(_write(tmp_path, "ref.txt", "A: hi there\n"), fmt="text")
    assert doc.format == "text" and _texts(doc) == ["A:", "hi", "there"]


def test_combined_reference_words_and_turns(tmp_path):
    words = _write(tmp_path, "ref.forum.txt", "[b]ANN:[/b] hello there\n")
    turns = _write(tmp_path, "ref.rttm", "SPEAKER ep 1 0.0 1.0 <NA> <NA> ANN <NA> <NA>\n")
    doc = read_reference([words, turns])
    assert doc.format == "forum+rttm" and _texts(doc) == ["hello", "there"] and len(doc.speaker_turns) == 1


@pytest.mark.parametrize("name, content, message", [
    ("missing.txt", None, "no such file"),
    ("empty.txt", "  \n", "empty"),
    ("marks.txt", "[?] [i][?][/i]\n", "empty"),
    ("bin.txt", b"\x00\x01\x02", "format"),
    ("latin.txt", b"caf\xe9", "not UTF-8"),
    ("bad.json", "{\"no\": \"turns\"}", "not valid json"),
])
def test_reference_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(PodscribeError, match=message):
        read_reference(path)


def test_empty_hypothesis_is_allowed(tmp_path):
    doc = read_hypothesis(_write(tmp_path, "hyp.txt", ""))
    assert doc.words == () and doc.has_words


def test_named_lines_resolve_abbreviations(tmp_path):
    doc = read_reference(_write(tmp_path, "ref.txt", "Brian: hi\nJeff: hello\nB: bye\nJ: ciao\n"))
    assert [w.speaker for w in doc.words] == ["Brian", "Jeff", "Brian", "Jeff"]


def test_formats_pair_with_files_in_order(tmp_path):
    words = _write(tmp_path, "a.txt", "ANN: hello there\n")
    turns = _write(tmp_path, "b.txt", "SPEAKER ep 1 0.0 1.0 <NA> <NA> ANN <NA> <NA>\n")
    doc = read_reference([words, turns], ["text"])  # the second is detected
    assert doc.format == "text+rttm" and [w.text for w in doc.words] == ["ANN:", "hello", "there"]
    with pytest.raises(PodscribeError, match="formats"):
        read_reference([words], ["text", "rttm"])
