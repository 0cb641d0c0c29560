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
`slmsim.refit` on every calibration row and written to the presets; it reports in-sample,
leave-one-device-out and leave-one-stack-out errors.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from slmsim.core import csvio
from slmsim.core.errors import Infeasible, Problem, SpecError
from slmsim.hw_models.load import load_hardware
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.stack import make_stack_plan
from slmsim.simulator.engines import run
from slmsim.stacks.load import format_library, load_stack
from slmsim.stacks.spec import StackSpec
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

DATA = Path(__file__).parent / "data"
CALIBRATION_FILES = ("calibration-decode.csv", "calibration-decode-2.csv")

# The first calibration file names stacks by a label of the source's wording; this says
# which stack preset and weight format each label is (the settings live in the presets).
LEGACY_STACK_LABELS: dict[str, tuple[str, str]] = {
    "MLC 0.1.4 q4f16_ft": ("mlc", "q4f16_ft"),
    # The chart says only "4-bit (MLC/TVM)"; assumption: q4f16_ft, the default of the benchmark script
    # the Jetson AI Lab tables were made with (dusty-nv/jetson-containers packages/llm/mlc/benchmark.sh),
    # which MLC runs for the llama architecture (mlc_llm/model/model.py: llama has ft-quant).
    "MLC/TVM 4-bit": ("mlc", "q4f16_ft"),
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
    # a serving benchmark of `requests` requests at most `batch` at a time (vllm bench serve
    # --num-prompts N --max-concurrency batch): predicted with the serving DES
    requests: int | None = None
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


# what a measured cell may hold: a rate or a power from 1e-6 to 1e9 (tokens/s, W); counts
# within the simulator's own limits (docs/input-limits.md)
MEASURED_RANGE = (1e-6, 1e9)
_COUNT_LIMITS = {"prompt_tokens": ("MAX_TOKENS", 1), "gen_tokens": ("MAX_TOKENS", 1), "batch": ("MAX_BATCH", 1)}


def _number(text: str | None, problems: list[Problem], *, file: str, line: int, column: str,
            integer: bool = False) -> float | None:
    """The cell's value; None when empty or bad (a bad cell adds to `problems`)."""
    if text is None or not text.strip():
        return None
    where = f"line {line}, column {column}"
    count = column in _COUNT_LIMITS or column == "requests"

    def bad(message: str, expected: str, hint: str | None = None) -> None:
        problems.append(Problem(file=file, path=where, value=text[:100], message=message, expected=expected,
                                hint=hint))

    try:
        value = float(text)
    except ValueError:
        bad("not a number", "a whole number" if integer else "a number",
            "a count of tokens, sequences or requests" if count else
            "leave the cell empty when the figure was not measured")
        return None
    if not math.isfinite(value) or value <= 0:
        bad("must be a positive finite number", "> 0")
        return None
    if integer:
        from slmsim.core import limits

        digits = text.strip().removeprefix("+")
        if not (digits.isascii() and digits.isdigit()):
            bad("not a whole number", "an integer written with digits only (128, not 1.28e2 or 128.5)")
            return None
        name, low = _COUNT_LIMITS.get(column, ("MAX_SPEC_INT", 1))
        high = getattr(limits, name)
        if not low <= value <= high:
            bad("out of range", f"an integer from {low} to {high:,}", "see docs/input-limits.md")
            return None
        return value  # digits only and within the limits: float(text) is exact
    if not MEASURED_RANGE[0] <= value <= MEASURED_RANGE[1]:
        bad("out of range for a measured figure",
            f"from {MEASURED_RANGE[0]:g} to {MEASURED_RANGE[1]:g} (tokens/s or W)",
            "leave the cell empty when the figure was not measured")
        return None
    return value


def read_csv(path: str | Path) -> list[Row]:
    """Rows of a CSV with the columns of calibration-decode-2.csv (or the first file's layout).

    Every bad cell of every row is reported together (one SpecError), not the first only."""
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's CSV export) is not a column name
    except FileNotFoundError:
        raise SpecError([Problem(file=shown, path="", message="file not found")]) from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise SpecError([Problem(file=shown, path=f"line {line}", message=f"not UTF-8 text: byte "
                                 f"0x{exc.object[exc.start]:02x} at offset {exc.start} of the file",
                                 hint="save the sheet as 'CSV UTF-8' (Excel) or convert it: iconv -f latin1 -t utf-8")
                         ]) from None
    except IsADirectoryError:
        raise SpecError([Problem(file=shown, path="", message="is a directory, not a CSV file",
                                 hint="give the path of a file inside it")]) from None
    except PermissionError as exc:
        raise SpecError([Problem(file=shown, path="", message=f"cannot read file: {exc.strerror}")]) from None
    reader = csv.DictReader(text.splitlines(), strict=True)  # a quote left open is a problem, not a cell
    header = csvio.header(reader, shown)
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise SpecError([Problem(file=shown, path="header", message=f"column(s) given twice: {', '.join(twice)}",
                                 value=",".join(header)[:300], hint="keep one column of each name")])
    legacy = "weight_bits" in header and "weight_format" not in header
    need = [c for c in _COLUMNS if c != "weight_format" or not legacy]
    missing = [c for c in need if c not in header]
    if missing:
        raise SpecError([Problem(
            file=shown, path="header", message=f"missing column(s): {', '.join(missing)}", value=",".join(header),
            expected=", ".join(_COLUMNS) + ", decode_tokens_per_s, prefill_tokens_per_s, power_w, source",
            hint=("the header holds ';': the file is semicolon-separated; save it with commas (a spreadsheet's "
                  "'CSV, comma-delimited')" if ";" in ",".join(header) and len(header) < len(need) else
                  "other columns are ignored; an empty cell means not measured"))])
    out: list[Row] = []
    problems: list[Problem] = []
    for i, r in enumerate(csvio.dict_rows(reader, shown), start=2):
        if None in r:  # more cells than the header has columns
            problems.append(Problem(file=shown, path=f"line {i}", message=f"{len(header) + len(r[None])} cells, "
                                    f"the header has {len(header)} columns", value=",".join(map(str, r[None]))[:200],
                                    hint="a comma inside a cell needs quotes"))
            continue
        short = [c for c in header if r.get(c) is None]  # DictReader's restval: the row ended early
        if short:
            problems.append(Problem(file=shown, path=f"line {i}", message=f"{len(header) - len(short)} cells, "
                                    f"the header has {len(header)} columns (no {', '.join(short[:4])}"
                                    f"{', ...' if len(short) > 4 else ''})",
                                    hint="an empty cell still needs its comma"))
            continue
        before = len(problems)
        stack, fmt = (r.get("stack") or "").strip(), (r.get("weight_format") or "").strip()
        if legacy:
            stack, fmt = LEGACY_STACK_LABELS.get(stack, (stack, f"{r.get('weight_bits', '')}-bit"))
        num = {c: _number(r.get(c), problems, file=shown, line=i, column=c, integer=True)
               for c in ("prompt_tokens", "gen_tokens", "batch")}
        requests = _number(r.get("requests"), problems, file=shown, line=i, column="requests", integer=True)
        measured = {c: _number(r.get(c), problems, file=shown, line=i, column=c)
                    for c in ("decode_tokens_per_s", "prefill_tokens_per_s", "power_w")}
        empty = [c for c in num if not (r.get(c) or "").strip()]
        if empty:
            problems.append(Problem(file=shown, path=f"line {i}", message="prompt_tokens, gen_tokens and batch "
                                    f"are needed on every row: {', '.join(empty)} empty",
                                    expected=f"a whole number in {', '.join(empty)}"))
        gen = num["gen_tokens"]
        if gen is not None and gen < 2 and (r.get("decode_tokens_per_s") or "").strip():
            problems.append(Problem(file=shown, path=f"line {i}, column gen_tokens", value=r.get("gen_tokens"),
                                    message="a decode rate needs at least 2 generated tokens (the first comes "
                                    "from prefill)", expected=">= 2"))
        if len(problems) > before:
            continue
        notes = (r.get("notes") or "") + " " + (r.get("decode_metric") or "")
        out.append(Row(
            device=(r.get("device") or "").strip(), model=(r.get("model") or "").strip(), stack=stack,
            weight_format=fmt, prompt_tokens=int(num["prompt_tokens"] or 0), gen_tokens=int(gen or 0),
            batch=int(num["batch"] or 0),
            decode_tokens_per_s=measured["decode_tokens_per_s"],
            prefill_tokens_per_s=measured["prefill_tokens_per_s"],
            power_w=measured["power_w"],
            source=r.get("source") or "",
            decode_includes_ttft=bool(re.search(r"includes TTFT|output_throughput", notes, re.IGNORECASE)),
            requests=int(requests) if requests is not None else None, file=shown, line=i))
    if problems:
        raise SpecError(problems)
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
            if pred is not None and not (math.isfinite(pred) and pred > 0):
                pred, why = None, f"the model's {metric} figure is not a positive finite number ({pred})"
            else:
                why = self.reason
            rec = {"device": self.row.device, "model": self.row.model, "stack": self.row.stack,
                   "weight_format": self.row.weight_format, "metric": metric, "measured": measured,
                   "predicted": pred,
                   "error_pct": None if pred is None else 100.0 * (pred - measured) / measured}
            if pred is None:
                rec["reason"] = why
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
    if row.requests is not None and row.batch > 1:
        return _predict_served(plan, row, stack)
    res = run(plan)
    prefill_s = res.prefill_time_s
    decode = res.generated_tokens / res.total_time_s if row.decode_includes_ttft else res.decode_tokens_per_s
    return Prediction(decode=decode, prefill=row.batch * row.prompt_tokens / prefill_s, power=res.average_power_w)


def _predict_served(plan: Any, row: Row, stack: StackSpec) -> Prediction:
    """A serving benchmark: `requests` requests of the row's lengths from a closed-loop client
    keeping `batch` of them out (vllm bench serve --max-concurrency batch: the next is sent when
    one ends), continuous batching in the stack's server schedule (vLLM: mixed steps within its
    prefill chunk budget), KV reserved whole (paging would change nothing unless the KV runs
    out, which the check below rules out), on the DES with the analytic engine's (ideal)
    memory, the model the fitted constants were fitted in. The rate is output tokens over the
    makespan (vllm bench serve's output token throughput); prefill, prompt tokens over the mean
    TTFT (counted from each request's send, as the benchmark counts it)."""
    from slmsim.simulator.memory_system import MemoryModel
    from slmsim.simulator.serving import Schedule, ServingPolicy, run_serving
    from slmsim.workloads.requests import fixed_requests

    m = plan.mapper
    if m.kv_bytes_for(row.prompt_tokens, row.gen_tokens) * row.batch > m.kv_budget_bytes():
        raise ValueError(f"{row.batch} requests of {row.prompt_tokens} + {row.gen_tokens} tokens exceed the KV budget")
    schedule = Schedule(stack.serving_schedule)
    policy = ServingPolicy(max_batch=row.batch, schedule=schedule, memory_model=MemoryModel.IDEAL,
                           step_tokens=m.scenario.prefill_chunk_tokens if schedule is Schedule.MIXED else None,
                           concurrency=row.batch)
    if schedule is Schedule.MIXED and policy.step_tokens is None:
        raise ValueError(f"stack {stack.name!r} serves in mixed steps but states no prefill chunk (token budget)")
    res = run_serving(m, fixed_requests(int(row.requests or 0), prompt_tokens=row.prompt_tokens,
                                        gen_tokens=row.gen_tokens), policy)
    sv = res.extra["serving"]
    return Prediction(decode=res.generated_tokens / sv["makespan_s"], prefill=row.prompt_tokens / sv["ttft_s"]["mean"],
                      power=res.average_power_w)


def _reason(exc: Exception) -> str:
    if isinstance(exc, SpecError):
        return "; ".join(p.message + (f" ({p.hint})" if p.hint else "") for p in exc.problems)
    return str(exc)


def predict_row(row: Row, *, hw: HardwareSpec | None = None, stack: StackSpec | None = None) -> RowResult:
    blank = [c for c, v in (("device", row.device if hw is None else "-"), ("model", row.model),
                            ("stack", row.stack if stack is None else "-")) if not v]
    if blank:  # an empty name would resolve to the current directory ("is a directory")
        return RowResult(row, None, f"empty {' and '.join(blank)} cell: a preset name or a spec file is needed "
                                    "(`slmsim presets` lists the names)")
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


def power_band() -> list[dict[str, str]]:
    with open(DATA / "calibration-power.csv", newline="") as f:
        return list(csv.DictReader(f))
