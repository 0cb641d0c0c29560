"""The decision a study report opens with: which designs, why, at what cost.

Pure functions of a `StudyData`: the recommended design (the knee of the front), the best
design for each objective, each with its parameters (flagged when at a bound of the searched
range), its costs and its ratios to the base design and every baseline. Ratios across
workloads are geometric means of the per-workload ratios (an arithmetic mean of latencies
would let the largest model decide); the per-workload ratios are kept for hovers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from slmsim.reports.study_data import Baseline, Param, StudyData, baseline_workload_value, workload_value

# a value within this fraction of the searched span (log span for log ranges) of a bound "sits at" it
BOUND_TOLERANCE = 0.02


def geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not vals:
        return None
    return float(math.exp(sum(math.log(v) for v in vals) / len(vals)))


@dataclass(frozen=True)
class Ratio:
    """A design against one reference device over the workloads both run."""

    baseline: str
    speedup: float | None  # geomean of baseline decode latency / design decode latency
    tokens_per_j: float | None  # geomean of design tokens/J / baseline tokens/J
    per_workload: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # workloads the baseline cannot run
    aggregate_only: bool = False  # no per-workload figures: ratio of the aggregates

    def hover(self) -> str:
        from slmsim.core.display import fmt_ratio

        lines = [f"{w}: {fmt_ratio(s)} speed, {fmt_ratio(e)} tokens/J" for w, (s, e) in self.per_workload.items()]
        if self.skipped:
            lines.append(f"{self.baseline} cannot run: {', '.join(self.skipped)}")
        if self.aggregate_only:
            lines.append("ratio of the study's aggregates (no per-workload figures)")
        return "\n".join(lines)


# a decision card falls back to 1 / the reciprocal metric when a workload recorded only that
_RECIPROCAL = {"tokens_per_j": "energy_per_token_j", "decode_latency_s": "tokens_per_s"}


def _wl(row: pd.Series, w: str, m: str) -> float | None:
    return workload_value(row, w, m, reciprocal=_RECIPROCAL)


def _base_wl(b: Baseline, w: str, m: str) -> float | None:
    v = baseline_workload_value(b, w, m, reciprocal=_RECIPROCAL)
    return v if v is not None and math.isfinite(v) else None


def _agg(row: pd.Series, data: StudyData, m: str) -> float | None:
    col = data.metric_column(m)
    if col is not None and pd.notna(row.get(col)):
        return float(row[col])
    return None


def ratio_to(data: StudyData, row: pd.Series, b: Baseline) -> Ratio:
    per: dict[str, tuple[float | None, float | None]] = {}
    skipped = []
    for w in data.workload_names:
        if b.per_workload and b.per_workload.get(w) is None and w in b.per_workload:
            skipped.append(w)
            continue
        dl, bl = _wl(row, w, "decode_latency_s"), _base_wl(b, w, "decode_latency_s")
        de, be = _wl(row, w, "tokens_per_j"), _base_wl(b, w, "tokens_per_j")
        s = bl / dl if dl and bl and dl > 0 else None
        e = de / be if de and be and be > 0 else None
        if s is not None or e is not None:
            per[w] = (s, e)
    if per:
        return Ratio(b.name, geomean([s for s, _ in per.values() if s is not None]),
                     geomean([e for _, e in per.values() if e is not None]), per, tuple(skipped))
    # no per-workload figures (storage mode, older studies): the aggregates
    dl, bl = _agg(row, data, "decode_latency_s"), b.metrics.get("decode_latency_s")
    de, be = _agg(row, data, "tokens_per_j"), b.metrics.get("tokens_per_j")
    return Ratio(b.name, bl / dl if dl and bl else None, de / be if de and be else None, {}, tuple(skipped),
                 aggregate_only=True)


@dataclass(frozen=True)
class ParamValue:
    path: str
    text: str
    flag: str = ""  # e.g. "at the upper bound of the range: widen it"


def _bound_flag(p: Param, value: Any, data: StudyData) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if p.kind == "categorical":
        nums = []
        for c in p.choices:
            try:
                nums.append(float(c))
            except (TypeError, ValueError):
                return ""  # unordered choices have no bound
        if len(nums) < 3:
            return ""
        try:
            v = float(value)
        except (TypeError, ValueError):
            return ""
        if v == max(nums):
            return "largest choice: add larger ones"
        if v == min(nums):
            return "smallest choice: add smaller ones"
        return ""
    lo, hi = p.low, p.high
    if lo is None or hi is None:  # the range is not in study.json: what was sampled
        s = pd.to_numeric(data.trials[p.column], errors="coerce").dropna()
        if s.empty:
            return ""
        lo, hi = float(s.min()), float(s.max())
    v = float(value)
    if hi <= lo:
        return ""
    use_log = p.log and lo > 0 and v > 0
    f = math.log10 if use_log else (lambda x: x)
    span = f(hi) - f(lo)
    if (f(hi) - f(v)) <= BOUND_TOLERANCE * span:
        return "at the range's upper bound: widen it"
    if (f(v) - f(lo)) <= BOUND_TOLERANCE * span:
        return "at the range's lower bound: widen it"
    return ""


def param_values(data: StudyData, row: pd.Series) -> list[ParamValue]:
    from slmsim.reports.study_figures import fmt_param

    out = []
    for p in data.params:
        v = row.get(p.column)
        # only flag a bound when the front pushes against it (the range was given, not inferred)
        flag = _bound_flag(p, v, data) if (p.low is not None or p.kind == "categorical") else ""
        out.append(ParamValue(p.path, fmt_param(p, v), flag))
    return out


@dataclass(frozen=True)
class Pick:
    """One design on the decision card."""

    number: int  # the trial that stands for the design
    roles: tuple[str, ...]  # "recommended (knee)", "best decode latency", ...
    n_trials: int
    row: pd.Series
    params: list[ParamValue]
    ratios: list[Ratio]  # base design first, then the other baselines


def base_baseline(data: StudyData) -> Baseline | None:
    """The baseline that is the space's base design (study.json `base`), if evaluated."""
    base = data.meta.get("base")
    if not base:
        return None
    return next((b for b in data.baselines if b.name == str(base)), None)


def ordered_baselines(data: StudyData) -> list[Baseline]:
    base = base_baseline(data)
    return ([base] if base else []) + [b for b in data.baselines if b is not base]


def picks(data: StudyData) -> list[Pick]:
    """The knee first, then the best design per objective (a design holding several roles is
    listed once)."""
    from slmsim.reports.study_figures import knee_number

    front = data.front
    if front.empty:
        return []
    roles: dict[int, list[str]] = {}
    knee = knee_number(data)
    if knee is not None:
        roles.setdefault(knee, []).append("recommended: the knee of the front")
    for o in data.objectives:
        best = front.sort_values([o.column, "number"], ascending=[o.minimize, True]).iloc[0]
        roles.setdefault(int(best["number"]), []).append(f"best {o.label}")
    bases = ordered_baselines(data)
    out = []
    for n, rs in roles.items():
        row = data.trials[data.trials["number"] == n].iloc[0]
        out.append(Pick(number=n, roles=tuple(rs), n_trials=int(row.get("n_trials", 1)), row=row,
                        params=param_values(data, row), ratios=[ratio_to(data, row, b) for b in bases]))
    return out


def memory_used_bytes(data: StudyData, row: pd.Series) -> float | None:
    """Memory the design uses, if the study recorded it (a `metric:*memory*_bytes` column)."""
    for c in data.trials.columns:
        if c.startswith("metric:") and "memory" in c and c.endswith("_bytes") and pd.notna(row.get(c)):
            return float(row[c])
    return None


def sensitivity_from_trials(data: StudyData, number: int) -> dict[str, dict[str, float]]:
    """A cheap one-at-a-time sensitivity from the trials themselves: for each parameter, the
    trials that differ from design `number` in that parameter only; the spread of each
    objective over them relative to the design (max/min ratio). Empty when no trial differs
    in one parameter only (continuous parameters rarely repeat)."""
    row = data.trials[data.trials["number"] == number].iloc[0]
    ok = data.ok
    out: dict[str, dict[str, float]] = {}
    from slmsim.reports.study_data import canonical_value

    keys = {p.column: canonical_value(row.get(p.column)) for p in data.params}
    canon = {p.column: ok[p.column].map(canonical_value) for p in data.params}
    for p in data.params:
        same = np.ones(len(ok), dtype=bool)
        for q in data.params:
            if q.column != p.column:
                same &= (canon[q.column] == keys[q.column]).to_numpy()
        others = ok[same]
        if len(others) < 2:
            continue
        out[p.path] = {}
        for o in data.objectives:
            v = others[o.column].to_numpy(float)
            v = v[np.isfinite(v) & (v > 0)]
            if len(v) >= 2:
                out[p.path][o.label] = float(v.max() / v.min())
    return out
