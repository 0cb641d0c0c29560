"""The design report: one model on one hardware spec (`slmsim simulate ... --report PATH`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from slmsim.mapping.plan import Plan
from slmsim.reports import design_figures as F
from slmsim.reports import html
from slmsim.core.display import fmt, num


_COMPUTE_COMPONENTS = ("cim_array", "cim_readout", "cim_weight_write", "gpu_compute", "npu_compute", "vector_unit",
                       "buffer")


def bounds(result: Mapping[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """What bounds each phase: the unit that sets most of the phase's op time (a memory tier,
    the on-chip network, compute or fixed overhead), its share of that time, how busy it is
    over the run (the engine's utilisation) and its share of the phase's energy."""
    pts = F.roofline_points(plan)
    energy = F.energy_by_phase_j(result, plan)
    util = result.get("utilisation") or {}
    out = []
    for phase, step in (("decode", plan.decode), ("prefill", plan.prefill)):
        sel = [p for p in pts if p.phase == phase]
        total = sum(p.time_s for p in sel)
        if not sel or total <= 0:
            continue
        by: dict[str, float] = {}
        for p in sel:
            by[p.bound] = by.get(p.bound, 0.0) + p.time_s
        unit = max(by, key=by.__getitem__)
        e = energy.get(phase) or energy.get("whole run") or {}
        e_total = sum(e.values())
        if unit == "compute":
            e_unit = sum(v for k, v in e.items() if k in _COMPUTE_COMPONENTS)
            busy = util.get(step.device)
            label = f"compute of {step.device}"
        elif unit == "overhead":
            e_unit, busy, label = None, None, "fixed per-op overhead"
        else:
            comp = step.tier_component.get(unit)
            e_unit = e.get(comp.value) if comp is not None else None
            busy = util.get(unit)
            label = unit
        out.append({"phase": phase, "unit": label, "time_share": by[unit] / total, "busy": busy,
                    "energy_share": (e_unit / e_total) if e_unit is not None and e_total > 0 else None,
                    "energy_scope": phase if phase in energy else "whole run"})
    return out


def memory_use(result: Mapping[str, Any], hardware: Any | None) -> list[tuple[str, float, float | None]]:
    """(tier, bytes held, capacity or None) for every memory tier the run uses."""
    fp = result.get("memory_footprint_bytes") or {}
    out = []
    for k, v in sorted(fp.items()):
        if k.startswith("tier."):
            tier = k.split(".", 1)[1]
            cap = None
            mems = getattr(hardware, "memories", None) or {}
            if tier in mems:
                cap = float(getattr(mems[tier], "capacity_bytes", 0) or 0) or None
            out.append((tier, float(v), cap))
    return out


def _opening(result: Mapping[str, Any], plan: Plan, hardware: Any | None) -> html.Block:
    facts = []
    params = []
    for b in bounds(result, plan):
        busy = f", busy {100 * b['busy']:.0f}% of the run" if b["busy"] is not None else ""
        share = (f", {100 * b['energy_share']:.0f}% of {b['energy_scope']} energy" if b["energy_share"] is not None
                 else "")
        params.append((f"{b['phase']} is bound by", f"{b['unit']}",
                       f"{100 * b['time_share']:.0f}% of {b['phase']} op time{busy}{share}"))
    for tier, used, cap in memory_use(result, hardware):
        text = fmt(used, "bytes") + (f" of {fmt(cap, 'bytes')} ({100 * used / cap:.0f}%)" if cap else
                                     " (capacity not given to the report)")
        facts.append((f"memory used in {tier}", text))
    card = html.DesignCard(title="What bounds this design", subtitle=f"{plan.model} on {plan.hardware}",
                           params=[(k, f"{v}: {note}", "") for k, v, note in params], facts=facts, emphasis=True)
    return html.DesignCards([card], caption=(
        "Bound by = the unit that sets most of the phase's op time (from the mapped costs: memory tier, on-chip "
        "network, compute or per-op overhead); busy = the engine's utilisation over the whole run; energy share from "
        "the energy split below."))


_BOUNDARY_MEANING = {"chip": "compute, on-chip memory, NoC, CIM macros, chip leakage and active power",
                     "chip+memory": "+ DRAM / stacked-DRAM traffic and background",
                     "board": "+ board idle power and links: every joule charged"}


def _boundary_blocks(result: Mapping[str, Any]) -> list[Any]:
    """The decode energy within each energy boundary, the run's headline boundary first."""
    by = result.get("energy_by_boundary") or {}
    if not by:
        return []
    used = str(result.get("energy_boundary") or "board")
    rows = []
    for b in [used] + [x for x in by if x != used]:
        f = by[b]
        rows.append([html.Cell(b + (" (headline)" if b == used else "")),
                     html.Cell(fmt(f.get("energy_per_decode_token_j"), "J"), sort=f.get("energy_per_decode_token_j")),
                     html.Cell(num(f.get("decode_tokens_per_j")), sort=f.get("decode_tokens_per_j")),
                     html.Cell(_BOUNDARY_MEANING.get(b, ""))])
    return [html.Table(header=["energy boundary", "decode energy per token", "decode tokens/J", "what it counts"],
                       rows=rows, max_height_px=None,
                       caption="The same run's decode energy counted within each boundary (docs/architecture.md "
                               "maps every component); chip <= chip+memory <= board.")]


def build_page(*, result: Mapping[str, Any], plan: Plan, trace: Sequence[Mapping[str, Any]], title: str,
               hardware: Any | None = None) -> html.Page:
    """Lay the design figures out as a page (nothing written). `hardware` (the HardwareSpec)
    adds memory capacities and peak bandwidths; without it they are left out."""
    sc = result.get("scenario", {}) or {}
    prec = sc.get("precision", {}) or {}
    facts = [
        ("hardware", str(result.get("hardware", plan.hardware))),
        ("model", str(result.get("model", plan.model))),
        ("scenario", f"prompt {plan.prompt_tokens}, generate {plan.gen_tokens}, batch {plan.batch}"),
        ("precision", f"W{prec.get('weight_bits', '?')} A{prec.get('activation_bits', '?')} "
                      f"KV{prec.get('kv_bits', '?')}" if prec else "n/a"),
        ("engine", str(result.get("engine", "?"))),
        ("energy boundary", str(result.get("energy_boundary") or "board")),
        ("weights", ", ".join(f"{d}: {m.replace('_', ' ')}" for d, m in (result.get("weight_mode") or {}).items())
         or "n/a"),
    ]
    sv = result.get("serving") or {}
    if sv:  # a request stream: the scenario's batch is not what ran
        facts.append(("requests", f"{sv.get('requests')} ({sv.get('schedule') or 'prefill-first'} schedule)"))
    generated = result.get("generated_tokens") or plan.gen_tokens * plan.batch
    cards = html.Cards(items=[
        ("time to first token", fmt(result.get("ttft_s"), "s"),
         "mean over requests, queueing included" if sv else f"prefill of {plan.prompt_tokens} tokens"),
        ("time per output token", fmt(result.get("tpot_s"), "s"), "mean over decode steps"),
        ("decode throughput", f"{num(result.get('decode_tokens_per_s'))} tokens/s",
         f"mean decode batch {num(sv.get('mean_decode_batch'))}" if sv else f"batch {plan.batch}"),
        ("tokens per joule", num(result.get("tokens_per_j")), "whole run, prefill included"),
        ("energy", fmt(result.get("energy_j"), "J"), f"{num(generated)} generated tokens"),
        ("average power", fmt(result.get("average_power_w"), "W"), ""),
        ("memory", fmt(sum(v for k, v in (result.get("memory_footprint_bytes") or {}).items()
                           if k in ("weights", "kv_cache", "activations", "draft_weights", "draft_kv_cache")),
                       "bytes"), "weights + KV + activations (+ the draft model's)"),
    ])
    util = result.get("utilisation") or {}
    util_rows = [[html.Cell(k), html.Cell(f"{100 * v:.1f}%", sort=v)] for k, v in sorted(util.items())]

    pts = F.ops_table_rows(plan)
    peak = plan.device_peak_ops_per_s
    op_rows = []
    for p in pts:
        pk = peak.get(p.device)
        op_rows.append([
            html.Cell(p.phase), html.Cell(p.name), html.Cell(p.op_class), html.Cell(str(p.layers), sort=p.layers),
            html.Cell(fmt(p.time_s, "s"), sort=p.time_s), html.Cell(f"{100 * p.share_of_step:.1f}%", sort=p.share_of_step),
            html.Cell(p.bound),
            html.Cell(num(p.intensity_ops_per_byte), sort=p.intensity_ops_per_byte if p.intensity_ops_per_byte
                      != float("inf") else 1e300),
            html.Cell(p.memory_tier or "-"), html.Cell(fmt(p.memory_bytes, "bytes"), sort=p.memory_bytes),
            html.Cell(fmt(p.attained_ops_per_s, "ops/s"), sort=p.attained_ops_per_s),
            html.Cell(f"{100 * p.attained_ops_per_s / pk:.2f}%" if pk else "n/a",
                      sort=p.attained_ops_per_s / pk if pk else None),
        ])
    no_flops = sorted({p.name for p in pts if p.flops <= 0})
    no_bytes = sorted({p.name for p in pts if p.flops > 0 and p.memory_tier is None})
    roof_notes = []
    if no_flops:
        roof_notes.append(f"Not on the plot (no arithmetic, so no intensity): {', '.join(no_flops)}.")
    if no_bytes:
        roof_notes.append(f"Drawn at the right edge (they move no bytes from any tier): {', '.join(no_bytes)}.")

    sections = [
        html.Section(title="Summary", anchor="summary", blocks=[_opening(result, plan, hardware), cards]),
        html.Section(
            title="Latency by op class", anchor="latency",
            intro="Where time goes in the first token (prefill, which is the time to first token) and in one "
                  "average decode step (the time per output token). Each bar stacks the op classes; the right "
                  "panel shows the same as a share of the phase.",
            blocks=[html.Plot(F.latency_breakdown(result), name="latency")]),
        html.Section(
            title="Energy by component", anchor="energy",
            intro="Energy of the prefill and of all decode steps, stacked by component. 'static' is always-on "
                  "power (idle, leakage, memory background) and a device's active power, charged for the time "
                  "of the phase; the other components are dynamic energy (ops, memory traffic, CIM arrays).",
            blocks=[html.Plot(F.energy_breakdown(result, plan), name="energy"), *_boundary_blocks(result)]),
        html.Section(
            title="Memory footprint", anchor="memory",
            intro="Bytes the run needs (weights with their group scales, the KV cache at the full context of "
                  "every request, the largest activation buffers) and what each memory tier holds.",
            blocks=[html.Plot(F.memory_footprint(result), name="memory")]),
        html.Section(
            title="Roofline", anchor="roofline",
            intro=f"Every op (all its layers) at its arithmetic intensity (ops per byte from its memory tier) and "
                  f"attained throughput (ops / its time). Prefill ops (◆) at context 0; decode ops (●) at the "
                  f"mean decode context ({num(F.mean_decode_context(plan))} tokens over the batch). Roofs: the "
                  f"device's matrix peak at this precision, the attainable compute (dashed: the fastest rate any op "
                  f"is mapped at, i.e. the peak times the device's compute efficiency) and one roof per memory tier "
                  f"at its effective bandwidth (peak x achievable fraction; the peak is in the legend; dotted: "
                  f"on-chip network). Marker area grows with the op's share of its step's time.",
            blocks=[html.Plot(F.roofline(plan, peak_bandwidths=_peak_bandwidths(hardware)), name="roofline",
                              caption="Ops on vector units (norms, softmax, attention on CIM chips) have a lower "
                                      "compute roof than the matrix peak drawn here. An op below both roofs is "
                                      "held back by another tier, its fixed overhead, or (CIM) by array cycles "
                                      "rather than by the drawn peak: the table says which."),
                    *[html.Note(n) for n in roof_notes],
                    html.Table(header=["phase", "op", "class", "layers", "time", "share of step", "bound by",
                                       "intensity (ops/B)", "memory tier", "bytes", "attained", "of peak"],
                               rows=op_rows, caption="Ops of decode (at the mean context) and prefill; click a "
                                                     "column to sort.")]),
        html.Section(
            title="Timeline of the first tokens", anchor="timeline",
            intro="The discrete-event engine's trace: the prefill and the first decode steps, one bar per op "
                  "(all its layers) and per step. Drag on the plot or the slider below it to zoom; double-click "
                  "to reset. The same trace opens in ui.perfetto.dev with `slmsim simulate --trace`.",
            blocks=[html.Plot(F.timeline(trace), name="timeline") if trace else
                    html.Note("No trace was recorded for this run.", kind="warning")]),
    ]
    serving = _serving_section(result)
    if serving is not None:
        sections.insert(1, serving)
    if util_rows:
        sections.append(html.Section(
            title="Utilisation", anchor="utilisation",
            intro="Busy time of each device and memory tier as a share of the whole run.",
            blocks=[html.Table(header=["resource", "busy"], rows=util_rows, max_height_px=None)]))
    return html.Page(title=title, subtitle="slmsim design report", facts=facts, sections=sections,
                     footer=f"slmsim · {result.get('engine', '?')} engine")


def _serving_section(result: Mapping[str, Any]) -> html.Section | None:
    """A request stream's per-request latencies (`simulate --arrivals ...`), if the run had one."""
    sv = result.get("serving")
    if not sv:
        return None
    rows = []
    for key, label in F.SERVING_METRICS:
        d = sv.get(key) or {}
        rows.append([html.Cell(label), *(html.Cell(fmt(d.get(c), "s"), sort=d.get(c))
                                        for c in ("mean", *F.SERVING_STATS))])
    schedule = sv.get("schedule") or "prefill-first"
    if schedule == "mixed":
        schedule += f", {sv.get('step_tokens')} tokens per step, {sv.get('mixed_steps')} mixed steps"
    intro = (f"{sv['completed']} of {sv['requests']} requests completed ({sv['rejected']} rejected); makespan "
             f"{fmt(sv.get('makespan_s'), 's')}, {num(sv.get('throughput_tokens_per_s'))} tokens/s over it, mean "
             f"decode batch {num(sv.get('mean_decode_batch'))}; schedule {schedule}; KV budget "
             f"{fmt(sv.get('kv_budget_bytes'), 'bytes')}"
             + (f" (paged: {sv.get('preemptions')} preemptions, {sv.get('recomputed_tokens')} tokens prefilled again)"
                if sv.get("kv_policy") == "paged" else "")
             + ". TTFT counts queueing; the inter-token gap is every gap "
             "between a request's successive tokens, where a step stalled by another request's prefill shows "
             "(a request's mean TPOT averages it away).")
    return html.Section(
        title="Serving", anchor="serving", intro=intro,
        blocks=[html.Plot(F.serving_percentiles(sv), name="serving"),
                html.Table(header=["per request", "mean", *F.SERVING_STATS], rows=rows, max_height_px=None)])


def _peak_bandwidths(hardware: Any | None) -> dict[str, float]:
    out = {}
    for name, m in (getattr(hardware, "memories", None) or {}).items():
        try:
            out[name] = float(m.peak_bandwidth_bytes_per_s)
        except (AttributeError, TypeError, ValueError):
            continue
    return out


def write_design_report(*, result: Mapping[str, Any], plan: Plan, trace: Sequence[Mapping[str, Any]],
                        out_path: Path, title: str, hardware: Any | None = None,
                        version_footer: str = "") -> Path:
    """Write the design report of one simulation as a self-contained HTML file; returns its path.
    `hardware` (the HardwareSpec simulated) adds capacities and peak bandwidths;
    `version_footer` is printed at the foot of the page (issue 15)."""
    page = build_page(result=result, plan=plan, trace=trace, title=title, hardware=hardware)
    if version_footer:
        from dataclasses import replace

        page = replace(page, version_footer=version_footer)
    return html.write(page, Path(out_path))
