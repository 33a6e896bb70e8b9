"""Reviewed episodes of an output folder scored: the model's transcript against the latest review of it.

An episode reviewed in the archive (``podscribe serve``) keeps its revisions in the catalog
(:mod:`pipeline.archive.revisions`): the model's transcript as the run wrote it, then each review. The review is
the reference, the model's transcript the hypothesis; a word the reviewer left marked was never checked and is
not scored (:func:`pipeline.evaluate.readers.document_of`). Each episode gets its date and how many vocabulary
terms its run's prompt had (the show's vocabulary grows with each review), so a show's rows, in date order, say
whether the model does better on it over time. Each show, and all of them, are totalled over every word.

DER is not reported: a review corrects words and speaker names, not speaker times.
Pure apart from reading the catalog.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

from pipeline.errors import PodscribeError
from pipeline.evaluate.metrics import Scores, score, total
from pipeline.evaluate.readers import Document, document_of
from pipeline.evaluate.report import details, grid, pct, to_dict
from pipeline.library.catalog import CATALOG_NAME, Catalog
from pipeline.types import Transcript, written


@dataclass(frozen=True)
class EpisodeScore:
    """One reviewed episode: the model's transcript (``hyp``) scored against its latest review (``ref``)."""

    key: str
    name: str
    show: Optional[str]
    date: Optional[str]
    vocabulary: Optional[int]  # terms in the run's prompt; None when the transcript does not record it
    unchecked: int  # words the reviewer left marked: not scored
    ref: Document
    hyp: Document
    scores: Scores


@dataclass(frozen=True)
class ShowScores:
    """A show's reviewed episodes, oldest first, and their total."""

    show: Optional[str]
    episodes: tuple[EpisodeScore, ...]
    total: Scores


@dataclass(frozen=True)
class CatalogScores:
    shows: tuple[ShowScores, ...]
    total: Scores

    @property
    def episodes(self) -> tuple[EpisodeScore, ...]:
        return tuple(e for s in self.shows for e in s.episodes)


def evaluate_catalog(output_dir: str | Path, show: Optional[str] = None, normalizer: str = "auto") -> CatalogScores:
    """Every reviewed episode of the folder's catalog (of one show), scored; an error when there is none."""
    from pipeline.archive.revisions import first_model_and_last_review

    path = Path(output_dir)
    path = path if path.name == CATALOG_NAME else path / CATALOG_NAME
    if not path.is_file():
        raise PodscribeError(f"{path.parent}: no {CATALOG_NAME} here (transcribe something first)")
    catalog = Catalog(path)
    reviewed = _reviewed_keys(catalog)
    episodes = []
    for row in catalog.rows(show=show):
        pair = first_model_and_last_review(catalog, row.key) if row.key in reviewed else None
        if pair is not None:
            episodes.append(score_episode(row.key, row.name, row.show, row.date, *pair, normalizer=normalizer))
    if not episodes:
        where = f"show {show!r} in {path}" if show else str(path)
        raise PodscribeError(f"no reviewed episode in {where} (review one in `podscribe serve` first)")
    return by_show(episodes)


def _reviewed_keys(catalog: Catalog) -> set[str]:
    with catalog.connect() as conn:
        return {key for (key,) in conn.execute("SELECT DISTINCT key FROM revisions WHERE kind = 'review'")}


def score_episode(key: str, name: str, show: Optional[str], date: Optional[str], model: Transcript,
                  review: Transcript, normalizer: str = "auto") -> EpisodeScore:
    """The model's transcript scored against the review (the reviewer's unchecked words left out)."""
    ref = _untimed(document_of(review, "reference", f"{name} (review)"))
    hyp = document_of(model, "hypothesis", f"{name} (model)")
    unchecked = sum(1 for t in review.turns for w in written(t.words) if w.uncertain and not w.gap and w.text)
    return EpisodeScore(key, name, show, date, prompt_terms(model), unchecked, ref, hyp,
                        score(ref, hyp, normalizer=normalizer))


def _untimed(ref: Document) -> Document:
    """The reference without speaker times: those in a review are the model's own, never checked (so no DER)."""
    return replace(ref, speaker_turns=(), words=tuple(replace(w, start_s=None, end_s=None) for w in ref.words))


def prompt_terms(transcript: Transcript) -> Optional[int]:
    """How many vocabulary terms the run's prompt had, as its options record it (pipeline/run.py ``identity``)."""
    transcribe = transcript.options.get("transcribe") if isinstance(transcript.options, dict) else None
    terms = transcribe.get("vocabulary") if isinstance(transcribe, dict) else None
    return len(terms) if isinstance(terms, (list, tuple)) else None


def by_show(episodes: Sequence[EpisodeScore]) -> CatalogScores:
    """Episodes grouped by show (shows by name, episodes by date), each show totalled, then all of them."""
    shows: dict[str, list[EpisodeScore]] = {}
    for e in sorted(episodes, key=lambda e: (e.show or "", e.date or "", e.name)):
        shows.setdefault(e.show or "", []).append(e)
    out = tuple(ShowScores(eps[0].show, tuple(eps), total([e.scores for e in eps])) for eps in shows.values())
    return CatalogScores(out, total([e.scores for e in episodes]))


# ---------------------------------------------------------------- reports


_COLUMNS = ("episode", "date", "vocab", "ref words", "unchecked", "WER", "sub", "del", "ins", "CER", "cpWER",
            "marked", "precision", "recall")


def label(show: Optional[str], name: str) -> str:
    """``SHOW · EPISODE`` (the episode alone for one given as a file, which has no show)."""
    return f"{show} · {name}" if show else name


def _cells(name: str, date: str, vocab: str, unchecked: str, s: Scores) -> list[str]:
    w, c = s.words, s.calibration
    return [name, date, vocab, str(w.ref_count) if w else "-", unchecked, pct(s.wer),
            *(str(v) if w else "-" for v in (w and w.substitutions, w and w.deletions, w and w.insertions)),
            pct(s.cer), pct(s.cpwer.rate if s.cpwer else None), pct(c.marked_share if c else None),
            pct(c.precision if c else None), pct(c.recall if c else None)]


def table(result: CatalogScores) -> str:
    """One line per episode, a total per show (when it has more than one) and over all, then the details."""
    lines = [list(_COLUMNS)]
    for show in result.shows:
        lines += [_cells(label(e.show, e.name), e.date or "-", "-" if e.vocabulary is None else str(e.vocabulary),
                         str(e.unchecked), e.scores) for e in show.episodes]
        if len(show.episodes) > 1:
            lines.append(_cells(label(show.show, "total"), "", "", str(sum(e.unchecked for e in show.episodes)),
                                show.total))
    lines.append(_cells("TOTAL", "", "", str(sum(e.unchecked for e in result.episodes)), result.total))
    return "\n\n".join(p for p in [grid(lines), details(result.total)] if p)


def as_json(result: CatalogScores) -> dict[str, Any]:
    def one(e: EpisodeScore) -> dict[str, Any]:
        return {"key": e.key, "episode": e.name, "show": e.show, "date": e.date, "vocabulary": e.vocabulary,
                "unchecked": e.unchecked, **to_dict(e.scores)}

    return {"shows": [{"show": s.show, "episodes": [one(e) for e in s.episodes], "total": to_dict(s.total)}
                      for s in result.shows],
            "total": to_dict(result.total)}
