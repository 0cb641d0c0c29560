"""Pydantic field types for dimensioned quantities.

    bandwidth_bytes_per_s: Q[Dim.BANDWIDTH] = Field(alias="bandwidth")

takes "68 GB/s" in YAML and stores 6.8e10. The internal name carries the unit; the YAML
name is the plain word an architect would write.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, ValidationInfo
from pydantic_core import PydanticCustomError

from slmsim.core.units import Dim, UnitParseError, a_or_an, bounds_problem, example_for, parse_quantity

SI_FLOATS_OK = "si_floats_ok"  # validation-context key: bare numbers are SI values

# a number then a unit ("68 GB/s", "0.88 pJ/bit", "1e9 B/s"): bare numbers are refused by the parser
QUANTITY_PATTERN = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*[^\s\d.+-].*$"

FROZEN = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


def _parser(dim: Dim, *, allow_zero: bool) -> BeforeValidator:
    def parse(value: Any, info: ValidationInfo) -> float:
        si_ok = bool(info.context and info.context.get(SI_FLOATS_OK))
        if si_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
            # programmatic construction (e.g. a DSE candidate) may pass SI floats directly. They
            # must be finite; the per-dimension bounds are for what users write (a DSE range is
            # parsed from the user's strings, so its candidates are already bounded), and tests
            # build limit cases with 1e30 B/s as "unlimited".
            why = None if math.isfinite(float(value)) else bounds_problem(float(value), dim)
            if why is not None:
                raise PydanticCustomError("quantity_bounds", "{raw} " + why,
                                          {"raw": repr(value), "expected": f"a finite {dim.value} within the limits",
                                           "hint": "see docs/input-limits.md"})
            return _check_sign(float(value), dim, value, allow_zero=allow_zero)
        try:
            number = parse_quantity(value, dim)
        except UnitParseError as exc:
            raise PydanticCustomError("quantity", str(exc), {"expected": exc.expected, "hint": exc.hint}) from None
        return _check_sign(number, dim, value, allow_zero=allow_zero)

    return BeforeValidator(parse)


def _check_sign(number: float, dim: Dim, raw: Any, *, allow_zero: bool) -> float:
    if number < 0 or (number == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise PydanticCustomError(
            "quantity_sign",
            "{raw} is " + ("negative" if number < 0 else "zero") + "; " + a_or_an(dim.value) + " must be " + bound,
            {"raw": repr(raw), "dim": dim.value, "expected": f"{a_or_an(dim.value)} {bound}, e.g. '{example_for(dim)}'",
             "hint": "remove the sign" if number < 0 else "a zero here would make the design meaningless"},
        )
    return number


class QuantityDim:
    """Annotation marker: this float is a quantity of `dim` (read by docs and the DSE)."""

    __slots__ = ("dim", "allow_zero")

    def __init__(self, dim: Dim, allow_zero: bool) -> None:
        self.dim = dim
        self.allow_zero = allow_zero

    def __repr__(self) -> str:
        return f"QuantityDim({self.dim.value})"

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        """In JSON Schema (`slmsim schema`) a quantity is what the YAML holds: a number with a unit."""
        return {"type": "string", "pattern": QUANTITY_PATTERN, "examples": [example_for(self.dim)],
                "x-slmsim-dimension": self.dim.value}


def quantity_type(dim: Dim, *, allow_zero: bool = False) -> Any:
    return Annotated[float, _parser(dim, allow_zero=allow_zero), QuantityDim(dim, allow_zero)]


# Ready-made annotations. PositiveX refuses zero; NonNegX allows it.
Bandwidth = quantity_type(Dim.BANDWIDTH)
NonNegBandwidth = quantity_type(Dim.BANDWIDTH, allow_zero=True)
Energy = quantity_type(Dim.ENERGY, allow_zero=True)
EnergyPerBit = quantity_type(Dim.ENERGY_PER_BIT, allow_zero=True)
EnergyPerOp = quantity_type(Dim.ENERGY_PER_OP, allow_zero=True)
Frequency = quantity_type(Dim.FREQUENCY)
Capacity = quantity_type(Dim.CAPACITY)
NonNegCapacity = quantity_type(Dim.CAPACITY, allow_zero=True)
Area = quantity_type(Dim.AREA, allow_zero=True)
Length = quantity_type(Dim.LENGTH)
Power = quantity_type(Dim.POWER, allow_zero=True)
Time = quantity_type(Dim.TIME, allow_zero=True)
Throughput = quantity_type(Dim.THROUGHPUT)
BitRate = quantity_type(Dim.BIT_RATE)
Voltage = quantity_type(Dim.VOLTAGE)
Capacitance = quantity_type(Dim.CAPACITANCE, allow_zero=True)
