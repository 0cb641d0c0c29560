"""Chunked prefill, properties over random (batch, prompt, chunk) (hypothesis, derandomised).

For any chunking of a dense model's prefill: the passes cover the prompt exactly, each holds
at most the chunk (or one token per sequence), the FLOPs equal the one-pass prefill's (the
matmuls are linear in the tokens, the causal pairs add up), the time is never below the
one-pass time (every pass re-streams the weights and pays its launches), the activations are
never above it, and the DES with ideal memory runs the same passes as the analytic engine.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

HW = load_hardware("agx-orin-64gb").spec
MODEL = load_model("llama-3.2-1b")
CASES = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


@CASES
@given(batch=st.integers(1, 6), prompt=st.integers(1, 3000), chunk=st.integers(1, 9000))
def test_any_chunking_keeps_the_flops_and_costs_no_less_time(batch: int, prompt: int, chunk: int) -> None:
    one = make_plan(HW, MODEL, Scenario(batch=batch, prompt_tokens=prompt, gen_tokens=2))
    many = make_plan(HW, MODEL, Scenario(batch=batch, prompt_tokens=prompt, gen_tokens=2, prefill_chunk_tokens=chunk))
    shapes = many.mapper.prefill_pass_shapes(prompt, batch)
    assert sum(tps * n for tps, _, _, n in shapes) == prompt  # every prompt token in exactly one pass
    assert all(batch * tps <= max(chunk, batch) for tps, _, _, _ in shapes)
    assert [logits for _, logits, _, _ in shapes][-1] and not any(lg for _, lg, _, _ in shapes[:-1])
    a1, an = run(one), run(many)
    assert an.extra["work"]["prefill"]["flops"] == pytest.approx(a1.extra["work"]["prefill"]["flops"], rel=1e-9)
    assert an.prefill_time_s >= a1.prefill_time_s * (1 - 1e-12)
    assert many.memory_footprint_bytes["activations"] <= one.memory_footprint_bytes["activations"]
    d = run(many, engine="des", memory_model="ideal")
    assert d.prefill_time_s == pytest.approx(an.prefill_time_s, rel=1e-9)
