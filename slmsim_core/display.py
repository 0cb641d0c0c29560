"""Display units for reports: pick a readable scale for SI values and format numbers.

Everything in slmsim is SI in a float with the unit in its name; a report shows 11.3 ms
rather than 0.0113 s. `pick_scale` chooses one scale for a whole axis or column (so values
stay comparable), `fmt` formats one value with its own scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_PREFIXES = {
    "s": (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)),
    "J": (("kJ", 1e3), ("J", 1.0), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9)),
    "W": (("kW", 1e3), ("W", 1.0), ("mW", 1e-3), ("µW", 1e-6)),
    "bytes": (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0)),
    "ops/s": (("POPS", 1e15), ("TOPS", 1e12), ("GOPS", 1e9), ("MOPS", 1e6), ("ops/s", 1.0)),
    "bytes/s": (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6), ("B/s", 1.0)),
    "Hz": (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3), ("Hz", 1.0)),
}
_ALIASES = {"B": "bytes", "byte": "bytes", "B/s": "bytes/s", "ops": "ops/s", "op/s": "ops/s", "hz": "Hz"}


@dataclass(frozen=True, slots=True)
class Scale:
    """Divide SI values by `factor` to show them in `label`."""

    label: str
    factor: float = 1.0

    def __call__(self, value: float) -> float:
        return value / self.factor


def _finite(values: Iterable[float | None]) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        f = abs(float(v))
        if f != 0 and math.isfinite(f):
            out.append(f)
    return out


def pick_scale(unit: str, values: Iterable[float | None]) -> Scale:
    """One scale for a set of values in `unit` (SI): the largest prefix that keeps the
    median at or above 1. Units without prefixes (mm2, tokens/s, ...) are returned as is."""
    unit = _ALIASES.get(unit, unit)
    options = _PREFIXES.get(unit)
    if not options:
        return Scale(label=pretty_unit(unit))
    arr = _finite(np.ravel(values) if isinstance(values, np.ndarray) else values)
    if not arr:
        return Scale(label=next((lab for lab, f in options if f == 1.0), unit))
    ref = float(np.median(arr)) if len(arr) > 1 else arr[0]
    for label, factor in options:
        if ref >= factor * 0.9995:
            return Scale(label=label, factor=factor)
    label, factor = options[-1]
    return Scale(label=label, factor=factor)


def pretty_unit(unit: str) -> str:
    return {"mm2": "mm²", "bytes": "B", "tokens_per_s": "tokens/s", "tokens_per_j": "tokens/J"}.get(unit, unit)


def num(value: float | None, digits: int = 3) -> str:
    """A number with `digits` significant digits, no exponent for everyday magnitudes."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    v = float(value)
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1e6 or mag < 1e-3:
        return f"{v:.{digits - 1}e}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(mag))))
    return f"{v:,.{decimals}f}"


def has_prefixes(unit: str) -> bool:
    """An SI unit `fmt` scales with a prefix (s, J, W, bytes, ...), not a count such as tokens."""
    return _ALIASES.get(unit, unit) in _PREFIXES


def fmt(value: float | None, unit: str, digits: int = 3) -> str:
    """`value` (SI, in `unit`) with a readable prefix: fmt(0.0113, "s") == "11.3 ms"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return num(value, digits)
    scale = pick_scale(unit, [value])
    return f"{num(scale(value), digits)} {scale.label}".strip()


def fmt_ratio(value: float | None) -> str:
    """A ratio against a reference: 2.41×."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{num(value, 3)}×"
