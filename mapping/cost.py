"""Frozen cost records: what each mapped op costs, with the unit in every name.

Costs that depend on the KV context are `Affine` in the total context of the batch, so a
`MappedStep` evaluates any number of decode steps at once with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class Component(StrEnum):
    """Where energy goes. Reported in `SimResult.energy_breakdown_j`."""

    CIM_ARRAY = "cim_array"
    CIM_READOUT = "cim_readout"  # ADC conversions / adder trees + shift-add
    CIM_WEIGHT_WRITE = "cim_weight_write"
    BUFFER = "buffer"
    NOC = "noc"
    VECTOR_UNIT = "vector_unit"
    GPU_COMPUTE = "gpu_compute"
    NPU_COMPUTE = "npu_compute"
    CPU_COMPUTE = "cpu_compute"
    DRAM = "dram"
    HB_DRAM = "hybrid_bonded_dram"
    SRAM = "sram"
    LINK = "link"  # device-to-device transfers (KV handover)
    STATIC = "static"  # leakage, idle and active-clock power x time


@dataclass(frozen=True, slots=True)
class Affine:
    """value(ctx) = const + per_ctx * ctx, ctx = total context tokens of the batch."""

    const: float
    per_ctx: float = 0.0

    def at(self, ctx: float) -> float:
        return self.const + self.per_ctx * ctx

    def __add__(self, other: "Affine") -> "Affine":
        return Affine(self.const + other.const, self.per_ctx + other.per_ctx)

    def scaled(self, factor: float) -> "Affine":
        return Affine(self.const * factor, self.per_ctx * factor)


ZERO = Affine(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class MappedOp:
    """One op (all its identical layers) placed on a unit.

    Time of one instance = overhead_s + max(compute_s, bytes of each tier / its bandwidth):
    compute and every memory stream overlap (double-buffered), the fixed overhead does not.
    """

    name: str
    op_class: str
    device: str
    unit: str  # e.g. "cim_macros", "vector_unit", "gpu"
    layers: int
    overhead_s: float
    compute_s: Affine
    tier_bytes: tuple[tuple[str, Affine], ...]  # bytes moved per memory tier (or NoC), per instance
    energy_j: tuple[tuple[Component, Affine], ...]  # dynamic energy per instance, memory traffic excluded
    flops: Affine = ZERO  # arithmetic ops per instance (for rooflines and utilisation)
    detail: tuple[tuple[str, float], ...] = ()  # mapping facts (tiles, utilisation, ...)


@dataclass(frozen=True)
class MappedStep:
    """A workload step mapped onto one device."""

    phase: str
    device: str
    batch: int
    tokens_per_seq: int
    ops: tuple[MappedOp, ...]
    tier_bandwidth_bytes_per_s: dict[str, float]  # achievable bandwidth of each tier used
    tier_component: dict[str, Component]
    tier_energy_per_bit_j: dict[str, float]
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tiers = list(self.tier_bandwidth_bytes_per_s)
        n = len(self.ops)
        layers = np.array([op.layers for op in self.ops], dtype=float)
        over = np.array([op.overhead_s for op in self.ops])
        c0 = np.array([op.compute_s.const for op in self.ops])
        c1 = np.array([op.compute_s.per_ctx for op in self.ops])
        m0 = np.zeros((n, len(tiers)))
        m1 = np.zeros((n, len(tiers)))
        for i, op in enumerate(self.ops):
            for tier, aff in op.tier_bytes:
                j = tiers.index(tier)
                m0[i, j] += aff.const
                m1[i, j] += aff.per_ctx
        bw = np.array([self.tier_bandwidth_bytes_per_s[t] for t in tiers])
        object.__setattr__(self, "_arrays", {
            "layers": layers, "over": over, "c0": c0, "c1": c1,
            "t0": m0 / bw if tiers else m0, "t1": m1 / bw if tiers else m1,
            "b0": m0, "b1": m1,
        })

    @property
    def tiers(self) -> list[str]:
        return list(self.tier_bandwidth_bytes_per_s)

    def op_times_s(self, ctx: np.ndarray) -> np.ndarray:
        """Time of every op (all its layers) at each context: shape (ops, len(ctx))."""
        a = self._arrays
        ctx = np.asarray(ctx, dtype=float)[None, :]
        compute = a["c0"][:, None] + a["c1"][:, None] * ctx
        if a["t0"].shape[1]:
            mem = (a["t0"][:, :, None] + a["t1"][:, :, None] * ctx[:, None, :]).max(axis=1)
            busy = np.maximum(compute, mem)
        else:
            busy = compute
        return a["layers"][:, None] * (a["over"][:, None] + busy)

    def step_times_s(self, ctx: np.ndarray) -> np.ndarray:
        return self.op_times_s(ctx).sum(axis=0)

    def tier_bytes_total(self, ctx_sum: float, steps: int) -> dict[str, float]:
        """Bytes moved per tier over `steps` steps whose contexts sum to `ctx_sum`."""
        a = self._arrays
        per0 = (a["layers"][:, None] * a["b0"]).sum(axis=0)
        per1 = (a["layers"][:, None] * a["b1"]).sum(axis=0)
        return {t: float(per0[j] * steps + per1[j] * ctx_sum) for j, t in enumerate(self.tiers)}

    def dynamic_energy_j(self, ctx_sum: float, steps: int) -> dict[Component, float]:
        """Dynamic energy per component over `steps` steps whose contexts sum to `ctx_sum`."""
        out: dict[Component, float] = {}
        for tier, nbytes in self.tier_bytes_total(ctx_sum, steps).items():
            comp = self.tier_component[tier]
            out[comp] = out.get(comp, 0.0) + nbytes * 8.0 * self.tier_energy_per_bit_j[tier]
        for op in self.ops:
            for comp, aff in op.energy_j:
                out[comp] = out.get(comp, 0.0) + op.layers * (aff.const * steps + aff.per_ctx * ctx_sum)
        return out
