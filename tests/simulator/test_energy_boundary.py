"""Energy boundaries (issue 14): chip <= chip+memory <= board, every component mapped, and
each boundary equal to its components summed by hand."""

from __future__ import annotations

import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.cost import Component
from slmsim.mapping.energy_boundary import COMPONENT_LAYER, EnergyBoundary, Layer, parse_boundary
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

SCEN = Scenario(prompt_tokens=32, gen_tokens=12, precision=Precision(weight_bits=4, activation_bits=8))
CHIP_COMPONENTS = {"cim_array", "cim_readout", "cim_weight_write", "buffer", "noc", "vector_unit", "gpu_compute",
                   "npu_compute", "cpu_compute", "sram"}


def test_every_component_has_a_layer() -> None:
    assert set(COMPONENT_LAYER) | {Component.STATIC} == set(Component)
    assert {c.value for c, layer in COMPONENT_LAYER.items() if layer is Layer.CHIP} == CHIP_COMPONENTS
    assert {c for c, layer in COMPONENT_LAYER.items() if layer is Layer.MEMORY} == {Component.DRAM, Component.HB_DRAM}
    assert {c for c, layer in COMPONENT_LAYER.items() if layer is Layer.BOARD} == {Component.LINK}


@pytest.mark.parametrize("text,expected", [("chip", "chip"), ("chip+memory", "chip+memory"),
                                           ("chip-memory", "chip+memory"), ("BOARD", "board")])
def test_parse_boundary(text: str, expected: str) -> None:
    assert parse_boundary(text).value == expected


def _run(hw: str, model: str = "qwen3-0.6b", engine: str = "analytic"):
    spec = load_hardware(hw).spec
    plan = make_plan(spec, load_model(model), SCEN)
    return spec, plan, run(plan, engine=engine)


def test_cim_by_hand() -> None:
    """edgecim: chip = CIM, buffer, NoC, vector components + (static + macro leakage) x run time;
    memory = the DRAM traffic (its background is 0 W in the preset); nothing on the board."""
    spec, plan, r = _run("edgecim")
    dev = spec.devices["cim"]
    always_on = dev.static_power_w + dev.macro_count * dev.effective_macro.leakage_power_w
    bg = spec.memories["dram"].background_power_w
    comps = r.energy_breakdown_j
    chip = sum(v for k, v in comps.items() if k in CHIP_COMPONENTS) + always_on * r.total_time_s
    memory = comps["dram"] + bg * r.total_time_s
    assert r.phase_energy_within_j("all", "chip") == pytest.approx(chip, rel=1e-9)
    assert r.phase_energy_within_j("all", "chip+memory") == pytest.approx(chip + memory, rel=1e-9)
    assert r.phase_energy_within_j("all", "board") == pytest.approx(sum(comps.values()), rel=1e-9)
    assert r.phase_energy_within_j("all", "board") == pytest.approx(chip + memory, rel=1e-9)  # no board layer


def test_gpu_board_by_hand() -> None:
    """orin-nano: idle power is the board's, active power (while kernels run) the chip's,
    DRAM traffic the memory's. The board boundary is every joule charged."""
    spec, plan, r = _run("orin-nano")
    gpu = spec.devices["gpu"]
    comps = r.energy_breakdown_j
    t_busy = r.prefill_time_s + r.decode_time_s  # one device runs every step
    chip = sum(v for k, v in comps.items() if k in CHIP_COMPONENTS) + gpu.active_power_w * t_busy
    memory = comps["dram"]
    board = gpu.idle_power_w * r.total_time_s
    assert comps["static"] == pytest.approx(gpu.idle_power_w * r.total_time_s + gpu.active_power_w * t_busy, rel=1e-9)
    assert r.phase_energy_within_j("all", "chip") == pytest.approx(chip, rel=1e-9)
    assert r.phase_energy_within_j("all", "chip+memory") == pytest.approx(chip + memory, rel=1e-9)
    assert r.phase_energy_within_j("all", "board") == pytest.approx(chip + memory + board, rel=1e-9)
    assert r.energy_j == pytest.approx(chip + memory + board, rel=1e-9)


@pytest.mark.parametrize("hw", ["edgecim", "orin-nano", "elmoe3d", "sa8255p"])
@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_nested_and_complete(hw: str, engine: str) -> None:
    _, _, r = _run(hw, engine=engine)
    for phase, total in (("prefill", r.prefill_energy_j), ("decode", r.decode_energy_j)):
        chip, cm, board = (r.phase_energy_within_j(phase, b) for b in EnergyBoundary)
        assert 0 < chip <= cm * (1 + 1e-12) and cm <= board * (1 + 1e-12)  # board: the charged total, exactly
        assert sum(r.energy_layers_j[phase].values()) == pytest.approx(total, rel=1e-9)
        assert board == pytest.approx(total, rel=1e-12)
    b = r.boundaries()
    tpj = [b[x.value]["decode_tokens_per_j"] for x in EnergyBoundary]
    assert tpj[0] >= tpj[1] * (1 - 1e-12) and tpj[1] >= tpj[2] * (1 - 1e-12)
    assert b["board"]["decode_tokens_per_j"] == pytest.approx(r.decode_tokens_per_j, rel=1e-12)


def test_engines_agree_on_every_boundary() -> None:
    _, plan, _ = _run("orin-nano")
    a = run(plan, engine="analytic")
    d = run(plan, engine="des", memory_model="ideal")
    for b in EnergyBoundary:
        assert d.phase_energy_within_j("decode", b) == pytest.approx(a.phase_energy_within_j("decode", b), rel=0.01)


def test_results_add_their_layers() -> None:
    _, _, r = _run("edgecim")
    s = r + r
    for b in EnergyBoundary:
        assert s.phase_energy_within_j("decode", b) == pytest.approx(2 * r.phase_energy_within_j("decode", b))


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_a_dies_own_idle_power_is_inside_the_chip_boundary(tmp_path, engine: str) -> None:  # noqa: ANN001
    """`idle_power_on: chip` (elmoe3d's 0.5 W of logic-die leakage) moves a processor's idle
    power x the run's time from the board layer to the chip layer, and nothing else: by hand,
    chip(on chip) - chip(on board) = 0.5 W x the phase's time, per phase."""
    on_chip = load_hardware("elmoe3d").spec
    assert on_chip.devices["logic"].idle_power_on == "chip"
    f = tmp_path / "board.yaml"
    f.write_text("extends: elmoe3d\ndevices:\n  logic:\n    idle_power_on: board\n")
    on_board = load_hardware(str(f)).spec
    model = load_model("olmoe-1b-7b")
    a = run(make_plan(on_chip, model, SCEN), engine=engine)
    b = run(make_plan(on_board, model, SCEN), engine=engine)
    assert a.energy_j == pytest.approx(b.energy_j, rel=1e-12)
    for phase, t in (("prefill", a.prefill_time_s), ("decode", a.decode_time_s)):
        moved = a.energy_layers_j[phase]["chip"] - b.energy_layers_j[phase].get("chip", 0.0)
        assert moved == pytest.approx(0.5 * t, rel=1e-6)
        assert b.energy_layers_j[phase]["board"] == pytest.approx(moved, rel=1e-6)
        assert a.energy_layers_j[phase].get("board", 0.0) == pytest.approx(0.0, abs=1e-12)
