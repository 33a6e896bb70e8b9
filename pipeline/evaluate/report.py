"""Scores as a terminal table, as JSON, or as a standalone HTML page (aligned text, timeline, calibration curve)."""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from pipeline.evaluate.calibration import MAX_MARKED, MIN_RECALL, Calibration, Sweep
from pipeline.evaluate.metrics import Errors, Scores, speaker_turns
from pipeline.evaluate.readers import Document


@dataclass(frozen=True)
class Row:
    """One scored episode: its name, the documents and the scores."""

    name: str
    ref: Optional[Document]
    hyp: Optional[Document]
    scores: Scores


# ---------------------------------------------------------------- terminal


def pct(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{100 * value:.1f}%"


_COLUMNS = ("episode", "ref words", "WER", "sub", "del", "ins", "CER", "cpWER", "DER", "marked", "recall")


def _cells(name: str, s: Scores) -> list[str]:
    w, c = s.words, s.calibration
    return [name, str(w.ref_count) if w else "-", pct(s.wer), *(str(v) if w else "-" for v in (
        w and w.substitutions, w and w.deletions, w and w.insertions)),
        pct(s.cer), pct(s.cpwer.rate if s.cpwer else None), pct(s.der.rate if s.der else None),
        pct(c.marked_share if c else None), pct(c.recall if c else None)]


def grid(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(rows[0]), "  ".join("-" * w for w in widths), *map(fmt, rows[1:])])


def table(rows: Sequence[Row], totals: Optional[Scores] = None) -> str:
    """One line per episode (and TOTAL, counted over all words), then details of the single or total scores."""
    lines = [list(_COLUMNS)] + [_cells(r.name, r.scores) for r in rows]
    if totals is not None:
        lines.append(_cells("TOTAL", totals))
    main = totals if totals is not None else rows[0].scores
    return "\n\n".join(p for p in [grid(lines), details(main)] if p)


def details(s: Scores, speakers: bool = True) -> str:
    parts = [f"text normalised with: {s.normalizer}"] if s.normalizer else []
    if s.per_speaker and speakers:
        parts.append(grid([["speaker", "ref words", "WER", "sub", "del", "ins"]] + [
            [p.speaker, str(p.errors.ref_count), pct(p.errors.rate), str(p.errors.substitutions),
             str(p.errors.deletions), str(p.errors.insertions)] for p in s.per_speaker]))
    if s.cpwer and s.cpwer.pairs:
        pairs = (f"{r or '-'} = {h or '-'} ({e} errors)" for r, h, e in s.cpwer.pairs)
        parts.append("cpWER speakers: " + ", ".join(pairs))
    if s.der:
        d = s.der
        parts.append(f"DER {pct(d.rate)}: missed {d.missed_s:.2f} s, false alarm {d.false_alarm_s:.2f} s, "
                     f"confusion {d.confusion_s:.2f} s of {d.total_s:.2f} s speech (collar {d.collar:g} s)")
    if s.calibration:
        parts.append(_calibration_line("[?] marks", s.calibration))
    if s.sweep:
        parts.append(_sweep_line(s.sweep))
    return "\n".join(parts)


def _calibration_line(label: str, c: Calibration) -> str:
    return (f"{label}: {c.marked} of {c.words} words ({pct(c.marked_share)}); precision {pct(c.precision)} "
            f"(marked that are wrong), recall {pct(c.recall)} of {c.wrong} wrong words")


def _sweep_line(sweep: Sweep) -> str:
    goal = f"recall >= {MIN_RECALL:.0%} with <= {MAX_MARKED:.0%} of words marked"
    if sweep.best is None:
        return f"threshold sweep: no probability threshold gives {goal}"
    b = sweep.best
    return (f"threshold sweep: probability < {b.threshold:.2f} gives {goal}: "
            f"recall {pct(b.calibration.recall)}, {pct(b.calibration.marked_share)} marked")


# ---------------------------------------------------------------- JSON


def _errors(e: Optional[Errors]) -> Optional[dict[str, Any]]:
    if e is None:
        return None
    return {"rate": _num(e.rate), "hits": e.hits, "substitutions": e.substitutions, "deletions": e.deletions,
            "insertions": e.insertions, "ref": e.ref_count, "hyp": e.hyp_count}


def _num(x: Optional[float]) -> Optional[float]:
    return None if x is None or math.isinf(x) or math.isnan(x) else round(x, 6)


def _cal(c: Optional[Calibration]) -> Optional[dict[str, Any]]:
    if c is None:
        return None
    return {"words": c.words, "marked": c.marked, "wrong": c.wrong, "marked_wrong": c.marked_wrong,
            "precision": _num(c.precision), "recall": _num(c.recall), "marked_share": _num(c.marked_share)}


def to_dict(s: Scores) -> dict[str, Any]:
    d = s.der
    return {
        "wer": _errors(s.words), "cer": _errors(s.chars),
        "per_speaker": {p.speaker: _errors(p.errors) for p in s.per_speaker},
        "cpwer": s.cpwer and {"rate": _num(s.cpwer.rate), "errors": s.cpwer.errors, "ref_words": s.cpwer.ref_words,
                              "pairs": [{"ref": r, "hyp": h, "errors": e} for r, h, e in s.cpwer.pairs]},
        "der": d and {"rate": _num(d.rate), "missed_s": round(d.missed_s, 3),
                      "false_alarm_s": round(d.false_alarm_s, 3), "confusion_s": round(d.confusion_s, 3),
                      "total_s": round(d.total_s, 3), "collar": d.collar,
                      "mapping": dict(d.mapping)},
        "normalizer": s.normalizer,
        "calibration": _cal(s.calibration),
        "sweep": s.sweep and {"points": [{"threshold": p.threshold, **_cal(p.calibration)} for p in s.sweep.points],
                              "best": s.sweep.best and s.sweep.best.threshold,
                              "goal": {"min_recall": MIN_RECALL, "max_marked": MAX_MARKED}},
    }


def as_json(rows: Sequence[Row], totals: Optional[Scores] = None) -> dict[str, Any]:
    def one(r: Row) -> dict[str, Any]:
        return {"episode": r.name, "reference": r.ref and r.ref.path, "hypothesis": r.hyp and r.hyp.path,
                **to_dict(r.scores)}

    if totals is None and len(rows) == 1:
        return one(rows[0])
    return {"episodes": [one(r) for r in rows], "total": to_dict(totals) if totals else None}


# ---------------------------------------------------------------- HTML


_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}td:first-child,th:first-child{text-align:left}
th{border-bottom:1px solid #999}.legend span{margin-right:1.2em}
.t p{margin:.4em 0}.t b{display:inline-block;min-width:5.5em;color:#555}
.sub{background:#ffe2b3}.sub s{color:#a33}.del{background:#ffc9c9;text-decoration:line-through}
.ins{background:#c8f0c8}.gap{background:#ddd;color:#555;padding:0 3px;border-radius:3px}
.fgv{color:#999;font-style:italic}.unc{border-bottom:2px dotted #1565c0}
"""


def page(row: Row) -> str:
    """A standalone HTML report of one episode."""
    s = row.scores
    body = [f"<h1>{_e(row.name)}</h1>",
            f"<p>reference <code>{_e(row.ref.path if row.ref else '-')}</code>, hypothesis "
            f"<code>{_e(row.hyp.path if row.hyp else '-')}</code></p>",
            "<h2>Scores</h2>", _html_table([list(_COLUMNS)] + [_cells(row.name, s)]),
            f"<pre>{_e(details(s, speakers=False))}</pre>"]
    if s.per_speaker:
        body += ["<h2>Per speaker</h2>", _html_table([["speaker", "ref words", "WER", "sub", "del", "ins"]] + [
            [p.speaker, str(p.errors.ref_count), pct(p.errors.rate), str(p.errors.substitutions),
             str(p.errors.deletions), str(p.errors.insertions)] for p in s.per_speaker])]
    if row.ref and row.hyp:
        timeline = _timeline_svg(row.ref, row.hyp, s)
        if timeline:
            body += ["<h2>Speakers over time (reference above, hypothesis below)</h2>", timeline]
    if s.sweep:
        body += ["<h2>[?] calibration: recall against share of words marked</h2>", _curve_svg(s.sweep, s.calibration)]
    if s.alignment is not None and row.hyp is not None:
        body += ["<h2>Aligned transcript</h2>", _LEGEND, _aligned(s, row.hyp)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(row.name)} - podscribe evaluation</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


_LEGEND = ("<p class='legend'><span class='sub'><s>ref</s> hyp</span> substitution "
           "<span class='del'>ref</span> deletion <span class='ins'>hyp</span> insertion "
           "<span class='gap'>[?]</span> reference gap <span class='fgv'>hyp</span> not scored (at a gap) "
           "<span class='unc'>hyp</span> marked [?] by the model</p>")


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _html_table(rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _aligned(s: Scores, hyp: Document) -> str:
    a = s.alignment
    paragraphs: list[tuple[Optional[str], list[str]]] = []
    for op, speaker in zip(a.ops, a.ref_speakers()):
        if not paragraphs or paragraphs[-1][0] != speaker:
            paragraphs.append((speaker, []))
        paragraphs[-1][1].append(_op_html(op, a, hyp))
    return "<div class='t'>" + "".join(
        f"<p><b>{_e(spk or '')}</b> {' '.join(parts)}</p>" for spk, parts in paragraphs) + "</div>"


def _op_html(op, a, hyp: Document) -> str:
    ref = a.ref[op.ref] if op.ref is not None else None
    h = a.hyp[op.hyp] if op.hyp is not None else None
    word = hyp.words[h.word] if h else None
    unc = " unc" if word and word.uncertain else ""
    tip = f" title='{_e(word.text)}{'' if word.probability is None else f' p={word.probability:.2f}'}'" if word else ""
    if ref is not None and ref.gap:
        inner = f" <span class='fgv{unc}'{tip}>{_e(h.text)}</span>" if h else ""
        return f"<span class='gap'>[?]</span>{inner}"
    if op.kind == "equal":
        return f"<span class='{unc.strip()}'{tip}>{_e(h.text)}</span>"
    if op.kind == "substitute":
        return f"<span class='sub'><s>{_e(ref.text)}</s> <span class='{unc.strip()}'{tip}>{_e(h.text)}</span></span>"
    if op.kind == "delete":
        return f"<span class='del'>{_e(ref.text)}</span>"
    cls = "fgv" if op.forgiven else "ins"
    return f"<span class='{cls}{unc}'{tip}>{_e(h.text)}</span>"


_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf")


def _timeline_svg(ref: Document, hyp: Document, s: Scores) -> str:
    lanes_ref, lanes_hyp = speaker_turns(ref), speaker_turns(hyp)
    if not lanes_ref and not lanes_hyp:
        return ""
    to_ref = dict(s.der.mapping) if s.der else {}
    names = list(dict.fromkeys([t.speaker for t in lanes_ref] + [to_ref.get(t.speaker, t.speaker) for t in lanes_hyp]))
    colour = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}
    end = max(t.end_s for t in lanes_ref + lanes_hyp) or 1.0
    width, left, lane = 1040, 150, 18
    x = lambda t: left + (width - left - 10) * t / end
    rows, y, out = [], 10, []
    for label, turns, mapped in (("ref", lanes_ref, False), ("hyp", lanes_hyp, True)):
        for spk in dict.fromkeys(t.speaker for t in turns):
            rows.append((f"{label} {spk}", [t for t in turns if t.speaker == spk], y,
                         colour[to_ref.get(spk, spk) if mapped else spk]))
            y += lane + 4
        y += 10
    for name, turns, top, fill in rows:
        out.append(f"<text x='4' y='{top + 13}' font-size='12'>{_e(name)}</text>")
        out += [f"<rect x='{x(t.start_s):.1f}' y='{top}' width='{max(x(t.end_s) - x(t.start_s), 0.5):.1f}' "
                f"height='{lane}' fill='{fill}'><title>{_e(t.speaker)} {t.start_s:.2f}-{t.end_s:.2f} s</title></rect>"
                for t in turns]
    step = _tick_step(end)
    ticks = [k * step for k in range(int(end // step) + 1)]
    out += [f"<line x1='{x(t):.1f}' y1='{y - 6}' x2='{x(t):.1f}' y2='{y}' stroke='#555'/>"
            f"<text x='{x(t):.1f}' y='{y + 12}' font-size='11' text-anchor='middle'>{t:g} s</text>" for t in ticks]
    return f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{y + 20}'>{''.join(out)}</svg>"


def _tick_step(end: float) -> float:
    raw = end / 10
    base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


def _curve_svg(sweep: Sweep, marks: Optional[Calibration]) -> str:
    w, h, pad = 560, 360, 50
    x = lambda v: pad + (w - 2 * pad) * v
    y = lambda v: h - pad - (h - 2 * pad) * v
    pts = [(p.threshold, p.calibration.marked_share or 0.0, p.calibration.recall or 0.0) for p in sweep.points]
    out = [f"<rect x='{x(0)}' y='{y(1)}' width='{x(MAX_MARKED) - x(0):.1f}' height='{y(MIN_RECALL) - y(1):.1f}' "
           f"fill='#e3f2e3'><title>goal: recall >= {MIN_RECALL:.0%}, marked <= {MAX_MARKED:.0%}</title></rect>",
           f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(1)}' y2='{y(0)}' stroke='#333'/>",
           f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(0)}' y2='{y(1)}' stroke='#333'/>"]
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(f"<text x='{x(v)}' y='{y(0) + 16}' font-size='11' text-anchor='middle'>{v:.0%}</text>")
        out.append(f"<text x='{x(0) - 6}' y='{y(v) + 4}' font-size='11' text-anchor='end'>{v:.0%}</text>")
    out.append(f"<text x='{w / 2}' y='{h - 10}' font-size='12' text-anchor='middle'>share of words marked</text>")
    out.append(f"<text x='14' y='{h / 2}' font-size='12' transform='rotate(-90 14 {h / 2})' text-anchor='middle'>"
               "recall (errors marked)</text>")
    line = " ".join(f"{x(m):.1f},{y(r):.1f}" for _, m, r in pts)
    out.append(f"<polyline points='{line}' fill='none' stroke='#1565c0' stroke-width='2'/>")
    best = sweep.best.threshold if sweep.best else None
    for t, m, r in pts:
        fill = "#c62828" if t == best else "#1565c0"
        out.append(f"<circle cx='{x(m):.1f}' cy='{y(r):.1f}' r='{5 if t == best else 3}' fill='{fill}'>"
                   f"<title>p &lt; {t:.2f}: {m:.1%} marked, recall {r:.1%}</title></circle>")
    if sweep.best:
        out.append(f"<text x='{x(pts[[p[0] for p in pts].index(best)][1]) + 8:.1f}' "
                   f"y='{y(sweep.best.calibration.recall or 0) + 14:.1f}' font-size='11' "
                   f"fill='#c62828'>p &lt; {best:.2f}</text>")
    if marks and marks.marked_share is not None:
        out.append(f"<rect x='{x(marks.marked_share) - 5:.1f}' y='{y(marks.recall or 0) - 5:.1f}' "
                   f"width='10' height='10' fill='none' stroke='#000'>"
                   f"<title>the transcript's own [?] marks</title></rect>")
    return f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}'>{''.join(out)}</svg>"
