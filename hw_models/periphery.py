"""CIM macro periphery from first principles: ADC conversions, digital adder trees, cells.

Used when a macro spec leaves `energy_per_readout`, `energy_per_array_op` or `area` out (or
`null`): the figure then follows from the macro's knobs at its node and supply. Each model
takes one cited reference figure and scales it between nodes with Stillmaker & Baas 2017
(`hw_models.scaling`).

- **ADC** (analog macros), Walden figure of merit: the energy of one conversion is
  E = FoM_W x 2^B (B = `adc_bits`), FoM_W = P / (2^ENOB f_s), the "Walden" or "ISSCC" FoM of
  Murmann's ADC Performance Survey (github.com/bmurmann/ADC-survey). Reference FoM: an 8-bit,
  1 GS/s SAR ADC at 40 nm, 0.291 pJ per conversion (BRAHMS, Song et al., DAC 2021, as tabulated
  in the Accelergy hwcomponents library), i.e. 0.291 pJ / 2^8 = 1.14 fJ per conversion step.
  Every extra bit doubles the energy: an 8-bit readout costs 16x a 4-bit one. ENOB = B is
  an assumption (the best case; real CIM ADCs lose ~0.5-1 bit).
  Area: ZigZag-IMC's fit of 28 nm CIM ADCs, A = 10^(-0.0369 B + 1.206) x 2^B um^2
  (KULeuven-MICAS/zigzag-imc, zigzag/classes/hardware/architecture/AimcArrayUnit.py,
  "validated against 3 AIMC papers on 28nm"), scaled by the area factor.
- **DAC** (analog macros applying more than one input bit per cycle): C x bits x V^2 per row per
  operation, C = 50 fF at 28 nm (ZigZag-IMC AimcArrayUnit.get_dac_cost, "taken from the TinyML
  paper"), its capacitance scaled between nodes by the energy factor at equal supply.
- **Digital adder tree** (digital macros): a tree summing R = `rows_per_op` products of
  w = input_bits_per_cycle + cell_bits - 1 bits has about R (w + 1) full-adder bits (level l
  holds R / 2^l adders of w + l - 1 bits); the shift-add accumulator adds
  w + log2(R) + ACCUMULATOR_INPUT_BITS more. One full-adder bit costs an 8-bit add / 8:
  0.03 pJ / 8 at 45 nm, 0.9 V (Horowitz, "Computing's energy problem", ISSCC 2014).
- **Cells** (both styles): driving the word lines and bit lines of `rows_per_op` x `cols`
  cells for one input-bit step costs CELL_ENERGY_J per cell at 28 nm, 0.9 V. This one is
  fitted (`slmsim validate --cim --refit` shows the fit, in-sample and leave-one-out), on the
  published macros of `hw_models/macros/`; no other constant here is fitted.
- **Area** of a macro without one: cells x CELL_AREA_F2 x F^2 plus the readout periphery of
  every readout: ADCs (above), or the adder tree's full-adder bits, plus the shift-add
  accumulator's full adders and register bits. Logic area in NAND2 equivalents of 0.614 um^2
  at 28 nm (ZigZag's IMC validation, `unit_area`), a full adder 7 and a flip-flop 6 NAND2
  equivalents (assumptions), scaled between nodes by Stillmaker & Baas area factors.
"""

from __future__ import annotations

import math

from slmsim.hw_models.scaling import scale

# --- cited reference figures ----------------------------------------------------------------
ADC_REF_ENERGY_J = 0.291e-12  # 8-bit, 1 GS/s, 40 nm (BRAHMS, DAC 2021, via Accelergy hwcomponents-library)
ADC_REF_BITS = 8
ADC_REF_NODE_M, ADC_REF_VDD_V = 40e-9, 1.1  # assumption: 40 nm at its nominal 1.1 V (not stated with the figure)
WALDEN_FOM_J = ADC_REF_ENERGY_J / 2**ADC_REF_BITS  # 1.14 fJ per conversion step at 40 nm

ADC_AREA_K1, ADC_AREA_K2 = -0.0369, 1.206  # ZigZag-IMC AimcArrayUnit.get_adc_cost, 28 nm
ADC_AREA_NODE_M = 28e-9

DAC_CAP_F = 50e-15  # ZigZag-IMC AimcArrayUnit.get_dac_cost (k0 = 50 fF), 28 nm
DAC_NODE_M = 28e-9

FA_BIT_ENERGY_J = 0.03e-12 / 8  # Horowitz ISSCC 2014: 8-bit add 0.03 pJ at 45 nm
FA_REF_NODE_M, FA_REF_VDD_V = 45e-9, 0.9

# --- fitted -------------------------------------------------------------------------------
# energy per cell per input-bit step (word line + bit line + local product), at 28 nm, 0.9 V.
# Fitted by slmsim.validation_cim.fit_cell_energy on hw_models/macros/*.yaml (log least squares);
# the value here is that fit, rounded; a test refits and checks it.
CELL_ENERGY_J = 0.83e-15
CELL_REF_NODE_M, CELL_REF_VDD_V = 28e-9, 0.9
CELL_ENERGY_BOUNDS_J = (0.05e-15, 20e-15)  # a 28 nm bit line is ~0.1-2 fF/cell; 0.9 V^2 x that, with margin

# --- assumptions --------------------------------------------------------------------------
ACCUMULATOR_INPUT_BITS = 8  # assumption: shift-add accumulators are sized for 8-bit inputs
CELL_AREA_F2 = 300.0  # assumption: a CIM bit cell (8T-10T + local compute) ~2x a 6T cell's ~150 F^2
NAND2_AREA_UM2 = 0.614  # 28 nm NAND2 equivalent (ZigZag sram_imc validation files, 'unit_area')
NAND2_NODE_M = 28e-9
FA_NAND2 = 7.0  # assumption: a 28-transistor mirror full adder ~ 7 NAND2 equivalents
DFF_NAND2 = 6.0  # assumption: a D flip-flop ~ 6 NAND2 equivalents
NOMINAL_VDD_V = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9, 28: 0.9, 22: 0.8, 20: 0.9, 16: 0.8,
                 14: 0.8, 12: 0.8, 10: 0.75, 7: 0.7}  # assumption: typical nominal supplies per node


def nominal_vdd_v(node_m: float) -> float:
    nm = node_m * 1e9
    return NOMINAL_VDD_V[min(NOMINAL_VDD_V, key=lambda n: abs(math.log(n / nm)))]


def _energy_scale(src_node_m: float, src_vdd_v: float, node_m: float, vdd_v: float) -> float:
    return scale(src_node_m, src_vdd_v, node_m, vdd_v).energy


def adc_energy_j(bits: int, node_m: float, vdd_v: float) -> float:
    """One conversion: Walden FoM x 2^bits, scaled from 40 nm to the node."""
    return WALDEN_FOM_J * 2**bits * _energy_scale(ADC_REF_NODE_M, ADC_REF_VDD_V, node_m, vdd_v)


def dac_energy_j(bits_per_cycle: int, node_m: float, vdd_v: float) -> float:
    """One row's DAC driving `bits_per_cycle` input bits at once (none for bit-serial inputs)."""
    if bits_per_cycle <= 1:
        return 0.0
    return DAC_CAP_F * bits_per_cycle * vdd_v**2 * _energy_scale(DAC_NODE_M, vdd_v, node_m, vdd_v)


def adc_area_mm2(bits: int, node_m: float) -> float:
    um2 = 10 ** (ADC_AREA_K1 * bits + ADC_AREA_K2) * 2**bits
    return um2 * 1e-6 * scale(ADC_AREA_NODE_M, 0.9, node_m, 0.9).area


def adder_tree_fa_bits(rows_per_op: int, input_bits_per_cycle: int, cell_bits: int) -> float:
    """Full-adder bits per column readout: the tree over rows_per_op products + the accumulator."""
    w = input_bits_per_cycle + cell_bits - 1
    tree = rows_per_op * (w + 1) if rows_per_op > 1 else 0
    return tree + w + math.ceil(math.log2(max(rows_per_op, 1))) + ACCUMULATOR_INPUT_BITS


def fa_bit_energy_j(node_m: float, vdd_v: float) -> float:
    return FA_BIT_ENERGY_J * _energy_scale(FA_REF_NODE_M, FA_REF_VDD_V, node_m, vdd_v)


def cell_energy_j(node_m: float, vdd_v: float, *, cell_energy_28nm_j: float = CELL_ENERGY_J) -> float:
    return cell_energy_28nm_j * _energy_scale(CELL_REF_NODE_M, CELL_REF_VDD_V, node_m, vdd_v)


def readout_energy_j(*, analog: bool, adc_bits: int | None, rows_per_op: int, input_bits_per_cycle: int,
                     cell_bits: int, node_m: float, vdd_v: float) -> float:
    """One column read once: an ADC conversion + its shift-add, or a digital adder tree + shift-add."""
    fa = fa_bit_energy_j(node_m, vdd_v)
    if analog:
        assert adc_bits is not None
        shift_add = adc_bits + input_bits_per_cycle + ACCUMULATOR_INPUT_BITS
        return adc_energy_j(adc_bits, node_m, vdd_v) + shift_add * fa
    return adder_tree_fa_bits(rows_per_op, input_bits_per_cycle, cell_bits) * fa


def array_op_energy_j(*, rows_per_op: int, cols: int, node_m: float, vdd_v: float, analog: bool = False,
                      input_bits_per_cycle: int = 1, cell_energy_28nm_j: float = CELL_ENERGY_J) -> float:
    """One activation: rows_per_op x cols cells, one input-bit step (+ the row DACs of an analog macro)."""
    cells = rows_per_op * cols * cell_energy_j(node_m, vdd_v, cell_energy_28nm_j=cell_energy_28nm_j)
    dacs = rows_per_op * dac_energy_j(input_bits_per_cycle, node_m, vdd_v) if analog else 0.0
    return cells + dacs


def macro_area_mm2(*, analog: bool, adc_bits: int | None, rows: int, cols: int, rows_per_op: int,
                   cols_per_readout: int, input_bits_per_cycle: int, cell_bits: int, node_m: float) -> float:
    """Cells + readout periphery (ADCs, or adder trees) + accumulators, when the spec gives no area."""
    f2_mm2 = (node_m * 1e3) ** 2  # F^2 in mm^2
    cells = rows * cols * CELL_AREA_F2 * f2_mm2
    readouts = math.ceil(cols / cols_per_readout)
    nand2_mm2 = NAND2_AREA_UM2 * 1e-6 * scale(NAND2_NODE_M, 0.9, node_m, 0.9).area
    acc_bits = input_bits_per_cycle + cell_bits - 1 + math.ceil(math.log2(max(rows_per_op, 1))) + ACCUMULATOR_INPUT_BITS
    accumulator = acc_bits * (FA_NAND2 + DFF_NAND2) * nand2_mm2
    if analog:
        assert adc_bits is not None
        per_readout = adc_area_mm2(adc_bits, node_m) + accumulator
    else:  # one adder tree per readout; row groups take turns through it
        tree = adder_tree_fa_bits(rows_per_op, input_bits_per_cycle, cell_bits) - acc_bits
        per_readout = tree * FA_NAND2 * nand2_mm2 + accumulator
    return cells + readouts * per_readout
