"""The mixed schedule of the serving DES (`--schedule mixed`): a limit where it must equal
chunked prefill, what it conserves, and the trade it makes against prefill-first."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.serving import Schedule, ServingPolicy, run_serving
from slmsim.workloads.load import load_model
from slmsim.workloads.requests import fixed_requests, poisson_requests
from slmsim.workloads.scenario import Scenario

HW, MODEL = load_hardware("agx-orin-64gb").spec, load_model("llama-3.2-1b")
IDEAL = MemoryModel.IDEAL


def mapper(prompt: int, gen: int, chunk: int | None = None):  # noqa: ANN202
    return make_plan(HW, MODEL, Scenario(prompt_tokens=prompt, gen_tokens=gen, batch=1,
                                         prefill_chunk_tokens=chunk)).mapper


def mixed(tokens: int, **kw: object) -> ServingPolicy:
    return ServingPolicy(schedule=Schedule.MIXED, step_tokens=tokens, memory_model=IDEAL, **kw)


def total_flops(res) -> float:  # noqa: ANN001
    w = res.extra["work"]
    per = w["decode_per_token"]
    return w["prefill"]["flops"] + (per["flops"] or 0.0) * per["tokens"] + w.get("mixed", {}).get("flops", 0.0)


def test_one_request_is_chunked_prefill_then_decode() -> None:
    """Alone, a request's prompt goes in chunks of the whole budget, then it decodes: the
    analytic engine's chunked prefill at that chunk (ideal memory, within the DES's context
    bucket interpolation)."""
    prompt, gen, budget = 1000, 32, 256
    served = run_serving(mapper(prompt, gen), fixed_requests(1, prompt_tokens=prompt, gen_tokens=gen), mixed(budget))
    plan = make_plan(HW, MODEL, Scenario(prompt_tokens=prompt, gen_tokens=gen, batch=1, prefill_chunk_tokens=budget))
    alone = run(plan, engine="analytic")
    sv = served.extra["serving"]
    assert sv["mixed_steps"] == 0  # nothing decodes while the prompt is prefilled
    assert plan.mapper.prefill_pass_count(prompt, 1) == 4  # 256 + 256 + 256 + 232
    assert sv["ttft_s"]["max"] == pytest.approx(alone.ttft_s, rel=1e-3)
    assert sv["e2e_s"]["max"] == pytest.approx(alone.total_time_s, rel=1e-3)
    assert served.energy_j == pytest.approx(alone.energy_j, rel=1e-3)


def test_mixing_moves_no_work_only_time() -> None:
    """The same requests under both schedules compute the same FLOPs: every prompt token is
    prefilled once (chunked causal attention scores the same pairs), every request's logits
    are computed once at its prompt's end, every decode token attends to the same context."""
    reqs = poisson_requests(12, rate_per_s=6.0, prompt_tokens=700, gen_tokens=40, rng=np.random.default_rng(3))
    first = run_serving(mapper(700, 40), reqs, ServingPolicy(memory_model=IDEAL))
    mix = run_serving(mapper(700, 40), reqs, mixed(512))
    assert mix.extra["serving"]["mixed_steps"] > 0
    assert mix.generated_tokens == first.generated_tokens == 12 * 40
    assert total_flops(mix) == pytest.approx(total_flops(first), rel=1e-9)
    w = mix.extra["work"]["mixed"]
    assert w["decode_tokens"] + w["prefill_tokens"] <= 512 * w["steps"]  # the budget holds in every step
    # fewer weight reads: the prompts ride on decode steps that read the weights anyway
    assert sum(mix.extra["work"]["prefill"]["bytes_by_tier"].values()) < \
        sum(first.extra["work"]["prefill"]["bytes_by_tier"].values())
    assert sum(mix.energy_breakdown_j.values()) == pytest.approx(mix.energy_j, rel=1e-9)


def test_inter_token_gaps_of_one_request_are_its_decode_steps() -> None:
    """One request: gen - 1 gaps, which add up to finish - first token, so their mean is TPOT."""
    res = run_serving(mapper(300, 25), fixed_requests(1, prompt_tokens=300, gen_tokens=25), ServingPolicy())
    sv = res.extra["serving"]
    assert sv["itl_s"]["mean"] == pytest.approx(sv["tpot_s"]["mean"], rel=1e-9)
    assert sv["itl_s"]["max"] >= sv["itl_s"]["p50"] > 0


def test_mixed_steps_bound_the_stall_a_long_prompt_puts_on_decoding() -> None:
    """Prefill-first runs a new 2,048-token prompt whole between two decode steps, so the
    running requests wait for it; mixed steps carry at most `budget` tokens, so no gap between
    a request's tokens exceeds the longest step that budget allows: `max_batch` - 1 decodes at
    the longest context plus the rest of the budget as the last chunk of a prompt."""
    prompt, gen, budget, max_batch = 2048, 48, 256, 8
    reqs = poisson_requests(16, rate_per_s=8.0, prompt_tokens=prompt, gen_tokens=gen, rng=np.random.default_rng(5))
    m = mapper(prompt, gen)
    first = run_serving(m, reqs, ServingPolicy(max_batch=max_batch, memory_model=IDEAL)).extra["serving"]
    mix = run_serving(mapper(prompt, gen), reqs, mixed(budget, max_batch=max_batch)).extra["serving"]
    b = max_batch - 1
    worst = m.mixed(b, ((budget - b, prompt - (budget - b), True),))
    worst_s = float(worst.step_times_s(np.array([b * (prompt + gen)], dtype=float))[0])
    assert mix["itl_s"]["max"] <= worst_s * 1.001
    assert mix["tpot_s"]["max"] <= worst_s * 1.001
    assert first["itl_s"]["max"] > 2 * worst_s  # prefill-first does stall beyond that bound here
    assert mix["tpot_s"]["max"] < first["tpot_s"]["max"]
    # the price: a prompt now takes several steps, each shared with the decodes
    assert mix["ttft_s"]["mean"] > first["ttft_s"]["mean"]


def test_the_budget_is_shared_by_several_short_prompts() -> None:
    """Prompts shorter than the budget are packed into one step, vLLM V1's way, and the last one
    is cut to fill it: 6 requests of 100 tokens at t = 0, a 512-token budget: step 1 prefills
    five prompts and 12 tokens of the sixth (no logits for it yet), step 2 decodes the five
    beside the sixth's last 88 tokens, step 3 decodes all six."""
    reqs = fixed_requests(6, prompt_tokens=100, gen_tokens=8)
    res = run_serving(mapper(100, 8), reqs, mixed(512, max_batch=8), trace_steps=3)
    steps = [e["name"] for e in res.extra["trace"] if e.get("tid") == "steps"]
    assert steps == ["prefill 6 chunks, 512 tokens", "mixed x5 + 88 prefill tokens", "decode x6"]
    sv = res.extra["serving"]
    assert sv["completed"] == 6 and sv["mixed_steps"] == 1
    assert res.extra["work"]["mixed"]["prefill_tokens"] == 88
    assert res.extra["work"]["mixed"]["decode_tokens"] == 5
    # 6 x 7 decode tokens after the prefill's first: 5 in the mixed step, 37 in decode-only steps
    assert res.extra["work"]["decode_per_token"]["tokens"] == 6 * 7 - 5
