"""Parameter importances of a study, computed once when its outputs are written and
stored in study.json (`importances`), so the report only reads them (issue 18: the report
of a 1,000-trial study recomputed them in 3.9 s).

PED-ANOVA (Optuna's `PedAnovaImportanceEvaluator`, no scikit-learn): how differently a
parameter is distributed among the best trials than among all. Over the feasible distinct
designs; above `MAX_TRIALS` of them, a seeded uniform sample of that many (PED-ANOVA's
quantile estimates barely move with more, and its cost grows with the trials).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import optuna
import pandas as pd

from slmsim.dse.study import StudyConfig, distributions

MAX_TRIALS = 400  # sample size above which importances are computed on a sample


def compute_importances(df: pd.DataFrame, config: StudyConfig, *, seed: int = 0) -> dict[str, Any]:
    """{"method", "n_trials", "sampled", "seconds", "by_objective": {metric: {path: value}}, "notes"}."""
    started = time.perf_counter()
    ok = df[df["feasible"] & df["duplicate_of"].isna()]
    notes: list[str] = []
    out: dict[str, Any] = {"method": "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)",
                           "n_trials": int(len(ok)), "sampled": False, "by_objective": {}, "notes": notes}
    if len(ok) < 4:
        notes.append(f"Parameter importances need at least 4 feasible designs; this study has {len(ok)}.")
        return out
    if len(ok) > MAX_TRIALS:
        ok = ok.sample(n=MAX_TRIALS, random_state=np.random.RandomState(seed))
        out.update(sampled=True, n_trials=MAX_TRIALS)
        notes.append(f"Computed on a uniform sample of {MAX_TRIALS} of the feasible designs.")
    dists = distributions(config.space)
    varying = [p for p in config.space.params if ok[p.column].nunique() > 1]
    if not varying:
        notes.append("No parameter varies among the feasible designs: nothing to rank.")
        return out
    from optuna.importance import PedAnovaImportanceEvaluator

    for o in config.space.objectives:
        trials = []
        for _, r in ok.iterrows():
            params = {p.path: _native(r[p.column]) for p in varying}
            trials.append(optuna.trial.create_trial(params=params, distributions={p.path: dists[p.path] for p in varying},
                                                    value=float(r[o.column])))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = optuna.create_study(direction=o.direction.value)
                study.add_trials(trials)
                imp = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
            out["by_objective"][o.metric.value] = {k: float(v) for k, v in imp.items()}
        except Exception as exc:  # noqa: BLE001 - a failing estimator is a note, not a crash
            notes.append(f"Importances for {o.metric.value} could not be computed: {type(exc).__name__}: {exc}")
    constant = [p.path for p in config.space.params if p not in varying]
    if constant:
        notes.append(f"Constant among the feasible designs (not ranked): {', '.join(constant)}.")
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def _native(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x
