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
    """A workload step mapped onto one device.

    Per-step constants (op arrays, and on first use the layer-weighted sums every total
    needs) are computed once per step object: a memoised step (`mapping.memo`) shares
    them across plans.
    """

    phase: str
    device: str
    batch: int
    tokens_per_seq: int
    ops: tuple[MappedOp, ...]
    tier_bandwidth_bytes_per_s: dict[str, float]  # achievable bandwidth of each tier used
    tier_component: dict[str, Component]
    tier_energy_per_bit_j: dict[str, float]
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)
    _sums: list = field(init=False, repr=False, compare=False)  # [_StepSums] once computed

    def __post_init__(self) -> None:
        tiers = list(self.tier_bandwidth_bytes_per_s)
        n = len(self.ops)
        layers = np.array([op.layers for op in self.ops], dtype=float)
        over = np.array([op.overhead_s for op in self.ops])
        c0 = np.array([op.compute_s.const for op in self.ops])
        c1 = np.array([op.compute_s.per_ctx for op in self.ops])
        m0 = np.zeros((n, len(tiers)))
        m1 = np.zeros((n, len(tiers)))
        index = {t: j for j, t in enumerate(tiers)}
        for i, op in enumerate(self.ops):
            for tier, aff in op.tier_bytes:
                j = index[tier]
                m0[i, j] += aff.const
                m1[i, j] += aff.per_ctx
        bw = np.array([self.tier_bandwidth_bytes_per_s[t] for t in tiers])
        object.__setattr__(self, "_arrays", {
            "layers": layers, "over": over, "c0": c0, "c1": c1,
            "t0": m0 / bw if tiers else m0, "t1": m1 / bw if tiers else m1,
            "b0": m0, "b1": m1,
        })
        object.__setattr__(self, "_sums", [])

    @property
    def tiers(self) -> list[str]:
        return list(self.tier_bandwidth_bytes_per_s)

    @property
    def sums(self) -> "_StepSums":
        """Layer-weighted sums over the ops (computed on first use)."""
        if not self._sums:
            self._sums.append(_StepSums.of(self))
        return self._sums[0]

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

    def tier_bytes_total(self, ctx_sum: float, steps: float) -> dict[str, float]:
        """Bytes moved per tier over `steps` steps whose contexts sum to `ctx_sum`."""
        s = self.sums
        return {t: p0 * steps + p1 * ctx_sum for t, p0, p1 in s.tier_bytes}

    def compute_s_total(self, ctx_sum: float, steps: float) -> float:
        """Seconds the device computes (overheads and memory stalls aside) over `steps` steps."""
        s = self.sums
        return s.compute0 * steps + s.compute1 * ctx_sum

    def flops_total(self, ctx_sum: float, steps: float) -> float:
        s = self.sums
        return s.flops0 * steps + s.flops1 * ctx_sum

    def dynamic_energy_j(self, ctx_sum: float, steps: float) -> dict[Component, float]:
        """Dynamic energy per component over `steps` steps whose contexts sum to `ctx_sum`."""
        out: dict[Component, float] = {}
        for comp, e0, e1 in self.sums.energy:
            out[comp] = e0 * steps + e1 * ctx_sum
        return out


@dataclass(frozen=True, slots=True)
class _StepSums:
    """Sums over a step's ops, each weighted by the op's layers: the constant and the
    per-context-token part of bytes per tier, compute seconds, FLOPs and dynamic energy per
    component (memory traffic at each tier's energy per bit first, then the ops' own, in
    order of first appearance), so totals over any runs are two multiplications."""

    tier_bytes: tuple[tuple[str, float, float], ...]
    compute0: float
    compute1: float
    flops0: float
    flops1: float
    energy: tuple[tuple[Component, float, float], ...]
    class_index: tuple[tuple[str, tuple[int, ...]], ...]  # op class -> op positions, first appearance order

    @staticmethod
    def of(step: MappedStep) -> "_StepSums":
        a = step._arrays
        per0 = (a["layers"][:, None] * a["b0"]).sum(axis=0)
        per1 = (a["layers"][:, None] * a["b1"]).sum(axis=0)
        tiers = tuple((t, float(per0[j]), float(per1[j])) for j, t in enumerate(step.tiers))
        energy: dict[Component, list[float]] = {}
        for t, b0, b1 in tiers:
            e = energy.setdefault(step.tier_component[t], [0.0, 0.0])
            k = 8.0 * step.tier_energy_per_bit_j[t]
            e[0] += b0 * k
            e[1] += b1 * k
        c0 = c1 = f0 = f1 = 0.0
        classes: dict[str, list[int]] = {}
        for i, op in enumerate(step.ops):
            n = op.layers
            c0 += n * op.compute_s.const
            c1 += n * op.compute_s.per_ctx
            f0 += n * op.flops.const
            f1 += n * op.flops.per_ctx
            for comp, aff in op.energy_j:
                e = energy.setdefault(comp, [0.0, 0.0])
                e[0] += n * aff.const
                e[1] += n * aff.per_ctx
            classes.setdefault(op.op_class, []).append(i)
        return _StepSums(tier_bytes=tiers, compute0=c0, compute1=c1, flops0=f0, flops1=f1,
                         energy=tuple((c, e0, e1) for c, (e0, e1) in energy.items()),
                         class_index=tuple((c, tuple(ix)) for c, ix in classes.items()))
