"""Executing mapped steps in simpy, at the granularity that changes the answer.

A step on a device whose memory channels no other device uses cannot be disturbed by the
rest of the system: its duration is what the op-level simulation of that step gives
(`simulator.oplevel`: ops on compute units, bytes on banked memory channels, prefetch and
double buffering), taken from the `StepCostCache` (one op-level simulation per step shape
and context bucket, interpolated) and played as one simpy event. Traced steps are simulated
op by op in full at their exact context, and every op, transfer and channel becomes a span.

A step that touches a channel another device also streams on (`shared_tiers`) runs op by op
in simpy: a fixed overhead, then compute and every memory stream concurrently, the transfers
competing on the tier's `BandwidthChannel`s (processor sharing; the ideal channel model).

Dynamic energy is affine in context, so it is accumulated per distinct step as
(number of runs, sum of contexts) and evaluated once at the end; with the banked memory
model the DRAM energy of cached steps comes from the op-level counters (activations,
bursts, I/O) instead of bytes x energy per bit.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import simpy

from slmsim.mapping.cost import NO_CTX, Component, CtxSum, MappedStep
from slmsim.mapping.pipeline import StagePipeline
from slmsim.simulator.channel import BandwidthChannel
from slmsim.simulator.memory_system import MemoryModel, MemorySystem
from slmsim.simulator.oplevel import prepare_ops, simulate_step
from slmsim.simulator.stepcache import StepCostCache, interpolate, ratio_at


@dataclass
class _Tally:
    step: MappedStep
    runs: int = 0
    ctx_sum: CtxSum = NO_CTX
    # runs whose time came from the op-level model (cache or traced), for their DRAM energy
    op_runs: int = 0
    op_ctx_sum: CtxSum = NO_CTX
    bank_energy_j: dict[str, float] = field(default_factory=dict)  # traced runs
    counters: dict[str, float] = field(default_factory=dict)  # "tier|read", "tier|write", "tier|acts"
    buckets: dict[int, list[float]] = field(default_factory=dict)  # bucket -> [runs, sum of weights]


@dataclass
class Executor:
    env: simpy.Environment
    channels: dict[str, BandwidthChannel]
    shared_tiers: frozenset[str] = frozenset()
    trace: list[dict] = field(default_factory=list)
    events: int = 0
    compute_busy_s: dict[str, float] = field(default_factory=dict)
    # busy time by (device, "prefill" | "decode"): a device's active power is charged to the phase
    # it ran (decode: every step that is not prefill, as the phase times count them)
    device_phase_busy_s: dict[tuple[str, str], float] = field(default_factory=dict)
    class_time_s: dict[str, dict[str, float]] = field(default_factory=dict)
    _tallies: dict[int, _Tally] = field(default_factory=dict)
    _shared: dict[int, bool] = field(default_factory=dict)  # step id -> streams on a shared tier
    _pinned: list[MappedStep] = field(default_factory=list)  # the steps `_shared` knows (their ids stay theirs)
    memory: MemorySystem | None = None
    costs: StepCostCache | None = None
    _final: bool = False

    @classmethod
    def for_steps(cls, env: simpy.Environment, steps: list[MappedStep], *, priority: bool = False,
                  memory: MemorySystem | None = None) -> "Executor":
        channels: dict[str, BandwidthChannel] = {}
        users: dict[str, set[str]] = {}
        for step in steps:
            for tier, bw in step.tier_bandwidth_bytes_per_s.items():
                channels.setdefault(tier, BandwidthChannel(env, tier, bw, priority=priority))
                users.setdefault(tier, set()).add(step.device)
        shared = frozenset(t for t, devs in users.items() if len(devs) > 1)
        return cls(env=env, channels=channels, shared_tiers=shared, memory=memory,
                   costs=StepCostCache(memory) if memory is not None else None)

    def add_channel(self, name: str, bandwidth_bytes_per_s: float) -> BandwidthChannel:
        return self.channels.setdefault(name, BandwidthChannel(self.env, name, bandwidth_bytes_per_s))

    def _is_shared(self, step: MappedStep) -> bool:
        """Whether `step` streams on a tier another device uses (then it runs op by op); on a
        step's first run, its channels are made."""
        shared = self._shared.get(id(step))
        if shared is None:
            for tier, bw in step.tier_bandwidth_bytes_per_s.items():
                if tier not in self.channels:
                    self.channels[tier] = BandwidthChannel(self.env, tier, bw)
            shared = self._shared[id(step)] = bool(self.shared_tiers.intersection(step.tier_bandwidth_bytes_per_s))
            self._pinned.append(step)  # keeps the step alive: its id stays its own
        return shared

    def _tally(self, step: MappedStep, ctx: float) -> tuple[_Tally, dict[str, float]]:
        tally = self._tallies.get(id(step))
        if tally is None:
            tally = self._tallies[id(step)] = _Tally(step)  # the tally holds the step: its id stays its own
        tally.runs += 1
        tally.ctx_sum += step.ctx_of(ctx)
        times = self.class_time_s.get(step.phase)
        if times is None:
            times = self.class_time_s[step.phase] = {}
        return tally, times

    def _cached(self, step: MappedStep, ctx: float, tally: _Tally) -> float:
        """Duration of a step from the step-cost cache, tallied for the end (`finalize`)."""
        assert self.costs is not None
        d, k, t = self.costs.duration(step, ctx)
        b = tally.buckets.get(k)
        if b is None:
            tally.buckets[k] = [1.0, t]
        else:
            b[0] += 1.0
            b[1] += t
        tally.op_runs += 1
        tally.op_ctx_sum += step.ctx_of(ctx)
        return d

    def run_seq(self, steps: list[tuple[MappedStep, float, str]], *, record: bool = False,
                priority: int = 0) -> Generator[simpy.Event, None, list[float]]:
        """Run steps (step, total context, label) back to back on one device; returns their
        durations. Where each would take `run`'s cached path (not traced, no shared tier),
        they are one simpy timeout of their summed durations: a cached step's duration is
        fixed when it starts and nothing else acts on its channels, so this changes only
        the number of events (and the last bits of the clock's sums), not what happens."""
        if record or self.costs is None or any(self._is_shared(step) for step, _, _ in steps):
            out = []
            for step, ctx, label in steps:
                t = yield from self.run(step, ctx, label=label, record=record, priority=priority)
                out.append(t)
            return out
        durations = [self._cached(step, ctx, self._tally(step, ctx)[0]) for step, ctx, _ in steps]
        yield self.env.timeout(sum(durations))
        self.events += 1
        for (step, _, _), d in zip(steps, durations):
            self._busy(step, d)
        return durations

    def _busy(self, step: MappedStep, duration_s: float) -> None:
        """Count `duration_s` of `step` as busy time of its device in its phase."""
        key = (step.device, "prefill" if step.phase == "prefill" else "decode")
        self.device_phase_busy_s[key] = self.device_phase_busy_s.get(key, 0.0) + duration_s

    def run(self, step: MappedStep, ctx: float, *, label: str, record: bool = False,
            priority: int = 0) -> Generator[simpy.Event, None, float]:
        """Run one step at total context `ctx`; returns its duration."""
        env = self.env
        start = env.now
        tally, times = self._tally(step, ctx)
        shared = self._is_shared(step)
        detailed = shared or (record and self.costs is None)
        if detailed:
            # banked: each transfer is charged its access pattern's mean service time per byte
            xfers = prepare_ops(step, ctx, self.memory) if self.memory is not None and self.memory.banked else None
            for i, op in enumerate(step.ops):
                op_start = env.now
                if op.overhead_s:
                    yield env.timeout(op.overhead_s * op.layers)
                compute_s = op.layers * op.compute_s.at(ctx)
                waits = [env.timeout(compute_s)]
                if xfers is None:
                    for tier, aff in op.tier_bytes:
                        waits.append(self.channels[tier].transfer(op.layers * aff.at(ctx), priority=priority))
                else:
                    assert self.memory is not None
                    for x in xfers[i].xfers:
                        slow = self.memory.spec(x.tier, 1.0).slowdown(x.run_bytes) if x.tier in self.memory.channels else 1.0
                        waits.append(self.channels[x.tier].transfer(op.layers * x.nbytes * slow, priority=priority))
                yield env.all_of(waits)
                self.events += len(waits) + 1
                self.compute_busy_s[step.device] = self.compute_busy_s.get(step.device, 0.0) + compute_s
                times[op.op_class] = times.get(op.op_class, 0.0) + env.now - op_start
                if record:
                    self.span(op.name, op.op_class, step.device, "ops", op_start, env.now - op_start,
                              {"layers": op.layers, "compute_s": compute_s, "phase": step.phase})
        elif record and self.costs is not None:
            yield from self._traced(step, ctx, tally, label=label)
        elif self.costs is not None:
            yield env.timeout(self._cached(step, ctx, tally))
            self.events += 1
        else:  # no memory system: the analytic step time (kept for callers that build an Executor bare)
            op_times = step.op_times_s(np.array([ctx]))[:, 0]
            yield env.timeout(float(op_times.sum()))
            self.events += 1
            for op, t in zip(step.ops, op_times):
                times[op.op_class] = times.get(op.op_class, 0.0) + float(t)
                self.compute_busy_s[step.device] = (self.compute_busy_s.get(step.device, 0.0)
                                                    + op.layers * op.compute_s.at(ctx))
            for tier, nbytes in step.tier_bytes_total(step.ctx_of(ctx), 1).items():
                ch = self.channels[tier]
                ch.bytes_moved += nbytes
                ch.busy_time_s += nbytes / ch.bandwidth_bytes_per_s
        duration = env.now - start
        self._busy(step, duration)
        if record:
            self.span(label, step.phase, step.device, "steps", start, duration, {"context": ctx})
        return duration

    def _traced(self, step: MappedStep, ctx: float, tally: _Tally, *, label: str) -> Generator[simpy.Event, None, None]:
        """A traced step: the full op-level simulation (no layer collapsing) at its exact context."""
        assert self.memory is not None
        run = simulate_step(step, ctx, self.memory, collapse=False, record=True)
        start = self.env.now
        for sp in run.spans:
            self.trace.append({**sp, "ph": "X", "ts": (start + sp["ts"]) * 1e6, "dur": sp["dur"] * 1e6,
                               "args": {**sp["args"], "step": label}})
        times = self.class_time_s.setdefault(step.phase, {})
        for k, v in run.class_time_s.items():
            times[k] = times.get(k, 0.0) + v
        tally.op_runs += 1
        tally.op_ctx_sum += step.ctx_of(ctx)
        for k, v in run.dram_energy_j.items():
            tally.bank_energy_j[k] = tally.bank_energy_j.get(k, 0.0) + v
        for k, v in _counters(run).items():
            tally.counters[k] = tally.counters.get(k, 0.0) + v
        self.events += run.op_instances
        yield self.env.timeout(run.duration_s)

    def finalize(self) -> None:
        """Evaluate the cached steps' tallies: time per op class (and, banked, DRAM energy)."""
        if self._final or self.costs is None:
            return
        self._final = True
        for tally in self._tallies.values():
            if not tally.buckets:
                continue
            times = self.class_time_s.setdefault(tally.step.phase, {})
            for k, (n, tsum) in tally.buckets.items():
                lo = self.costs.run_at(tally.step, k)
                hi = self.costs.run_at(tally.step, k + 1) if tsum > 0 else lo
                for c, v in interpolate(lo.class_time_s, hi.class_time_s, n, tsum).items():
                    times[c] = times.get(c, 0.0) + v
                for c, v in interpolate(lo.dram_energy_j, hi.dram_energy_j, n, tsum).items():
                    tally.bank_energy_j[c] = tally.bank_energy_j.get(c, 0.0) + v
                for c, v in interpolate(_counters(lo), _counters(hi), n, tsum).items():
                    tally.counters[c] = tally.counters.get(c, 0.0) + v
        for tally in self._tallies.values():
            step = tally.step
            if not tally.op_runs:
                continue
            self.compute_busy_s[step.device] = (self.compute_busy_s.get(step.device, 0.0)
                                                + step.compute_s_total(tally.op_ctx_sum, tally.op_runs))
            for tier, nbytes in step.tier_bytes_total(tally.op_ctx_sum, tally.op_runs).items():
                ch = self.channels.get(tier)
                if ch is None:
                    ch = self.channels[tier] = BandwidthChannel(self.env, tier, step.tier_bandwidth_bytes_per_s[tier])
                ch.bytes_moved += nbytes
                ch.busy_time_s += nbytes / ch.bandwidth_bytes_per_s

    def memory_counters(self) -> dict[str, dict[str, float]]:
        """Per memory tier, over the op-level runs: bytes read and written, row activations."""
        self.finalize()
        out: dict[str, dict[str, float]] = {}
        for t in self._tallies.values():
            for key, v in t.counters.items():
                tier, what = key.split("|")
                d = out.setdefault(tier, {"read_bytes": 0.0, "write_bytes": 0.0, "activations": 0.0})
                d[what] += v
        return out

    def _step_energy(self, t: _Tally) -> dict[Component, float]:
        e = t.step.dynamic_energy_j(t.ctx_sum, t.runs)
        if self.memory is None or self.memory.model is not MemoryModel.BANKED or not t.op_runs:
            return e
        # banked: DRAM energy of the op-level runs from their activations, bursts and I/O
        ideal = t.step.tier_bytes_total(t.op_ctx_sum, t.op_runs)
        for tier, banked_j in t.bank_energy_j.items():
            comp = t.step.tier_component.get(tier)
            if comp is None:
                continue
            e[comp] = e.get(comp, 0.0) - ideal.get(tier, 0.0) * 8.0 * t.step.tier_energy_per_bit_j[tier] + banked_j
        return e

    def run_pipelined(self, pipe: StagePipeline, seq_ctx: list[float], *, label: str,
                      record: bool = False) -> Generator[simpy.Event, None, float]:
        """Sequences flow through the stages in order (a flow shop): each stage is a simpy
        resource held by one sequence at a time, each sequence a process that takes stage
        0, 1, ... in turn, so stage s of sequence j starts when stage s is free and sequence
        j has left stage s - 1 (`StagePipeline.schedule` is the same recursion in closed form;
        the stages share no channel with another device). The stages do share the device's
        vector unit and its memory and NoC streams: a step lasts at least the busiest of them
        is busy for the batch (`StagePipeline.floor_s`; a bound, the contention inside the
        stages is not simulated). Stage times are the analytic ones scaled by the op-level /
        analytic ratio of the one-sequence step at the batch's mean context (1 with the
        ideal memory model), the floor by the same ratio."""
        env = self.env
        start = env.now
        stage = pipe.stage_times_s(np.asarray(seq_ctx))
        floor = pipe.floor_s(np.asarray(seq_ctx))
        if self.costs is not None and self.memory is not None and self.memory.banked:
            ratio = ratio_at(self.costs, pipe.step, float(np.mean(seq_ctx)))
            stage, floor = stage * ratio, floor * ratio
        n_stages, jobs = stage.shape
        units = [simpy.Resource(env, capacity=1) for _ in range(n_stages)]

        def sequence(j: int) -> Generator[simpy.Event, None, None]:
            for s in range(n_stages):
                with units[s].request() as req:
                    yield req
                    begin = env.now
                    yield env.timeout(float(stage[s, j]))
                    if record:
                        self.span(f"seq {j}", "stage", pipe.step.device, f"stage {s}", begin, env.now - begin, {})

        yield env.all_of([env.process(sequence(j)) for j in range(jobs)])
        if env.now - start < floor:  # the shared resources, not the stages, bound the step
            yield env.timeout(floor - (env.now - start))
        duration = env.now - start
        self.events += jobs * n_stages
        step = pipe.step
        tally = self._tallies.setdefault(id(step), _Tally(step))
        tally.runs += jobs
        tally.ctx_sum += step.ctx_sum(seq_ctx)
        op_times = step.op_times_s(np.asarray(seq_ctx)).sum(axis=1)
        times = self.class_time_s.setdefault(step.phase, {})
        scale = duration / op_times.sum() if op_times.sum() > 0 else 0.0
        for op, t in zip(step.ops, op_times):
            times[op.op_class] = times.get(op.op_class, 0.0) + float(t) * scale
            self.compute_busy_s[step.device] = (self.compute_busy_s.get(step.device, 0.0)
                                                + op.layers * sum(op.compute_s.at(c) for c in seq_ctx))
        for tier, nbytes in step.tier_bytes_total(step.ctx_sum(seq_ctx), jobs).items():
            ch = self.channels.setdefault(tier, BandwidthChannel(env, tier, step.tier_bandwidth_bytes_per_s[tier]))
            ch.bytes_moved += nbytes
            ch.busy_time_s += nbytes / ch.bandwidth_bytes_per_s
        self._busy(step, duration)
        if record:
            self.span(label, step.phase, step.device, "steps", start, duration, {"sequences": jobs})
        return duration

    def span(self, name: str, cat: str, pid: str, tid: str, start_s: float, dur_s: float, args: dict) -> None:
        """A Chrome trace 'complete' event; times in microseconds."""
        self.trace.append({"name": name, "cat": cat, "ph": "X", "ts": start_s * 1e6, "dur": dur_s * 1e6,
                           "pid": pid, "tid": tid, "args": args})

    def step_runs(self) -> list[tuple[MappedStep, CtxSum, float]]:
        """(step, sum of contexts, runs) of every distinct step executed."""
        return [(t.step, t.ctx_sum, float(t.runs)) for t in self._tallies.values()]

    def dynamic_energy_j(self) -> dict[Component, float]:
        self.finalize()
        out: dict[Component, float] = {}
        for t in self._tallies.values():
            for comp, e in self._step_energy(t).items():
                out[comp] = out.get(comp, 0.0) + e
        return out

    def phase_components_j(self, phase: str) -> dict[Component, float]:
        """Dynamic energy by component of the steps of one phase."""
        self.finalize()
        out: dict[Component, float] = {}
        for t in self._tallies.values():
            if t.step.phase == phase:
                for comp, e in self._step_energy(t).items():
                    out[comp] = out.get(comp, 0.0) + e
        return out

    def phase_energy_j(self, phase: str) -> float:
        self.finalize()
        return sum(sum(self._step_energy(t).values()) for t in self._tallies.values() if t.step.phase == phase)


def _counters(run: object) -> dict[str, float]:
    out: dict[str, float] = {}
    for tier, (rd, wr) in run.channel_bytes.items():  # type: ignore[attr-defined]
        out[f"{tier}|read_bytes"] = rd
        out[f"{tier}|write_bytes"] = wr
        out[f"{tier}|activations"] = run.channel_acts.get(tier, 0.0)  # type: ignore[attr-defined]
    return out
