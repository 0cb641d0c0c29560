"""The discrete-event engine (simpy) over the same mapped steps as the analytic engine.

`run_des(plan)` is the single-batch case of the serving engine: `plan.batch` requests
arrive at t = 0, are prefilled together and decoded together to the end (static batching).
Every step's time comes from op-level events (`simulator.oplevel`); with the ideal memory
model they reproduce the analytic engine (a test), with the banked model (the default) the
channels' banks, rows, refresh and the devices' prefetch show; `simulator.serving` adds
arrivals, continuous batching, KV limits and split prefill/decode devices.
"""

from __future__ import annotations

from slmsim.mapping.plan import Plan
from slmsim.simulator.analytic import pipeline_summary
from slmsim.simulator.result import SimResult
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.serving import Batching, ServingPolicy, run_serving
from slmsim.workloads.requests import fixed_requests


def run_des(plan: Plan, *, seed: int = 0, trace_steps: int = 0,
            memory_model: MemoryModel | str = MemoryModel.BANKED) -> SimResult:
    """Run the DES. With `trace_steps` > 0, `extra["trace"]` holds Chrome trace events
    (ph "X", microseconds) for the first `trace_steps` steps (prefill included)."""
    assert plan.mapper is not None, "plans from mapping.plan.make_plan carry their StepMapper"
    requests = fixed_requests(plan.batch, prompt_tokens=plan.prompt_tokens, gen_tokens=plan.gen_tokens)
    policy = ServingPolicy(batching=Batching.STATIC, max_batch=plan.batch, memory_model=MemoryModel(memory_model))
    res = run_serving(plan.mapper, requests, policy, trace_steps=trace_steps, seed=seed)
    extra = {**res.extra, **pipeline_summary(plan)}
    return SimResult(
        engine="des", requests=res.requests, prefill_time_s=res.prefill_time_s, ttft_sum_s=res.ttft_sum_s,
        decode_time_s=res.decode_time_s, decode_steps=res.decode_steps, decode_tokens=res.decode_tokens,
        generated_tokens=res.generated_tokens, prefill_energy_j=res.prefill_energy_j,
        decode_energy_j=res.decode_energy_j, idle_energy_j=res.idle_energy_j, energy_breakdown_j=res.energy_breakdown_j,
        energy_layers_j=res.energy_layers_j,
        latency_breakdown_s=res.latency_breakdown_s, busy_time_s=res.busy_time_s,
        memory_footprint_bytes=plan.memory_footprint_bytes, weight_mode=plan.weight_mode,
        makespan_s=res.makespan_s, extra=extra,
    )
