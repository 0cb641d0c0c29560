"""Arrival times draw from their own stream of the seed, apart from the DES's generator.

The serving DES's generator (acceptance and routing draws) is `default_rng(seed)`. Before,
the CLI drew the Poisson gaps from a second `default_rng(seed)`, so a run's first acceptance
and routing draws were the uniforms behind its arrival gaps (an audit measured r = 0.32 between
the first request's service time and the arrival span over 300 seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slmsim.cli import main
from slmsim.simulator import serving
from slmsim.simulator.samples import derived_seeds
from slmsim.workloads.requests import ARRIVAL_SPAWN_KEY, arrival_rng

ROOT = Path(__file__).parents[2]


def _captured_gaps(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], seed: int) -> np.ndarray:
    seen: dict[str, object] = {}
    real = serving.run_serving

    def spy(mapper, requests, policy, **kw):  # type: ignore[no-untyped-def]
        seen["requests"], seen["seed"] = requests, kw.get("seed")
        return real(mapper, requests, policy, **kw)

    monkeypatch.setattr(serving, "run_serving", spy)
    code = main(["simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--engine", "des", "--arrivals",
                 "poisson", "--rate", "2", "--requests", "6", "--prompt", "32", "--gen", "4", "--seed", str(seed),
                 "--json"])
    capsys.readouterr()
    assert code == 0 and seen["seed"] == seed
    times = np.array([r.arrival_s for r in seen["requests"]])  # type: ignore[attr-defined]
    return np.diff(np.concatenate([[0.0], times]))


@pytest.mark.parametrize("seed", [0, 7])
def test_cli_arrivals_share_no_draws_with_the_des_generator(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str], seed: int) -> None:
    gaps = _captured_gaps(monkeypatch, capsys, seed)
    # the gaps are exponential(1 / rate) draws of the seed's arrival stream ...
    assert gaps == pytest.approx(arrival_rng(seed).exponential(0.5, size=6), rel=1e-12)
    # ... and none of them is a draw of the DES's own generator, default_rng(seed)
    des = np.random.default_rng(seed).exponential(0.5, size=6)
    assert np.all(np.abs(gaps - des) > 1e-9)


def test_a_runs_acceptance_draws_do_not_follow_its_arrival_over_seeds() -> None:
    """One speculative request (orin-nano, llama-3.1-8b drafted by qwen3-0.6b, a = 0.7, g = 3,
    gen 8) arriving after one exponential gap, 300 seeds: its tokens per target pass (the DES's
    acceptance draws) against its arrival time. The shared generator gave r = -0.217; the split
    stream 0.046, inside three standard errors of r under independence (3 / sqrt(300) = 0.17)."""
    import yaml

    from slmsim.hw_models.load import load_hardware
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.serving import ServingPolicy, run_serving
    from slmsim.workloads.load import load_model
    from slmsim.workloads.requests import poisson_requests
    from slmsim.workloads.scenario import Scenario

    data = yaml.safe_load((ROOT / "examples" / "decoding" / "spec-orin.yaml").read_text())
    data.update(gen_tokens=8)
    plan = make_plan(load_hardware("orin-nano").spec, load_model("llama-3.1-8b"), Scenario.model_validate(data),
                     draft_model=load_model("qwen3-0.6b"))
    arrival, passes = [], []
    for s in range(300):
        reqs = poisson_requests(1, rate_per_s=1.0, prompt_tokens=128, gen_tokens=8, rng=arrival_rng(s))
        arrival.append(reqs[0].arrival_s)
        passes.append(run_serving(plan.mapper, reqs, ServingPolicy(), seed=s).extra["tokens_per_target_pass"])
    assert abs(float(np.corrcoef(arrival, passes)[0, 1])) < 3.0 / np.sqrt(300)


def test_no_sample_seed_comes_from_the_arrival_stream() -> None:
    # --samples spawns children 0 .. N-1; the arrival key lies above them
    from slmsim.core.limits import MAX_SAMPLES

    assert ARRIVAL_SPAWN_KEY >= MAX_SAMPLES
    first = int(np.random.SeedSequence(5, spawn_key=(ARRIVAL_SPAWN_KEY,)).generate_state(1)[0])
    assert first not in derived_seeds(5, MAX_SAMPLES)
