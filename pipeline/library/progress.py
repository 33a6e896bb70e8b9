"""What the batch commands show: one bar over the batch's audio hours, a bar for the running episode's
download or stage, one line per episode, and a summary table at the end. Bars go to stderr (tqdm)."""
from __future__ import annotations

import sys
from typing import Optional, Sequence

import click

from pipeline.library.batch import Plan
from pipeline.library.jobs import EpisodeJob, EpisodeResult


class CliReporter:
    def __init__(self, quiet: bool = False, always_say_plan: bool = True):
        self.quiet, self.always_say_plan = quiet, always_say_plan
        self.hours = None  # the batch bar: seconds of audio, shown in hours (or minutes for a short batch)
        self.stage = None  # the running episode's bar: (job key, stage, tqdm)
        self.credited: dict[str, float] = {}  # seconds already counted on the batch bar per job

    def planned(self, plan: Plan) -> None:
        if self.always_say_plan or plan.skipped or set(plan.reasons) - {"new"}:
            click.echo(plan.describe())
        for result in plan.skipped:
            if result.tags:
                _echo_tags(result.tags)
        if self.quiet or not plan.todo:
            return
        from tqdm import tqdm

        total_s = sum(job.duration_s or 0.0 for job in plan.todo)
        unit, scale = ("h", 1 / 3600) if total_s >= 3600 else ("min", 1 / 60)
        self.hours = tqdm(total=total_s, desc=f"{len(plan.todo)} episode(s)", unit=unit, unit_scale=scale,
                          file=sys.stderr, leave=False, disable=None,
                          bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} {unit} of audio "
                                     "[{elapsed}<{remaining}]")

    def progress(self, job: EpisodeJob, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        bar = self._stage_bar(job, stage, total)
        if bar is not None:
            bar.total = max(total, bar.n) or None
            bar.update(done - bar.n)
            bar.refresh()
        if stage == "transcribe" and total and job.duration_s:
            self._credit(job, job.duration_s * done / total)

    def finished(self, job: EpisodeJob, result: EpisodeResult) -> None:
        self._close_stage()
        if self.hours is not None:
            actual_s = result.duration_s or job.duration_s or 0.0
            if not job.duration_s:  # unknown before the run: the batch grows by it
                self.hours.total = (self.hours.total or 0) + actual_s
            self._credit(job, actual_s)
        _echo(result.line(), err=result.status == "failed", bar=self.hours)
        if result.tags:
            _echo_tags(result.tags, bar=self.hours)

    def close(self) -> None:
        self._close_stage()
        if self.hours is not None:
            self.hours.close()
            self.hours = None

    def _credit(self, job: EpisodeJob, seconds: float) -> None:
        if self.hours is None:
            return
        step = seconds - self.credited.get(job.key, 0.0)
        if step > 0:
            self.hours.update(step)
            self.credited[job.key] = seconds

    def _stage_bar(self, job: EpisodeJob, stage: str, total: int):
        from tqdm import tqdm

        if self.stage and self.stage[:2] == (job.key, stage):
            return self.stage[2]
        self._close_stage()
        byte_bar = stage == "download"
        bar = tqdm(total=total or None, desc=f"{job.record.name} {stage}", leave=False, file=sys.stderr,
                   disable=None, unit="B" if byte_bar else ("chunk" if stage == "transcribe" else "step"),
                   unit_scale=byte_bar, unit_divisor=1024 if byte_bar else 1000)
        self.stage = (job.key, stage, bar)
        return bar

    def _close_stage(self) -> None:
        if self.stage:
            self.stage[2].close()
            self.stage = None


def _echo(line: str, err: bool = False, bar=None) -> None:
    if bar is not None:
        bar.clear()
    click.echo(line, err=err)
    if bar is not None:
        bar.refresh()


def _echo_tags(tags: Sequence[str], bar=None) -> None:
    for tag in tags:
        _echo(f"  {tag}", bar=bar)


def summary_table(results: Sequence[EpisodeResult]) -> str:
    """Status, episode, audio length, wall time and the reason of each failure; then the counts."""
    rows = [("status", "episode", "audio", "wall", "reason")]
    for r in results:
        rows.append((r.status, r.name, _clock(r.duration_s), _clock(r.wall_s) if r.status != "skipped" else "",
                     r.error or ""))
    width = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
             for row in rows]
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "running", "failed")}
    words = {"running": "running elsewhere"}
    return "\n".join(lines + [", ".join(f"{n} {words.get(s, s)}" for s, n in counts.items() if n or s != "running")])


def _clock(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    h, rem = divmod(total, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}"
