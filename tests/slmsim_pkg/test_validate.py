"""slmsim validate: accuracy bounds on measured devices, power band, and the fitted constants."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.cli import main
from slmsim.validation import CLASSES, fit_class, power_band, rows, validate


@pytest.fixture(scope="module")
def results(capsys_module=None):  # noqa: ANN001, ANN201
    return validate()


def test_validate_json_runs_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["slmsim_version"]
    out = doc["rows"]
    assert len(out) == len(rows())
    for item in out:
        assert {"device", "model", "measured", "predicted", "error_pct"} <= set(item)
        assert item["error_pct"] == pytest.approx(100 * (item["predicted"] - item["measured"]) / item["measured"])


def test_accuracy_bounds(results) -> None:  # noqa: ANN001
    errors = np.array([abs(r.error_pct) for r in results])
    assert errors.mean() <= 10.0
    assert errors.max() <= 20.0


def test_orin_nano_decode_power_in_the_measured_band(results) -> None:  # noqa: ANN001
    band = next(b for b in power_band() if b["device"] == "orin-nano")
    lo, hi = float(band["board_power_w_low"]), float(band["board_power_w_high"])
    for r in results:
        if r.row.device == "orin-nano":
            assert lo <= r.power_w <= hi, (r.row.model, r.power_w)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_presets_carry_the_fitted_class_constants(name: str) -> None:
    """The presets' calibrated numbers are what the documented fit gives (3 significant digits)."""
    fit = fit_class(name)
    for preset in CLASSES[name].applies_to:
        spec = load_hardware(preset).spec
        for path, value in zip(CLASSES[name].params, fit.values):
            node = spec
            for key in path.split("."):
                node = node[key] if isinstance(node, dict) else getattr(node, _attr(node, key))
            assert node == pytest.approx(value, rel=5e-3), (preset, path)


def _attr(model: object, alias: str) -> str:
    for name, f in type(model).model_fields.items():
        if (f.alias or name) == alias:
            return name
    return alias
