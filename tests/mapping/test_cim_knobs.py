"""Each CIM knob moves latency / energy / geometry the way the physics says."""

from __future__ import annotations

from typing import Any

import pytest

from slmsim.hw_models.load import hardware_with_edits
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

MODEL = load_model("qwen3-0.6b")
SCEN = Scenario(prompt_tokens=32, gen_tokens=8, precision=Precision(weight_bits=4, activation_bits=8))
PER_CHANNEL = SCEN.model_copy(update={"precision": Precision(weight_bits=4, activation_bits=8, weight_group_size=None)})


def edgecim(**overrides: Any) -> HardwareSpec:
    """The edgecim preset with `path__to__field=value` overrides (SI floats for quantities)."""
    return hardware_with_edits("edgecim", {k.replace("__", "."): v for k, v in overrides.items()})


def big_on_chip(**overrides: Any) -> HardwareSpec:
    """Enough macros (262k x 16 Kb) to hold qwen3-0.6b at 4 bits: weight-stationary; NoC, vector
    unit and DRAM made effectively infinite so the macros alone bound decode."""
    fast = {"devices__cim__noc__bandwidth": 1e18, "devices__cim__vector_unit__lanes": 10**9,
            "memories__dram__bandwidth": 1e18}
    return edgecim(devices__cim__tiles=512, devices__cim__macros_per_tile=512, **{**fast, **overrides})


def tpot(hw: HardwareSpec, scen: Scenario = SCEN) -> float:
    plan = make_plan(hw, MODEL, scen)
    return run(plan).tpot_s


def energy(hw: HardwareSpec, comp: str, scen: Scenario = SCEN) -> float:
    return run(make_plan(hw, MODEL, scen)).energy_breakdown_j.get(comp, 0.0)


def test_preset_streams_and_big_array_is_stationary() -> None:
    assert make_plan(edgecim(), MODEL, SCEN).weight_mode["cim"] == "weight_streaming"
    assert make_plan(big_on_chip(), MODEL, SCEN).weight_mode["cim"] == "weight_stationary"


def test_more_columns_per_readout_is_slower() -> None:
    assert tpot(big_on_chip(devices__cim__macro__cols_per_readout=4)) > tpot(big_on_chip())


def test_more_rows_per_op_means_fewer_cycles() -> None:
    m = edgecim().devices["cim"].macro
    assert m.cycles_per_mvm(8) == 8  # 128 rows at once, 8 input bits, 1 bit per cycle
    m32 = edgecim(devices__cim__macro__rows_per_op=32).devices["cim"].macro
    assert m32.cycles_per_mvm(8) == 4 * 8
    # per-channel scales: the default 32-weight groups would cap both at 32 rows (next tests)
    assert tpot(big_on_chip(devices__cim__macro__rows_per_op=32), PER_CHANNEL) > tpot(big_on_chip(), PER_CHANNEL)


def _decode_op(scen: Scenario, name: str = "ffn_up"):
    plan = make_plan(big_on_chip(), MODEL, scen)
    return next(op for op in plan.decode.ops if op.name == name)


def test_an_operation_sums_one_scale_group() -> None:
    """W4 with a scale per 32 inputs on 128-row adder trees: partial sums of different groups
    cannot be added before scaling, so each operation sums 32 rows: 4 row groups x 8 input
    bits = 32 cycles per MVM (8 per-channel), and four times the readouts and array
    activations. The preset's given energies (3 pJ driving 128 word lines, 0.6 pJ a 128-input
    adder tree) describe a 128-row operation, so a 32-row one costs less: the array 3 pJ x
    32 / 128 (the same energy per MVM), the adder tree 0.6 pJ x 78 / 272 full-adder bits
    (`periphery.adder_tree_fa_bits` at 1-bit inputs and cells: 128 x 2 + 1 + 7 + 8 = 272
    against 32 x 2 + 1 + 5 + 8 = 78), so 4 x 78 / 272 = 1.147x the readout energy per MVM.
    Before 2026-12-07 the given energies were charged per operation unchanged (4x; an energy
    audit found it)."""
    g32, pc = _decode_op(SCEN), _decode_op(PER_CHANNEL)
    assert dict(g32.detail)["rows_per_op"] == 32 and dict(pc.detail)["rows_per_op"] == 128
    assert dict(g32.detail)["cycles_per_mvm"] == 32 and dict(pc.detail)["cycles_per_mvm"] == 8
    e32, epc = dict(g32.energy_j), dict(pc.energy_j)
    assert e32["cim_readout"].const == pytest.approx(4 * 78 / 272 * epc["cim_readout"].const, rel=1e-12)
    assert e32["cim_array"].const == pytest.approx(epc["cim_array"].const, rel=1e-12)
    # a group as tall as the operation (128) or taller changes nothing
    g128 = _decode_op(SCEN.model_copy(update={"precision": SCEN.precision.model_copy(
        update={"weight_group_size": 128})}))
    assert dict(g128.detail)["cycles_per_mvm"] == 8
    assert dict(g128.energy_j)["cim_readout"].const == pytest.approx(epc["cim_readout"].const, rel=1e-12)


def test_an_analog_conversion_costs_the_same_on_fewer_rows() -> None:
    """An analog macro with a given energy per readout (one ADC conversion): cut to 32 rows by
    the scale groups it converts four times as often at the same energy per conversion (4x
    per MVM), while its array activations drive a quarter of the word lines (1x per MVM)."""
    analog = big_on_chip(devices__cim__macro__style="analog", devices__cim__macro__adc_bits=8,
                         devices__cim__macro__psum_quantisation=True)
    g32 = make_plan(analog, MODEL, SCEN)
    pc = make_plan(analog, MODEL, PER_CHANNEL)
    op32 = next(op for op in g32.decode.ops if op.name == "ffn_up")
    oppc = next(op for op in pc.decode.ops if op.name == "ffn_up")
    e32, epc = dict(op32.energy_j), dict(oppc.energy_j)
    assert e32["cim_readout"].const == pytest.approx(4 * epc["cim_readout"].const, rel=1e-12)
    assert e32["cim_array"].const == pytest.approx(epc["cim_array"].const, rel=1e-12)


def test_cutting_rows_rescales_only_given_energies() -> None:
    """`CimMacro.with_rows_per_op`: given energies rescaled, derived ones (None) left to be
    derived at the new height, the same as a spec written at that height."""
    m = edgecim().devices["cim"].macro
    cut = m.with_rows_per_op(32)
    assert cut.energy_per_array_op_j == pytest.approx(3e-12 / 4)
    assert cut.energy_per_readout_j == pytest.approx(0.6e-12 * 78 / 272)
    assert cut.area_mm2 == m.area_mm2 and cut.leakage_power_w == m.leakage_power_w
    bare = m.model_copy(update={"energy_per_array_op_j": None, "energy_per_readout_j": None})
    derived = bare.with_rows_per_op(32).resolved(node_m=65e-9)
    direct = bare.model_copy(update={"rows_per_op": 32}).resolved(node_m=65e-9)
    assert derived.energy_per_readout_j == direct.energy_per_readout_j
    assert derived.energy_per_array_op_j == direct.energy_per_array_op_j
    with pytest.raises(ValueError, match="can only be cut"):
        m.with_rows_per_op(256)


def test_the_cut_is_said() -> None:
    warned = make_plan(big_on_chip(), MODEL, SCEN).warnings
    assert any("one weight scale per 32 inputs: each operation sums 32 rows, not the macro's 128 (4x" in w
               for w in warned)
    assert not any("weight scale per" in w for w in make_plan(big_on_chip(), MODEL, PER_CHANNEL).warnings)


def test_the_adc_warning_names_the_rows_an_operation_sums() -> None:
    """An analog 4-bit ADC resolves 15 one-bit rows; at group 32 an operation sums 32 rows (not
    128), and the warning says 32 (6 ADC bits would resolve them)."""
    analog = big_on_chip(devices__cim__macro__style="analog", devices__cim__macro__adc_bits=4,
                         devices__cim__macro__energy_per_readout=None)
    g32 = make_plan(analog, MODEL, SCEN).warnings
    assert any("sums 32 rows per operation into a 4-bit ADC, which resolves 15 exactly" in w and "6 ADC bits" in w
               for w in g32)
    pc = make_plan(analog, MODEL, PER_CHANNEL).warnings
    assert any("sums 128 rows per operation into a 4-bit ADC" in w and "8 ADC bits" in w for w in pc)


def test_group_scales_are_applied_on_the_vector_unit() -> None:
    """qwen3-0.6b's up projection (gate and up, 1,024 -> 2 x 3,072 outputs, one token): 6,144
    outputs x 1,024 / 32 = 32 groups each: 196,608 multiply-adds at 1 pJ (edgecim's vector unit);
    per-channel scales one per output, 6,144."""
    g32, pc = _decode_op(SCEN), _decode_op(PER_CHANNEL)
    assert dict(g32.detail)["scale_ops"] == 6144 * 1024 / 32
    assert dict(pc.detail)["scale_ops"] == 6144
    assert dict(g32.energy_j)["vector_unit"].const == pytest.approx(6144 * 32 * 1e-12, rel=1e-12)


def test_more_input_bits_per_cycle_is_faster() -> None:
    assert tpot(big_on_chip(devices__cim__macro__input_bits_per_cycle=2)) < tpot(big_on_chip())


def test_more_bits_per_weight_take_more_columns() -> None:
    m = edgecim().devices["cim"].macro
    assert m.slices_per_weight(4) == 4 and m.slices_per_weight(8) == 8
    assert m.outputs_per_macro(8) == m.outputs_per_macro(4) // 2
    assert m.slice_order(4) == ((3, 3), (2, 2), (1, 1), (0, 0))  # MSB first
    m2 = edgecim(devices__cim__macro__cell_bits=2).devices["cim"].macro
    assert m2.slices_per_weight(8) == 4 and m2.slice_order(8)[0] == (7, 6)


def test_wider_weights_are_slower_when_streaming() -> None:
    w8 = Scenario(prompt_tokens=32, gen_tokens=8, precision=Precision(weight_bits=8, activation_bits=8))
    assert tpot(edgecim(), w8) > tpot(edgecim())


def test_readout_energy_scales_the_readout_component() -> None:
    base = energy(big_on_chip(), "cim_readout")
    double = energy(big_on_chip(devices__cim__macro__energy_per_readout=2 * 0.6e-12), "cim_readout")
    assert double == pytest.approx(2 * base, rel=1e-9)


def test_weight_writes_cost_only_when_streaming() -> None:
    assert energy(edgecim(), "cim_weight_write") > 0
    assert energy(big_on_chip(), "cim_weight_write") == 0


def test_faster_macro_clock_helps_when_compute_bound() -> None:
    assert tpot(big_on_chip(devices__cim__macro__clock=400e6)) < tpot(big_on_chip())


def test_double_buffering_hides_the_stream() -> None:
    assert tpot(edgecim(devices__cim__double_buffer=False)) > tpot(edgecim())


def test_more_dram_bandwidth_helps_a_streaming_design() -> None:
    assert tpot(edgecim(memories__dram__bandwidth=546e9)) < tpot(edgecim())


def test_technology_scaling_shrinks_and_speeds_up_the_macro() -> None:
    base = edgecim(devices__cim__macro__characterised_node=65e-9)
    scaled = edgecim(devices__cim__macro__characterised_node=65e-9, devices__cim__technology_node=22e-9)
    a, b = base.devices["cim"].effective_macro, scaled.devices["cim"].effective_macro
    assert b.clock_hz > a.clock_hz and b.energy_per_readout_j < a.energy_per_readout_j and b.area_mm2 < a.area_mm2
    assert scaled.devices["cim"].area_mm2 < base.devices["cim"].area_mm2
