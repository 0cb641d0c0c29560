"""Decoding formulas, samplers, routing models and expert caches."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.workloads.decoding import (
    Multipath,
    expected_tokens_per_pass,
    expected_tokens_tree,
    sample_accepted,
    sample_accepted_tree,
    tree_nodes,
)
from slmsim.workloads.routing import (
    CachePolicy,
    CacheState,
    ExpertCache,
    RoutingSampler,
    Temporal,
    Uniform,
    Zipf,
    analytic_hit_rate,
    expected_distinct,
    selection_probability,
    touched_mask,
)


@pytest.mark.parametrize(("a", "g", "expected"), [(0.7, 4, 2.7731), (0.5, 2, 1.75), (0.0, 5, 1.0), (1.0, 3, 4.0),
                                                  (0.8, 0, 1.0)])
def test_tokens_per_pass_formula(a: float, g: int, expected: float) -> None:
    assert expected_tokens_per_pass(a, g) == pytest.approx(expected)
    assert expected_tokens_tree(a, (1,) * g) == pytest.approx(expected)  # a chain is a tree of 1s


@pytest.mark.parametrize(("a", "g"), [(0.6, 4), (0.9, 8), (0.3, 2)])
def test_sampled_acceptance_converges_to_the_formula(a: float, g: int) -> None:
    s = sample_accepted(np.random.default_rng(0), a, g, 200_000)
    assert (s + 1).mean() == pytest.approx(expected_tokens_per_pass(a, g), rel=0.01)
    assert s.min() >= 0 and s.max() <= g


def test_tree_formula_and_sampler_agree() -> None:
    tree = (3, 2, 1)
    assert tree_nodes(tree) == 3 + 6 + 6
    s = sample_accepted_tree(np.random.default_rng(1), 0.6, tree, 200_000)
    assert (s + 1).mean() == pytest.approx(expected_tokens_tree(0.6, tree), rel=0.01)
    # a wider tree accepts more per pass than a chain of the same depth
    assert expected_tokens_tree(0.6, tree) > expected_tokens_per_pass(0.6, 3)


def test_multipath_schedule() -> None:
    m = Multipath(initial_width=2, max_width=8, expand_every=10, prune_after=40, final_width=1)
    assert [m.width_at(t) for t in (0, 9, 10, 20, 30, 39, 40)] == [2, 2, 4, 8, 8, 8, 1]


@pytest.mark.parametrize("b", [1, 2, 4, 16, 64])
def test_distinct_experts_uniform_formula(b: int) -> None:
    e, k = 64, 8
    assert expected_distinct(Uniform(), e, k, b) == pytest.approx(e * (1 - (1 - k / e) ** b))
    sampler = RoutingSampler(Uniform(), num_experts=e, top_k=k, layers=2, rng=np.random.default_rng(b))
    seen = [touched_mask(sampler.step(list(range(b))), e).sum(axis=1).mean() for _ in range(400)]
    assert np.mean(seen) == pytest.approx(e * (1 - (1 - k / e) ** b), rel=0.02)


def test_selection_probabilities_sum_to_k_and_cap_at_one() -> None:
    p = selection_probability(Zipf(s=1.5), 16, 4)
    assert p.sum() == pytest.approx(4.0) and p.max() <= 1.0 + 1e-12
    assert expected_distinct(Zipf(s=1.5), 16, 4, 8) < expected_distinct(Uniform(), 16, 4, 8)


def test_tokens_pick_distinct_experts() -> None:
    ids = RoutingSampler(Zipf(s=2.0), num_experts=16, top_k=4, layers=3, rng=np.random.default_rng(0)).step([0, 1, 2])
    assert ids.shape == (3, 3, 4)
    assert all(len(set(row)) == 4 for layer in ids for row in layer)


def run_cache(policy: str, routing: object, cap: int, steps: int = 3000) -> float:
    cache = ExpertCache(tier="hb", experts_per_layer=cap, policy=policy)
    state = CacheState(cache, layers=2, num_experts=64)
    sampler = RoutingSampler(routing, num_experts=64, top_k=8, layers=2, rng=np.random.default_rng(3))
    for _ in range(steps):
        state.step(touched_mask(sampler.step([0]), 64))
        assert state.held().sum(axis=1).max() <= cap
    return state.hit_rate


def test_cache_of_size_zero_never_hits_and_of_all_experts_always_hits() -> None:
    assert run_cache("lru", Uniform(), 0) == 0.0
    assert analytic_hit_rate(ExpertCache(tier="hb", experts_per_layer=0), Uniform(), 64, 8) == 0.0
    assert run_cache("lru", Uniform(), 64) > 0.99  # only the cold misses of the first steps
    assert analytic_hit_rate(ExpertCache(tier="hb", experts_per_layer=64), Uniform(), 64, 8) == 1.0


@pytest.mark.parametrize("policy", ["lru", "lfu"])
def test_uniform_hit_rate_is_capacity_over_experts(policy: str) -> None:
    assert run_cache(policy, Uniform(), 16) == pytest.approx(16 / 64, abs=0.02)
    cache = ExpertCache(tier="hb", experts_per_layer=16, policy=policy)
    assert analytic_hit_rate(cache, Uniform(), 64, 8) == pytest.approx(0.25, abs=1e-9)


def test_skew_and_temporal_locality_raise_hit_rates() -> None:
    assert run_cache("lfu", Zipf(s=1.0), 16) > run_cache("lfu", Uniform(), 16) + 0.2
    assert run_cache("lfu", Zipf(s=1.0), 16) >= run_cache("lru", Zipf(s=1.0), 16)  # independent references
    assert run_cache("lru", Temporal(reuse=0.7), 16) > run_cache("lru", Uniform(), 16) + 0.3
    assert CachePolicy("lfu") is CachePolicy.LFU
