"""Figures and tables of a DSE study: pure functions of a `StudyData`.

Each builder returns a `plotly.graph_objects.Figure` (or plain rows for tables) and writes
nothing; `reports.study` lays them out. Display units are chosen per axis from the data
(ms, mJ, ...); hover text shows every parameter of a trial.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from slmsim.reports import palette, style
from slmsim.reports.metrics import info
from slmsim.reports.pareto import default_reference, hypervolume_history, knee_index
from slmsim.reports.study_data import (
    Baseline,
    Objective,
    Param,
    StudyData,
    baseline_workload_value,
    workload_value,
)
from slmsim.core.display import Scale, fmt, fmt_ratio, num, pick_scale

# Helpers ---------------------------------------------------------------------------------


def fmt_param(p: Param, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if p.kind == "categorical" and p.choices and all(isinstance(c, bool) for c in p.choices):
        return "true" if bool(value) else "false"  # a column of 1 / 0 (or numpy bools) in trials.csv
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if p.kind == "int" and not p.unit:  # an integer range: 8, not 8.000
        return str(int(round(float(value))))
    if p.kind == "categorical" and not p.unit:  # e.g. integer choices: 16, not 16.00
        v = float(value)
        return str(int(v)) if v.is_integer() else num(v, 4)
    return fmt(float(value), p.unit) if p.unit else num(float(value), 4)


def _obj_scale(o: Objective, values: Sequence[float]) -> Scale:
    return pick_scale(o.unit, values)


def _axis_title(o: Objective, scale: Scale) -> str:
    arrow = "↓" if o.minimize else "↑"
    return f"{o.label} ({scale.label}) {arrow}"


def log_ticks(values: Sequence[float], *, max_ticks: int = 12) -> dict[str, Any]:
    """Axis settings for a log axis with 1-2-5 ticks labelled in full (plotly's default
    labels 200 and 300 as "2" and "3" on short log ranges): the densest set of mantissas
    that gives at most `max_ticks` ticks (fewer for a narrow panel, so labels never collide)."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v) and v > 0], dtype=float)
    if arr.size == 0:
        return dict(type="log")
    lo, hi = float(arr.min()), float(arr.max())
    ticks: list[float] = []
    for mantissas in ((1, 1.5, 2, 3, 4, 5, 6, 8), (1, 2, 3, 5), (1, 2, 5), (1, 3), (1,)):
        cand = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                for m in mantissas]
        ticks = [float(f"{t:.3g}") for t in cand if lo / 1.25 <= t <= hi * 1.25]
        if len(ticks) <= max_ticks:
            break
    return dict(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def _use_log(values: Sequence[float]) -> bool:
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v) and v > 0], dtype=float)
    return arr.size > 1 and float(arr.max() / arr.min()) > 4.0


def trial_hover(data: StudyData) -> pd.Series:
    """One HTML hover text per trial: number, state, objectives, every parameter, metrics."""
    if "hover" not in data.cache:
        data.cache["hover"] = _trial_hover(data)
    return data.cache["hover"]


def _trial_hover(data: StudyData) -> pd.Series:
    df = data.trials
    shown_metrics = [m for m in ("tokens_per_s", "tokens_per_j", "ttft_s", "power_w", "area_mm2")
                     if m not in {o.metric for o in data.objectives} and f"metric:{m}" in df.columns]
    texts = []
    for _, r in df.iterrows():
        head = f"<b>trial {int(r['number'])}</b>"
        if r.get("pareto"):
            head += " · Pareto-optimal"
        elif not r["feasible"] and r["complete"]:
            head += " · infeasible"
        elif r["state"] != "COMPLETE":
            head += f" · {str(r['state']).lower()}"
        lines = [head]
        for o in data.objectives:
            lines.append(f"{o.label}: {fmt(r[o.column], o.unit) if o.unit else num(r[o.column])}")
        for m in shown_metrics:
            mi = info(m)
            lines.append(f"{mi.label}: {fmt(r[f'metric:{m}'], mi.unit)}")
        lines.append("<i>parameters</i>")
        for p in data.params:
            lines.append(f"{p.path} = {fmt_param(p, r.get(p.column))}")
        if r["infeasible_reason"]:
            lines.append(f"<i>{style.wrap_html(r['infeasible_reason'], 70)}</i>")
        texts.append("<br>".join(lines))
    return pd.Series(texts, index=df.index)




def _wrap_path(text: str, width: int) -> str:
    """Break a YAML path or label for an axis: after dots, underscores or spaces."""
    parts = re.split(r"(?<=[._ ])", text)
    out, line = [], ""
    for p in parts:
        if len(line) + len(p) > width and line:
            out.append(line)
            line = p
        else:
            line += p
    out.append(line)
    return "<br>".join(x.strip() for x in out)


# Above this many trials, hover text and lines are thinned so a report stays under ~10 MB.
MAX_FULL_HOVER = 2000
MAX_LINES = 1500


def _dominated_hover(data: StudyData, dominated: pd.DataFrame, hover: pd.Series) -> list[str]:
    """Every parameter in the hover of dominated designs, unless the study is so large that
    this text would dominate the file: then the trial and its objectives."""
    if len(data.trials) <= MAX_FULL_HOVER:
        return list(hover[dominated.index])
    return [f"trial {int(r['number'])}<br>" + "<br>".join(f"{o.label}: {fmt(r[o.column], o.unit)}"
                                                      for o in data.objectives)
            for _, r in dominated.iterrows()]


def knee_number(data: StudyData) -> int | None:
    """Trial number of the knee of the front (balanced compromise), None without a front."""
    front = data.front
    if front.empty or not data.objectives:
        return None
    pts = np.column_stack([front[o.column].to_numpy(dtype=float) * (1 if o.minimize else -1)
                           for o in data.objectives])
    return int(front.iloc[knee_index(pts)]["number"])


def colour_metric(data: StudyData) -> tuple[str, str, str] | None:
    """(column, label, unit) to colour the 2-D front by: the third objective, else area."""
    if len(data.objectives) >= 3:
        o = data.objectives[2]
        return o.column, o.label, o.unit
    axis_metrics = {o.metric for o in data.objectives[:2]}
    for m in ("area_mm2", "power_w", "tokens_per_j"):
        col = data.metric_column(m)
        if col and m not in axis_metrics and data.trials[col].notna().any():
            mi = info(m)
            return col, mi.label, mi.unit
    return None


def _baseline_value(b: Baseline, metric: str) -> float | None:
    v = b.metrics.get(metric)
    if v is None:
        # a baseline may report the reciprocal metric
        recip = {"energy_per_token_j": "tokens_per_j", "tokens_per_j": "energy_per_token_j",
                 "decode_latency_s": "tokens_per_s", "tokens_per_s": "decode_latency_s"}.get(metric)
        if recip and b.metrics.get(recip):
            v = 1.0 / b.metrics[recip]
    return v if v is not None and np.isfinite(v) else None


# Pareto front ----------------------------------------------------------------------------


def pareto_front(data: StudyData, *, x: int = 0, y: int = 1) -> go.Figure:
    """Objective x vs objective y: Pareto designs in full colour (by the third objective or
    area), dominated designs faded, infeasible ones on demand, baselines as labelled stars."""
    objs = data.objectives
    ox, oy = objs[x], objs[y]
    df = data.trials
    hover = trial_hover(data)
    ok, front = data.ok, data.front
    bases = [(b, _baseline_value(b, ox.metric), _baseline_value(b, oy.metric)) for b in data.baselines]
    bases = [(b, bx, by) for b, bx, by in bases if bx is not None and by is not None]
    xs_all = list(ok[ox.column]) + [bx for _, bx, _ in bases]
    ys_all = list(ok[oy.column]) + [by for _, _, by in bases]
    sx, sy = _obj_scale(ox, xs_all), _obj_scale(oy, ys_all)
    cm = colour_metric(data)
    fig = go.Figure()
    infeas = df[df["rep"] & df["complete"] & ~df["feasible"] & df[ox.column].notna() & df[oy.column].notna()]
    if not infeas.empty:
        fig.add_trace(go.Scatter(
            x=sx(infeas[ox.column].to_numpy(float)), y=sy(infeas[oy.column].to_numpy(float)), mode="markers",
            name=f"infeasible ({len(infeas)})", visible="legendonly",
            marker=dict(symbol="x-thin", size=7, line=dict(width=1.5, color=style.INFEASIBLE)),
            text=hover[infeas.index], hovertemplate="%{text}<extra></extra>"))
    dominated = ok[~ok["pareto"]]
    cmin = cmax = None
    if cm is not None:  # colour range of the front (dominated points outside it are faded anyway)
        cvals = (front if not front.empty else ok)[cm[0]].to_numpy(float)
        cscale = pick_scale(cm[2], cvals)
        cmin, cmax = float(np.nanmin(cscale(cvals))), float(np.nanmax(cscale(cvals)))
    if not dominated.empty:
        # grey with an outline: legible on white and in print (a pale end of the colour scale is not)
        marker: dict[str, Any] = dict(size=7, color=style.DOMINATED, line=dict(width=0.6, color=palette.DOMINATED_LINE))
        fig.add_trace(go.Scatter(x=sx(dominated[ox.column].to_numpy(float)), y=sy(dominated[oy.column].to_numpy(float)),
                                 mode="markers", name=f"dominated ({len(dominated)})", marker=marker,
                                 text=_dominated_hover(data, dominated, hover),
                                 hovertemplate="%{text}<extra></extra>"))
    if not front.empty:
        fs = front.sort_values([ox.column, oy.column], ascending=[ox.minimize, oy.minimize])
        if len(objs) == 2:  # the attainment staircase only means something with two objectives
            sxv, syv = sx(fs[ox.column].to_numpy(float)), sy(fs[oy.column].to_numpy(float))
            fig.add_trace(go.Scatter(x=sxv, y=syv, mode="lines", line=dict(shape="hv" if oy.minimize == ox.minimize
                                                                           else "vh", color="#555", width=1),
                                     name="front", hoverinfo="skip", showlegend=False, meta="guide"))
        marker = dict(size=11, line=dict(width=1, color="#222"))
        if cm is not None:
            marker.update(color=cscale(fs[cm[0]].to_numpy(float)), colorscale=style.SEQUENTIAL, cmin=cmin, cmax=cmax,
                          colorbar=dict(title=dict(text=f"{cm[1]}<br>({cscale.label})", side="right"), thickness=14))
        else:
            marker.update(color=palette.FRONT)
        fig.add_trace(go.Scatter(x=sx(fs[ox.column].to_numpy(float)), y=sy(fs[oy.column].to_numpy(float)),
                                 mode="markers", name=f"Pareto-optimal ({len(fs)})", marker=marker,
                                 text=hover[fs.index], hovertemplate="%{text}<extra></extra>"))
        knee = knee_number(data)
        if knee is not None:
            k = front[front["number"] == knee].iloc[0]
            fig.add_trace(go.Scatter(x=[sx(k[ox.column])], y=[sy(k[oy.column])], mode="markers",
                                     name=f"knee: trial {knee}, recommended",
                                     marker=dict(size=22, symbol="circle-open", color=style.HIGHLIGHT,
                                                 line=dict(width=2.5)),
                                     hoverinfo="skip"))
    if bases:
        fig.add_trace(go.Scatter(
            x=[sx(bx) for _, bx, _ in bases], y=[sy(by) for _, _, by in bases], mode="markers+text",
            name="baselines", text=[b.name for b, _, _ in bases],
            textposition=_label_positions([by for _, _, by in bases]),
            textfont=dict(size=12, color=style.BASELINE),
            marker=dict(symbol="star", size=17, color=[palette.device(b.name) for b, _, _ in bases],
                        line=dict(width=1.2, color=style.BASELINE)),
            customdata=[[fmt(bx, ox.unit), fmt(by, oy.unit)] for _, bx, by in bases],
            hovertemplate=("<b>baseline %{text}</b><br>" + ox.label + ": %{customdata[0]}<br>" + oy.label +
                           ": %{customdata[1]}<extra></extra>")))
    fig.update_layout(template=style.TEMPLATE, height=600, hovermode="closest",
                      xaxis_title=_axis_title(ox, sx), yaxis_title=_axis_title(oy, sy),
                      # the legend under the plot (it wraps on narrow pages); the view buttons above it
                      legend=dict(orientation="h", y=-0.17, yanchor="top", x=0),
                      margin=dict(l=80, r=30, t=46, b=120))
    logx, logy = _use_log(xs_all), _use_log(ys_all)
    if logx:
        fig.update_xaxes(**log_ticks(sx(np.asarray(xs_all, dtype=float)), max_ticks=9))
    if logy:
        fig.update_yaxes(**log_ticks(sy(np.asarray(ys_all, dtype=float))))
    if bases and not ok.empty:  # baselines can be far from the designs: one click to frame the designs
        def frame(v: np.ndarray, log: bool) -> list[float]:
            v = v[np.isfinite(v) & ((v > 0) if log else True)]
            lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (v.min(), v.max())
            pad = 0.06 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-12)
            return [float(lo - pad), float(hi + pad)]
        design_view = {"xaxis.range": frame(sx(ok[ox.column].to_numpy(float)), logx),
                       "yaxis.range": frame(sy(ok[oy.column].to_numpy(float)), logy)}
        fig.update_layout(updatemenus=[dict(
            type="buttons", direction="right", x=1.0, xanchor="right", y=1.02, yanchor="bottom", showactive=True,
            pad=dict(r=0, t=0), font=dict(size=11),
            buttons=[dict(label="with baselines", method="relayout",
                          args=[{"xaxis.autorange": True, "yaxis.autorange": True}]),
                     dict(label="designs only", method="relayout", args=[design_view])])])
    return fig


def _label_positions(ys: Sequence[float]) -> list[str]:
    """Text positions for baseline labels: alternately above and below in order of height, so two
    baselines close together never put their names on top of each other."""
    order = sorted(range(len(ys)), key=lambda i: -ys[i])
    pos = [""] * len(ys)
    for rank, i in enumerate(order):
        pos[i] = "top center" if rank % 2 == 0 else "bottom center"
    return pos


def pareto_pairs(data: StudyData) -> go.Figure:
    """Every pair of objectives side by side (for three or more objectives): the
    many-objective Pareto set highlighted, dominated faded, baselines as stars. Drawn in 2-D
    so it reads in print and needs no WebGL."""
    objs = data.objectives
    pairs = [(i, j) for i in range(len(objs)) for j in range(i + 1, len(objs))][:6]
    cols = min(3, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.09, vertical_spacing=0.16)
    hover = trial_hover(data)
    ok, front = data.ok, data.front
    dominated = ok[~ok["pareto"]]
    knee = knee_number(data)
    scales = {}
    for o in objs:
        vals = list(ok[o.column]) + [v for b in data.baselines if (v := _baseline_value(b, o.metric)) is not None]
        scales[o.metric] = _obj_scale(o, vals)
    for n, (i, j) in enumerate(pairs):
        r, c = n // cols + 1, n % cols + 1
        ox, oy = objs[i], objs[j]
        sx, sy = scales[ox.metric], scales[oy.metric]
        bx = [(b, _baseline_value(b, ox.metric), _baseline_value(b, oy.metric)) for b in data.baselines]
        bx = [(b, a, bb) for b, a, bb in bx if a is not None and bb is not None]
        # log or linear per panel, from what this panel draws
        xs = sx(np.concatenate([ok[ox.column].to_numpy(float), [a for _, a, _ in bx]]))
        ys = sy(np.concatenate([ok[oy.column].to_numpy(float), [bb for _, _, bb in bx]]))
        logx = log_ticks(xs, max_ticks=5) if _use_log(xs) else {}
        logy = log_ticks(ys, max_ticks=8) if _use_log(ys) else {}
        first = n == 0
        # dominated designs: the trial number and the plotted values (full details are on the main front plot)
        fig.add_trace(go.Scatter(x=sx(dominated[ox.column].to_numpy(float)), y=sy(dominated[oy.column].to_numpy(float)),
                                 mode="markers", name=f"dominated ({len(dominated)})", legendgroup="dom",
                                 showlegend=first, marker=dict(size=6, color=style.DOMINATED,
                                                               line=dict(width=0.5, color=palette.DOMINATED_LINE)),
                                 customdata=dominated["number"].to_numpy(),
                                 hovertemplate=(f"trial %{{customdata}}<br>{ox.label}: %{{x:.4g}} {sx.label}<br>"
                                                f"{oy.label}: %{{y:.4g}} {sy.label}<extra></extra>")), row=r, col=c)
        fig.add_trace(go.Scatter(x=sx(front[ox.column].to_numpy(float)), y=sy(front[oy.column].to_numpy(float)),
                                 mode="markers", name=f"Pareto-optimal ({len(front)})", legendgroup="front",
                                 showlegend=first, marker=dict(size=8, color=palette.FRONT, line=dict(width=0.8,
                                                                                                         color="#222")),
                                 text=hover[front.index], hovertemplate="%{text}<extra></extra>"), row=r, col=c)
        if knee is not None:
            k = front[front["number"] == knee].iloc[0]
            fig.add_trace(go.Scatter(x=[sx(k[ox.column])], y=[sy(k[oy.column])], mode="markers", name="knee",
                                     legendgroup="knee", showlegend=first, hoverinfo="skip",
                                     marker=dict(size=18, symbol="circle-open", color=palette.DESIGN,
                                                 line=dict(width=2.5))),
                          row=r, col=c)
        if bx:
            fig.add_trace(go.Scatter(x=[sx(a) for _, a, _ in bx], y=[sy(bb) for _, _, bb in bx], mode="markers+text",
                                     name="baselines", legendgroup="base", showlegend=first,
                                     text=[b.name for b, _, _ in bx],
                                     textposition=_label_positions([bb for _, _, bb in bx]),
                                     marker=dict(symbol="star", size=14, color=[palette.device(b.name) for b, _, _ in bx],
                                                 line=dict(width=1.2, color=style.BASELINE)),
                                     hovertemplate="<b>baseline %{text}</b><extra></extra>"), row=r, col=c)
        fig.update_xaxes(title_text=_axis_title(ox, sx), **logx, row=r, col=c)
        fig.update_yaxes(title_text=_axis_title(oy, sy), **logy, row=r, col=c)
    fig.update_layout(template=style.TEMPLATE, height=440 * rows + 40, hovermode="closest",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0),
                      margin=dict(l=70, r=20, t=50, b=60))
    return fig


# Convergence -----------------------------------------------------------------------------


def hypervolume_series(data: StudyData) -> tuple[np.ndarray, np.ndarray, str]:
    """(trial numbers, hypervolume after each, where it came from). The run's own history
    (study.json) when present; else computed exactly against the study's reference point
    (all objectives minimised) or one just worse than the worst feasible design."""
    if data.hv_history:
        arr = np.array(data.hv_history, dtype=float)
        return arr[:, 0], arr[:, 1], "as recorded by the study"
    df = data.trials
    if not data.objectives or not df["ok"].any():
        return np.array([]), np.array([]), "no feasible trial"
    pts = np.column_stack([df[o.column].to_numpy(dtype=float) * (1 if o.minimize else -1) for o in data.objectives])
    pts[~df["ok"].to_numpy()] = np.nan
    # the study's reference point is in objective units; usable as costs only if every objective is minimised
    usable = data.hv_reference and len(data.hv_reference) == len(data.objectives) and \
        all(o.minimize for o in data.objectives)
    ref = np.asarray(data.hv_reference, dtype=float) if usable else default_reference(pts[df["ok"].to_numpy()])
    return df["number"].to_numpy(float), hypervolume_history(pts, ref), "computed here"


def convergence(data: StudyData) -> go.Figure:
    """Hypervolume over trials, then each objective's values with its best-so-far line."""
    objs = data.objectives
    n_rows = 1 + len(objs)
    fig = make_subplots(rows=n_rows, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=["hypervolume of the feasible front"] +
                                       [f"{o.label}: every feasible trial and the best so far" for o in objs])
    nums, hv, source = hypervolume_series(data)
    if len(nums):
        fig.add_trace(go.Scatter(x=nums, y=hv, mode="lines", line=dict(shape="hv", color=style.PALETTE[0], width=2),
                                 name="hypervolume", hovertemplate="after trial %{x}: %{y:.4g}<extra></extra>"),
                      row=1, col=1)
    df = data.trials
    ok = data.ok
    for k, o in enumerate(objs, start=2):
        vals = ok[o.column].to_numpy(float)
        s = _obj_scale(o, vals)
        fig.add_trace(go.Scatter(x=ok["number"], y=s(vals), mode="markers", name=f"{o.label} (trial)",
                                 marker=dict(size=4, color=style.DOMINATED), showlegend=False,
                                 hovertemplate=f"trial %{{x}}: %{{y:.4g}} {s.label}<extra></extra>"), row=k, col=1)
        series = pd.Series(np.where(df["ok"], df[o.column], np.nan), index=df["number"])
        best = (series.cummin() if o.minimize else series.cummax()).ffill()  # no gaps at infeasible trials
        fig.add_trace(go.Scatter(x=best.index, y=s(best.to_numpy(float)), mode="lines", name=f"best {o.label}",
                                 line=dict(shape="hv", color=style.PALETTE[k % len(style.PALETTE)], width=2),
                                 showlegend=False,
                                 hovertemplate=f"best after trial %{{x}}: %{{y:.4g}} {s.label}<extra></extra>"),
                      row=k, col=1)
        fig.update_yaxes(title_text=s.label, row=k, col=1, **(log_ticks(s(vals), max_ticks=5) if _use_log(vals) else {}))
    fig.update_yaxes(title_text="hypervolume", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="trial number", row=n_rows, col=1)
    fig.update_layout(template=style.TEMPLATE, height=230 * n_rows + 60, showlegend=False,
                      margin=dict(l=80, r=30, t=40, b=50))
    fig.add_annotation(text=f"hypervolume {source}", xref="paper", yref="paper", x=1, y=1.0, yanchor="bottom",
                       xanchor="right", showarrow=False, font=dict(size=11, color="#666"), yshift=18)
    return fig


# Parameter importances -------------------------------------------------------------------


def _distributions(data: StudyData, ok: pd.DataFrame) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for p in data.params:
        s = ok[p.column].dropna()
        if s.empty:
            continue
        if p.kind == "categorical" or not pd.api.types.is_numeric_dtype(s):
            choices = list(p.choices) or sorted(s.unique(), key=str)
            seen = set(map(str, choices))
            choices += [c for c in s.unique() if str(c) not in seen]
            out[p.column] = CategoricalDistribution([_plain(c) for c in choices])
        elif p.kind == "int":
            lo, hi = int(min(s.min(), p.low if p.low is not None else s.min())), \
                int(max(s.max(), p.high if p.high is not None else s.max()))
            out[p.column] = IntDistribution(lo, hi, log=p.log and lo > 0)
        else:  # the searched range when the study says, else what was sampled
            lo = float(min(s.min(), p.low if p.low is not None else s.min()))
            hi = float(max(s.max(), p.high if p.high is not None else s.max()))
            out[p.column] = FloatDistribution(lo, hi, log=(p.log or (p.low is None and hi / lo > 100)) and lo > 0)
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass(frozen=True)
class Importances:
    values: dict[str, dict[str, float]]  # objective label -> parameter path -> importance (sums to 1)
    notes: tuple[str, ...]


def stored_importances(data: StudyData) -> Importances | None:
    """The importances `slmsim explore` computed and stored in study.json, if any."""
    stored = data.meta.get("importances")
    if not isinstance(stored, dict) or not isinstance(stored.get("by_objective"), dict):
        return None
    label = {o.metric: o.label for o in data.objectives}
    values = {label.get(m, m): {str(k): float(v) for k, v in d.items()} for m, d in stored["by_objective"].items()}
    return Importances(values, tuple(str(n) for n in stored.get("notes", ())))


def importances(data: StudyData) -> Importances:
    """PED-ANOVA importances (optuna.importance, no scikit-learn needed) of every parameter
    for each objective, over the feasible trials. Failures become notes, not errors."""
    notes: list[str] = []
    ok = data.ok
    if len(ok) < 4:
        return Importances({}, (f"Parameter importances need at least 4 feasible trials; this study has {len(ok)}.",))
    try:
        import optuna
        from optuna.importance import PedAnovaImportanceEvaluator
        from optuna.trial import create_trial
    except ImportError as exc:  # pragma: no cover - optuna is a dependency
        return Importances({}, (f"Parameter importances unavailable: {exc}",))
    dists = _distributions(data, ok)
    varying = {c: d for c, d in dists.items() if ok[c].nunique() > 1}
    if not varying:
        return Importances({}, ("No parameter varies among the feasible trials: nothing to rank.",))
    path_of = {p.column: p.path for p in data.params}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict[str, dict[str, float]] = {}
    for o in data.objectives:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = optuna.create_study(direction=o.direction)
                trials = []
                for _, r in ok.iterrows():
                    params = {c: _coerce(r[c], d) for c, d in varying.items() if pd.notna(r[c])}
                    trials.append(create_trial(params=params, distributions={c: varying[c] for c in params},
                                               value=float(r[o.column])))
                study.add_trials(trials)
                imp = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
            out[o.label] = {path_of.get(c, c): float(v) for c, v in imp.items()}
        except Exception as exc:  # noqa: BLE001 - any failure of the estimator is shown, not raised
            notes.append(f"Importances for {o.label} could not be computed: {type(exc).__name__}: {exc}")
    constant = sorted(path_of.get(c, c) for c in dists if c not in varying)
    if constant:
        notes.append(f"Constant among feasible trials (not ranked): {', '.join(constant)}.")
    return Importances(out, tuple(notes))


def _coerce(v: Any, dist: Any) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    v = _plain(v)
    if isinstance(dist, CategoricalDistribution):
        for c in dist.choices:
            if str(c) == str(v):
                return c
        return v
    if isinstance(dist, IntDistribution):
        return int(v)
    return float(v)


def importance_figure(imp: Importances) -> go.Figure:
    params = sorted({p for d in imp.values.values() for p in d},
                    key=lambda p: sum(d.get(p, 0.0) for d in imp.values.values()))
    fig = go.Figure()
    for k, (label, vals) in enumerate(imp.values.items()):
        fig.add_trace(go.Bar(y=params, x=[vals.get(p, 0.0) for p in params], name=label, orientation="h",
                             marker_color=style.PALETTE[k % len(style.PALETTE)],
                             hovertemplate=f"<b>%{{y}}</b><br>{label}: %{{x:.3f}}<extra></extra>"))
    fig.update_layout(template=style.TEMPLATE, barmode="group", height=140 + 34 * len(params) * max(1, len(imp.values)),
                      xaxis_title="importance (PED-ANOVA, sums to 1 per objective)",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, traceorder="reversed"),
                      margin=dict(l=230, r=30, t=40, b=60))
    return fig


# Parallel coordinates --------------------------------------------------------------------


def _category_label(c: str, unit: str) -> str:
    """A choice as the axis shows it: a quantity with its unit (273 GB/s, not 273000000000.0),
    a whole number without decimals (16, not 16.0), anything else as it is."""
    try:
        v = float(c)
    except (TypeError, ValueError):
        return c
    if not math.isfinite(v):
        return c
    if unit:
        return fmt(v, unit)
    return str(int(v)) if v.is_integer() else c


@dataclass(frozen=True)
class _Axis:
    label: str
    column: str
    pos: np.ndarray  # each trial's position on the axis, in [0, 1] (NaN if missing)
    ticks: list[tuple[float, str]]
    text: list[str]  # each trial's value, formatted


def _axis(data: StudyData, column: str, label: str, unit: str, kind: str, choices: Sequence[Any],
          df: pd.DataFrame, minimize: bool | None = None) -> _Axis:
    s = df[column]
    if kind == "categorical" or not pd.api.types.is_numeric_dtype(s):
        cats = [str(c) for c in choices] or sorted(s.dropna().astype(str).unique())
        cats += [c for c in sorted(s.dropna().astype(str).unique()) if c not in cats]
        where = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
        pos = np.array([where.get(str(v), np.nan) if pd.notna(v) else np.nan for v in s])
        return _Axis(label, column, pos, [(where[c], _category_label(c, unit)) for c in cats],
                     [_category_label(str(v), unit) for v in s])
    v = s.to_numpy(dtype=float)
    fin = v[np.isfinite(v)]
    if fin.size == 0:
        return _Axis(label, column, np.full(len(v), np.nan), [], ["n/a"] * len(v))
    lo, hi = float(fin.min()), float(fin.max())
    log = lo > 0 and hi / lo > 20
    f = np.log10 if log else (lambda a: a)
    span = (f(hi) - f(lo)) or 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = (f(v) - f(lo)) / span
    scale = pick_scale(unit, fin) if unit else None
    ticks = []
    for q in (0.0, 0.5, 1.0):
        val = 10 ** (np.log10(lo) + q * span) if log else lo + q * span
        ticks.append((q, (num(scale(val)) + f" {scale.label}") if scale else num(val)))
    text = [fmt(x, unit) if unit else num(x, 4) for x in v]
    return _Axis(label + (" (log)" if log else ""), column, pos, ticks, text)


def parallel_coordinates(data: StudyData) -> go.Figure:
    """Every feasible trial as a line across the parameters and objectives. Pareto designs
    are coloured by the first objective, dominated ones grey; the knee is drawn thick. SVG
    lines (no WebGL): hover a vertex for the trial; click legend entries to hide groups."""
    df = data.trials[data.trials["complete"]]
    axes = [_axis(data, p.column, p.path, p.unit, p.kind, p.choices, df) for p in data.params]
    axes += [_axis(data, o.column, o.label, o.unit, "float", (), df) for o in data.objectives]
    n_ax = len(axes)
    xs = np.arange(n_ax, dtype=float)
    status = {i: (" · Pareto-optimal" if r_p else (" · infeasible" if not r_f else ""))
              for i, r_p, r_f in zip(df.index, df["pareto"], df["feasible"])}
    fig = go.Figure()

    def lines(rows: pd.DataFrame) -> tuple[list[float | None], list[float | None], list[str | None]]:
        X: list[float | None] = []
        Y: list[float | None] = []
        T: list[str | None] = []
        idx = {i: k for k, i in enumerate(df.index)}
        for i in rows.index:
            k = idx[i]
            head = f"<b>trial {int(df.at[i, 'number'])}</b>{status[i]}<br>"
            for a_i, a in enumerate(axes):
                X.append(float(xs[a_i]))
                y = a.pos[k]
                Y.append(None if not np.isfinite(y) else float(y))
                T.append(f"{head}{a.label}: {a.text[k]}")
            X.append(None)
            Y.append(None)
            T.append(None)
        return X, Y, T

    ok = data.ok
    infeas = df[df["rep"] & ~df["feasible"]]  # one line per distinct design, as the other traces
    if not infeas.empty:
        X, Y, T = lines(infeas)
        fig.add_trace(go.Scatter(x=X, y=Y, text=T, mode="lines", name=f"infeasible ({len(infeas)})",
                                 visible="legendonly", line=dict(color=style.INFEASIBLE, width=0.8),
                                 hovertemplate="%{text}<extra></extra>"))
    dominated = ok[~ok["pareto"]]
    if not dominated.empty:
        shown = dominated.iloc[np.unique(np.linspace(0, len(dominated) - 1, MAX_LINES).astype(int))] \
            if len(dominated) > MAX_LINES else dominated  # evenly over the study, to bound the file size
        X, Y, T = lines(shown)
        label = f"dominated ({len(dominated)})" if len(shown) == len(dominated) else \
            f"dominated ({len(shown)} of {len(dominated)} drawn)"
        fig.add_trace(go.Scatter(x=X, y=Y, text=T, mode="lines", name=label,
                                 line=dict(color="rgba(120,120,120,0.22)", width=0.8),
                                 hovertemplate="%{text}<extra></extra>"))
    front = data.front
    if not front.empty and data.objectives:
        o = data.objectives[0]
        v = front[o.column].to_numpy(float)
        lo, hi = float(v.min()), float(v.max())
        t = (v - lo) / (hi - lo) if hi > lo else np.full(len(v), 0.5)
        # one trace per colour band (a trace per line would cost the browser time per trace)
        bands = 8
        band = np.minimum((t * bands).astype(int), bands - 1)
        cols = sample_colorscale(style.SEQUENTIAL, [(b + 0.5) / bands for b in range(bands)])
        first = True
        for b_i in range(bands):
            members = front[band == b_i]
            if members.empty:
                continue
            X, Y, T = lines(members)
            fig.add_trace(go.Scatter(x=X, y=Y, text=T, mode="lines", legendgroup="front",
                                     name=f"Pareto-optimal ({len(front)})", showlegend=first,
                                     line=dict(color=cols[b_i], width=1.8), hovertemplate="%{text}<extra></extra>"))
            first = False
        s = pick_scale(o.unit, v)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip", meta="guide",
                                 marker=dict(colorscale=style.SEQUENTIAL, cmin=s(lo), cmax=s(hi), color=[s(lo)],
                                             showscale=True, colorbar=dict(title=dict(text=f"{o.label}<br>({s.label})"),
                                                                           thickness=12))))
        knee = knee_number(data)
        if knee is not None:
            X, Y, T = lines(front[front["number"] == knee])
            fig.add_trace(go.Scatter(x=X, y=Y, text=T, mode="lines+markers", name=f"knee (trial {knee})",
                                     line=dict(color=palette.DESIGN, width=3.5), marker=dict(size=7, color=palette.DESIGN),
                                     hovertemplate="%{text}<extra></extra>"))
    shapes = [dict(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="y", line=dict(color="#444", width=1))
              for x in xs]
    annotations = []
    for x, a in zip(xs, axes):
        for q, label in a.ticks:
            annotations.append(dict(x=x, y=q, text=_wrap_path(label, 9), showarrow=False, xanchor="left", xshift=4,
                                    font=dict(size=10, color="#333"), bgcolor="rgba(255,255,255,0.7)"))
    fig.update_layout(template=style.TEMPLATE, height=520, shapes=shapes, annotations=annotations,
                      hovermode="closest", legend=dict(orientation="h", y=1.08, yanchor="bottom", x=0),
                      margin=dict(l=30, r=30, t=40, b=90))
    fig.update_xaxes(tickvals=list(xs), ticktext=[_wrap_path(a.label, 8) for a in axes], tickangle=0,
                     tickfont=dict(size=10),
                     range=[-0.2, n_ax - 0.4], showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False, range=[-0.05, 1.05])
    return fig


# Tables ----------------------------------------------------------------------------------


def ratio(design: float | None, baseline: float | None, *, higher_is_better: bool) -> float | None:
    """How many times better the design is than the baseline on one metric."""
    if design is None or baseline is None or not np.isfinite(design) or not np.isfinite(baseline):
        return None
    if design <= 0 or baseline <= 0:
        return None
    return design / baseline if higher_is_better else baseline / design


def design_metric(row: pd.Series, data: StudyData, metric: str) -> float | None:
    col = data.metric_column(metric)
    if col is not None and pd.notna(row.get(col)):
        return float(row[col])
    recip = {"tokens_per_j": "energy_per_token_j", "tokens_per_s": "decode_latency_s"}.get(metric)
    if recip:
        col = data.metric_column(recip)
        if col is not None and pd.notna(row.get(col)) and row[col] > 0:
            return 1.0 / float(row[col])
    return None


@dataclass(frozen=True)
class ParetoRow:
    number: int  # the trial that stands for the design
    knee: bool
    objectives: dict[str, float]
    metrics: dict[str, float | None]
    params: dict[str, str]
    speedup: dict[str, float | None]  # baseline -> geomean over workloads of baseline / design decode latency
    tokens_per_j_ratio: dict[str, float | None]  # baseline -> geomean of design / baseline tokens/J
    n_trials: int = 1  # trials that proposed these parameters
    ratios: dict[str, Any] = field(default_factory=dict)  # baseline -> decision.Ratio (per workload)


def pareto_rows(data: StudyData) -> list[ParetoRow]:
    """The Pareto designs (one per distinct parameter set), best first objective first, with
    their ratios to every baseline: speedup = baseline decode latency / design decode latency
    and design tokens/J over baseline tokens/J, per workload, then the geometric mean over the
    workloads both run (both > 1 when the design is better)."""
    from slmsim.reports.decision import ratio_to

    front = data.front
    if front.empty:
        return []
    o0 = data.objectives[0]
    front = front.sort_values([o0.column, "number"], ascending=[o0.minimize, True])
    knee = knee_number(data)
    out = []
    for _, r in front.iterrows():
        rat = {b.name: ratio_to(data, r, b) for b in data.baselines}
        out.append(ParetoRow(
            number=int(r["number"]), knee=int(r["number"]) == knee,
            objectives={o.metric: float(r[o.column]) for o in data.objectives},
            metrics={m: design_metric(r, data, m) for m in ("tokens_per_s", "tokens_per_j", "area_mm2", "power_w",
                                                            "ttft_s")},
            params={p.path: fmt_param(p, r.get(p.column)) for p in data.params},
            speedup={k: v.speedup for k, v in rat.items()},
            tokens_per_j_ratio={k: v.tokens_per_j for k, v in rat.items()},
            n_trials=int(r.get("n_trials", 1)), ratios=rat))
    return out


def param_unit_label(p: Param, data: StudyData) -> str:
    """The display unit of a numeric parameter's column (one scale for the column)."""
    if p.kind == "categorical" or not p.unit:
        return ""
    vals = pd.to_numeric(data.front[p.column], errors="coerce").dropna().to_numpy(float) \
        if p.column in data.trials.columns else []
    return pick_scale(p.unit, vals).label


def fmt_param_in(p: Param, value: Any, data: StudyData) -> str:
    """A parameter value in its column's unit (`param_unit_label`), without the unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if p.kind == "categorical" or isinstance(value, str) or not p.unit:
        return fmt_param(p, value)
    vals = pd.to_numeric(data.front[p.column], errors="coerce").dropna().to_numpy(float)
    return num(pick_scale(p.unit, vals)(float(value)), 4)


# a number standing alone: not the digits of a name (qwen3-8b) or of a unit's power (mm^2)
_NUMBER = re.compile(r"(?<![\w^.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")


def infeasible_summary(data: StudyData) -> list[tuple[str, int, str]]:
    """(reason pattern with numbers as #, count, one full example), most common first."""
    df = data.trials
    reasons = df.loc[df["complete"] & ~df["feasible"], "infeasible_reason"].fillna("").astype(str)
    groups: dict[str, list[str]] = {}
    for r in reasons:
        for part in [p.strip() for p in r.split(";") if p.strip()] or ["(no reason recorded)"]:
            groups.setdefault(_NUMBER.sub("#", part), []).append(part)
    return sorted(((k, len(v), v[0]) for k, v in groups.items()), key=lambda t: -t[1])


# Per-workload view -----------------------------------------------------------------------

_WL_METRICS = ("decode_latency_s", "tokens_per_j", "ttft_s")


_RECIPROCAL = {"tokens_per_j": "energy_per_token_j"}  # tokens/J = 1 / energy per token


def _wl_value(row: pd.Series, w: str, m: str) -> float | None:
    return workload_value(row, w, m, reciprocal=_RECIPROCAL)


def _base_wl_value(b: Baseline, w: str, m: str) -> float | None:
    return baseline_workload_value(b, w, m, reciprocal=_RECIPROCAL)


def _wl_metrics(data: StudyData) -> list[str]:
    names = data.workload_names
    return [m for m in _WL_METRICS if any(f"wl:{w}:{m}" in data.trials.columns for w in names)
            or any(b.per_workload for b in data.baselines)]


def _wl_scales(data: StudyData, numbers: Sequence[int]) -> dict[str, Scale]:
    names = data.workload_names
    rows = [data.trials[data.trials["number"] == n].iloc[0] for n in numbers]
    out = {}
    for m in _wl_metrics(data):
        vals = [_wl_value(r, w, m) for r in rows for w in names]
        vals += [_base_wl_value(b, w, m) for b in data.baselines for w in names]
        out[m] = pick_scale(info(m).unit, [v for v in vals if v is not None])
    return out


def _design_bars(data: StudyData, number: int, m: str, scale: Scale) -> tuple[list[float | None], list[list[str]]]:
    """One design's bar heights (in `scale`) and hover data for metric `m`, per workload."""
    mi = info(m)
    row = data.trials[data.trials["number"] == number].iloc[0]
    ys, custom = [], []
    for w in data.workload_names:
        v = _wl_value(row, w, m)
        lines = []
        for b in data.baselines:
            rr = ratio(v, _base_wl_value(b, w, m), higher_is_better=mi.higher_is_better)
            if rr is not None:
                # a ratio below 1 as its inverse: "1.72x worse", never "0.581x worse"
                lines.append(f"{fmt_ratio(rr)} better than {b.name}" if rr >= 1
                             else f"{fmt_ratio(1 / rr)} worse than {b.name}")
            elif b.per_workload.get(w) is None:
                lines.append(f"{b.name} cannot run it")
        ys.append(scale(v) if v is not None else None)
        custom.append([f"trial {number}", fmt(v, mi.unit) if v is not None else "no result", "<br>".join(lines)])
    return ys, custom


def per_workload(data: StudyData, number: int, *, compare: Sequence[int] = ()) -> go.Figure:
    """How each workload (model) fares on design `number`, next to every baseline: decode
    latency per token, tokens per joule and time to first token, one panel each. Axis units
    are chosen over `number` and `compare` so a selector can swap designs in place (the
    design's traces have `meta="design"`; see `per_workload_restyles`)."""
    names = data.workload_names
    metrics = _wl_metrics(data)
    scales = _wl_scales(data, [number, *compare])
    fig = make_subplots(rows=1, cols=len(metrics), horizontal_spacing=0.07,
                        subplot_titles=[f"{info(m).label} {'↑' if info(m).higher_is_better else '↓'}"
                                        for m in metrics])
    traces: list[go.BaseTraceType] = []
    for c, m in enumerate(metrics, start=1):
        mi = info(m)
        s = scales[m]
        axis = dict(xaxis=f"x{c if c > 1 else ''}", yaxis=f"y{c if c > 1 else ''}")
        ys, custom = _design_bars(data, number, m, s)
        traces.append(go.Bar(x=names, y=ys, name="chosen design", legendgroup="design", showlegend=c == 1,
                             meta="design", marker=dict(color=style.HIGHLIGHT, line=dict(width=1.2, color="#222")),
                             customdata=custom, offsetgroup="design",
                             hovertemplate="<b>%{x}</b> on %{customdata[0]}<br>%{customdata[1]}<br>"
                                           "%{customdata[2]}<extra></extra>", **axis))
        for k, b in enumerate(data.baselines):
            colour = palette.device(b.name)
            vals = [_base_wl_value(b, w, m) for w in names]
            traces.append(go.Bar(x=names, y=[s(v) if v is not None else None for v in vals], name=b.name,
                                 legendgroup=b.name, showlegend=c == 1, marker_color=colour, offsetgroup=b.name,
                                 customdata=[fmt(v, mi.unit) if v is not None else "cannot run" for v in vals],
                                 hovertemplate=f"<b>%{{x}}</b> on {b.name}<br>%{{customdata}}<extra></extra>", **axis))
            missing = [w for w, v in zip(names, vals) if v is None]
            if missing:
                why = style.wrap_html(b.infeasible_reason or "no result", 60)
                traces.append(go.Scatter(x=missing, y=[0] * len(missing), mode="markers", showlegend=False,
                                         legendgroup=b.name, marker=dict(symbol="x", size=10, color=colour),
                                         hovertext=[f"{b.name}: {why}"] * len(missing), hoverinfo="text", **axis))
        fig.update_yaxes(title_text=s.label, row=1, col=c, rangemode="tozero")
    fig.add_traces(traces)
    fig.update_layout(template=style.TEMPLATE, barmode="group", height=460,
                      legend=dict(orientation="h", y=-0.2, x=0), margin=dict(l=70, r=20, t=50, b=120))
    fig.update_xaxes(tickangle=-30)
    return fig


def per_workload_restyles(data: StudyData, fig: go.Figure,
                          numbers: Sequence[int]) -> list[tuple[dict[str, list[Any]], list[int]]]:
    """For each design in `numbers`, the restyle (y and hover data of the design's traces)
    that shows it in `fig` (a `per_workload` figure built with `compare=numbers`)."""
    idx = [i for i, t in enumerate(fig.data) if t.meta == "design"]
    metrics = _wl_metrics(data)
    scales = _wl_scales(data, numbers)
    out = []
    for n in numbers:
        bars = [_design_bars(data, n, m, scales[m]) for m in metrics]
        out.append(({"y": [b[0] for b in bars], "customdata": [b[1] for b in bars]}, idx))
    return out


def workload_choices(data: StudyData, limit: int = 60) -> list[int]:
    """Trial numbers offered in the per-workload selector: the knee first, then the Pareto
    designs along the first objective (evenly thinned to `limit` if the front is larger)."""
    front = data.front
    if front.empty:
        return []
    o0 = data.objectives[0]
    nums = [int(n) for n in front.sort_values(o0.column, ascending=o0.minimize)["number"]]
    if len(nums) > limit - 1:
        idx = np.unique(np.linspace(0, len(nums) - 1, limit - 1).round().astype(int))
        nums = [nums[i] for i in idx]
    knee = knee_number(data)
    return ([knee] if knee is not None else []) + [n for n in nums if n != knee]


def design_label(data: StudyData, number: int, *, knee: int | None) -> str:
    r = data.trials[data.trials["number"] == number].iloc[0]
    objs = ", ".join(fmt(r[o.column], o.unit) for o in data.objectives)
    return f"trial {number}{' (knee)' if number == knee else ''}: {objs}"


def design_params_text(data: StudyData, number: int) -> str:
    r = data.trials[data.trials["number"] == number].iloc[0]
    return "; ".join(f"{p.path} = {fmt_param(p, r.get(p.column))}" for p in data.params)
