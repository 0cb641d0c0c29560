"""The analytic engine: closed-form per op, vectorised over decode steps.

One request batch: prefill (all prompts at once), then `gen_tokens - 1` decode steps; in
decode step i every sequence attends to prefix + i + 1 tokens (prefix: the prompt, or an
encoder-decoder's decoder start token; `ModelSpec.decoder_prefix_tokens`). Always-on power (idle,
leakage, memory background) is charged for the whole run; a device's active power while
it runs ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slmsim.mapping import energy_boundary as eb
from slmsim.mapping.cost import Component, CtxSum, MappedStep
from slmsim.mapping.plan import Plan
from slmsim.simulator.decoding import (
    analytic_segments,
    expected_decode_steps,
    run_tokens_per_pass,
    speculating,
    verify_width,
)
from slmsim.simulator.result import SimResult
from slmsim.simulator.work import work_summary
from slmsim.workloads.decoding import Autoregressive, LexicalUnit, Multipath


def decode_contexts(plan: Plan) -> np.ndarray:
    steps = plan.gen_tokens - 1
    prefix = plan.mapper.model.decoder_prefix_tokens(plan.prompt_tokens) if plan.mapper else plan.prompt_tokens
    return plan.batch * (prefix + 1 + np.arange(steps, dtype=float))


def _busy(step: MappedStep, ctx_sum: CtxSum, runs: float, total_s: float) -> dict[str, float]:
    """Seconds each memory tier streams and the device computes."""
    busy: dict[str, float] = {}
    bw = step.tier_bandwidth_bytes_per_s
    for tier, b in step.tier_bytes_total(ctx_sum, runs).items():
        busy[tier] = b / bw[tier]
    busy[step.device] = step.compute_s_total(ctx_sum, runs)
    busy[f"{step.device}.active"] = total_s
    return busy


def _decode_phase(plan: Plan) -> tuple[MappedStep, np.ndarray, np.ndarray] | None:
    """Pipelined decode (weight-stationary CIM with stages): every sequence runs the
    one-sequence step; the batch flows through the stages, so a step takes
    sum(stage times) + (batch - 1) x max(stage time), and no less than batch x the busiest
    shared resource's time per sequence (`StagePipeline.step_times_s`); op times are scaled
    to that.
    Returns (step, contexts of its runs, op times (ops, steps)) or None when not pipelined."""
    ctx = decode_contexts(plan)
    pipe = plan.mapper.stage_pipeline() if plan.mapper is not None else None
    if pipe is None or not len(ctx) or not isinstance(plan.mapper.scenario.decoding, Autoregressive):
        return None
    seq_ctx = ctx / plan.batch
    step_s = pipe.step_times_s(seq_ctx, plan.batch)
    op_times = pipe.step.op_times_s(seq_ctx)
    op_times = op_times * (step_s / op_times.sum(axis=0))[None, :]
    return pipe.step, np.repeat(seq_ctx, plan.batch), op_times


@dataclass(frozen=True)
class _Part:
    phase: str  # prefill | decode
    role: str
    step: MappedStep
    ctx_sum: CtxSum
    runs: float
    op_s: np.ndarray  # (ops,) seconds, all runs

    @property
    def time_s(self) -> float:
        return float(self.op_s.sum())


def _parts(plan: Plan) -> list[_Part]:
    assert plan.mapper is not None
    segs = analytic_segments(plan.mapper, batch=plan.batch, prompt=plan.prompt_tokens, gen=plan.gen_tokens)
    parts = []
    piped = _decode_phase(plan)
    for seg in segs:
        phase = "prefill" if seg.role in ("prefill", "draft_prefill") else "decode"
        if phase == "decode" and piped is not None:
            continue
        parts.append(_Part(phase, seg.role, seg.step, seg.step.ctx_sum(seg.ctx, seg.weight), float(seg.weight.sum()),
                           seg.op_times_s()))
    if piped is not None:
        step, runs, op_times = piped
        parts.append(_Part("decode", "decode", step, step.ctx_sum(runs), float(len(runs)), op_times.sum(axis=1)))
    return parts


def _always_on_layer(plan: Plan) -> dict[str, eb.Layer]:
    """Each always-on source's energy layer (plans without a mapper: all on the board)."""
    return dict(plan.mapper.always_on_layer) if plan.mapper is not None else {}


def run_analytic(plan: Plan) -> SimResult:
    parts = _parts(plan)
    dec = plan.mapper.scenario.decoding if plan.mapper is not None else None
    prefill_s = sum(p.time_s for p in parts if p.phase == "prefill")
    decode_s = sum(p.time_s for p in parts if p.phase == "decode")
    steps = plan.gen_tokens - 1

    energy: dict[str, float] = {}
    phase_energy = {"prefill": 0.0, "decode": 0.0}
    always_on = sum(plan.always_on_power_w.values())
    layer_of = _always_on_layer(plan)
    layers: dict[str, dict[str, float]] = {"prefill": {}, "decode": {}}  # phase -> energy layer -> J
    for p in parts:
        e = p.step.dynamic_energy_j(p.ctx_sum, p.runs)
        eb.add_dynamic(layers[p.phase], e)  # mapped ops never charge STATIC (add_dynamic refuses it)
        active_w = plan.active_power_w.get(p.step.device, 0.0)
        eb.add_static(layers[p.phase], plan.always_on_power_w, layer_of, p.time_s, [(active_w, p.time_s)])
        e[Component.STATIC] = e.get(Component.STATIC, 0.0) + (always_on + active_w) * p.time_s
        phase_energy[p.phase] += sum(e.values())
        for k, v in e.items():
            name = str.__str__(k)  # the enum's value, without the enum descriptor
            energy[name] = energy.get(name, 0.0) + v

    # prefill and decode on different devices with separate KV memories: the batch's prompt KV
    # crosses the link before decoding starts (all requests' transfers share it)
    handover_s = 0.0
    handover = plan.mapper.handover() if plan.mapper is not None else None
    if handover is not None and steps > 0:
        _, bw, energy_per_bit, latency = handover
        nbytes = plan.batch * plan.mapper.prefill_kv_bytes(plan.prompt_tokens)
        handover_s = latency + nbytes / bw
        link_j = nbytes * 8.0 * energy_per_bit
        static_j = always_on * handover_s
        energy[Component.LINK.value] = energy.get(Component.LINK.value, 0.0) + link_j
        energy[Component.STATIC.value] = energy.get(Component.STATIC.value, 0.0) + static_j
        phase_energy["decode"] += link_j + static_j
        eb.add_dynamic(layers["decode"], {Component.LINK: link_j})
        eb.add_static(layers["decode"], plan.always_on_power_w, layer_of, handover_s)

    busy: dict[str, float] = {}
    breakdown: dict[str, dict[str, float]] = {"prefill": {}, "decode": {}}
    for p in parts:
        for k, v in _busy(p.step, p.ctx_sum, p.runs, p.time_s).items():
            busy[k] = busy.get(k, 0.0) + v
        cls = breakdown[p.phase]
        op_s = p.op_s.tolist()
        for name, idx in p.step.sums.class_index:
            t = cls.get(name, 0.0)
            for i in idx:  # in op order, as one running sum per class
                t += op_s[i]
            cls[name] = t

    return SimResult(
        engine="analytic",
        requests=plan.batch,
        prefill_time_s=prefill_s,
        ttft_sum_s=prefill_s * plan.batch,  # every request of the batch waits the whole prefill
        decode_time_s=decode_s,
        decode_steps=expected_decode_steps(dec, batch=plan.batch, gen=plan.gen_tokens) if dec is not None
        else max(steps, 0),
        decode_tokens=max(steps, 0) * plan.batch,
        generated_tokens=plan.gen_tokens * plan.batch,
        prefill_energy_j=phase_energy["prefill"],
        decode_energy_j=phase_energy["decode"],
        energy_breakdown_j=energy,
        energy_layers_j=layers,
        latency_breakdown_s=breakdown,
        busy_time_s=busy,
        memory_footprint_bytes=plan.memory_footprint_bytes,
        weight_mode=plan.weight_mode,
        makespan_s=prefill_s + handover_s + decode_s if handover_s else None,
        extra={**pipeline_summary(plan), **decoding_summary(plan, parts),
               "work": work_summary(((p.step, p.ctx_sum, p.runs) for p in parts), decode_tokens=max(steps, 0) * plan.batch),
               **({"handover_s": handover_s} if handover_s else {})},
    )


def decoding_summary(plan: Plan, parts: list[_Part]) -> dict:
    """What the strategy did: tokens per target pass, draft/verify split, MoE figures."""
    m = plan.mapper
    assert m is not None
    dec = m.scenario.decoding
    out: dict = {"decoding": dec.strategy,
                 "tokens_per_target_pass": run_tokens_per_pass(dec, batch=plan.batch, gen=plan.gen_tokens)
                 if speculating(dec, plan.batch) or isinstance(dec, LexicalUnit) else 1.0,
                 "draft_time_s": sum(p.time_s for p in parts if p.role == "draft"),
                 "verify_time_s": sum(p.time_s for p in parts if p.role in ("verify", "decode") and p.phase == "decode")}
    if isinstance(dec, Multipath):
        out["total_tokens_spent"] = plan.batch * sum(dec.width_at(t) for t in range(plan.gen_tokens))
    else:
        out["total_tokens_spent"] = plan.batch * plan.gen_tokens
    out["distinct_experts_per_step"] = None  # keys present always; None where they do not apply
    out["expert_cache_hit_rate"] = None
    if m.model.moe is not None:
        width = verify_width(dec) if (speculating(dec, plan.batch) or isinstance(dec, LexicalUnit)) else 1
        tokens = plan.batch * width
        if isinstance(dec, Multipath):  # the live paths are the batch: average over the schedule
            widths = [dec.width_at(t) for t in range(1, plan.gen_tokens)] or [dec.width_at(0)]
            tokens = round(plan.batch * sum(widths) / len(widths))
        out["distinct_experts_per_step"] = m.expected_distinct(tokens)
        cache = m.scenario.moe.expert_cache if m.scenario.moe is not None else None
        out["expert_cache_hit_rate"] = m.expected_hit(tokens) if cache is not None else None
    return out


def pipeline_summary(plan: Plan) -> dict:
    """Balanced decode stages (CIM devices with pipeline_stages > 1), for the output."""
    if not plan.pipeline:
        return {}
    return {"pipeline": {dev: {"stages": len(p.stage_costs), "boundaries": list(p.boundaries),
                               "stage_time_s": list(p.stage_costs), "bottleneck_s": p.bottleneck,
                               "balance": p.balance}
                         for dev, p in plan.pipeline.items()}}
