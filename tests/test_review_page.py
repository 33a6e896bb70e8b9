"""The html review page, in real headless chromium (Debian's, driven by selenium) on a hand-written transcript
over a real audio clip cut from the bundled sample: no model runs here."""
from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.evaluate import read_reference
from pipeline.merge import uncertain_spans
from pipeline.types import SpeakerTurn, Transcript, Turn, Word
from pipeline.writers import html, json_format, parse_formats, write_all
from tests import browser

pytestmark = pytest.mark.browser  # Debian's chromium, headless, driven by selenium

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "audio" / "samples" / "interview.flac"
CLIP_S = 12.0


def words(speaker, start, texts, marked=(), gap_after=None):
    """Words 0.45 s apart from ``start``; indices in ``marked`` uncertain; a 0.8 s gap after index ``gap_after``."""
    out, t = [], start
    for i, text in enumerate(texts):
        out.append(Word(text, round(t, 3), round(t + 0.4, 3), 0.3 if i in marked else 0.95, speaker, i in marked))
        t += 0.45
        if i == gap_after:
            out.append(Word("", round(t, 3), round(t + 0.8, 3), 0.0, speaker, True, gap=True))
            t += 0.85
    return tuple(out)


def sample_transcript(sha: str = "a" * 64) -> Transcript:
    brian = words("BRIAN", 0.2, "You're listening to the Virtual Strategy Magazine podcast, I'm Brian DeSharn,".split(),
                  marked={8})
    jeff = words("JEFF", 5.2, "and I'm here with Jeff Dijk, author of user Muglinux".split(), marked={5, 7, 8},
                 gap_after=2)
    brian2 = words("BRIAN", 10.0, "How are </script><b>you</b> today?".split())
    turns = (Turn("BRIAN", brian), Turn("JEFF", jeff), Turn("BRIAN", brian2))
    return Transcript(episode="clip", sha256=sha, duration_s=CLIP_S, language="en", turns=turns,
                      speaker_turns=(SpeakerTurn("BRIAN", 0.0, 5.0), SpeakerTurn("JEFF", 5.0, 10.0),
                                     SpeakerTurn("BRIAN", 10.0, 12.0)),
                      source="audio/clip.flac")


def flat(transcript: Transcript) -> list[Word]:
    return [w for t in transcript.turns for w in t.words]


def mark_runs(transcript: Transcript) -> list[list[int]]:
    """Indices (in page order) of each run of marked words, as the forum writer groups them under one [?]."""
    runs, i = [], 0
    for turn in transcript.turns:
        for uncertain, span in uncertain_spans(turn.words):
            if uncertain:
                runs.append(list(range(i, i + len(span))))
            i += len(span)
    return runs


# ---------------------------------------------------------------- the page as written (no browser)


def test_html_is_a_format_of_all_and_writes_next_to_the_others(tmp_path):
    assert "html" in parse_formats("all")
    t = dataclasses.replace(sample_transcript(), source=str(tmp_path / "audio" / "my episode é.flac"))
    paths = write_all(t, tmp_path / "out", ("json", "html"))
    assert [p.name for p in paths] == ["clip.json", "clip.html"]
    page = paths[1].read_text()
    data = json.loads(page.split('id="podscribe-data">', 1)[1].split("</script>", 1)[0])
    assert data["audio"]["src"] == "../audio/my%20episode%20%C3%A9.flac"
    assert data["format"] == {"mark": "[i][?][/i]", "label": "[b]{name}:[/b]"}


def test_page_needs_no_network_and_the_data_cannot_end_the_script():
    page = html.render(sample_transcript())
    assert "http://" not in page and "https://" not in page and "<link" not in page and "@import" not in page
    assert page.count("</script>") == 4  # data, audio, server, code: "</script>" is escaped inside the JSON
    assert "\\u003c/script>\\u003cb>you\\u003c/b>" in page


def test_embedded_audio_is_a_small_opus_copy(tmp_path, clip):
    audio = html.page_audio(str(clip), tmp_path, embed=True)
    assert audio.src == "" and audio.mime == "audio/ogg" and audio.data[:4] == b"OggS"
    assert len(audio.data) < clip.stat().st_size / 4


def test_embedding_a_missing_file_is_one_clear_error(tmp_path):
    from pipeline.errors import PodscribeError

    with pytest.raises(PodscribeError, match="cannot embed audio"):
        html.page_audio(str(tmp_path / "nothing.flac"), tmp_path, embed=True)


# ---------------------------------------------------------------- in chromium

@pytest.fixture(scope="module")
def browser_required():
    """The Makefile installs chromium: its absence is a failure, not a reason to skip."""
    reason = browser.available()
    if reason:
        pytest.fail(f"the review page tests need Debian's chromium and selenium: {reason}")


needs_browser = pytest.mark.usefixtures("browser_required")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 12 s of the bundled sample, cut with ffmpeg."""
    path = tmp_path_factory.mktemp("episode") / "audio" / "clip.flac"
    path.parent.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(SAMPLE), "-t", str(CLIP_S), str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    with browser.chromium(downloads) as d:
        d.downloads = downloads
        yield d


def open_page(driver, clip: Path, transcript: Transcript, embed: bool = False) -> Path:
    """Write the transcript's json and html beside the clip's folder (out/ next to audio/) and open the page."""
    out = clip.parent.parent / "out"
    write_all(dataclasses.replace(transcript, source=str(clip)), out, ("json", "html"), embed_audio=embed)
    driver.get((out / f"{transcript.episode}.html").as_uri())
    wait(driver, "return document.documentElement.dataset.ready === '1'")
    return out


def wait(driver, script: str, timeout_s: float = 10.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def press(driver, *keys):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def word_el(driver, i):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'.w[data-i="{i}"]')


def correct(driver, i, text):
    """Click word ``i``, press e and type ``text`` (the guess is selected: typing replaces it)."""
    word_el(driver, i).click()
    press(driver, "e")
    driver.find_element("css selector", "input.edit").send_keys(text + "\n")


def selected(driver) -> list[int]:
    return driver.execute_script("return [...document.querySelectorAll('.w.sel')].map(e => +e.dataset.i)")


def record_seeks(driver) -> None:
    driver.execute_script("const a = document.getElementById('audio'); window.seeks = [];"
                          "a.addEventListener('seeking', () => window.seeks.push(a.currentTime));")


@needs_browser
def test_page_shows_turns_marks_and_header(driver, clip):
    t = sample_transcript("1" * 64)
    open_page(driver, clip, t)
    assert wait(driver, "return document.getElementById('audio').readyState >= 1")  # the relative path plays
    names = driver.execute_script("return [...document.querySelectorAll('.spk')].map(e => e.textContent)")
    assert names == [turn.speaker for turn in t.turns]
    ws = flat(t)
    assert driver.execute_script("return document.querySelectorAll('.w.q').length") == sum(w.uncertain for w in ws)
    assert driver.execute_script("return document.querySelectorAll('.w.gap').length") == len(t.gaps) == 1
    odd = next(i for i, w in enumerate(ws) if w.text.startswith("</script>"))
    assert word_el(driver, odd).text == "</script><b>you</b>"  # shown as text, not markup
    header = driver.find_element("id", "stats").text
    share = sum(w.uncertain for w in t.words) / len(t.words)
    assert f"{100 * share:.1f} % marked [?]" in header and "2 speakers" in header and "0:12" in header


@needs_browser
def test_clicking_a_word_plays_from_its_start(driver, clip):
    t = sample_transcript("2" * 64)
    open_page(driver, clip, t)
    record_seeks(driver)
    for i in (3, 12, len(flat(t)) - 1):
        driver.execute_script("window.seeks = []")
        word_el(driver, i).click()
        seek = wait(driver, "return window.seeks.length && window.seeks[window.seeks.length - 1]")
        now = driver.execute_script("const a = document.getElementById('audio'); a.pause(); return a.currentTime")
        start = flat(t)[i].start_s
        assert abs(seek - start) < 0.1
        assert now >= start - 0.1
        assert selected(driver) == [i]


@needs_browser
def test_n_and_p_visit_every_mark_in_order(driver, clip):
    t = sample_transcript("3" * 64)
    open_page(driver, clip, t)
    record_seeks(driver)
    runs = mark_runs(t)
    assert [len(r) for r in runs] == [1, 1, 1, 2]  # "DeSharn,", the gap, "Dijk,", "user Muglinux"
    visited, seeks = [], []
    for _ in runs:
        count = driver.execute_script("return window.seeks.length")
        press(driver, "n")
        wait(driver, f"return window.seeks.length > {count}")  # 'seeking' fires after the key is handled
        visited.append(selected(driver))
        seeks.append(driver.execute_script("return window.seeks[window.seeks.length - 1]"))
    assert visited == runs
    ws = flat(t)
    assert [round(s, 2) for s in seeks] == [round(max(0.0, ws[r[0]].start_s - 2), 2) for r in runs]
    press(driver, "n")
    assert selected(driver) == runs[-1]  # nothing after the last
    back = []
    for _ in runs[:-1]:
        press(driver, "p")
        back.append(selected(driver))
    assert back == runs[-2::-1]


@needs_browser
def test_correct_rename_give_save_and_evaluate(driver, clip):
    t = sample_transcript("4" * 64)
    out = open_page(driver, clip, t)
    ws = flat(t)
    dijk = next(i for i, w in enumerate(ws) if w.text == "Dijk,")
    correct(driver, dijk, "Dike,")
    assert word_el(driver, dijk).text == "Dike," and "q" not in word_el(driver, dijk).get_attribute("class").split()
    gap = next(i for i, w in enumerate(ws) if w.gap)
    correct(driver, gap, "right here")
    driver.find_element("css selector", '.spk[data-t="0"]').click()
    driver.find_element("css selector", "#pop input.rename").send_keys("HOST\n")
    assert driver.execute_script("return [...document.querySelectorAll('.spk')].map(e => e.textContent)") == \
        ["HOST", "JEFF", "HOST"]
    word_el(driver, len(ws) - 1).click()
    press(driver, "2")  # the last turn goes to speaker 2, JEFF
    saved_forum, saved = save(driver, "clip")
    # saved part-way: every word not checked yet keeps the model's guess, still marked
    assert "of user [i][?][/i] Muglinux" in saved_forum.read_text() and "I'm [i][?][/i] Brian" in saved_forum.read_text()
    driver.find_element("id", "reference").click()  # the reference for evaluate: those words as the mark alone
    forum = wait_for_file(driver.downloads / "clip.reference.forum.txt")
    assert "author [i][?][/i] Muglinux" in forum.read_text() and "Dike," in forum.read_text()
    ref = read_reference(forum)
    texts = [w.text for w in ref.words]
    assert "Dike," in texts and "Dijk," not in texts and "right" in texts and "here" in texts
    assert ref.speakers == ("HOST", "JEFF") and ref.words[-1].speaker == "JEFF"
    unknown = sum(w.unknown for w in ref.words)
    assert unknown == len(mark_runs(t)) - 2  # the runs left alone stay [?] (not scored); two were resolved
    reviewed = json_format.read(io.StringIO(saved.read_text()))
    assert reviewed.speakers == ("HOST", "JEFF")
    data = json.loads(saved.read_text())
    assert data["review"]["speakers"] == {"BRIAN": "HOST", "JEFF": "JEFF"}
    assert {(c["from"], c["to"]) for c in data["review"]["corrections"]} == {("Dijk,", "Dike,"), ("[?]", "right here")}

    run = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--ref", str(forum), "--hyp",
                          str(out / "clip.json"), "--format", "json", "--normalizer", "none"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    scores = json.loads(run.stdout)
    wer = scores["wer"]
    # the one corrected word is the one substitution, the words typed into the gap are missing from the
    # hypothesis; the words still marked are [?] in the reference and not scored
    assert (wer["substitutions"], wer["deletions"], wer["insertions"]) == (1, 2, 0)
    assert wer["hits"] == len(ref.words) - unknown - 3


def save(driver, episode: str, no_words: bool = False) -> tuple[Path, Path]:
    """Click Save and wait for both files it downloads (forum, JSON; with ``no_words`` the forum is empty);
    another test's earlier save is removed first, so neither wait can return a stale file, and this save
    leaves nothing still arriving."""
    for old in driver.downloads.glob(f"{episode}.reviewed.*"):
        old.unlink()
    driver.find_element("id", "save").click()
    return (wait_for_file(driver.downloads / f"{episode}.reviewed.forum.txt", empty=no_words),
            wait_for_file(driver.downloads / f"{episode}.reviewed.json"))


def wait_for_file(path: Path, timeout_s: float = 10.0, empty: bool = False) -> Path:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if path.is_file() and not path.with_name(path.name + ".crdownload").exists() and (empty or path.stat().st_size):
            return path
        time.sleep(0.05)
    raise AssertionError(f"{path.name} was not downloaded")


@needs_browser
def test_a_reload_keeps_unsaved_edits(driver, clip):
    t = sample_transcript("5" * 64)
    open_page(driver, clip, t)
    correct(driver, 2, "into")
    press(driver, "n")
    press(driver, "a")  # accept the next mark as it is
    accepted = selected(driver)
    driver.find_element("css selector", '.spk[data-t="1"]').click()
    driver.find_element("css selector", "#pop input.rename").send_keys("GUEST\n")
    driver.refresh()
    wait(driver, "return document.documentElement.dataset.ready === '1'")
    assert word_el(driver, 2).text == "into"
    assert all("q" not in word_el(driver, i).get_attribute("class").split() for i in accepted)
    assert "GUEST" in driver.execute_script("return [...document.querySelectorAll('.spk')].map(e => e.textContent)")
    assert "not saved yet" in driver.find_element("id", "state").text


@needs_browser
def test_embedded_audio_plays_without_the_file(driver, clip, tmp_path):
    t = dataclasses.replace(sample_transcript("6" * 64), episode="embedded")
    out = open_page(driver, clip, t, embed=True)
    duration = wait(driver, "const a = document.getElementById('audio'); return a.readyState >= 1 && a.duration")
    assert abs(duration - CLIP_S) < 0.5
    assert driver.execute_script("return document.getElementById('audio').src").startswith("blob:")
    assert (out / "embedded.html").stat().st_size > 4 * 1024


@needs_browser
def test_the_spoken_word_is_highlighted_and_followed(driver, clip):
    t = sample_transcript("7" * 64)
    open_page(driver, clip, t)
    driver.execute_script("document.querySelector('.turn[data-t=\"1\"]').style.marginBottom = '3000px'")
    ws = flat(t)
    last_of_jeff = len(t.turns[0].words) + len(t.turns[1].words) - 1
    word_el(driver, last_of_jeff).click()
    first_of_third = last_of_jeff + 1
    now, i = wait(driver, "const a = document.getElementById('audio'), n = document.querySelector('.w.now');"
                          f"return a.currentTime > {ws[first_of_third].start_s + 0.1} && [a.currentTime, +n.dataset.i]",
                  timeout_s=15)
    assert ws[i].start_s <= now and (i + 1 == len(ws) or ws[i + 1].start_s > now - 0.5)
    assert i >= first_of_third
    # the page scrolls (smoothly) 3000 px down to follow the audio: the spoken word comes into view
    assert wait(driver, "const n = document.querySelector('.w.now'), r = n && n.getBoundingClientRect();"
                        "return !!r && r.top >= 0 && r.bottom <= innerHeight", timeout_s=5)
    driver.execute_script("document.getElementById('audio').pause()")


@needs_browser
def test_edits_kept_for_another_transcript_of_the_episode_are_not_applied(driver, clip):
    t = sample_transcript("8" * 64)
    open_page(driver, clip, t)
    correct(driver, 0, "Welcome")
    first = t.turns[0]
    redone = dataclasses.replace(t, turns=(Turn("BRIAN", (dataclasses.replace(first.words[0], start_s=0.1),)
                                                + first.words[1:]),) + t.turns[1:])
    open_page(driver, clip, redone)  # same file and episode, another run's words
    assert word_el(driver, 0).text == "You're"
    assert driver.find_element("id", "state").text == "no edits yet"


@needs_browser
def test_an_episode_with_no_speech_opens_and_saves_empty(driver, clip):
    t = dataclasses.replace(sample_transcript("9" * 64), episode="silence", turns=(), speaker_turns=())
    open_page(driver, clip, t)
    assert "0 words" in driver.find_element("id", "stats").text
    press(driver, "n")
    assert "no [?] after this point" in driver.find_element("id", "state").text
    forum, saved = save(driver, "silence", no_words=True)
    assert forum.read_text() == ""
    assert saved.read_text().startswith("{")


def french_transcript(sha: str, language: str = "fr") -> Transcript:
    """Whisper's words for "L'étoile n'est pas loin, souhaitez-vous attendre ?", each joining part flagged."""
    parts = [("L", False), ("'étoile", True), ("n", False), ("'est", True), ("pas", False), ("loin,", False),
             ("souhaitez", False), ("-vous", True), ("attendre", False), ("?", False)]
    ws = tuple(dataclasses.replace(Word(text, round(0.3 + 0.5 * i, 3), round(0.7 + 0.5 * i, 3), 0.3 if i == 2 else 0.95,
                                        "ANNE", i == 2), joins=joins) for i, (text, joins) in enumerate(parts))
    return Transcript(episode="clip", sha256=sha, duration_s=CLIP_S, language=language, turns=(Turn("ANNE", ws),),
                      speaker_turns=(SpeakerTurn("ANNE", 0.0, 6.0), SpeakerTurn("BOB", 6.0, 12.0)),
                      source="audio/clip.flac")


@needs_browser
def test_a_french_episode_shows_edits_and_saves_its_words_as_written(driver, clip):
    t = french_transcript("5" * 64)
    open_page(driver, clip, t)
    assert driver.execute_script("return document.documentElement.lang") == "fr"
    assert driver.execute_script("return document.getElementById('doc').dir") == "ltr"
    shown = driver.execute_script("return document.getElementById('doc').innerText")
    assert "L'étoile n'est pas loin, souhaitez-vous attendre ?" in " ".join(shown.split())
    assert not driver.find_element("id", "pop").is_displayed()  # the empty popup is hidden, not a box below
    words_shown = driver.execute_script("return [...document.querySelectorAll('.w')].map(e => e.textContent)")
    n_est = words_shown.index("n'est")
    correct(driver, n_est, "n'était")
    press(driver, "3")  # two speakers: there is no third, and the page says so
    assert "no speaker 3" in driver.find_element("id", "state").text
    forum, _ = save(driver, "clip")
    assert "L'étoile n'était pas loin, souhaitez-vous attendre ?" in forum.read_text()


@needs_browser
def test_a_right_to_left_episode_runs_right_to_left(driver, clip):
    open_page(driver, clip, french_transcript("6" * 64, language="ar"))
    assert driver.execute_script("return document.documentElement.lang") == "ar"
    assert driver.execute_script("return getComputedStyle(document.getElementById('doc')).direction") == "rtl"
    assert driver.execute_script("return getComputedStyle(document.getElementById('bar')).direction") == "ltr"
