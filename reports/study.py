"""The study report: a DSE study's Pareto front, convergence, parameters and baselines.

`write_study_report(study_dir=DIR, out_html=...)` reads the study DIR that `slmsim explore
--out DIR` writes (see `reports.study_data` for the contract); `write_storage_report` reads
the trials from Optuna storage instead, for a study without a DIR (e.g. one that workers
are still filling on PostgreSQL).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from slmsim.reports import html
from slmsim.reports import study_figures as F
from slmsim.reports.metrics import info
from slmsim.reports.study_data import StudyData, load_study_dir, load_study_storage
from slmsim.reports.units import fmt, fmt_ratio, num


def _facts(data: StudyData) -> list[tuple[str, str]]:
    m = data.meta
    facts = [("study", data.name)]
    for key, label in (("sampler", "sampler"), ("engine", "engine"), ("seed", "seed"), ("aggregate", "aggregate")):
        if m.get(key) is not None:
            facts.append((label, str(m[key])))
    if data.objectives:
        facts.append(("objectives", ", ".join(f"{'min' if o.minimize else 'max'} {o.label}" for o in data.objectives)))
    if m.get("constraints"):
        facts.append(("constraints", "; ".join(_constraint_text(c) for c in m["constraints"])))
    if m.get("base"):
        facts.append(("base design", str(m["base"])))
    if data.workloads:
        facts.append(("workloads", ", ".join(str(w.get("name")) for w in data.workloads)))
    facts.append(("source", data.source))
    return facts


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
    complete = int(df["complete"].sum())
    feasible = int(df["ok"].sum())
    requested = data.meta.get("n_trials_requested")
    cards = [("trials", f"{len(df)}" + (f" / {requested}" if requested else ""),
              ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))),
             ("feasible", f"{feasible}", f"of {complete} complete"),
             ("Pareto-optimal", f"{int(df['pareto'].sum())}", "feasible, non-dominated")]
    for o in data.objectives:
        if data.ok.empty:
            break
        best = data.ok.sort_values(o.column, ascending=o.minimize).iloc[0]
        cards.append((f"best {o.label}", fmt(best[o.column], o.unit), f"trial {int(best['number'])}"))
    knee = F.knee_number(data)
    if knee is not None:
        k = data.trials[data.trials["number"] == knee].iloc[0]
        cards.append(("knee design", f"trial {knee}", ", ".join(fmt(k[o.column], o.unit) for o in data.objectives)))
    blocks: list[html.Block] = [html.Cards(cards)]
    blocks += [html.Note(n, kind="warning") for n in data.notes]
    if data.ok.empty:
        blocks.append(html.Note("No feasible trial: there is no front to show yet. The infeasibility reasons below "
                                "say what to relax.", kind="warning"))
    return blocks


def _baseline_table(data: StudyData) -> html.Table | None:
    if not data.baselines:
        return None
    metrics = [m for m in ("decode_latency_s", "energy_per_token_j", "tokens_per_s", "tokens_per_j", "ttft_s",
                           "power_w", "area_mm2") if any(m in b.metrics for b in data.baselines)]
    rows = []
    for b in data.baselines:
        rows.append([html.Cell(b.name)] + [html.Cell(fmt(b.metrics.get(m), info(m).unit) if m in b.metrics else "-",
                                                     sort=b.metrics.get(m)) for m in metrics]
                    + [html.Cell(b.infeasible_reason or "")])
    return html.Table(header=["baseline", *(info(m).label for m in metrics), "infeasible for"], rows=rows,
                      caption=f"Reference devices evaluated on the same workloads ({data.meta.get('aggregate', 'mean')} "
                              "over workloads where they run).", max_height_px=None)


def _pareto_table(data: StudyData) -> html.Table | None:
    rows = F.pareto_rows(data)
    if not rows:
        return None
    bases = [b.name for b in data.baselines]
    metric_cols = [m for m in ("tokens_per_s", "tokens_per_j", "area_mm2", "power_w", "ttft_s")
                   if m not in {o.metric for o in data.objectives} and any(r.metrics.get(m) is not None for r in rows)]
    header = ["trial", *(o.label for o in data.objectives), *(info(m).label for m in metric_cols)]
    for b in bases:
        header += [f"speedup vs {b}", f"tokens/J vs {b}"]
    header += list(rows[0].params)
    out = []
    highlight = set()
    for i, r in enumerate(rows):
        if r.knee:
            highlight.add(i)
        cells = [html.Cell(f"{r.number}" + (" (knee)" if r.knee else ""), sort=r.number)]
        cells += [html.Cell(fmt(r.objectives[o.metric], o.unit), sort=r.objectives[o.metric]) for o in data.objectives]
        cells += [html.Cell(fmt(r.metrics.get(m), info(m).unit), sort=r.metrics.get(m)) for m in metric_cols]
        for b in bases:
            cells += [html.Cell(fmt_ratio(r.speedup[b]), sort=r.speedup[b]),
                      html.Cell(fmt_ratio(r.tokens_per_j_ratio[b]), sort=r.tokens_per_j_ratio[b])]
        cells += [html.Cell(v) for v in r.params.values()]
        out.append(cells)
    cap = ("Every Pareto-optimal design. Speedup = baseline decode latency / design decode latency; tokens/J ratio "
           "= design tokens per joule / baseline's; above 1× the design is better. Click a column to sort.")
    return html.Table(header=header, rows=out, caption=cap, highlight_rows=frozenset(highlight))


def _infeasible_table(data: StudyData) -> html.Table | None:
    groups = F.infeasible_summary(data)
    if not groups:
        return None
    rows = [[html.Cell(pattern), html.Cell(str(n), sort=n), html.Cell(example)] for pattern, n, example in groups]
    return html.Table(header=["reason (numbers as #)", "trials", "example"], rows=rows, max_height_px=320,
                      caption="Complete trials that broke a constraint or could not run a workload, grouped by reason.")


def build_page(data: StudyData) -> html.Page:
    objs = data.objectives
    sections: list[html.Section] = [html.Section(title="Summary", anchor="summary", blocks=_summary(data))]
    if len(objs) >= 2 and not data.ok.empty:
        front_blocks: list[html.Block] = [html.Plot(
            F.pareto_front(data),
            caption="Hover a point for its objectives and every parameter. Dominated designs are faded; click "
                    "'infeasible' in the legend to show the designs that broke a constraint. Stars are the baseline "
                    "devices on the same workloads. The knee is the front point nearest the ideal after scaling "
                    "each objective to [0, 1] over the front.")]
        if len(objs) >= 3:
            front_blocks.append(html.Plot(
                F.pareto_pairs(data),
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
            blocks=[html.Plot(fig, choices=picks, choice_label="design")]))
    if not data.ok.empty:
        sections.append(html.Section(
            title="Convergence", anchor="convergence",
            intro="Hypervolume of the feasible front after each trial (higher is better; flat means the last trials "
                  "found nothing new), and each objective's best value so far."
                  + (f" Hypervolume normalisation: {data.meta['hypervolume_normalisation']}."
                     if data.hv_history and data.meta.get("hypervolume_normalisation") else ""),
            blocks=[html.Plot(F.convergence(data))]))
        imp = F.stored_importances(data) or F.importances(data)  # dse/ stores them in study.json
        imp_blocks: list[html.Block] = []
        if imp.values:
            imp_blocks.append(html.Plot(F.importance_figure(imp)))
        imp_blocks += [html.Note(n, kind="warning" if not imp.values else "info") for n in imp.notes]
        sections.append(html.Section(
            title="Parameter importances", anchor="importance",
            intro="Which parameters decide each objective among the feasible trials (PED-ANOVA from "
                  "optuna.importance: how differently a parameter is distributed among the best trials than among "
                  "all). An importance says nothing about direction: see the parallel coordinates.",
            blocks=imp_blocks))
        sections.append(html.Section(
            title="Parallel coordinates", anchor="parallel",
            intro="Each complete trial is a line through its parameter values and objectives; the Pareto designs are "
                  "coloured by the first objective. Hover a vertex for the trial; click legend entries to show or "
                  "hide groups.",
            blocks=[html.Plot(F.parallel_coordinates(data))]))
    infeas = _infeasible_table(data)
    if infeas is not None:
        sections.append(html.Section(title="Infeasible designs", anchor="infeasible", blocks=[infeas]))
    return html.Page(title=f"DSE study {data.name}", subtitle="slmsim study report", facts=_facts(data),
                     sections=sections, footer=f"slmsim · {len(data.trials)} trials · hypervolume "
                                               f"{num(F.hypervolume_series(data)[1][-1]) if len(data.ok) else 'n/a'}")


def write_study_report(*, study_dir: Path, out_html: Path, study_name: str | None = None) -> Path:
    """Write the report of the study in `study_dir` (the `--out` of `slmsim explore`) to `out_html`."""
    data = load_study_dir(Path(study_dir), study_name=study_name)
    return html.write(build_page(data), Path(out_html))


def write_storage_report(*, storage: str, out_html: Path, study_name: str | None = None) -> Path:
    """Write the report of an Optuna study read directly from `storage` (URL or journal file)."""
    data = load_study_storage(storage, study_name=study_name)
    return html.write(build_page(data), Path(out_html))
