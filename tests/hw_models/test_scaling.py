"""Technology scaling (`hw_models.scaling.scale`) against Stillmaker & Baas's polynomials by hand.

The CIM "by hand" predictions (tests/slmsim_pkg/test_validate_cim.py) multiply by `scale(...)`
itself, so they cannot see a wrong factor; these tests pin the factor with the paper's
coefficients (as transcribed in UCLA NanoCAD's nodeScale.py): energy at a node and supply is
b2 V^2 + b1 V + b0, a value scales by the ratio of two such figures, and a node between two
tabulated ones takes the log-log interpolation stated in the module (an assumption of ours).
"""

from __future__ import annotations

import math

import pytest

from slmsim.hw_models.scaling import scale


def energy_hp45(v: float) -> float:
    return 1.018 * v**2 - 0.3107 * v + 0.1539  # HP45 (b2, b1, b0)


def energy_65(v: float) -> float:
    return 3.755 * v**2 - 4.398 * v + 1.975  # 65 nm


def energy_hp32(v: float) -> float:
    return 0.8367 * v**2 - 0.4341 * v + 0.1701


def energy_hp20(v: float) -> float:
    return 0.373 * v**2 - 0.1582 * v + 0.04104


def test_tabulated_nodes_scale_by_the_ratio_of_their_polynomials() -> None:
    # 0.69885 at 45 nm, 0.9 V; 1.68075 at 65 nm, 1.1 V
    assert energy_hp45(0.9) == pytest.approx(0.69885, abs=1e-5)
    assert energy_65(1.1) == pytest.approx(1.68075, abs=1e-5)
    assert scale(45e-9, 0.9, 65e-9, 1.1).energy == pytest.approx(1.68075 / 0.69885, rel=1e-4)  # 2.4050
    assert scale(65e-9, 1.1, 45e-9, 0.9).energy == pytest.approx(0.69885 / 1.68075, rel=1e-4)


def test_same_node_scales_with_the_supply_polynomial_only() -> None:
    assert scale(65e-9, 1.0, 65e-9, 0.6).energy == pytest.approx(energy_65(0.6) / energy_65(1.0), rel=1e-12)
    assert scale(45e-9, 0.9, 45e-9, 0.9).energy == 1.0


def test_28_nm_is_the_log_log_interpolation_of_32_and_20() -> None:
    t = math.log(32 / 28) / math.log(32 / 20)  # 0.28411
    assert t == pytest.approx(0.28411, abs=1e-5)
    e32, e20 = energy_hp32(0.9), energy_hp20(0.9)  # 0.457137, 0.20079
    assert (e32, e20) == (pytest.approx(0.457137, abs=1e-6), pytest.approx(0.20079, abs=1e-6))
    e28 = math.exp((1 - t) * math.log(e32) + t * math.log(e20))  # 0.36185
    assert e28 == pytest.approx(0.36185, abs=1e-5)
    assert scale(45e-9, 0.9, 28e-9, 0.9).energy == pytest.approx(e28 / energy_hp45(0.9), rel=1e-6)  # 0.5178


def test_area_uses_the_papers_pairwise_factor_and_interpolates_between() -> None:
    # nodeScale areaDict[45][65] = 1.5: area at 45 nm = area at 65 nm / 1.5
    assert scale(65e-9, 1.0, 45e-9, 1.0).area == pytest.approx(1 / 1.5)
    # 28 nm from 65: relative areas 1/40 (32 nm) and 1/88 (20 nm) of 180 nm, log-interpolated, over 1/12 (65 nm)
    t = math.log(32 / 28) / math.log(32 / 20)
    a28 = math.exp((1 - t) * math.log(1 / 40) + t * math.log(1 / 88))
    assert scale(65e-9, 1.0, 28e-9, 1.0).area == pytest.approx(a28 * 12, rel=1e-9)
    assert a28 * 12 == pytest.approx(0.23979, abs=1e-5)
