"""`podscribe evaluate --catalog`: the model's transcript of each reviewed episode scored against its latest review,
in a real catalog.sqlite with revisions saved as the archive saves them, hand-written transcripts, the command
through CliRunner."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from click.testing import CliRunner

from pipeline.archive import revisions
from pipeline.cli import main
from pipeline.errors import PodscribeError
from pipeline.evaluate import read_reference
from pipeline.evaluate.catalog import evaluate_catalog, prompt_terms
from pipeline.evaluate.readers import MARK, document_of
from pipeline.library.catalog import Catalog, EpisodeRecord, Holder, Outcome
from pipeline.types import Transcript, Turn, Word
from pipeline.writers import json_format, write_all


def turn(speaker: str, start: float, text: str, marked: tuple[str, ...] = ()) -> Turn:
    """Words 0.4 s apart; a word in ``marked`` is the model's guess it was unsure of (probability 0.3)."""
    words = [Word(token, start + 0.4 * i, start + 0.4 * i + 0.3, 0.3 if token in marked else 0.9, speaker,
                  token in marked) for i, token in enumerate(text.split())]
    return Turn(speaker, tuple(words))


def transcript(name: str, turns: tuple[Turn, ...], vocabulary: tuple[str, ...] | None) -> Transcript:
    options = {} if vocabulary is None else {"transcribe": {"model": "base", "vocabulary": list(vocabulary)}}
    return Transcript(episode=name, sha256="0" * 64, duration_s=12.0, language="en", turns=turns, options=options)


def reviewed(model: Transcript, edits: dict[str, str] = (), accepted: tuple[str, ...] = ()) -> Transcript:
    """The model's transcript as a reviewer saves it: ``edits`` (model word -> reviewer's) and ``accepted`` words
    are checked (no longer marked, probability 1); every other marked word keeps the model's guess, marked."""
    edits = dict(edits)

    def check(w: Word) -> Word:
        if w.text in edits or w.text in accepted:
            return replace(w, text=edits.get(w.text, w.text), uncertain=False, probability=1.0)
        return w

    return replace(model, turns=tuple(Turn(t.speaker, tuple(map(check, t.words))) for t in model.turns))


# ep1: 10 words; the reviewer corrected "Lenode" (marked), accepted "mode" (marked), left "lkml" marked.
EP1 = transcript("ep1", (turn("BRIAN", 0.0, "Welcome back. Jeff talks about"),
                         turn("JEFF", 3.0, "Lenode runs lkml user mode Linux.", marked=("Lenode", "lkml", "mode"))),
                 vocabulary=())
# ep2, a week later with the show's vocabulary learned from ep1: 6 words, one error the model did not mark.
EP2 = transcript("ep2", (turn("BRIAN", 0.0, "Linode hosts the show."), turn("JEFF", 2.0, "Thanks Brian.")),
                 vocabulary=("Linode",))
# ep3, another show, earlier; every word right; a transcript that does not record its options.
EP3 = transcript("ep3", (turn("ANNE", 0.0, "The kernel boots in user mode."),), vocabulary=None)
# ep4 is done but never reviewed.
EP4 = transcript("ep4", (turn("ANNE", 0.0, "Nobody looked at this one."),), vocabulary=())

SHOWS = {"ep1": ("Open Source Hour", "2026-11-01"), "ep2": ("Open Source Hour", "2026-11-08"),
         "ep3": ("Kernel Hour", "2026-10-01"), "ep4": ("Kernel Hour", "2026-10-08")}


def done(catalog: Catalog, t: Transcript) -> str:
    """A done episode whose outputs are its JSON and forum transcripts, as a run leaves it."""
    holder = Holder.here()
    show, date = SHOWS[t.episode]
    record = EpisodeRecord(key=f"guid:{t.episode}", kind="feed", source=f"http://x/{t.episode}.mp3", name=t.episode,
                           show=show, date=date)
    paths = write_all(t, catalog.path.parent, ("json", "forum"))
    catalog.claim(record, "base", "k", {}, holder)
    assert catalog.finish(record.key, Outcome("done", outputs=tuple(map(str, paths))), holder)
    return record.key


@pytest.fixture
def folder(tmp_path):
    catalog = Catalog.in_folder(tmp_path)
    keys = {t.episode: done(catalog, t) for t in (EP2, EP1, EP3, EP4)}  # not in date order
    revisions.save(catalog, keys["ep1"], base=0, transcript=reviewed(EP1, {"Lenode": "Linode"}, ("mode",)),
                   author="Ann", corrections=[("Lenode", "Linode")])
    # ep2 reviewed twice: the first review checked nothing; the latest corrected "hosts"
    first = revisions.save(catalog, keys["ep2"], base=0, transcript=EP2, author="Ann")
    revisions.save(catalog, keys["ep2"], base=first.revision, transcript=reviewed(EP2, {"hosts": "sponsors"}),
                   author="Bob", corrections=[("hosts", "sponsors")])
    revisions.save(catalog, keys["ep3"], base=0, transcript=EP3, author="Ann")
    return tmp_path


# ---------------------------------------------------------------- our transcript as a document


def test_a_reviews_unchecked_words_and_gaps_are_unknown_gaps_in_the_reference():
    gap = Word("", 1.2, 2.0, 0.0, "JEFF", uncertain=True, gap=True)
    t = Transcript(episode="x", sha256="0" * 64, duration_s=4.0, language="en", turns=(
        Turn("JEFF", turn("JEFF", 0.0, "so lkml erm", marked=("lkml", "erm")).words + (gap,)
             + turn("JEFF", 2.0, "right here", marked=("here",)).words),
        Turn("BRIAN", turn("BRIAN", 3.0, "yes", marked=("yes",)).words + (Word("", 3.5, 3.6, 1.0, "BRIAN"),))))
    ref = document_of(t, "reference", "x.json")
    assert [(w.text, w.unknown, w.speaker) for w in ref.words] == [
        ("so", False, "JEFF"), (MARK, True, "JEFF"), ("right", False, "JEFF"), (MARK, True, "JEFF"),
        (MARK, True, "BRIAN")]  # lkml, erm and the gap are one run; a new turn starts a new one
    hyp = document_of(t, "hypothesis")
    assert [(w.text, w.uncertain) for w in hyp.words] == [
        ("so", False), ("lkml", True), ("erm", True), ("right", False), ("here", True), ("yes", True)]  # no ""
    assert hyp.words[1].probability == 0.3 and hyp.words[3].start_s == 2.0 and hyp.language == "en"


def test_a_json_reference_reads_the_same_way(tmp_path):
    path = tmp_path / "ep1.reviewed.json"
    with open(path, "w", encoding="utf-8") as f:
        json_format.write(reviewed(EP1, {"Lenode": "Linode"}, ("mode",)), f)
    ref = read_reference(path)
    assert [w.text for w in ref.words] == ["Welcome", "back.", "Jeff", "talks", "about", "Linode", "runs", MARK,
                                           "user", "mode", "Linux."]
    assert ref.format == "json" and ref.path == str(path) and ref.speakers == ("BRIAN", "JEFF")


def test_prompt_terms_from_the_runs_options():
    assert prompt_terms(EP2) == 1 and prompt_terms(EP1) == 0 and prompt_terms(EP3) is None


# ---------------------------------------------------------------- scores of the catalog


def test_each_reviewed_episode_scored_against_its_latest_review(folder):
    result = evaluate_catalog(folder)
    assert [(s.show, [e.name for e in s.episodes]) for s in result.shows] == [
        ("Kernel Hour", ["ep3"]), ("Open Source Hour", ["ep1", "ep2"])]  # by date within a show; ep4 not reviewed
    ep3, ep1, ep2 = result.episodes
    assert (ep1.date, ep1.vocabulary, ep2.vocabulary, ep3.vocabulary) == ("2026-11-01", 0, 1, None)
    w = ep1.scores.words
    assert (w.ref_count, w.substitutions, w.deletions, w.insertions) == (10, 1, 0, 0)  # Lenode -> Linode
    assert ep1.scores.wer == pytest.approx(0.1) and ep1.scores.cpwer.rate == pytest.approx(0.1)
    assert ep1.unchecked == 1 and ep1.scores.der is None  # lkml: left marked, not scored; no speaker times checked
    c = ep1.scores.calibration
    assert (c.words, c.marked, c.wrong, c.marked_wrong) == (10, 2, 1, 1)  # Lenode and mode marked; lkml not judged
    assert (c.recall, c.precision) == (1.0, 0.5)
    assert ep2.scores.wer == pytest.approx(1 / 6) and ep2.scores.calibration.recall == 0.0  # hosts, not marked
    assert ep3.scores.wer == 0.0 and ep3.scores.words.ref_count == 6


def test_totals_per_show_and_over_all_count_every_word(folder):
    result = evaluate_catalog(folder)
    kernel, oss = result.shows
    assert oss.total.words.ref_count == 16 and oss.total.wer == pytest.approx(2 / 16)
    assert (oss.total.calibration.recall, oss.total.calibration.precision) == (0.5, 0.5)
    assert kernel.total.wer == 0.0
    assert result.total.words.ref_count == 22 and result.total.wer == pytest.approx(2 / 22)


def test_one_show(folder):
    result = evaluate_catalog(folder, show="Kernel Hour")
    assert [e.name for e in result.episodes] == ["ep3"] and result.total.words.ref_count == 6
    with pytest.raises(PodscribeError, match="no reviewed episode in show 'Nope'"):
        evaluate_catalog(folder, show="Nope")


# ---------------------------------------------------------------- the command


def run(*args):
    return CliRunner().invoke(main, ["evaluate", *(str(a) for a in args)])


def cells(output: str, name: str) -> list[str]:
    """The table line of ``name``, cut into its columns."""
    line = next(ln for ln in output.splitlines() if ln.startswith(name + "  "))
    return re.split(r"\s{2,}", line.strip())


def test_cli_table(folder):
    result = run("--catalog", folder)
    assert result.exit_code == 0, result.output
    out = result.stdout
    header = re.split(r"\s{2,}", out.splitlines()[0])
    assert header[:6] == ["episode", "date", "vocab", "ref words", "unchecked", "WER"]
    assert cells(out, "Open Source Hour · ep1")[:9] == [
        "Open Source Hour · ep1", "2026-11-01", "0", "10", "1", "10.0%", "1", "0", "0"]
    assert cells(out, "Open Source Hour · ep2")[1:6] == ["2026-11-08", "1", "6", "0", "16.7%"]
    assert cells(out, "Kernel Hour · ep3")[1:6] == ["2026-10-01", "-", "6", "0", "0.0%"]
    assert cells(out, "Open Source Hour · total")[1:4] == ["16", "1", "12.5%"]
    assert cells(out, "TOTAL")[1:4] == ["22", "1", "9.1%"]
    names = [ln.split("  ")[0] for ln in out.splitlines()[2:7]]
    assert names == ["Kernel Hour · ep3", "Open Source Hour · ep1", "Open Source Hour · ep2",
                     "Open Source Hour · total", "TOTAL"]  # a show of one episode needs no total line
    assert "[?] marks: 2 of 22 words" in out and "ep4" not in out


def test_cli_json_and_one_show(folder):
    result = run("--catalog", folder, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    oss = data["shows"][1]
    assert oss["show"] == "Open Source Hour" and [e["episode"] for e in oss["episodes"]] == ["ep1", "ep2"]
    ep1 = oss["episodes"][0]
    assert (ep1["date"], ep1["vocabulary"], ep1["unchecked"], ep1["key"]) == ("2026-11-01", 0, 1, "guid:ep1")
    assert ep1["wer"]["rate"] == 0.1 and ep1["calibration"]["recall"] == 1.0 and ep1["der"] is None
    assert oss["total"]["wer"]["ref"] == 16 and data["total"]["wer"]["substitutions"] == 2
    only = json.loads(run("--catalog", folder, "--format", "json", "--show", "Kernel Hour").stdout)
    assert [s["show"] for s in only["shows"]] == ["Kernel Hour"] and only["total"]["wer"]["ref"] == 6


def test_cli_writes_the_report_to_a_file(folder):
    result = run("--catalog", folder, "--format", "json", "-o", folder / "report.json")
    assert result.exit_code == 0 and result.stdout == "" and "report ->" in result.stderr
    assert json.loads((folder / "report.json").read_text())["total"]["wer"]["ref"] == 22


def test_cli_errors(folder, tmp_path_factory):
    missing = run("--catalog", tmp_path_factory.mktemp("empty"))
    assert missing.exit_code == 1 and "no catalog.sqlite here" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    unreviewed = tmp_path_factory.mktemp("unreviewed")
    done(Catalog.in_folder(unreviewed), EP4)
    nothing = run("--catalog", unreviewed)
    assert nothing.exit_code == 1 and "no reviewed episode" in nothing.stderr
    assert run("--catalog", folder, "--show", "Nope").exit_code == 1
    assert run("--catalog", folder, "--ref", "r.txt", "--hyp", "h.json").exit_code == 2
    assert run("--catalog", folder, "--manifest", "m.toml").exit_code == 2
    html = run("--catalog", folder, "--format", "html")
    assert html.exit_code == 2 and html.stderr.strip() == "error: --catalog reports as a table or json, not html"
    assert run("--ref", "r.txt", "--hyp", "h.json", "--show", "Kernel Hour").exit_code == 2
