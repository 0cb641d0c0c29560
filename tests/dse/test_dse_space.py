"""Space files: every example loads; one bad fixture per rule, asserting the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmsim.dse.metrics import Direction, Metric
from slmsim.dse.space import load_space
from slmsim.cli import main
from slmsim.core.errors import SpecError

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
EXAMPLES = sorted((HERE.parents[1] / "examples").glob("space-*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_spaces_load(path: Path) -> None:
    loaded = load_space(path)
    assert loaded.space.params and loaded.space.objectives and loaded.space.workloads


def test_edgecim_example_has_the_twelve_slms() -> None:
    loaded = load_space(HERE.parents[1] / "examples" / "space-edgecim.yaml")
    models = {Path(w.model).name for w in loaded.space.workloads}
    assert models == {"tinyllama-1.1b", "llama-3.2-1b", "llama-3.2-3b", "phi-3.5-mini", "qwen2.5-0.5b",
                      "qwen2.5-1.5b", "qwen2.5-3b", "smollm2-1.7b", "smollm3-3b", "qwen3-0.6b", "qwen3-1.7b",
                      "qwen3-4b"}
    assert all(w.weight_bits == 4 and w.act_bits == 8 for w in loaded.space.workloads)
    assert [o.metric for o in loaded.space.objectives] == [Metric.DECODE_LATENCY, Metric.ENERGY_PER_TOKEN, Metric.AREA]


def test_tiny_space_resolves_units_kinds_and_defaults() -> None:
    space = load_space(FIXTURES / "tiny.yaml").space
    bw = space.param("memories.dram.bandwidth")
    assert bw.kind == "categorical" and bw.unit == "B/s" and bw.labels == (68e9, 273e9)
    mpt = space.param("devices.cim.macros_per_tile")
    assert (mpt.kind, mpt.low, mpt.high, mpt.step) == ("int", 4, 16, 4)
    assert mpt.grid() == [4, 8, 12, 16]
    dram = space.param("memories.dram")
    assert dram.subtree and dram.labels == ("lpddr5x", "lpddr4x")
    assert dram.values[1] == {"technology": "lpddr4x", "energy_per_bit": pytest.approx(6e-12)}
    assert space.objectives[0].direction is Direction.MINIMIZE
    assert space.constraints[0].bound == pytest.approx(40.0) and space.constraints[0].sense == "max"
    w = space.workloads[0]
    assert (w.name, w.prompt, w.gen, w.batch, w.weight_bits, w.act_bits, w.kv_bits) == \
        ("qwen3-0.6b", 16, 16, 1, 4, 8, 16)
    assert space.grid_size() == 3 * 4 * 2 * 2 * 2


def test_space_round_trips_through_a_dict() -> None:
    from slmsim.dse.space import Space

    space = load_space(FIXTURES / "tiny.yaml").space
    assert Space.from_dict(space.to_dict()) == space


# (fixture, substrings that must all appear in the rendered error)
CASES = [
    ("bad-unknown-path.yaml", ["parameters[devices.cim.macro.row]", "no field 'devices.cim.macro.row'",
                               "did you mean 'devices.cim.macro.rows'?"]),
    ("bad-empty-range.yaml", ["parameters[memories.dram.bandwidth]", "empty range: `low` must be below `high`",
                              "expected: low < high"]),
    ("bad-unit-mismatch.yaml", ["parameters[memories.dram.bandwidth].low", "'50 GHz' is a frequency, not a bandwidth",
                                "did you mean '50 GB/s'?"]),
    ("bad-unknown-metric.yaml", ["objectives[0].metric", "unknown metric 'decode_latancy'",
                                 "did you mean 'decode_latency'?"]),
    ("bad-log-step.yaml", ["parameters[memories.dram.bandwidth]", "`log: true` and `step` cannot be combined"]),
    ("bad-subtree-overlap.yaml", ["parameters[memories.dram].choices.fast",
                                  "sets 'memories.dram.bandwidth', which is also a parameter"]),
    ("bad-subtree-key.yaml", ["parameters[memories.dram].choices.slow.bandwith", "unknown field 'bandwith'",
                              "did you mean 'bandwidth'?"]),
    ("bad-gpu-area.yaml", ["objectives[1]", "does not state the area of gpu", "area: 200 mm^2"]),
    ("bad-inert.yaml", ["parameters[devices.gpu.max_power]", "changes no metric", "does not cap power",
                        "parameters[devices.gpu.clock]", "run without a stack",
                        "parameters[memories.dram.technology]", "informative"]),
    ("bad-range-on-enum.yaml", ["parameters[devices.cim.macro.style]", "a range needs a number",
                                "parameters[devices.cim.tiles].low", "4.5 is not an integer",
                                "parameters[devices.cim.macros_per_tile].choices[0]", "greater than 0"]),
]


@pytest.mark.parametrize(("fixture", "needles"), CASES, ids=[c[0] for c in CASES])
def test_bad_space_is_reported_clearly(fixture: str, needles: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        load_space(FIXTURES / fixture)
    text = info.value.render()
    assert str(FIXTURES / fixture) in text
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


def test_every_problem_of_a_space_is_listed_at_once() -> None:
    with pytest.raises(SpecError) as info:
        load_space(FIXTURES / "bad-many.yaml")
    text = info.value.render()
    assert text.startswith("8 problems found:")
    for needle in ("did you mean 'devices.cim.tiles'?", "parameters[devices.cim.macro.clock]: empty range",
                   "'16 GHz' is a frequency, not a capacity", "workloads[1].model: unknown model preset 'qwen9-1b'",
                   "objectives[1].direction", "constraints[0]: area: '80 W' is a power",
                   "constraints[1]: unknown metric 'powr'", "did you mean 'power'?",
                   "baselines[0]: unknown hardware preset 'orin-nan'"):
        assert needle in text, needle


def test_cli_prints_space_errors_without_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["explore", str(FIXTURES / "bad-unit-mismatch.yaml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "'50 GHz' is a frequency" in err
    assert not (tmp_path / "o").exists()  # nothing written for a bad space


def test_sweep_needs_a_grid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("base: edgecim\nparameters:\n  memories.dram.bandwidth: {low: '50 GB/s', high: '400 GB/s'}\n"
                     "workloads: [qwen3-0.6b]\nobjectives: [decode_latency]\n")
    code = main(["sweep", str(space), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "a sweep needs a finite set of values" in err and "`step:`" in err


def test_constraint_forms(tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("base: edgecim\nparameters:\n  devices.cim.tiles: {choices: [8, 16]}\n"
                     "workloads: [qwen3-0.6b]\nobjectives: [decode_latency, {metric: tokens_per_s}]\n"
                     "constraints: ['power <= 15 W', {metric: tokens_per_s, min: 20}, 'decode_latency =< 50 ms', fits]\n")
    s = load_space(space).space
    assert [(c.metric.value, c.sense, c.bound) for c in s.constraints] == [
        ("power", "max", 15.0), ("tokens_per_s", "min", 20.0), ("decode_latency", "max", pytest.approx(0.05))]
    assert s.objectives[1].direction is Direction.MAXIMIZE  # natural direction of a throughput
