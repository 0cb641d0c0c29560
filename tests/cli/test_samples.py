"""`simulate --engine des --samples N`: derived seeds, Student-t intervals, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slmsim.cli import main
from slmsim.simulator.samples import derived_seeds, t_interval
from slmsim.workloads.decoding import expected_tokens_per_pass

# the draft/target case of docs/decoding.md at draft length 4 and 512 generated tokens
SPEC = ["--hw", "orin-nano", "--model", "llama-3.1-8b", "--scenario",
        str(Path(__file__).parents[2] / "examples" / "decoding" / "spec-orin.yaml"),
        "--draft-len", "4", "--gen", "512", "--engine", "des"]


def simulate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["simulate", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_t_interval_by_hand() -> None:
    iv = t_interval([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, s = sqrt(5/3) = 1.291, t_{0.975, 3} = 3.182: half-width 3.182 x 1.291 / 2 = 2.054
    assert iv["mean"] == 2.5 and iv["samples"] == 4
    assert iv["ci95"] == pytest.approx([2.5 - 2.0540, 2.5 + 2.0540], abs=1e-3)
    assert t_interval([3.0, 3.0])["ci95"] == [3.0, 3.0]
    assert "clipped" not in iv and "clipped" not in t_interval([1.0, 2.0, 3.0, 4.0], bounds=(0.0, None))


def test_an_interval_is_cut_to_its_figures_range_by_hand() -> None:
    # mean 11, s = sqrt((100 + 81 + 361) / 2) = 16.462, t_{0.975, 2} = 4.3027: half-width 4.3027 x 16.462 /
    # sqrt(3) = 40.894, so the symmetric interval is [-29.894, 51.894]; the figure is >= 0
    iv = t_interval([1.0, 2.0, 30.0], bounds=(0.0, None))
    assert iv["mean"] == 11.0 and iv["clipped"] is True
    assert iv["ci95"] == pytest.approx([0.0, 51.894], abs=1e-3)
    # a hit rate cannot pass 1: mean 0.9, s = 0.1, half-width 4.3027 x 0.1 / sqrt(3) = 0.2484
    hit = t_interval([0.8, 0.9, 1.0], bounds=(0.0, 1.0))
    assert hit["ci95"] == pytest.approx([0.9 - 0.2484, 1.0], abs=1e-4) and hit["clipped"] is True


def test_seeds_are_spawned_from_the_scenario_seed() -> None:
    assert derived_seeds(0, 3) == [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(0).spawn(3)]
    assert derived_seeds(0, 3) != derived_seeds(1, 3)
    assert derived_seeds(5, 4)[:2] == derived_seeds(5, 2)  # more runs extend, never reshuffle


def test_twenty_samples_contain_the_analytic_tokens_per_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11: at a = 0.7, g = 4 the formula gives (1 - 0.7^5) / 0.3 = 2.773 tokens per
    target pass; one DES seed (seed 0: 2.517) can miss it by sampling alone, the 95% interval
    over 20 derived seeds must contain it."""
    code, out, _ = simulate(capsys, *SPEC, "--samples", "20", "--json")
    assert code == 0
    d = json.loads(out)
    tpp = d["tokens_per_target_pass"]
    lo, hi = tpp["ci95"]
    assert tpp["samples"] == 20 and len(tpp["values"]) == 20
    assert lo < expected_tokens_per_pass(0.7, 4) == pytest.approx(2.7731, abs=1e-4)
    assert expected_tokens_per_pass(0.7, 4) < hi
    assert 0 < hi - lo < 0.3
    tps = d["decode_tokens_per_s"]
    assert tps["ci95"][0] < tps["mean"] < tps["ci95"][1]
    assert d["expert_cache_hit_rate"] is None and d["distinct_experts_per_step"] is None  # dense model
    assert d["sampling"]["seeds"] == derived_seeds(0, 20)
    # any sample reruns alone with --seed
    code, out, _ = simulate(capsys, *SPEC, "--seed", str(d["sampling"]["seeds"][3]), "--json")
    assert json.loads(out)["tokens_per_target_pass"] == pytest.approx(tpp["values"][3])


def test_moe_hit_rates_and_distinct_experts_get_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = simulate(capsys, "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--gen", "24", "--weight-bits", "8",
                            "--act-bits", "8", "--routing", "zipf", "--expert-cache", "16", "--cache-tier", "hb",
                            "--engine", "des", "--samples", "4", "--json")
    assert code == 0
    d = json.loads(out)
    for key in ("expert_cache_hit_rate", "distinct_experts_per_step", "decode_tokens_per_s"):
        assert d[key]["samples"] == 4 and d[key]["ci95"][0] <= d[key]["mean"] <= d[key]["ci95"][1], key
    assert isinstance(d["energy_j"], float)  # other figures: means over the runs


def test_table_shows_mean_and_half_width(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = simulate(capsys, "--hw", "orin-nano", "--model", "qwen3-0.6b", "--decoding", "lexical_unit",
                            "--gen", "32", "--engine", "des", "--samples", "3")
    assert code == 0
    assert "over 3 DES runs" in out and "tokens per target pass" in out and "+-" in out


@pytest.mark.parametrize(("extra", "needle"), [(["--engine", "des", "--samples", "1"], "at least 2"),
                                                (["--samples", "5"], "--engine des")])
def test_bad_samples_exit_2(capsys: pytest.CaptureFixture[str], extra: list[str], needle: str) -> None:
    code, out, err = simulate(capsys, "--hw", "orin-nano", "--model", "qwen3-0.6b", *extra)
    assert code == 2
    assert needle in out + err and "Traceback" not in out + err


def test_a_request_stream_gets_serving_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    """With --arrivals the seed draws the arrival times, so the stream's latencies are sampled
    figures too: each interval's values are the single runs at the derived seeds; counts that
    every run shares stay whole numbers, and the version survives the averaging."""
    stream = ["--hw", "orin-nano", "--model", "qwen3-0.6b", "--arrivals", "poisson", "--rate", "5",
              "--requests", "8", "--prompt", "128", "--gen", "16"]
    code, out, _ = simulate(capsys, *stream, "--samples", "3", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["slmsim_version"] and d["serving"]["requests"] == 8 and isinstance(d["serving"]["requests"], int)
    ivs = d["serving_intervals"]
    assert set(ivs) == {"ttft_s.mean", "ttft_s.p99", "tpot_s.mean", "itl_s.p99", "e2e_s.mean",
                        "throughput_tokens_per_s"}
    seed = d["sampling"]["seeds"][1]
    code, out, _ = simulate(capsys, *stream, "--seed", str(seed), "--json")
    one = json.loads(out)["serving"]
    assert ivs["ttft_s.p99"]["values"][1] == pytest.approx(one["ttft_s"]["p99"])
    assert ivs["throughput_tokens_per_s"]["values"][1] == pytest.approx(one["throughput_tokens_per_s"])
    lo, hi = ivs["ttft_s.mean"]["ci95"]
    assert lo <= ivs["ttft_s.mean"]["mean"] <= hi and len(set(ivs["ttft_s.mean"]["values"])) == 3


@pytest.mark.parametrize("n", ["1001", "99999999999999999999999"])
def test_samples_beyond_the_limit_are_refused_not_run(capsys: pytest.CaptureFixture[str], n: str) -> None:
    """Audit of 2026-12-04: a huge --samples was an OverflowError traceback, 1e5 ran for hours."""
    code, _, err = simulate(capsys, *SPEC, "--samples", n)
    assert code == 2 and "--samples: out of range" in err and "from 2 to 1,000" in err and "Traceback" not in err
