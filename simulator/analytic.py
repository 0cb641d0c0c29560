"""The analytic engine: closed-form per op, vectorised over decode steps.

One request batch: prefill (all prompts at once), then `gen_tokens - 1` decode steps; in
decode step i every sequence attends to prompt + i + 1 tokens. Always-on power (idle,
leakage, memory background) is charged for the whole run; a device's active power while
it runs ops.
"""

from __future__ import annotations

import numpy as np

from mapping.cost import Component, MappedStep
from mapping.plan import Plan
from simulator.result import SimResult


def decode_contexts(plan: Plan) -> np.ndarray:
    steps = plan.gen_tokens - 1
    return plan.batch * (plan.prompt_tokens + 1 + np.arange(steps, dtype=float))


def _by_class(step: MappedStep, op_times: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    totals = op_times.sum(axis=1)
    for op, t in zip(step.ops, totals):
        out[op.op_class] = out.get(op.op_class, 0.0) + float(t)
    return out


def _busy(step: MappedStep, ctx: np.ndarray, total_s: float) -> dict[str, float]:
    """Seconds each memory tier streams and the device computes (all layers, all steps)."""
    busy: dict[str, float] = {}
    nbytes = step.tier_bytes_total(float(ctx.sum()), len(ctx))
    for tier, b in nbytes.items():
        busy[tier] = b / step.tier_bandwidth_bytes_per_s[tier]
    compute = 0.0
    for op in step.ops:
        compute += op.layers * (op.compute_s.const * len(ctx) + op.compute_s.per_ctx * float(ctx.sum()))
    busy[step.device] = compute
    busy[f"{step.device}.active"] = total_s
    return busy


def _decode_phase(plan: Plan) -> tuple[MappedStep, np.ndarray, np.ndarray]:
    """(step whose energy/traffic to count, contexts it runs at (one per run), op times (ops, steps)).

    Pipelined decode (weight-stationary CIM with stages): every sequence runs the
    one-sequence step; the batch flows through the stages, so a step takes
    sum(stage times) + (batch - 1) x max(stage time); op times are scaled to that.
    """
    ctx = decode_contexts(plan)
    pipe = plan.mapper.stage_pipeline() if plan.mapper is not None else None
    if pipe is None or not len(ctx):
        return plan.decode, ctx, plan.decode.op_times_s(ctx)
    seq_ctx = ctx / plan.batch
    stage = pipe.stage_times_s(seq_ctx)
    step_s = stage.sum(axis=0) + (plan.batch - 1) * stage.max(axis=0)
    op_times = pipe.step.op_times_s(seq_ctx)
    op_times = op_times * (step_s / op_times.sum(axis=0))[None, :]
    return pipe.step, np.repeat(seq_ctx, plan.batch), op_times


def run_analytic(plan: Plan) -> SimResult:
    pre_ctx = np.zeros(1)
    pre_times = plan.prefill.op_times_s(pre_ctx)
    prefill_s = float(pre_times.sum())
    dec_step, dec_runs, dec_times = _decode_phase(plan)
    ctx = decode_contexts(plan)
    decode_s = float(dec_times.sum())

    energy: dict[str, float] = {}
    phase_energy = []
    for step, c, t in ((plan.prefill, pre_ctx, prefill_s), (dec_step, dec_runs, decode_s)):
        e = step.dynamic_energy_j(float(c.sum()), len(c))
        static = sum(plan.always_on_power_w.values()) * t + plan.active_power_w.get(step.device, 0.0) * t
        e[Component.STATIC] = e.get(Component.STATIC, 0.0) + static
        phase_energy.append(sum(e.values()))
        for k, v in e.items():
            energy[k.value] = energy.get(k.value, 0.0) + v

    # prefill and decode on different devices with separate KV memories: the batch's prompt KV
    # crosses the link before decoding starts (all requests' transfers share it)
    handover_s = 0.0
    handover = plan.mapper.handover() if plan.mapper is not None else None
    if handover is not None and len(ctx):
        _, bw, energy_per_bit, latency = handover
        nbytes = plan.batch * plan.prompt_tokens * plan.mapper.kv_bytes_per_token()
        handover_s = latency + nbytes / bw
        link_j = nbytes * 8.0 * energy_per_bit
        static_j = (sum(plan.always_on_power_w.values())) * handover_s
        energy[Component.LINK.value] = energy.get(Component.LINK.value, 0.0) + link_j
        energy[Component.STATIC.value] = energy.get(Component.STATIC.value, 0.0) + static_j
        phase_energy[1] += link_j + static_j

    busy: dict[str, float] = {}
    for step, c, t in ((plan.prefill, pre_ctx, prefill_s), (dec_step, dec_runs, decode_s)):
        for k, v in _busy(step, c, t).items():
            busy[k] = busy.get(k, 0.0) + v

    return SimResult(
        engine="analytic",
        requests=plan.batch,
        prefill_time_s=prefill_s,
        ttft_sum_s=prefill_s * plan.batch,  # every request of the batch waits the whole prefill
        decode_time_s=decode_s,
        decode_steps=len(ctx),
        decode_tokens=len(ctx) * plan.batch,
        generated_tokens=plan.gen_tokens * plan.batch,
        prefill_energy_j=phase_energy[0],
        decode_energy_j=phase_energy[1],
        energy_breakdown_j=energy,
        latency_breakdown_s={"prefill": _by_class(plan.prefill, pre_times), "decode": _by_class(dec_step, dec_times)},
        busy_time_s=busy,
        memory_footprint_bytes=plan.memory_footprint_bytes,
        weight_mode=plan.weight_mode,
        makespan_s=prefill_s + handover_s + decode_s if handover_s else None,
        extra={**pipeline_summary(plan), **({"handover_s": handover_s} if handover_s else {})},
    )


def pipeline_summary(plan: Plan) -> dict:
    """Balanced decode stages (CIM devices with pipeline_stages > 1), for the output."""
    if not plan.pipeline:
        return {}
    return {"pipeline": {dev: {"stages": len(p.stage_costs), "boundaries": list(p.boundaries),
                               "stage_time_s": list(p.stage_costs), "bottleneck_s": p.bottleneck,
                               "balance": p.balance}
                         for dev, p in plan.pipeline.items()}}
