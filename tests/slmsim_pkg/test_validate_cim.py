"""`slmsim validate --cim`: published SRAM CIM macros predicted from their knobs (issue 11, item 3)."""

from __future__ import annotations

import json
import math

import pytest

from slmsim.cli import main
from slmsim.hw_models import periphery
from slmsim.hw_models.scaling import scale
from slmsim.validation_cim import fit_cell_energy, load_macros, predicted_tops_per_w


def test_json_lists_six_macros_of_both_styles_and_several_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--cim", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(set(r) == {"macro", "metric", "measured", "predicted", "error_pct", "source"} for r in rows)
    names = {r["macro"] for r in rows}
    assert len(names) >= 6
    assert {r["metric"] for r in rows} == {"tops_per_w", "tops_per_mm2"}
    for r in rows:
        assert r["predicted"] > 0 and math.isfinite(r["predicted"]) and r["source"]
        assert r["error_pct"] == pytest.approx(100 * (r["predicted"] - r["measured"]) / r["measured"])
    ms = load_macros()
    assert {m.macro.style.value for m in ms} == {"digital", "analog"}
    assert len({round(m.node_m * 1e9) for m in ms}) >= 2


def test_table_reports_mape_and_worst_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--cim", "--refit"]) == 0
    out = capsys.readouterr().out
    assert "tops_per_w: MAPE" in out and "worst" in out and "leave-one-out" in out


def test_the_fitted_constant_is_the_fit() -> None:
    fit = fit_cell_energy()
    assert fit.cell_energy_28nm_j == pytest.approx(periphery.CELL_ENERGY_J, rel=0.01)
    lo, hi = periphery.CELL_ENERGY_BOUNDS_J
    assert lo < fit.cell_energy_28nm_j < hi  # inside its physical bounds, not pinned at one
    assert len(fit.leave_one_out_pct) == len(fit.in_sample_pct) == len(load_macros())


def test_one_digital_prediction_by_hand() -> None:
    """dimc1 (ISSCC 2022 15.5): 32 rows x 6 outputs x 8-bit weights, 2 input bits per cycle, 8-bit inputs."""
    pm = next(m for m in load_macros() if m.name == "dimc1-isscc2022")
    act = 0.5 * 0.5  # input toggle x weight density of the measurement
    k_fa = scale(45e-9, 0.9, 28e-9, 0.9).energy
    fa = 0.03e-12 / 8 * k_fa  # Horowitz: 8-bit add 0.03 pJ at 45 nm
    tree_bits = 32 * (2 + 1) + 2 + 5 + 8  # 32 products of 2 bits, then the accumulator
    readout = tree_bits * fa * act
    array = 32 * 48 * periphery.CELL_ENERGY_J * act  # at 28 nm, 0.9 V: no scaling
    steps = 8 // 2
    energy = steps * (array + 48 * readout)
    assert predicted_tops_per_w(pm) == pytest.approx(2 * 32 * 6 / energy / 1e12, rel=1e-9)
