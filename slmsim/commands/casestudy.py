"""`slmsim case-study edgecim|elmoe3d|claims [--out DIR]`: reproduce the seed papers' claims.

`claims` evaluates every claim of slmsim/data/claims.yaml (slmsim.casestudies.claims): paper
figure, slmsim figure, difference, conditions, computed verdict, sensitivity rows; writes
DIR/summary.json, DIR/claims.csv, DIR/sensitivity.csv, DIR/baselines.csv and DIR/report.html.

Writes DIR/summary.json ({"claims": [{claim, paper, slmsim, diff_pct, ...}]}), CSV tables,
a sensitivity table over the parameters the papers do not publish, and DIR/report.html.
The EdgeCIM study also runs a DSE around the `edgecim` preset into DIR/dse (its own
report.html) and says where the preset sits relative to the front found.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from slmsim.commands._common import EXIT_OK
from slmsim.core.errors import Problem, SpecError

MARKER = ".slmsim-case-study"


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("case-study", help="reproduce the seed papers' claims: EdgeCIM, ELMoE-3D, or the whole "
                                          "claims table (docs/case-studies.md)")
    c.add_argument("name", choices=["edgecim", "elmoe3d", "claims"])
    c.add_argument("--energy-boundary", choices=["chip", "chip+memory", "board"], default="board",
                   help="edgecim, claims: which energy tokens/J counts (default board: everything charged; "
                        "docs/architecture.md)")
    c.add_argument("--out", type=Path, help="output folder (default out/case-study-NAME)")
    c.add_argument("--trials", type=int, default=None, help="edgecim: DSE trials (default 300)")
    c.add_argument("--no-dse", action="store_true", help="edgecim: skip the DSE")
    c.set_defaults(func=_cmd)


_BAR: Any = None  # the running progress bar (tables.progress), while a case study runs
_STARTED = False  # a step has been announced on _BAR


def _say(msg: str) -> None:
    """One step of the case study: the progress bar on a terminal, a log line otherwise."""
    from slmsim.commands.tables import is_terminal

    global _STARTED
    if _BAR is not None:  # the step announced before this one is done
        _BAR.advance(msg, steps=1 if _STARTED else 0)
        _STARTED = True
    if not is_terminal(sys.stderr):
        print(msg, file=sys.stderr, flush=True)


def _steps(name: str, dse: bool) -> int:
    """Steps `_say` reports: the main runs, one per sensitivity variant, the DSE."""
    from slmsim.casestudies import edgecim as ec
    from slmsim.casestudies import elmoe3d as el

    if name == "claims":
        from slmsim.casestudies import claims as cl

        return len(ec.VARIANTS) + 2 + len(cl.EVALUATORS)  # EdgeCIM: + baselines, + the solved rows
    return 1 + len(ec.VARIANTS) + int(dse) if name == "edgecim" else 1 + len(el.VARIANTS) + len(el.KNOBS)


def _prepare(out: Path) -> None:
    """Refuse to write into a folder of the user's that is not a case-study output."""
    if out.exists():
        if not out.is_dir():
            raise SpecError([Problem(file=str(out), path="", message="exists and is not a folder",
                                     hint="give a new folder with --out")])
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise SpecError([Problem(file=str(out), path="", message="is not empty and not a case-study output",
                                     hint="give a new or empty folder with --out; nothing in it was changed")])
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by slmsim case-study; re-running replaces its outputs\n")


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _cmd(args: argparse.Namespace) -> int:
    from slmsim.core.limits import MAX_TRIALS

    from slmsim.core.errors import Problem, SpecError

    given = [flag for flag, on in (("--trials", args.trials is not None), ("--no-dse", args.no_dse)) if on]
    if given and args.name != "edgecim":
        raise SpecError([Problem(file="<command line>", path=given[0], message=f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to "
                                 f"the edgecim case study only; {args.name} runs no DSE", value=args.name,
                                 hint=f"drop {' '.join(given)}")])
    if args.trials is None:
        args.trials = 300
    if not 1 <= args.trials <= MAX_TRIALS:
        raise SpecError([Problem(file="<command line>", path="--trials", message="out of range", value=args.trials,
                                 expected=f"from 1 to {MAX_TRIALS:,} (--no-dse skips the DSE)")])
    out = args.out or Path("out") / f"case-study-{args.name}"
    _prepare(out)
    global _BAR, _STARTED
    from slmsim.commands.tables import Table, emit, n, progress
    from slmsim.core.version import __version__

    start = time.perf_counter()
    dse = args.name == "edgecim" and not args.no_dse
    with progress(f"case study {args.name}", _steps(args.name, dse)) as bar:
        _BAR, _STARTED = bar, False
        try:
            if args.name == "edgecim":
                summary = _edgecim(out, trials=0 if args.no_dse else args.trials, boundary=args.energy_boundary)
            elif args.name == "claims":
                summary = _claims(out, boundary=args.energy_boundary)
            else:
                summary = _elmoe3d(out, boundary=args.energy_boundary)
        finally:
            _BAR = None
    from slmsim.casestudies.common import write_json

    write_json(out / "summary.json", {"slmsim_version": __version__, **summary})
    cols = ("claim", "paper", "slmsim", "diff") + (("verdict",) if args.name == "claims" else ())
    t = Table(f"Case study {args.name}: {time.perf_counter() - start:.1f} s", cols)
    for c in summary["claims"]:
        diff = "n/a" if c["diff_pct"] is None else f"{c['diff_pct']:+.1f}%"
        t.add(c["claim"], n(c["paper"], 4), "-" if c["slmsim"] is None else n(c["slmsim"], 4), diff,
              *((c["verdict"],) if args.name == "claims" else ()))
    tables: list[Any] = [t]
    if summary.get("models"):  # elmoe3d: against the xPU per model, mean over batch 1-16
        pm = Table("Per model, mean over batch 1-16", ("config", "model", "speedup vs xPU", "energy gain vs xPU"))
        for r in summary["models"]:
            pm.add(r["config"], r["model"], n(r["speedup_vs_xpu"], 3), n(r["energy_gain_vs_xpu"], 3))
        tables.append(pm)
    emit([*tables, f"summary: {out / 'summary.json'}", f"report:  {out / 'report.html'}"])
    return EXIT_OK


# ----------------------------------------------------------------------------- EdgeCIM


def _edgecim(out: Path, *, trials: int, boundary: str = "board") -> dict[str, Any]:
    from slmsim.reports.casestudy import Bars, CaseStudy, TableData, write_case_study
    from slmsim.casestudies import edgecim as ec
    from slmsim.casestudies.common import hardware_with

    _say("edgecim: 12 SLMs on edgecim, orin-nano, sa8255p")
    rows = ec.run_rows(hardware_with("edgecim"), boundary=boundary)
    claims = [c.with_verdict().to_dict() for c in ec.claims(rows)]
    table = []
    for m in ec.MODELS:
        e, o, s = (ec.lookup(rows, d, m) for d in ("edgecim", "orin-nano", "sa8255p"))
        table.append({"model": m, "edgecim_tokens_per_s": e.tokens_per_s, "edgecim_tokens_per_j": e.tokens_per_j,
                      "orin_nano_tokens_per_s": o.tokens_per_s, "orin_nano_tokens_per_j": o.tokens_per_j,
                      "sa8255p_tokens_per_s": s.tokens_per_s, "sa8255p_tokens_per_j": s.tokens_per_j,
                      "speedup_vs_orin_nano": e.tokens_per_s / o.tokens_per_s,
                      "speedup_vs_sa8255p": e.tokens_per_s / s.tokens_per_s,
                      "energy_gain_vs_orin_nano": e.tokens_per_j / o.tokens_per_j,
                      "energy_gain_vs_sa8255p": e.tokens_per_j / s.tokens_per_j})
    _csv(out / "table.csv", table)
    sens = ec.sensitivity(progress=lambda v: _say(f"edgecim sensitivity: {v}"), boundary=boundary)
    _csv(out / "sensitivity.csv", sens)
    why = ec.explanations(sens)
    for c in claims:
        c["explanation"] = why.get(str(c["claim"]), "")
    dse = _edgecim_dse(out, trials) if trials > 0 else None
    means = {k: sum(r[k] for r in table) / len(table) for k in table[0] if k != "model"}
    cs = CaseStudy(
        title="Case study: EdgeCIM",
        subtitle="12 SLMs at INT4 on the edgecim preset against Orin Nano and SA8255P (docs/case-studies.md)",
        claims=claims,
        notes=[f"Means over the 12 models: edgecim {means['edgecim_tokens_per_s']:.1f} tokens/s, "
               f"{means['edgecim_tokens_per_j']:.2f} tokens/J (energy boundary: {boundary}; "
               "docs/architecture.md says what each boundary counts).",
               "The paper's macro, tile count and DRAM are not public; the preset's figures are assumptions "
               "(hw_models/presets/edgecim.yaml). The sensitivity table shows what each unknown does."]
        + ([dse["note"]] if dse else []),
        bars=[Bars("Decode tokens/s per model", {"edgecim": {r["model"]: r["edgecim_tokens_per_s"] for r in table},
                                                  "orin-nano": {r["model"]: r["orin_nano_tokens_per_s"] for r in table},
                                                  "sa8255p": {r["model"]: r["sa8255p_tokens_per_s"] for r in table}},
                   "tokens/s", claims=("edgecim_mean_decode_tokens_per_s", "edgecim_vs_orin_nano_throughput_llama-3.2-1b",
                                       "edgecim_vs_sa8255p_throughput_llama-3.2-3b")),
              Bars("Decode tokens/J per model", {"edgecim": {r["model"]: r["edgecim_tokens_per_j"] for r in table},
                                                  "orin-nano": {r["model"]: r["orin_nano_tokens_per_j"] for r in table},
                                                  "sa8255p": {r["model"]: r["sa8255p_tokens_per_j"] for r in table}},
                   "tokens/J", log_y=True, claims=("edgecim_mean_tokens_per_j",
                                                   "edgecim_vs_orin_nano_energy_efficiency_llama-3.2-1b"))],
        tables=[TableData("Per model", list(table[0]), [list(r.values()) for r in table]),
                TableData("Sensitivity to the unknown parameters", list(sens[0]), [list(r.values()) for r in sens],
                          caption="Each row changes one assumption of the preset; baselines held."),
                *([TableData("DSE around the preset", list(dse["table"][0]), [list(r.values()) for r in dse["table"]],
                             caption="See dse/report.html for the whole study.")] if dse else [])],
    )
    write_case_study(cs, out / "report.html")
    return {"case_study": "edgecim", "energy_boundary": boundary, "claims": claims, "means": means,
            "sensitivity": sens,
            **({"dse": {k: v for k, v in dse.items() if k != "table"}} if dse else {})}


def _edgecim_dse(out: Path, trials: int) -> dict[str, Any]:
    """Run the DSE of examples/space-edgecim.yaml and locate the preset against its front."""
    import json

    import pandas as pd

    from slmsim.cli import main as cli_main

    dse_dir = out / "dse"
    if dse_dir.exists():
        shutil.rmtree(dse_dir)  # our own previous output (the folder carries the case-study marker)
    space = out / "space-edgecim.yaml"
    from slmsim.resources import example

    space.write_bytes(example("space-edgecim.yaml").read_bytes())  # package data: works installed too
    _say(f"edgecim: DSE, {trials} trials (NSGA-II, analytic engine)")
    code = cli_main(["explore", str(space), "--trials", str(trials), "--out", str(dse_dir), "--no-progress"])
    if code != 0:
        raise RuntimeError(f"the DSE failed with exit code {code}")
    study = json.loads((dse_dir / "study.json").read_text())
    pareto = pd.read_csv(dse_dir / "pareto.csv")
    objs = study["objectives"]
    base = next(b for b in study["baselines"] if b["name"] == "edgecim")
    cols = [o["column"] for o in objs]
    metric_key = {o["metric"]: next(k for k in base["metrics"] if k == o["metric"] or k.startswith(o["metric"] + "_"))
                  for o in objs}  # metrics carry their unit: decode_latency -> decode_latency_s
    base_vals = [base["metrics"][metric_key[o["metric"]]] for o in objs]
    dominating = pareto
    for col, o, bv in zip(cols, objs, base_vals):
        better = pareto[col] <= bv if o["direction"] == "minimize" else pareto[col] >= bv
        dominating = dominating[better.loc[dominating.index]]
    table = []
    for _, r in pareto.sort_values(cols[0]).head(12).iterrows():
        table.append({"trial": int(r["number"]), **{o["metric"]: float(r[c]) for o, c in zip(objs, cols)}})
    note = (f"DSE ({trials} trials): {len(pareto)} Pareto designs; {len(dominating)} of them dominate the edgecim "
            "preset on every objective." if len(dominating) else
            f"DSE ({trials} trials): {len(pareto)} Pareto designs; none dominates the edgecim preset.")
    best = {}
    for col, o in zip(cols, objs):
        v = pareto[col].min() if o["direction"] == "minimize" else pareto[col].max()
        best[o["metric"]] = float(v)
    return {"trials": trials, "pareto_designs": int(len(pareto)), "designs_dominating_preset": int(len(dominating)),
            "preset": dict(zip([o["metric"] for o in objs], base_vals)), "best_on_front": best,
            "report": str(dse_dir / "report.html"), "note": note, "table": table}


# ----------------------------------------------------------------------------- ELMoE-3D


def _elmoe3d(out: Path, *, boundary: str = "board") -> dict[str, Any]:
    from slmsim.reports.casestudy import Bars, CaseStudy, TableData, write_case_study
    from slmsim.casestudies import elmoe3d as el

    _say("elmoe3d: ELMoE-3D as reported vs its xPU / HB-xPU baselines, 4 models x batch 1-16 (analytic and DES)")
    rows = el.run(el.HEADLINE, boundary=boundary)
    rows4 = el.run("4gb", baselines=False, boundary=boundary)
    des = el.run(el.HEADLINE, engine="des", baselines=False, boundary=boundary)
    claims = [c.to_dict() for c in el.claims(rows, rows4, boundary)]
    des_claims = {c.claim: c.slmsim for c in el.claims(des, boundary=boundary)}  # DES: the xPU and ELMoE-3D arms only
    cache: dict = {}
    sens = el.sensitivity(progress=lambda v: _say(f"elmoe3d sensitivity: {v}"), cache=cache, boundary=boundary)
    req = el.required(progress=lambda v: _say(f"elmoe3d: what {v} would have to be"), boundary=boundary)
    why = el.explanations(rows, sens)
    for c in claims:
        c["explanation"] = why.get(str(c["claim"]), "")
    table = [{**r.as_dict(), "des_speedup_vs_xpu": d.speedup_vs_xpu, "des_energy_gain_vs_xpu": d.energy_gain_vs_xpu}
             for r, d in zip(rows, des)]
    table4 = [r.as_dict() for r in rows4]
    models = el.per_model(rows) + el.per_model(rows4)
    _csv(out / "batches.csv", table + table4)
    _csv(out / "models.csv", models)
    _csv(out / "sensitivity.csv", sens)
    _csv(out / "required.csv", req)
    labels = [f"{r['model']} b{r['batch']}" for r in table]
    cs = CaseStudy(
        title="Case study: ELMoE-3D",
        subtitle="ELMoE-3D as reported (8 GB; 4 GB beside it) against its xPU and HB-xPU baselines, "
                 f"{', '.join(el.MODELS)}, batch 1-16",
        claims=claims,
        notes=[f"DES (sampled acceptance, routing and LFU caches): mean speedup over the xPU "
               f"{des_claims['elmoe3d_speedup_vs_xpu_mean']:.2f}x, energy gain {des_claims['elmoe3d_energy_gain_vs_xpu_mean']:.2f}x.",
               "Assumptions in examples/decoding/elmoe3d-{reported,xpu,hb-xpu}.yaml; what each unknown would have to "
               "be to reach 6.6x / 4.4x: the 'required' table and docs/case-studies.md (ELMoE-3D)."],
        bars=[Bars("Speedup and energy gain over the xPU per model and batch (8 GB)", {
            "speedup (analytic)": dict(zip(labels, (r["speedup_vs_xpu"] for r in table))),
            "speedup (DES)": dict(zip(labels, (r["des_speedup_vs_xpu"] for r in table))),
            "energy gain (analytic)": dict(zip(labels, (r["energy_gain_vs_xpu"] for r in table)))}, "x over the xPU",
            claims=["elmoe3d_speedup_vs_xpu_mean", "elmoe3d_energy_gain_vs_xpu_mean"],
            reference=[("paper: 6.6x mean speedup", 6.6), ("paper: 4.4x mean energy gain", 4.4)])],
        tables=[TableData("Per model (mean over batch 1-16)", list(models[0]), [list(r.values()) for r in models]),
                TableData("Per model and batch", list(table[0]), [list(r.values()) for r in table]),
                TableData("Sensitivity to the unknown parameters", list(sens[0]), [list(r.values()) for r in sens]),
                TableData("What each unknown alone would have to be for 6.6x / 4.4x", list(req[0]),
                          [list(r.values()) for r in req])],
    )
    write_case_study(cs, out / "report.html")
    return {"case_study": "elmoe3d", "energy_boundary": boundary, "claims": claims, "des": des_claims, "batches": table, "batches_4gb": table4,
            "models": models, "sensitivity": sens, "required": req}


# ----------------------------------------------------------------------------- the claims table


def _claims(out: Path, *, boundary: str) -> dict[str, Any]:
    from slmsim.casestudies import claims as cl
    from slmsim.casestudies import edgecim_baselines as eb
    from slmsim.casestudies.edgecim import run_rows
    from slmsim.casestudies.common import hardware_with
    from slmsim.reports.casestudy import Bars, CaseStudy, TableData, write_case_study

    claims = cl.evaluate(boundary, progress=_say)
    dicts = [c.to_dict() for c in claims]
    keep = ("claim", "paper_name", "paper", "slmsim", "unit", "diff_pct", "verdict", "boundary", "kind", "conditions",
            "assumptions", "source", "missing")
    _csv(out / "claims.csv", [{k: d[k] for k in keep} for d in dicts])
    sens = [{"claim": d["claim"], **r, "diff_pct": (100.0 * (r["slmsim"] - d["paper"]) / d["paper"]
                                                    if isinstance(r.get("slmsim"), (int, float)) else None)}
            for d in dicts for r in d["sensitivity"]]
    _csv(out / "sensitivity.csv", sens)
    base = eb.baseline_table(run_rows(hardware_with("edgecim"), boundary=boundary))
    _csv(out / "baselines.csv", base)
    counts = {v: sum(1 for c in claims if c.verdict == v) for v in ("reproduced", "explained", "not_expressible",
                                                                     "unexplained")}
    cs = CaseStudy(
        title="The claims table",
        subtitle=f"{len(claims)} quantitative claims of the seed and related papers beside slmsim's figures "
                 f"(energy boundary: {boundary})",
        claims=dicts,
        notes=[f"Verdicts (computed by rule): {counts['reproduced']} reproduced (within 10%, 15% for ratios), "
               f"{counts['explained']} explained (a physics reason and a sensitivity table over at least two "
               f"unknowns), {counts['not_expressible']} not expressible, {counts['unexplained']} unexplained.",
               f"Energy figures count the {boundary} boundary; the sensitivity rows give the other two "
               "(docs/architecture.md: chip, chip+memory, board)."],
        bars=[Bars("slmsim over paper, per claim", {"slmsim / paper": {
            str(c.claim): float(c.slmsim) / c.paper for c in claims if c.slmsim is not None}}, "slmsim / paper",
            reference=[("paper (1x)", 1.0)],
            caption="1 = the paper's figure; reproduced claims sit within 0.9-1.1 (0.85-1.15 for ratios).",
            claims=[str(c.claim) for c in claims if c.slmsim is not None])],
        tables=[TableData("Sensitivity: the unknowns that move each claim", ["claim", "unknown", "value", "slmsim",
                                                                            "diff_pct"],
                          [[r["claim"], r["unknown"], r["value"], r["slmsim"], r["diff_pct"]] for r in sens],
                          caption="Each row changes one unknown of the claim's conditions; slmsim's figure beside it."),
                TableData("EdgeCIM's baselines as stated configurations", list(base[0]),
                          [list(r.values()) for r in base],
                          caption="examples/edgecim-baselines.yaml: stack and precision of each baseline run; "
                                  "speedup and energy gain are EdgeCIM's over that run.")],
    )
    write_case_study(cs, out / "report.html")
    return {"case_study": "claims", "energy_boundary": boundary, "verdicts": counts, "claims": dicts,
            "edgecim_baselines": base}
