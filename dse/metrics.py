"""The figures a design is judged by: names, units, natural directions, aggregation.

Every metric is computed for every trial, objective or not. Per workload they come from
the engine's `SimResult`; across workloads they are aggregated by `mean` or `worst`
(worst = the largest value of a metric one minimises, the smallest of one one maximises).
Area belongs to the hardware, not to a workload.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from slmsim.core.units import Dim
from slmsim.mapping.energy_boundary import EnergyBoundary


class Metric(StrEnum):
    DECODE_LATENCY = "decode_latency"
    ENERGY_PER_TOKEN = "energy_per_token"
    AREA = "area"
    TTFT = "ttft"
    TOKENS_PER_S = "tokens_per_s"
    TOKENS_PER_J = "tokens_per_j"
    POWER = "power"


class Aggregate(StrEnum):
    MEAN = "mean"
    WORST = "worst"


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


@dataclass(frozen=True)
class MetricInfo:
    column: str  # name with its unit, as in the trials table (`metric:<column>`)
    unit: str
    natural: Direction
    dim: Dim | None  # how a bound on it is written in a space file ("80 mm^2"); None: a bare number
    meaning: str


METRICS: dict[Metric, MetricInfo] = {
    Metric.DECODE_LATENCY: MetricInfo(
        "decode_latency_s", "s", Direction.MINIMIZE, Dim.TIME,
        "time per output token in decode (TPOT): decode time / decode steps"),
    Metric.ENERGY_PER_TOKEN: MetricInfo(
        "energy_per_token_j", "J", Direction.MINIMIZE, Dim.ENERGY,
        "energy of the decode phase per decoded token, within the space's energy_boundary (default board: always-on power included)"),
    Metric.AREA: MetricInfo(
        "area_mm2", "mm^2", Direction.MINIMIZE, Dim.AREA,
        "silicon area of the system: every device plus on-chip memory tiers"),
    Metric.TTFT: MetricInfo(
        "ttft_s", "s", Direction.MINIMIZE, Dim.TIME, "time to first token (prefill)"),
    Metric.TOKENS_PER_S: MetricInfo(
        "tokens_per_s", "tokens/s", Direction.MAXIMIZE, None,
        "decode throughput: batch x decode steps / decode time"),
    Metric.TOKENS_PER_J: MetricInfo(
        "tokens_per_j", "tokens/J", Direction.MAXIMIZE, None,
        "generated tokens per joule of the whole run (prefill included), within the energy_boundary"),
    Metric.POWER: MetricInfo(
        "power_w", "W", Direction.MINIMIZE, Dim.POWER, "average power over the whole run"),
}

# per-workload columns (`wl:<name>:<column>`): everything but area, which is the hardware's
WORKLOAD_METRICS: tuple[Metric, ...] = tuple(m for m in Metric if m is not Metric.AREA)


def metric_values(result: object, boundary: EnergyBoundary | str = EnergyBoundary.BOARD) -> dict[Metric, float]:
    """Per-workload metrics from a `SimResult` (duck-typed: dse does not build results).

    `boundary` (mapping.energy_boundary) decides which energy the two energy metrics count;
    power is always the whole run's (every joule charged / time): a constraint on power is a
    constraint on the supply."""
    b = EnergyBoundary(boundary)
    if b is EnergyBoundary.BOARD:
        per_token = float(result.energy_per_decode_token_j)  # type: ignore[attr-defined]
        tokens_per_j = float(result.tokens_per_j)  # type: ignore[attr-defined]
    else:
        tokens = result.decode_tokens  # type: ignore[attr-defined]
        dec = result.phase_energy_within_j("decode", b)  # type: ignore[attr-defined]
        per_token = dec / tokens if tokens else math.nan
        tokens_per_j = float(result.tokens_per_j_within(b))  # type: ignore[attr-defined]
    return {
        Metric.DECODE_LATENCY: float(result.tpot_s),  # type: ignore[attr-defined]
        Metric.ENERGY_PER_TOKEN: per_token,
        Metric.TTFT: float(result.ttft_s),  # type: ignore[attr-defined]
        Metric.TOKENS_PER_S: float(result.decode_tokens_per_s),  # type: ignore[attr-defined]
        Metric.TOKENS_PER_J: tokens_per_j,
        Metric.POWER: float(result.average_power_w),  # type: ignore[attr-defined]
    }


def serving_metric_values(result: object, serving: object,
                          boundary: EnergyBoundary | str = EnergyBoundary.BOARD) -> dict[Metric, float]:
    """Per-workload metrics of a served request stream (a workload with `serving:`): ttft is the
    stream's `statistic` of TTFT over requests (queueing included), decode_latency that of every
    gap between a request's successive tokens, tokens_per_s the output tokens over the makespan;
    the energy metrics and power as for one batch (decode energy per decoded token, tokens per
    joule and power of the whole run)."""
    out = metric_values(result, boundary)
    sv = result.extra["serving"]  # type: ignore[attr-defined]
    stat = serving.statistic  # type: ignore[attr-defined]

    def figure(key: str) -> float:
        v = (sv.get(key) or {}).get(stat)
        return math.nan if v is None else float(v)

    out[Metric.TTFT] = figure("ttft_s")
    out[Metric.DECODE_LATENCY] = figure("itl_s")
    tps = sv.get("throughput_tokens_per_s")
    out[Metric.TOKENS_PER_S] = math.nan if tps is None else float(tps)
    return out


def aggregate(per_workload: Sequence[Mapping[Metric, float]], how: Aggregate) -> dict[Metric, float]:
    """Combine per-workload metrics; NaN if any workload lacks the figure."""
    out: dict[Metric, float] = {}
    for m in WORKLOAD_METRICS:
        vals = [w[m] for w in per_workload]
        if not vals or any(v is None or math.isnan(v) for v in vals):
            out[m] = math.nan
        elif how is Aggregate.MEAN:
            out[m] = math.fsum(vals) / len(vals)
        elif METRICS[m].natural is Direction.MINIMIZE:
            out[m] = max(vals)
        else:
            out[m] = min(vals)
    return out
