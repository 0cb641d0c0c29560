"""What a run assumes that the engine or the device does not bear out is said as a warning
(physics audit of 2026-12-07): temporal routing with an expert cache on the analytic engine, and
fp8 / fp4 weight formats run at no dequantisation cost on an engine without fp8 / fp4 peaks."""

from __future__ import annotations

import json

import pytest

from tests.cli._audit import run

TEMPORAL = ("simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--routing", "temporal", "--reuse", "0.9",
            "--expert-cache", "16", "--cache-tier", "hb", "--gen", "64", "--json")


def test_temporal_reuse_with_a_cache_is_seen_by_the_des_only_and_the_analytic_run_says_so(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *TEMPORAL)
    analytic = json.loads(out)
    assert code == 0
    # by hand: the analytic engine draws from the base (uniform) routing, where LRU and LFU both hold
    # a uniform share of the 64 experts: hit = C / E = 16 / 64
    assert analytic["expert_cache_hit_rate"] == pytest.approx(16 / 64, abs=1e-9)
    assert any("temporal routing (reuse 0.9)" in w and "--engine des" in w for w in analytic["warnings"])
    code, out, _ = run(capsys, *TEMPORAL, "--engine", "des")
    des = json.loads(out)
    assert code == 0 and not any("temporal routing" in w for w in des["warnings"])
    # by hand: a token that reuses its previous token's 8 experts finds them in a 16-expert LRU cache
    # (they were the last used), so hits >= reuse x (1 - the cold first token's share) = 0.9 x 63/64
    assert des["expert_cache_hit_rate"] >= 0.9 * 63 / 64 - 1e-9


def test_no_temporal_warning_without_reuse_or_without_a_cache(capsys: pytest.CaptureFixture[str]) -> None:
    no_cache = [a for a in TEMPORAL if a not in ("--expert-cache", "16", "--cache-tier", "hb")]
    for argv in (no_cache, [*TEMPORAL[:8], "0", *TEMPORAL[9:]]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and not any("temporal routing" in w for w in json.loads(out)["warnings"])


@pytest.mark.parametrize(("hw", "fmt", "warned"), [
    ("a100-80gb", "fp8", True),        # Ampere: no FP8 tensor cores
    ("agx-orin-64gb", "nvfp4", True),  # Ampere: no FP4 either
    ("h100-pcie", "fp8", False),       # Hopper takes FP8 natively
    ("h100-pcie", "nvfp4", True),      # but not FP4 (Blackwell's)
    ("jetson-agx-thor", "nvfp4", False),
])
def test_a_float_format_without_its_engine_is_warned(capsys: pytest.CaptureFixture[str], hw: str, fmt: str,
                                                     warned: bool) -> None:
    code, out, _ = run(capsys, "simulate", "--hw", hw, "--model", "qwen2.5-0.5b", "--stack", "vllm",
                       "--weight-format", fmt, "--json")
    data = json.loads(out)
    assert code == 0
    hits = [w for w in data["warnings"] if "no dequantisation cost" in w]
    assert bool(hits) is warned
    if warned:
        assert f"states no {fmt[-3:]} matrix peak" in hits[0]
    assert "warnings" not in data["stack"]  # said once, under warnings
