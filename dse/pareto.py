"""Pareto fronts and hypervolume, on plain arrays of costs (every column minimised).

Callers turn objectives into costs first (`to_costs`): a minimised metric is its own cost, a
maximised one is negated, so "smaller is better" everywhere below. Ties are kept: two
points with equal cost vectors do not dominate each other, so both are on the front.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def to_costs(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Objective values (n x d) with 'minimize'/'maximize' per column -> costs to minimise."""
    v = np.asarray(values, dtype=float).reshape(len(values), len(directions))
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    return v * sign


def pareto_mask(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `costs` (n x d, minimised).

    q dominates p when q <= p in every column and q < p in at least one. Rows are visited
    in lexicographic order, so a row can only be dominated by one visited before it (or be
    equal to one, which is not domination); checking against the front found so far is
    enough because domination is transitive.
    """
    c = np.asarray(costs, dtype=float)
    n = c.shape[0]
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    order = np.lexsort(c.T[::-1])
    front: list[int] = []
    for i in order:
        p = c[i]
        if front:
            f = c[front]
            dominated = np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1))
            if dominated:
                continue
        front.append(int(i))
    mask[front] = True
    return mask


def hypervolume(costs: np.ndarray, reference: Sequence[float]) -> float:
    """Volume dominated by `costs` (n x d, minimised) and bounded by `reference`.

    Points that do not beat the reference in every column add nothing. Exact: a sweep in
    2-D, slicing along the last column above that (fine for the few hundred front points a
    study has; the cost grows as n^(d-1) log n).
    """
    ref = np.asarray(reference, dtype=float)
    c = np.asarray(costs, dtype=float).reshape(-1, ref.size)
    c = c[np.all(c < ref, axis=1)]
    if c.shape[0] == 0:
        return 0.0
    c = c[pareto_mask(c)]
    return float(_hv(c, ref))


def _hv(c: np.ndarray, ref: np.ndarray) -> float:
    d = ref.size
    if d == 1:
        return float(ref[0] - c[:, 0].min())
    if d == 2:
        pts = c[np.argsort(c[:, 0], kind="stable")]
        volume = 0.0
        best_y = ref[1]
        for x, y in pts:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    pts = c[np.argsort(c[:, -1], kind="stable")]
    volume = 0.0
    for i in range(pts.shape[0]):
        upper = pts[i + 1, -1] if i + 1 < pts.shape[0] else ref[-1]
        depth = upper - pts[i, -1]
        if depth <= 0:
            continue
        sub = pts[: i + 1, :-1]
        if d > 3:  # the 2-D sweep skips dominated points by itself; higher up, pruning pays
            sub = sub[pareto_mask(sub)]
        volume += depth * _hv(sub, ref[:-1])
    return volume


def contributions(costs: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Exclusive hypervolume of each row: what the front loses without it."""
    c = np.asarray(costs, dtype=float)
    total = hypervolume(c, reference)
    out = np.zeros(c.shape[0])
    for i in range(c.shape[0]):
        out[i] = total - hypervolume(np.delete(c, i, axis=0), reference)
    return out


def hypervolume_history(costs: np.ndarray, reference: Sequence[float]) -> list[float]:
    """Hypervolume of the first k rows, for every k (rows in the order they were found).

    Recomputed only when a row enters the front, so a long study costs little.
    """
    c = np.asarray(costs, dtype=float)
    ref = np.asarray(reference, dtype=float)
    out: list[float] = []
    front = np.empty((0, ref.size))
    hv = 0.0
    for row in c:
        if np.all(row < ref) and not np.any(np.all(front <= row, axis=1)):
            front = np.vstack([front[~np.all(row <= front, axis=1)], row])
            hv = hypervolume(front, ref)
        out.append(hv)
    return out
