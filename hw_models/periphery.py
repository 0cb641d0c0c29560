"""CIM macro periphery from first principles: ADC conversions, digital adder trees, cells.

Used when a macro spec leaves `energy_per_readout`, `energy_per_array_op` or `area` out (or
`null`): the figure then follows from the macro's knobs at its node and supply. Each model
takes one cited reference figure and scales it between nodes: logic (adders, ADCs) with
Stillmaker & Baas 2017 (`hw_models.scaling`), word and bit lines as wires (cell pitch x V^2),
capacitors not at all (C V^2 at the supply).

- **ADC** (analog macros), Walden figure of merit: the energy of one conversion is
  E = FoM_W x 2^B (B = `adc_bits`), FoM_W = P / (2^ENOB f_s), the "Walden" or "ISSCC" FoM of
  Murmann's ADC Performance Survey (github.com/bmurmann/ADC-survey). Every extra bit doubles
  the energy (an 8-bit readout costs 16x a 4-bit one) down to the survey's energy floor
  below. ENOB = B is an assumption (real CIM ADCs lose ~0.5-1 bit). FoM_W (ADC_FOM_J) is the median of the survey's designs of the
  kind CIM macros carry, not fitted: the 35 Nyquist SAR ADCs of ISSCC/VLSI 2010-2025 with SNDR <= 62 dB (<= 10 bits),
  1 MS/s-2 GS/s and nodes <= 65 nm (survey rev. 2025-06-09, xls/ADCsurvey_rev20250609.xlsx)
  span 2.18-280 fJ per conversion step, median 26.2 (interquartile 17.7-50.2), median node
  40 nm. The earlier reference, BRAHMS's 8-bit 1 GS/s SAR at 40 nm (0.291 pJ, 1.14 fJ/step,
  Song et al. DAC 2021 via Accelergy), sits below the survey's best: stand-alone best-in-class
  converters are not what CIM macros carry.
  **Energy floor**: at low resolution the Walden FoM stops applying (a conversion cannot cost
  less than its comparator, logic and reference energy, whatever 2^B is). Murmann's survey
  plots that bound (plots/energy_plot.ipynb: E >= P/fs_floor + k 4^ENOB, P/fs_floor the mean
  of the three lowest P/fs_nyq of all ISSCC/VLSI designs): 0.267 pJ per conversion (0.19 pJ,
  VLSI 2019 10b SAR, 65 nm, 0.7 V; 0.30 pJ, VLSI 2015 asynchronous, 28 nm, 0.65 V; 0.31 pJ,
  VLSI 2016 11b SAR, 90 nm, 0.3 V), k = 0.145 aJ (negligible below 10 bits). The floor's three
  designs do not order by node (28, 65, 90 nm) and run at 0.3-0.7 V, so it is used as what it
  is, the lowest energy per conversion any surveyed ADC reached, at any node and supply (not
  scaled). A conversion costs max(Walden median x 2^B at the node, floor): the floor binds at
  <= 7 bits at 7 nm, 0.8 V, <= 5 bits at 22 nm, 0.8 V and <= 4 bits at 28 nm, 0.9 V. In the
  survey the designs of <= 6 bits (SNDR <= 38 dB) are almost all multi-GS/s converters (FoM
  median far above the SAR median), so no low-resolution, low-rate population exists to take a
  separate median from (docs/validation.md).
  Area: ZigZag-IMC's fit of 28 nm CIM ADCs, A = 10^(-0.0369 B + 1.206) x 2^B um^2
  (KULeuven-MICAS/zigzag-imc, zigzag/classes/hardware/architecture/AimcArrayUnit.py,
  "validated against 3 AIMC papers on 28nm"), scaled by the area factor.
- **DAC** (analog macros applying more than one input bit per cycle, `input_encoding: dac`,
  `dacs_per_row` of them per activated row): C x bits x V^2 per row per operation, C = 50 fF
  (ZigZag-IMC AimcArrayUnit.get_dac_cost, "taken from the TinyML paper", a 28 nm macro). **Capacitors do not shrink with the logic node**: a DAC's or a charge-domain
  cell's capacitor is sized for matching and kT/C noise at its resolution (Pelgrom matching,
  sigma(dC/C) ~ 1/sqrt(C); kT/C), not by the node's gate capacitance, so C is node-independent
  and only V^2 follows the supply (assumption, with that reasoning; CiMLoop's macro models use
  node-independent capacitors too: 2 fF C-2C units at 22 nm, 1 fF compensation units at 7 nm,
  mit-emze/cimloop workspace/models/arch/1_macro/{wang_vlsi_2022,sinangil_jssc_2021}/arch.yaml).
  Area: its capacitors, bits x C per DAC at CAP_DENSITY_F_PER_M2, one DAC set per activated row.
- **Pulse-width inputs** (`input_encoding: pwm`): the word line is held on for the input's
  value in unit pulses; no capacitive DAC. A B-bit counter per activated row counts up to
  2^B - 1 (assumption: ~2 flip-flop toggles per count, each a full-adder bit's energy; CiMLoop's
  sinangil_jssc_2021 model also charges a counter per row, scaled by the average input value);
  the bit line swings once per pulse, so the cells cost one activation per step (assumption).
- **Charge-domain cells** (`cell_capacitance`, e.g. a C-2C ladder): each bit cell of an active
  compute unit switches that capacitance once per input step, C x V^2 (node-independent C, as
  above), on top of the SRAM cell energy; its capacitors take CAP_DENSITY_F_PER_M2 of area per
  farad, one set per compute unit (shared by its `cell_groups` weights).
- **Digital adder tree** (digital macros): a tree summing R = `rows_per_op` products of
  w = input_bits_per_cycle + cell_bits - 1 bits has about R (w + 1) full-adder bits (level l
  holds R / 2^l adders of w + l - 1 bits); the shift-add accumulator adds
  w + log2(R) + ACCUMULATOR_INPUT_BITS more. One full-adder bit costs an 8-bit add / 8:
  0.03 pJ / 8 at 45 nm, 0.9 V (Horowitz, "Computing's energy problem", ISSCC 2014).
- **Cells** (both styles): driving the word lines and bit lines of `rows_per_op` x `cols`
  cells for one input-bit step costs CELL_ENERGY_J per SRAM bit cell at 28 nm, 0.9 V. Between
  nodes it scales as **wire** energy, not as logic energy: word- and bit-line capacitance is
  wire capacitance per unit length, roughly constant across nodes (~0.2 fF/um; ITRS/IRDS
  interconnect roadmaps, assumption: node-independent), times the cell pitch, which the area
  model takes as sqrt(CELL_AREA_F2) x F, so E ~ (F / 28 nm) x (V / 0.9 V)^2
  (`wire_energy_scale`); the local-bit-line precharge of cell groups likewise. (A cell
  of `cell_bits` > 1 is that many bit cells whose products are combined in the analog domain
  before the readout, e.g. a C-2C ladder: it costs cell_bits x CELL_ENERGY_J). This one is
  fitted (`slmsim validate --cim --refit` shows the fit, in-sample and leave-one-out), on the
  published macros of `hw_models/macros/`; no other constant here is fitted.
- **Cell groups** (`cell_groups` = G > 1 weights sharing one compute unit, selected in
  turn): each activation precharges the compute unit's local bit line, which carries the
  junction load of all G cells. ZigZag-IMC's cost model (KULeuven-MICAS/zigzag-imc,
  DimcArrayUnit.get_precharge_energy, also called by AimcArrayUnit) charges, only when
  G > 1, (C_wl + G C_bl) V^2 per compute unit and weight bit, with C_wl = C_bl =
  C_NAND2 / 2 = 0.35 fF at 28 nm (imc_unit.LogicUnit: nd2_cap 0.7 fF), on top of the cell
  energy (which covers a G = 1 cell). ZigZag charges it once per weight selection, not per
  cycle (its precharge_interval: loops that leave the weight unchanged, such as the input
  bits of a bit-serial MVM, do not precharge again); here: once per compute unit per row
  group per MVM (`group_select_energy_j`). Throughput: the G groups are row groups
  (`rows / rows_per_op` >= G), so an MVM already takes G times the activations.
- **Supply**: the logic energies (adders, ADC above its floor) at the macro's supply and node
  through Stillmaker & Baas's energy polynomials (`hw_models.scaling`), which go as ~C V^2
  between 0.6 V and 1.1 V; cells, DACs and capacitors as C V^2; the ADC floor unscaled. A
  macro measured at 0.7 V is not predicted at 0.9 V.
- **Area** of a macro without one: cells x CELL_AREA_F2 x F^2, the DAC and charge-domain
  capacitors (above), plus the readout periphery of
  every readout: ADCs (above), or the adder tree's full-adder bits, plus the shift-add
  accumulator's full adders and register bits, plus per activated row an input register
  (ACCUMULATOR_INPUT_BITS flip-flops, as ZigZag-IMC's input_reg of one input word per word
  line, inputs/examples/hardware/Dimc.py) and a word-line driver. Logic area in NAND2 equivalents of 0.614 um^2
  at 28 nm (ZigZag's IMC validation, `unit_area`), a full adder 7 and a flip-flop 6 NAND2
  equivalents (assumptions), scaled between nodes by Stillmaker & Baas area factors.
"""

from __future__ import annotations

import math

from slmsim.hw_models.scaling import scale

# --- cited reference figures ----------------------------------------------------------------
# Murmann ADC survey (rev. 2025-06-09): Nyquist SAR, ISSCC/VLSI 2010-2025, SNDR <= 62 dB, 1 MS/s-2 GS/s, <= 65 nm
ADC_FOM_J = 26.2e-15  # median FoM_W of those 35 designs (interquartile 17.7-50.2 fJ), per conversion step
ADC_FOM_RANGE_J = (2.18e-15, 280e-15)  # their minimum and maximum (the spread CIM ADCs show too)
ADC_FOM_IQR_J = (17.7e-15, 50.2e-15)  # their interquartile range (bounds of the not-adopted FoM fit)
ADC_REF_NODE_M, ADC_REF_VDD_V = 40e-9, 1.1  # the selection's median node; assumption: at its nominal 1.1 V

# Murmann survey energy plot (plots/energy_plot.ipynb): floor = mean of the 3 lowest P/fs_nyq (all designs)
ADC_ENERGY_FLOOR_J = 0.267e-12  # 0.19, 0.30, 0.31 pJ (VLSI 2019 65 nm, VLSI 2015 28 nm, VLSI 2016 90 nm)

ADC_AREA_K1, ADC_AREA_K2 = -0.0369, 1.206  # ZigZag-IMC AimcArrayUnit.get_adc_cost, 28 nm
ADC_AREA_NODE_M = 28e-9

DAC_CAP_F = 50e-15  # ZigZag-IMC AimcArrayUnit.get_dac_cost (k0 = 50 fF); node-independent (matching/kT/C-sized)
# CiMLoop (mit-emze/cimloop sinangil_jssc_2021/arch.yaml, compensation capacitors: cap_f_per_m2 1.7e-3)
CAP_DENSITY_F_PER_M2 = 1.7e-3  # i.e. 1.7 fF/um^2 of MOM/MIM capacitor

FA_BIT_ENERGY_J = 0.03e-12 / 8  # Horowitz ISSCC 2014: 8-bit add 0.03 pJ at 45 nm
FA_REF_NODE_M, FA_REF_VDD_V = 45e-9, 0.9

# --- fitted -------------------------------------------------------------------------------
# energy per cell per input-bit step (word line + bit line + local product), at 28 nm, 0.9 V.
# Fitted by slmsim.validation_cim.fit_cell_energy on hw_models/macros/*.yaml (log least squares);
# the value here is that fit, rounded; a test refits and checks it.
CELL_ENERGY_J = 0.624e-15
CELL_REF_NODE_M, CELL_REF_VDD_V = 28e-9, 0.9
CELL_ENERGY_BOUNDS_J = (0.05e-15, 20e-15)  # a 28 nm bit line is ~0.1-2 fF/cell; 0.9 V^2 x that, with margin

# --- assumptions --------------------------------------------------------------------------
ACCUMULATOR_INPUT_BITS = 8  # assumption: shift-add accumulators are sized for 8-bit inputs
CELL_AREA_F2 = 300.0  # assumption: a CIM bit cell (8T-10T + local compute) ~2x a 6T cell's ~150 F^2
NAND2_AREA_UM2 = 0.614  # 28 nm NAND2 equivalent (ZigZag sram_imc validation files, 'unit_area')
NAND2_NODE_M = 28e-9
FA_NAND2 = 7.0  # assumption: a 28-transistor mirror full adder ~ 7 NAND2 equivalents
DFF_NAND2 = 6.0  # assumption: a D flip-flop ~ 6 NAND2 equivalents (ZigZag-IMC's dff_area: 6 NAND2 areas)
PWM_TOGGLES_PER_COUNT = 2.0  # assumption: a binary counter toggles ~2 flip-flops per count (1 + 1/2 + 1/4 ...)
WL_DRIVER_NAND2 = 4.0  # assumption: a word-line driver (level shift + buffer) ~ 4 NAND2 equivalents
# ZigZag-IMC (imc_unit.LogicUnit, 28 nm): wl_cap = bl_cap = nd2_cap / 2 = 0.35 fF per cell
CELL_WL_CAP_F = CELL_BL_CAP_F = 0.7e-15 / 2
CELL_CAP_NODE_M, CELL_CAP_VDD_V = 28e-9, 0.9
NOMINAL_VDD_V = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9, 28: 0.9, 22: 0.8, 20: 0.9, 16: 0.8,
                 14: 0.8, 12: 0.8, 10: 0.75, 7: 0.7}  # assumption: typical nominal supplies per node


def nominal_vdd_v(node_m: float) -> float:
    nm = node_m * 1e9
    return NOMINAL_VDD_V[min(NOMINAL_VDD_V, key=lambda n: abs(math.log(n / nm)))]


def _energy_scale(src_node_m: float, src_vdd_v: float, node_m: float, vdd_v: float) -> float:
    return scale(src_node_m, src_vdd_v, node_m, vdd_v).energy


def wire_energy_scale(src_node_m: float, src_vdd_v: float, node_m: float, vdd_v: float) -> float:
    """Word/bit-line energy between nodes: wire capacitance per length (node-independent) x cell pitch
    (proportional to F at a fixed CELL_AREA_F2) x V^2."""
    return (node_m / src_node_m) * (vdd_v / src_vdd_v) ** 2


def adc_walden_energy_j(bits: int, node_m: float, vdd_v: float, *, fom_j: float | None = None) -> float:
    """Walden FoM x 2^bits, scaled from 40 nm to the node."""
    fom = ADC_FOM_J if fom_j is None else fom_j
    return fom * 2**bits * _energy_scale(ADC_REF_NODE_M, ADC_REF_VDD_V, node_m, vdd_v)




def adc_energy_j(bits: int, node_m: float, vdd_v: float, *, fom_j: float | None = None) -> float:
    """One conversion: the Walden median x 2^bits at the node, but no less than the survey's energy floor."""
    return max(adc_walden_energy_j(bits, node_m, vdd_v, fom_j=fom_j), ADC_ENERGY_FLOOR_J)


def dac_energy_j(bits_per_cycle: int, node_m: float, vdd_v: float, *, pwm: bool = False,
                 dacs_per_row: int = 1) -> float:
    """One row's input encoder for `bits_per_cycle` input bits at once (none for bit-serial inputs):
    `dacs_per_row` capacitive DACs (node-independent C), or a pulse-width counter."""
    if bits_per_cycle <= 1:
        return 0.0
    if pwm:
        return (2**bits_per_cycle - 1) * PWM_TOGGLES_PER_COUNT * fa_bit_energy_j(node_m, vdd_v)
    return dacs_per_row * DAC_CAP_F * bits_per_cycle * vdd_v**2  # node-independent capacitor


def dac_area_mm2(bits_per_cycle: int, *, pwm: bool = False, dacs_per_row: int = 1) -> float:
    """One row's capacitive DACs (their capacitors only; a pulse-width counter is logic, not counted)."""
    if bits_per_cycle <= 1 or pwm:
        return 0.0
    return dacs_per_row * capacitor_area_mm2(DAC_CAP_F * bits_per_cycle)


def charge_cell_energy_j(cell_capacitance_f: float, vdd_v: float) -> float:
    """One bit cell of a charge-domain compute unit switching its capacitor once: C V^2."""
    return cell_capacitance_f * vdd_v**2


def capacitor_area_mm2(capacitance_f: float) -> float:
    return capacitance_f / CAP_DENSITY_F_PER_M2 * 1e6


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
    return cell_energy_28nm_j * wire_energy_scale(CELL_REF_NODE_M, CELL_REF_VDD_V, node_m, vdd_v)


def cell_group_precharge_j(cell_groups: int, node_m: float, vdd_v: float) -> float:
    """Local-bit-line precharge of one compute unit shared by `cell_groups` cells, per weight bit.

    ZigZag-IMC's (C_wl + G C_bl) V^2, charged only when G > 1 (a G = 1 cell is CELL_ENERGY_J).
    """
    if cell_groups < 1:
        raise ValueError(f"cell_groups must be >= 1, got {cell_groups}")
    if cell_groups == 1:
        return 0.0
    e28 = (CELL_WL_CAP_F + cell_groups * CELL_BL_CAP_F) * CELL_CAP_VDD_V**2
    return e28 * wire_energy_scale(CELL_CAP_NODE_M, CELL_CAP_VDD_V, node_m, vdd_v)


def readout_energy_j(*, analog: bool, adc_bits: int | None, rows_per_op: int, input_bits_per_cycle: int,
                     cell_bits: int, node_m: float, vdd_v: float, adc_fom_j: float | None = None) -> float:
    """One column read once: an ADC conversion + its shift-add, or a digital adder tree + shift-add."""
    fa = fa_bit_energy_j(node_m, vdd_v)
    if analog:
        assert adc_bits is not None
        shift_add = adc_bits + input_bits_per_cycle + ACCUMULATOR_INPUT_BITS
        return adc_energy_j(adc_bits, node_m, vdd_v, fom_j=adc_fom_j) + shift_add * fa
    return adder_tree_fa_bits(rows_per_op, input_bits_per_cycle, cell_bits) * fa


def array_op_energy_j(*, rows_per_op: int, cols: int, node_m: float, vdd_v: float, analog: bool = False,
                      input_bits_per_cycle: int = 1, cell_bits: int = 1, cell_capacitance_f: float = 0.0,
                      pwm: bool = False, dacs_per_row: int = 1, cell_energy_28nm_j: float = CELL_ENERGY_J) -> float:
    """One activation: rows_per_op x cols cells, one input-bit step (+ the row DACs of an analog macro).

    A cell of `cell_bits` is that many SRAM bit cells (the local-bit-line precharge of
    `cell_groups` > 1 is charged per weight selection, `group_select_energy_j`).
    """
    per_cell = cell_bits * (cell_energy_j(node_m, vdd_v, cell_energy_28nm_j=cell_energy_28nm_j)
                            + charge_cell_energy_j(cell_capacitance_f, vdd_v))
    cells = rows_per_op * cols * per_cell
    dacs = rows_per_op * dac_energy_j(input_bits_per_cycle, node_m, vdd_v, pwm=pwm, dacs_per_row=dacs_per_row) \
        if analog else 0.0
    return cells + dacs


def group_select_energy_j(*, rows_per_op: int, cols: int, cell_bits: int, cell_groups: int, node_m: float,
                          vdd_v: float) -> float:
    """Selecting one of `cell_groups` weights in every compute unit of a row group (0 when G = 1)."""
    return rows_per_op * cols * cell_bits * cell_group_precharge_j(cell_groups, node_m, vdd_v)


def macro_area_mm2(*, analog: bool, adc_bits: int | None, rows: int, cols: int, rows_per_op: int,
                   cols_per_readout: int, input_bits_per_cycle: int, cell_bits: int, node_m: float,
                   cell_groups: int = 1, cell_capacitance_f: float = 0.0, pwm: bool = False,
                   dacs_per_row: int = 1) -> float:
    """Cells + charge-domain capacitors + row periphery (input registers, word-line drivers) + readout
    periphery (ADCs, or adder trees) + accumulators, when the spec gives no area."""
    f2_mm2 = (node_m * 1e3) ** 2  # F^2 in mm^2
    cells = rows * cols * cell_bits * CELL_AREA_F2 * f2_mm2  # a cell of cell_bits is that many bit cells
    # one capacitor set per compute unit, shared by its cell_groups weights
    caps = (rows // cell_groups) * cols * cell_bits * capacitor_area_mm2(cell_capacitance_f)
    readouts = math.ceil(cols / cols_per_readout)
    nand2_mm2 = NAND2_AREA_UM2 * 1e-6 * scale(NAND2_NODE_M, 0.9, node_m, 0.9).area
    acc_bits = input_bits_per_cycle + cell_bits - 1 + math.ceil(math.log2(max(rows_per_op, 1))) + ACCUMULATOR_INPUT_BITS
    accumulator = acc_bits * (FA_NAND2 + DFF_NAND2) * nand2_mm2
    # one input word register + word-line driver per row activated together (rows of other groups share them)
    row_periphery = rows_per_op * (ACCUMULATOR_INPUT_BITS * DFF_NAND2 + WL_DRIVER_NAND2) * nand2_mm2
    if analog:
        row_periphery += rows_per_op * dac_area_mm2(input_bits_per_cycle, pwm=pwm, dacs_per_row=dacs_per_row)
        assert adc_bits is not None
        per_readout = adc_area_mm2(adc_bits, node_m) + accumulator
    else:  # one adder tree per readout; row groups take turns through it
        tree = adder_tree_fa_bits(rows_per_op, input_bits_per_cycle, cell_bits) - acc_bits
        per_readout = tree * FA_NAND2 * nand2_mm2 + accumulator
    return cells + caps + row_periphery + readouts * per_readout
