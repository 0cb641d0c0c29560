"""The provisional refit machinery: a constant the rows constrain is fitted, and leaving the only
device out leaves the constant at its preset value (the prior)."""

from __future__ import annotations

import pytest

from slmsim.refit import GROUPS, refit_stack
from slmsim.validation import calibration_rows


def test_one_row_one_constant_fits_exactly_and_lodo_is_the_prior() -> None:
    fit = refit_stack("tensorrt-edge-llm", calibration_rows())
    assert len(fit.rows) == 1 and len(fit.constants) == 1
    assert abs(fit.in_sample_pct[0]) < 0.5  # one free constant, one row: solved
    assert fit.lodo_pct[0] == pytest.approx(fit.before_pct[0])  # no other device: the prior predicts it
    c = GROUPS["tensorrt-edge-llm"][0]
    assert c.low <= fit.fitted[0] <= c.high
