"""CIM periphery from the knobs (issue 11, item 2): ADC energy from adc_bits, rows bounded by
the ADC, adder trees that grow with rows and input bits, streamed weights on the NoC."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from slmsim.hw_models import periphery
from slmsim.hw_models.load import hardware_with_edits, load_hardware
from slmsim.hw_models.scaling import scale
from slmsim.mapping.cim import psum_bytes
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

SCEN = Scenario(prompt_tokens=32, gen_tokens=8, precision=Precision(weight_bits=4, activation_bits=8))


def analog_edgecim(tmp_path: Path, bits: int) -> Path:
    f = tmp_path / f"analog{bits}.yaml"
    f.write_text(f"extends: edgecim\nname: analog{bits}\ndevices:\n  cim:\n    macro:\n      style: analog\n"
                 f"      adc_bits: {bits}\n      energy_per_readout: null\n")
    return f


def test_8_bit_readout_costs_at_least_4x_a_4_bit_one(tmp_path: Path) -> None:
    """The issue's done-when, through the loader and a whole simulation."""
    model = load_model("qwen3-0.6b")
    e = {}
    for bits in (4, 8):
        hw = load_hardware(str(analog_edgecim(tmp_path, bits))).spec
        e[bits] = run(make_plan(hw, model, SCEN)).energy_breakdown_j["cim_readout"]
    assert e[8] >= 4 * e[4]


def test_walden_conversion_energy_doubles_per_bit() -> None:
    node, vdd = 65e-9, 1.1
    k = scale(40e-9, 1.1, node, vdd).energy
    for bits in (4, 8):  # the survey-median Walden FoM, 26.2 fJ per conversion step at 40 nm, x 2^bits
        assert periphery.adc_energy_j(bits, node, vdd) == pytest.approx(26.2e-15 * 2.0**bits * k)
    fa = periphery.fa_bit_energy_j(node, vdd)
    r4 = periphery.readout_energy_j(analog=True, adc_bits=4, rows_per_op=128, input_bits_per_cycle=1, cell_bits=1,
                                    node_m=node, vdd_v=vdd)
    r8 = periphery.readout_energy_j(analog=True, adc_bits=8, rows_per_op=128, input_bits_per_cycle=1, cell_bits=1,
                                    node_m=node, vdd_v=vdd)
    # conversion parts 16x apart; the shift-add after each conversion is (adc_bits + 1 + 8) full-adder bits
    assert (r8 - 17 * fa) == pytest.approx(16 * (r4 - 13 * fa))


def test_adc_area_grows_with_bits() -> None:
    a4, a8 = periphery.adc_area_mm2(4, 28e-9), periphery.adc_area_mm2(8, 28e-9)
    assert a4 == pytest.approx(10 ** (-0.0369 * 4 + 1.206) * 16e-6)
    assert a8 / a4 == pytest.approx(16 * 10 ** (-0.0369 * 4))


def test_macro_area_from_the_knobs_includes_the_adcs(tmp_path: Path) -> None:
    hw = {b: hardware_with_edits("edgecim", {"devices.cim.macro.style": "analog", "devices.cim.macro.adc_bits": b,
                                            "devices.cim.macro.area": None}).devices["cim"] for b in (4, 8)}
    cells = 128 * 128 * 300 * (65e-6) ** 2  # 300 F^2 per cell at F = 65 nm
    nand2 = 0.614e-6 * scale(28e-9, 0.9, 65e-9, 0.9).area  # mm^2
    accumulator = (1 + 7 + 8) * (7 + 6) * nand2  # 16 bits of full adder + flip-flop per readout
    rows = 128 * (8 * 6 + 4) * nand2  # per row: an 8-bit input register (6 NAND2 per flip-flop) + a word-line driver
    for b, acc in hw.items():
        assert acc.effective_macro.area_mm2 == pytest.approx(cells + rows + 128 * (periphery.adc_area_mm2(b, 65e-9)
                                                                                   + accumulator))
    assert hw[8].area_mm2 > hw[4].area_mm2


def test_rows_per_op_bounded_by_the_adc_without_psum_quantisation() -> None:
    exact = hardware_with_edits("edgecim", {"devices.cim.macro.style": "analog", "devices.cim.macro.adc_bits": 4,
                                           "devices.cim.macro.psum_quantisation": False}).devices["cim"]
    m = exact.effective_macro
    assert m.rows_per_op == 15  # 15 one-bit products + zero: 16 levels = 2^4
    assert m.cycles_per_mvm(8) == math.ceil(128 / 15) * 8
    quant = hardware_with_edits("edgecim", {"devices.cim.macro.style": "analog", "devices.cim.macro.adc_bits": 4})
    qm = quant.devices["cim"].effective_macro
    assert qm.rows_per_op == 128 and qm.quantises_psums
    plan = make_plan(quant, load_model("qwen3-0.6b"), SCEN)
    assert any("partial sums" in w for w in plan.warnings)  # the accuracy assumption is said out loud


def test_digital_adder_tree_grows_with_rows_and_input_bits() -> None:
    # 128 one-bit products: 128 x 2 tree FA bits + accumulator 1 + 7 + 8
    assert periphery.adder_tree_fa_bits(128, 1, 1) == 128 * 2 + 1 + 7 + 8
    assert periphery.adder_tree_fa_bits(256, 1, 1) > periphery.adder_tree_fa_bits(128, 1, 1)
    assert periphery.adder_tree_fa_bits(128, 2, 1) == 128 * 3 + 2 + 7 + 8
    derived = hardware_with_edits("edgecim", {"devices.cim.macro.energy_per_readout": None}).devices["cim"]
    fa = periphery.fa_bit_energy_j(65e-9, 1.1)
    assert derived.effective_macro.energy_per_readout_j == pytest.approx(272 * fa)


def test_partial_sums_in_32_bit_words() -> None:
    assert psum_bytes(8, 4, 128) == 4  # 8 + 4 + 7 = 19 bits
    assert psum_bytes(16, 16, 128) == 8  # 39 bits need a 64-bit word


def test_streamed_weights_cross_the_noc_and_tile_buffers_by_hand() -> None:
    """llama-3.2-1b at W4 (4.5 bits with scales) streams every matmul weight per token on edgecim."""
    hw = load_hardware("edgecim").spec
    plan_scen = Scenario(prompt_tokens=128, gen_tokens=16, precision=Precision(weight_bits=4, activation_bits=8))
    plan = make_plan(hw, load_model("llama-3.2-1b"), plan_scen)
    assert plan.weight_mode["cim"] == "weight_streaming"
    h, kv, ffn, layers, vocab = 2048, 8 * 64, 8192, 16, 128256
    params = layers * (2 * h * h + 2 * h * kv + 3 * h * ffn) + vocab * h  # + the tied lm_head
    weight_bytes = params * 4.5 / 8  # 695.1 MB
    step = plan.decode
    # the same ops held stationary (enough macros): activations and partial sums only on the NoC
    big = hardware_with_edits("edgecim", {"devices.cim.tiles": 1024, "devices.cim.macros_per_tile": 1024})
    still = make_plan(big, load_model("llama-3.2-1b"), plan_scen)
    assert still.weight_mode["cim"] == "weight_stationary"
    noc = step.tier_bytes_total(0.0, 1)["noc:cim"]
    noc_still = still.decode.tier_bytes_total(0.0, 1)["noc:cim"]
    assert noc - noc_still == pytest.approx(weight_bytes, rel=1e-9)
    e, e_still = step.dynamic_energy_j(0.0, 1), still.decode.dynamic_energy_j(0.0, 1)
    noc_weights_j = weight_bytes * 8 * 0.1e-12  # 0.1 pJ/bit NoC: 0.556 mJ per token
    buffer_weights_j = weight_bytes * 8 * 0.05e-12  # one tile-buffer write at 0.05 pJ/bit: 0.278 mJ
    assert noc_weights_j == pytest.approx(0.556e-3, rel=1e-3)
    assert e["noc"] - e_still["noc"] == pytest.approx(noc_weights_j, rel=1e-9)
    assert e["buffer"] - e_still["buffer"] == pytest.approx(buffer_weights_j, rel=1e-9)


def test_cell_groups_precharge_a_local_bit_line_once_per_selection() -> None:
    """ZigZag-IMC's (C_wl + G C_bl) V^2 per compute unit and weight bit, C_wl = C_bl = 0.35 fF at 28 nm,
    charged once per row group per MVM, nothing with one group."""
    base = hardware_with_edits("edgecim", {"devices.cim.macro.rows": 1024}).devices["cim"]
    assert base.effective_macro.energy_per_group_select_j == 0.0
    grouped = hardware_with_edits("edgecim", {"devices.cim.macro.rows": 1024, "devices.cim.macro.cell_groups": 8})
    m = grouped.devices["cim"].effective_macro
    # edgecim: 65 nm at the node's nominal 1.1 V; the local bit line is wire: capacitance ~ cell pitch ~ F
    k = (65 / 28) * (1.1 / 0.9) ** 2
    per_unit = (0.35e-15 + 8 * 0.35e-15) * 0.9**2 * k
    assert m.energy_per_group_select_j == pytest.approx(128 * 128 * per_unit)
    # 8 row groups of 128 rows: 8 selections, 8 x 8 bit-serial activations
    e = m.energy_per_mvm_j(8)
    assert e - base.effective_macro.energy_per_mvm_j(8) == pytest.approx(8 * 128 * 128 * per_unit)


def test_cell_groups_cannot_exceed_the_row_groups() -> None:
    from slmsim.core.errors import SpecError

    with pytest.raises(SpecError, match="cell_groups"):
        hardware_with_edits("edgecim", {"devices.cim.macro.cell_groups": 2})  # 128 rows, 128 per operation


def test_bit_line_energy_scales_with_the_cell_pitch_not_the_logic_node() -> None:
    """Word/bit lines are wires: capacitance per length ~ node-independent, times a pitch ~ F, times V^2."""
    e28 = periphery.cell_energy_j(28e-9, 0.9)
    assert e28 == pytest.approx(periphery.CELL_ENERGY_J)
    assert periphery.cell_energy_j(7e-9, 0.8) == pytest.approx(periphery.CELL_ENERGY_J * (7 / 28) * (0.8 / 0.9) ** 2)
    assert periphery.cell_group_precharge_j(2, 7e-9, 0.9) == pytest.approx(3 * 0.35e-15 * 0.81 * 7 / 28)


def test_dac_capacitors_do_not_shrink_with_the_node() -> None:
    """50 fF per input bit (ZigZag-IMC), C V^2 at any node; two ladders cost twice; PWM inputs have no DAC."""
    for node in (7e-9, 28e-9, 65e-9):
        assert periphery.dac_energy_j(4, node, 0.8) == pytest.approx(50e-15 * 4 * 0.64)
    assert periphery.dac_energy_j(4, 28e-9, 0.8, dacs_per_row=2) == pytest.approx(2 * 50e-15 * 4 * 0.64)
    assert periphery.dac_energy_j(1, 28e-9, 0.8) == 0.0  # bit-serial inputs need no DAC
    # a 4-bit pulse-width counter: 15 counts x 2 flip-flop toggles, each a full-adder bit's energy
    pwm = periphery.dac_energy_j(4, 7e-9, 0.8, pwm=True)
    assert pwm == pytest.approx(15 * 2 * periphery.fa_bit_energy_j(7e-9, 0.8))
    assert periphery.dac_area_mm2(4, pwm=True) == 0.0
    assert periphery.dac_area_mm2(4) == pytest.approx(200e-15 / 1.7e-3 * 1e6)  # 200 fF at 1.7 fF/um^2, in mm^2


def test_adc_conversion_never_below_the_survey_energy_floor() -> None:
    """Murmann's energy plot: no surveyed ADC converts below 0.267 pJ (mean of the three lowest P/fs_nyq)."""
    k = scale(40e-9, 1.1, 22e-9, 0.8).energy
    assert 26.2e-15 * 2**3 * k < 0.267e-12  # a 3-bit Walden figure at 22 nm would be 42 fJ
    assert periphery.adc_energy_j(3, 22e-9, 0.8) == pytest.approx(0.267e-12)
    assert periphery.adc_energy_j(8, 22e-9, 0.8) == pytest.approx(26.2e-15 * 2**8 * k)  # 1.3 pJ: Walden binds


def test_charge_domain_cells_cost_c_v2_and_capacitor_area() -> None:
    """A C-2C ladder cell of 6 fF per bit: C V^2 per bit cell per activation; one capacitor set per compute
    unit (rows / cell_groups x cols x cell_bits), at 1.7 fF/um^2."""
    e = periphery.array_op_energy_j(rows_per_op=64, cols=16, node_m=22e-9, vdd_v=0.7, cell_bits=8,
                                    cell_capacitance_f=6e-15)
    e0 = periphery.array_op_energy_j(rows_per_op=64, cols=16, node_m=22e-9, vdd_v=0.7, cell_bits=8)
    assert e - e0 == pytest.approx(64 * 16 * 8 * 6e-15 * 0.49)
    kw = dict(analog=True, adc_bits=8, rows=512, cols=16, rows_per_op=64, cols_per_readout=1,
              input_bits_per_cycle=8, cell_bits=8, node_m=22e-9, cell_groups=8)
    a = periphery.macro_area_mm2(**kw, cell_capacitance_f=6e-15)
    a0 = periphery.macro_area_mm2(**kw)
    assert a - a0 == pytest.approx(64 * 16 * 8 * 6e-15 / 1.7e-3 * 1e6)  # 49 pF -> 0.029 mm^2


def test_a_multicast_noc_carries_each_input_once_by_hand() -> None:
    """llama-3.2-1b, W4 A8 on edgecim (128 x 128 macros, 32 four-bit outputs each): without
    multicast a matmul's k-byte input goes to each of its ceil(n / 32) column tiles; with it,
    once. Saved per decode token: 16 layers x [2,048 x (96 - 1) qkv + 2,048 x (64 - 1) o +
    2,048 x (512 - 1) gate/up + 8,192 x (64 - 1) down] + 2,048 x (4,008 - 1) tied head
    = 38,385,664 B; partial sums and streamed weights do not change."""
    scen = Scenario(prompt_tokens=128, gen_tokens=16, precision=Precision(weight_bits=4, activation_bits=8))
    model = load_model("llama-3.2-1b")
    uni = make_plan(load_hardware("edgecim").spec, model, scen)
    multi = make_plan(hardware_with_edits("edgecim", {"devices.cim.noc.multicast": True}), model, scen)
    per_layer = 2048 * (96 - 1) + 2048 * (64 - 1) + 2048 * (512 - 1) + 8192 * (64 - 1)
    saved = 16 * per_layer + 2048 * (4008 - 1)
    assert saved == 38_385_664
    a, b = uni.decode.tier_bytes_total(0.0, 1), multi.decode.tier_bytes_total(0.0, 1)
    assert a["noc:cim"] - b["noc:cim"] == pytest.approx(saved, rel=1e-12)
    assert a["dram"] == b["dram"]
    ea, eb = uni.decode.dynamic_energy_j(0.0, 1), multi.decode.dynamic_energy_j(0.0, 1)
    assert ea["noc"] - eb["noc"] == pytest.approx(saved * 8 * 0.1e-12, rel=1e-9)  # 30.7 uJ at 0.1 pJ/bit


def test_each_scale_groups_partial_sum_crosses_the_noc_by_hand() -> None:
    """Each group's partial sum is scaled on the vector unit apart, so at group 32 a k x n
    matmul sends n x ceil(k / 32) partial sums, not one per 128-row tile (a mapping audit:
    4x too few). llama-3.2-1b W4A8 on edgecim, one decode token, group 32 against group 128
    (= the macro rows, one sum per tile as before): 4-byte sums, per layer qkv 3,072 x (64 -
    16) + o 2,048 x 48 + gate/up 16,384 x 48 + down 2,048 x (256 - 64), x 16 layers, plus the
    tied head's 128,256 x 48 = 28,962,816 more sums; the streamed weights differ by their
    scales, 4.5 against 4.125 bits per weight, and cross the NoC too."""
    model = load_model("llama-3.2-1b")
    hw = load_hardware("edgecim").spec
    plans = {g: make_plan(hw, model, Scenario(prompt_tokens=128, gen_tokens=16, precision=Precision(
        weight_bits=4, activation_bits=8, weight_group_size=g))) for g in (32, 128)}
    h, kv, ffn, layers, vocab = 2048, 8 * 64, 8192, 16, 128256
    sums = layers * (3072 * 48 + 2048 * 48 + 16384 * 48 + 2048 * 192) + vocab * 48
    assert sums == 28_962_816
    params = layers * (2 * h * h + 2 * h * kv + 3 * h * ffn) + vocab * h
    a, b = (plans[g].decode.tier_bytes_total(0.0, 1)["noc:cim"] for g in (32, 128))
    assert a - b == pytest.approx(4 * sums + params * (4.5 - 4.125) / 8, rel=1e-9)
