"""Compute-in-memory accelerators: SRAM CIM macros organised in tiles.

The macro is described the way a CIM designer describes silicon, and its throughput and
energy follow from these knobs (see `mapping.cim` for the arithmetic):

- `rows` x `cols` cells of `cell_bits` each; a b-bit weight is bit-sliced over
  ceil(b / cell_bits) adjacent columns, most significant slice first (plus
  `sum_cols_per_weight` columns for an in-array partial sum that holds no weight);
- inputs are applied bit-serially, `input_bits_per_cycle` bits per cycle;
- `rows_per_op` word lines are activated together (the adder-tree height of a digital
  macro, or what the ADC resolution allows in an analog one);
- `cols_per_readout` columns share one readout (ADC for analog, adder tree + shift-add for
  digital) and are read one after another;
- energy per array activation, per readout (conversion), per row written, and leakage.

Periphery from the knobs (`hw_models.periphery`): a spec that leaves `energy_per_readout`,
`energy_per_array_op` or `area` out (or `null`) gets them from cited models at the
accelerator's node and supply: an analog readout from the ADC's Walden figure of merit
(E = FoM x 2^adc_bits, no less than the survey's energy floor), a digital one from its adder tree (full-adder bits grow with
`rows_per_op` and the input bits per cycle), the array from a fitted energy per cell (times
the local-bit-line load of `cell_groups` weights sharing one compute unit), the area from
cells + input registers and word-line drivers + ADCs / adder trees. An analog macro's `rows_per_op` is bounded by what
its ADC resolves (the column sum has rows_per_op x (2^input_bits_per_cycle - 1) x
(2^cell_bits - 1) + 1 levels, at most 2^adc_bits) unless `psum_quantisation: true` says the
partial sums are quantised (lossy: an accuracy assumption the user takes on).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from slmsim.hw_models import periphery
from slmsim.hw_models.scaling import scale
from slmsim.core.quantity import (
    FROZEN,
    Area,
    Bandwidth,
    Capacitance,
    Capacity,
    Energy,
    EnergyPerBit,
    EnergyPerOp,
    Frequency,
    Length,
    Power,
    Voltage,
)


# a macro of 65,536 word or bit lines (4 Gbit at 65,536 x 65,536) is far past any published one (the largest
# here: 2,304 rows, Jia et al. JSSC 2020); the bound keeps every count a float holds exactly
MAX_MACRO_LINES = 65_536


class CimStyle(StrEnum):
    DIGITAL = "digital"
    ANALOG = "analog"


class CimMacro(BaseModel):
    model_config = FROZEN

    style: CimStyle = Field(description="digital (adder trees) or analog (ADC readout) CIM")
    rows: int = Field(gt=0, le=MAX_MACRO_LINES, description="word lines (input dimension held per macro)")
    cols: int = Field(gt=0, le=MAX_MACRO_LINES, description="bit lines (cells per row)")
    cell_bits: int = Field(1, gt=0, le=8, description="bits stored per cell")
    input_bits_per_cycle: int = Field(1, gt=0, le=16, description="input bits applied per cycle (1 = bit-serial)")
    rows_per_op: int = Field(gt=0, description="rows activated together in one operation")
    cols_per_readout: int = Field(1, gt=0, le=MAX_MACRO_LINES, description="columns sharing one ADC / adder tree, read in turn")
    cell_groups: int = Field(
        1, gt=0, description="weights sharing one compute unit (local bit line + multiplier) per column, selected in "
                             "turn; they are row groups (rows / rows_per_op >= cell_groups) and each activation "
                             "precharges a local bit line loaded by all of them (hw_models.periphery)")
    sum_cols_per_weight: int = Field(
        0, ge=0, le=MAX_MACRO_LINES, description="columns beside each weight's bit columns that hold the growing in-array partial sum "
                             "instead of weight bits (a digital macro whose adders ripple down the rows inside the "
                             "array, e.g. Colonnade: ceil(log2 rows) = 7); they take cells but hold no weight")
    adc_bits: int | None = Field(None, gt=0, le=16, description="ADC resolution (analog macros)")
    input_encoding: Literal["dac", "pwm"] = Field(
        "dac", description="analog, input_bits_per_cycle > 1: 'dac' (capacitive DACs drive the rows) or 'pwm' "
                           "(word lines pulsed for the input value by a per-row counter; no DAC)")
    dacs_per_row: int = Field(1, gt=0, le=64, description="analog 'dac' inputs: DACs per activated row (e.g. 2 for "
                                                   "separate positive and negative ladders)")
    cell_capacitance_f: Capacitance = Field(
        0.0, alias="cell_capacitance",
        description="charge-domain compute cells (e.g. a C-2C ladder): capacitance each bit cell of an active "
                    "compute unit switches per input step, e.g. '6 fF'; node-independent, costs C V^2 on top of "
                    "the SRAM cell and one capacitor set per compute unit of area (hw_models.periphery); 0: none")
    clock_hz: Frequency = Field(alias="clock", description="macro clock, e.g. '200 MHz'")
    energy_per_array_op_j: Energy | None = Field(
        None, alias="energy_per_array_op",
        description="energy of one activation: rows_per_op rows x all columns, one input-bit step, e.g. '2 pJ'; "
                    "null: from the cells (hw_models.periphery)",
    )
    energy_per_readout_j: Energy | None = Field(
        None, alias="energy_per_readout",
        description="energy of reading one column once (ADC conversion or adder-tree sum + shift-add), e.g. "
                    "'0.1 pJ'; null: from adc_bits (Walden FoM) or the adder tree (hw_models.periphery)",
    )
    energy_per_group_select_j: Energy | None = Field(
        None, alias="energy_per_group_select",
        description="energy of selecting one of the cell_groups weights in every compute unit of a row group "
                    "(local bit lines precharged), once per row group per MVM, e.g. '1 pJ'; null: from the cells' "
                    "capacitance (hw_models.periphery; 0 with one cell group)")
    psum_quantisation: bool = Field(
        True, description="analog: rows_per_op may exceed what the ADC resolves, the partial sums being quantised "
                          "(an accuracy assumption, warned about); false: rows per operation are cut to what "
                          "the ADC resolves exactly")
    energy_per_row_write_j: Energy = Field(
        alias="energy_per_row_write", description="energy to write one row of cells (reprogramming weights), e.g. '5 pJ'"
    )
    row_write_cycles: int = Field(1, gt=0, le=1_000_000, description="cycles to write one row")
    leakage_power_w: Power = Field(alias="leakage_power", description="leakage of one macro, e.g. '10 uW'")
    area_mm2: Area | None = Field(
        None, alias="area", description="area of one macro, e.g. '0.05 mm^2'; null: cells + ADCs / adder trees")
    characterised_node_m: Length | None = Field(
        None, alias="characterised_node",
        description="node the clock/energy/area figures were measured at; None: the accelerator's node",
    )
    characterised_vdd_v: Voltage | None = Field(
        None, alias="characterised_vdd", description="supply voltage of those figures, e.g. '1.0 V'"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "CimMacro":
        if self.rows_per_op > self.rows:
            raise PydanticCustomError(
                "value_error", "rows_per_op ({value}) cannot exceed rows ({rows}): an operation activates rows of "
                "this macro", {"field": "rows_per_op", "value": self.rows_per_op, "rows": self.rows,
                                "expected": f"a whole number from 1 to {self.rows} (rows)",
                                "hint": "lower rows_per_op (the adder-tree or ADC height), or raise rows"})
        if self.style is CimStyle.ANALOG and self.adc_bits is None:
            raise ValueError("an analog macro needs adc_bits")
        if self.cell_groups > -(-self.rows // self.rows_per_op):  # integer ceil: exact for any int
            raise ValueError(f"cell_groups ({self.cell_groups}) cannot exceed the row groups rows / rows_per_op "
                             f"({self.rows} / {self.rows_per_op}): the groups take turns through one compute unit")
        return self

    @property
    def column_sum_levels(self) -> int:
        """Distinct values of one column's sum in one operation (what an exact ADC must resolve)."""
        return self.rows_per_op * (2**self.input_bits_per_cycle - 1) * (2**self.cell_bits - 1) + 1

    @property
    def exact_rows_per_op(self) -> int:
        """Most rows one operation may sum for the ADC to resolve the column sum exactly."""
        if self.style is not CimStyle.ANALOG or self.adc_bits is None:
            return self.rows_per_op
        per_row = (2**self.input_bits_per_cycle - 1) * (2**self.cell_bits - 1)
        return max(1, min(self.rows_per_op, (2**self.adc_bits - 1) // per_row))

    @property
    def quantises_psums(self) -> bool:
        """An analog macro summing more rows than its ADC resolves (partial sums quantised)."""
        return self.exact_rows_per_op < self.rows_per_op

    # Geometry that follows from the knobs -------------------------------------------------

    def slices_per_weight(self, weight_bits: int) -> int:
        """Columns one weight occupies (bit-slicing), MSB slice first."""
        return math.ceil(weight_bits / self.cell_bits)

    def slice_order(self, weight_bits: int) -> tuple[tuple[int, int], ...]:
        """(high bit, low bit) of each column slice, most significant first."""
        out = []
        top = weight_bits
        while top > 0:
            low = max(0, top - self.cell_bits)
            out.append((top - 1, low))
            top = low
        return tuple(out)

    def outputs_per_macro(self, weight_bits: int) -> int:
        """Output channels one macro holds at this weight precision (each weight's bit columns plus its
        `sum_cols_per_weight` partial-sum columns)."""
        return self.cols // (self.slices_per_weight(weight_bits) + self.sum_cols_per_weight)

    def cycles_per_mvm(self, input_bits: int) -> int:
        """Cycles for one full matrix-vector product over the whole macro."""
        row_groups = math.ceil(self.rows / self.rows_per_op)
        input_steps = math.ceil(input_bits / self.input_bits_per_cycle)
        return row_groups * input_steps * self.cols_per_readout

    def energy_per_mvm_j(self, input_bits: int, used_cols: int | None = None) -> float:
        """Energy of one full MVM; `used_cols` limits readouts to the columns holding weights.

        Each (row group, input-bit step) activates the array once and reads every used
        column once; `cols_per_readout` changes the time, not the count of readouts.
        """
        cols = self.cols if used_cols is None else used_cols
        row_groups = math.ceil(self.rows / self.rows_per_op)
        steps = row_groups * math.ceil(input_bits / self.input_bits_per_cycle)
        if self.energy_per_array_op_j is None or self.energy_per_readout_j is None:
            raise ValueError("derived periphery energies need the node: use CimAccelerator.effective_macro "
                             "or CimMacro.resolved(node_m=..., vdd_v=...)")
        select = row_groups * (self.energy_per_group_select_j or 0.0)  # None only with one cell group
        return select + steps * (self.energy_per_array_op_j + cols * self.energy_per_readout_j)

    def with_rows_per_op(self, rows_per_op: int) -> "CimMacro":
        """This macro with each operation summing `rows_per_op` rows (no more than it sums now:
        the ADC's exact height, or a weight scale group). Per-operation energies the spec gives
        describe an operation of the spec's height, so they are rescaled to the shorter one:
        the array and the group selection drive `rows_per_op` word lines of cells
        (x rows_per_op / old), a digital adder tree shrinks by its full-adder bits
        (`periphery.adder_tree_fa_bits`), and an analog conversion costs what it did (same
        ADC, fewer rows summed). Energies left to be derived are derived at the new height
        (`resolved`); area and leakage are the silicon's and do not change."""
        old = self.rows_per_op
        if not 0 < rows_per_op <= old:
            raise ValueError(f"rows_per_op can only be cut: {rows_per_op} against {old}")
        if rows_per_op == old:
            return self
        rows = rows_per_op / old

        def cut(x: float | None, k: float) -> float | None:
            return None if x is None else x * k

        readout = 1.0 if self.style is CimStyle.ANALOG else (
            periphery.adder_tree_fa_bits(rows_per_op, self.input_bits_per_cycle, self.cell_bits)
            / periphery.adder_tree_fa_bits(old, self.input_bits_per_cycle, self.cell_bits))
        return self.model_copy(update={
            "rows_per_op": rows_per_op,
            "energy_per_array_op_j": cut(self.energy_per_array_op_j, rows),
            "energy_per_group_select_j": cut(self.energy_per_group_select_j, rows),
            "energy_per_readout_j": cut(self.energy_per_readout_j, readout),
        })

    def resolved(self, *, node_m: float, vdd_v: float | None = None) -> "CimMacro":
        """This macro with every figure the spec left out derived at `node_m` and `vdd_v`."""
        vdd = vdd_v if vdd_v is not None else periphery.nominal_vdd_v(node_m)
        analog = self.style is CimStyle.ANALOG
        update: dict[str, float] = {}
        if analog and not self.psum_quantisation and self.quantises_psums:
            # exact: fewer rows per operation, more operations
            return self.with_rows_per_op(self.exact_rows_per_op).resolved(node_m=node_m, vdd_v=vdd_v)
        if self.energy_per_readout_j is None:
            update["energy_per_readout_j"] = periphery.readout_energy_j(
                analog=analog, adc_bits=self.adc_bits, rows_per_op=self.rows_per_op,
                input_bits_per_cycle=self.input_bits_per_cycle, cell_bits=self.cell_bits, node_m=node_m, vdd_v=vdd)
        if self.energy_per_array_op_j is None:
            update["energy_per_array_op_j"] = periphery.array_op_energy_j(
                rows_per_op=self.rows_per_op, cols=self.cols, node_m=node_m, vdd_v=vdd, analog=analog,
                input_bits_per_cycle=self.input_bits_per_cycle, cell_bits=self.cell_bits,
                cell_capacitance_f=self.cell_capacitance_f, pwm=self.input_encoding == "pwm",
                dacs_per_row=self.dacs_per_row)
        if self.energy_per_group_select_j is None:
            update["energy_per_group_select_j"] = periphery.group_select_energy_j(
                rows_per_op=self.rows_per_op, cols=self.cols, cell_bits=self.cell_bits, cell_groups=self.cell_groups,
                node_m=node_m, vdd_v=vdd)
        if self.area_mm2 is None:
            update["area_mm2"] = periphery.macro_area_mm2(
                analog=analog, adc_bits=self.adc_bits, rows=self.rows, cols=self.cols, rows_per_op=self.rows_per_op,
                cols_per_readout=self.cols_per_readout, input_bits_per_cycle=self.input_bits_per_cycle,
                cell_bits=self.cell_bits, node_m=node_m, cell_groups=self.cell_groups,
                cell_capacitance_f=self.cell_capacitance_f, pwm=self.input_encoding == "pwm",
                dacs_per_row=self.dacs_per_row)
        return self.model_copy(update=update) if update else self

    @property
    def capacity_bits(self) -> int:
        return self.rows * self.cols * self.cell_bits


class VectorUnit(BaseModel):
    """Softmax, norms, activations, rotary, attention over the KV cache."""

    model_config = FROZEN

    lanes: int = Field(gt=0, description="parallel lanes of the vector unit")
    ops_per_lane_per_cycle: int = Field(1, gt=0, description="ops each lane completes per cycle")
    energy_per_op_j: EnergyPerOp = Field(alias="energy_per_op", description="e.g. '1 pJ/op'")


class Buffer(BaseModel):
    model_config = FROZEN

    capacity_bytes: Capacity = Field(alias="capacity", description="buffer capacity, e.g. '32 KiB'")
    energy_per_bit_j: EnergyPerBit = Field(
        alias="energy_per_bit", description="energy per bit moved, e.g. '0.1 pJ/bit'",
    )


class Noc(BaseModel):
    model_config = FROZEN

    bandwidth_bytes_per_s: Bandwidth = Field(
        alias="bandwidth", description="aggregate bandwidth of the network, e.g. '256 GB/s'",
    )
    energy_per_bit_j: EnergyPerBit = Field(
        alias="energy_per_bit", description="energy per bit moved, e.g. '0.1 pJ/bit'",
    )
    multicast: bool = Field(
        False, description="the network replicates a packet to many tiles (a broadcast tree or multicast routers): "
                           "a matmul's input crosses it once instead of once per column tile; its energy is then "
                           "charged once per bit sent, a lower bound (each branch of a real tree has its own "
                           "links); false: every column tile gets its own copy",
    )


class CimAccelerator(BaseModel):
    """Tiles of CIM macros with buffers, a vector unit and an on-chip network."""

    model_config = FROZEN

    kind: Literal["cim_accelerator"] = Field(
        "cim_accelerator", description="`cim_accelerator`: tiles of compute-in-memory macros",
    )
    description: str = Field("", description="free text about the accelerator")
    technology_node_m: Length = Field(alias="technology_node", description="e.g. '65 nm'")
    clock_hz: Frequency = Field(alias="clock", description="clock of the vector unit and control")
    macro: CimMacro = Field(description="the CIM macro every tile holds (see cim_accelerator.macro)")
    tiles: int = Field(gt=0, description="number of tiles")
    macros_per_tile: int = Field(gt=0, description="CIM macros in each tile (macros = tiles x macros_per_tile)")
    tile_buffer: Buffer = Field(description="input/output buffer of one tile")
    global_buffer: Buffer = Field(description="buffer shared by all tiles (activations between layers)")
    vector_unit: VectorUnit = Field(description="digital unit for the non-matrix ops (norms, softmax, attention scores)")
    noc: Noc = Field(description="on-chip network between tiles and the global buffer")
    weight_memory: str = Field(description="memory tier weights stream from when they do not fit on chip")
    kv_memory: str | None = Field(None, description="memory tier of the KV cache (default: weight_memory)")
    pipeline_stages: int = Field(
        1, ge=1, description="macro groups the layers are split across, balanced by mapping.pipeline"
    )
    double_buffer: bool = Field(
        True, description="when streaming, half the macros take the next weights while the other half compute"
    )
    supply_voltage_v: Voltage | None = Field(
        None, alias="supply_voltage", description="supply of the accelerator (technology scaling), e.g. '0.8 V'"
    )
    static_power_w: Power = Field(alias="static_power", description="leakage/clock of everything but the macros")
    other_area_mm2: Area = Field(alias="other_area", description="buffers, vector unit, NoC, control, I/O")

    @model_validator(mode="after")
    def _scalable(self) -> "CimAccelerator":
        """Where the macro's figures are scaled or derived, the node and supply must be inside the
        scaling model's range (7-180 nm; a supply where its polynomials are positive)."""
        try:
            _ = self.effective_macro
        except ValueError as exc:
            raise ValueError(f"technology_node / supply_voltage / macro.characterised_node / characterised_vdd: {exc}"
                             ) from None
        return self

    @property
    def effective_macro(self) -> CimMacro:
        """The macro at this accelerator's node and supply (Stillmaker & Baas 2017 scaling).

        Figures characterised at another node (`macro.characterised_node`) are scaled:
        clock by 1/delay, energies by the energy factor, leakage by the power factor,
        area by the area factor. Without a characterised node the macro is used as given.
        """
        m = self.macro
        derive_vdd = self.supply_voltage_v or m.characterised_vdd_v  # None: the node's nominal supply
        if m.characterised_node_m is None:
            return m.resolved(node_m=self.technology_node_m, vdd_v=derive_vdd)
        src_v = m.characterised_vdd_v or 1.0
        dst_v = self.supply_voltage_v or src_v
        if abs(m.characterised_node_m - self.technology_node_m) < 1e-12 and src_v == dst_v:
            return m.resolved(node_m=self.technology_node_m, vdd_v=derive_vdd)
        f = scale(m.characterised_node_m, src_v, self.technology_node_m, dst_v)

        def scaled(x: float | None, k: float) -> float | None:
            return None if x is None else x * k

        return m.model_copy(update={
            "clock_hz": m.clock_hz / f.delay,
            "energy_per_array_op_j": scaled(m.energy_per_array_op_j, f.energy),
            "energy_per_readout_j": scaled(m.energy_per_readout_j, f.energy),
            "energy_per_group_select_j": scaled(m.energy_per_group_select_j, f.energy),
            "energy_per_row_write_j": m.energy_per_row_write_j * f.energy,
            "leakage_power_w": m.leakage_power_w * f.power,
            "area_mm2": scaled(m.area_mm2, f.area),
            "characterised_node_m": self.technology_node_m,
            "characterised_vdd_v": dst_v,
        }).resolved(node_m=self.technology_node_m, vdd_v=dst_v)

    @property
    def macro_count(self) -> int:
        return self.tiles * self.macros_per_tile

    @property
    def area_mm2(self) -> float:
        area = self.effective_macro.area_mm2
        assert area is not None  # resolved
        return self.macro_count * area + self.other_area_mm2

    @property
    def kv_tier(self) -> str:
        return self.kv_memory or self.weight_memory

    @property
    def cim_capacity_bits(self) -> int:
        return self.macro_count * self.macro.capacity_bits
