"""What a study produced, as tables and a JSON-able summary (the CLI writes them).

Contract (docs/dse.md, "Outputs"; reports/ relies on it):
- trials table: number, state, feasible, infeasible_reason, wall_time_s, datetime_start,
  duplicate_of (the trial that evaluated the same design first; empty if none),
  `param:<path>` per parameter, `obj:<metric>` per objective, `metric:<column>` for every
  metric, `wl:<workload>:<column>` per workload and metric;
- the Pareto table: the same columns, feasible Pareto-optimal distinct designs only (a
  repeat of a design is left out: its first evaluation stands for it);
- `study_summary()`: the dict written to study.json.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from slmsim.dse.evaluate import Evaluation
from slmsim.dse.metrics import METRICS, WORKLOAD_METRICS, Metric
from slmsim.dse.pareto import contributions, hypervolume_history, pareto_mask, to_costs
from slmsim.dse.storage import StorageSpec
from slmsim.dse.study import DUPLICATE_ATTR, StudyConfig, metrics_attr, trial_feasible, trial_runs

FIXED_COLUMNS = ("number", "state", "feasible", "infeasible_reason", "wall_time_s", "datetime_start", "duplicate_of")


def columns(config: StudyConfig) -> list[str]:
    space = config.space
    cols = list(FIXED_COLUMNS)
    cols += [p.column for p in space.params]
    cols += [o.column for o in space.objectives]
    cols += [f"metric:{METRICS[m].column}" for m in Metric]
    cols += [f"wl:{w.name}:{METRICS[m].column}" for w in space.workloads for m in WORKLOAD_METRICS]
    return cols


def _reason(t: FrozenTrial, retried_as: dict[int, int]) -> str:
    reason = t.user_attrs.get("infeasible_reason")
    if t.state == TrialState.FAIL and t.number in retried_as and not reason:
        return f"evaluation interrupted (its worker died); retried as trial {retried_as[t.number]}"
    if t.state == TrialState.FAIL and not reason:
        return "evaluation interrupted (its worker died or was stopped)"
    if t.state == TrialState.RUNNING:
        return ""
    return str(reason or "")


def trials_table(trials: Sequence[FrozenTrial], config: StudyConfig) -> pd.DataFrame:
    space = config.space
    retried_as: dict[int, int] = {}
    for t in trials:
        history = t.system_attrs.get("retry_history")
        if history:
            retried_as[int(history[-1])] = t.number
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        metrics = t.user_attrs.get("metrics") or {}
        runs = trial_runs(t)
        dup = t.user_attrs.get(DUPLICATE_ATTR)
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "feasible": trial_feasible(t),
            "infeasible_reason": _reason(t, retried_as),
            "wall_time_s": t.duration.total_seconds() if t.duration is not None else math.nan,
            "datetime_start": t.datetime_start.isoformat() if t.datetime_start else "",
            "duplicate_of": int(dup) if dup is not None else None,
        }
        for p in space.params:
            row[p.column] = t.params.get(p.path)
        for j, o in enumerate(space.objectives):
            row[o.column] = float(t.values[j]) if runs and t.values is not None else math.nan
        for m in Metric:
            key = f"metric:{METRICS[m].column}"
            row[key] = _f(metrics.get(key))
        for w in space.workloads:
            for m in WORKLOAD_METRICS:
                key = f"wl:{w.name}:{METRICS[m].column}"
                row[key] = _f(metrics.get(key))
        rows.append(row)
    df = pd.DataFrame(rows, columns=columns(config))
    df["number"] = df["number"].astype("int64")
    df["feasible"] = df["feasible"].astype(bool)
    df["infeasible_reason"] = df["infeasible_reason"].astype(str)
    df["duplicate_of"] = df["duplicate_of"].astype("Int64")
    return df


def distinct(df: pd.DataFrame) -> pd.DataFrame:
    """Completed trials that evaluated a design (repeats, `duplicate_of` set, left out)."""
    return df[(df["state"] == "COMPLETE") & df["duplicate_of"].isna()]


def _f(x: Any) -> float:
    return math.nan if x is None else float(x)


def pareto_table(df: pd.DataFrame, config: StudyConfig) -> pd.DataFrame:
    """The feasible Pareto-optimal distinct designs (ties between different designs kept)."""
    feas = df[df["feasible"] & df["duplicate_of"].isna()]
    if feas.empty:
        return feas.copy()
    cols = [o.column for o in config.space.objectives]
    costs = to_costs(feas[cols].to_numpy(dtype=float), config.space.directions)
    return feas[pareto_mask(costs)].reset_index(drop=True)


def hv_history(df: pd.DataFrame, config: StudyConfig) -> list[list[float]]:
    """[[trial number, hypervolume of the feasible front up to it]] for every completed trial."""
    done = df[df["state"] == "COMPLETE"].sort_values("number")
    if done.empty:
        return []
    cols = [o.column for o in config.space.objectives]
    values = done[cols].to_numpy(dtype=float)
    costs = config.normalised_costs(values)
    costs[~done["feasible"].to_numpy()] = np.inf  # infeasible trials add nothing
    hv = hypervolume_history(costs, [1.0] * len(cols))
    return [[int(n), float(h)] for n, h in zip(done["number"], hv, strict=True)]


def best_for_rescreen(pareto: pd.DataFrame, config: StudyConfig, k: int) -> pd.DataFrame:
    """The k Pareto designs that add most hypervolume (all of them if the front is small)."""
    if len(pareto) <= k:
        return pareto
    cols = [o.column for o in config.space.objectives]
    costs = config.normalised_costs(pareto[cols].to_numpy(dtype=float))
    contrib = contributions(costs, [1.0] * len(cols))
    order = np.argsort(-contrib, kind="stable")[:k]
    return pareto.iloc[sorted(order)].reset_index(drop=True)


def evaluation_row(ev: Evaluation, config: StudyConfig) -> dict[str, Any]:
    row: dict[str, Any] = {"feasible": ev.feasible, "infeasible_reason": ev.infeasible_reason}
    attrs = metrics_attr(ev)
    for o in config.space.objectives:
        row[o.column] = ev.metrics[o.metric] if ev.runs else math.nan
    for key, value in attrs.items():
        if key.startswith(("metric:", "wl:")):
            row[key] = _f(value)
    row["wall_time_s"] = ev.wall_time_s
    return row


def baseline_summary(name: str, ev: Evaluation) -> dict[str, Any]:
    return {
        "name": name,
        "metrics": {METRICS[m].column: _json_num(ev.metrics.get(m)) for m in Metric},
        "per_workload": {w: {METRICS[m].column: _json_num(v.get(m)) for m in WORKLOAD_METRICS}
                         for w, v in ev.per_workload.items()},
        "infeasible_reason": None if ev.runs else ev.infeasible_reason,
    }


def _json_num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def study_summary(*, study: optuna.Study, config: StudyConfig, storage: StorageSpec, sampler: str, n_trials: int,
                  df: pd.DataFrame, baselines: list[dict[str, Any]],
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    space = config.space
    out = {
        "study_name": study.study_name,
        "storage": storage.display,  # the password, if any, is never written
        "storage_kind": storage.kind,
        "sampler": sampler,
        "engine": config.engine,
        "seed": config.seed,
        "n_trials_requested": n_trials,
        "n_trials_complete": int((df["state"] == "COMPLETE").sum()),
        "n_trials_feasible": int(df["feasible"].sum()),
        "n_designs": int(len(distinct(df))),
        "n_designs_feasible": int(distinct(df)["feasible"].sum()),
        "n_repeats": int(df["duplicate_of"].notna().sum()),
        "constraint_names": constraint_names(config),
        "objectives": [o.to_dict() for o in space.objectives],
        "params": [_param_summary(p) for p in space.params],
        "workloads": [w.to_dict() for w in space.workloads],
        "aggregate": space.aggregate.value,
        "energy_boundary": space.energy_boundary.value,
        "constraints": [c.to_dict() for c in space.constraints],
        "baselines": baselines,
        "hypervolume_reference": list(config.reference),
        "hypervolume_normalisation": "each objective as cost / reference cost (a maximised metric's cost is its "
                                     "reciprocal): reference point 1, ideal 0, hypervolume in [0, 1]",
        "hypervolume_history": hv_history(df, config),
        "space_file": space.file,
        "description": space.description,
        "base": space.base,
        "fingerprint": config.fingerprint,
    }
    if extra:
        out.update(extra)
    return out


def constraint_names(config: StudyConfig) -> list[str]:
    """What each value of a trial's `constraints` system attribute is (docs/dse.md)."""
    from slmsim.dse.study import constraint_keys

    return constraint_keys(config.space)


def _param_summary(p: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"path": p.path, "column": p.column, "kind": p.kind, "unit": p.unit}
    if p.kind == "categorical":
        d["choices"] = list(p.labels)
    else:
        d.update(low=p.low, high=p.high, step=p.step, log=p.log)
    return d
