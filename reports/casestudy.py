"""The case-study page: the paper's claims next to slmsim's, tables and grouped bars.

Pure functions of data the case study computed; `write_case_study` writes one
self-contained HTML file through `reports.html`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go

from slmsim.reports import html
from slmsim.reports.style import PALETTE


@dataclass(frozen=True)
class TableData:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""


@dataclass(frozen=True)
class Bars:
    """Grouped bars: series name -> {category: value}."""

    title: str
    series: Mapping[str, Mapping[str, float]]
    y_title: str
    log_y: bool = False
    caption: str = ""


@dataclass(frozen=True)
class CaseStudy:
    title: str
    subtitle: str
    claims: Sequence[Mapping[str, object]]  # claim, paper, slmsim, diff_pct, unit, note
    tables: Sequence[TableData] = ()
    bars: Sequence[Bars] = ()
    notes: Sequence[str] = ()
    facts: Sequence[tuple[str, str]] = field(default_factory=tuple)


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return "" if x is None else str(x)


def _cell(x: object) -> html.Cell | str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return html.Cell(_fmt(x), sort=float(x))
    return _fmt(x)


def bars_figure(b: Bars) -> go.Figure:
    fig = go.Figure()
    for i, (name, values) in enumerate(b.series.items()):
        fig.add_trace(go.Bar(name=name, x=list(values), y=list(values.values()),
                             marker_color=PALETTE[i % len(PALETTE)],
                             hovertemplate=f"{name}<br>%{{x}}: %{{y:.4g}}<extra></extra>"))
    fig.update_layout(barmode="group", yaxis_title=b.y_title, yaxis_type="log" if b.log_y else "linear",
                      margin={"l": 60, "r": 20, "t": 20, "b": 80}, legend={"orientation": "h", "y": 1.1})
    return fig


def claims_table(claims: Sequence[Mapping[str, object]]) -> html.Table:
    rows = [[str(c["claim"]), _cell(c["paper"]), _cell(c["slmsim"]), html.Cell(f"{c['diff_pct']:+.1f}%",
                                                                                sort=float(c["diff_pct"])),
             str(c.get("unit", "")), str(c.get("note", ""))] for c in claims]
    return html.Table(header=["claim", "paper", "slmsim", "difference", "unit", "note"], rows=rows,
                      caption="Difference = (slmsim - paper) / paper.")


def build_page(cs: CaseStudy) -> html.Page:
    sections = [html.Section("Claims", [claims_table(cs.claims), *(html.Note(n) for n in cs.notes)], anchor="claims")]
    for b in cs.bars:
        sections.append(html.Section(b.title, [html.Plot(bars_figure(b), caption=b.caption)]))
    for t in cs.tables:
        sections.append(html.Section(t.title, [html.Table(header=list(t.header), rows=[[_cell(x) for x in r]
                                                                                      for r in t.rows],
                                                          caption=t.caption)]))
    return html.Page(title=cs.title, subtitle=cs.subtitle, sections=sections, facts=list(cs.facts),
                     footer="slmsim case study")


def write_case_study(cs: CaseStudy, out_html: Path) -> Path:
    return html.write(build_page(cs), Path(out_html))
