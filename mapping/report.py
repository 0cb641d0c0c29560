"""Per-op mapping report: where each op runs, what it moves, how long, what it costs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slmsim.mapping.cost import MappedStep


@dataclass(frozen=True)
class OpReport:
    name: str
    op_class: str
    unit: str
    layers: int
    time_s: float  # all layers, at the given context
    compute_s: float
    bytes_by_tier: dict[str, float]
    energy_j: dict[str, float]  # dynamic, memory traffic included
    flops: float
    detail: dict[str, float]  # tiles, utilisation, cycles per MVM, rounds (CIM)


def op_reports(step: MappedStep, ctx: float) -> list[OpReport]:
    times = step.op_times_s(np.array([ctx]))[:, 0]
    out = []
    for op, t in zip(step.ops, times):
        moved = {tier: op.layers * aff.at(ctx) for tier, aff in op.tier_bytes}
        energy = {comp.value: op.layers * aff.at(ctx) for comp, aff in op.energy_j}
        for tier, nbytes in moved.items():
            comp = step.tier_component[tier].value
            energy[comp] = energy.get(comp, 0.0) + nbytes * 8.0 * step.tier_energy_per_bit_j[tier]
        out.append(OpReport(name=op.name, op_class=op.op_class, unit=op.unit, layers=op.layers, time_s=float(t),
                            compute_s=op.layers * op.compute_s.at(ctx), bytes_by_tier=moved, energy_j=energy,
                            flops=op.layers * op.flops.at(ctx), detail=dict(op.detail)))
    return out
