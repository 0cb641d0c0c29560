"""DSE objectives within an energy boundary (issue 14): the space's `energy_boundary`
changes what energy_per_token and tokens_per_j count, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.cli import main
from slmsim.core.errors import SpecError
from slmsim.dse.evaluate import Evaluator
from slmsim.dse.metrics import Metric
from slmsim.dse.space import load_space, space_fingerprint
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model

SPACE = ("base: edgecim\nparameters:\n  memories.dram.bandwidth: {choices: ['136.5 GB/s', '273 GB/s']}\n"
         "workloads: [{model: qwen3-0.6b, prompt: 16, gen: 8, act_bits: 8}]\n"
         "objectives: [decode_latency, energy_per_token]\nbaselines: []\n")


def _space(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(SPACE + extra)
    return p


def test_boundary_changes_only_the_energy_metrics(tmp_path: Path) -> None:
    board = load_space(_space(tmp_path))
    chip = load_space(_space(tmp_path, "energy_boundary: chip\n"))
    assert board.space.energy_boundary.value == "board" and chip.space.energy_boundary.value == "chip"
    params = {"memories.dram.bandwidth": 273e9}
    mb = Evaluator(space=board.space, base_si=board.base_si, models=board.models).evaluate_params(params).metrics
    mc = Evaluator(space=chip.space, base_si=chip.base_si, models=chip.models).evaluate_params(params).metrics
    # by hand: the same run's decode energy within the chip boundary, per decoded token
    w = board.space.workloads[0]
    r = run(make_plan(load_hardware("edgecim").spec, load_model("qwen3-0.6b"), w.scenario(seed=0)))
    assert mc[Metric.ENERGY_PER_TOKEN] == pytest.approx(r.phase_energy_within_j("decode", "chip") / r.decode_tokens)
    assert mb[Metric.ENERGY_PER_TOKEN] == pytest.approx(r.energy_per_decode_token_j)
    assert mc[Metric.ENERGY_PER_TOKEN] < mb[Metric.ENERGY_PER_TOKEN]  # DRAM energy left out
    assert mc[Metric.TOKENS_PER_J] > mb[Metric.TOKENS_PER_J]
    for m in (Metric.DECODE_LATENCY, Metric.TTFT, Metric.TOKENS_PER_S, Metric.POWER):
        assert mc[m] == mb[m]


def test_boundary_is_part_of_the_fingerprint_but_board_keeps_old_ones(tmp_path: Path) -> None:
    board = load_space(_space(tmp_path))
    chip = load_space(_space(tmp_path, "energy_boundary: chip\n"))
    assert space_fingerprint(board.space, board.base_si, board.models) != \
        space_fingerprint(chip.space, chip.base_si, chip.models)
    assert "energy_boundary" not in json.dumps({k: v for k, v in board.space.to_dict().items()
                                                if k in ("parameters", "workloads")})


def test_bad_boundary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as e:
        load_space(_space(tmp_path, "energy_boundary: wall\n"))
    text = e.value.render() if hasattr(e.value, "render") else str(e.value)
    assert "energy_boundary" in text and "chip, chip+memory or board" in text


def test_explore_flag_overrides_and_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", str(_space(tmp_path)), "--trials", "2", "--out", str(out), "--no-progress",
                 "--energy-boundary", "chip+memory"]) == 0
    assert json.loads((out / "study.json").read_text())["energy_boundary"] == "chip+memory"
