"""Executing mapped steps in simpy, at the granularity that changes the answer.

A step on a device whose memory channels no other device uses cannot be disturbed: its
ops run back to back, so one event of the step's analytic time is exact. A step that
touches a channel another device also streams on (`shared_tiers`) runs op by op: a fixed
overhead, then compute and every memory stream concurrently, the transfers competing on
the `BandwidthChannel`s. Steps to be traced also run op by op (same result, more events).

Dynamic energy is affine in context, so it is accumulated per distinct step as
(number of runs, sum of contexts) and evaluated once at the end.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import simpy

from slmsim.mapping.cost import Component, MappedStep
from slmsim.mapping.pipeline import StagePipeline
from slmsim.simulator.channel import BandwidthChannel


@dataclass
class _Tally:
    step: MappedStep
    runs: int = 0
    ctx_sum: float = 0.0


@dataclass
class Executor:
    env: simpy.Environment
    channels: dict[str, BandwidthChannel]
    shared_tiers: frozenset[str] = frozenset()
    trace: list[dict] = field(default_factory=list)
    events: int = 0
    compute_busy_s: dict[str, float] = field(default_factory=dict)
    device_busy_s: dict[str, float] = field(default_factory=dict)
    class_time_s: dict[str, dict[str, float]] = field(default_factory=dict)
    _tallies: dict[int, _Tally] = field(default_factory=dict)

    @classmethod
    def for_steps(cls, env: simpy.Environment, steps: list[MappedStep], *, priority: bool = False) -> "Executor":
        channels: dict[str, BandwidthChannel] = {}
        users: dict[str, set[str]] = {}
        for step in steps:
            for tier, bw in step.tier_bandwidth_bytes_per_s.items():
                channels.setdefault(tier, BandwidthChannel(env, tier, bw, priority=priority))
                users.setdefault(tier, set()).add(step.device)
        shared = frozenset(t for t, devs in users.items() if len(devs) > 1)
        return cls(env=env, channels=channels, shared_tiers=shared)

    def add_channel(self, name: str, bandwidth_bytes_per_s: float) -> BandwidthChannel:
        return self.channels.setdefault(name, BandwidthChannel(self.env, name, bandwidth_bytes_per_s))

    def run(self, step: MappedStep, ctx: float, *, label: str, record: bool = False,
            priority: int = 0) -> Generator[simpy.Event, None, float]:
        """Run one step at total context `ctx`; returns its duration."""
        env = self.env
        start = env.now
        tally = self._tallies.setdefault(id(step), _Tally(step))
        tally.runs += 1
        tally.ctx_sum += ctx
        times = self.class_time_s.setdefault(step.phase, {})
        for tier, bw in step.tier_bandwidth_bytes_per_s.items():
            if tier not in self.channels:
                self.channels[tier] = BandwidthChannel(env, tier, bw)
        detailed = record or bool(self.shared_tiers.intersection(step.tier_bandwidth_bytes_per_s))
        if detailed:
            for op in step.ops:
                op_start = env.now
                if op.overhead_s:
                    yield env.timeout(op.overhead_s * op.layers)
                compute_s = op.layers * op.compute_s.at(ctx)
                waits = [env.timeout(compute_s)]
                for tier, aff in op.tier_bytes:
                    waits.append(self.channels[tier].transfer(op.layers * aff.at(ctx), priority=priority))
                yield env.all_of(waits)
                self.events += len(waits) + 1
                self.compute_busy_s[step.device] = self.compute_busy_s.get(step.device, 0.0) + compute_s
                times[op.op_class] = times.get(op.op_class, 0.0) + env.now - op_start
                if record:
                    self.span(op.name, op.op_class, step.device, "ops", op_start, env.now - op_start,
                              {"layers": op.layers, "compute_s": compute_s, "phase": step.phase})
        else:
            op_times = step.op_times_s(np.array([ctx]))[:, 0]
            yield env.timeout(float(op_times.sum()))
            self.events += 1
            for op, t in zip(step.ops, op_times):
                times[op.op_class] = times.get(op.op_class, 0.0) + float(t)
                self.compute_busy_s[step.device] = (self.compute_busy_s.get(step.device, 0.0)
                                                    + op.layers * op.compute_s.at(ctx))
            # nothing else streams on these channels: account their traffic directly
            for tier, nbytes in step.tier_bytes_total(ctx, 1).items():
                ch = self.channels[tier]
                ch.bytes_moved += nbytes
                ch.busy_time_s += nbytes / ch.bandwidth_bytes_per_s
        duration = env.now - start
        self.device_busy_s[step.device] = self.device_busy_s.get(step.device, 0.0) + duration
        if record:
            self.span(label, step.phase, step.device, "steps", start, duration, {"context": ctx})
        return duration

    def run_pipelined(self, pipe: StagePipeline, seq_ctx: list[float], *, label: str,
                      record: bool = False) -> Generator[simpy.Event, None, float]:
        """Sequences flow through the stages in order (a flow shop): stage s of sequence j
        starts when stage s is free and sequence j has left stage s - 1. The stages are
        resolved by that recursion (what one simpy process per stage would produce: they
        share no channel with another device), then the step is one event."""
        env = self.env
        start = env.now
        stage = pipe.stage_times_s(np.asarray(seq_ctx))
        n_stages, jobs = stage.shape
        begins, duration = StagePipeline.schedule(stage)
        if record:
            for j in range(jobs):
                for s in range(n_stages):
                    self.span(f"seq {j}", "stage", pipe.step.device, f"stage {s}", start + begins[s, j], stage[s, j], {})
        yield env.timeout(duration)
        self.events += 1
        step = pipe.step
        tally = self._tallies.setdefault(id(step), _Tally(step))
        tally.runs += jobs
        tally.ctx_sum += float(sum(seq_ctx))
        op_times = step.op_times_s(np.asarray(seq_ctx)).sum(axis=1)
        times = self.class_time_s.setdefault(step.phase, {})
        scale = duration / op_times.sum() if op_times.sum() > 0 else 0.0
        for op, t in zip(step.ops, op_times):
            times[op.op_class] = times.get(op.op_class, 0.0) + float(t) * scale
            self.compute_busy_s[step.device] = (self.compute_busy_s.get(step.device, 0.0)
                                                + op.layers * sum(op.compute_s.at(c) for c in seq_ctx))
        for tier, nbytes in step.tier_bytes_total(float(sum(seq_ctx)), jobs).items():
            ch = self.channels.setdefault(tier, BandwidthChannel(env, tier, step.tier_bandwidth_bytes_per_s[tier]))
            ch.bytes_moved += nbytes
            ch.busy_time_s += nbytes / ch.bandwidth_bytes_per_s
        self.device_busy_s[step.device] = self.device_busy_s.get(step.device, 0.0) + duration
        if record:
            self.span(label, step.phase, step.device, "steps", start, duration, {"sequences": jobs})
        return duration

    def span(self, name: str, cat: str, pid: str, tid: str, start_s: float, dur_s: float, args: dict) -> None:
        """A Chrome trace 'complete' event; times in microseconds."""
        self.trace.append({"name": name, "cat": cat, "ph": "X", "ts": start_s * 1e6, "dur": dur_s * 1e6,
                           "pid": pid, "tid": tid, "args": args})

    def step_runs(self) -> list[tuple[MappedStep, float, float]]:
        """(step, sum of contexts, runs) of every distinct step executed."""
        return [(t.step, t.ctx_sum, float(t.runs)) for t in self._tallies.values()]

    def dynamic_energy_j(self) -> dict[Component, float]:
        out: dict[Component, float] = {}
        for t in self._tallies.values():
            for comp, e in t.step.dynamic_energy_j(t.ctx_sum, t.runs).items():
                out[comp] = out.get(comp, 0.0) + e
        return out

    def phase_energy_j(self, phase: str) -> float:
        return sum(sum(t.step.dynamic_energy_j(t.ctx_sum, t.runs).values())
                   for t in self._tallies.values() if t.step.phase == phase)
