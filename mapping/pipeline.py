"""Balanced pipeline stages: contiguous groups of layers/ops with the smallest bottleneck.

The exact linear-partition dynamic programme: with prefix sums P, the best bottleneck of
the first j items in k stages is B[k][j] = min over i < j of max(B[k-1][i], P[j] - P[i]).
Vectorised over i with numpy: O(stages x n^2) element operations, about a millisecond for
a 36-layer model unrolled into ~360 ops and 16 stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from slmsim.mapping.cost import MappedStep


@dataclass(frozen=True)
class Partition:
    boundaries: tuple[int, ...]  # start index of each stage; stage s covers [b[s], b[s+1])
    stage_costs: tuple[float, ...]

    @property
    def bottleneck(self) -> float:
        return max(self.stage_costs)

    @property
    def balance(self) -> float:
        """Mean stage cost / bottleneck: 1.0 is perfectly balanced."""
        return float(np.mean(self.stage_costs) / self.bottleneck) if self.bottleneck > 0 else 1.0


def linear_partition(costs: list[float] | np.ndarray, stages: int) -> Partition:
    c = np.asarray(costs, dtype=float)
    n = len(c)
    if stages < 1:
        raise ValueError("stages must be >= 1")
    stages = min(stages, n) if n else 1
    prefix = np.concatenate([[0.0], np.cumsum(c)])
    best = prefix.copy()  # one stage: the cost of the first j items
    choice = np.zeros((stages, n + 1), dtype=int)
    for k in range(1, stages):
        new = np.full(n + 1, np.inf)
        for j in range(1, n + 1):
            i = np.arange(j)  # last stage covers items [i, j)
            cand = np.maximum(best[i], prefix[j] - prefix[i])
            at = int(np.argmin(cand))
            new[j] = cand[at]
            choice[k, j] = at
        best = new
    bounds = []
    j = n
    for k in range(stages - 1, 0, -1):
        i = choice[k, j]
        bounds.append(i)
        j = i
    starts = (0, *(int(b) for b in reversed(bounds)))
    ends = (*starts[1:], n)
    return Partition(boundaries=starts, stage_costs=tuple(float(prefix[e] - prefix[s]) for s, e in zip(starts, ends)))


def unrolled_op_costs(op_times_s: np.ndarray, layers: list[int]) -> tuple[np.ndarray, list[int]]:
    """Per-instance costs in execution order, from a folded step.

    The op graph folds identical layers (one entry per op kind with `layers = n`). Runs of
    consecutive ops with the same layer count form one block of a layer, executed n
    times, layer by layer. Returns the costs and, for each, the index of its op.
    """
    order: list[int] = []
    i = 0
    while i < len(layers):
        j = i
        while j < len(layers) and layers[j] == layers[i]:
            j += 1
        order += list(range(i, j)) * layers[i]
        i = j
    costs = np.array([op_times_s[k] / layers[k] for k in order])
    return costs, order


@dataclass(frozen=True)
class StagePipeline:
    """Decode of a batch as micro-batches (one sequence each) flowing through stages.

    `step` is the one-sequence decode step; `weights[s, i]` is the share of op i's layers
    that stage s holds, so `weights @ step.op_times_s(ctx)` gives every stage's time for
    one sequence at context `ctx`. Stage s of sequence j starts when stage s is free and
    sequence j has left stage s - 1 (a permutation flow shop in arrival order).
    """

    step: "MappedStep"
    partition: Partition
    weights: np.ndarray  # (stages, ops)
    # seconds the device's one vector unit takes per op (1 / its op rate); 0: none modelled
    vector_s_per_op: float = 0.0

    def stage_times_s(self, seq_ctx: np.ndarray) -> np.ndarray:
        """(stages, len(seq_ctx)) seconds for one sequence at each context."""
        return self.weights @ self.step.op_times_s(np.asarray(seq_ctx, dtype=float))

    def shared_busy_s(self, seq_ctx: np.ndarray) -> dict[str, np.ndarray]:
        """Seconds one sequence at each context keeps each resource the stages share busy:
        the device's one vector unit (its vector ops, and the group-scale rescales of its
        matmuls) and every memory tier and NoC stream (at the step's bandwidth of each).
        Each stage holds its own macros; these it does not."""
        ctx = np.asarray(seq_ctx, dtype=float)
        out: dict[str, np.ndarray] = {"vector_unit": np.zeros(len(ctx))}
        bw = self.step.tier_bandwidth_bytes_per_s
        for op in self.step.ops:
            if op.unit == "vector_unit":
                out["vector_unit"] = out["vector_unit"] + op.layers * (op.overhead_s + op.compute_s.at(ctx))
            else:
                out["vector_unit"] = out["vector_unit"] + op.layers * dict(op.detail).get("scale_ops", 0.0) \
                    * self.vector_s_per_op
            for tier, aff in op.tier_bytes:
                out[tier] = out.get(tier, np.zeros(len(ctx))) + op.layers * aff.at(ctx) / bw[tier]
        return out

    def floor_s(self, seq_ctx: np.ndarray) -> float:
        """The least time a batch of sequences at these contexts can take: no shared resource
        can be busy more than all of it (the flow shop alone lets stages overlap freely)."""
        busy = self.shared_busy_s(seq_ctx)
        return max(float(np.sum(b)) for b in busy.values())

    def step_times_s(self, seq_ctx: np.ndarray, batch: int) -> np.ndarray:
        """Analytic time of a step of `batch` sequences, all at each of these contexts: the flow
        shop's sum(stage times) + (batch - 1) x max(stage time), and no less than `batch` x the
        busiest shared resource's time per sequence (`shared_busy_s`)."""
        stage = self.stage_times_s(seq_ctx)
        flow = stage.sum(axis=0) + (batch - 1) * stage.max(axis=0)
        shared = np.max(np.stack(list(self.shared_busy_s(seq_ctx).values())), axis=0)
        return np.maximum(flow, batch * shared)

    @staticmethod
    def schedule(stage_times: np.ndarray) -> tuple[np.ndarray, float]:
        """Flow shop of sequences in order, C[j,s] = max(C[j-1,s], C[j,s-1]) + p[j,s].

        Returns the start time of every (stage, sequence) and the makespan."""
        stages, jobs = stage_times.shape
        starts = np.zeros((stages, jobs))
        done = np.zeros(stages)
        for j in range(jobs):
            t = 0.0
            for s in range(stages):
                starts[s, j] = max(done[s], t)
                t = starts[s, j] + stage_times[s, j]
                done[s] = t
        return starts, float(done[-1]) if jobs else 0.0

    @staticmethod
    def makespan_s(stage_times: np.ndarray) -> float:
        return StagePipeline.schedule(stage_times)[1]


def build_stage_pipeline(step: "MappedStep", stages: int, ctx: float, *,
                         vector_s_per_op: float = 0.0) -> StagePipeline:
    times = step.op_times_s(np.array([ctx]))[:, 0]
    layers = [op.layers for op in step.ops]
    costs, order = unrolled_op_costs(times, layers)
    part = linear_partition(costs, stages)
    ends = (*part.boundaries[1:], len(order))
    weights = np.zeros((len(part.stage_costs), len(step.ops)))
    for s, (a, b) in enumerate(zip(part.boundaries, ends)):
        for k in order[a:b]:
            weights[s, k] += 1.0 / layers[k]
    return StagePipeline(step=step, partition=part, weights=weights, vector_s_per_op=vector_s_per_op)
