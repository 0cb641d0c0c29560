"""Pareto fronts, hypervolume and the knee: small exact algorithms on minimisation data.

Every function takes points as an (n, m) array where lower is better in every column
(negate maximised objectives first).
"""

from __future__ import annotations

import numpy as np


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """True for the non-dominated rows. Duplicates of a front point are all kept.

    Sort by the first objective, then sweep: O(n log n) for two objectives, O(n * front)
    otherwise, which is fine for thousands of trials."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(pts.T[::-1])  # by column 0, then 1, ...
    keep = np.zeros(n, dtype=bool)
    front: list[np.ndarray] = []
    for i in order:
        p = pts[i]
        dominated = False
        for q in front:
            if np.all(q <= p) and np.any(q < p):
                dominated = True
                break
        if not dominated:
            keep[i] = True
            front.append(p)
    return keep


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by `points` and bounded by `reference` (exact).

    2-D by a sweep; higher dimensions by slicing along the last objective (exact, fine for
    the few hundred front points of a study)."""
    pts = np.asarray(points, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if pts.size == 0:
        return 0.0
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_mask(pts)]
    m = pts.shape[1]
    if m == 1:
        return float(ref[0] - pts[:, 0].min())
    if m == 2:
        pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
        runmin = np.minimum.accumulate(pts[:, 1])
        prev = np.concatenate([[ref[1]], runmin[:-1]])
        return float(np.sum((ref[0] - pts[:, 0]) * np.clip(prev - pts[:, 1], 0.0, None)))
    # slice along the last objective: between consecutive levels the dominated region's
    # cross-section is the (m-1)-D hypervolume of the points at or below the level
    pts = pts[np.argsort(pts[:, -1])]
    levels = np.append(pts[:, -1], ref[-1])
    hv = 0.0
    for i in range(len(pts)):
        depth = levels[i + 1] - levels[i]
        if depth > 0:
            hv += depth * hypervolume(pts[: i + 1, :-1], ref[:-1])
    return float(hv)


def hypervolume_history(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Hypervolume of the first k points, for every k (points in trial order; NaN rows are
    skipped, i.e. infeasible or failed trials keep the previous value)."""
    pts = np.asarray(points, dtype=float)
    ref = np.asarray(reference, dtype=float)
    out = np.zeros(len(pts))
    front = np.empty((0, pts.shape[1] if pts.ndim == 2 else 0))
    hv = 0.0
    for k, p in enumerate(pts):
        if np.all(np.isfinite(p)) and np.all(p < ref):
            if not (len(front) and np.any(np.all(front <= p, axis=1))):
                front = np.vstack([front[~np.all(p <= front, axis=1)], p])
                hv = hypervolume(front, ref)
        out[k] = hv
    return out


def default_reference(points: np.ndarray) -> np.ndarray:
    """A reference point just worse than the worst of `points` in every objective."""
    pts = np.asarray(points, dtype=float)
    worst = np.nanmax(pts, axis=0)
    best = np.nanmin(pts, axis=0)
    span = np.where(worst > best, worst - best, np.maximum(np.abs(worst), 1e-12))
    return worst + 0.1 * span


def knee_index(points: np.ndarray) -> int:
    """The front point closest to the ideal point after scaling each objective to [0, 1]
    over the front: the balanced compromise, not the extreme of any objective."""
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        raise ValueError("no points")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm = (pts - lo) / span
    return int(np.argmin(np.sqrt((norm ** 2).sum(axis=1))))
