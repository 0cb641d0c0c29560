"""Pareto fronts and hypervolume: the one implementation dse/ and reports/ share.

The algorithms are moocore's (https://multi-objective.github.io/moocore/python/, the C code
of the exact hypervolume algorithms by Fonseca, Paquete, López-Ibáñez et al.), called on
plain arrays of costs where every column is minimised. Callers turn objectives into costs
first (`to_costs`: a maximised metric is negated). Ties are kept: two points with equal
cost vectors do not dominate each other, so both are on the front. Rows that do not beat
the reference point in every column add no hypervolume.

It lives in slmsim_core because both dse/ and reports/ need it and reports/ may not import
dse/ (tests/test_architecture.py); it imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Sequence

import moocore
import numpy as np


def to_costs(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Objective values (n x d) with 'minimize'/'maximize' per column -> costs to minimise."""
    v = np.asarray(values, dtype=float).reshape(len(values), len(directions))
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    return v * sign


def pareto_mask(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `costs` (n x d, minimised); duplicates of a
    front point are all kept. q dominates p when q <= p everywhere and q < p somewhere."""
    c = np.asarray(costs, dtype=float)
    if c.ndim != 2 or c.shape[0] == 0:
        return np.zeros(c.shape[0] if c.ndim else 0, dtype=bool)
    return np.asarray(moocore.is_nondominated(c, keep_weakly=True), dtype=bool)


def _beating(c: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return c[np.all(np.isfinite(c), axis=1) & np.all(c < ref, axis=1)]


def hypervolume(costs: np.ndarray, reference: Sequence[float]) -> float:
    """Volume dominated by `costs` (n x d, minimised) and bounded by `reference` (exact)."""
    ref = np.asarray(reference, dtype=float)
    c = _beating(np.asarray(costs, dtype=float).reshape(-1, ref.size), ref)
    if c.shape[0] == 0:
        return 0.0
    return float(moocore.hypervolume(c, ref=ref))


def contributions(costs: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Exclusive hypervolume of each row: what the set loses without it (0 for a dominated
    row, for a duplicate, and for a row that does not beat the reference)."""
    # HV(all) - HV(all but i), not moocore.hv_contributions, which scores the front alone
    # (a dominated point that takes over part of a front point's box would be ignored)
    ref = np.asarray(reference, dtype=float)
    c = np.asarray(costs, dtype=float).reshape(-1, ref.size)
    total = hypervolume(c, ref)
    return np.array([total - hypervolume(np.delete(c, i, axis=0), ref) for i in range(c.shape[0])])


def hypervolume_history(costs: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Hypervolume of the first k rows, for every k (rows in the order they were found).

    Rows with a NaN or infinite cost (infeasible or failed trials) keep the previous value.
    Recomputed only when a row enters the front, so a long study costs little.
    """
    ref = np.asarray(reference, dtype=float)
    c = np.asarray(costs, dtype=float).reshape(-1, ref.size)
    out = np.zeros(c.shape[0])
    front = np.empty((0, ref.size))
    hv = 0.0
    for k, row in enumerate(c):
        if np.all(np.isfinite(row)) and np.all(row < ref) and not np.any(np.all(front <= row, axis=1)):
            front = np.vstack([front[~np.all(row <= front, axis=1)], row])
            hv = float(moocore.hypervolume(front, ref=ref))
        out[k] = hv
    return out
