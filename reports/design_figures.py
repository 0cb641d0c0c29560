"""Figures of one design point: pure functions of a simulation result, its plan and trace.

`result` is `SimResult.to_dict()` (plus "hardware", "model", "scenario"), `plan` a
`mapping.plan.Plan`, `trace` the DES's Chrome-trace events. Each builder returns a
`plotly.graph_objects.Figure` and writes nothing; `reports.design` lays them out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from slmsim.mapping.cost import Component
from slmsim.mapping.plan import Plan
from slmsim.reports import palette, style
from slmsim.core.display import fmt, num, pick_scale
from slmsim.simulator.analytic import decode_contexts

# Latency ---------------------------------------------------------------------------------


def latency_per_token_s(result: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Seconds per op class for the first token (prefill = TTFT) and per decode token (TPOT).

    The engine's breakdown sums over the whole run; TTFT and TPOT are what a user feels, and
    they are on comparable scales, so both bars fit one axis."""
    lat = result.get("latency_breakdown_s", {})
    out: dict[str, dict[str, float]] = {}
    pre = lat.get("prefill", {})
    if pre:
        out["prefill (TTFT)"] = dict(pre)
    dec = lat.get("decode", {})
    dec_total = sum(dec.values())
    tpot = result.get("tpot_s")
    if dec and dec_total > 0 and tpot:
        out["decode, per token (TPOT)"] = {k: v * tpot / dec_total for k, v in dec.items()}
    for phase, classes in lat.items():  # phases added later (draft, verify, ...) shown as run totals
        if phase not in ("prefill", "decode") and classes:
            out[f"{phase} (whole run)"] = dict(classes)
    return out


def _class_order(classes: Sequence[str], weights: Mapping[str, float]) -> list[str]:
    return sorted(set(classes), key=lambda c: -weights.get(c, 0.0))


def latency_breakdown(result: Mapping[str, Any]) -> go.Figure:
    """Stacked bars of time per op class: absolute (left) and share of the phase (right)."""
    per = latency_per_token_s(result)
    classes = {c for d in per.values() for c in d}
    weight = {c: sum(d.get(c, 0.0) / (sum(d.values()) or 1.0) for d in per.values()) for c in classes}
    order = _class_order(list(classes), weight)
    colour = style.op_class_colours(classes)
    return _stacked_by_phase(per, order, colour, unit="s", quantity="time", legend_title="op class ")


def _stacked_by_phase(per: Mapping[str, Mapping[str, float]], order: Sequence[str], colour: Mapping[str, str], *,
                      unit: str, quantity: str, legend_title: str,
                      extra: Callable[[float], str] | None = None, extra_label: str = "") -> go.Figure:
    """Horizontal stacked bars per phase: absolute (left) and share of the phase (right).

    `extra` adds a third hover line per value (e.g. energy per generated token)."""
    phases = list(per)
    scale = pick_scale(unit, [sum(d.values()) for d in per.values()])
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04, column_widths=[0.6, 0.4],
                        subplot_titles=(f"{quantity} ({scale.label})", "share of the phase (%)"))
    for c in order:
        vals = [per[p].get(c, 0.0) for p in phases]
        shares = [100.0 * per[p].get(c, 0.0) / (sum(per[p].values()) or 1.0) for p in phases]
        custom = [[fmt(v, unit), f"{sh:.1f}", extra(v) if extra else ""] for v, sh in zip(vals, shares)]
        hover = f"<b>{c}</b><br>%{{y}}<br>%{{customdata[0]}} (%{{customdata[1]}}%)"
        if extra:
            hover += f"<br>%{{customdata[2]}} {extra_label}"
        hover += "<extra></extra>"
        fig.add_trace(go.Bar(y=phases, x=[scale(v) for v in vals], name=c, orientation="h", legendgroup=c,
                             marker_color=colour[c], customdata=custom, hovertemplate=hover), row=1, col=1)
        fig.add_trace(go.Bar(y=phases, x=shares, name=c, orientation="h", legendgroup=c, showlegend=False,
                             marker_color=colour[c], customdata=custom, hovertemplate=hover), row=1, col=2)
    for p in phases:
        total = sum(per[p].values())
        fig.add_annotation(x=scale(total), y=p, text=f" {fmt(total, unit)}", showarrow=False, xanchor="left",
                           font=dict(size=12), row=1, col=1)
    fig.update_layout(template=style.TEMPLATE, barmode="stack", height=150 + 70 * len(phases),
                      legend=dict(orientation="h", y=-0.25, x=0, title_text=legend_title),
                      margin=dict(l=190, r=30, t=40, b=70))
    fig.update_xaxes(range=[0, 100], row=1, col=2)
    if phases:
        fig.update_xaxes(range=[0, scale(max(sum(d.values()) for d in per.values())) * 1.18], row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    return fig


# Energy ----------------------------------------------------------------------------------


def energy_by_phase_j(result: Mapping[str, Any], plan: Plan) -> dict[str, dict[str, float]]:
    """Energy per component for prefill and decode.

    The engine reports the run's total per component and the total per phase; dynamic
    energy per phase comes from the plan's mapped costs, and each phase's static energy
    is what the engine charged to the phase beyond them. Falls back to one "whole run"
    bar when the two accounts do not agree (an engine that models energy differently)."""
    total = dict(result.get("energy_breakdown_j", {}))
    try:
        ctx = decode_contexts(plan)
        out: dict[str, dict[str, float]] = {}
        for label, runs, phase_total in (
                ("prefill", plan.prefill_passes, result.get("prefill_energy_j")),
                ("decode", ((plan.decode, ctx),), result.get("decode_energy_j"))):
            if phase_total is None:
                raise ValueError("no per-phase energy")
            dyn: dict[str, float] = {}
            for step, c in runs:  # every pass of a chunked prefill
                for k, v in step.dynamic_energy_j(step.ctx_sum(c), len(c)).items():
                    dyn[k.value] = dyn.get(k.value, 0.0) + v
            # whatever the engine charged beyond the mapped dynamic costs is the phase's static energy
            static = phase_total - sum(v for k, v in dyn.items() if k != Component.STATIC.value)
            dyn[Component.STATIC.value] = static
            if static < -1e-9 * max(phase_total, 1e-30):
                raise ValueError("negative static energy")
            out[label] = {k: v for k, v in dyn.items() if v > 0}
        idle = float(result.get("idle_energy_j") or 0.0)
        if idle > 0:  # a request stream's gaps: always-on power with no request in the system
            out["idle"] = {Component.STATIC.value: idle}
        keys = {k for phase in out.values() for k in phase}
        summed = {k: sum(phase.get(k, 0.0) for phase in out.values()) for k in keys}
        for k in {*summed, *total}:
            a, b = summed.get(k, 0.0), total.get(k, 0.0)
            if abs(a - b) > 1e-3 * max(abs(b), 1e-3 * sum(total.values()), 1e-30):
                raise ValueError(f"component {k}: {a} vs {b}")
        return out
    except (ValueError, AttributeError, KeyError):
        return {"whole run": {k: v for k, v in total.items() if v > 0}}


def energy_breakdown(result: Mapping[str, Any], plan: Plan) -> go.Figure:
    """Stacked bars of energy per component for each phase: absolute and share."""
    per = energy_by_phase_j(result, plan)
    comps = {c for d in per.values() for c in d}
    totals = {c: sum(d.get(c, 0.0) for d in per.values()) for c in comps}
    order = sorted(comps, key=lambda c: -totals[c])
    colour = style.component_colours(comps)
    tokens = result.get("generated_tokens") or 0
    return _stacked_by_phase(per, order, colour, unit="J", quantity="energy", legend_title="component ",
                             extra=lambda v: fmt(v / tokens, "J") if tokens else "n/a",
                             extra_label="per generated token")


# Memory ----------------------------------------------------------------------------------

_CONTENT = {"weights": "weights", "kv_cache": "KV cache", "kv_cache_peak": "KV cache (peak)",
            "activations": "activations", "draft_weights": "draft weights", "draft_kv_cache": "draft KV cache"}
# limits, not contents: a row of their own, never stacked onto what the run needs
_LIMITS = {"kv_budget": "KV budget (serving)"}


def memory_footprint(result: Mapping[str, Any]) -> go.Figure:
    """What the run holds (weights, KV cache, activations) and what each memory tier holds."""
    fp = dict(result.get("memory_footprint_bytes", {}))
    modes = result.get("weight_mode", {}) or {}
    content = [(label, fp[k]) for k, label in _CONTENT.items() if k in fp]
    tiers = [(f"tier {k.split('.', 1)[1]}", v) for k, v in sorted(fp.items()) if k.startswith("tier.")]
    limits = [(label, fp[k]) for k, label in _LIMITS.items() if k in fp]
    other = [(k, v) for k, v in fp.items() if k not in _CONTENT and k not in _LIMITS and not k.startswith("tier.")]
    scale = pick_scale("bytes", [v for _, v in content + tiers + other + limits])
    fig = go.Figure()
    colour = dict(palette.MEMORY_CONTENT)
    stationary = [d for d, m in modes.items() if m == "weight_stationary"]
    for label, v in content + other:
        note = ""
        if label == "weights" and stationary:
            note = f"<br>held in the CIM arrays of {', '.join(stationary)} (weight-stationary)"
        fig.add_trace(go.Bar(x=[scale(v)], y=["needed by the run"], name=label, orientation="h",
                             marker_color=colour.get(label, style.PALETTE[8]),
                             hovertemplate=f"<b>{label}</b><br>{fmt(v, 'bytes')}{note}<extra></extra>"))
    for label, v in tiers:
        fig.add_trace(go.Bar(x=[scale(v)], y=[label], name=label, orientation="h", showlegend=False,
                             marker_color="#7F7F7F", text=[fmt(v, "bytes")], textposition="inside",
                             insidetextanchor="end", textfont=dict(color="white"),
                             hovertemplate=f"<b>{label}</b><br>{fmt(v, 'bytes')} held (weights, KV cache and "
                                           "activations placed there)<extra></extra>"))
    for label, v in limits:
        fig.add_trace(go.Bar(x=[scale(v)], y=[label], name=label, orientation="h", showlegend=False,
                             marker_color="#BBBBBB", text=[fmt(v, "bytes")], textposition="inside",
                             insidetextanchor="end",
                             hovertemplate=f"<b>{label}</b><br>{fmt(v, 'bytes')}: the most KV cache the serving "
                                           "scheduler may hold (what the KV tier has left beside the weights and "
                                           "activations); a limit, not a use<extra></extra>"))
    fig.update_layout(template=style.TEMPLATE, barmode="stack", height=150 + 45 * (1 + len(tiers) + len(limits)),
                      xaxis_title=f"bytes ({scale.label})",
                      legend=dict(orientation="h", y=-0.35, x=0, traceorder="normal"),
                      margin=dict(l=150, r=60, t=20, b=80))
    fig.update_yaxes(autorange="reversed")
    return fig


# Roofline --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RooflinePoint:
    """One op (all its layers) at one context, placed on its device's roofline."""

    phase: str
    device: str
    name: str
    op_class: str
    layers: int
    flops: float  # arithmetic ops, all layers
    memory_tier: str | None  # the tier whose traffic takes longest; None if the op moves no bytes
    memory_bytes: float  # bytes from that tier, all layers
    intensity_ops_per_byte: float  # flops / memory_bytes (inf when no bytes)
    time_s: float  # the op's time, all layers: overhead + max(compute, bytes / bandwidth per tier)
    attained_ops_per_s: float  # flops / time_s
    bound: str  # "compute", a tier name, or "overhead": what sets the op's time
    share_of_step: float  # fraction of the step's time


def mean_decode_context(plan: Plan) -> float:
    """The decode context at which affine costs are evaluated for the roofline."""
    if plan.mapper is not None:  # an encoder-decoder's decoder starts from its start token
        return plan.batch * plan.mapper.context_tokens(plan.prompt_tokens, plan.gen_tokens / 2)
    return plan.batch * (plan.prompt_tokens + plan.gen_tokens / 2)


def roofline_points(plan: Plan) -> list[RooflinePoint]:
    """Every op of prefill (context 0, as the engines evaluate it) and decode (mean context).

    Arithmetic intensity is against the op's memory tier: the tier (on-chip network included)
    whose transfer takes longest, i.e. the one that binds the op when memory does, so a
    memory-bound op sits on that tier's roof."""
    points: list[RooflinePoint] = []
    for phase, step, ctx in (("prefill", plan.prefill, 0.0), ("decode", plan.decode, mean_decode_context(plan))):
        times = step.op_times_s(np.array([ctx]))[:, 0]
        total = float(times.sum()) or 1.0
        for op, t in zip(step.ops, times):
            flops = op.layers * op.flops.at(ctx)
            tier_b: dict[str, float] = {}
            for tier, aff in op.tier_bytes:
                tier_b[tier] = tier_b.get(tier, 0.0) + op.layers * aff.at(ctx)
            tier_t = {k: b / step.tier_bandwidth_bytes_per_s[k] for k, b in tier_b.items() if b > 0}
            tier = max(tier_t, key=tier_t.__getitem__) if tier_t else None
            nbytes = tier_b.get(tier, 0.0) if tier else 0.0
            compute = op.layers * op.compute_s.at(ctx)
            overhead = op.layers * op.overhead_s
            limits = {"compute": compute, **tier_t}
            bound = max(limits, key=limits.__getitem__)
            if overhead > limits[bound]:
                bound = "overhead"
            points.append(RooflinePoint(
                phase=phase, device=step.device, name=op.name, op_class=op.op_class, layers=op.layers, flops=flops,
                memory_tier=tier, memory_bytes=nbytes,
                intensity_ops_per_byte=flops / nbytes if nbytes > 0 else math.inf,
                time_s=float(t), attained_ops_per_s=flops / float(t) if t > 0 else 0.0, bound=bound,
                share_of_step=float(t) / total))
    return points


def attainable_compute_ops_per_s(plan: Plan, device: str) -> float | None:
    """The fastest rate at which any op of `device` computes (its ops / its compute time): the
    efficiency-scaled compute roof (e.g. 0.7 x the matrix peak for a GPU whose stack reaches
    70%). Derived from the mapped costs, so the roof and the table's 'bound by' agree."""
    best = None
    for step, ctx in ((plan.prefill, 0.0), (plan.decode, mean_decode_context(plan))):
        if step.device != device:
            continue
        for op in step.ops:
            c = op.compute_s.at(ctx)
            f = op.flops.at(ctx)
            if c > 0 and f > 0:
                best = max(best or 0.0, f / c)
    return best


def roofline(plan: Plan, *, peak_bandwidths: Mapping[str, float] | None = None) -> go.Figure:
    """Log-log roofline of each device: the device's matrix peak, the attainable (efficiency-
    scaled) compute roof, one bandwidth roof per tier (effective bandwidth, the peak in the
    label when `peak_bandwidths` says), and every op at (arithmetic intensity, attained ops/s);
    marker area ~ share of step time."""
    pts = roofline_points(plan)
    devices = list(dict.fromkeys([plan.prefill.device, plan.decode.device]))
    fig = make_subplots(rows=1, cols=len(devices), subplot_titles=[f"device {d}" for d in devices],
                        horizontal_spacing=0.08) if len(devices) > 1 else go.Figure()
    colour = style.op_class_colours({p.op_class for p in pts})
    shown_classes: set[str] = set()
    for col, dev in enumerate(devices, start=1):
        kw = dict(row=1, col=col) if len(devices) > 1 else {}
        dpts = [p for p in pts if p.device == dev and p.flops > 0]
        finite = [p.intensity_ops_per_byte for p in dpts if math.isfinite(p.intensity_ops_per_byte)]
        peak = plan.device_peak_ops_per_s.get(dev)
        bws: dict[str, float] = {}
        for step in (plan.prefill, plan.decode):
            if step.device == dev:
                bws.update(step.tier_bandwidth_bytes_per_s)
        ridges = [peak / bw for bw in bws.values() if peak and bw > 0]
        lo = min(finite + ridges, default=1.0) / 4
        hi = max(finite + ridges, default=100.0) * 4
        inf_x = hi  # ops that move no bytes sit at the right edge
        # roofs
        if peak:
            fig.add_trace(go.Scatter(x=[lo, hi * 1.5], y=[peak, peak], mode="lines", name=f"compute peak {fmt(peak, 'ops/s')}",
                                     line=dict(color="#222", width=2), showlegend=col == 1, legendgroup="roof-peak", meta="guide",
                                     hovertemplate=f"{dev} matrix peak {fmt(peak, 'ops/s')}<extra></extra>"), **kw)
            eff = attainable_compute_ops_per_s(plan, dev)
            if eff is not None and eff < 0.98 * peak:
                fig.add_trace(go.Scatter(
                    x=[lo, hi * 1.5], y=[eff, eff], mode="lines", meta="guide", legendgroup="roof-eff",
                    name=f"attainable compute {fmt(eff, 'ops/s')} ({100 * eff / peak:.0f}% of peak)",
                    showlegend=col == 1, line=dict(color="#222", width=1.5, dash="dash"),
                    hovertemplate=(f"{dev}: the fastest rate any matrix op is mapped at, {fmt(eff, 'ops/s')} = "
                                   f"{100 * eff / peak:.0f}% of peak (the device's compute efficiency)<extra></extra>")),
                    **kw)
        for j, (tier, bw) in enumerate(bws.items()):
            top = peak if peak else bw * hi
            x_ridge = top / bw
            xs = [lo, min(x_ridge, hi * 1.5)]
            dash = "dot" if any(s.tier_component.get(tier) == Component.NOC for s in (plan.prefill, plan.decode)) \
                else ("dash" if j else "solid")
            peak_bw = (peak_bandwidths or {}).get(tier)
            label = f"{tier} {fmt(bw, 'bytes/s')} effective" + (
                f" (peak {fmt(peak_bw, 'bytes/s')})" if peak_bw and abs(peak_bw - bw) > 1e-6 * bw else "")
            fig.add_trace(go.Scatter(
                x=xs, y=[bw * x for x in xs], mode="lines", name=label,
                line=dict(color=style.PALETTE[9 + j % 4], width=2, dash=dash), legendgroup=f"roof-{tier}", meta="guide",
                hovertemplate=f"{tier}: {fmt(bw, 'bytes/s')}; ridge at {num(x_ridge)} ops/byte<extra></extra>"), **kw)
        dodge = _dodge(dpts)
        # ops
        for phase, symbol in (("prefill", "diamond"), ("decode", "circle")):
            for cls in sorted({p.op_class for p in dpts if p.phase == phase}):
                sel = [p for p in dpts if p.phase == phase and p.op_class == cls]
                xs = [dodge.get(id(p), 1.0) * (p.intensity_ops_per_byte if math.isfinite(p.intensity_ops_per_byte)
                                                else inf_x) for p in sel]
                ys = [p.attained_ops_per_s for p in sel]
                sizes = [8 + 30 * math.sqrt(p.share_of_step) for p in sel]
                custom = [[p.name, p.phase, p.layers, fmt(p.time_s, "s"), f"{100 * p.share_of_step:.1f}",
                           num(p.intensity_ops_per_byte) + (f" (vs {p.memory_tier})" if p.memory_tier else
                                                           " (moves no bytes)"),
                           fmt(p.attained_ops_per_s, "ops/s"),
                           f"{100 * p.attained_ops_per_s / peak:.2f}%" if peak else "n/a", p.bound,
                           fmt(p.memory_bytes, "bytes")] for p in sel]
                fig.add_trace(go.Scatter(
                    x=xs, y=ys, mode="markers", name=f"{cls}", legendgroup=f"cls-{cls}",
                    showlegend=cls not in shown_classes,
                    marker=dict(symbol=symbol, size=sizes, color=colour[cls], line=dict(color="#333", width=0.7),
                                opacity=0.85),
                    customdata=custom,
                    hovertemplate=("<b>%{customdata[0]}</b> (%{customdata[1]}, ×%{customdata[2]} layers)<br>"
                                   "time %{customdata[3]} = %{customdata[4]}% of the step<br>"
                                   "intensity %{customdata[5]} ops/byte<br>"
                                   "attained %{customdata[6]} = %{customdata[7]} of peak<br>"
                                   "bytes %{customdata[9]}; bound by %{customdata[8]}<extra></extra>")), **kw)
                shown_classes.add(cls)
        axis_kw = dict(type="log", dtick=1, exponentformat="SI", title_text="arithmetic intensity (ops/byte)", range=[math.log10(lo),
                                                                                       math.log10(hi * 1.5)])
        fig.update_xaxes(**axis_kw, **kw)
        ys_all = [p.attained_ops_per_s for p in dpts if p.attained_ops_per_s > 0] + ([peak] if peak else [])
        ymin = min(ys_all, default=1.0) / 3
        ymax = max(ys_all, default=10.0) * 3
        fig.update_yaxes(type="log", dtick=1, exponentformat="SI", title_text="attained ops/s" if col == 1 else None,
                         range=[math.log10(ymin), math.log10(ymax)], **kw)
    fig.update_layout(template=style.TEMPLATE, height=560,
                      legend=dict(title_text="roofs · op class (◆ prefill, ● decode)", itemsizing="constant"),
                      margin=dict(l=80, r=30, t=50, b=60))
    return fig


def _dodge(points: Sequence[RooflinePoint]) -> dict[int, float]:
    """x factors that spread ops sitting on the same spot (typical: every GEMV of a layer has the
    same intensity and throughput) by a few percent, so each marker can be hovered."""
    groups: dict[tuple, list[RooflinePoint]] = {}
    for p in points:
        key = (p.phase, round(math.log10(p.intensity_ops_per_byte), 2) if math.isfinite(p.intensity_ops_per_byte)
               else "inf", round(math.log10(p.attained_ops_per_s), 2) if p.attained_ops_per_s > 0 else 0)
        groups.setdefault(key, []).append(p)
    out: dict[int, float] = {}
    for group in groups.values():
        k = len(group)
        for i, p in enumerate(group):
            out[id(p)] = 10 ** (0.018 * (i - (k - 1) / 2))
    return out


def ops_table_rows(plan: Plan) -> list[RooflinePoint]:
    """The decode ops by time, then prefill: for a table next to the roofline."""
    pts = roofline_points(plan)
    return sorted(pts, key=lambda p: (p.phase != "decode", -p.time_s))


# Timeline --------------------------------------------------------------------------------

_LANE_ORDER = {"steps": 0, "ops": 1}


# Serving ---------------------------------------------------------------------------------

SERVING_METRICS = (("ttft_s", "time to first token"), ("tpot_s", "time per output token"),
                   ("itl_s", "inter-token gap"), ("e2e_s", "end to end"))
SERVING_STATS = ("p50", "p90", "p99", "max")


def serving_percentiles(serving: Mapping[str, Any]) -> go.Figure:
    """Per-request latencies of a request stream at their percentiles, one line per metric
    (log time axis: a stall shows as a jump at the tail)."""
    fig = go.Figure()
    for i, (key, label) in enumerate(SERVING_METRICS):
        d = serving.get(key) or {}
        xs = [s for s in SERVING_STATS if d.get(s) is not None]
        if not xs:
            continue
        ys = [d[s] for s in xs]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers", name=label, line={"color": palette.series(i)},
            customdata=[fmt(v, "s") for v in ys],
            hovertemplate=f"<b>{label}</b><br>%{{x}}: %{{customdata}}<extra></extra>"))
    fig.update_layout(template=style.TEMPLATE, height=360, legend_title_text="per request ")
    fig.update_yaxes(type="log", dtick=1, title_text="seconds (log)")
    fig.update_xaxes(title_text="percentile over requests (inter-token gap: over all gaps)")
    return fig


def timeline(trace: Sequence[Mapping[str, Any]], *, max_events: int = 4000) -> go.Figure:
    """A Gantt chart of the DES trace: one lane per (device or tier, track), bars coloured
    by op class (ops) or phase (steps)."""
    events = [e for e in trace if e.get("ph", "X") == "X"][:max_events]
    lanes = sorted({(str(e["pid"]), str(e["tid"])) for e in events},
                   key=lambda k: (k[0], _LANE_ORDER.get(k[1], 2), k[1]))
    lane_label = {k: f"{k[0]} · {k[1]}" for k in lanes}
    cats = {str(e.get("cat", "")) for e in events}
    colour = {**style.op_class_colours(cats - set(style.PHASE_COLOURS)), **style.PHASE_COLOURS}
    end_us = max((e["ts"] + e["dur"] for e in events), default=0.0)
    # open on the traced steps; spans that outlive them (request lifetimes) continue to the right
    focus_us = max((e["ts"] + e["dur"] for e in events if str(e["tid"]) in _LANE_ORDER), default=end_us)
    scale = pick_scale("s", [focus_us * 1e-6])
    fig = go.Figure()
    for cat in sorted(cats, key=lambda c: (c not in ("prefill", "decode"), c)):
        sel = [e for e in events if str(e.get("cat", "")) == cat]
        custom = []
        for e in sel:
            args = e.get("args") or {}
            extra = "<br>".join(f"{k}: {_short(v)}" for k, v in args.items())
            custom.append([e["name"], fmt(e["ts"] * 1e-6, "s"), fmt(e["dur"] * 1e-6, "s"), extra])
        is_step = cat in style.PHASE_COLOURS
        fig.add_trace(go.Bar(
            text=[e["name"] for e in sel] if is_step else None, textposition="inside", insidetextanchor="middle",
            textfont=dict(color="#222", size=11), constraintext="inside", textangle=0,
            y=[lane_label[(str(e["pid"]), str(e["tid"]))] for e in sel],
            x=[scale(e["dur"] * 1e-6) for e in sel], base=[scale(e["ts"] * 1e-6) for e in sel],
            orientation="h", name=cat, marker=dict(color=colour[cat], line=dict(color="rgba(0,0,0,0.35)", width=0.5)),
            customdata=custom, width=0.7,
            hovertemplate="<b>%{customdata[0]}</b><br>start %{customdata[1]}, duration %{customdata[2]}"
                          "<br>%{customdata[3]}<extra></extra>"))
    fig.update_layout(template=style.TEMPLATE, barmode="overlay", height=220 + 70 * max(len(lanes), 1),
                      xaxis_title=f"simulated time ({scale.label})", bargap=0.25,
                      legend=dict(title_text="phase · op class"), margin=dict(l=130, r=30, t=20, b=60))
    fig.update_yaxes(categoryorder="array", categoryarray=[lane_label[k] for k in reversed(lanes)])
    fig.update_xaxes(rangeslider=dict(visible=True, thickness=0.08), range=[0, scale(focus_us * 1e-6) * 1.01])
    return fig


def _short(v: object) -> str:
    if isinstance(v, float):
        return num(v, 4)
    return str(v)
