"""Pareto extraction and hypervolume against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from slmsim.dse.pareto import (
    contributions,
    hypervolume,
    hypervolume_history,
    pareto_mask,
    to_costs,
)


def brute_front(costs: np.ndarray) -> np.ndarray:
    n = len(costs)
    keep = np.ones(n, dtype=bool)
    for i, j in itertools.product(range(n), range(n)):
        if i != j and np.all(costs[j] <= costs[i]) and np.any(costs[j] < costs[i]):
            keep[i] = False
    return keep


def brute_hv(costs: np.ndarray, ref: np.ndarray) -> float:
    """Exact volume by cells: split space at every coordinate, count dominated cells."""
    pts = costs[np.all(costs < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    axes = [np.unique(np.concatenate([pts[:, k], [ref[k]]])) for k in range(len(ref))]
    total = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        low = np.array([axes[k][c] for k, c in enumerate(cell)])
        high = np.array([axes[k][c + 1] for k, c in enumerate(cell)])
        if np.any(np.all(pts <= low, axis=1)):
            total += float(np.prod(high - low))
    return total


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("d", [2, 3, 4])
def test_pareto_mask_matches_brute_force_with_ties(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    # few distinct levels: many ties and duplicate points
    costs = rng.integers(0, 5, size=(40, d)).astype(float)
    assert np.array_equal(pareto_mask(costs), brute_front(costs))


def test_duplicates_are_both_on_the_front() -> None:
    costs = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0]])
    assert pareto_mask(costs).tolist() == [True, True, True, False]


@pytest.mark.parametrize("seed", range(6))
def test_maximised_objectives_are_negated(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    values = rng.integers(0, 6, size=(30, 3)).astype(float)
    directions = ["minimize", "maximize", "minimize"]
    mask = pareto_mask(to_costs(values, directions))
    # brute force straight on the values with the directions spelled out
    keep = np.ones(len(values), dtype=bool)
    for i, j in itertools.product(range(len(values)), repeat=2):
        no_worse = values[j, 0] <= values[i, 0] and values[j, 1] >= values[i, 1] and values[j, 2] <= values[i, 2]
        better = values[j, 0] < values[i, 0] or values[j, 1] > values[i, 1] or values[j, 2] < values[i, 2]
        if i != j and no_worse and better:
            keep[i] = False
    assert np.array_equal(mask, keep)


def test_empty_and_single() -> None:
    assert pareto_mask(np.empty((0, 3))).tolist() == []
    assert pareto_mask(np.array([[1.0, 1.0]])).tolist() == [True]
    assert hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_hypervolume_matches_cell_count(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    costs = rng.integers(0, 6, size=(7, d)).astype(float) / 5.0
    ref = np.full(d, 1.1)
    assert hypervolume(costs, ref) == pytest.approx(brute_hv(costs, ref), rel=1e-12, abs=1e-12)


def test_hypervolume_matches_optuna() -> None:
    hv_mod = pytest.importorskip("optuna._hypervolume")
    rng = np.random.default_rng(7)
    costs = rng.random((60, 3))
    ref = np.full(3, 1.2)
    front = costs[pareto_mask(costs)]
    assert hypervolume(costs, ref) == pytest.approx(hv_mod.compute_hypervolume(front, ref), rel=1e-9)


def test_points_outside_the_reference_add_nothing() -> None:
    assert hypervolume(np.array([[2.0, 0.0], [0.5, 0.5]]), [1.0, 1.0]) == pytest.approx(0.25)


def test_history_is_the_running_hypervolume() -> None:
    rng = np.random.default_rng(3)
    costs = rng.random((25, 3))
    hist = hypervolume_history(costs, [1.0, 1.0, 1.0])
    assert all(b >= a for a, b in itertools.pairwise(hist))
    for k in (1, 5, 25):
        assert hist[k - 1] == pytest.approx(hypervolume(costs[:k], [1.0, 1.0, 1.0]))


def test_contributions_sum_and_zero_for_dominated() -> None:
    costs = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2], [0.6, 0.6]])
    c = contributions(costs, [1.0, 1.0])
    assert c[3] == 0.0
    assert c[1] == pytest.approx(0.3 * 0.3 - 0.2 * 0.2)  # (0.6, 0.6) takes over part of its box
