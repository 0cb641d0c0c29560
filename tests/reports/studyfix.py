"""Realistic study directories for report tests, made with Optuna directly.

Until `slmsim explore` lands, this writes exactly the output contract of a study DIR
(`trials.parquet`, `trials.csv`, `pareto.csv`, `study.json`; see docs/reports.md) from a
journal-file Optuna study of a toy CIM design space: a streaming roofline per workload
(weights over DRAM bandwidth vs macro compute), energy from bits moved and static power, an
area model. Baselines are real slmsim runs of preset devices. Constraints: the area budget
and "every model fits DRAM" (infeasible trials keep their reason); two trials fail outright.

Run as a script to make one by hand: `python tests/reports/studyfix.py OUT_DIR --trials 500`.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

WORKLOADS = (("qwen3-0.6b", 0.60e9, 28), ("llama-3.2-1b", 1.24e9, 16), ("qwen3-4b", 4.02e9, 36))
METRICS = {"decode_latency_s": "s", "energy_per_token_j": "J", "area_mm2": "mm2", "ttft_s": "s",
           "tokens_per_s": "tokens/s", "tokens_per_j": "tokens/J", "power_w": "W"}
AREA_BUDGET_MM2 = 150.0
DRAM = {  # energy per bit, PHY area per GB/s, background power
    "lpddr5": (4.0e-12, 0.055, 0.35),
    "lpddr5x": (3.4e-12, 0.05, 0.30),
    "hybrid_bonded_dram": (0.9e-12, 0.12, 0.45),
}
CAPACITY = {"2 GiB": 2 * 2**30, "4 GiB": 4 * 2**30, "8 GiB": 8 * 2**30}
PARAMS = (
    {"path": "devices.cim.macro_count", "kind": "int", "unit": "", "low": 32, "high": 1024, "log": True},
    {"path": "devices.cim.macro.rows", "kind": "categorical", "unit": "", "choices": [64, 128, 256, 512]},
    {"path": "devices.cim.macro.clock", "kind": "float", "unit": "Hz", "low": 2e8, "high": 1e9, "log": False},
    {"path": "memories.dram.bandwidth", "kind": "float", "unit": "B/s", "low": 5e10, "high": 4e11, "log": True},
    {"path": "memories.dram.capacity", "kind": "categorical", "unit": "", "choices": list(CAPACITY)},
    {"path": "memories.dram.kind", "kind": "categorical", "unit": "", "choices": list(DRAM)},
)
BASELINE_PRESETS = ("orin-nano", "sa8255p", "edgecim")


def evaluate(p: dict[str, Any]) -> tuple[dict[str, float], dict[str, dict[str, float]], str]:
    """Toy model of one candidate: (aggregate metrics, per-workload metrics, infeasible reason)."""
    macros, rows, clock = p["devices.cim.macro_count"], p["devices.cim.macro.rows"], p["devices.cim.macro.clock"]
    bw, cap = p["memories.dram.bandwidth"], CAPACITY[p["memories.dram.capacity"]]
    e_bit, phy_mm2_per_gbs, bg_w = DRAM[p["memories.dram.kind"]]
    peak_ops = 2.0 * macros * rows * 128 * clock / 8  # 8 cycles per MVM at 8-bit activations
    area = macros * rows * 128 * 2.4e-6 + 4.0 + phy_mm2_per_gbs * bw / 1e9
    # faster interfaces and clocks cost energy: the trade-off the front is about
    e_bit *= (bw / 1e11) ** 0.6
    e_op = 0.08e-12 * (clock / 5e8) ** 1.5
    static_w = 0.25 + bg_w + macros * rows * 4e-6 + 1.5e-11 * bw
    per_wl: dict[str, dict[str, float]] = {}
    reasons = []
    for name, params, layers in WORKLOADS:
        wbytes = params * 0.5 * 1.06
        if wbytes * 1.08 > cap:
            reasons.append(f"model {name} does not fit memory tier 'dram': needs {wbytes * 1.08 / 1e9:.2f} GB, "
                           f"has {cap / 1e9:.2f} GB")
            continue
        t_mem = wbytes / (0.8 * bw)
        t_cmp = 2 * params / peak_ops
        lat = max(t_mem, t_cmp) + layers * 12e-6
        energy = wbytes * 8 * e_bit + 2 * params * e_op + static_w * lat
        ttft = max(128 * 2 * params / peak_ops, t_mem) + layers * 12e-6
        per_wl[name] = {"decode_latency_s": lat, "energy_per_token_j": energy, "area_mm2": area, "ttft_s": ttft,
                        "tokens_per_s": 1 / lat, "tokens_per_j": 1 / energy, "power_w": energy / lat}
    if area > AREA_BUDGET_MM2:
        reasons.append(f"area {area:.1f} mm2 > {AREA_BUDGET_MM2:.0f} mm2 (constraint area_mm2 <= {AREA_BUDGET_MM2:.0f})")
    agg = {m: float(np.mean([w[m] for w in per_wl.values()])) if per_wl else math.nan for m in METRICS}
    agg["area_mm2"] = area
    return agg, per_wl, "; ".join(reasons)


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in PARAMS:
        if spec["kind"] == "int":
            out[spec["path"]] = trial.suggest_int(spec["path"], spec["low"], spec["high"], log=spec["log"])
        elif spec["kind"] == "float":
            out[spec["path"]] = trial.suggest_float(spec["path"], spec["low"], spec["high"], log=spec["log"])
        else:
            out[spec["path"]] = trial.suggest_categorical(spec["path"], spec["choices"])
    return out


def real_baselines() -> list[dict[str, Any]]:
    """Preset devices simulated with slmsim itself (analytic engine) on the same workloads."""
    from slmsim.hw_models.load import load_hardware
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.engines import run
    from slmsim.core.errors import Infeasible
    from slmsim.workloads.load import load_model
    from slmsim.workloads.scenario import Scenario

    scenario = Scenario.model_validate({"prompt_tokens": 128, "gen_tokens": 128, "batch": 1,
                                        "precision": {"weight_bits": 4, "activation_bits": 8, "kv_bits": 16}})
    out = []
    for preset in BASELINE_PRESETS:
        hw = load_hardware(preset)
        per: dict[str, dict[str, float] | None] = {}
        reasons = []
        for name, _, _ in WORKLOADS:
            plan = make_plan(hw.spec, load_model(name), scenario)
            if isinstance(plan, Infeasible):
                per[name] = None
                reasons.append(plan.reason)
                continue
            r = run(plan).to_dict()
            per[name] = {"decode_latency_s": r["tpot_s"], "energy_per_token_j": 1 / r["decode_tokens_per_j"],
                         "ttft_s": r["ttft_s"], "tokens_per_s": r["decode_tokens_per_s"],
                         "tokens_per_j": r["tokens_per_j"], "power_w": r["average_power_w"]}
        ok = [v for v in per.values() if v]
        metrics = {m: float(np.mean([v[m] for v in ok])) for m in ok[0]} if ok else {}
        out.append({"name": preset, "metrics": metrics, "per_workload": per,
                    "infeasible_reason": "; ".join(reasons) or None})
    return out


def make_study_dir(out: Path, *, n_trials: int = 60, objectives: tuple[str, ...] = ("decode_latency_s",
                   "energy_per_token_j"), seed: int = 0, study_name: str | None = None,
                   baselines: list[dict[str, Any]] | None = None, directions: tuple[str, ...] | None = None) -> Path:
    """Run a toy study into `out` and write the study DIR contract; returns `out`."""
    directions = directions or ("minimize",) * len(objectives)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study_name = study_name or f"toy-cim-{len(objectives)}obj"
    journal = out / "optuna-journal.log"
    # run in memory (fast: the journal fsyncs every write), copy into the journal file at the end
    storage = optuna.storages.InMemoryStorage()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=40)
    study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                directions=list(directions))
    study.set_metric_names(list(objectives))
    rows = []
    fail_at = {n_trials // 3, (2 * n_trials) // 3} if n_trials >= 6 else set()
    for i in range(n_trials):
        trial = study.ask()
        params = _suggest(trial)
        start = pd.Timestamp("2025-01-01T00:00:00") + pd.Timedelta(seconds=0.05 * i)
        row: dict[str, Any] = {"number": trial.number, "datetime_start": start.isoformat(),
                               "wall_time_s": 0.004 + 0.001 * (i % 5)}
        row.update({f"param:{k}": v for k, v in params.items()})
        if i in fail_at:  # e.g. a worker killed mid-trial
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            row.update(state="FAIL", feasible=False, infeasible_reason="")
            rows.append(row)
            continue
        agg, per_wl, reason = evaluate(params)
        fits = len(per_wl) == len(WORKLOADS)
        # optuna needs numbers even for a design that cannot run; its constraint rules it out
        values = [agg[o] if fits else (1e3 if d == "minimize" else 0.0) for o, d in zip(objectives, directions)]
        constraints = [agg["area_mm2"] - AREA_BUDGET_MM2, 0.0 if fits else 1.0]
        for key, c in zip(("area", "fits"), constraints):
            trial.set_constraint(key, c)
        trial.set_user_attr("metrics", {m: (None if math.isnan(v) else v) for m, v in agg.items()})
        study.tell(trial, values)
        row.update(state="COMPLETE", feasible=not reason, infeasible_reason=reason)
        row.update({f"obj:{o}": (agg[o] if fits else math.nan) for o in objectives})
        row.update({f"metric:{m}": v for m, v in agg.items()})
        for name, _, _ in WORKLOADS:
            for m in METRICS:
                row[f"wl:{name}:{m}"] = per_wl.get(name, {}).get(m, math.nan)
        rows.append(row)
    optuna.copy_study(from_study_name=study_name, from_storage=storage,
                      to_storage=JournalStorage(JournalFileBackend(str(journal))))
    df = pd.DataFrame(rows)
    df["feasible"] = df["feasible"].astype(bool)
    df.to_parquet(out / "trials.parquet", index=False)
    df.to_csv(out / "trials.csv", index=False)

    pareto_numbers = sorted(t.number for t in study.best_trials)  # Optuna's own (constraint-aware) front
    df[df["number"].isin(pareto_numbers)].to_csv(out / "pareto.csv", index=False)

    obj_cols = [f"obj:{o}" for o in objectives]
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    costs_all = df[obj_cols].to_numpy(dtype=float) * sign  # hypervolume on costs (maximised negated)
    ref = (np.nanmax(costs_all[((df["state"] == "COMPLETE") & df["feasible"]).to_numpy()], axis=0) +
           0.1 * np.abs(np.nanmax(costs_all, axis=0))).tolist()
    from optuna._hypervolume import compute_hypervolume

    history = []
    front = np.empty((0, len(objectives)))
    ref_arr = np.array(ref)
    hv = 0.0
    for _, r in df.sort_values("number").iterrows():
        if r["state"] == "COMPLETE" and r["feasible"]:
            p = r[obj_cols].to_numpy(dtype=float) * sign
            dominated = np.any(np.all(front <= p, axis=1)) if len(front) else False
            if not dominated and np.all(p < ref_arr):
                front = np.vstack([front[~np.all(p <= front, axis=1)], p])
                hv = float(compute_hypervolume(front, ref_arr, assume_pareto=True))
        history.append([int(r["number"]), hv])
    meta = {
        "study_name": study_name,
        "storage": f"journal:{journal.name}",
        "sampler": "nsga2", "engine": "analytic", "seed": seed, "n_trials_requested": n_trials,
        "objectives": [{"metric": o, "direction": d, "column": f"obj:{o}", "unit": METRICS[o]}
                       for o, d in zip(objectives, directions)],
        "params": [{"path": s["path"], "column": f"param:{s['path']}", "kind": s["kind"], "unit": s["unit"],
                    **({"choices": s["choices"]} if "choices" in s else {})} for s in PARAMS],
        "workloads": [{"name": n, "model": n, "prompt": 128, "gen": 128, "batch": 1, "weight_bits": 4,
                       "act_bits": 8, "kv_bits": 16} for n, _, _ in WORKLOADS],
        "aggregate": "mean",
        "constraints": [f"area_mm2 <= {AREA_BUDGET_MM2:.0f}", "model must fit"],
        "baselines": baselines if baselines is not None else real_baselines(),
        "hypervolume_reference": ref,
        "hypervolume_history": history,
    }
    (out / "study.json").write_text(json.dumps(meta, indent=2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--objectives", type=int, choices=(2, 3), default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    objs = ("decode_latency_s", "energy_per_token_j", "area_mm2")[: a.objectives]
    print(make_study_dir(a.out, n_trials=a.trials, objectives=objs, seed=a.seed))


if __name__ == "__main__":
    main()
