"""Paged KV in the serving DES (`--kv-policy paged`, vLLM's block manager): blocks of 16
tokens as sequences grow, the newest running sequence preempted and prefilled again over its
prompt and tokens so far when no block is free. Hand-worked on qwen3-0.6b (28 layers, 8 KV
heads of 128, 16-bit KV: 114,688 B per token, 1,835,008 B per block)."""

from __future__ import annotations

import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import StepMapper
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.serving import KV_BLOCK_TOKENS, KvPolicy, Schedule, ServingPolicy, run_serving
from slmsim.workloads.load import load_model
from slmsim.workloads.requests import fixed_requests, poisson_requests
from slmsim.workloads.scenario import Scenario

import numpy as np

BLOCK = KV_BLOCK_TOKENS * 114_688


def mapper(blocks: float | None = None) -> StepMapper:
    m = StepMapper(load_hardware("orin-nano").spec, load_model("qwen3-0.6b"), Scenario(prompt_tokens=64, gen_tokens=40))
    assert m.kv_bytes_per_token() == 114_688 and KV_BLOCK_TOKENS == 16
    if blocks is not None:
        m.kv_budget_bytes = lambda: blocks * BLOCK  # type: ignore[method-assign]
    return m


def paged(**kw: object) -> ServingPolicy:
    return ServingPolicy(kv_policy=KvPolicy.PAGED, memory_model=MemoryModel.IDEAL, **kw)


def test_one_preemption_worked_by_hand() -> None:
    """10 blocks, two requests at t = 0, prompt 64 (4 blocks), 40 tokens (7 blocks at the end,
    so each fits alone). Prefill: 8 blocks. Decode step k writes token 64 + k: step 1 takes a
    fifth block each (10 used); step 17 needs a sixth for the first request and none is free,
    so the second (newest) is preempted after 17 tokens: 5 blocks freed, back to the queue to
    prefill 64 + 17 = 81 tokens (6 blocks) again, which fit only when the first finishes (it
    holds 7 blocks from step 33). The second then resumes at its 18th token."""
    res = run_serving(mapper(10), fixed_requests(2, prompt_tokens=64, gen_tokens=40), paged(), trace_steps=200)
    sv = res.extra["serving"]
    assert (sv["preemptions"], sv["recomputed_tokens"], sv["completed"]) == (1, 81, 2)
    assert res.generated_tokens == 80
    assert res.memory_footprint_bytes["kv_cache_peak"] == 10 * BLOCK
    steps = [e["name"] for e in res.extra["trace"] if e.get("tid") == "steps"]
    # prefill x2, 16 steps of both, 23 of the first alone (tokens 18..40), the recompute, 23 of the second
    assert steps[0] == "prefill x2" and steps[1:17] == ["decode x2"] * 16
    assert steps[17:40] == ["decode x1"] * 23
    assert steps[40] == "prefill x1" and steps[41:] == ["decode x1"] * 22
    # the second request's longest gap spans the first's 23 steps alone and its own recompute
    assert sv["itl_s"]["max"] > 23 * sv["itl_s"]["p50"]


def test_with_room_to_spare_paged_is_the_reservation() -> None:
    """Blocks never run out: no preemption, the same steps, the same times as --kv-policy wait."""
    reqs = poisson_requests(10, rate_per_s=8.0, prompt_tokens=64, gen_tokens=40, rng=np.random.default_rng(4))
    for schedule in (Schedule.PREFILL_FIRST, Schedule.MIXED):
        wait = run_serving(mapper(), reqs, ServingPolicy(memory_model=MemoryModel.IDEAL, schedule=schedule,
                                                          step_tokens=128)).extra["serving"]
        pg = run_serving(mapper(), reqs, paged(schedule=schedule, step_tokens=128)).extra["serving"]
        assert pg["preemptions"] == 0
        assert pg["makespan_s"] == pytest.approx(wait["makespan_s"], rel=1e-12)
        assert pg["ttft_s"]["p99"] == pytest.approx(wait["ttft_s"]["p99"], rel=1e-12)


def test_paging_admits_what_a_whole_reservation_would_queue() -> None:
    """10 blocks: a whole reservation of 64 + 40 tokens is 6.5 blocks, so `wait` runs the two
    requests one after the other; paged runs them together until blocks run out."""
    reqs = fixed_requests(2, prompt_tokens=64, gen_tokens=40)
    wait = run_serving(mapper(10), reqs, ServingPolicy(memory_model=MemoryModel.IDEAL)).extra["serving"]
    pg = run_serving(mapper(10), reqs, paged()).extra["serving"]
    assert wait["mean_decode_batch"] == 1.0 and pg["mean_decode_batch"] > 1.0
    assert pg["ttft_s"]["max"] < wait["ttft_s"]["max"]


def test_a_sequence_that_can_never_fit_is_rejected() -> None:
    # 64 + 40 tokens need 7 blocks; 6 exist
    res = run_serving(mapper(6), fixed_requests(2, prompt_tokens=64, gen_tokens=40), paged())
    assert res.extra["serving"]["rejected"] == 2


def test_mixed_steps_resume_a_preempted_sequence_in_chunks() -> None:
    """The same 10 blocks, mixed steps of 32 tokens. Steps 1-2 prefill the first prompt (32 +
    32); steps 3-5 carry its decodes beside the second prompt's chunks (31, 31, 2), so the
    second has its first token after step 5, when the first has 4. The first takes its sixth
    block when 80 of its tokens are stored, 13 steps later: the second, at 14 tokens, is
    preempted and prefilled again over 64 + 14 = 78 tokens, in chunks."""
    res = run_serving(mapper(10), fixed_requests(2, prompt_tokens=64, gen_tokens=40),
                      paged(schedule=Schedule.MIXED, step_tokens=32))
    sv = res.extra["serving"]
    assert sv["completed"] == 2 and res.generated_tokens == 80
    assert (sv["preemptions"], sv["recomputed_tokens"]) == (1, 78)
    assert res.memory_footprint_bytes["kv_cache_peak"] == 10 * BLOCK
