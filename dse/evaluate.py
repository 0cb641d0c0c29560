"""Evaluate one design on every workload of a space: metrics, feasibility, constraint values.

A design that is not a valid spec, or that cannot run a workload (the model does not fit),
is data: `Evaluation.infeasible_reason` says why, and every constraint reads as violated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slmsim.dse.candidate import build_hardware, derive_tree, system_area_mm2
from slmsim.dse.metrics import METRICS, WORKLOAD_METRICS, Metric, aggregate, metric_values, serving_metric_values
from slmsim.dse.space import ServingSpec, Space
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.core.errors import Infeasible, SpecError
from slmsim.workloads.model import ModelSpec

RUNS = "runs"  # the constraint every trial carries: 0 if every workload ran, 1 if not


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[Metric, float]  # aggregated over workloads (NaN where unknown)
    per_workload: dict[str, dict[Metric, float]]
    infeasible_reason: str  # "" when the design ran every workload and met every constraint
    runs: bool  # valid spec and every workload mapped and simulated
    violations: dict[str, float] = field(default_factory=dict)  # constraint key -> value (> 0: broken)
    wall_time_s: float = 0.0

    @property
    def feasible(self) -> bool:
        return self.runs and all(v <= 0 for v in self.violations.values())


def serving_unsupported(plan: Any, serving: ServingSpec) -> str:
    """Why this design cannot serve the workload's stream as asked ("" if it can)."""
    m = plan.mapper
    if m.prefill_device != m.decode_device and (serving.schedule == "mixed" or serving.kv_policy == "paged"):
        return (f"the design prefills on {m.prefill_device} and decodes on {m.decode_device}: mixed steps and paged KV "
                "are modelled for one device")
    if serving.schedule == "mixed" and m.stage_pipeline() is not None:
        return "mixed steps are not modelled on a stage-pipelined CIM decode"
    return ""


def serve(plan: Any, scenario: Any, serving: ServingSpec, *, seed: int) -> Any:
    """The workload's request stream through the serving DES (`simulator.serving`)."""
    from slmsim.simulator.memory_system import MemoryModel
    from slmsim.simulator.serving import KvPolicy, Schedule, ServingPolicy, run_serving
    from slmsim.workloads.requests import arrival_rng, fixed_requests, poisson_requests

    p, g = scenario.prompt_tokens, scenario.gen_tokens
    if serving.arrivals == "poisson":
        assert serving.rate is not None
        reqs = poisson_requests(serving.requests, rate_per_s=serving.rate, prompt_tokens=p, gen_tokens=g,
                                rng=arrival_rng(seed))
    else:
        reqs = fixed_requests(serving.requests, prompt_tokens=p, gen_tokens=g)
    policy = ServingPolicy(max_batch=serving.max_batch, kv_policy=KvPolicy(serving.kv_policy),
                           memory_model=MemoryModel(serving.memory_model), schedule=Schedule(serving.schedule),
                           step_tokens=serving.step_tokens or scenario.prefill_chunk_tokens,
                           concurrency=serving.concurrency if serving.arrivals == "closed" else None)
    return run_serving(plan.mapper, reqs, policy, seed=seed)


class Evaluator:
    """Holds what does not change between trials: models, scenarios, engine."""

    def __init__(self, *, space: Space, base_si: Mapping[str, Any], models: Mapping[str, ModelSpec],
                 engine: str = "analytic", seed: int = 0) -> None:
        self.space = space
        self.base_si = base_si
        self.engine = engine
        self.seed = seed
        self._runs = [(w.name, models[w.name], w.scenario(seed=seed), w.serving) for w in space.workloads]

    def evaluate_params(self, sampled: Mapping[str, Any], *, label: str = "candidate") -> Evaluation:
        start = time.perf_counter()
        tree = derive_tree(self.base_si, self.space, sampled)
        try:
            hw = build_hardware(tree, label=label)
        except SpecError as exc:
            reason = "invalid design: " + "; ".join(f"{p.path}: {p.message}" for p in exc.problems)
            return self._failed(reason, area=math.nan, start=start)
        return self.evaluate_spec(hw.spec, start=start)

    def evaluate_spec(self, spec: HardwareSpec, *, start: float | None = None, engine: str | None = None,
                      need_objectives: bool = True) -> Evaluation:
        """Every workload on `spec`. A baseline (`need_objectives=False`) may lack a figure
        (a GPU preset without an area) and still count as running."""
        start = time.perf_counter() if start is None else start
        area, _ = system_area_mm2(spec)
        area_value = math.nan if area is None else area
        per: dict[str, dict[Metric, float]] = {}
        reasons: list[str] = []
        for name, model, scenario, serving in self._runs:
            plan = make_plan(spec, model, scenario)
            if isinstance(plan, Infeasible):
                reasons.append(f"{name}: {plan.render().removeprefix('infeasible: ')}")
                continue
            if serving is not None:
                why = serving_unsupported(plan, serving)
                if why:
                    reasons.append(f"{name}: {why}")
                    continue
                per[name] = serving_metric_values(serve(plan, scenario, serving, seed=self.seed), serving,
                                                  self.space.energy_boundary)
                continue
            per[name] = metric_values(run(plan, engine=engine or self.engine, seed=self.seed),
                                       self.space.energy_boundary)
        if reasons:
            return self._failed("; ".join(reasons), area=area_value, start=start, per_workload=per)
        agg = aggregate(list(per.values()), self.space.aggregate)
        agg[Metric.AREA] = area_value
        undefined = [o.metric.value for o in self.space.objectives if math.isnan(agg[o.metric])]
        if undefined and need_objectives:
            return self._failed(f"metric {', '.join(undefined)} undefined for this design", area=area_value,
                                start=start, per_workload=per)
        violations = {RUNS: 0.0}
        broken: list[str] = []
        for c in self.space.constraints:
            v = self._constraint_value(c, agg, per)
            violations[c.key] = v
            if v > 0:
                broken.append(self._broken_text(c, agg, per))
        return Evaluation(metrics=agg, per_workload=per, infeasible_reason="; ".join(broken), runs=True,
                          violations=violations, wall_time_s=time.perf_counter() - start)

    def _constraint_value(self, c: Any, agg: Mapping[Metric, float], per: Mapping[str, Mapping[Metric, float]]) -> float:
        if c.metric is Metric.AREA:
            return c.violation(agg[Metric.AREA])
        # a constraint holds on every workload: its worst one decides
        return max(c.violation(w[c.metric]) for w in per.values())

    def _broken_text(self, c: Any, agg: Mapping[Metric, float], per: Mapping[str, Mapping[Metric, float]]) -> str:
        unit = METRICS[c.metric].unit
        if c.metric is Metric.AREA:
            return f"violates {c.describe()} ({agg[Metric.AREA]:.4g} {unit})"
        worst_name, worst = max(per.items(), key=lambda kv: c.violation(kv[1][c.metric]))
        return f"violates {c.describe()} ({worst_name}: {worst[c.metric]:.4g} {unit})"

    def _failed(self, reason: str, *, area: float, start: float,
                per_workload: dict[str, dict[Metric, float]] | None = None) -> Evaluation:
        metrics = {m: math.nan for m in WORKLOAD_METRICS}
        metrics[Metric.AREA] = area
        violations = {RUNS: 1.0}
        for c in self.space.constraints:
            violations[c.key] = c.violation(area) if c.metric is Metric.AREA else 1.0
        return Evaluation(metrics=metrics, per_workload=per_workload or {}, infeasible_reason=reason, runs=False,
                          violations=violations, wall_time_s=time.perf_counter() - start)
