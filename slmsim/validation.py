"""Predicted vs measured rates on real devices, and the fit of the class constants.

Measured rows (`slmsim/data/calibration-decode.csv`, `calibration-decode-2.csv`, copied from
shared/reference with a source on every row) name a device, a model, a software stack and
its weight format. A row is predicted by the presets as they are: the stack preset
(`stacks/presets/`) says what the stack does (weight layout, kernels, static context
window); `mapping.stack` combines it with the device and the model. Nothing here holds a
per-stack setting.

A row may measure decode tokens/s, prefill tokens/s and power; each measured metric is
predicted. A row that cannot run (unknown device, model, stack or format; infeasible) gets
a reason, never an exception.

Class constants (a few per device class x stack, never per (device, model)) are fitted by
least squares on the relative error of the rows of that class (`fit_class`), with
leave-one-out errors so the reported accuracy is not only in-sample.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from slmsim.core.errors import Infeasible, Problem, SpecError
from slmsim.hw_models.load import hardware_with_edits, load_hardware
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.stack import make_stack_plan
from slmsim.simulator.engines import run
from slmsim.stacks.load import format_library, load_stack, stack_with_edits
from slmsim.stacks.spec import StackSpec
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

DATA = Path(__file__).parent / "data"
CALIBRATION_FILES = ("calibration-decode.csv", "calibration-decode-2.csv")

# The first calibration file names stacks by a label of the source's wording; this says
# which stack preset and weight format each label is (the settings live in the presets).
LEGACY_STACK_LABELS: dict[str, tuple[str, str]] = {
    "MLC 0.1.4 q4f16_ft": ("mlc", "q4f16_ft"),
    "MLC/TVM 4-bit": ("mlc", "q4f16_1"),
    "Qualcomm Genie w4a16 NPU ctx 4096": ("genie", "genie-w4a16"),
    "gpt-fast torch.compile bf16 (330 W cap)": ("torchao", "bf16"),
    "gpt-fast torch.compile int8 weight-only": ("torchao", "int8-weight-only"),
    "gpt-fast torch.compile int4 weight-only g32": ("torchao", "int4-g32-bf16-scale-zero"),
}
METRICS = ("decode", "prefill", "power")


@dataclass(frozen=True)
class Row:
    device: str
    model: str
    stack: str
    weight_format: str
    prompt_tokens: int
    gen_tokens: int
    batch: int
    decode_tokens_per_s: float | None
    prefill_tokens_per_s: float | None = None
    power_w: float | None = None
    source: str = ""
    # the measured "decode" rate is output tokens / (TTFT + decode time) (vllm bench serve's
    # "output token throughput"), not decode alone
    decode_includes_ttft: bool = False
    file: str = ""
    line: int = 0

    @property
    def measured(self) -> float:
        """The measured decode rate (rows of the first file always have one)."""
        assert self.decode_tokens_per_s is not None
        return self.decode_tokens_per_s

    def measured_metrics(self) -> dict[str, float]:
        got = {"decode": self.decode_tokens_per_s, "prefill": self.prefill_tokens_per_s, "power": self.power_w}
        return {k: v for k, v in got.items() if v is not None}

    def scenario(self) -> Scenario:
        return Scenario(prompt_tokens=self.prompt_tokens, gen_tokens=self.gen_tokens, batch=self.batch)


_COLUMNS = ("device", "model", "stack", "weight_format", "prompt_tokens", "gen_tokens", "batch")


def _number(text: str | None, *, file: str, line: int, column: str, integer: bool = False) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise SpecError([Problem(file=file, path=f"line {line}, column {column}", value=text,
                                 message="not a number", expected="an integer" if integer else "a number",
                                 hint="leave the cell empty when the figure was not measured")]) from None
    if not math.isfinite(value) or value <= 0:
        raise SpecError([Problem(file=file, path=f"line {line}, column {column}", value=text,
                                 message="must be a positive finite number", expected="> 0")])
    return float(value)


def read_csv(path: str | Path) -> list[Row]:
    """Rows of a CSV with the columns of calibration-decode-2.csv (or the first file's layout)."""
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(file=shown, path="", message="file not found")]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(file=shown, path="", message=f"cannot read file: {exc}")]) from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    legacy = "weight_bits" in header and "weight_format" not in header
    need = [c for c in _COLUMNS if c != "weight_format" or not legacy]
    missing = [c for c in need if c not in header]
    if missing:
        raise SpecError([Problem(
            file=shown, path="header", message=f"missing column(s): {', '.join(missing)}", value=",".join(header),
            expected=", ".join(_COLUMNS) + ", decode_tokens_per_s, prefill_tokens_per_s, power_w, source",
            hint="other columns are ignored; an empty cell means not measured")])
    out = []
    for i, r in enumerate(reader, start=2):
        stack, fmt = (r.get("stack") or "").strip(), (r.get("weight_format") or "").strip()
        if legacy:
            stack, fmt = LEGACY_STACK_LABELS.get(stack, (stack, f"{r.get('weight_bits', '')}-bit"))
        num = {c: _number(r.get(c), file=shown, line=i, column=c, integer=True)
               for c in ("prompt_tokens", "gen_tokens", "batch")}
        if any(v is None for v in num.values()):
            raise SpecError([Problem(file=shown, path=f"line {i}", message="prompt_tokens, gen_tokens and batch "
                                     "are needed on every row", value=str({k: r.get(k) for k in num}))])
        notes = (r.get("notes") or "") + " " + (r.get("decode_metric") or "")
        out.append(Row(
            device=(r.get("device") or "").strip(), model=(r.get("model") or "").strip(), stack=stack,
            weight_format=fmt, prompt_tokens=int(num["prompt_tokens"]), gen_tokens=int(num["gen_tokens"]),
            batch=int(num["batch"]),
            decode_tokens_per_s=_number(r.get("decode_tokens_per_s"), file=shown, line=i, column="decode_tokens_per_s"),
            prefill_tokens_per_s=_number(r.get("prefill_tokens_per_s"), file=shown, line=i,
                                         column="prefill_tokens_per_s"),
            power_w=_number(r.get("power_w"), file=shown, line=i, column="power_w"),
            source=r.get("source") or "",
            decode_includes_ttft=bool(re.search(r"includes TTFT|output_throughput", notes, re.IGNORECASE)),
            file=shown, line=i))
    return out


def rows(file: str = "calibration-decode.csv") -> list[Row]:
    """Rows of a data file shipped in slmsim/data (calibration files, or `heldout-decode.csv`)."""
    return read_csv(DATA / file)


def calibration_rows() -> list[Row]:
    """Every calibration row (the fits may use only these)."""
    return [r for f in CALIBRATION_FILES for r in rows(f)]


# ----------------------------------------------------------------------------- predicting


@dataclass(frozen=True)
class Prediction:
    decode: float
    prefill: float
    power: float

    def metric(self, name: str) -> float:
        return {"decode": self.decode, "prefill": self.prefill, "power": self.power}[name]


@dataclass(frozen=True)
class RowResult:
    row: Row
    prediction: Prediction | None
    reason: str | None = None

    @property
    def predicted(self) -> float:
        """Predicted decode rate (first-file API); NaN when the row could not run."""
        return self.prediction.decode if self.prediction is not None else math.nan

    @property
    def power_w(self) -> float:
        return self.prediction.power if self.prediction is not None else math.nan

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.row.measured) / self.row.measured

    def metrics(self) -> list[dict]:
        """One record per measured metric: {device, model, stack, weight_format, metric, measured, predicted, error_pct}."""
        out = []
        for metric, measured in self.row.measured_metrics().items():
            pred = self.prediction.metric(metric) if self.prediction is not None else None
            rec = {"device": self.row.device, "model": self.row.model, "stack": self.row.stack,
                   "weight_format": self.row.weight_format, "metric": metric, "measured": measured,
                   "predicted": pred,
                   "error_pct": None if pred is None else 100.0 * (pred - measured) / measured}
            if pred is None:
                rec["reason"] = self.reason
            out.append(rec)
        return out


@lru_cache(maxsize=None)
def _model(name: str):  # noqa: ANN202 - cached ModelSpec
    return load_model(name)


@lru_cache(maxsize=None)
def _hardware(name: str) -> HardwareSpec:
    return load_hardware(name).spec


@lru_cache(maxsize=None)
def _stack(name: str) -> StackSpec:
    return load_stack(name).spec


def predict(hw: HardwareSpec, row: Row, stack: StackSpec | None = None) -> Prediction:
    """Predict one row on `hw` (a SpecError or ValueError says why it cannot run)."""
    stack = stack if stack is not None else _stack(row.stack)
    plan, _ = make_stack_plan(hw, _model(row.model), row.scenario(), stack, row.weight_format, format_library())
    if isinstance(plan, Infeasible):
        raise ValueError(plan.render())
    res = run(plan)
    prefill_s = res.prefill_time_s
    decode = res.generated_tokens / res.total_time_s if row.decode_includes_ttft else res.decode_tokens_per_s
    return Prediction(decode=decode, prefill=row.batch * row.prompt_tokens / prefill_s, power=res.average_power_w)


def _reason(exc: Exception) -> str:
    if isinstance(exc, SpecError):
        return "; ".join(p.message + (f" ({p.hint})" if p.hint else "") for p in exc.problems)
    return str(exc)


def predict_row(row: Row, *, hw: HardwareSpec | None = None, stack: StackSpec | None = None) -> RowResult:
    try:
        spec = hw if hw is not None else _hardware(row.device)
    except SpecError as exc:
        return RowResult(row, None, f"unknown device {row.device!r}: {_reason(exc)}")
    try:
        _model(row.model)
    except SpecError as exc:
        return RowResult(row, None, f"unknown model {row.model!r}: {_reason(exc)}")
    try:
        st = stack if stack is not None else _stack(row.stack)
    except SpecError as exc:
        return RowResult(row, None, f"unknown stack {row.stack!r}: {_reason(exc)}")
    try:
        return RowResult(row, predict(spec, row, st))
    except SpecError as exc:
        return RowResult(row, None, _reason(exc))
    except ValueError as exc:
        return RowResult(row, None, str(exc))


def validate(selected: Sequence[Row] | None = None, *, progress: Callable[[Iterable[Row]], Iterable[Row]] | None = None
             ) -> list[RowResult]:
    todo = selected if selected is not None else rows()
    return [predict_row(r) for r in (progress(todo) if progress else todo)]


@dataclass(frozen=True)
class Summary:
    metric: str
    n: int
    mape: float
    worst: dict | None
    not_run: int


def summarise(results: Sequence[RowResult]) -> list[Summary]:
    out = []
    records = [m for r in results for m in r.metrics()]
    for metric in METRICS:
        recs = [m for m in records if m["metric"] == metric]
        done = [m for m in recs if m["predicted"] is not None]
        if not recs:
            continue
        errs = [abs(m["error_pct"]) for m in done]
        worst = max(done, key=lambda m: abs(m["error_pct"])) if done else None
        out.append(Summary(metric, len(done), float(np.mean(errs)) if errs else math.nan, worst, len(recs) - len(done)))
    return out


# ----------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class Param:
    """One fitted constant: a value written to hardware-preset paths and to stack-preset paths x factor."""

    name: str
    hw_paths: tuple[str, ...] = ()
    stack_paths: tuple[tuple[str, float], ...] = ()  # (path in the stack preset, factor applied to the value)


@dataclass(frozen=True)
class CalibrationClass:
    name: str
    devices: tuple[str, ...]  # the rows of these devices (in the first calibration file) are fitted
    stack: str
    params: tuple[Param, ...]
    start: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    applies_to: tuple[str, ...]  # hardware presets that carry the fitted hardware values
    why: str


# Per-kernel time at the reference device of the class is fitted, then stated in the stack
# preset as cycles: half on the host CPU (at its clock), half on the device (at its clock).
CLASSES: dict[str, CalibrationClass] = {
    "jetson-mlc": CalibrationClass(
        "jetson-mlc", ("orin-nano",), "mlc",
        (Param("memories.dram.achievable_fraction", hw_paths=("memories.dram.achievable_fraction",)),
         Param("per-kernel time at orin-nano (s)", stack_paths=(
             ("costs.jetson-orin.host_launch_cycles", 0.5 * 1.5e9),
             ("costs.jetson-orin.device_kernel_cycles", 0.5 * 625e6)))),
        (0.8, 5e-6), (0.3, 0.0), (1.0, 2e-4),
        ("orin-nano", "orin-nano-super", "agx-orin-64gb"),
        "LPDDR5 streaming efficiency and per-kernel cost of MLC/TVM on Jetson Orin"),
    "hexagon-genie": CalibrationClass(
        "hexagon-genie", ("snapdragon-8-elite",), "genie",
        (Param("memories.dram.achievable_fraction", hw_paths=("memories.dram.achievable_fraction",)),
         Param("per-op time on Hexagon (s)", stack_paths=(("costs.hexagon-npu.device_kernel_cycles", 1.5e9),))),
        (0.8, 2e-5), (0.3, 0.0), (1.0, 6.6e-5),
        ("snapdragon-8-elite", "sa8255p"),
        "LPDDR5X streaming efficiency and per-op cost of Qualcomm Genie on Hexagon"),
    "datacenter-gpu": CalibrationClass(
        "datacenter-gpu", ("a100-80gb",), "torchao",
        (Param("per-kernel time at a100 (s)", stack_paths=(("costs.datacenter-gpu.device_kernel_cycles", 1.41e9),)),
         Param("dequant_ops_per_weight (int8, int4)", stack_paths=(
             ("formats.int8-weight-only.dequant_ops_per_weight", 1.0),
             ("formats.int4-g32-bf16-scale-zero.dequant_ops_per_weight", 1.0)))),
        (5e-6, 10.0), (0.0, 0.0), (7e-5, 50.0),
        ("a100-80gb", "h100-sxm"),
        "per-kernel cost (CUDA graphs) and int8/int4 dequantisation work of torchao / gpt-fast kernels; "
        "HBM efficiency is the class assumption 0.9"),
}


@dataclass(frozen=True)
class FitResult:
    cls: CalibrationClass
    values: tuple[float, ...]
    in_sample_pct: tuple[float, ...]
    leave_one_out_pct: tuple[float, ...]
    rows: tuple[Row, ...]


def _edited(cls: CalibrationClass, x: np.ndarray, devices: Iterable[str]) -> tuple[dict[str, HardwareSpec], StackSpec]:
    hw_edits = {p: float(v) for par, v in zip(cls.params, x) for p in par.hw_paths}
    st_edits = {p: float(v) * f for par, v in zip(cls.params, x) for p, f in par.stack_paths}
    return {d: hardware_with_edits(d, hw_edits) for d in devices}, stack_with_edits(cls.stack, st_edits)


def _residuals(cls: CalibrationClass, x: np.ndarray, subset: Sequence[Row]) -> np.ndarray:
    specs, stack = _edited(cls, x, {r.device for r in subset})
    return np.array([(predict(specs[r.device], r, stack).decode - r.measured) / r.measured for r in subset])


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
