"""The discrete-event engine (simpy) over the same mapped steps as the analytic engine.

Granularity: one event group per op (all its identical layers) per step: a fixed
overhead, then the op's compute and its memory streams run concurrently and the op ends
when the last of them does. Memory tiers are `BandwidthChannel`s shared by everything
that streams from them, so contention shows up as longer transfers; with one request
and nothing else running, every op takes overhead + max(compute, bytes / bandwidth),
exactly the analytic engine's formula.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from mapping.cost import Component, MappedStep
from mapping.plan import Plan
from simulator.analytic import decode_contexts, pipeline_summary
from simulator.channel import BandwidthChannel
from simulator.result import SimResult


class _Run:
    def __init__(self, plan: Plan, seed: int, trace_steps: int) -> None:
        self.plan = plan
        self.trace_steps = trace_steps  # decode steps to record (prefill is always recorded)
        self.trace: list[dict] = []
        self.steps_done = 0
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.channels: dict[str, BandwidthChannel] = {}
        for step in (plan.prefill, plan.decode):
            for tier, bw in step.tier_bandwidth_bytes_per_s.items():
                self.channels.setdefault(tier, BandwidthChannel(self.env, tier, bw))
        self.compute_busy: dict[str, float] = {}
        self.class_time: dict[str, dict[str, float]] = {"prefill": {}, "decode": {}}
        self.events = 0

    def step(self, step: MappedStep, ctx: float, index: int) -> Generator[simpy.Event, None, None]:
        env = self.env
        times = self.class_time[step.phase]
        record = self.trace_steps > 0 and (step.phase == "prefill" or index < self.trace_steps)
        step_start = env.now
        for op in step.ops:
            start = env.now
            # layers are identical: one event group covers them all
            if op.overhead_s:
                yield env.timeout(op.overhead_s * op.layers)
            compute_s = op.layers * op.compute_s.at(ctx)
            waits = [env.timeout(compute_s)]
            for tier, aff in op.tier_bytes:
                waits.append(self.channels[tier].transfer(op.layers * aff.at(ctx)))
            yield env.all_of(waits)
            self.events += len(waits) + 1
            self.compute_busy[step.device] = self.compute_busy.get(step.device, 0.0) + compute_s
            times[op.op_class] = times.get(op.op_class, 0.0) + env.now - start
            if record:
                self._span(op.name, op.op_class, step.device, "ops", start, env.now - start,
                           {"layers": op.layers, "compute_s": compute_s, "phase": step.phase})
        if record:
            label = "prefill" if step.phase == "prefill" else f"decode step {index}"
            self._span(label, step.phase, step.device, "steps", step_start, env.now - step_start, {"context": ctx})

    def _span(self, name: str, cat: str, pid: str, tid: str, start_s: float, dur_s: float, args: dict) -> None:
        """A Chrome trace 'complete' event; times in microseconds."""
        self.trace.append({"name": name, "cat": cat, "ph": "X", "ts": start_s * 1e6, "dur": dur_s * 1e6,
                           "pid": pid, "tid": tid, "args": args})

    def main(self) -> Generator[simpy.Event, None, None]:
        plan = self.plan
        t0 = self.env.now
        yield from self.step(plan.prefill, 0.0, 0)
        self.prefill_s = self.env.now - t0
        t1 = self.env.now
        for i, ctx in enumerate(decode_contexts(plan)):
            yield from self.step(plan.decode, float(ctx), i)
        self.decode_s = self.env.now - t1


def run_des(plan: Plan, *, seed: int = 0, trace_steps: int = 0) -> SimResult:
    """Run the DES. With `trace_steps` > 0, `extra["trace"]` holds Chrome trace events
    (ph "X", microseconds) for the prefill and the first `trace_steps` decode steps."""
    r = _Run(plan, seed, trace_steps)
    r.env.process(r.main())
    r.env.run()
    ctx = decode_contexts(plan)
    energy: dict[str, float] = {}
    phase_energy = []
    for step, c, t in ((plan.prefill, np.zeros(1), r.prefill_s), (plan.decode, ctx, r.decode_s)):
        e = step.dynamic_energy_j(float(c.sum()), len(c))
        e[Component.STATIC] = e.get(Component.STATIC, 0.0) + (
            sum(plan.always_on_power_w.values()) + plan.active_power_w.get(step.device, 0.0)) * t
        phase_energy.append(sum(e.values()))
        for k, v in e.items():
            energy[k.value] = energy.get(k.value, 0.0) + v
    busy = {name: ch.busy_time_s for name, ch in r.channels.items()}
    busy.update(r.compute_busy)
    return SimResult(
        engine="des",
        requests=plan.batch,
        prefill_time_s=r.prefill_s,
        ttft_sum_s=r.prefill_s * plan.batch,
        decode_time_s=r.decode_s,
        decode_steps=len(ctx),
        decode_tokens=len(ctx) * plan.batch,
        generated_tokens=plan.gen_tokens * plan.batch,
        prefill_energy_j=phase_energy[0],
        decode_energy_j=phase_energy[1],
        energy_breakdown_j=energy,
        latency_breakdown_s=r.class_time,
        busy_time_s=busy,
        memory_footprint_bytes=plan.memory_footprint_bytes,
        weight_mode=plan.weight_mode,
        extra={"des_events": r.events, **pipeline_summary(plan), **({"trace": r.trace} if trace_steps else {})},
    )
