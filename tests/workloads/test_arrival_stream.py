"""Arrival times draw from their own stream of the seed, apart from the DES's generator.

The serving DES's generator (acceptance and routing draws) is `default_rng(seed)`. Before,
the CLI drew the Poisson gaps from a second `default_rng(seed)`, so a run's first acceptance
and routing draws were the uniforms behind its arrival gaps (an audit measured r = 0.32 between
the first request's service time and the arrival span over 300 seeds).
"""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.cli import main
from slmsim.simulator import serving
from slmsim.simulator.samples import derived_seeds
from slmsim.workloads.requests import ARRIVAL_SPAWN_KEY, arrival_rng


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


def test_the_streams_are_uncorrelated_over_seeds() -> None:
    # the first uniform of each stream over 300 seeds: the old code drew both from one root (r = 1)
    a = np.array([arrival_rng(s).random() for s in range(300)])
    d = np.array([np.random.default_rng(s).random() for s in range(300)])
    r = float(np.corrcoef(a, d)[0, 1])
    assert abs(r) < 3.0 / np.sqrt(300)  # three standard errors of r under independence


def test_no_sample_seed_comes_from_the_arrival_stream() -> None:
    # --samples spawns children 0 .. N-1; the arrival key lies above them
    from slmsim.core.limits import MAX_SAMPLES

    assert ARRIVAL_SPAWN_KEY >= MAX_SAMPLES
    first = int(np.random.SeedSequence(5, spawn_key=(ARRIVAL_SPAWN_KEY,)).generate_state(1)[0])
    assert first not in derived_seeds(5, MAX_SAMPLES)
