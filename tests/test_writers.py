"""Every writer on a hand-written transcript; the pure core imports no torch."""
import io
import json
import subprocess
import sys

import pytest

from pipeline.errors import PodscribeError
from pipeline.types import Transcript, Turn
from pipeline.writers import (
    WRITERS,
    forum,
    json_format,
    markdown,
    output_path,
    parse_formats,
    rttm,
    subtitles,
    text,
    write_all,
)
from pipeline.writers.format import timestamp
from tests.helpers import small_transcript, word


def render(writer, transcript=None, **kw):
    buf = io.StringIO()
    writer(transcript or small_transcript(), buf, **kw)
    return buf.getvalue()


def test_forum_reads_like_the_seed():
    assert render(forum.write) == (
        "[b]BRIAN:[/b] You're listening to the podcast.\n"
        "[b]JEFF:[/b] I'm good, erm lkml [i][?][/i] thanks.\n")


def test_forum_drop_uncertain_writes_the_mark_alone():
    assert render(forum.write, drop_uncertain=True).splitlines()[1] == "[b]JEFF:[/b] I'm good, [i][?][/i] thanks."


def test_txt():
    assert render(text.write) == "BRIAN: You're listening to the podcast.\n\nJEFF: I'm good, erm lkml [?] thanks.\n"


def test_markdown_escapes_the_mark_and_shows_times():
    out = render(markdown.write)
    assert out.startswith("# episode\n")
    assert "**JEFF:** `00:02` I'm good, *erm lkml* \\[?\\] thanks." in out


def test_markdown_puts_each_uncertain_span_in_italics_so_its_start_shows():
    from markdown_it import MarkdownIt

    html = MarkdownIt().render(render(markdown.write))
    assert "<p><strong>JEFF:</strong> <code>00:02</code> I'm good, <em>erm lkml</em> [?] thanks.</p>" in html
    dropped = MarkdownIt().render(render(markdown.write, drop_uncertain=True))
    assert "I'm good, [?] thanks." in dropped and "<em>" not in dropped.split("</p>", 1)[1]


def test_srt_cues():
    out = render(subtitles.write_srt)
    assert out.split("\n\n")[0] == "1\n00:00:00,000 --> 00:00:01,600\nBRIAN: You're listening to the podcast."
    assert "2\n00:00:02,000 --> 00:00:03,700\nJEFF: I'm good, erm lkml [?] thanks." in out


def test_vtt_uses_voice_tags():
    out = render(subtitles.write_vtt)
    assert out.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.600\n<v BRIAN>You're listening to the podcast.\n")


def test_long_turn_becomes_cues_of_two_short_lines_split_at_pauses():
    words = [word(f"word{i:02d}", i * 0.5, i * 0.5 + 0.4, speaker="JEFF") for i in range(40)]
    words[20] = word("after", 12.0, 12.4, speaker="JEFF")  # a 1.9 s pause before it
    t = Transcript("e", "0", 20, "en", (Turn("JEFF", tuple(words)),))
    cues = subtitles.cues(t)
    assert len(cues) > 3
    assert all(len(lines) <= 2 and all(len(line) <= 42 for line in lines) for _, _, _, lines in cues)
    assert any(lines[0].startswith("JEFF: after") for _, _, _, lines in cues)
    assert all(end - start <= 7.0 for start, end, _, _ in cues)


def test_rttm_uses_the_full_diarization():
    assert render(rttm.write) == (
        "SPEAKER episode 1 0.000 1.700 <NA> <NA> BRIAN <NA> <NA>\n"
        "SPEAKER episode 1 1.900 1.900 <NA> <NA> JEFF <NA> <NA>\n")


def test_json_round_trips():
    t = small_transcript()
    data = json.loads(render(json_format.write, t))
    assert data["turns"][1]["words"][2] == {"text": "erm", "start_s": 2.6, "end_s": 2.8, "probability": 0.2,
                                            "speaker": "JEFF", "uncertain": True, "gap": False,
                                            "joins": False}
    back = json_format.read(io.StringIO(render(json_format.write, t)))
    assert back.turns == t.turns and back.speaker_turns == t.speaker_turns and back.sha256 == t.sha256


def test_empty_transcript_writes_valid_empty_outputs():
    t = Transcript("silence", "0", 10.0, "en", ())
    for _, writer in WRITERS.values():
        render(writer, t)
    assert render(forum.write, t) == "" and render(subtitles.write_vtt, t) == "WEBVTT\n\n"


def test_format_parsing():
    assert parse_formats("all") == tuple(WRITERS)
    assert parse_formats("forum, json,forum") == ("forum", "json")
    assert parse_formats(("json", "forum,srt")) == ("json", "forum", "srt")  # -f json -f forum,srt
    assert parse_formats(("json", "all")) == tuple(WRITERS)
    with pytest.raises(PodscribeError, match="unknown format docx"):
        parse_formats("forum,docx")
    with pytest.raises(PodscribeError, match="unknown format ','"):
        parse_formats((",",))


def test_write_all_is_atomic_and_named_after_the_episode(tmp_path):
    paths = write_all(small_transcript(), tmp_path, ("forum", "srt"))
    assert [p.name for p in paths] == ["episode.forum.txt", "episode.srt"]
    assert output_path(tmp_path, "episode", "json").name == "episode.json"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_timestamp():
    assert timestamp(3725.5) == "01:02:05.500"
    assert timestamp(65.25, ",") == "00:01:05,250"
    assert timestamp(65.25, always_hours=False) == "01:05.250"


def test_the_pure_core_imports_no_torch():
    code = ("import sys; import pipeline.chunk, pipeline.seam, pipeline.merge, pipeline.writers, pipeline.types;"
            "bad = [m for m in ('torch', 'whisper', 'pyannote.audio') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _french() -> Transcript:
    """Words as Whisper gives them for "L'étoile n'est pas loin. Souhaitez-vous attendre ?" (with its spacing,
    through make_segment's rule), the second part of "n'est" doubtful."""
    from dataclasses import replace as _replace

    from pipeline.asr.decoding import joins

    raw = [(" L", 0.0, 0.2), ("'étoile", 0.2, 0.6), (" n", 0.7, 0.8), ("'est", 0.8, 1.0), (" pas", 1.0, 1.2),
           (" loin.", 1.2, 1.6), (" Souhaitez", 1.8, 2.3), ("-vous", 2.3, 2.5), (" attendre", 2.5, 3.0), (" ?", 3.0, 3.1)]
    words = tuple(_replace(word(w.strip(), s, e, speaker="ANNE", uncertain=w == "'est"), joins=joins(w, k == 0))
                  for k, (w, s, e) in enumerate(raw))
    return Transcript(episode="fr", sha256="0" * 64, duration_s=3.5, language="fr", turns=(Turn("ANNE", words),))


def test_words_are_joined_as_the_language_writes_them_in_every_format():
    t = _french()
    assert render(text.write, t) == "ANNE: L'étoile n'est [?] pas loin. Souhaitez-vous attendre ?\n"
    assert render(forum.write, t).startswith("[b]ANNE:[/b] L'étoile n'est [i][?][/i] pas loin. Souhaitez-vous")
    assert "*n'est* \\[?\\] pas loin" in render(markdown.write, t)
    srt = render(subtitles.write_srt, t)
    assert "L'étoile n'est [?] pas loin. Souhaitez-vous attendre ?" in " ".join(srt.split("\n"))
    assert not any(line.endswith((" L", " n")) or line.startswith(("'", "-")) for line in srt.splitlines())
    data = json.loads(render(json_format.write, t))  # the JSON keeps Whisper's words, each saying if it joins
    assert [w["joins"] for w in data["turns"][0]["words"]][:4] == [False, True, False, True]
    assert json_format.read(io.StringIO(render(json_format.write, t))).turns == t.turns


def test_a_cue_never_ends_inside_a_written_word():
    from dataclasses import replace as _replace

    one = _french().turns[0].words  # 3.1 s: eight times over makes several cues, several lines each
    words = tuple(_replace(w, start_s=w.start_s + 3.2 * k, end_s=w.end_s + 3.2 * k) for k in range(8) for w in one)
    t = Transcript(episode="fr", sha256="0" * 64, duration_s=26.0, language="fr", turns=(Turn("ANNE", words),))
    cues = subtitles.cues(t)
    assert len(cues) > 2 and any(len(lines) > 1 for *_, lines in cues)
    for _, _, _, lines in cues:
        assert not any(line.startswith(("'", "-")) or line.endswith((" L", " n", " Souhaitez")) for line in lines)
    assert "L'étoile" in " ".join(line for *_, lines in cues for line in lines)


def test_a_script_without_spaces_is_joined_without_spaces():
    from pipeline.asr.decoding import joins
    from pipeline.types import join_words, written

    # Whisper's words for 今天天气很好 / 我们去公园: none has a leading space, a segment's first word included
    segments = [["今天", "天气", "很", "好"], ["我们", "去", "公园"]]
    words = [_replace_joins(word(w, 0.0, 0.1), joins(w, k == 0)) for seg in segments for k, w in enumerate(seg)]
    assert join_words(words) == "今天天气很好我们去公园"
    assert len(written(words)) == 1
    assert joins("Hello", first=True) is False and joins("'s", first=False) is True and joins(" a", False) is False


def _replace_joins(w, value):
    from dataclasses import replace as _replace

    return _replace(w, joins=value)
