"""The case-study page: each paper's claim next to slmsim's, with a verdict and the reason.

Pure functions of data the case study computed; `write_case_study` writes one
self-contained HTML file through `reports.html`, in the same style and colours as the
design and study reports (devices coloured by `reports.palette`). Each figure carries, beside
it, the claims it shows: paper figure, slmsim figure, difference, verdict and explanation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go

from slmsim.reports import html, palette, style
from slmsim.core.display import num

# Verdict bands on |slmsim - paper| / paper (stated on the page)
REPRODUCED_PCT = 15.0
PARTLY_PCT = 35.0


@dataclass(frozen=True)
class TableData:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""


@dataclass(frozen=True)
class Bars:
    """Grouped bars: series name -> {category: value}. `claims` names the claims this figure
    shows (their verdicts and explanations are drawn beside it); `reference` adds dashed
    horizontal lines (label, value), e.g. the paper's figure."""

    title: str
    series: Mapping[str, Mapping[str, float]]
    y_title: str
    log_y: bool = False
    caption: str = ""
    claims: Sequence[str] = ()
    reference: Sequence[tuple[str, float]] = ()


@dataclass(frozen=True)
class CaseStudy:
    title: str
    subtitle: str
    claims: Sequence[Mapping[str, object]]  # claim, paper, slmsim, diff_pct, unit, note[, explanation]
    tables: Sequence[TableData] = ()
    bars: Sequence[Bars] = ()
    notes: Sequence[str] = ()
    facts: Sequence[tuple[str, str]] = field(default_factory=tuple)


_UNIT_WORDS = (("_tokens_per_s", " tokens/s"), ("_tokens_per_j", " tokens/J"), ("tokens_per_s", "tokens/s"),
               ("tokens_per_j", "tokens/J"), ("_pct", " (%)"))


def readable(name: str) -> str:
    """A snake_case column or claim name for people: units spelled, device names kept."""
    out = str(name)
    for a, b in _UNIT_WORDS:
        out = out.replace(a, b)
    out = out.replace("orin_nano", "orin-nano").replace("_", " ")
    return re.sub(r"\s+", " ", out).strip()


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return num(x, 3) if math.isfinite(x) else "n/a"
    return "" if x is None else str(x)


def _cell(x: object) -> html.Cell | str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return html.Cell(_fmt(x), sort=float(x))
    return _fmt(x)


_VERDICT_TEXT = {"reproduced": ("reproduced", "ok"), "explained": ("explained (see why)", "warning"),
                 "not_expressible": ("not expressible", "warning"), "unexplained": ("unexplained", "warning")}


def claim_verdict(c: Mapping[str, object]) -> tuple[str, str]:
    """(text, kind): the claim's computed verdict when it carries one (issue 14), else the band of its difference."""
    v = c.get("verdict")
    if isinstance(v, str) and v in _VERDICT_TEXT:
        return _VERDICT_TEXT[v]
    return verdict(float(c["diff_pct"]))  # type: ignore[arg-type]


def _diff_cell(c: Mapping[str, object]) -> html.Cell:
    d = c.get("diff_pct")
    if d is None:
        return html.Cell("n/a")
    return html.Cell(f"{float(d):+.1f}%", sort=float(d))  # type: ignore[arg-type]


def verdict(diff_pct: float) -> tuple[str, str]:
    """(text, kind) for a claim's difference."""
    d = abs(float(diff_pct))
    if d <= REPRODUCED_PCT:
        return f"reproduced (within {REPRODUCED_PCT:.0f}%)", "ok"
    if d <= PARTLY_PCT:
        return f"partly reproduced ({diff_pct:+.0f}%)", "warning"
    return f"not reproduced ({diff_pct:+.0f}%)", "warning"


def _series_colour(name: str, i: int) -> str:
    return palette.DEVICES.get(name) or palette.series(i)


def bars_figure(b: Bars) -> go.Figure:
    fig = go.Figure()
    for i, (name, values) in enumerate(b.series.items()):
        fig.add_trace(go.Bar(name=name, x=list(values), y=list(values.values()),
                             marker_color=_series_colour(name, i),
                             hovertemplate=f"<b>{name}</b><br>%{{x}}: %{{y:.4g}} {b.y_title}<extra></extra>"))
    cats = list(dict.fromkeys(c for v in b.series.values() for c in v))
    for label, value in b.reference:
        fig.add_trace(go.Scatter(x=[cats[0], cats[-1]] if cats else [], y=[value, value], mode="lines+text",
                                 name=label, meta="guide", text=["", label], textposition="top left",
                                 line=dict(color=palette.GUIDE, dash="dash", width=1.5), hoverinfo="skip"))
    fig.update_layout(template=style.TEMPLATE, barmode="group", yaxis_title=b.y_title,
                      yaxis_type="log" if b.log_y else "linear", height=440,
                      margin={"l": 70, "r": 20, "t": 30, "b": 90},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0})
    fig.update_xaxes(tickangle=-35 if len(cats) > 6 else 0)
    if b.log_y:  # 1-2-5 ticks labelled in full, never colliding
        from slmsim.reports.study_figures import log_ticks

        fig.update_yaxes(**log_ticks([v for vals in b.series.values() for v in vals.values()], max_ticks=10))
    return fig


def claims_table(claims: Sequence[Mapping[str, object]]) -> html.Table:
    rows = []
    rich = any("verdict" in c for c in claims)  # the claims table: conditions, boundary, what is missing
    for c in claims:
        v, _ = claim_verdict(c)
        what = str(c.get("conditions") or c.get("note", ""))
        if c.get("missing"):
            what = f"{what} Missing: {c['missing']}"
        row = [html.Cell(readable(str(c["claim"])), title=str(c.get("note", "")) or None),
               _cell(c["paper"]), _cell(c["slmsim"]), html.Cell(str(c.get("unit", ""))), _diff_cell(c), html.Cell(v)]
        if rich:
            row.append(html.Cell(str(c.get("boundary") or "-")))
        row.append(html.Cell(what))
        rows.append(row)
    header = ["claim", "paper", "slmsim", "unit", "difference", "verdict"] + (["energy boundary"] if rich else []) \
        + ["conditions" if rich else "what was compared"]
    caption = (f"Difference = (slmsim - paper) / paper. Verdict, computed by rule: reproduced within ±10% (±15% for "
               "ratios); explained when a physics reason and a sensitivity table over two or more unknowns account "
               "for the gap; not expressible when slmsim lacks a model (named in the conditions)." if rich else
               f"Difference = (slmsim - paper) / paper. Verdict: reproduced within ±{REPRODUCED_PCT:.0f}%, "
               f"partly within ±{PARTLY_PCT:.0f}%, otherwise not reproduced; each figure below says why.")
    return html.Table(header=header, rows=rows, max_height_px=None, caption=caption)


def _aside(b: Bars, by_name: Mapping[str, Mapping[str, object]]) -> html.Block:
    plot = html.Plot(bars_figure(b), caption=b.caption, name=re.sub(r"[^a-z0-9]+", "-", b.title.lower()))
    shown = [by_name[c] for c in b.claims if c in by_name]
    if not shown:
        return plot
    paras = []
    shown = [c for c in shown if c.get("diff_pct") is not None]
    if not shown:
        return plot
    worst = max(shown, key=lambda c: abs(float(c["diff_pct"])))  # type: ignore[arg-type]
    for c in shown:
        v, _ = claim_verdict(c)
        paras.append(f"{readable(str(c['claim']))}: paper {_fmt(c['paper'])} {c.get('unit', '')}, slmsim "
                     f"{_fmt(c['slmsim'])} ({float(c['diff_pct']):+.1f}%): {v}.")  # type: ignore[arg-type]
        if c.get("explanation"):
            paras.append(str(c["explanation"]))
    text, kind = claim_verdict(worst)
    return html.Aside(main=plot, side_title="The claims in this figure", side=paras,
                      verdict=("worst: " if len(shown) > 1 else "") + text, verdict_kind=kind)


def build_page(cs: CaseStudy) -> html.Page:
    by_name = {str(c["claim"]): c for c in cs.claims}
    sections = [html.Section("Claims", [claims_table(cs.claims), *(html.Note(n) for n in cs.notes)], anchor="claims",
                             intro="Each claim of the paper's abstract next to slmsim's figure for the same scenario.")]
    for b in cs.bars:
        sections.append(html.Section(b.title, [_aside(b, by_name)]))
    for t in cs.tables:
        sections.append(html.Section(t.title, [html.Table(header=[readable(h) for h in t.header],
                                                          rows=[[_cell(x) for x in r] for r in t.rows],
                                                          caption=t.caption, max_height_px=None)]))
    return html.Page(title=cs.title, subtitle=cs.subtitle, sections=sections, facts=list(cs.facts),
                     footer="slmsim case study")


def write_case_study(cs: CaseStudy, out_html: Path, *, version_footer: str = "") -> Path:
    """`version_footer` is printed at the foot of the page (issue 15)."""
    from dataclasses import replace

    return html.write(replace(build_page(cs), version_footer=version_footer), Path(out_html))
