"""What the DSE's metric names mean: a label, an SI unit and which way is better.

Names are those of a study's `metric:<name>` columns. A metric not listed here still
shows: its unit is inferred from the suffix of its name (`_s`, `_j`, `_w`, `_mm2`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    label: str
    unit: str  # SI unit understood by core.display
    higher_is_better: bool = False


KNOWN: dict[str, MetricInfo] = {m.name: m for m in (
    MetricInfo("decode_latency_s", "decode latency per token", "s"),
    MetricInfo("energy_per_token_j", "energy per token", "J"),
    MetricInfo("area_mm2", "area", "mm2"),
    MetricInfo("ttft_s", "time to first token", "s"),
    MetricInfo("tpot_s", "time per output token", "s"),
    MetricInfo("tokens_per_s", "decode throughput", "tokens/s", higher_is_better=True),
    MetricInfo("tokens_per_j", "tokens per joule", "tokens/J", higher_is_better=True),
    MetricInfo("power_w", "average power", "W"),
)}

def canonical(metric: str) -> str:
    """The metric's name with its unit, as in `metric:<name>` columns: a study may name an
    objective `decode_latency` (the DSE's metric) whose column is `metric:decode_latency_s`."""
    if metric in KNOWN:
        return metric
    for suffix in ("_s", "_j", "_w", "_mm2"):
        if metric + suffix in KNOWN:
            return metric + suffix
    return metric


_SUFFIX_UNITS = (("_mm2", "mm2"), ("_bytes_per_s", "bytes/s"), ("_bytes", "bytes"), ("_per_s", "1/s"),
                 ("_per_j", "1/J"), ("_s", "s"), ("_j", "J"), ("_w", "W"))


def info(metric: str, unit: str | None = None) -> MetricInfo:
    """Label and unit of `metric`; `unit` (e.g. from study.json) wins over the guess."""
    known = KNOWN.get(metric)
    if known is not None:
        return known if not unit else MetricInfo(known.name, known.label, _si(unit), known.higher_is_better)
    guessed = next((u for suffix, u in _SUFFIX_UNITS if metric.endswith(suffix)), "")
    return MetricInfo(metric, metric.replace("_", " "), _si(unit) if unit else guessed)


_UNIT_ALIASES = {"mm^2": "mm2", "mm²": "mm2", "j": "J", "w": "W", "b": "bytes", "byte": "bytes",
                 "tokens/j": "tokens/J", "sec": "s"}


def _si(unit: str) -> str:
    """study.json may spell units as people do; map them to the SI base core.display knows."""
    u = unit.strip()
    return _UNIT_ALIASES.get(u, _UNIT_ALIASES.get(u.lower(), u))
