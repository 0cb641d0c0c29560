"""One-at-a-time sensitivity around the recommended design: move one parameter over its
searched range, hold the others, evaluate with the study's own evaluator (handed in by the
CLI as a factory: reports never imports dse).

Unlike an importance estimated from where the sampler went (PED-ANOVA), this says what a
parameter does to each objective at the design one would build, with its direction, and it
is exact for a parameter that cannot change an objective (DRAM bandwidth does not change
area: its bar is zero). It needs the study's space file (study.json `space_file`, found
beside the study, relative to the working directory, or by absolute path) and costs
`sum(points per parameter)` evaluations with the analytic engine (milliseconds each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from slmsim.reports import palette, style
from slmsim.reports.study_data import StudyData

POINTS = 5  # values per numeric parameter, spread over its range (log-spaced for log ranges)


@dataclass(frozen=True)
class Sweep:
    param: str
    values: list[str]  # formatted values tried
    objective_values: dict[str, list[float | None]]  # objective label -> value per tried value (None: infeasible)
    centre: str  # the design's own value


@dataclass(frozen=True)
class Sensitivity:
    number: int  # the design swept around
    centre: dict[str, float]  # objective label -> the design's value
    sweeps: list[Sweep] = field(default_factory=list)
    engine: str = "analytic"
    space_file: str = ""


def find_space_file(data: StudyData) -> Path | None:
    raw = data.meta.get("space_file")
    if not raw:
        return None
    p = Path(str(raw)).expanduser()
    candidates = [p] if p.is_absolute() else [Path(data.source) / p, Path.cwd() / p, Path(data.source).parent / p,
                                              Path(data.source) / p.name]
    return next((c for c in candidates if c.is_file()), None)


# (space file, engine, seed) -> a function: parameters -> {metric column: value}, None if infeasible.
# The CLI passes slmsim.study_probe.evaluator_factory (reports never imports dse).
EvaluatorFactory = Callable[[Path, str, int], Callable[[Mapping[str, Any]], "dict[str, float] | None"]]


def one_at_a_time(data: StudyData, number: int, *, factory: EvaluatorFactory | None,
                  points: int = POINTS) -> tuple[Sensitivity | None, str]:
    """(the sweep, "") or (None, why it could not be computed)."""
    if factory is None:
        return None, "no evaluator was given to the report (write it with `slmsim report` or `slmsim explore`)"
    path = find_space_file(data)
    if path is None:
        return None, "the study's space file (study.json space_file) was not found"
    engine = str(data.meta.get("engine") or "analytic")
    try:
        evaluate = factory(path, engine, int(data.meta.get("seed") or 0))
    except Exception as exc:  # noqa: BLE001 - a changed or broken space file: say so, do not fail the report
        return None, f"the space file {path} could not be loaded ({type(exc).__name__}: {exc})"
    row = data.trials[data.trials["number"] == number].iloc[0]
    centre_params: dict[str, Any] = {}
    for p in data.params:
        v = row.get(p.column)
        centre_params[p.path] = v.item() if isinstance(v, np.generic) else v

    def run(params: dict[str, Any]) -> dict[str, float | None]:
        try:
            m = evaluate(params)
        except Exception:  # noqa: BLE001 - a value the space no longer accepts counts as infeasible
            m = None
        return {o.label: (m.get(o.metric) if m else None) for o in data.objectives}

    centre = run(centre_params)
    if any(v is None for v in centre.values()):
        return None, "the recommended design did not evaluate as feasible with the space file as it is now"
    objs = data.objectives
    from slmsim.reports.study_figures import fmt_param

    sweeps = []
    for p in data.params:
        if p.kind == "categorical":
            values = list(p.choices)
            if not values:
                continue
        else:
            values = sweep_values(p, points)
            if not values:
                continue
        results: dict[str, list[float | None]] = {o.label: [] for o in objs}
        for v in values:
            r = run({**centre_params, p.path: v})
            for k, x in r.items():
                results[k].append(x)
        sweeps.append(Sweep(param=p.path, values=[fmt_param(p, v) for v in values], objective_values=results,
                            centre=fmt_param(p, centre_params[p.path])))
    return Sensitivity(number=number, centre=centre, sweeps=sweeps, engine=engine, space_file=str(path)), ""


def sweep_values(p: Any, points: int) -> list[float]:
    """Up to `points` values of a numeric parameter from its low to its high: evenly spaced
    (geometrically for a log range), and on a grid (`step`; an int's step is 1 at least) only
    points of the grid, low + k step, so the sweep never tries a design outside the space."""
    lo, hi = p.low, p.high
    if lo is None or hi is None:
        return []
    if p.step:
        n = int(round((hi - lo) / p.step))
        grid = [lo + k * p.step for k in sorted({int(round(k)) for k in np.linspace(0, n, min(points, n + 1))})]
    else:
        grid = list(np.geomspace(lo, hi, points) if (p.log and lo > 0) else np.linspace(lo, hi, points))
    if p.kind == "int":  # every integer is on an int range's grid; rounding may repeat one
        return list(dict.fromkeys(int(round(v)) for v in grid))
    return [float(v) for v in grid]


def figure(sens: Sensitivity, data: StudyData) -> go.Figure:
    """A tornado per objective: for each parameter, the range of the objective (as % change from
    the design) over the parameter's range, the others held. Hover lists every value tried."""
    labels = list(sens.centre)
    fig = make_subplots(rows=1, cols=len(labels), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[style.wrap_html(lab, 18) for lab in labels])
    params = [s.param for s in sens.sweeps]
    for c, lab in enumerate(labels, start=1):
        c0 = sens.centre[lab]
        lo, hi, hover = [], [], []
        for s in sens.sweeps:
            pct = [100.0 * (v / c0 - 1.0) if v is not None and c0 else None for v in s.objective_values[lab]]
            fin = [x for x in pct if x is not None]
            a, b = (min(fin), max(fin)) if fin else (0.0, 0.0)
            lo.append(a)
            hi.append(b)
            hover.append("<br>".join(f"{val}: {'infeasible' if x is None else f'{x:+.1f}%'}"
                                     + (" (the design)" if val == s.centre else "")
                                     for val, x in zip(s.values, pct)))
        width = [max(b - a, 0.0) for a, b in zip(lo, hi)]
        fig.add_trace(go.Bar(y=params, x=[max(w, 0.15) for w in width], base=lo, orientation="h",
                             marker_color=palette.series(c - 1), name=lab, showlegend=False,
                             customdata=[[h, f"{a:+.1f}% to {b:+.1f}%"] for h, a, b in zip(hover, lo, hi)],
                             hovertemplate="<b>%{y}</b><br>" + lab + ": %{customdata[1]}<br>%{customdata[0]}"
                                           "<extra></extra>"), row=1, col=c)
        fig.add_vline(x=0, line=dict(color=palette.GUIDE, width=1), row=1, col=c)
    fig.update_layout(template=style.TEMPLATE, height=130 + 46 * max(len(params), 1), bargap=0.35,
                      margin=dict(l=200, r=20, t=60, b=50))
    fig.update_xaxes(title_text="% change", zeroline=False)
    fig.update_yaxes(autorange="reversed")
    return fig


