"""The study report: a DSE study's Pareto front, convergence, parameters and baselines.

`write_study_report(study_dir=DIR, out_html=...)` reads the study DIR that `slmsim explore
--out DIR` writes (see `reports.study_data` for the contract); `write_storage_report` reads
the trials from Optuna storage instead, for a study without a DIR (e.g. one that workers
are still filling on PostgreSQL).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from slmsim.reports import decision as D
from slmsim.reports import html
from slmsim.reports import study_figures as F
from slmsim.reports.metrics import info
from slmsim.reports.study_data import StudyData, load_study_dir, load_study_storage
from slmsim.core.display import Scale, fmt, fmt_ratio, num, pick_scale


def _facts(data: StudyData) -> list[tuple[str, str]]:
    m = data.meta
    facts = [("study", data.name)]
    for key, label in (("sampler", "sampler"), ("engine", "engine"), ("seed", "seed"), ("aggregate", "aggregate"),
                       ("energy_boundary", "energy boundary")):
        if m.get(key) is not None:
            facts.append((label, str(m[key])))
    if data.objectives:
        facts.append(("objectives", ", ".join(f"{'min' if o.minimize else 'max'} {o.label}" for o in data.objectives)))
    if m.get("constraints"):
        facts.append(("constraints", "; ".join(_constraint_text(c) for c in m["constraints"])))
    if m.get("base"):
        facts.append(("base design", str(m["base"])))
    if data.workloads:
        facts.append(("workloads", ", ".join(_workload_text(w) for w in data.workloads)))
    facts.append(("source", data.source))
    return facts


def _workload_text(w: dict) -> str:
    """A workload's name, and for a served one how: its ttft / decode_latency are the stream's statistic."""
    sv = w.get("serving")
    if not isinstance(sv, dict):
        return str(w.get("name"))
    load = (f"{sv.get('rate'):g}/s Poisson" if sv.get("arrivals") == "poisson" and sv.get("rate") is not None else
            f"{sv.get('concurrency')} out" if sv.get("arrivals") == "closed" else "all at t=0")
    return (f"{w.get('name')} (served: {sv.get('requests')} requests, {load}; ttft and decode_latency are the "
            f"stream's {sv.get('statistic', 'mean')}, decode_latency of the inter-token gaps)")


def _constraint_text(c: object) -> str:
    """A constraint as study.json holds it: a string, or {"text": ...} / {"metric", "op", "bound", "unit"}."""
    if isinstance(c, dict):
        if c.get("text"):
            return str(c["text"])
        return " ".join(str(c[k]) for k in ("metric", "op", "bound", "unit") if c.get(k) is not None)
    return str(c)


def _summary(data: StudyData) -> list[html.Block]:
    df = data.trials
    states = Counter(df["state"])
    n_designs = int(df["rep"].sum())
    feasible = len(data.ok)
    complete_designs = int((df["rep"] & df["complete"]).sum())
    requested = data.meta.get("n_trials_requested")
    dup = len(df) - n_designs
    cards = [("trials", f"{len(df)}" + (f" / {requested}" if requested else ""),
              ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))),
             ("distinct designs", f"{n_designs}",
              f"{dup} trials repeated a design" if dup else "no trial repeated a design"),
             ("feasible designs", f"{feasible}", f"of {complete_designs} evaluated"),
             ("Pareto-optimal designs", f"{int(df['pareto'].sum())}", "feasible, non-dominated, distinct")]
    blocks: list[html.Block] = [html.Cards(cards)]
    blocks += [html.Note(n, kind="warning") for n in data.notes]
    if df.empty or not bool(df["complete"].any()):
        blocks.append(html.Note("No completed trial yet: nothing to show. Run `slmsim explore` (or `slmsim worker`) "
                                "on the study, then report it again.", kind="warning"))
    elif data.ok.empty:
        blocks.append(html.Note("No feasible trial: there is no front to show yet. The infeasibility reasons below "
                                "say what to relax.", kind="warning"))
    return blocks


def _aggregate_word(data: StudyData) -> str:
    agg = str(data.meta.get("aggregate") or "mean")
    n = len(data.workload_names)
    over = f" over the {n} workloads" if n > 1 else ""
    return {"mean": f"arithmetic mean{over}", "worst": f"worst case{over}"}.get(agg, f"{agg}{over}")


def _ratio_table(ratios: list[D.Ratio], base: str | None) -> html.Table:
    rows = []
    for r in ratios:
        tip = r.hover()
        name = f"{r.baseline} (base design)" if r.baseline == base else r.baseline
        rows.append([html.Cell(name), html.Cell(fmt_ratio(r.speedup), sort=r.speedup, title=tip),
                     html.Cell(fmt_ratio(r.tokens_per_j), sort=r.tokens_per_j, title=tip)])
    return html.Table(header=["against", "speed × (geomean)", "tokens/J × (geomean)"], rows=rows, sortable=False, max_height_px=None)


def _decision(data: StudyData) -> list[html.Block]:
    """The first screen: the recommended design and the best per objective, with parameters,
    costs and ratios (geometric means over workloads; per workload in the tooltip)."""
    picks = D.picks(data)
    if not picks:
        return []
    base = D.base_baseline(data)
    base_name = base.name if base else None
    objective_metrics = [o.metric for o in data.objectives]
    cards = []
    for i, p in enumerate(picks):
        r = p.row
        facts = [(o.label, fmt(r[o.column], o.unit)) for o in data.objectives]
        for m in ("ttft_s", "power_w", "area_mm2", "tokens_per_s", "tokens_per_j"):
            if m in objective_metrics:
                continue
            v = F.design_metric(r, data, m)
            if v is not None:
                mi = info(m)
                facts.append((mi.label, fmt(v, mi.unit)))
        mem = D.memory_used_bytes(data, r)
        facts.append(("memory used", fmt(mem, "bytes") if mem is not None else "not recorded by the study"))
        if base is not None:  # costs against the base design, where the base is worse or better
            for m, label in (("ttft_s", "TTFT"), ("power_w", "power")):
                v, bv = F.design_metric(r, data, m), base.metrics.get(m)
                if v and bv:
                    facts.append((f"{label} vs {base.name}", f"{v / bv:.2f}× ({(v / bv - 1) * 100:+.0f}%)"))
        title = f"trial {p.number}" + (f" (×{p.n_trials} trials)" if p.n_trials > 1 else "")
        cards.append(html.DesignCard(
            title=("Recommended · " if i == 0 and "knee" in p.roles[0] else "") + title,
            subtitle="; ".join(p.roles), params=[(v.path, v.text, v.flag) for v in p.params], facts=facts,
            table=_ratio_table(p.ratios, base_name) if p.ratios else None, emphasis=i == 0))
    n_wl = len(data.workload_names)
    explain = (f"Costs are the study's aggregate ({_aggregate_word(data)}). Energy per token is decode energy per "
               "decoded token; tokens/J counts every generated token against the whole run's energy, prefill "
               "included, so it is not 1 / energy per token. ")
    explain += ("Speed × = the reference's decode latency / the design's; tokens/J × = the design's tokens/J / the "
                "reference's; each the geometric mean of the per-workload ratios"
                + (" over the workloads both run" if n_wl > 1 else "")
                + " (hover a ratio for each workload). Above 1× the design is better. ")
    for b in data.baselines:  # a baseline that cannot run a workload is compared over the others only
        missing = [w for w in data.workload_names if b.per_workload.get(w) is None]
        if missing and len(missing) < n_wl:
            explain += (f"{b.name}'s ratios are over {n_wl - len(missing)} of the {n_wl} workloads "
                        f"({', '.join(missing)}: it cannot run {'them' if len(missing) > 1 else 'it'}). ")
    explain += ("The knee is the front design nearest the ideal point once each objective is scaled to [0, 1] over "
                "the front: the balanced compromise. ⚑ marks a parameter at a bound of its searched range: the best "
                "design may lie beyond it.")
    return [html.DesignCards(cards, caption=explain)]


def _baseline_table(data: StudyData) -> html.Table | None:
    if not data.baselines:
        return None
    metrics = [m for m in ("decode_latency_s", "energy_per_token_j", "tokens_per_s", "tokens_per_j", "ttft_s",
                           "power_w", "area_mm2") if any(m in b.metrics for b in data.baselines)]
    header, cols = ["baseline"], []
    for m in metrics:
        mi = info(m)
        sc = pick_scale(mi.unit, [b.metrics.get(m) for b in data.baselines])
        header.append(f"{mi.label} ({sc.label})" if sc.label else mi.label)
        cols.append((m, sc))
    rows = []
    for b in D.ordered_baselines(data):
        rows.append([html.Cell(b.name)] + [html.Cell(num(sc(b.metrics[m])) if m in b.metrics else "-",
                                                     sort=b.metrics.get(m)) for m, sc in cols]
                    + [html.Cell(b.infeasible_reason or "")])
    return html.Table(header=[*header, "cannot run"], rows=rows,
                      caption=f"Reference devices evaluated on the same workloads ({_aggregate_word(data)}, over the "
                              "workloads each can run).", max_height_px=None)


def _pareto_table(data: StudyData) -> html.Table | None:
    rows = F.pareto_rows(data)
    if not rows:
        return None
    bases = [b.name for b in D.ordered_baselines(data)]
    metric_cols = [m for m in ("ttft_s", "power_w", "area_mm2", "tokens_per_s", "tokens_per_j")
                   if m not in {o.metric for o in data.objectives} and any(r.metrics.get(m) is not None for r in rows)]
    header = ["design"]
    params = list(data.params)
    for p in params:  # parameters first: they are what one builds
        unit = F.param_unit_label(p, data)
        header.append(f"{p.path} ({unit})" if unit else p.path)
    num_cols: list[tuple[str, str, Scale, bool]] = []  # (key, unit, scale, is objective)
    for o in data.objectives:
        sc = pick_scale(o.unit, [r.objectives[o.metric] for r in rows])
        header.append(f"{o.label} ({sc.label}) {'↓' if o.minimize else '↑'}" if sc.label else o.label)
        num_cols.append((o.metric, o.unit, sc, True))
    for m in metric_cols:
        mi = info(m)
        sc = pick_scale(mi.unit, [r.metrics.get(m) for r in rows])
        header.append(f"{mi.label} ({sc.label})" if sc.label else mi.label)
        num_cols.append((m, mi.unit, sc, False))
    for b in bases:
        header += [f"speed × vs {b}", f"tokens/J × vs {b}"]
    out = []
    highlight = set()
    for i, r in enumerate(rows):
        if r.knee:
            highlight.add(i)
        label = f"{r.number}" + (f" ×{r.n_trials}" if r.n_trials > 1 else "") + (" (knee)" if r.knee else "")
        cells = [html.Cell(label, sort=r.number, title=f"trial {r.number}" + (
            f"; the same parameters were proposed by {r.n_trials} trials" if r.n_trials > 1 else ""))]
        row = data.trials[data.trials["number"] == r.number].iloc[0]
        for p in params:
            v = row.get(p.column)
            cells.append(html.Cell(F.fmt_param_in(p, v, data), sort=_sortable(v)))
        for key, _unit, sc, is_obj in num_cols:
            v = r.objectives[key] if is_obj else r.metrics.get(key)
            cells.append(html.Cell(num(sc(v)) if v is not None else "n/a", sort=v))
        for b in bases:
            rr = r.ratios.get(b)
            tip = rr.hover() if rr else ""
            cells += [html.Cell(fmt_ratio(rr.speedup if rr else None), sort=rr.speedup if rr else None, title=tip),
                      html.Cell(fmt_ratio(rr.tokens_per_j if rr else None), sort=rr.tokens_per_j if rr else None,
                                title=tip)]
        out.append(cells)
    n_dup = sum(r.n_trials - 1 for r in rows)
    trials = "trial" if n_dup == 1 else "trials"
    cap = ("Every Pareto-optimal design, one row per distinct set of parameters"
           + (f" ({n_dup} more {trials} repeated these designs; ×N says how many proposed each)" if n_dup else "")
           + ". Speed × and tokens/J × are geometric means over workloads of the per-workload ratios (hover for each "
             "workload); above 1× the design is better. Click a column to sort; the table scrolls sideways.")
    return html.Table(header=header, rows=out, caption=cap, highlight_rows=frozenset(highlight))


def _sortable(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f == f else None


def _infeasible_table(data: StudyData) -> html.Table | None:
    groups = F.infeasible_summary(data)
    if not groups:
        return None
    rows = [[html.Cell(pattern), html.Cell(str(n), sort=n), html.Cell(example)] for pattern, n, example in groups]
    return html.Table(header=["reason (numbers as #)", "trials", "example"], rows=rows, max_height_px=320,
                      caption="Complete trials that broke a constraint or could not run a workload, grouped by reason.")


def stored_importances(data: StudyData) -> F.Importances | None:
    """Importances the study computed once and stored in study.json (`param_importances` or
    `importances`: {objective: {parameter: value}}), keyed by objective label here."""
    raw = data.meta.get("param_importances") or data.meta.get("importances")
    if not isinstance(raw, dict) or not raw:
        return None
    if "by_objective" in raw:  # dse/importance.py's form: {by_objective: {...}, notes: [...]}
        return F.stored_importances(data)
    label = {o.metric: o.label for o in data.objectives}
    label.update({o.metric.rsplit("_", 1)[0]: o.label for o in data.objectives})
    label.update({o.label: o.label for o in data.objectives})
    out = {}
    for obj, vals in raw.items():
        if isinstance(vals, dict):
            out[label.get(str(obj), str(obj))] = {str(k).removeprefix("param:"): float(v) for k, v in vals.items()
                                                 if isinstance(v, (int, float))}
    return F.Importances(out, ()) if out else None


def _sensitivity_sections(data: StudyData, evaluator_factory: Any = None) -> list[html.Section]:
    """One-at-a-time sensitivity around the recommended design (evaluated with the study's
    space file); importances the study stored; PED-ANOVA only when neither is available."""
    from slmsim.reports import sensitivity as S

    out: list[html.Section] = []
    knee = F.knee_number(data)
    why = "no front"
    if knee is not None:
        sens, why = S.one_at_a_time(data, knee, factory=evaluator_factory)
        if sens is not None:
            out.append(html.Section(
                title="Sensitivity around the recommended design", anchor="sensitivity",
                intro=f"Each parameter moved over its searched range with the others held at trial {knee} (the knee), "
                      f"evaluated with the study's evaluator ({sens.engine} engine, {sens.space_file}): how much each "
                      "objective changes, in % of the design's value. Unlike an importance, it has a direction and is "
                      "zero for a parameter that cannot change an objective. Hover for every value tried.",
                blocks=[html.Plot(S.figure(sens, data), name="sensitivity")]))
    stored = stored_importances(data)
    if stored is not None:
        has_values = any(stored.values.values()) if stored.values else False
        blocks_s: list[html.Block] = [html.Plot(F.importance_figure(stored), name="importances")] if has_values else []
        blocks_s += [html.Note(n, kind="info" if has_values else "warning") for n in stored.notes]
        if not blocks_s:
            blocks_s = [html.Note("The study stored no importance values.", kind="info")]
        out.append(html.Section(
            title="Parameter importances (as the study computed them)", anchor="importance",
            intro="Importances stored by the study (study.json). They say which parameters the sampler found to matter "
                  "among the trials, not their direction; the sensitivity above says what each does at the "
                  "recommended design. PED-ANOVA compares where a parameter's values sit among the best trials of "
                  "an objective with all trials, so when the sampler has moved parameters together (the trials "
                  "that are best on one objective share values of another parameter) it can credit a parameter "
                  "that cannot change that objective, e.g. DRAM bandwidth for area. Where the sensitivity says "
                  "zero, the importance is such a correlation.",
            blocks=blocks_s))
    elif not out:
        imp = F.importances(data)
        blocks: list[html.Block] = [html.Note(f"No one-at-a-time sensitivity: {why}.", kind="info")]
        if imp.values:
            blocks.append(html.Plot(F.importance_figure(imp), name="importances"))
        blocks += [html.Note(n, kind="warning" if not imp.values else "info") for n in imp.notes]
        out.append(html.Section(
            title="Parameter importances", anchor="importance",
            intro="Which parameters decide each objective among the feasible trials (PED-ANOVA from "
                  "optuna.importance: how differently a parameter is distributed among the best trials than among "
                  "all). An importance says nothing about direction and can credit a parameter with an objective it "
                  "cannot change (sampling correlations): see the parallel coordinates.",
            blocks=blocks))
    return out


_WORKLOAD_COLUMNS = (("model", "model"), ("prompt", "prompt tokens"), ("gen", "generated tokens"), ("batch", "batch"),
                     ("weight_bits", "weight bits"), ("act_bits", "activation bits"), ("kv_bits", "KV bits"),
                     ("group_size", "weights per scale"), ("decoding", "decoding"), ("stack", "stack"),
                     ("weight_format", "weight format"))

# what every study's objectives leave out or take as given (docs/dse.md, "What is assumed")
ASSUMPTIONS = (
    "The objectives are the simulator's: what its engine leaves out (DRAM price and package limits, yield, thermal "
    "limits, voltage-frequency coupling: a faster clock costs nothing here) the front does not see.",
    "Area counts the devices and the on-chip memory tiers only; off-chip DRAM is not counted.",
    "Constraints hold per workload (the worst case); objectives aggregate over the workloads as stated above.",
    "The hypervolume reference (by default twice as bad as the base design) is a convention: fronts compare within "
    "a study and between studies of the same space, not across spaces.",
    "Every figure of a design comes from the base spec's values and sources (base-hardware.yaml in the study folder; "
    "`slmsim check FILE` lists each value with its source or assumption) with the searched parameters replaced.",
)


def _setup_section(data: StudyData) -> html.Section:
    """What each workload runs (prompt, generation, batch, precisions) and what the study assumes."""
    m = data.meta
    blocks: list[html.Block] = []
    if m.get("description"):
        blocks.append(html.Note(str(m["description"]), kind="info"))
    wls = [w for w in data.workloads if isinstance(w, dict)]
    if wls:
        cols = [(k, label) for k, label in _WORKLOAD_COLUMNS if any(w.get(k) is not None for w in wls)]
        rows = [[html.Cell(str(w.get("name") or w.get("model") or "?"))]
                + [html.Cell("" if w.get(k) is None else str(w.get(k).get("strategy", w.get(k)) if isinstance(
                    w.get(k), dict) else w.get(k))) for k, _ in cols] for w in wls]
        blocks.append(html.Table(header=["workload", *(label for _, label in cols)], rows=rows,
                                 caption="Each design is simulated on every workload (" + _aggregate_word(data) + ")."))
    else:
        blocks.append(html.Note("The study does not say which workloads it ran (no study.json or stored "
                                "configuration).", kind="warning"))
    where = [f"space file {m['space_file']}" if m.get("space_file") else "",
             f"base design {m['base']}" if m.get("base") else "",
             f"{m['engine']} engine" if m.get("engine") else ""]
    intro = "What the study ran" + (f" ({', '.join(w for w in where if w)})" if any(where) else "") + \
        " and what its objectives take as given."
    blocks.append(html.Note("Assumptions: " + " ".join(ASSUMPTIONS), kind="info"))
    return html.Section(title="Workloads and assumptions", anchor="setup", intro=intro, blocks=blocks)


def build_page(data: StudyData, *, evaluator_factory: Any = None) -> html.Page:
    """The page; `evaluator_factory` (slmsim.study_probe.evaluator_factory, from the CLI) lets
    it evaluate the one-at-a-time sensitivity around the recommended design."""
    objs = data.objectives
    sections: list[html.Section] = []
    decision = _decision(data)
    if decision:
        sections.append(html.Section(title="Decision", anchor="decision", blocks=decision,
                                     intro="Which design to build, why, and at what cost."))
    sections.append(html.Section(title="Summary", anchor="summary", blocks=_summary(data)))
    sections.append(_setup_section(data))
    if len(objs) >= 2 and not data.ok.empty:
        front_blocks: list[html.Block] = [html.Plot(
            F.pareto_front(data), name="pareto-front",
            caption="Hover a point for its objectives and every parameter. Dominated designs are faded; click "
                    "'infeasible' in the legend to show the designs that broke a constraint. Stars are the baseline "
                    "devices on the same workloads. The knee is the front point nearest the ideal after scaling "
                    "each objective to [0, 1] over the front.")]
        if len(objs) >= 3:
            front_blocks.append(html.Plot(
                F.pareto_pairs(data), name="pareto-pairs",
                caption=f"All {len(objs)} objectives, pair by pair: a design on the {len(objs)}-objective front may "
                        "look dominated in one pair and win in another."))
        sections.append(html.Section(
            title="Pareto front", anchor="front", blocks=front_blocks,
            intro=f"{objs[0].label} against {objs[1].label}" +
                  (f", coloured by {F.colour_metric(data)[1]}" if F.colour_metric(data) else "") +
                  f". Better is toward the {'lower' if objs[1].minimize else 'upper'} "
                  f"{'left' if objs[0].minimize else 'right'}."))
    elif len(objs) == 1 and not data.ok.empty:
        sections.append(html.Section(title="Objective", anchor="front", blocks=[html.Note(
            "A single-objective study has no front; see the convergence and the table of best designs.")]))
    base = _baseline_table(data)
    table = _pareto_table(data)
    blocks: list[html.Block] = []
    if table is not None:
        blocks.append(table)
    if base is not None:
        blocks.append(base)
    if blocks:
        sections.append(html.Section(title="Pareto designs against the baselines", anchor="designs", blocks=blocks))
    choices = F.workload_choices(data)
    if choices and len(data.workload_names) >= 1 and any(c.startswith("wl:") for c in data.trials.columns):
        knee = F.knee_number(data)
        fig = F.per_workload(data, choices[0], compare=choices)
        picks = [html.Choice(label=F.design_label(data, n, knee=knee), detail=F.design_params_text(data, n),
                             restyle=restyle, traces=traces)
                 for n, (restyle, traces) in zip(choices, F.per_workload_restyles(data, fig, choices))]
        more = len(data.front) - len(choices)
        sections.append(html.Section(
            title="Per workload", anchor="workloads",
            intro="How each model fares on one design, next to the baselines. Pick any Pareto design; the knee is "
                  "shown first. Hover a bar for the design's ratio to each baseline."
                  + (f" ({more} more Pareto designs are in the table above.)" if more > 0 else ""),
            blocks=[html.Plot(fig, choices=picks, choice_label="design", name="per-workload")]))
    if not data.ok.empty:
        sections.append(html.Section(
            title="Convergence", anchor="convergence",
            intro="Hypervolume of the feasible front after each trial (higher is better; flat means the last trials "
                  "found nothing new), and each objective's best value so far."
                  + (f" Hypervolume normalisation: {data.meta['hypervolume_normalisation']}."
                     if data.hv_history and data.meta.get("hypervolume_normalisation") else ""),
            blocks=[html.Plot(F.convergence(data), name="convergence")]))
        sections += _sensitivity_sections(data, evaluator_factory)
        sections.append(html.Section(
            title="Parallel coordinates", anchor="parallel",
            intro="Each complete trial is a line through its parameter values and objectives; the Pareto designs are "
                  "coloured by the first objective. Hover a vertex for the trial; click legend entries to show or "
                  "hide groups.",
            blocks=[html.Plot(F.parallel_coordinates(data), name="parallel-coordinates")]))
    infeas = _infeasible_table(data)
    if infeas is not None:
        sections.append(html.Section(title="Infeasible designs", anchor="infeasible", blocks=[infeas]))
    return html.Page(title=f"DSE study {data.name}", subtitle="slmsim study report", facts=_facts(data),
                     sections=sections, footer=f"slmsim · {len(data.trials)} trials · hypervolume "
                                               f"{num(F.hypervolume_series(data)[1][-1]) if len(data.ok) else 'n/a'}")


def write_study_report(*, study_dir: Path, out_html: Path, study_name: str | None = None,
                       version_footer: str = "", evaluator_factory: Any = None) -> Path:
    """Write the report of the study in `study_dir` (the `--out` of `slmsim explore`) to `out_html`.
    `version_footer` is printed at the foot of the page (issue 15)."""
    data = load_study_dir(Path(study_dir), study_name=study_name)
    page = build_page(data, evaluator_factory=evaluator_factory)
    return html.write(replace(page, version_footer=version_footer), Path(out_html))


def write_storage_report(*, storage: str, out_html: Path, study_name: str | None = None,
                         version_footer: str = "") -> Path:
    """Write the report of an Optuna study read directly from `storage` (URL or journal file)."""
    data = load_study_storage(storage, study_name=study_name)
    return html.write(replace(build_page(data), version_footer=version_footer), Path(out_html))
