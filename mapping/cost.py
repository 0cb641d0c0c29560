"""Frozen cost records: what each mapped op costs, with the unit in every name.

Costs that depend on the KV context are `Affine` in the total context of the batch, so a
`MappedStep` evaluates any number of decode steps at once with numpy. A model's sliding-window
layers add a term in the context capped at the batch's window (`Affine.windowed`): those layers
attend over at most the last W positions of each sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from slmsim.workloads.graph import Op


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
    """value(ctx) = const + per_ctx * ctx + windowed * min(ctx, window), ctx = total context
    tokens of the batch.

    `windowed` is the part of an attention op's cost carried by sliding-window layers (their
    share of the op's layers, `workloads.graph.Op.window_share`); `window` is the batch's window
    in total-context tokens (sequences x W). min(ctx, window) is exact when the batch's
    sequences are all within W or all past it (the analytic engine's equal contexts); for mixed
    lengths an engine passes `StepMapper.step_context`, the context at which the cost is the exact
    per-sequence one (docs/decoding.md, sliding windows)."""

    const: float
    per_ctx: float = 0.0
    windowed: float = 0.0
    window: float = math.inf

    def at(self, ctx: float) -> float:
        if not self.windowed:
            return self.const + self.per_ctx * ctx
        capped = np.minimum(ctx, self.window) if isinstance(ctx, np.ndarray) else min(ctx, self.window)
        return self.const + self.per_ctx * ctx + self.windowed * capped

    @property
    def grows(self) -> bool:
        """Whether the value depends on the context at all."""
        return bool(self.per_ctx or self.windowed)

    def __add__(self, other: "Affine") -> "Affine":
        if self.windowed and other.windowed and self.window != other.window:
            raise ValueError(f"cannot add costs capped at different windows ({self.window} and {other.window})")
        window = self.window if self.windowed else other.window if other.windowed else math.inf
        return Affine(self.const + other.const, self.per_ctx + other.per_ctx, self.windowed + other.windowed, window)

    def scaled(self, factor: float) -> "Affine":
        return Affine(self.const * factor, self.per_ctx * factor, self.windowed * factor, self.window)

    @staticmethod
    def context(const: float, per_ctx: float, *, window_share: float = 0.0, window: float = math.inf) -> "Affine":
        """A cost growing by `per_ctx` per context token, `window_share` of it from layers that
        see at most `window` tokens of context."""
        if not window_share or not per_ctx:
            return Affine(const, per_ctx)
        return Affine(const, per_ctx * (1.0 - window_share), per_ctx * window_share, window)


@dataclass(frozen=True, slots=True)
class CtxSum:
    """The contexts of a step's runs, summed as they are (`full`) and capped at the step's window
    (`windowed`, equal to `full` for a step without sliding-window layers): totals over any runs
    are then three multiplications."""

    full: float
    windowed: float

    def __add__(self, other: "CtxSum") -> "CtxSum":
        return CtxSum(self.full + other.full, self.windowed + other.windowed)


NO_CTX = CtxSum(0.0, 0.0)


def ctx_affine(op: Op, const: float, per_ctx: float) -> Affine:
    """An op's cost that grows by `per_ctx` per context token, its sliding-window layers' share
    capped at the op's window."""
    return Affine.context(const, per_ctx, window_share=op.window_share, window=op.window_ctx)


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
    # of `kv_tier`'s context-independent bytes, those this op writes (the new tokens' K/V, or the
    # cross-attention K/V a projection stores); the rest of that constant part is read
    kv_tier: str = ""
    kv_write_bytes: float = 0.0

    def affines(self) -> tuple[Affine, ...]:
        """Every cost of the op: compute, FLOPs, bytes of each tier, energy of each component."""
        return (self.compute_s, self.flops, *(a for _, a in self.tier_bytes), *(a for _, a in self.energy_j))

    @property
    def window(self) -> float:
        """The context cap of the op's sliding-window costs (inf: it has none)."""
        return next((a.window for a in self.affines() if a.windowed), math.inf)


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
    window: float = field(init=False, compare=False)  # the sliding-window layers' cap on the context (inf: none)
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)
    _sums: list = field(init=False, repr=False, compare=False)  # [_StepSums] once computed

    def __post_init__(self) -> None:
        tiers = list(self.tier_bandwidth_bytes_per_s)
        n = len(self.ops)
        layers = np.array([op.layers for op in self.ops], dtype=float)
        over = np.array([op.overhead_s for op in self.ops])
        c0 = np.array([op.compute_s.const for op in self.ops])
        c1 = np.array([op.compute_s.per_ctx for op in self.ops])
        cw = np.array([op.compute_s.windowed for op in self.ops])
        m0 = np.zeros((n, len(tiers)))
        m1 = np.zeros((n, len(tiers)))
        mw = np.zeros((n, len(tiers)))
        index = {t: j for j, t in enumerate(tiers)}
        windows = {aff.window for op in self.ops for aff in op.affines() if aff.windowed}
        if len(windows) > 1:
            raise ValueError(f"step {self.phase} on {self.device}: sliding-window costs capped at different "
                             f"windows {sorted(windows)}")
        for i, op in enumerate(self.ops):
            for tier, aff in op.tier_bytes:
                j = index[tier]
                m0[i, j] += aff.const
                m1[i, j] += aff.per_ctx
                mw[i, j] += aff.windowed
        bw = np.array([self.tier_bandwidth_bytes_per_s[t] for t in tiers])
        object.__setattr__(self, "window", windows.pop() if windows else math.inf)
        object.__setattr__(self, "_arrays", {
            "layers": layers, "over": over, "c0": c0, "c1": c1, "cw": cw,
            "t0": m0 / bw if tiers else m0, "t1": m1 / bw if tiers else m1, "tw": mw / bw if tiers else mw,
            "b0": m0, "b1": m1, "bw": mw,
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

    def ctx_sum(self, ctx: "float | np.ndarray", weight: "np.ndarray | None" = None) -> CtxSum:
        """The contexts of runs of this step (each run's total context; `weight`: how many times
        each runs, default once), summed as they are and capped at the step's window."""
        c = np.atleast_1d(np.asarray(ctx, dtype=float))
        w = np.ones_like(c) if weight is None else np.asarray(weight, dtype=float)
        full = float(c @ w)
        return CtxSum(full, float(np.minimum(c, self.window) @ w) if math.isfinite(self.window) else full)

    def ctx_of(self, ctx: float) -> CtxSum:
        """One run at total context `ctx` (`ctx_sum` for a single float, without numpy)."""
        return CtxSum(ctx, ctx if ctx < self.window else self.window)

    def op_times_s(self, ctx: np.ndarray) -> np.ndarray:
        """Time of every op (all its layers) at each context: shape (ops, len(ctx))."""
        a = self._arrays
        ctx = np.asarray(ctx, dtype=float)[None, :]
        compute = a["c0"][:, None] + a["c1"][:, None] * ctx
        windowed = math.isfinite(self.window)
        if windowed:
            capped = np.minimum(ctx, self.window)
            compute = compute + a["cw"][:, None] * capped
        if a["t0"].shape[1]:
            mem = a["t0"][:, :, None] + a["t1"][:, :, None] * ctx[:, None, :]
            if windowed:
                mem = mem + a["tw"][:, :, None] * capped[:, None, :]
            busy = np.maximum(compute, mem.max(axis=1))
        else:
            busy = compute
        return a["layers"][:, None] * (a["over"][:, None] + busy)

    def step_times_s(self, ctx: np.ndarray) -> np.ndarray:
        return self.op_times_s(ctx).sum(axis=0)

    def _summed(self, ctx: "CtxSum | float") -> CtxSum:
        """`ctx` as a CtxSum: a plain float (the sum of the runs' contexts) only for a step
        without sliding-window layers, where capping changes nothing."""
        if isinstance(ctx, CtxSum):
            return ctx
        if math.isfinite(self.window):
            raise TypeError(f"step {self.phase} on {self.device} has sliding-window layers: pass its runs' "
                            "contexts as MappedStep.ctx_sum(...), not their plain sum")
        return CtxSum(float(ctx), float(ctx))

    def tier_bytes_total(self, ctx: "CtxSum | float", steps: float) -> dict[str, float]:
        """Bytes moved per tier over `steps` steps whose contexts sum to `ctx`."""
        ctx = self._summed(ctx)
        s = self.sums
        return {t: p0 * steps + p1 * ctx.full + pw * ctx.windowed for t, p0, p1, pw in s.tier_bytes}

    def compute_s_total(self, ctx: "CtxSum | float", steps: float) -> float:
        """Seconds the device computes (overheads and memory stalls aside) over `steps` steps."""
        ctx = self._summed(ctx)
        s = self.sums
        return s.compute0 * steps + s.compute1 * ctx.full + s.compute_w * ctx.windowed

    def flops_total(self, ctx: "CtxSum | float", steps: float) -> float:
        ctx = self._summed(ctx)
        s = self.sums
        return s.flops0 * steps + s.flops1 * ctx.full + s.flops_w * ctx.windowed

    def dynamic_energy_j(self, ctx: "CtxSum | float", steps: float) -> dict[Component, float]:
        """Dynamic energy per component over `steps` steps whose contexts sum to `ctx`."""
        ctx = self._summed(ctx)
        out: dict[Component, float] = {}
        for comp, e0, e1, ew in self.sums.energy:
            out[comp] = e0 * steps + e1 * ctx.full + ew * ctx.windowed
        return out


@dataclass(frozen=True, slots=True)
class _StepSums:
    """Sums over a step's ops, each weighted by the op's layers: the constant and the
    per-context-token part of bytes per tier, compute seconds, FLOPs and dynamic energy per
    component (memory traffic at each tier's energy per bit first, then the ops' own, in
    order of first appearance), so totals over any runs are two multiplications."""

    tier_bytes: tuple[tuple[str, float, float, float], ...]  # (tier, const, per context token, windowed)
    compute0: float
    compute1: float
    compute_w: float
    flops0: float
    flops1: float
    flops_w: float
    energy: tuple[tuple[Component, float, float, float], ...]
    class_index: tuple[tuple[str, tuple[int, ...]], ...]  # op class -> op positions, first appearance order

    @staticmethod
    def of(step: MappedStep) -> "_StepSums":
        a = step._arrays
        per0 = (a["layers"][:, None] * a["b0"]).sum(axis=0)
        per1 = (a["layers"][:, None] * a["b1"]).sum(axis=0)
        perw = (a["layers"][:, None] * a["bw"]).sum(axis=0)
        tiers = tuple((t, float(per0[j]), float(per1[j]), float(perw[j])) for j, t in enumerate(step.tiers))
        energy: dict[Component, list[float]] = {}
        for t, b0, b1, bw in tiers:
            e = energy.setdefault(step.tier_component[t], [0.0, 0.0, 0.0])
            k = 8.0 * step.tier_energy_per_bit_j[t]
            e[0] += b0 * k
            e[1] += b1 * k
            e[2] += bw * k
        c0 = c1 = cw = f0 = f1 = fw = 0.0
        classes: dict[str, list[int]] = {}
        for i, op in enumerate(step.ops):
            n = op.layers
            c0 += n * op.compute_s.const
            c1 += n * op.compute_s.per_ctx
            cw += n * op.compute_s.windowed
            f0 += n * op.flops.const
            f1 += n * op.flops.per_ctx
            fw += n * op.flops.windowed
            for comp, aff in op.energy_j:
                e = energy.setdefault(comp, [0.0, 0.0, 0.0])
                e[0] += n * aff.const
                e[1] += n * aff.per_ctx
                e[2] += n * aff.windowed
            classes.setdefault(op.op_class, []).append(i)
        return _StepSums(tier_bytes=tiers, compute0=c0, compute1=c1, compute_w=cw, flops0=f0, flops1=f1, flops_w=fw,
                         energy=tuple((c, e0, e1, ew) for c, (e0, e1, ew) in energy.items()),
                         class_index=tuple((c, tuple(ix)) for c, ix in classes.items()))
