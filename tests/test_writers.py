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
                                            "speaker": "JEFF", "uncertain": True, "gap": False}
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
