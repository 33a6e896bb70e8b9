"""What an episode to run is (:class:`EpisodeJob`), what came of it (:class:`EpisodeResult`), and the jobs for
what the command line names (files, folders, globs, URLs: :func:`plan_inputs`) or a feed lists (:func:`plan_feed`).

Both are plain frozen values, so an executor can send a job elsewhere and bring its result back.
"""
from __future__ import annotations

import glob
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection, Optional, Sequence
from urllib.parse import unquote, urlsplit

from pipeline.asr.options import TranscribeOptions, english_only, english_only_refusal, is_english
from pipeline.errors import PodscribeError
from pipeline.library.catalog import EpisodeRecord, Row
from pipeline.library.download import check_url, is_url
from pipeline.library.feed import Episode, Feed
from pipeline.library.names import safe_filename, safe_join, slugify
from pipeline.library.show_notes import names_from

#: what a folder given on the command line is searched for (any of them ffmpeg reads)
AUDIO_EXTENSIONS = frozenset(".mp3 .m4a .m4b .aac .wav .flac .ogg .oga .opus .wma .aiff .aif .mp4 .m4v .mov .mkv "
                             ".webm .avi".split())
_TYPE_EXTENSIONS = {"audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a",
                    "audio/aac": ".aac", "audio/ogg": ".ogg", "audio/opus": ".opus", "audio/wav": ".wav",
                    "audio/x-wav": ".wav", "audio/flac": ".flac", "video/mp4": ".mp4"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: its catalog identity, where its audio is (or will be) and what to record."""

    record: EpisodeRecord
    path: str  # the local audio file (for a URL: where the download goes)
    url: Optional[str] = None  # downloaded to ``path`` first when set
    expected_length: Optional[int] = None  # bytes the feed declares
    duration_s: Optional[float] = None  # known or estimated before running (for the progress bar)
    metadata: dict = field(default_factory=dict)  # goes into the transcript's ``metadata``
    vocabulary: tuple[str, ...] = ()  # names from the show notes, for the transcriber's prompt
    language: Optional[str] = None  # the language the feed declares (the run's --language wins)

    @property
    def key(self) -> str:
        return self.record.key


@dataclass(frozen=True)
class EpisodeResult:
    key: str
    name: str
    source: str
    status: str  # done | failed | skipped (done before) | running (held by another run now)
    error: Optional[str] = None
    outputs: tuple[str, ...] = ()
    sha256: Optional[str] = None
    audio_path: Optional[str] = None
    duration_s: Optional[float] = None
    wall_s: float = 0.0
    words: int = 0
    speakers: int = 0
    marked: float = 0.0  # share of words marked [?]
    lost_speech_s: float = 0.0  # speech with no words (gap marks)
    timings: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # <podcast:transcript> lines, when published

    def line(self) -> str:
        """The one line a person reads for this episode."""
        if self.status == "failed":
            return f"error: {self.error}"
        where = str(Path(self.outputs[0]).parent / self.name) + ".*" if self.outputs else "nothing written"
        if self.status == "skipped":
            return f"{self.name}: already done with these options -> {where}"
        if self.status == "running":
            return f"{self.name}: {self.error}"
        if not self.words and not self.lost_speech_s:
            return f"{self.name}: {self.duration_s or 0:.1f} s of audio, no speech found -> {where}"
        rtf = self.wall_s / self.duration_s if self.duration_s else 0.0
        lost = f", {self.lost_speech_s:.1f} s of speech without words (marked [?])" if self.lost_speech_s else ""
        return (f"{self.name}: {self.duration_s:.1f} s of audio in {self.wall_s:.1f} s (RTF {rtf:.2f}), "
                f"{self.words} words, {plural(self.speakers, 'speaker')}, {self.marked:.1%} marked [?]{lost} "
                f"-> {where}")


def plural(n: int, noun: str) -> str:
    """``1 speaker``, ``2 speakers``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def running_elsewhere(job: EpisodeJob, row: Row) -> EpisodeResult:
    """An episode another run holds now: skipped here, with who runs it."""
    since = time.strftime("%H:%M", time.localtime(row.claimed_at)) if row.claimed_at else "?"
    return EpisodeResult(key=job.key, name=row.name, source=row.source, status="running",
                         error=f"running elsewhere ({row.claim_host} pid {row.claim_pid}, since {since}), skipped",
                         duration_s=row.duration_s or job.duration_s)


def plan_inputs(inputs: Sequence[str], audio_dir: Path) -> tuple[list[EpisodeJob], list[EpisodeResult]]:
    """Jobs for files, folders (their audio and video files, recursively), globs and http(s) URLs, one per file: a
    file that cannot be read, or an input that names nothing runnable, becomes a failed result of its own, and
    costs no other file."""
    jobs: dict[str, EpisodeJob] = {}
    failures = []
    for text in inputs:
        try:
            targets = _targets(text)
        except PodscribeError as exc:
            failures.append(_unreadable(text, str(exc)))
            continue
        for target in targets:
            try:
                job = _url_job(check_url(target), audio_dir) if is_url(target) else _file_job(Path(target))
            except PodscribeError as exc:
                failures.append(_unreadable(target, str(exc)))
                continue
            jobs.setdefault(job.key, job)
    return list(jobs.values()), failures


def _targets(text: str) -> list[str]:
    """What one input names: a URL or a file as it is, a folder's audio and video files, a glob's files."""
    if is_url(text):
        return [text]
    path = Path(text)
    if not path.exists() and any(c in text for c in "*?["):
        matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matches:
            raise PodscribeError(f"{text}: no files match")
        return [str(p) for p in matches]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not found:
            raise PodscribeError(f"{path}: is a directory with no audio or video files")
        return [str(p) for p in found]
    return [text]


def _unreadable(text: str, error: str) -> EpisodeResult:
    return EpisodeResult(key="", name=Path(text).name, source=text, status="failed", error=error)


def _file_job(path: Path) -> EpisodeJob:
    from pipeline.decode import check_readable, probe_duration_s
    from pipeline.files import file_sha256

    check_readable(path)
    sha = file_sha256(path)
    record = EpisodeRecord(key=f"sha256:{sha}", kind="file", source=str(path), name=path.stem, sha256=sha)
    return EpisodeJob(record=record, path=str(path), duration_s=probe_duration_s(path))


def _url_job(url: str, audio_dir: Path) -> EpisodeJob:
    parts = urlsplit(url)
    filename = safe_filename(unquote(parts.path.rsplit("/", 1)[-1]))
    dest = safe_join(audio_dir, slugify(parts.hostname or "downloads"), filename)
    record = EpisodeRecord(key=f"url:{url}", kind="url", source=url, name=Path(filename).stem)
    return EpisodeJob(record=record, path=str(dest), url=url, metadata={"enclosure_url": url})


def plan_feed(feed: Feed, audio_dir: Path, limit: Optional[int] = None,
              since: Optional[str] = None) -> list[EpisodeJob]:
    """Jobs for a feed's episodes, newest first: those dated ``since`` (YYYY-MM-DD) or later (undated ones left
    out then), at most ``limit``; an item whose guid came before is listed once."""
    unique = {e.guid: e for e in reversed(feed.episodes)}  # the first listing of a guid wins
    episodes = sorted(unique.values(), key=lambda e: e.date or "", reverse=True)
    if since:
        episodes = [e for e in episodes if e.date and e.date >= since]
    if limit is not None:
        episodes = episodes[:limit]
    show_dir = slugify(feed.title or urlsplit(feed.source).hostname or Path(feed.source).stem)
    names: set[str] = set()
    jobs = []
    for episode in episodes:
        name = episode.name
        if name in names:  # two items with the same title and date
            name = f"{name}-{hashlib.sha256(episode.guid.encode()).hexdigest()[:6]}"
        names.add(name)
        jobs.append(_feed_job(feed, episode, name, safe_join(audio_dir, show_dir, name + _extension(episode))))
    return jobs


def declared_languages(jobs: Sequence[EpisodeJob], options: TranscribeOptions,
                       known: Collection[str]) -> list[EpisodeJob]:
    """The jobs with the languages their feed declares, checked: one Whisper does not know is dropped (the language
    is detected, with a warning); an English-only model given episodes declared in another language is refused,
    before any work. With ``--language``, the run's language is used and nothing is checked here."""
    if options.language is not None:
        return list(jobs)
    unknown = sorted({job.language for job in jobs if job.language and job.language not in known})
    if unknown:
        log.warning("the feed declares %s, which Whisper does not know: detected instead", ", ".join(unknown))
        jobs = [replace(job, language=None) if job.language in unknown else job for job in jobs]
    foreign = Counter(job.language for job in jobs if job.language and not is_english(job.language))
    if foreign and english_only(options.model):
        language, count = foreign.most_common(1)[0]
        raise PodscribeError(f"{english_only_refusal(options.model, language)} ({count} episode(s) of the feed "
                             f"declare {language}; --language en forces English)")
    return list(jobs)


def _feed_job(feed: Feed, episode: Episode, name: str, dest: Path) -> EpisodeJob:
    record = EpisodeRecord(key=f"guid:{episode.guid}", kind="feed", source=episode.enclosure_url, name=name,
                           feed=feed.source, show=episode.show, title=episode.title, date=episode.date,
                           guid=episode.guid)
    return EpisodeJob(record=record, path=str(dest), url=episode.enclosure_url,
                      expected_length=episode.enclosure_length, duration_s=episode.duration_s,
                      metadata=episode.metadata(feed.source),
                      vocabulary=names_from(feed.title, f"{episode.title}.\n{episode.description}"),
                      language=episode.language)


def _extension(episode: Episode) -> str:
    suffix = Path(urlsplit(episode.enclosure_url).path).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return suffix
    return _TYPE_EXTENSIONS.get(episode.enclosure_type.lower(), ".audio")
