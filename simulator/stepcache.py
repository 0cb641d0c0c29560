"""Step costs from op-level simulation, cached by (step shape, context bucket).

A step shape (one `MappedStep`: phase, batch, width, experts touched, cache hit rate) is
simulated at op level once per context bucket it meets: total contexts `k x W`, W =
`bucket_tokens` x sequences in the step. A step at context c in bucket k takes the linear
interpolation of its two bucket ends. Every op time is affine in context between the points
where an op changes its bottleneck, so the interpolation is exact wherever no op changes
bottleneck inside a bucket and otherwise off by less than the curvature across one bucket
(a test bounds it against direct simulation).

Extensive figures (time per op class, bytes, activations, DRAM energy) interpolate the same
way, so the executor tallies only (runs, sum of interpolation weights) per bucket and
evaluates them once at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slmsim.mapping.cost import MappedStep
from slmsim.simulator.memory_system import MemorySystem
from slmsim.simulator.oplevel import StepRun, simulate_step


@dataclass
class _Shape:
    step: MappedStep
    width: float  # bucket width in total context tokens
    points: dict[int, StepRun]
    dur: dict[int, float]


class StepCostCache:
    def __init__(self, mem: MemorySystem) -> None:
        self.mem = mem
        self._shapes: dict[int, _Shape] = {}
        self.simulations = 0
        self.op_instances = 0

    def _shape(self, step: MappedStep) -> _Shape:
        sh = self._shapes.get(id(step))
        if sh is None:
            seqs = max(1, step.batch)
            sh = _Shape(step, float(self.mem.bucket_tokens * seqs), {}, {})
            self._shapes[id(step)] = sh
        return sh

    def _point(self, sh: _Shape, k: int) -> float:
        d = sh.dur.get(k)
        if d is None:
            run = simulate_step(sh.step, k * sh.width, self.mem)
            self.simulations += 1
            self.op_instances += run.op_instances
            sh.points[k] = run
            d = sh.dur[k] = run.duration_s
        return d

    def duration(self, step: MappedStep, ctx: float) -> tuple[float, int, float]:
        """(duration, bucket, weight of the upper end) of `step` at total context `ctx`."""
        sh = self._shape(step)
        x = ctx / sh.width
        k = math.floor(x)
        t = x - k
        lo = self._point(sh, k)
        if t <= 1e-12:
            return lo, k, 0.0
        hi = self._point(sh, k + 1)
        return lo + t * (hi - lo), k, t

    def run_at(self, step: MappedStep, k: int) -> StepRun:
        sh = self._shape(step)
        self._point(sh, k)
        return sh.points[k]

    def shapes(self) -> list[MappedStep]:
        return [s.step for s in self._shapes.values()]


def interpolate(lo: dict[str, float], hi: dict[str, float], n: float, tsum: float) -> dict[str, float]:
    """Sum over runs of lo + t (hi - lo): n x lo + tsum x (hi - lo), key by key."""
    keys = dict.fromkeys([*lo, *hi])  # ordered: sums over the result do not depend on string hashing
    return {k: n * lo.get(k, 0.0) + tsum * (hi.get(k, 0.0) - lo.get(k, 0.0)) for k in keys}


def ratio_at(cache: StepCostCache, step: MappedStep, ctx: float) -> float:
    """Op-level over analytic time of `step` at `ctx` (scales analytic stage times)."""
    a = float(step.step_times_s(np.array([ctx]))[0])
    d, _, _ = cache.duration(step, ctx)
    return d / a if a > 0 else 1.0
