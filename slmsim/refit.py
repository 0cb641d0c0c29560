"""The fit of the per-(device class x stack) constants on every calibration row, written to the presets.

Each constant has a *prior* (the value a datasheet, a source or a stated assumption gives before
any row is seen), bounds, and the preset paths that carry it (stack presets, hardware presets).
`python -m slmsim.refit` fits and prints the report docs/validation.md quotes; `--write` writes
the fitted values into the preset YAML files (only the numbers change); a test refits and checks
that the presets carry the result.

Each stack's constants move only the rows of that stack, so the stacks are fitted one after
another, each on its own rows (decode and prefill rates, relative errors, least squares within
the bounds). Order matters once: the Jetson LPDDR5 streaming fraction is fitted with MLC's rows
and then used by the vLLM rows on the same memory class.

Errors reported:
- in-sample: every constant fitted on every row;
- leave-one-device-out (LODO): each stack's constants refitted without the rows of one device,
  then that device's rows predicted; a constant that no remaining row constrains is at its prior;
- leave-one-stack-out (LOSO): no row of the stack is fitted, so its constants are the priors
  (the other stacks' constants, e.g. a memory fraction, stay fitted).
Fits use only slmsim/data/calibration-*.csv (never the held-out file).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from slmsim.hw_models.load import hardware_with_edits
from slmsim.hw_models.load import preset_path as hw_preset_path
from slmsim.stacks.load import preset_path as stack_preset_path
from slmsim.stacks.load import stack_with_edits
from slmsim.validation import Row, calibration_rows, predict

JETSON_LPDDR5 = ("orin-nano", "agx-orin-64gb", "orin-nx-16gb", "jetson-agx-thor", "jetson-thor-t4000")
HEXAGON_LPDDR5X = ("snapdragon-8-elite", "sa8255p", "snapdragon-8-gen3", "snapdragon-8-elite-gen5",
                   "snapdragon-x-elite")
APPLE = ("apple-m1", "apple-m1-max", "apple-m1-ultra", "apple-m2-max", "apple-m3-ultra", "apple-m4")


@dataclass(frozen=True)
class Constant:
    name: str  # what it is, for the report
    prior: float  # before any fit (see `why`)
    low: float
    high: float
    why: str  # where the prior and the bounds come from
    stack_paths: tuple[tuple[str, float], ...] = ()  # (path in the stack preset, factor x value)
    hw_paths: tuple[str, ...] = ()  # paths in the hardware presets `devices` (value as is)
    devices: tuple[str, ...] = ()  # hardware presets carrying hw_paths (all are written)
    hw_scale: float = 1.0  # hardware value (SI) = value x hw_scale (a per-kernel time from cycles at a clock)
    hw_unit: tuple[str, float] | None = None  # written as a quantity string: (unit, SI per unit), e.g. ("us", 1e-6)
    also: tuple[tuple[str, str, float], ...] = ()  # (other stack, path, factor): the same constant in another stack
    kind: str | None = None  # constants of one kind are pooled across stacks (see POOL_WEIGHT)
    pool_scale: float = 1.0  # value x pool_scale is the pooled quantity (e.g. NPU cycles -> seconds)


_US = ("us", 1e-6)


def _kernel_split(cls: str, host_ghz: float, dev_ghz: float) -> tuple[tuple[str, float], ...]:
    """A per-kernel time (s) at the class's reference device, half as host cycles, half as device cycles."""
    return ((f"costs.{cls}.host_launch_cycles", 0.5 * host_ghz * 1e9),
            (f"costs.{cls}.device_kernel_cycles", 0.5 * dev_ghz * 1e9))


# The order is the fitting order (mlc before vllm: the Jetson memory fraction).
GROUPS: dict[str, tuple[Constant, ...]] = {
    "mlc": (
        Constant("Jetson LPDDR5 achievable fraction (memories.dram.achievable_fraction)", 0.80, 0.5, 0.95,
                 "assumption: LPDDR5 streaming reads reach ~80% of peak; bounds: 0.5 (a poorly tuned GEMV) .. "
                 "0.95 (refresh and bank turnarounds alone cost ~5%)",
                 hw_paths=("memories.dram.achievable_fraction",), devices=JETSON_LPDDR5, kind="dram_fraction"),
        Constant("jetson-orin: MLC per-kernel time at orin-nano (s), split evenly into host and GPU cycles", 20e-6,
                 4e-6, 1e-4,
                 "assumption: a CUDA launch from TVM's runtime without graph capture, ~10 us host + ~10 us GPU "
                 "ramp/tail at Orin Nano clocks (1.5 GHz A78AE, 625 MHz GPU); lower bound 4 us (a launch and a "
                 "grid ramp cannot be free: the CUDA driver's launch path alone is a few us), upper 100 us",
                 stack_paths=_kernel_split("jetson-orin", 1.5, 0.625),
                 hw_paths=("devices.gpu.kernel_overhead",), devices=("orin-nano", "agx-orin-64gb", "orin-nx-16gb"),
                 hw_unit=_US),
        Constant("jetson-orin: MLC group-quant (q4f16_1) GEMV efficiency relative to the FT kernel", 1.0, 0.4, 1.0,
                 "prior: same as the CUTLASS FasterTransformer GEMV; q4f16_1 runs TVM dlight-generated dequant-GEMV "
                 "kernels with 32-weight groups (an fp16 scale load per 32 weights)",
                 stack_paths=(("costs.jetson-orin.formats.q4f16_1.gemv_efficiency", 1.0),), kind="int4_group_gemv_relative"),
    ),
    "genie": (
        Constant("Hexagon-SoC LPDDR5X achievable fraction (memories.dram.achievable_fraction)", 0.80, 0.5, 0.95,
                 "assumption as for LPDDR5", hw_paths=("memories.dram.achievable_fraction",), devices=HEXAGON_LPDDR5X,
                 kind="dram_fraction"),
        Constant("hexagon-npu: Genie per-op NPU cycles", 30000, 0.0, 1e5,
                 "assumption: ~20 us per graph op at 1.5 GHz (op dispatch + VTCM staging); bound 1e5 cycles",
                 stack_paths=(("costs.hexagon-npu.device_kernel_cycles", 1.0),),
                 hw_paths=("devices.npu.kernel_overhead",),
                 devices=HEXAGON_LPDDR5X,
                 hw_scale=1 / 1.5e9, hw_unit=_US),  # not pooled with MLC's launched kernels: a compiled-graph op
        Constant("hexagon-npu: Genie decode attention, fraction of the HVX peak", 1.0, 0.01, 1.0,
                 "prior: decode attention (one query row against the whole compiled window) at the vector peak; "
                 "lower bound 1%. The rows separate it from the KV bytes: Llama 2 7B (MHA, 1024-token window) and "
                 "Mistral 7B (GQA, 4096) read the same KV bytes per step, and Mistral's attention does 4x the FLOPs",
                 stack_paths=(("costs.hexagon-npu.decode_attention_efficiency", 1.0),)),
        Constant("hexagon-npu: Genie decode attention, share of its KV stream overlapped with its compute", 1.0,
                 0.0, 1.0,
                 "prior: full overlap (time = max(compute, KV), the cost of every other op); 0 = the KV is "
                 "staged first, then computed. Which one QNN's HTP attention does is not published; the rows "
                 "separate it once the KV is at its sourced 8 bits (Llama 3.2 vs Phi-3.5)",
                 stack_paths=(("costs.hexagon-npu.decode_attention_overlap", 1.0),)),
        Constant("hexagon-npu: genie-w4 dequantisation ops per weight (HVX, to fp16)", 2.0, 0.0, 40.0,
                 "prior: unpack + scale, 2 vector ops per weight; bound 40",
                 stack_paths=(("formats.genie-w4.dequant_ops_per_weight", 1.0),), kind="int4_unpack_ops"),
        Constant("hexagon-npu: w4a16 prefill matrix efficiency (of the HMX peak)", 0.5, 0.05, 1.0,
                 "prior: the NPU class assumption 0.5 (compute_efficiency of the Hexagon presets)",
                 stack_paths=(("costs.hexagon-npu.matrix_efficiency", 1.0),), kind="prefill_gemm_efficiency"),
        Constant("hexagon-npu: w4 prefill matrix efficiency (fp16 path, of the HMX peak)", 0.5, 0.05, 1.0,
                 "prior: as w4a16", stack_paths=(("costs.hexagon-npu.formats.genie-w4.matrix_efficiency", 1.0),)),
    ),
    "torchao": (
        Constant("datacenter-gpu: per-kernel GPU cycles (CUDA-graph replay)", 3000, 0.0, 1e5,
                 "assumption: ~2 us gap + tail per kernel inside a CUDA graph at 1.41 GHz",
                 stack_paths=(("costs.datacenter-gpu.device_kernel_cycles", 1.0),),
                 hw_paths=("devices.gpu.kernel_overhead",), devices=("a100-80gb", "h100-sxm", "h100-pcie"),
                 hw_scale=1 / 1.41e9,
                 hw_unit=_US),
        Constant("datacenter-gpu: int8/int4 dequantisation ops per weight (tinygemm / int8 mm)", 2.0, 0.0, 50.0,
                 "prior: unpack + scale, 2 ops per weight",
                 stack_paths=(("formats.int8-weight-only.dequant_ops_per_weight", 1.0),
                              ("formats.int4-g32-bf16-scale-zero.dequant_ops_per_weight", 1.0),
                              ("formats.int4-g64-bf16-scale-zero.dequant_ops_per_weight", 1.0)),
                 hw_paths=("devices.gpu.dequant_ops_per_weight",),
                 devices=("a100-80gb", "h100-sxm", "h100-pcie", "orin-nano", "agx-orin-64gb", "orin-nx-16gb"),
                 also=(("mlc", "formats.q4f16_ft.dequant_ops_per_weight", 1.0),
                       ("mlc", "formats.q4f16_1.dequant_ops_per_weight", 1.0)), kind="int4_unpack_ops"),
    ),
    "vllm": (
        Constant("all GPUs: vLLM host cycles per step (A78-equivalent)", 3.0e6, 0.0, 2e7,
                 "assumption: V1 engine-core loop, ~1.4 ms on a 2.2 GHz A78AE",
                 stack_paths=(("costs.default.step_host_cycles", 1.0),)),
        Constant("all GPUs: vLLM Marlin W4A16 GEMV efficiency", 1.0, 0.5, 1.0,
                 "prior: streaming bandwidth reached", stack_paths=(("costs.default.dense_gemv_efficiency", 1.0),),
                 kind="dense_gemv_efficiency"),
        Constant("all GPUs: vLLM W4A16 prefill GEMM efficiency (of the fp16 tensor peak)", 0.7, 0.3, 0.9,
                 "prior: the GPU class assumption 0.7 (compute_efficiency of the GPU presets); upper bound 0.9, what "
                 "cuBLAS reaches on a large fp16 GEMM (docs/presets.md); the vLLM rows include the TTFT of a "
                 "2048-token prompt, which constrains it",
                 stack_paths=(("costs.default.matrix_efficiency", 1.0),), kind="prefill_gemm_efficiency"),
    ),
    "tensorrt-edge-llm": (
        Constant("all GPUs: TensorRT Edge-LLM host cycles per step", 5.0e5, 0.0, 2e7,
                 "assumption: lean C++ runtime step with on-device sampling, ~0.25 ms at 2 GHz",
                 stack_paths=(("costs.default.step_host_cycles", 1.0),)),
    ),
    "llama.cpp": (
        Constant("arm-cpu and x86-cpu: llama.cpp GEMV efficiency (of the DRAM streaming fraction)", 1.0, 0.5, 1.0,
                 "prior: the CPU's achievable_fraction holds it",
                 stack_paths=(("costs.arm-cpu.dense_gemv_efficiency", 1.0), ("costs.x86-cpu.dense_gemv_efficiency", 1.0)),
                 kind="dense_gemv_efficiency"),
        Constant("apple-gpu: llama.cpp Metal q4_0 mat-vec efficiency relative to f16", 1.0, 0.4, 1.0,
                 "prior: as the f16 kernel",
                 stack_paths=(("costs.apple-gpu.formats.q4_0.gemv_efficiency", 1.0),), kind="int4_group_gemv_relative"),
        Constant("apple-gpu: llama.cpp Metal GEMM (prefill) efficiency of the fp16 peak", 0.6, 0.2, 1.0,
                 "prior: the Apple GPU class assumption 0.6 (compute_efficiency of the Apple presets)",
                 stack_paths=(("costs.apple-gpu.matrix_efficiency", 1.0),), kind="prefill_gemm_efficiency"),
    ),
}


def _specs(stack: str, consts: Sequence[Constant], x: np.ndarray, devices: set[str], base_hw: dict[str, dict]):
    st = stack_with_edits(stack, {p: float(v) * f for c, v in zip(consts, x) for p, f in c.stack_paths})
    hw: dict[str, dict[str, float]] = {d: dict(base_hw.get(d, {})) for d in devices}
    for c, v in zip(consts, x):
        for d in devices & set(c.devices):
            hw[d].update({p: float(v) * c.hw_scale for p in c.hw_paths})
    return st, {d: hardware_with_edits(d, hw[d] or None) for d in devices}


def _residuals(stack: str, consts: Sequence[Constant], x: np.ndarray, subset: Sequence[Row],
               base_hw: dict[str, dict]) -> np.ndarray:
    st, specs = _specs(stack, consts, x, {r.device for r in subset}, base_hw)
    out = []
    for r in subset:
        pred = predict(specs[r.device], r, st)
        for metric, measured in r.measured_metrics().items():
            if metric != "power":
                out.append((pred.metric(metric) - measured) / measured)
    return np.array(out)


def _constrained(consts: Sequence[Constant], subset: Sequence[Row], stack: str, base_hw: dict[str, dict]) -> list[bool]:
    """Which constants the rows move at all (the others stay at the prior)."""
    if not subset:
        return [False] * len(consts)
    x0 = np.array([c.prior for c in consts])
    r0 = _residuals(stack, consts, x0, subset, base_hw)
    out = []
    for i, c in enumerate(consts):
        x = x0.copy()
        x[i] = c.high if c.high - c.prior >= c.prior - c.low else c.low  # the farther bound
        out.append(bool(np.max(np.abs(_residuals(stack, consts, x, subset, base_hw) - r0)) > 1e-9))
    return out


# Pooling across stacks (a penalised, two-level fit). Constants of one `kind` measure the same
# thing in different stacks or device classes (a DRAM streaming fraction, an int4 group-quant
# GEMV's bandwidth relative to its stack's baseline kernel, unpack ops per int4 weight, a prefill
# GEMM's fraction of the matrix peak, a dense GEMV's fraction of the streaming bandwidth). Pass 1
# fits each stack on its own rows; the pool of a kind is the geometric mean of the pass-1 values
# of the *other* stacks whose rows constrain it. Pass 2 refits each stack with one extra residual
# per pooled constant, POOL_WEIGHT x ln(value / pool): a stack's departure from what the other
# stacks say is a multiplier shrunk toward 1, and a factor e away costs as much as a
# POOL_WEIGHT relative error on one measured rate. A constant that no row of its stack
# constrains takes the pool (clipped to its bounds) instead of its prior.
POOL_WEIGHT = 0.05

_FIT_CACHE: dict[tuple, tuple[np.ndarray, tuple[bool, ...]]] = {}


def _key(stack: str, subset: Sequence[Row], base_hw: dict[str, dict], pool: dict[str, float]) -> tuple:
    return (stack, tuple((r.file, r.line, r.device, r.model, r.weight_format) for r in subset),
            repr(sorted((d, sorted(v.items())) for d, v in base_hw.items())), tuple(sorted(pool.items())))


def _start(consts: Sequence[Constant], pool: dict[str, float]) -> np.ndarray:
    """The value a constant takes without rows: the pool of its kind (within bounds), else its prior."""
    return np.array([min(max(pool[c.kind] / c.pool_scale, c.low), c.high) if c.kind in pool else c.prior
                     for c in consts])


def _fit(stack: str, consts: Sequence[Constant], subset: Sequence[Row], base_hw: dict[str, dict],
         pool: dict[str, float] | None = None) -> np.ndarray:
    return _fit_free(stack, consts, subset, base_hw, pool or {})[0]


def _fit_free(stack: str, consts: Sequence[Constant], subset: Sequence[Row], base_hw: dict[str, dict],
              pool: dict[str, float]) -> tuple[np.ndarray, tuple[bool, ...]]:
    key = _key(stack, subset, base_hw, pool)
    if key in _FIT_CACHE:
        x, free = _FIT_CACHE[key]
        return x.copy(), free
    prior = _start(consts, pool)
    free = tuple(_constrained(consts, subset, stack, base_hw))
    idx = [i for i, f in enumerate(free) if f]
    if not idx:
        _FIT_CACHE[key] = (prior, free)
        return prior.copy(), free
    lo = np.array([consts[i].low for i in idx])
    hi = np.array([consts[i].high for i in idx])
    pooled = [(k, i) for k, i in enumerate(idx) if consts[i].kind in pool]

    def full(z: np.ndarray) -> np.ndarray:
        x = prior.copy()
        x[idx] = z
        return x

    def res(z: np.ndarray) -> np.ndarray:
        r = _residuals(stack, consts, full(z), subset, base_hw)
        pen = [POOL_WEIGHT * np.log(max(z[k] * consts[i].pool_scale, 1e-30) / max(pool[consts[i].kind], 1e-30))
               for k, i in pooled]
        return np.concatenate([r, np.array(pen)]) if pen else r

    scale = np.array([max(abs(consts[i].prior), 0.05 * (consts[i].high - consts[i].low)) for i in idx])
    best = None
    # three starts: the prior, the middle of the bounds and their geometric middle (a max(compute,
    # memory) cost is flat where a constant's work hides under the memory time, so one start can
    # stall there; an efficiency bounded 0.01..1 acts only near its low end)
    geo = np.where(lo > 0, np.sqrt(np.maximum(lo, 1e-300) * hi), 0.5 * (lo + hi))
    for z0 in (np.clip(prior[idx], lo, hi), 0.5 * (lo + hi), geo):
        r = least_squares(res, z0, bounds=(lo, hi), x_scale=scale, diff_step=1e-4, xtol=1e-6, ftol=1e-8, max_nfev=200)
        if best is None or r.cost < best.cost - 1e-12:
            best = r
    assert best is not None
    x = full(best.x)
    _FIT_CACHE[key] = (x, free)
    return x.copy(), free


@dataclass(frozen=True)
class StackFit:
    stack: str
    constants: tuple[Constant, ...]
    fitted: tuple[float, ...]
    rows: tuple[Row, ...]
    labels: tuple[str, ...]  # "device / model / format / metric" per residual
    metrics: tuple[str, ...]
    in_sample_pct: tuple[float, ...]
    lodo_pct: tuple[float, ...]
    loso_pct: tuple[float, ...]  # = the priors' errors


def _hw_edits(fits: Sequence[StackFit]) -> dict[str, dict]:
    """Hardware values fitted by earlier stacks (e.g. the Jetson memory fraction), per device."""
    out: dict[str, dict] = {}
    for f in fits:
        for c, v in zip(f.constants, f.fitted):
            for d in c.devices:
                out.setdefault(d, {}).update({p: float(v) * c.hw_scale for p in c.hw_paths})
    return out


def refit_stack(stack: str, rows: Sequence[Row], earlier: Sequence[StackFit] = (), *, lodo: bool = True) -> StackFit:
    consts = GROUPS[stack]
    base = _hw_edits(earlier)
    subset = [r for r in rows if r.stack == stack]
    x = _fit(stack, consts, subset, base)
    labels, metrics = [], []
    for r in subset:
        for m in r.measured_metrics():
            if m != "power":
                labels.append(f"{r.device} / {r.model} / {r.weight_format} / {m}")
                metrics.append(m)
    prior = np.array([c.prior for c in consts])
    in_sample = 100.0 * _residuals(stack, consts, x, subset, base)
    loso = 100.0 * _residuals(stack, consts, prior, subset, base)
    lodo_by_row: dict[int, list[float]] = {}
    if lodo:
        for device in dict.fromkeys(r.device for r in subset):
            others = [r for r in subset if r.device != device]
            xi = _fit(stack, consts, others, base)
            mine = [i for i, r in enumerate(subset) if r.device == device]
            errs = list(100.0 * _residuals(stack, consts, xi, [subset[i] for i in mine], base))
            for i in mine:
                n = sum(1 for m in subset[i].measured_metrics() if m != "power")
                lodo_by_row[i], errs = errs[:n], errs[n:]
    lodo_pct = [e for i in range(len(subset)) for e in lodo_by_row.get(i, [])] if lodo else []
    return StackFit(stack=stack, constants=tuple(consts), fitted=tuple(float(v) for v in x), rows=tuple(subset),
                    labels=tuple(labels), metrics=tuple(metrics), in_sample_pct=tuple(float(e) for e in in_sample),
                    lodo_pct=tuple(float(e) for e in lodo_pct), loso_pct=tuple(float(e) for e in loso))


def _pools(values: dict[str, tuple[np.ndarray, tuple[bool, ...]]], exclude: str | None) -> dict[str, float]:
    """Geometric mean per kind of the constrained values of every stack except `exclude`."""
    got: dict[str, list[float]] = {}
    for stack, (x, free) in values.items():
        if stack == exclude:
            continue
        for c, v, f in zip(GROUPS[stack], x, free):
            if c.kind and f:
                got.setdefault(c.kind, []).append(max(float(v) * c.pool_scale, 1e-30))
    return {k: float(np.exp(np.mean(np.log(v)))) for k, v in got.items()}


def _fit_everything(rows: Sequence[Row], pooled: bool = True) -> dict[str, tuple[np.ndarray, dict, dict, tuple]]:
    """{stack: (fitted values, hardware edits of earlier stacks it was fitted with, pool it was shrunk to,
    which constants its rows constrain)}."""

    def one_pass(pools: dict[str, dict[str, float]]) -> dict[str, tuple[np.ndarray, tuple[bool, ...], dict, dict]]:
        out: dict[str, tuple[np.ndarray, tuple[bool, ...], dict, dict]] = {}
        base: dict[str, dict] = {}
        for stack, consts in GROUPS.items():
            subset = [r for r in rows if r.stack == stack]
            pool = pools.get(stack, {})
            x, free = _fit_free(stack, consts, subset, base, pool)
            out[stack] = (x, free, {d: dict(v) for d, v in base.items()}, pool)
            for c, v in zip(consts, x):
                for d in c.devices:
                    base.setdefault(d, {}).update({p: float(v) * c.hw_scale for p in c.hw_paths})
        return out

    first = one_pass({})
    if pooled:
        values = {s: (x, free) for s, (x, free, _, _) in first.items()}
        first = one_pass({s: _pools(values, s) for s in GROUPS})
    return {s: (x, base, pool, free) for s, (x, free, base, pool) in first.items()}


def refit_all(rows: Sequence[Row] | None = None, *, lodo: bool = True, pooled: bool = True,
              on_step=None) -> list[StackFit]:  # noqa: ANN001 - on_step(str): progress callback
    """Fit every stack (pooled across stacks unless pooled=False) and report the three errors.

    Leave-one-device-out refits *everything* (every stack, both passes, the pools) without the
    held-out device's rows, then predicts that device's rows. Leave-one-stack-out predicts a
    stack's rows with the other stacks fitted on all their rows and the stack's own constants at
    the pools of their kinds (pooled=False: at their priors)."""
    rows = calibration_rows() if rows is None else rows
    if on_step:
        on_step("fitting every stack")
    fit = _fit_everything(rows, pooled)
    held: dict[str, dict[str, tuple[np.ndarray, dict]]] = {}
    if lodo:
        for device in dict.fromkeys(r.device for r in rows):
            if on_step:
                on_step(f"refitting without {device}")
            held[device] = {s: (x, b) for s, (x, b, _, _) in _fit_everything([r for r in rows if r.device != device],
                                                                         pooled).items()}
    values = {s: (x, free) for s, (x, _, _, free) in fit.items()}
    out = []
    for stack, consts in GROUPS.items():
        x, base, _, _ = fit[stack]
        subset = [r for r in rows if r.stack == stack]
        labels, metrics = [], []
        for r in subset:
            for m in r.measured_metrics():
                if m != "power":
                    labels.append(f"{r.device} / {r.model} / {r.weight_format} / {m}")
                    metrics.append(m)
        in_sample = 100.0 * _residuals(stack, consts, x, subset, base)
        loso_x = _start(consts, _pools(values, stack) if pooled else {})
        loso = 100.0 * _residuals(stack, consts, loso_x, subset, base)
        lodo_pct: list[float] = []
        for r in subset if lodo else []:
            xd, bd = held[r.device][stack]
            lodo_pct += list(100.0 * _residuals(stack, consts, xd, [r], bd))
        out.append(StackFit(stack=stack, constants=tuple(consts), fitted=tuple(float(v) for v in x),
                            rows=tuple(subset), labels=tuple(labels), metrics=tuple(metrics),
                            in_sample_pct=tuple(float(e) for e in in_sample), lodo_pct=tuple(float(e) for e in lodo_pct),
                            loso_pct=tuple(float(e) for e in loso)))
    return out


def preset_values(fits: Sequence[StackFit]) -> list[tuple[str, str, str, float, Constant, str]]:
    """(kind 'stack'|'hardware', preset, dotted path, value in SI, constant, fitted stack) the presets carry."""
    out = []
    for f in fits:
        for c, v in zip(f.constants, f.fitted):
            out += [("stack", f.stack, p, v * fac, c, f.stack) for p, fac in c.stack_paths]
            out += [("stack", st, p, v * fac, c, f.stack) for st, p, fac in c.also]
            out += [("hardware", d, p, v * c.hw_scale, c, f.stack) for d in c.devices for p in c.hw_paths]
    return out


# ----------------------------------------------------------------------------- writing presets

_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.+-]+):(.*)$")
_VALUE = re.compile(r'(value:\s*)("[^"]*"|[-+0-9.eE]+)')


def _format(v: float) -> str:
    if v == 0:
        return "0.0"
    if abs(v) >= 1e5:
        return f"{v:.4e}"
    return f"{v:.4g}" if abs(v) >= 1 else f"{v:.4f}"


def write_value(path: Path, dotted: str, value: float, note: str, unit: tuple[str, float] | None = None) -> None:
    """Set the `value:` of the key at `dotted` in a preset YAML file (block-style keys), or add it."""
    text = _format(value) if unit is None else f'"{value / unit[1]:.4g} {unit[0]}"'
    lines = path.read_text().splitlines()
    want = dotted.split(".")

    def walk():  # noqa: ANN202 - (line index, indent, key path) of every block-style key
        stack: list[tuple[int, str]] = []
        for i, line in enumerate(lines):
            m = _KEY.match(line)
            if not m or line.lstrip().startswith("#"):
                continue
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(2)))
            yield i, indent, [k for _, k in stack]

    for i, _, keys in walk():
        if keys == want:
            line = lines[i]
            if not _VALUE.search(line):
                raise ValueError(f"{path}: {dotted} has no 'value:' to set")
            line = _VALUE.sub(lambda mm: mm.group(1) + text, line, count=1)
            line = re.sub(r'(source|assumption): "[^"]*"', f'source: "{note}"', line, count=1)
            lines[i] = line
            path.write_text("\n".join(lines) + "\n")
            return
    for depth in range(len(want) - 1, 0, -1):  # missing: add it under its deepest existing parent
        for i, indent, keys in walk():
            if keys != want[:depth]:
                continue
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                j += 1
            add = []
            for k, key in enumerate(want[depth:]):
                pad = " " * (indent + 2 * (k + 1))
                leaf = k == len(want) - depth - 1
                add.append(f'{pad}{key}: {{value: {text}, source: "{note}"}}' if leaf else f"{pad}{key}:")
            lines[j:j] = add
            path.write_text("\n".join(lines) + "\n")
            return
    raise ValueError(f"{path}: cannot place {dotted}")


def write_presets(fits: Sequence[StackFit]) -> None:
    seen = {f.stack: {r.device for r in f.rows} for f in fits}
    for kind, preset, dotted, value, c, fitted_on in preset_values(fits):
        note = f"fitted by slmsim.refit on the calibration rows of stack '{fitted_on}' (docs/validation.md)"
        if kind == "hardware" and preset not in seen[fitted_on]:
            note = (f"class constant fitted by slmsim.refit on the '{fitted_on}' calibration rows of "
                    f"{', '.join(sorted(seen[fitted_on]))}, carried to this preset (docs/validation.md)")
        file = stack_preset_path(preset) if kind == "stack" else hw_preset_path(preset)
        assert file is not None, preset
        write_value(Path(file), dotted, value, note, c.hw_unit if kind == "hardware" else None)


# ----------------------------------------------------------------------------- report


def summary(fits: Sequence[StackFit], metric: str) -> dict[str, tuple[int, float, float]]:
    """{'in-sample'|'lodo'|'loso': (n, MAPE %, worst |error| %)} over every residual of `metric`."""
    out = {}
    for key, attr in (("in-sample", "in_sample_pct"), ("lodo", "lodo_pct"), ("loso", "loso_pct")):
        errs = np.array([abs(e) for f in fits for m, e in zip(f.metrics, getattr(f, attr)) if m == metric])
        if errs.size:
            out[key] = (int(errs.size), float(errs.mean()), float(errs.max()))
    return out


def report_lines(fits: Sequence[StackFit]) -> list[str]:
    """The refit report: each stack's constants (prior -> fitted, bounds) and per-row errors
    in-sample / left out, then the MAPE summary per metric (`python -m slmsim.refit`,
    `slmsim validate --refit`)."""
    out = []
    for f in fits:
        out.append(f"\n== {f.stack}: {len(f.rows)} rows")
        for c, v in zip(f.constants, f.fitted):
            out.append(f"  {c.name}: prior {c.prior:.4g} -> fitted {v:.4g}  (bounds {c.low:.3g}..{c.high:.3g})")
        for lab, i, lo, ls in zip(f.labels, f.in_sample_pct, f.lodo_pct, f.loso_pct):
            out.append(f"  {lab:<70} in-sample {i:+7.1f}%  leave-one-device-out {lo:+7.1f}%  "
                       f"leave-one-stack-out {ls:+7.1f}%")
    for metric in ("decode", "prefill"):
        s = summary(fits, metric)
        out.append(f"\n{metric}: " + "; ".join(f"{k} MAPE {v[1]:.1f}% (worst {v[2]:.1f}%, {v[0]} rows)"
                                              for k, v in s.items()))
    return out


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - prints the report
    ap = argparse.ArgumentParser(prog="python -m slmsim.refit")
    ap.add_argument("--write", action="store_true", help="write the fitted values into the preset YAML files")
    ap.add_argument("--no-pool", action="store_true", help="fit each stack alone (no pooling across stacks)")
    args = ap.parse_args(argv)
    fits = refit_all(pooled=not args.no_pool)
    print("\n".join(report_lines(fits)))
    if args.write:
        write_presets(fits)
        print("\nwrote the fitted values into the presets")


if __name__ == "__main__":  # pragma: no cover
    main()
