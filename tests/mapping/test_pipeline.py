from __future__ import annotations

import itertools

import numpy as np
import pytest

from slmsim.mapping.pipeline import linear_partition, unrolled_op_costs


def brute(costs: list[float], stages: int) -> float:
    n = len(costs)
    best = float("inf")
    for cuts in itertools.combinations(range(1, n), stages - 1):
        bounds = (0, *cuts, n)
        best = min(best, max(sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_partition_is_optimal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 10))
    costs = list(rng.random(n))
    stages = int(rng.integers(1, n + 1))
    p = linear_partition(costs, stages)
    assert p.bottleneck == pytest.approx(brute(costs, stages))
    assert sum(p.stage_costs) == pytest.approx(sum(costs))
    assert p.boundaries[0] == 0 and list(p.boundaries) == sorted(p.boundaries)


def test_unrolled_order_is_layer_major() -> None:
    costs, order = unrolled_op_costs(np.array([1.0, 20.0, 40.0, 5.0]), [1, 2, 2, 1])
    assert order == [0, 1, 2, 1, 2, 3]
    assert list(costs) == [1.0, 10.0, 20.0, 10.0, 20.0, 5.0]


def test_flow_shop_makespan() -> None:
    from slmsim.mapping.pipeline import StagePipeline

    same = np.array([[1.0] * 5, [3.0] * 5, [2.0] * 5])  # 3 stages, 5 identical jobs
    assert StagePipeline.makespan_s(same) == pytest.approx(6.0 + 4 * 3.0)
    # two jobs, two stages: C = max(p00 + p01, ...) by the recursion
    p = np.array([[2.0, 1.0], [1.0, 3.0]])
    assert StagePipeline.makespan_s(p) == pytest.approx(6.0)  # j0: 2, 3; j1: 3, max(3,3)+3 = 6
