"""Technology scaling of area, delay, energy and power between CMOS nodes.

Method: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS
device performance from 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81.
Coefficients as transcribed in UCLA NanoCAD's nodeScale.py (github.com/wromaszkan/nodeScale,
MIT licence): area factors between nodes, and per-node polynomials in the supply voltage
for delay (cubic), energy (quadratic) and power (quadratic). A value measured at node A
and voltage Va scales to node B at Vb by factor(B, Vb) / factor(A, Va).

Nodes the paper does not tabulate (28 nm, 22 nm, ...) are interpolated between the two
neighbouring nodes, linearly in log(node size) on log(factor): our assumption, stated in
docs/presets.md. Below 45 nm the high-performance (HP) flavour is used unless `lp` is asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# nodeScale.py areaDict[dst][src]: area at dst = area at src / AREA[dst][src]
_AREA: dict[int, dict[int, float]] = {
    180: {180: 1, 130: 0.34, 90: 0.15, 65: 0.08, 45: 0.053, 32: 0.025, 20: 0.011, 16: 0.01, 14: 0.0093, 10: 0.0055, 7: 0.0032},
    130: {180: 2.9, 130: 1, 90: 0.44, 65: 0.23, 45: 0.16, 32: 0.072, 20: 0.033, 16: 0.03, 14: 0.027, 10: 0.016, 7: 0.0092},
    90: {180: 6.6, 130: 2.3, 90: 1, 65: 0.53, 45: 0.35, 32: 0.16, 20: 0.075, 16: 0.067, 14: 0.061, 10: 0.036, 7: 0.021},
    65: {180: 12, 130: 4.3, 90: 1.9, 65: 1, 45: 0.66, 32: 0.31, 20: 0.14, 16: 0.13, 14: 0.12, 10: 0.068, 7: 0.039},
    45: {180: 19, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1, 32: 0.46, 20: 0.21, 16: 0.19, 14: 0.17, 10: 0.1, 7: 0.059},
    32: {180: 40, 130: 14, 90: 6.1, 65: 3.3, 45: 2.2, 32: 1, 20: 0.46, 16: 0.41, 14: 0.38, 10: 0.22, 7: 0.13},
    20: {180: 88, 130: 30, 90: 13, 65: 7.1, 45: 4.7, 32: 2.2, 20: 1, 16: 0.89, 14: 0.82, 10: 0.48, 7: 0.28},
    16: {180: 99, 130: 34, 90: 15, 65: 7.9, 45: 5.3, 32: 2.4, 20: 1.1, 16: 1, 14: 0.91, 10: 0.54, 7: 0.31},
    14: {180: 110, 130: 37, 90: 16, 65: 8.7, 45: 5.8, 32: 2.7, 20: 1.2, 16: 1.1, 14: 1, 10: 0.59, 7: 0.34},
    10: {180: 180, 130: 63, 90: 28, 65: 15, 45: 9.8, 32: 4.5, 20: 2.1, 16: 1.9, 14: 1.7, 10: 1, 7: 0.58},
    7: {180: 320, 130: 110, 90: 48, 65: 25, 45: 17, 32: 7.8, 20: 3.6, 16: 3.2, 14: 2.9, 10: 1.7, 7: 1},
}

# nodeScale.py depCoeffDict: delay a3..a0 (V^3..1), energy b2..b0, power c2..c0
_COEFF: dict[str, tuple[float, ...]] = {
    "180": (0, 97.09, -356.7, 406.5, 0, 24.64, -17.98, 0, 101000, -79720),
    "130": (-76.65, 334.9, -493.4, 275.8, 7.171, -6.709, 2.904, 27020, -15450, 5630),
    "90": (-60.34, 262.5, -384.2, 210.9, 4.762, -4.781, 2.092, 17320, -11230, 4328),
    "65": (-53.3, 230.4, -333.9, 178.6, 3.755, -4.398, 1.975, 12890, -10510, 4362),
    "HP45": (-501.6, 1567, -1619, 566.1, 1.018, -0.3107, 0.1539, 5462, -1760, 522.4),
    "HP32": (-1047, 2982, -2797, 873.5, 0.8367, -0.4341, 0.1701, 4001, -1733, 533.6),
    "LP45": (-285.7, 1239, -1795, 898.8, 1.103, -0.362, 0.2767, 6297, -3009, 1124),
    "LP32": (-325.9, 1374, -1922, 913.2, 0.9559, -0.7823, 0.471, 4557, -3037, 1323),
    "HP20": (0, 34.63, -66.37, 41.15, 0.373, -0.1582, 0.04104, 2922, -1286, 299.9),
    "HP16": (0, 24.8, -47.52, 28.87, 0.2958, -0.1241, 0.03024, 2133, -882.6, 197.7),
    "HP14": (-40.66, 109.2, -100.6, 35.92, 0.2363, -0.09675, 0.02239, 1675, -711, 159),
    "HP10": (-34.95, 93.65, -85.99, 30.4, 0.2068, -0.09311, 0.02375, 1456, -621.6, 143.8),
    "HP7": (-28.58, 76.6, -70.26, 24.69, 0.1776, -0.09097, 0.02447, 1179, -515.7, 123.4),
    "LP20": (-160.5, 514.1, -558.6, 217.5, 0.2632, -0.14, 0.06841, 2096, -962.4, 287.1),
    "LP16": (-114.6, 366.7, -397.4, 153.6, 0.2139, -0.1187, 0.05639, 1609, -715.5, 205.7),
    "LP14": (-85.37, 271.6, -292.2, 111.4, 0.1556, -0.06472, 0.03066, 1259, -554.1, 152.3),
    "LP10": (-71.76, 228.6, -246.3, 93.91, 0.1261, -0.0518, 0.02769, 1046, -422.7, 118.9),
    "LP7": (-61.79, 196.1, -210.3, 79.55, 0.09365, -0.03409, 0.02043, 815.2, -307.3, 87.54),
}

NODES_NM = tuple(sorted(_AREA, reverse=True))  # 180 ... 7


def positive_window_v(node_nm: int, *, lp: bool = False) -> tuple[float, float]:
    """Lowest and highest supply (0.2-2.5 V, 10 mV steps) at which the node's delay, energy and
    power polynomials are all positive: outside it a scaled figure is meaningless."""
    coeff = _COEFF[_key(node_nm, lp)]
    ok = [v / 100 for v in range(20, 251) if all(x > 0 for x in _poly(coeff, v / 100))]
    return (ok[0], ok[-1]) if ok else (math.nan, math.nan)


def _key(node: int, lp: bool) -> str:
    return str(node) if node >= 65 else f"{'LP' if lp else 'HP'}{node}"


def _poly(coeff: tuple[float, ...], v: float) -> tuple[float, float, float]:
    d = coeff[0] * v**3 + coeff[1] * v**2 + coeff[2] * v + coeff[3]
    e = coeff[4] * v**2 + coeff[5] * v + coeff[6]
    p = coeff[7] * v**2 + coeff[8] * v + coeff[9]
    return d, e, p


@dataclass(frozen=True)
class NodeFactors:
    """Absolute factors at one node and voltage; ratios between two of these scale values."""

    area: float  # relative area (180 nm = 1)
    delay: float
    energy: float
    power: float


def factors(node_m: float, vdd_v: float, *, lp: bool = False) -> NodeFactors:
    node = node_m * 1e9
    if node > NODES_NM[0] * 1.0001 or node < NODES_NM[-1] * 0.9999:
        raise ValueError(f"technology node {node:g} nm is outside 7-180 nm, the range of Stillmaker & Baas 2017")
    exact = [n for n in NODES_NM if abs(n - node) < 1e-6]
    if exact:
        n = exact[0]
        d, e, p = _poly(_COEFF[_key(n, lp)], vdd_v)
        if not (d > 0 and e > 0 and p > 0 and math.isfinite(d + e + p)):
            lo, hi = positive_window_v(n, lp=lp)
            raise ValueError(f"supply voltage {vdd_v:g} V at {n} nm is outside where the Stillmaker & Baas 2017 "
                             f"polynomials of that node give positive delay, energy and power ({lo:.2f}-{hi:.2f} V)")
        return NodeFactors(area=1.0 / _AREA[n][180], delay=d, energy=e, power=p)
    big = min(n for n in NODES_NM if n > node)
    small = max(n for n in NODES_NM if n < node)
    t = (math.log(big) - math.log(node)) / (math.log(big) - math.log(small))
    try:
        fb, fs = factors(big * 1e-9, vdd_v, lp=lp), factors(small * 1e-9, vdd_v, lp=lp)
    except ValueError as exc:
        raise ValueError(f"{node:g} nm is interpolated between {big} and {small} nm: {exc}") from None

    def mix(a: float, b: float) -> float:
        return math.exp((1 - t) * math.log(a) + t * math.log(b))

    return NodeFactors(area=mix(fb.area, fs.area), delay=mix(fb.delay, fs.delay), energy=mix(fb.energy, fs.energy),
                       power=mix(fb.power, fs.power))


@dataclass(frozen=True)
class Scale:
    """Multiply a value measured at the source to get it at the destination."""

    area: float
    delay: float
    energy: float
    power: float


def scale(src_node_m: float, src_vdd_v: float, dst_node_m: float, dst_vdd_v: float, *, lp: bool = False) -> Scale:
    a, b = factors(src_node_m, src_vdd_v, lp=lp), factors(dst_node_m, dst_vdd_v, lp=lp)
    src_nm, dst_nm = round(src_node_m * 1e9), round(dst_node_m * 1e9)
    if src_nm in _AREA and dst_nm in _AREA and abs(src_node_m * 1e9 - src_nm) < 1e-6 and abs(dst_node_m * 1e9 - dst_nm) < 1e-6:
        area = 1.0 / _AREA[dst_nm][src_nm]  # the paper's own pairwise factor (the table is rounded)
    else:
        area = b.area / a.area
    return Scale(area=area, delay=b.delay / a.delay, energy=b.energy / a.energy, power=b.power / a.power)
