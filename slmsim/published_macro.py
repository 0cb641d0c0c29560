"""A published SRAM CIM macro as `slmsim validate --cim` reads it: the file format and its loader.

One YAML file per macro (the bundled ones are `hw_models/macros/*.yaml`; a user's own with
`slmsim validate --cim --macro FILE`):

- `name`, `paper`, `source` (where the figures come from), `parameter_sources` (optional:
  where each parameter comes from);
- `technology_node`, `supply_voltage` of the measurement, `macros` on the chip (default 1);
- `precision: {input_bits, weight_bits}` of the published figure;
- `conditions: {input_toggle_rate, weight_sparsity}`: the data activity of the measurement
  (0.5 / 0.5 for random data);
- `macro:` the structure, in the accelerator spec's `cim.macro` format (`hw_models.cim.CimMacro`),
  with its energies and area left out: they are what is predicted;
- `published: {tops_per_w, area, figure}`: the published figures and, in `figure`, the
  precision, supply and data they were measured at.

Every problem in a file is reported at once (file, YAML path, value, expectation, hint) as a
`SpecError`: exit 2 from the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from slmsim.core.errors import Problem, SpecError, unheld
from slmsim.core.quantity import FROZEN, Area, Length, Voltage
from slmsim.core.yamlio import Provenance, RawSpec, lift_provenance, not_a_mapping, read_yaml, validate
from slmsim.hw_models.cim import CimMacro

# macro energies a validation file must leave out: the prediction derives them from the knobs
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PREDICTED_MACRO_FIELDS = ("energy_per_array_op", "energy_per_readout", "energy_per_group_select", "area")


@dataclass(frozen=True)
class PublishedMacro:
    name: str
    paper: str
    source: str
    node_m: float
    vdd_v: float
    macros: int
    input_bits: int
    weight_bits: int
    input_toggle_rate: float
    weight_sparsity: float
    macro: CimMacro
    tops_per_w: float
    area_mm2: float
    figure: str

    @property
    def activity(self) -> float:
        return self.input_toggle_rate * (1.0 - self.weight_sparsity)

    @property
    def outputs(self) -> int:
        return self.macro.outputs_per_macro(self.weight_bits)

    @property
    def throughput_ops_per_s(self) -> float:
        m = self.macro
        return 2.0 * m.rows * self.outputs * self.macros * m.clock_hz / m.cycles_per_mvm(self.input_bits)


class MacroPrecision(BaseModel):
    """The precision of the published figure (ops are 2 per MAC at it)."""

    model_config = FROZEN
    input_bits: int = Field(gt=0, le=16, description="input (activation) bits of the published figure")
    weight_bits: int = Field(gt=0, le=16, description="weight bits of the published figure")


class MacroConditions(BaseModel):
    """The data activity the published figure was measured at: cells and adder trees switch with it."""

    model_config = FROZEN
    input_toggle_rate: float = Field(gt=0, le=1, description="fraction of input bits that change per step (0.5: random)")
    weight_sparsity: float = Field(ge=0, lt=1, description="fraction of weight bits that are 0 (0.5: random)")


class PublishedFigures(BaseModel):
    """What the paper publishes, which the prediction is compared with."""

    model_config = FROZEN
    tops_per_w: float = Field(ge=1e-3, le=1e6, description="published energy efficiency (1e-3 to 1e6), ops = 2 per MAC at the precision above")
    area_mm2: Area = Field(alias="area", gt=0, description="published area of the `macros` macros, e.g. '0.2 mm^2'")
    figure: str = Field(min_length=1, description="the precision, supply and data the figures were measured at")


class PublishedMacroSpec(BaseModel):
    """One published SRAM CIM macro: its structure and the conditions and figures of its measurement. slmsim
    predicts its TOPS/W and area from the structure alone (hw_models.periphery) and compares them with
    `published`; `macro`'s energies and area must be left out."""

    model_config = FROZEN
    name: str = Field(description="a short id: letters, digits, ., _ and -, starting with a letter or digit")
    paper: str = Field(min_length=1, description="the paper: authors, title, venue, DOI")
    source: str = Field(min_length=1, description="where the figures of this file come from")
    parameter_sources: dict[str, str] = Field(default_factory=dict,
                                              description="optional: where each parameter comes from, by name")
    technology_node_m: Length = Field(alias="technology_node", description="node of the silicon, e.g. '28 nm'")
    supply_voltage_v: Voltage = Field(alias="supply_voltage",
                                      description="supply of the measurement, e.g. '0.9 V' (energies scale with it)")
    macros: int = Field(1, gt=0, le=1_000_000, description="macros on the chip (throughput and the published area "
                                                           "count them)")
    precision: MacroPrecision = Field(description="input and weight bits of the published figure")
    conditions: MacroConditions = Field(description="data activity of the measurement")
    macro: CimMacro = Field(description="the structure, in the accelerator spec's cim.macro format, with its "
                                        "energies and area left out (they are predicted)")
    published: PublishedFigures = Field(description="the published figures and the conditions they were measured at")

    @field_validator("name")
    @classmethod
    def _short_id(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("must be a short id (up to 64 letters, digits, '.', '_' and '-', starting with a letter "
                             "or digit): it names the macro's rows in the table and in --json")
        return v

    @model_validator(mode="after")
    def _one_output_at_least(self) -> "PublishedMacroSpec":
        m, bits = self.macro, self.precision.weight_bits
        if m.outputs_per_macro(bits) < 1:
            raise ValueError(f"macro.cols ({m.cols}) holds no {bits}-bit weight (precision.weight_bits): each takes "
                             f"{m.slices_per_weight(bits)} columns + {m.sum_cols_per_weight} partial-sum columns; "
                             "give more columns, more cell_bits or fewer weight bits")
        return self

    @model_validator(mode="after")
    def _scalable(self) -> "PublishedMacroSpec":
        """The periphery models scale from their reference nodes to this one (Stillmaker & Baas
        2017): the node and supply must lie where that scaling is defined."""
        try:
            self.macro.resolved(node_m=self.technology_node_m, vdd_v=self.supply_voltage_v)
        except ValueError as exc:
            raise ValueError(f"technology_node / supply_voltage: {exc}") from None
        return self


def _problems_with_given_energies(data: dict, file: str) -> list[Problem]:
    macro = data.get("macro")
    if not isinstance(macro, dict):
        return []
    return [Problem(file=file, path=f"macro.{key}", message="given, but validate --cim predicts it",
                    value=macro[key], expected="left out (or null)",
                    hint="the periphery models derive the macro's energies and area from its knobs; the published "
                         "area goes in published.area")
            for key in PREDICTED_MACRO_FIELDS if macro.get(key) is not None]


def load_published_macro(path: Path, *, display: str | None = None) -> PublishedMacro:
    """One macro file, checked in full; every problem in it raised together as a `SpecError`."""
    return read_published_macro(path, display=display)[0]


def read_published_macro(path: Path, *, display: str | None = None
                         ) -> tuple[PublishedMacro, dict[str, Any], dict[str, Provenance]]:
    """`load_published_macro`, with the file's tree and provenance as read (for `slmsim check`, which lists them)."""
    shown = display or str(path)
    data = read_yaml(path, display=shown)
    if not isinstance(data, dict):
        raise SpecError([not_a_mapping(data, file=shown, expected="key: value pairs (see docs/validation.md)")])
    given = _problems_with_given_energies(data, shown)  # a given energy is refused, not ignored
    if given:  # check the rest without them, so that every problem of the file is reported at once
        data = {**data, "macro": {k: v for k, v in data["macro"].items() if k not in PREDICTED_MACRO_FIELDS}}
    plain, prov = lift_provenance(data, origin=shown)  # `{value: ..., source: ...}` wrappers, as in presets
    try:
        spec = validate(PublishedMacroSpec, RawSpec(data=plain, provenance=prov, file=shown, chain=(shown,)))
    except SpecError as exc:
        raise SpecError([*given, *exc.problems], total=len(given) + exc.total) from None
    if given:
        raise SpecError(given)
    pm = PublishedMacro(
        name=spec.name, paper=spec.paper, source=spec.source, node_m=spec.technology_node_m,
        vdd_v=spec.supply_voltage_v, macros=spec.macros, input_bits=spec.precision.input_bits,
        weight_bits=spec.precision.weight_bits, input_toggle_rate=spec.conditions.input_toggle_rate,
        weight_sparsity=spec.conditions.weight_sparsity, macro=spec.macro, tops_per_w=spec.published.tops_per_w,
        area_mm2=spec.published.area_mm2, figure=spec.published.figure,
    )
    return pm, plain, prov


def load_published_macros(paths: list[Path]) -> list[PublishedMacro]:
    """Every file given, each directory's *.yaml / *.yml in name order; all their problems reported together,
    and a name given twice is one more problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    unheld_count = 0
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
            if not found:
                problems.append(Problem(file=str(p), path="", message="directory holds no macro file",
                                        expected="*.yaml files, one macro each"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem(file=str(p), path="", message="file not found",
                                    hint="give a macro YAML file, a directory of them, or a bundled macro's name"))
    out: list[PublishedMacro] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            pm = load_published_macro(f)
        except SpecError as exc:
            problems.extend(exc.problems)
            unheld_count += unheld(exc)
            continue
        if pm.name in seen:
            problems.append(Problem(file=str(f), path="name", message=f"name also used by {seen[pm.name]}",
                                    value=pm.name, expected="one name per macro"))
            continue
        seen[pm.name] = str(f)
        out.append(pm)
    if problems:
        raise SpecError(problems, total=len(problems) + unheld_count)
    return out
