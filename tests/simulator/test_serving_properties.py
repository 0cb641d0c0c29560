"""The serving DES over random streams, schedules and KV policies (hypothesis, derandomised).

Whatever the stream (arrivals, prompt and output lengths per request), the schedule
(prefill-first, mixed at any budget), the KV policy (whole reservation, paged at any budget)
and the batch limit: the run ends (no request is left hanging); every request completes or is
rejected; a completed request gets exactly its output tokens, one gap per token after the
first; the first token comes after arrival and before the end; the KV held never exceeds the
budget; every joule is in a phase. Without preemption the FLOPs do not depend on the schedule
or the KV policy (every prompt token prefilled once, every output token decoded once against
the same context); a preemption only adds work (the recompute)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import StepMapper
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.serving import KV_BLOCK_TOKENS, KvPolicy, Schedule, ServingPolicy, run_serving
from slmsim.workloads.load import load_model
from slmsim.workloads.requests import Request
from slmsim.workloads.scenario import Scenario

HW, MODEL = load_hardware("orin-nano").spec, load_model("qwen3-0.6b")
BLOCK = KV_BLOCK_TOKENS * MODEL.kv_bytes_per_token(16)
CASES = settings(max_examples=80, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

# arrivals close together (a few decode steps of this model apart), so requests overlap
streams = st.lists(st.tuples(st.floats(0.0, 0.08), st.integers(1, 300), st.integers(1, 60)), min_size=1, max_size=7)


def mapper(budget_blocks: int | None) -> StepMapper:
    m = StepMapper(HW, MODEL, Scenario(prompt_tokens=64, gen_tokens=8))
    if budget_blocks is not None:
        m.kv_budget_bytes = lambda: budget_blocks * BLOCK  # type: ignore[method-assign]
    return m


def total_flops(res) -> float:  # noqa: ANN001
    w = res.extra["work"]
    per = w["decode_per_token"]
    return w["prefill"]["flops"] + (per["flops"] or 0.0) * per["tokens"] + w.get("mixed", {}).get("flops", 0.0)


@CASES
@given(stream=streams, mixed=st.booleans(), step_tokens=st.integers(1, 512), paged=st.booleans(),
       budget_blocks=st.one_of(st.integers(2, 40), st.none()), max_batch=st.integers(1, 6))
def test_any_stream_completes_with_its_tokens_and_within_its_kv(stream: list, mixed: bool, step_tokens: int,
                                                                  paged: bool, budget_blocks: int | None,
                                                                  max_batch: int) -> None:
    reqs = [Request(id=i, arrival_s=t, prompt_tokens=p, gen_tokens=g) for i, (t, p, g) in enumerate(stream)]
    policy = ServingPolicy(schedule=Schedule.MIXED if mixed else Schedule.PREFILL_FIRST, step_tokens=step_tokens,
                           kv_policy=KvPolicy.PAGED if paged else KvPolicy.WAIT, max_batch=max_batch,
                           memory_model=MemoryModel.IDEAL)
    res = run_serving(mapper(budget_blocks), reqs, policy)
    sv = res.extra["serving"]
    event(f"preempted: {sv['preemptions'] > 0}, rejected: {sv['rejected'] > 0}, mixed steps: {sv['mixed_steps'] > 0}")
    assert sv["completed"] + sv["rejected"] == len(reqs)
    if sv["rejected"] == 0:
        assert res.generated_tokens == sum(r.gen_tokens for r in reqs)
        # gaps exist exactly when some request has a token after its first
        assert (sv["itl_s"]["mean"] is None) == all(r.gen_tokens == 1 for r in reqs)
    if sv["completed"]:
        assert 0 <= sv["ttft_s"]["max"] <= sv["e2e_s"]["max"]
        assert sv["makespan_s"] >= sv["e2e_s"]["max"] * (1 - 1e-12)
    budget = mapper(budget_blocks).kv_budget_bytes()
    assert res.memory_footprint_bytes["kv_cache_peak"] <= budget * (1 + 1e-12)
    total = sum(res.energy_breakdown_j.values())
    # every joule is in a phase or in the idle gaps (no request in the system: here before the
    # first arrival), and the gaps are the makespan no request spans
    assert res.prefill_energy_j + res.decode_energy_j + res.idle_energy_j == pytest.approx(total, rel=1e-9)
    assert 0 <= sv["idle_s"] <= sv["makespan_s"]
    assert (res.idle_energy_j > 0) == (sv["idle_s"] > 0)
    if paged and sv["preemptions"] == 0 and sv["rejected"] == 0:
        first = run_serving(mapper(None), reqs, ServingPolicy(max_batch=max_batch, memory_model=MemoryModel.IDEAL))
        assert total_flops(res) == pytest.approx(total_flops(first), rel=1e-9)
    if sv["preemptions"]:
        assert sv["recomputed_tokens"] > 0
    if sv["preemptions"] and sv["rejected"] == 0:  # a rejected request computes nothing
        first = run_serving(mapper(None), reqs, ServingPolicy(max_batch=max_batch, memory_model=MemoryModel.IDEAL))
        assert total_flops(res) > total_flops(first)
