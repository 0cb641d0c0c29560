"""Lexical-unit decoding: a step keeps the prefix up to the first rejected position.

With i.i.d. per-position acceptance a and a window of w tokens (the first always kept):
P(step yields >= j + 1 tokens) = a^j for j = 1..w-1, so E = 1 + sum_{j=1}^{w-1} a^j.
"""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.decoding import LexicalUnit, acceptance_for_mean, sample_accepted
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario


def test_closed_form_by_hand() -> None:
    assert LexicalUnit(acceptance=0.5, window=4).tokens_per_step == pytest.approx(1 + 0.5 + 0.25 + 0.125)
    assert LexicalUnit(acceptance=0.0, window=4).tokens_per_step == 1.0
    assert LexicalUnit(acceptance=1.0, window=4).tokens_per_step == 4.0
    # the default mean 1.4 (the paper's ~1.3-1.5) over a window of 4: 1 + a + a^2 + a^3 = 1.4
    a = LexicalUnit().acceptance
    assert 1 + a + a**2 + a**3 == pytest.approx(1.4, rel=1e-12)
    assert acceptance_for_mean(2.5, 3) == pytest.approx(LexicalUnit(tokens_per_step=2.5).acceptance)


def test_conflicting_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="disagree"):
        LexicalUnit(acceptance=0.5, tokens_per_step=2.0)


def test_a_step_is_a_prefix_not_a_binomial() -> None:
    """Mean 2.5 over a window of 4: a prefix keeps all four with probability a^3 (0.33 at
    a = 0.691); 1 + Binomial(3, 0.5) would give the same mean but 0.125."""
    dec = LexicalUnit(tokens_per_step=2.5, window=4)
    gained = 1 + sample_accepted(np.random.default_rng(7), dec.acceptance, dec.window - 1, 200_000)
    for j in range(1, 4):
        assert np.mean(gained >= j + 1) == pytest.approx(dec.acceptance**j, abs=0.005)
    assert np.mean(gained == 4) > 0.3


def test_des_mean_over_seeds_matches_the_analytic_mean() -> None:
    """20 DES runs of 1,000 tokens (~400 steps each at 2.5 tokens per step; the per-step
    standard deviation is 1.24, so the mean over 8,000 steps has a standard error of 0.014):
    the DES mean lies within 2% (3.6 standard errors) of the analytic figure. The last step of
    a run is cut to the tokens left: the analytic engine counts the run's 999 tokens over
    its expected steps, which the overshoot of the last step puts a little below the
    per-step 2.5 (by the backward recursion R(n) = 1 + sum_j P(j) R(n - j): 0.1% here)."""
    dec = LexicalUnit(tokens_per_step=2.5, window=4)
    plan = make_plan(load_hardware("orin-nano").spec, load_model("qwen3-0.6b"),
                     Scenario(prompt_tokens=32, gen_tokens=1000, decoding=dec))
    a = dec.acceptance
    law = {1: 1 - a, 2: a * (1 - a), 3: a * a * (1 - a), 4: a**3}  # the first rejection ends the step
    rounds = [0.0] * 1000
    for n in range(1, 1000):
        rounds[n] = 1 + sum(p * rounds[max(0, n - j)] for j, p in law.items())
    analytic = run(plan).extra["tokens_per_target_pass"]
    assert analytic == pytest.approx(999 / rounds[999], rel=1e-9)
    assert 2.5 * 0.998 < analytic < 2.5
    seeds = np.random.SeedSequence(11).generate_state(20)
    des = [run(plan, engine="des", seed=int(s)).extra["tokens_per_target_pass"] for s in seeds]
    assert np.mean(des) == pytest.approx(analytic, rel=0.02)
    assert np.std(des) > 0  # really sampled
