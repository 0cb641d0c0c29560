"""Predicted vs measured decode rates on real devices, and the fit of the class constants.

`slmsim/data/calibration-decode.csv` (copied from shared/reference, sources per row) lists
measured decode tokens/s. Each row names the software stack; `STACKS` says what that
stack means for the scenario (weight layout, scales, fixed context window), with where we
read it. `validate()` runs every row on the presets as they are.

Class constants (a few per device class, never per (device, model)) are fitted by least
squares on the relative error of the rows of that class (`fit_class`), with leave-one-out
errors so the reported accuracy is not only in-sample. The presets carry the fitted values
and cite this procedure; a test checks they still equal what the fit gives.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from slmsim.hw_models.load import hardware_with_edits, load_hardware
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.core.errors import Infeasible
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class StackSettings:
    weight_group_size: int | None
    scale_bits: int
    static_kv_tokens: int | None
    why: str


# What each measured software stack does to the bytes a decode step moves.
STACKS: dict[str, StackSettings] = {
    "MLC 0.1.4 q4f16_ft": StackSettings(
        None, 16, None,
        "FasterTransformer int4, per-channel fp16 scales (mlc-ai/mlc-llm python/mlc_llm/quantization/"
        "quantization.py: q4f16_ft, group_size=-1)"),
    "MLC/TVM 4-bit": StackSettings(
        32, 16, None, "older MLC q4f16_1: int4 with an fp16 scale per group of 32 (same file)"),
    "Qualcomm Genie w4a16 NPU ctx 4096": StackSettings(
        None, 16, 4096,
        "w4a16 per-channel; the model is compiled for a 4096-token context and attends over the whole window "
        "each step (quic/ai-hub-models llama_v3_2_3b_instruct/model.py: context length 'hurts ... "
        "tokens-per-second'); KV in 16 bits like the other activations (assumption)"),
    "gpt-fast torch.compile bf16 (330 W cap)": StackSettings(None, 16, None, "bf16 weights"),
    "gpt-fast torch.compile int8 weight-only": StackSettings(
        None, 16, None, "int8 weight-only, per-channel scales (pytorch-labs/gpt-fast quantize.py)"),
    "gpt-fast torch.compile int4 weight-only g32": StackSettings(
        32, 32, None, "int4 groups of 32 with a bf16 scale and a bf16 zero point each (gpt-fast quantize.py)"),
}


@dataclass(frozen=True)
class Row:
    device: str
    model: str
    stack: str
    weight_bits: int
    prompt_tokens: int
    gen_tokens: int
    batch: int
    measured: float
    source: str

    def scenario(self) -> Scenario:
        st = STACKS[self.stack]
        prec = Precision(weight_bits=self.weight_bits,
                         weight_group_size=st.weight_group_size if self.weight_bits < 16 else None,
                         scale_bits=st.scale_bits)
        return Scenario(prompt_tokens=self.prompt_tokens, gen_tokens=self.gen_tokens, batch=self.batch,
                        precision=prec, static_kv_tokens=st.static_kv_tokens)


def rows(file: str = "calibration-decode.csv") -> list[Row]:
    """Calibration rows (the fits use these) or, with `heldout-decode.csv`, rows no fit has seen."""
    with open(DATA / file, newline="") as f:
        return [Row(device=r["device"], model=r["model"], stack=r["stack"], weight_bits=int(r["weight_bits"]),
                    prompt_tokens=int(r["prompt_tokens"]), gen_tokens=int(r["gen_tokens"]), batch=int(r["batch"]),
                    measured=float(r["decode_tokens_per_s"]), source=r["source"])
                for r in csv.DictReader(f)]


@dataclass(frozen=True)
class RowResult:
    row: Row
    predicted: float
    power_w: float

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.row.measured) / self.row.measured


@lru_cache(maxsize=None)
def _model(name: str):  # noqa: ANN202 - cached ModelSpec
    return load_model(name)


def predict(hw: HardwareSpec, row: Row) -> tuple[float, float]:
    plan = make_plan(hw, _model(row.model), row.scenario())
    if isinstance(plan, Infeasible):
        raise ValueError(f"{row.device} / {row.model}: {plan.render()}")
    res = run(plan)
    return res.decode_tokens_per_s, res.average_power_w


def validate(selected: Sequence[Row] | None = None) -> list[RowResult]:
    out = []
    for row in selected if selected is not None else rows():
        tps, power = predict(load_hardware(row.device).spec, row)
        out.append(RowResult(row=row, predicted=tps, power_w=power))
    return out


# ----------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class CalibrationClass:
    name: str
    devices: tuple[str, ...]  # the rows of these devices are fitted
    params: tuple[str, ...]  # YAML paths in the device preset, SI values
    start: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    applies_to: tuple[str, ...]  # presets that carry the fitted values
    why: str


CLASSES: dict[str, CalibrationClass] = {
    "jetson-mlc": CalibrationClass(
        "jetson-mlc", ("orin-nano",),
        ("memories.dram.achievable_fraction", "devices.gpu.kernel_overhead"),
        (0.8, 5e-6), (0.3, 0.0), (1.0, 2e-4),
        ("orin-nano", "orin-nano-super", "agx-orin-64gb"),
        "LPDDR5 streaming efficiency and per-kernel cost of MLC/TVM on Jetson Orin"),
    "hexagon-genie": CalibrationClass(
        "hexagon-genie", ("snapdragon-8-elite",),
        ("memories.dram.achievable_fraction", "devices.npu.kernel_overhead"),
        (0.8, 2e-5), (0.3, 0.0), (1.0, 1e-3),
        ("snapdragon-8-elite", "sa8255p"),
        "LPDDR5X streaming efficiency and per-op cost of Qualcomm Genie on Hexagon"),
    "datacenter-gpu": CalibrationClass(
        "datacenter-gpu", ("a100-80gb",),
        ("devices.gpu.kernel_overhead", "devices.gpu.dequant_ops_per_weight"),
        (5e-6, 10.0), (0.0, 0.0), (1e-4, 50.0),
        ("a100-80gb", "h100-sxm"),
        "per-kernel cost (CUDA graphs) and int8/int4 dequantisation work of gpt-fast-class kernels; "
        "HBM efficiency is the class assumption 0.9"),
}


@dataclass(frozen=True)
class FitResult:
    cls: CalibrationClass
    values: tuple[float, ...]
    in_sample_pct: tuple[float, ...]
    leave_one_out_pct: tuple[float, ...]
    rows: tuple[Row, ...]


def _residuals(cls: CalibrationClass, x: np.ndarray, subset: Sequence[Row]) -> np.ndarray:
    edits = {p: float(v) for p, v in zip(cls.params, x)}
    specs = {d: hardware_with_edits(d, edits) for d in {r.device for r in subset}}
    return np.array([(predict(specs[r.device], r)[0] - r.measured) / r.measured for r in subset])


def fit_class(name: str) -> FitResult:
    cls = CLASSES[name]
    subset = [r for r in rows() if r.device in cls.devices]

    def fit(on: Sequence[Row], x0: Sequence[float]) -> np.ndarray:
        res = least_squares(lambda x: _residuals(cls, x, on), np.array(x0, dtype=float),
                            bounds=(np.array(cls.low), np.array(cls.high)), x_scale="jac")
        return res.x

    x = fit(subset, cls.start)
    in_sample = 100.0 * _residuals(cls, x, subset)
    loo = []
    for i, held in enumerate(subset):
        others = subset[:i] + subset[i + 1:]
        xi = fit(others, x) if len(others) >= len(cls.params) else x
        loo.append(100.0 * float(_residuals(cls, xi, [held])[0]))
    return FitResult(cls=cls, values=tuple(float(v) for v in x), in_sample_pct=tuple(float(e) for e in in_sample),
                     leave_one_out_pct=tuple(loo), rows=tuple(subset))


def power_band() -> list[dict[str, str]]:
    with open(DATA / "calibration-power.csv", newline="") as f:
        return list(csv.DictReader(f))
