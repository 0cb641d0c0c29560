"""One step at op level: ops on their compute units, bytes on memory channels.

Ops run in execution order (identical layers unrolled, `mapping.pipeline.unrolled_op_costs`'s
order); op j + 1 starts when op j ends (each consumes the previous one's output). Op j:

1. its fixed overhead (kernel launch, runtime);
2. then its compute on its unit (macro group, vector unit, GPU/NPU) and every one of its
   transfers, concurrently: weights (sequential runs), KV reads (runs of one paged-KV block
   per stream), KV writes (one token per stream), NoC traffic; each transfer is split evenly
   over its tier's channels and queued first come, first served on each;
3. it ends with the last of them. A weight-streaming CIM op also cannot finish before its
   last round of macros has computed on the last weights to arrive (pipeline drain).

Prefetch and double buffering (banked model, CIM devices with `double_buffer`): while op j
computes on one half of the macros, the first round of op j + 1's weights (what one half of
the macros holds) is fetched and written into the other half, so op j + 1's first round is
ready when it starts. The ideal model has no drain and no cross-op prefetch: each op's
streams overlap its own compute exactly, the analytic engine's assumption.

Identical layers: the state a layer leaves (channel queues, prefetch in flight) is the same
for every layer of a block once the first layer has filled the pipeline, so a block of n
layers is simulated for `STEADY_LAYERS` layers, and the last simulated layer's time and
counters are repeated n - STEADY_LAYERS times (the simulated period is checked: if the last
two layers differ by more than `STEADY_TOL`, more layers are simulated, up to all of them).
Refresh breaks exact periodicity by at most one tRFC per layer; a test checks the collapsed
step against the full run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from slmsim.mapping.cost import Affine, MappedOp, MappedStep
from slmsim.simulator.memory_system import KV_BLOCK_TOKENS, Channel, MemorySystem

STEADY_LAYERS = 3
STEADY_TOL = 2e-3


@dataclass(frozen=True, slots=True)
class _Xfer:
    tier: str
    nbytes: float  # whole transfer (all channels)
    run_bytes: float
    write: bool
    prefetch_bytes: float = 0.0  # of nbytes, fetched during the previous op (double buffering)
    weights: bool = False  # a weight stream from memory (its arrival bounds the drain)


@dataclass(frozen=True, slots=True)
class _Op:
    index: int  # into step.ops
    name: str
    op_class: str
    unit: str
    overhead_s: float
    compute_s: float
    xfers: tuple[_Xfer, ...]
    drain_s: float  # compute of the last round after the last weights arrive (streaming CIM)
    streaming: bool  # weight-streaming CIM op: alternates between the two macro groups


@dataclass
class StepRun:
    """What one op-level simulation of a step produced (extensive: all layers)."""

    duration_s: float
    class_time_s: dict[str, float]
    channel_bytes: dict[str, tuple[float, float]]  # tier -> (read, write) bytes, all channels
    channel_acts: dict[str, float]  # tier -> row activations, all channels
    channel_busy_s: dict[str, float]  # tier -> busy seconds of one channel (each carries the same)
    dram_energy_j: dict[str, float]  # banked tiers: activate + bursts + I/O, all channels
    op_instances: int  # op instances simulated (after collapsing)
    op_instances_full: int  # op instances the step has
    spans: list[dict] = field(default_factory=list)


def _unit(op: _Op, group: int) -> str:
    if op.streaming:
        return f"macro group {'AB'[group % 2]}"
    if op.unit == "cim_macros":
        return "macros"
    return op.unit.replace("_", " ")


def _kv_op(op: MappedOp) -> bool:
    """Attention ops read (and append to) the KV cache; every other op's bytes are weights."""
    return op.unit != "cim_macros" and (op.name.endswith("attention") or any(a.grows for _, a in op.tier_bytes))


# Per (step, memory system): each op's context-independent facts, and the `_Op` itself where
# nothing depends on context (weights, the appended K/V): a step is simulated at several
# contexts (the step-cost cache's buckets), so this is worked out once. Entries hold the
# step and memory system (their ids stay theirs); cleared when full.
_TEMPLATES: dict[tuple[int, int], tuple[MappedStep, MemorySystem, list]] = {}
_TEMPLATES_MAX = 512


def _template(step: MappedStep, mem: MemorySystem) -> list:
    key = (id(step), id(mem))
    hit = _TEMPLATES.get(key)
    if hit is not None and hit[0] is step and hit[1] is mem:
        return hit[2]
    out: list = []
    prefetch = step.device in mem.prefetch_devices
    for i, op in enumerate(step.ops):
        rounds = dict(op.detail).get("rounds")
        streaming = rounds is not None and op.unit == "cim_macros"
        kv = _kv_op(op)
        xs: list = []  # an _Xfer (fixed) or (kind, tier, affine)
        for tier, aff in op.tier_bytes:
            if tier.startswith("noc:") or tier not in mem.channels:
                xs.append(_Xfer(tier, aff.const, math.inf, False) if not aff.grows else ("noc", tier, aff))
                continue
            # the K/V this op writes (its new tokens', or the cross-attention K/V a projection
            # stores): a write, in one run per stream; the rest of the constant part is read
            written = min(op.kv_write_bytes, aff.const) if tier == op.kv_tier else 0.0
            if written > 0:
                xs.append(_Xfer(tier, written, max(written / mem.kv_streams, 1.0), True))
            if not kv:
                if aff.grows:
                    xs.append(("weights", tier, aff + Affine(-written) if written else aff))
                elif aff.const - written > 0:
                    nbytes = aff.const - written
                    pre = nbytes / rounds if (streaming and prefetch) else 0.0
                    xs.append(_Xfer(tier, nbytes, math.inf, False, pre, True))
            else:  # KV: reads that grow with context, and constant reads (cross-attention's encoder
                # K/V, a prefill's own prompt, a static window, a chunk's earlier passes)
                if aff.grows:
                    xs.append(("kv", tier, aff))
                read = aff.const - written
                if read > 0:  # in block runs, as the growing part (memory_system.KV_BLOCK_TOKENS)
                    xs.append(_Xfer(tier, read, min(max(read / mem.kv_streams, 1.0), mem.kv_block_bytes), False))
        drains = streaming and mem.banked and mem.drain
        fixed = None
        if not op.compute_s.grows and all(isinstance(x, _Xfer) for x in xs):
            compute = op.compute_s.at(0.0)
            fixed = _Op(i, op.name, op.op_class, op.unit, op.overhead_s, compute, tuple(xs),
                        compute / rounds if drains else 0.0, streaming)
        out.append((fixed, op, rounds, streaming, drains, prefetch, xs))
    if len(_TEMPLATES) >= _TEMPLATES_MAX:
        _TEMPLATES.clear()
    _TEMPLATES[key] = (step, mem, out)
    return out


def prepare_ops(step: MappedStep, ctx: float, mem: MemorySystem) -> list[_Op]:
    """Per-instance costs of every op of `step` at total context `ctx`."""
    out = []
    for i, (fixed, op, rounds, streaming, drains, prefetch, xs) in enumerate(_template(step, mem)):
        if fixed is not None:
            out.append(fixed)
            continue
        xfers = []
        for x in xs:
            if isinstance(x, _Xfer):
                xfers.append(x)
                continue
            kind, tier, aff = x
            if kind == "noc":
                xfers.append(_Xfer(tier, aff.at(ctx), math.inf, False))
            elif kind == "weights":
                nbytes = aff.at(ctx)
                pre = nbytes / rounds if (streaming and prefetch) else 0.0
                xfers.append(_Xfer(tier, nbytes, math.inf, False, pre, True))
            else:
                per_token = aff.per_ctx + aff.windowed  # bytes of one context token's K/V (all the op's layers)
                xfers.append(_Xfer(tier, aff.at(ctx) - aff.const, KV_BLOCK_TOKENS * per_token / mem.kv_streams, False))
        compute = op.compute_s.at(ctx)
        drain = compute / rounds if drains else 0.0
        out.append(_Op(i, op.name, op.op_class, op.unit, op.overhead_s, compute, tuple(xfers), drain, streaming))
    return out


def _blocks(step: MappedStep) -> list[tuple[list[int], int]]:
    """Runs of consecutive ops with equal layer counts: (op indices, layers)."""
    layers = [op.layers for op in step.ops]
    out = []
    i = 0
    while i < len(layers):
        j = i
        while j < len(layers) and layers[j] == layers[i]:
            j += 1
        out.append((list(range(i, j)), layers[i]))
        i = j
    return out


class _Sim:
    def __init__(self, step: MappedStep, mem: MemorySystem, *, record: bool) -> None:
        self.step = step
        self.mem = mem
        self.record = record
        self.chan: dict[str, Channel] = {}
        for tier, bw in step.tier_bandwidth_bytes_per_s.items():
            self.chan[tier] = Channel(mem.spec(tier, bw))
        self.t = 0.0
        self.class_s: dict[str, float] = {}
        self.spans: list[dict] = []
        self.prefetched: dict[int, dict[str, float]] = {}  # position -> tier -> arrival of its prefetch
        self.instances = 0
        self.group = 0

    def snapshot(self) -> tuple:
        return (self.t, dict(self.class_s), {k: (c.read_bytes, c.write_bytes, c.acts, c.busy_s)
                                             for k, c in self.chan.items()})

    def shift(self, dt: float, before: tuple, after: tuple, times: int, *, positions: int) -> None:
        """Repeat the layer between `before` and `after` `times` more times (steady state)."""
        self.t += dt * times
        for k, v in after[1].items():
            self.class_s[k] = self.class_s.get(k, 0.0) + (v - before[1].get(k, 0.0)) * times
        for k, c in self.chan.items():
            b, a = before[2][k], after[2][k]
            c.read_bytes += (a[0] - b[0]) * times
            c.write_bytes += (a[1] - b[1]) * times
            c.acts += (a[2] - b[2]) * times
            c.busy_s += (a[3] - b[3]) * times
            c.free_s += dt * times
        self.prefetched = {p + positions: {t: v + dt * times for t, v in d.items()} for p, d in self.prefetched.items()}

    def run_op(self, pos: int, op: _Op, nxt: _Op | None, layer: int) -> None:
        start = self.t
        t0 = start + op.overhead_s
        end = t0 + op.compute_s  # the latest of compute and every transfer
        weights_end = t0
        spans = self.record
        chan = self.chan
        here = self.prefetched.pop(pos, None) if self.prefetched else None
        for x in op.xfers:
            ch = chan[x.tier]
            n = ch.spec.channels
            arrived = here.get(x.tier) if here is not None else None
            demand = x.nbytes - (x.prefetch_bytes if arrived is not None else 0.0)
            b, e = ch.serve(t0, demand / n, x.run_bytes, write=x.write) if demand > 0 else (t0, t0)
            if arrived is not None and arrived > e:
                e = arrived
            if e > end:
                end = e
            if x.weights and e > weights_end:
                weights_end = e
            if spans and demand > 0:
                self._xfer_spans(x.tier, n, op.name, b, e, demand, x.write)
        # double buffering: the next op's first round of weights streams in now
        if nxt is not None:
            pf: dict[str, float] = {}
            for x in nxt.xfers:
                if x.prefetch_bytes > 0:
                    ch = chan[x.tier]
                    n = ch.spec.channels
                    b, e = ch.serve(t0, x.prefetch_bytes / n, x.run_bytes)
                    pf[x.tier] = e
                    if spans:
                        self._xfer_spans(x.tier, n, f"prefetch {nxt.name}", b, e, x.prefetch_bytes, False)
            if pf:
                self.prefetched[pos + 1] = pf
        if op.drain_s and weights_end + op.drain_s > end:
            end = weights_end + op.drain_s
        self.t = end
        cls = self.class_s
        cls[op.op_class] = cls.get(op.op_class, 0.0) + end - start
        self.instances += 1
        if spans:
            unit = _unit(op, self.group)
            self.spans.append({"name": op.name, "cat": op.op_class, "pid": self.step.device, "tid": unit,
                               "ts": start, "dur": end - start,
                               "args": {"layer": layer, "compute_s": op.compute_s, "overhead_s": op.overhead_s}})
        if op.streaming:
            self.group += 1

    def _xfer_spans(self, tier: str, n: int, name: str, b: float, e: float, nbytes: float, write: bool) -> None:
        """One span per transfer: on `channel 0` of a one-channel tier, else on `channels`
        with `args.channels` = n (every channel carries the same share); the Chrome export
        (`simulator.trace.to_chrome_trace`) draws it on each channel's own track."""
        noc = tier.startswith("noc:")
        pid = self.step.device if noc else f"memory {tier}"
        tid = "noc" if noc else ("channel 0" if n == 1 else "channels")
        args: dict = {"bytes": nbytes / n}
        if n > 1 and not noc:
            args["channels"] = n
        self.spans.append({"name": name, "cat": "write" if write else "read", "pid": pid, "tid": tid,
                           "ts": b, "dur": e - b, "args": args})


def simulate_step(step: MappedStep, ctx: float, mem: MemorySystem, *, collapse: bool = True,
                  record: bool = False) -> StepRun:
    """Simulate one step at total context `ctx` op by op. `collapse` repeats steady-state
    layers instead of simulating them; `record` keeps spans (times relative to the step)."""
    ops = prepare_ops(step, ctx, mem)
    sim = _Sim(step, mem, record=record)
    blocks = _blocks(step)
    full = sum(len(idx) * layers for idx, layers in blocks)
    pos = 0
    for bid, (idx, layers) in enumerate(blocks):
        after = blocks[bid + 1][0][0] if bid + 1 < len(blocks) else None  # first op of the next block
        marks: list[tuple] = []
        layer = 0
        while layer < layers:
            for j, i in enumerate(idx):
                if j + 1 < len(idx):
                    nxt = idx[j + 1]
                else:
                    nxt = idx[0] if layer + 1 < layers else after
                sim.run_op(pos, ops[i], ops[nxt] if nxt is not None else None, layer)
                pos += 1
            layer += 1
            if not (collapse and layers > STEADY_LAYERS and layer < layers):
                continue
            # end of a layer of a long block: once two consecutive layers take the same time,
            # the pipeline is in steady state and the remaining layers repeat the last one
            marks.append(sim.snapshot())
            if len(marks) >= 3:
                p_last, p_prev = marks[-1][0] - marks[-2][0], marks[-2][0] - marks[-3][0]
                if abs(p_last - p_prev) <= STEADY_TOL * max(p_last, 1e-30):
                    remaining = layers - layer
                    sim.shift(p_last, marks[-2], marks[-1], remaining, positions=remaining * len(idx))
                    pos += remaining * len(idx)
                    layer = layers
    tiers = {}
    acts = {}
    busy = {}
    energy = {}
    for tier, ch in sim.chan.items():
        n = ch.spec.channels
        tiers[tier] = (ch.read_bytes * n, ch.write_bytes * n)
        acts[tier] = ch.acts * n
        busy[tier] = ch.busy_s
        if ch.spec.banked:
            energy[tier] = n * ch.spec.dynamic_energy_j(acts=ch.acts, read_bytes=ch.read_bytes,
                                                        write_bytes=ch.write_bytes)
    return StepRun(duration_s=sim.t, class_time_s=sim.class_s, channel_bytes=tiers, channel_acts=acts,
                   channel_busy_s=busy, dram_energy_j=energy, op_instances=sim.instances, op_instances_full=full,
                   spans=sim.spans)


def analytic_step_s(step: MappedStep, ctx: float) -> float:
    return float(step.step_times_s(np.array([ctx]))[0])
