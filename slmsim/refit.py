"""PROVISIONAL refit of the per-(device class x stack) constants on all calibration rows.

Issue 12's first refit, made before the physics changes of issue 11 are merged: it reports
what a few named, bounded constants per (device class x stack) achieve, in-sample,
leave-one-device-out and leave-one-stack-out. It does not write the presets (the lead redoes
the fit on top of the merged physics); `python -m slmsim.refit` prints the figures that
docs/validation.md quotes.

Each stack's constants only move the rows of that stack, so each stack is fitted on its own
rows (decode and prefill, relative errors, least squares within the bounds).
- leave-one-device-out: the stack's constants refitted without the rows of that device,
  then that device's rows predicted; a constant that no remaining row constrains stays at
  its preset value (the prior).
- leave-one-stack-out: no row of the stack is fitted, so its constants are the preset values;
  this is the "before the refit" error of that stack's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from slmsim.hw_models.load import hardware_with_edits, load_hardware
from slmsim.stacks.load import load_stack, stack_with_edits
from slmsim.validation import Row, calibration_rows, predict


@dataclass(frozen=True)
class Constant:
    name: str  # what it is, for the report
    stack_paths: tuple[str, ...] = ()  # paths in the stack preset set to the value
    hw_paths: tuple[str, ...] = ()  # paths in the hardware presets of `devices` set to the value
    devices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0


# A few constants per stack, each tied to one device class of it (or all of them: 'default').
GROUPS: dict[str, tuple[Constant, ...]] = {
    "mlc": (
        Constant("jetson-orin: per-kernel host cycles", ("costs.jetson-orin.host_launch_cycles",), low=0, high=1.5e5),
        Constant("jetson-orin: per-kernel GPU cycles", ("costs.jetson-orin.device_kernel_cycles",), low=0, high=6e4),
        Constant("jetson-orin: dense GEMV efficiency", ("costs.jetson-orin.dense_gemv_efficiency",), low=0.3, high=1),
    ),
    "genie": (
        Constant("hexagon-npu: per-op NPU cycles", ("costs.hexagon-npu.device_kernel_cycles",), low=0, high=1e5),
        Constant("hexagon-npu: dense GEMV efficiency", ("costs.hexagon-npu.dense_gemv_efficiency",), low=0.3, high=1),
        Constant("hexagon-npu: genie-w4 dequant ops per weight", ("formats.genie-w4.dequant_ops_per_weight",),
                 low=0, high=60),
    ),
    "torchao": (
        Constant("datacenter-gpu: per-kernel GPU cycles", ("costs.datacenter-gpu.device_kernel_cycles",), low=0,
                 high=1e5),
        Constant("datacenter-gpu: int8/int4 dequant ops per weight",
                 ("formats.int8-weight-only.dequant_ops_per_weight",
                  "formats.int4-g32-bf16-scale-zero.dequant_ops_per_weight"), low=0, high=50),
    ),
    "vllm": (
        Constant("all GPUs: host cycles per step", ("costs.default.step_host_cycles",), low=0, high=2e7),
        Constant("all GPUs: dense GEMV efficiency", ("costs.default.dense_gemv_efficiency",), low=0.3, high=1),
    ),
    "tensorrt-edge-llm": (
        Constant("all GPUs: host cycles per step", ("costs.default.step_host_cycles",), low=0, high=2e7),
    ),
    "llama.cpp": (
        Constant("apple-gpu: dense GEMV efficiency", ("costs.apple-gpu.dense_gemv_efficiency",), low=0.3, high=1),
        Constant("apple-gpu: per-kernel GPU cycles", ("costs.apple-gpu.device_kernel_cycles",), low=0, high=1e5),
        Constant("arm-cpu and x86-cpu: dense GEMV efficiency",
                 ("costs.arm-cpu.dense_gemv_efficiency", "costs.x86-cpu.dense_gemv_efficiency"), low=0.3, high=1),
        Constant("apple-gpu: prefill compute efficiency (Metal GEMM)", hw_paths=("devices.gpu.compute_efficiency",),
                 devices=("apple-m1-max", "apple-m2-max"), low=0.2, high=1.0),
    ),
}


def _prior(stack: str, c: Constant) -> float:
    if c.stack_paths:
        node = load_stack(stack).spec.model_dump()
        for key in c.stack_paths[0].split("."):
            node = node[key]
        return float(node)
    spec = load_hardware(c.devices[0]).spec.model_dump()
    node = spec
    for key in c.hw_paths[0].split("."):
        node = node[key]
    return float(node)


def _residuals(stack: str, consts: Sequence[Constant], x: np.ndarray, subset: Sequence[Row]) -> np.ndarray:
    st = stack_with_edits(stack, {p: float(v) for c, v in zip(consts, x) for p in c.stack_paths})
    hw_edits: dict[str, dict[str, float]] = {}
    for c, v in zip(consts, x):
        for d in c.devices:
            hw_edits.setdefault(d, {}).update({p: float(v) for p in c.hw_paths})
    specs = {d: hardware_with_edits(d, hw_edits.get(d)) for d in {r.device for r in subset}}
    out = []
    for r in subset:
        pred = predict(specs[r.device], r, st)
        for metric, measured in r.measured_metrics().items():
            if metric == "power":
                continue
            out.append((pred.metric(metric) - measured) / measured)
    return np.array(out)


def _fit(stack: str, consts: Sequence[Constant], subset: Sequence[Row], x0: np.ndarray) -> np.ndarray:
    if not subset:
        return x0
    lo = np.array([c.low for c in consts])
    hi = np.array([c.high for c in consts])
    res = least_squares(lambda x: _residuals(stack, consts, x, subset), np.clip(x0, lo, hi), bounds=(lo, hi),
                        x_scale=np.maximum(np.abs(x0), 1e-3 * (hi - lo)), diff_step=1e-3, max_nfev=60)
    return res.x


@dataclass(frozen=True)
class StackFit:
    stack: str
    constants: tuple[Constant, ...]
    prior: tuple[float, ...]
    fitted: tuple[float, ...]
    rows: tuple[Row, ...]
    before_pct: tuple[float, ...]  # residuals with the preset constants (= leave-one-stack-out)
    in_sample_pct: tuple[float, ...]
    lodo_pct: tuple[float, ...]
    labels: tuple[str, ...]  # "device / model / format / metric" per residual


def refit_stack(stack: str, rows: Sequence[Row]) -> StackFit:
    consts = GROUPS[stack]
    subset = [r for r in rows if r.stack == stack]
    prior = np.array([_prior(stack, c) for c in consts])
    x = _fit(stack, consts, subset, prior)
    def label(r: Row, m: str) -> str:
        return f"{r.device} / {r.model} / {r.weight_format} / {Path(r.file).stem}:{r.line} / {m}"

    labels = tuple(label(r, m) for r in subset for m in r.measured_metrics() if m != "power")
    lodo: list[float] = []
    for device in dict.fromkeys(r.device for r in subset):
        others = [r for r in subset if r.device != device]
        xi = _fit(stack, consts, others, prior)
        lodo += list(100.0 * _residuals(stack, consts, xi, [r for r in subset if r.device == device]))
    order = [r for d in dict.fromkeys(r.device for r in subset) for r in subset if r.device == d]
    labels_lodo = tuple(label(r, m) for r in order for m in r.measured_metrics() if m != "power")
    # put LODO residuals in the order of `labels`
    by_label = dict(zip(labels_lodo, lodo))
    return StackFit(stack=stack, constants=tuple(consts), prior=tuple(prior), fitted=tuple(float(v) for v in x),
                    rows=tuple(subset), before_pct=tuple(100.0 * _residuals(stack, consts, prior, subset)),
                    in_sample_pct=tuple(100.0 * _residuals(stack, consts, x, subset)),
                    lodo_pct=tuple(by_label[k] for k in labels), labels=labels)


def main() -> None:  # pragma: no cover - prints the report
    rows = calibration_rows()
    fits = [refit_stack(s, rows) for s in GROUPS]
    allrec = []
    for f in fits:
        print(f"\n== {f.stack}: {len(f.rows)} rows")
        for c, p, v in zip(f.constants, f.prior, f.fitted):
            print(f"  {c.name}: {p:.4g} -> {v:.4g}  (bounds {c.low:.3g}..{c.high:.3g})")
        for lab, b, i, lo in zip(f.labels, f.before_pct, f.in_sample_pct, f.lodo_pct):
            print(f"  {lab:<86} before {b:+7.1f}%  in-sample {i:+7.1f}%  leave-one-device-out {lo:+7.1f}%")
            allrec.append((lab, b, i, lo))
    for metric in ("decode", "prefill"):
        rec = [r for r in allrec if r[0].endswith("/ " + metric)]
        b, i, lo = (np.array([abs(r[k]) for r in rec]) for k in (1, 2, 3))
        print(f"\n{metric}: {len(rec)} rows; before (= leave-one-stack-out) MAPE {b.mean():.1f}% (worst {b.max():.1f}%), "
              f"in-sample {i.mean():.1f}% (worst {i.max():.1f}%), leave-one-device-out {lo.mean():.1f}% "
              f"(worst {lo.max():.1f}%)")


if __name__ == "__main__":  # pragma: no cover
    main()
