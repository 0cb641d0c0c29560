"""The block-vectorised routing sampler draws from the same law as the per-token one (issue 18 item 6)."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.workloads.routing import RoutingSampler, Temporal, Zipf

E, K, LAYERS = 16, 4, 3


def _freqs(block: int, seed: int, steps: int, batch: int = 1, routing: object = None) -> np.ndarray:
    r = routing or Zipf(s=1.2)
    smp = RoutingSampler(r, num_experts=E, top_k=K, layers=LAYERS, rng=np.random.default_rng(seed), block_tokens=block)
    counts = np.zeros(E)
    for _ in range(steps):
        ids = smp.step(list(range(batch)))
        assert ids.shape == (LAYERS, batch, K)
        # k distinct experts per token and layer
        assert all(len(set(row)) == K for row in ids.reshape(-1, K).tolist())
        counts += np.bincount(ids.reshape(-1), minlength=E)
    return counts / (steps * batch * LAYERS)  # mean selections per token per layer, sums to K


@pytest.mark.parametrize("block", [7, 64])
def test_block_sampler_matches_per_token_frequencies_and_the_analytic_law(block: int) -> None:
    steps = 4000
    per_token = _freqs(1, 0, steps)
    blocked = _freqs(block, 1, steps, batch=3)  # steps of 3 tokens cross block boundaries
    # each is K selections per token; skewed (Zipf 1.2: the top expert is picked far more than K/E)
    assert per_token.sum() == pytest.approx(K) and blocked.sum() == pytest.approx(K)
    assert per_token[0] > 3 * K / E
    # binomial standard error of each inclusion frequency; 5 sigma (16 experts x 2 widths)
    p = (per_token + blocked) / 2
    se = np.sqrt(p * (1 - p) / (steps * LAYERS)) * np.sqrt(1 + 1 / 3)
    assert np.all(np.abs(blocked - per_token) < 5 * se + 1e-9)
    # and a wrong law is caught: uniform routing's frequencies are far outside the same band
    uniform = np.full(E, K / E)
    assert np.any(np.abs(uniform - per_token) > 5 * se)


def test_block_sampler_same_seed_same_draws() -> None:
    a = RoutingSampler(Zipf(s=1.0), num_experts=E, top_k=K, layers=LAYERS, rng=np.random.default_rng(3),
                       block_tokens=32)
    b = RoutingSampler(Zipf(s=1.0), num_experts=E, top_k=K, layers=LAYERS, rng=np.random.default_rng(3),
                       block_tokens=32)
    for n in (1, 5, 40, 1):
        assert np.array_equal(a.step(list(range(n))), b.step(list(range(n))))


def test_block_sampler_keeps_temporal_reuse() -> None:
    # reuse 1.0: every token after the first repeats its sequence's previous experts exactly
    smp = RoutingSampler(Temporal(reuse=1.0), num_experts=E, top_k=K, layers=LAYERS,
                         rng=np.random.default_rng(0), block_tokens=16)
    first = smp.step([0])
    for _ in range(20):
        assert np.array_equal(smp.step([0]), first)


def test_block_tokens_must_be_positive() -> None:
    with pytest.raises(ValueError, match="block_tokens"):
        RoutingSampler(Zipf(), num_experts=E, top_k=K, layers=1, rng=np.random.default_rng(0), block_tokens=0)
