"""Pareto fronts, hypervolume and the knee: small exact algorithms on minimisation data.

Every function takes points as an (n, m) array where lower is better in every column
(negate maximised objectives first). Pareto extraction and hypervolume are the shared
implementation in slmsim.core.pareto (moocore's algorithms), the one dse/ uses too.
"""

from __future__ import annotations

import numpy as np

from slmsim.core.pareto import hypervolume, hypervolume_history, pareto_mask

__all__ = ["default_reference", "hypervolume", "hypervolume_history", "knee_index", "pareto_mask"]


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
