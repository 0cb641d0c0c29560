"""Unit strings from YAML ("68 GB/s", "0.88 pJ/bit") parsed once into SI floats.

Every dimensioned quantity inside slmsim is a plain float in SI base units (bytes for
information, seconds, joules, watts, hertz, square millimetres for area: see `Dim`).
Parsing happens here and only here, at load time.

We use pint with a small registry of our own instead of pint's default one, because in
the default registry `bit` is dimensionless (so "68 GHz" would pass as a bandwidth) and
`b` is the barn. Here information is its own dimension, `b` is a bit and `B` a byte,
GB is 1e9 bytes and GiB 2**30 bytes.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import pint

_DEFINITIONS = """
# decimal prefixes (K is accepted for kilo because "KB" is common in datasheets)
atto- = 1e-18 = a-
femto- = 1e-15 = f-
pico- = 1e-12 = p-
nano- = 1e-9 = n-
micro- = 1e-6 = u- = µ- = μ-
milli- = 1e-3 = m-
kilo- = 1e3 = k- = K-
mega- = 1e6 = M-
giga- = 1e9 = G-
tera- = 1e12 = T-
peta- = 1e15 = P-
# binary prefixes
kibi- = 2**10 = Ki-
mebi- = 2**20 = Mi-
gibi- = 2**30 = Gi-
tebi- = 2**40 = Ti-

second = [time] = s = sec
meter = [length] = m = metre
gram = [mass] = g
bit = [information] = b
operation = [operation] = op = OP = ops
byte = 8 * bit = B = octet
FLOP = operation
minute = 60 * second = min
hour = 60 * minute = h
hertz = 1 / second = Hz
joule = kilogram * meter ** 2 / second ** 2 = J
watt = joule / second = W
OPS = operation / second
FLOPS = operation / second
bps = bit / second
volt = [voltage] = V
farad = joule / volt ** 2 = F
transfer = [transfer] = T_
"""


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    ureg = pint.UnitRegistry(None)
    ureg.load_definitions(_DEFINITIONS.splitlines())
    return ureg


class Dim(StrEnum):
    """The dimensions a spec field can take, with the SI unit its float is stored in."""

    BANDWIDTH = "bandwidth"  # bytes/s
    ENERGY = "energy"  # J
    ENERGY_PER_BIT = "energy_per_bit"  # J/bit
    ENERGY_PER_OP = "energy_per_op"  # J/op
    FREQUENCY = "frequency"  # Hz
    CAPACITY = "capacity"  # bytes
    AREA = "area"  # mm^2 (the named exception: areas are quoted in mm^2 everywhere)
    LENGTH = "length"  # m
    POWER = "power"  # W
    TIME = "time"  # s
    THROUGHPUT = "throughput"  # op/s
    BIT_RATE = "bit_rate"  # bit/s (per pin)
    VOLTAGE = "voltage"  # V
    CAPACITANCE = "capacitance"  # F


@dataclass(frozen=True)
class _DimInfo:
    pint_unit: str  # the unit the float is expressed in
    example: str  # what a user would write
    common_units: tuple[str, ...]  # suggestions for hints


_DIMS: dict[Dim, _DimInfo] = {
    Dim.BANDWIDTH: _DimInfo("byte / second", "68 GB/s", ("GB/s", "TB/s", "MB/s", "GiB/s", "Gb/s")),
    Dim.ENERGY: _DimInfo("joule", "1.2 pJ", ("pJ", "nJ", "uJ", "mJ", "J")),
    Dim.ENERGY_PER_BIT: _DimInfo("joule / bit", "0.88 pJ/bit", ("pJ/bit", "pJ/B", "fJ/bit")),
    Dim.ENERGY_PER_OP: _DimInfo("joule / operation", "0.5 pJ/op", ("pJ/op", "fJ/op")),
    Dim.FREQUENCY: _DimInfo("hertz", "625 MHz", ("MHz", "GHz", "kHz")),
    Dim.CAPACITY: _DimInfo("byte", "8 GiB", ("GiB", "GB", "MiB", "MB", "KiB", "kB", "Mb", "Gb")),
    Dim.AREA: _DimInfo("millimeter ** 2", "0.5 mm^2", ("mm^2", "um^2")),
    Dim.LENGTH: _DimInfo("meter", "3 um", ("um", "nm", "mm")),
    Dim.POWER: _DimInfo("watt", "7 W", ("W", "mW", "uW")),
    Dim.TIME: _DimInfo("second", "5 us", ("s", "ms", "us", "ns")),
    Dim.THROUGHPUT: _DimInfo("operation / second", "20 TOPS", ("TOPS", "GOPS", "TFLOPS")),
    Dim.BIT_RATE: _DimInfo("bit / second", "6.4 Gb/s", ("Gb/s", "Mb/s", "Gbps")),
    Dim.VOLTAGE: _DimInfo("volt", "0.8 V", ("V", "mV")),
    Dim.CAPACITANCE: _DimInfo("farad", "2 fF", ("fF", "pF", "aF")),
}


def a_or_an(word: str) -> str:
    """'an energy', 'a bandwidth'."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def example_for(dim: Dim) -> str:
    return _DIMS[dim].example


class UnitParseError(ValueError):
    """A quantity string that does not parse or has the wrong dimension."""

    def __init__(self, message: str, *, expected: str, hint: str | None) -> None:
        super().__init__(message)
        self.expected = expected
        self.hint = hint


_GBPS = re.compile(r"\b([kKMGT]?)bps\b")


def _normalise(text: str) -> str:
    text = text.strip().replace("²", "^2")
    return _GBPS.sub(lambda m: f"{m.group(1)}bit/s", text)


_NUMBER = re.compile(r"^\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*(.*)$")

# The strict grammar of a quantity: a decimal number, an optional exponent, a unit made of
# unit names joined by '/' or '*' with small integer powers. Nothing else: no arithmetic
# ("68 GB/s * 0 + 1 GB/s"), no '**' towers ("9**9**9 GB/s"), no nan or inf.
_STRICT_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,4})?"
_FACTOR = r"[A-Za-zµμ_]+(?:(?:\^|\*\*)-?[1-4])?"
_UNIT = rf"{_FACTOR}(?:\s*[/*]\s*{_FACTOR})*"
_QUANTITY = re.compile(rf"^\s*({_STRICT_NUMBER})\s*({_UNIT})\s*$")
_NOT_FINITE = re.compile(r"^\s*[-+]?(nan|inf|infinity)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Bounds:
    """The magnitudes a spec quantity may take, in the SI unit of its dimension.

    Generous on purpose (a factor of ~1000 beyond any device we model): they exist to
    refuse typos and hostile input (1e308 GB/s), not to judge a design.
    `min_nonzero` guards the rates and sizes that divide: 1e-300 GB/s would turn into
    a 1e300-second result.
    """

    max: float
    min_nonzero: float = 0.0


BOUNDS: dict[Dim, Bounds] = {
    Dim.BANDWIDTH: Bounds(1e18, 1e3),  # 1 EB/s (H100 HBM3: 3.35e12); 1 kB/s
    Dim.ENERGY: Bounds(1e3),  # 1 kJ
    Dim.ENERGY_PER_BIT: Bounds(1e-6),  # 1 uJ/bit (DRAM ~5 pJ/bit)
    Dim.ENERGY_PER_OP: Bounds(1e-6),  # 1 uJ/op
    Dim.FREQUENCY: Bounds(1e12, 1.0),  # 1 THz; 1 Hz
    Dim.CAPACITY: Bounds(1e16, 1.0),  # 10 PB; 1 byte
    Dim.AREA: Bounds(1e6),  # 1 m^2 in mm^2 (a 300 mm wafer: 7e4 mm^2)
    Dim.LENGTH: Bounds(1.0),  # 1 m
    Dim.POWER: Bounds(1e6),  # 1 MW
    Dim.TIME: Bounds(1e6),  # ~11.6 days
    Dim.THROUGHPUT: Bounds(1e19, 1.0),  # 10 EOPS (H100 FP8 dense: ~2e15)
    Dim.BIT_RATE: Bounds(1e13, 1.0),  # 10 Tb/s per pin
    Dim.VOLTAGE: Bounds(1e3),  # 1 kV
    Dim.CAPACITANCE: Bounds(1e-6),  # 1 uF (an on-chip capacitor is fF-pF)
}


def bounds_problem(number: float, dim: Dim) -> str | None:
    """Why `number` (SI) is out of bounds for `dim`, or None. NaN and inf are always out."""
    if not math.isfinite(number):
        return f"is not a finite {dim.value}"
    b = BOUNDS[dim]
    unit = _DIMS[dim].pint_unit.replace(" ** 2", "^2").replace("millimeter", "mm")
    if abs(number) > b.max:
        return f"is out of range for {a_or_an(dim.value)}: {abs(number):.3g} {unit} is above the limit of {b.max:g} {unit}"
    if 0 < abs(number) < b.min_nonzero:
        return f"is out of range for {a_or_an(dim.value)}: {abs(number):.3g} {unit} is below the limit of {b.min_nonzero:g} {unit}"
    return None


def _suggest(dim: Dim, text: str) -> str | None:
    """A hint: keep the user's number and prefix, swap in a unit of the right dimension."""
    m = _NUMBER.match(text)
    if not m:
        return f"write a number and a unit, e.g. '{example_for(dim)}'"
    number, unit_text = m.group(1), m.group(4)
    candidates = _DIMS[dim].common_units
    prefix = unit_text[:1] if unit_text[:1] in "pnumkKMGT" else ""
    same_prefix = [c for c in candidates if c.startswith(prefix)] if prefix else []
    close = difflib.get_close_matches(unit_text, candidates, n=1, cutoff=0.3)
    pick = (same_prefix or close or list(candidates))[0]
    return f"did you mean '{number} {pick}'?"


def parse_quantity(value: object, dim: Dim) -> float:
    """Parse a YAML value into a float in the SI unit of `dim`.

    Strings need a unit. Bare numbers are refused for every dimension, because a bare
    "68" for a bandwidth is exactly the ambiguity this layer exists to remove. The string
    must match the strict grammar above; the value must be finite and within `BOUNDS`.
    """
    info = _DIMS[dim]
    expected = f"{a_or_an(dim.value)} with a unit, e.g. '{info.example}'"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UnitParseError(
            f"expected a quantity string, got {type(value).__name__}",
            expected=expected,
            hint=f"write it as a string with its unit, e.g. '{info.example}'",
        )
    if not isinstance(value, str):
        if isinstance(value, float) and not math.isfinite(value):
            raise UnitParseError(f"{value!r} is not a number", expected=expected,
                                 hint=f"write a finite number and a unit, e.g. '{info.example}'")
        raise UnitParseError(
            f"the number {value!r} has no unit",
            expected=expected,
            hint=f"add the unit, e.g. '{value} {info.common_units[0]}'",
        )
    if len(value) > 100:
        raise UnitParseError(f"{value[:40]!r}... is too long for a quantity", expected=expected,
                             hint=f"write a number and a unit, e.g. '{info.example}'")
    text = _normalise(value)
    if _NOT_FINITE.match(text):
        raise UnitParseError(f"{value!r} is not a finite number", expected=expected,
                             hint=f"write a finite number and a unit, e.g. '{info.example}'")
    m = _QUANTITY.match(text)
    if not m:
        bare = re.fullmatch(rf"\s*{_STRICT_NUMBER}\s*", text)
        raise UnitParseError(
            f"{value!r} has no unit" if bare else
            f"cannot parse {value!r} as a quantity: expected a number and a unit, nothing else "
            "(no arithmetic, no '**')",
            expected=expected,
            hint=_suggest(dim, text),
        )
    number_text, unit_text = m.group(1), m.group(2)
    ureg = registry()
    try:
        unit = ureg.parse_units(unit_text)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError,
            ValueError, TypeError, AssertionError, SyntaxError) as exc:
        raise UnitParseError(
            f"cannot parse {value!r} as a quantity ({exc})",
            expected=expected,
            hint=_suggest(dim, text),
        ) from None
    if unit.dimensionless:
        raise UnitParseError(
            f"{value!r} has no unit",
            expected=expected,
            hint=_suggest(dim, text),
        )
    target = ureg.Unit(info.pint_unit)
    if unit.dimensionality != target.dimensionality:
        raise UnitParseError(
            f"{value!r} is {a_or_an(_describe(unit.dimensionality))}, not {a_or_an(dim.value)}",
            expected=expected,
            hint=_suggest(dim, text),
        )
    number = float(number_text)
    if not math.isfinite(number):
        raise UnitParseError(f"{value!r} is too large to be a number", expected=expected,
                             hint=f"write it with a smaller prefix or exponent, e.g. '{info.example}'")
    factor = _factor(unit_text, info.pint_unit)
    si = number * factor
    why = bounds_problem(si, dim) if math.isfinite(si) else \
        f"is too large for {a_or_an(dim.value)} (overflows a float in SI units)"
    if why is not None:
        raise UnitParseError(f"{value!r} {why}", expected=expected + f" (at most {BOUNDS[dim].max:g} in SI)",
                             hint="check the prefix and the exponent (see docs/input-limits.md)")
    return si


@lru_cache(maxsize=1024)
def _factor(unit_text: str, target: str) -> float:
    ureg = registry()
    return float(ureg.Quantity(1.0, unit_text).to(target).magnitude)


def _describe(dimensionality: object) -> str:
    ureg = registry()
    for d, info in _DIMS.items():
        if ureg.Unit(info.pint_unit).dimensionality == dimensionality:
            return d.value
    return f"quantity of dimension {dimensionality}"
