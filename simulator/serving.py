"""Serving in the DES: request streams, static or continuous batching, KV capacity,
prefill and decode on the same or on different devices.

Devices run one step at a time. With one device, new requests are prefilled between
decode steps (`Schedule.PREFILL_FIRST`, the default: a new prompt's whole prefill, in its
passes, runs before the next decode step) and, with continuous batching, join the running
batch at the next step; or (`Schedule.MIXED`, vLLM V1's scheduler and Sarathi-Serve's
stall-free batching) every step carries one token of each running sequence and fills the
rest of a token budget with prefill chunks, first come first served, in one step that reads
the weights once (`StepMapper.mixed`). With static batching a batch is formed when the
device is idle and runs to completion. With prefill and decode on different devices, each has its
own loop; a prefilled request's KV cache crosses the link between them before it can
decode (its first token is out when its prefill ends).

Arrivals: the requests' own times (a fixed batch at t = 0, Poisson, a trace), or a closed-loop
client (`ServingPolicy.concurrency` = N, `vllm bench serve --max-concurrency N`): N requests
sent at t = 0 and the next one each time a request ends, so each arrives when it is sent.

KV capacity: a request reserves its whole KV (prompt + generated tokens, or the fixed
window) when admitted; `kv_policy` says what happens when the budget is full: `wait`
(stay queued, first come first served) or `reject` (drop it, counted). A request that could
never fit is rejected either way.

Every request reports TTFT (first token - arrival), TPOT ((finish - first token) /
(generated - 1)) and end-to-end latency; the result carries their percentiles, and those of
the inter-token latency (ITL: every gap between a request's successive token deliveries; a
speculative round delivers several tokens at once, one gap), where a decode step stalled by
another request's prefill shows even when a request's mean TPOT hides it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
import simpy

from slmsim.mapping import energy_boundary as eb
from slmsim.mapping.cost import Component
from slmsim.mapping.plan import StepMapper
from slmsim.simulator.decoding import RoundRunner
from slmsim.simulator.executor import Executor
from slmsim.simulator.memory_system import KV_BLOCK_TOKENS, MemoryModel, MemorySystem
from slmsim.simulator.result import SimResult
from slmsim.simulator.work import work_summary
from slmsim.workloads.decoding import Autoregressive
from slmsim.workloads.requests import Request


class Batching(StrEnum):
    STATIC = "static"
    CONTINUOUS = "continuous"


class KvPolicy(StrEnum):
    WAIT = "wait"  # reserve the whole KV (prompt + generated) at admission; queue when full
    REJECT = "reject"  # the same reservation; drop a request that does not fit now
    PAGED = "paged"  # vLLM: blocks as the sequence grows, preemption by recompute when out of blocks


class Schedule(StrEnum):
    """How one device shares its steps between prefill and decode (continuous batching)."""

    PREFILL_FIRST = "prefill-first"  # a new request's whole prefill runs before the next decode step
    MIXED = "mixed"  # every step: the running decodes + prefill chunks up to a token budget


@dataclass(frozen=True)
class ServingPolicy:
    batching: Batching = Batching.CONTINUOUS
    max_batch: int = 16
    kv_policy: KvPolicy = KvPolicy.WAIT
    channel_priority: bool = False  # decode transfers pre-empt prefill/handover on shared channels
    memory_model: MemoryModel = MemoryModel.BANKED  # ideal: the analytic engine's memory; banked: channels, banks, refresh
    schedule: Schedule = Schedule.PREFILL_FIRST
    step_tokens: int | None = None  # mixed: tokens a step may carry (decodes + prefill chunks)
    # a closed-loop client (vllm bench serve --max-concurrency N): N requests out at once, the
    # next sent when one ends, so a request arrives when it is sent (the requests' own arrival
    # times are ignored, their order is kept)
    concurrency: int | None = None


@dataclass
class _Live:
    req: Request
    admitted_s: float = math.nan
    first_token_s: float = math.nan
    finished_s: float = math.nan
    generated: int = 0
    prefilled: int = 0  # prompt tokens prefilled so far (mixed schedule)
    last_token_s: float = math.nan  # when its latest tokens came out
    kv_tokens: int = 0  # tokens whose K/V are stored (paged)
    resume_tokens: int = 0  # paged, after a preemption: prompt + generated tokens to prefill again
    preemptions: int = 0
    kv_bytes: float = 0.0
    rejected: bool = False


@dataclass
class _State:
    waiting: deque[_Live] = field(default_factory=deque)  # arrived, not admitted
    ready: deque[_Live] = field(default_factory=deque)  # prefilled (and handed over), not decoding yet
    running: list[_Live] = field(default_factory=list)
    prefilling: list[_Live] = field(default_factory=list)  # admitted, prompt partly prefilled (mixed schedule)
    mixed_steps: int = 0
    preemptions: int = 0
    recomputed_tokens: int = 0  # prompt + generated tokens prefilled again after preemptions
    mixed_decode_tokens: int = 0
    mixed_prefill_tokens: int = 0
    kv_reserved: float = 0.0
    kv_peak: float = 0.0
    done: int = 0
    decode_steps: int = 0
    decode_tokens: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    gaps_s: list[float] = field(default_factory=list)  # between a request's successive token deliveries


class _Sim:
    def __init__(self, mapper: StepMapper, requests: list[Request], policy: ServingPolicy, *,
                 trace_steps: int, seed: int) -> None:
        self.m = mapper
        self.policy = policy
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)  # reserved for stochastic models (acceptance, routing)
        self.lives = [_Live(r) for r in requests]
        # not yet arrived (open arrivals) or not yet sent (closed loop), in order of arrival
        self.unsent: deque[_Live] = deque(sorted(self.lives, key=lambda x: (x.req.arrival_s, x.req.id)))
        self.st = _State()
        self.trace_steps = trace_steps
        self.traced = 0
        steps = [mapper.prefill(mapper.scenario.prompt_tokens, 1), mapper.decode(1)]
        if mapper.draft is not None:
            steps += [mapper.draft.prefill(mapper.scenario.prompt_tokens, 1), mapper.draft.decode(1)]
        kv_streams = 2 * (1 if mapper.model.mla is not None else mapper.model.num_kv_heads)
        # one stream's share of a 16-token KV block: 16 x head_dim x KV bytes (MLA: the latent)
        block = KV_BLOCK_TOKENS * mapper.kv_bytes_per_token() / mapper.model.num_layers / kv_streams
        self.memory = MemorySystem.from_hardware(mapper.hw, model=policy.memory_model, kv_streams=kv_streams,
                                                 kv_block_bytes=block)
        self.ex = Executor.for_steps(self.env, steps, priority=policy.channel_priority, memory=self.memory)
        self.handover = mapper.handover()
        if self.handover is not None:
            name, bw, _, _ = self.handover
            self.ex.add_channel(f"link:{name}", bw)
        self.handover_bytes = 0.0
        self.handover_s = 0.0  # time KV hand-overs took (decode's, as the analytic engine counts it)
        self.same_device = mapper.prefill_device == mapper.decode_device
        self.kv_budget = mapper.kv_budget_bytes()
        self.kv_per_token = mapper.kv_bytes_per_token()
        # sliding-window layers: their share of every block, and their window (paged KV frees what leaves it)
        self.window_share, self.window_tokens = (mapper.model.local_attention() if mapper.scenario.windowed_kv_cache
                                                 else (0.0, math.inf))
        self.wake_decode = self.env.event()
        self.wake_prefill = self.env.event()
        self.group_size = 0  # static batching across devices: the batch the decode side waits for
        self.pipe = mapper.stage_pipeline() if isinstance(mapper.scenario.decoding, Autoregressive) else None
        self.rounds = RoundRunner(mapper, self.rng)

    # --- bookkeeping -----------------------------------------------------------------

    def kv_need(self, r: Request) -> float:
        return self.m.kv_bytes_for(r.prompt_tokens, r.gen_tokens)

    # --- paged KV (KvPolicy.PAGED) ----------------------------------------------------

    def blocks(self, tokens: int) -> int:
        return -(-tokens // KV_BLOCK_TOKENS)

    def paged_blocks(self, tokens: int) -> float:
        """Blocks (of every layer's K/V) a sequence of `tokens` positions holds: all of them, less,
        in the sliding-window layers' share of each block, the blocks wholly before the last W
        positions, which vLLM's sliding-window manager frees (docs/decoding.md, sliding windows)."""
        full = self.blocks(tokens)
        if not self.window_share:
            return full
        return full - self.window_share * (max(0, tokens - self.window_tokens) // KV_BLOCK_TOKENS)

    @property
    def block_bytes(self) -> float:
        return KV_BLOCK_TOKENS * self.kv_per_token

    @property
    def total_blocks(self) -> int:
        return int(self.kv_budget // self.block_bytes)

    def prefill_len(self, live: _Live) -> int:
        """Tokens the request's (next) prefill runs over: its prompt, or after a preemption
        its prompt and every token generated so far (vLLM's recompute)."""
        return live.resume_tokens or live.req.prompt_tokens

    def _hold(self, live: _Live, blocks: float) -> None:
        live.kv_bytes += blocks * self.block_bytes
        self.st.kv_reserved += blocks * self.block_bytes
        self.st.kv_peak = max(self.st.kv_peak, self.st.kv_reserved)

    def grow(self, running: list[_Live]) -> None:
        """Paged: before a decode step, each running sequence gets the block its next token's
        K/V needs; when none is free, the newest running sequences are preempted (their blocks
        freed, back to the head of the queue, to be prefilled again), vLLM's policy."""
        if self.policy.kv_policy is not KvPolicy.PAGED:
            return
        for live in list(running):
            if live not in running:
                continue  # preempted for an older one
            need = self.paged_blocks(live.kv_tokens + 1) - round(live.kv_bytes / self.block_bytes, 9)
            while need > 0 and self.st.kv_reserved + need * self.block_bytes > self.kv_budget * (1 + 1e-12):
                victim = running[-1]
                self.preempt(victim, running)
                if victim is live:
                    break
            if live in running and need:
                self._hold(live, need)  # < 0: a sliding-window layer's oldest block left its window

    def preempt(self, live: _Live, running: list[_Live]) -> None:
        running.remove(live)
        self.st.kv_reserved -= live.kv_bytes
        live.kv_bytes = 0.0
        live.kv_tokens = 0
        live.prefilled = 0
        live.resume_tokens = live.req.prompt_tokens + live.generated
        live.preemptions += 1
        self.st.preemptions += 1
        self.st.waiting.appendleft(live)

    def notify(self) -> None:
        for ev in (self.wake_decode, self.wake_prefill):
            if not ev.triggered:
                ev.succeed()

    def waiter(self, which: str) -> simpy.Event:
        if which == "decode":
            if self.wake_decode.triggered:
                self.wake_decode = self.env.event()
            return self.wake_decode
        if self.wake_prefill.triggered:
            self.wake_prefill = self.env.event()
        return self.wake_prefill

    def all_settled(self) -> bool:
        return self.st.done == len(self.lives)

    def admit(self, limit: int) -> list[_Live]:
        """Take waiting requests (FIFO) within `limit` and the KV budget."""
        out: list[_Live] = []
        paged = self.policy.kv_policy is KvPolicy.PAGED
        while self.st.waiting and len(out) < limit:
            live = self.st.waiting[0]
            need = self.kv_need(live.req)
            if paged:  # the whole sequence must fit some day; now, the blocks of its prefill
                if self.paged_blocks(live.req.prompt_tokens + live.req.gen_tokens) > self.total_blocks:
                    self.st.waiting.popleft()
                    self.reject(live)
                    continue
                need = self.paged_blocks(self.prefill_len(live)) * self.block_bytes
            if need > self.kv_budget:
                self.st.waiting.popleft()
                self.reject(live)
                continue
            if self.st.kv_reserved + need > self.kv_budget:
                if self.policy.kv_policy is KvPolicy.REJECT:
                    self.st.waiting.popleft()
                    self.reject(live)
                    continue
                break  # wait for memory to free, head of line keeps its place
            self.st.waiting.popleft()
            self.st.kv_reserved += need
            self.st.kv_peak = max(self.st.kv_peak, self.st.kv_reserved)
            live.kv_bytes = need
            if live.preemptions == 0:
                live.admitted_s = self.env.now
            out.append(live)
        return out

    def delivered(self, live: _Live) -> None:
        """`live` got tokens now: the gap since its previous ones is an inter-token latency."""
        self.st.gaps_s.append(self.env.now - live.last_token_s)
        live.last_token_s = self.env.now

    def reject(self, live: _Live) -> None:
        live.rejected = True
        live.finished_s = self.env.now
        self.st.done += 1
        if self.policy.concurrency is not None:
            self.release()

    def finish(self, live: _Live) -> None:
        live.finished_s = self.env.now
        self.st.kv_reserved -= live.kv_bytes
        self.st.done += 1
        if self.policy.concurrency is not None:
            self.release()
        self.notify()

    def record(self) -> bool:
        if self.traced < self.trace_steps:
            self.traced += 1
            return True
        return False

    # --- processes ---------------------------------------------------------------------

    def release(self) -> None:
        """Closed loop: send the next request now (it arrives now)."""
        if self.unsent:
            live = self.unsent.popleft()
            live.req = replace(live.req, arrival_s=self.env.now)
            self.st.waiting.append(live)
            self.notify()

    def arrivals(self) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(0)  # a generator even when the closed loop sends everything at once
        if self.policy.concurrency is not None:  # closed loop: the first N now, then one per request that ends
            for _ in range(self.policy.concurrency):
                self.release()
            return
        while self.unsent:  # in order of arrival
            live = self.unsent.popleft()
            delay = live.req.arrival_s - self.env.now
            if delay > 0:
                yield self.env.timeout(delay)
            self.st.waiting.append(live)
            self.notify()

    def _prefill_passes(self, mapper: StepMapper, prompt: int, n: int, what: str) -> Generator[simpy.Event, None, None]:
        """The passes of one batch's prefill (one, unless the scenario chunks it), in order
        (`prefill_passes` lists them by ascending context)."""
        runs = [(float(c), step) for step, ctx in mapper.prefill_passes(prompt, n) for c in ctx]
        for i, (ctx, step) in enumerate(runs):
            label = f"{what} x{n}" if len(runs) == 1 else f"{what} x{n} pass {i + 1}/{len(runs)}"
            yield from self.ex.run(step, ctx, label=label, record=self.record())

    def prefill(self, group: list[_Live]) -> Generator[simpy.Event, None, None]:
        """Prefill admitted requests, batched by equal prompt length."""
        by_prompt: dict[int, list[_Live]] = {}
        for live in group:
            by_prompt.setdefault(self.prefill_len(live), []).append(live)
        for prompt, lives in by_prompt.items():
            yield from self._prefill_passes(self.m, prompt, len(lives), "prefill")
            if self.m.draft is not None:  # the draft model needs the prompt's KV too
                yield from self._prefill_passes(self.m.draft, prompt, len(lives), "draft prefill")
            for live in lives:
                self.prefill_done(live)
            self.rounds.prefilled(len(lives))
        for live in group:
            if live.generated >= live.req.gen_tokens:
                self.finish(live)
                if self.group_size:
                    self.group_size -= 1
            elif self.handover is not None:
                self.env.process(self.hand_over(live))
            else:
                self.st.ready.append(live)
        self.notify()

    def prefill_done(self, live: _Live) -> None:
        """A prefill's logits are a token: the first one, or (a preempted request prefilled again
        over its prompt and its tokens so far) the next one."""
        if live.resume_tokens:
            self.st.recomputed_tokens += live.resume_tokens
            live.kv_tokens, live.resume_tokens = live.resume_tokens, 0
            live.generated += 1
            self.delivered(live)
        else:
            live.first_token_s = live.last_token_s = self.env.now
            live.kv_tokens = live.req.prompt_tokens
            live.generated = 1

    def hand_over(self, live: _Live) -> Generator[simpy.Event, None, None]:
        name, _, _, latency = self.handover
        nbytes = self.m.prefill_kv_bytes(live.req.prompt_tokens)
        start = self.env.now
        if latency:
            yield self.env.timeout(latency)
        yield self.ex.channels[f"link:{name}"].transfer(nbytes)
        self.handover_bytes += nbytes
        self.handover_s += self.env.now - start
        if self.traced < self.trace_steps:
            self.ex.span(f"KV handover r{live.req.id}", "handover", f"link:{name}", "transfers", start,
                         self.env.now - start, {"bytes": nbytes})
        self.st.ready.append(live)
        self.notify()

    def decode_step(self, batch: list[_Live]) -> Generator[simpy.Event, None, None]:
        """One decode round: a step (autoregressive, multipath) or draft steps + verification."""
        self.grow(batch)
        if not batch:
            return  # every sequence was preempted for blocks
        if self.pipe is not None:
            seq_ctx = [float(self.m.context_tokens(live.req.prompt_tokens, live.generated)) for live in batch]
            yield from self.ex.run_pipelined(self.pipe, seq_ctx, label=f"decode x{len(batch)}", record=self.record())
            gained = [1] * len(batch)
        else:
            gained = yield from self.rounds.run(self.ex, batch, record=self.record())
        self.decoded(batch, gained)

    def decoded(self, batch: list[_Live], gained: list[int]) -> None:
        """A step gave each sequence of `batch` its `gained` tokens: count them, and let the
        sequences that have all their tokens leave the batch."""
        self.st.decode_steps += 1
        self.st.decode_tokens += int(sum(gained))
        self.st.batch_sizes.append(len(batch))
        for live, g in zip(batch, gained):
            live.generated += g
            live.kv_tokens += g
            if g:
                self.delivered(live)
        for live in [x for x in batch if x.generated >= x.req.gen_tokens]:
            batch.remove(live)
            self.finish(live)

    def mixed_loop(self) -> Generator[simpy.Event, None, None]:
        """Prefill and decode on one device, in mixed steps (vLLM V1's scheduler, Sarathi-Serve's
        stall-free batching): each step carries one token of every running sequence, then the
        rest of the token budget goes to the prompts being prefilled, first come first served
        (a prompt's next chunk, then the next prompt's), every weight read once for all of them."""
        p, st = self.policy, self.st
        assert p.step_tokens is not None and p.step_tokens >= 1
        while not self.all_settled():
            self.grow(st.running)  # paged KV: may send the newest sequences back to the queue
            room = p.max_batch - len(st.running) - len(st.prefilling)
            if room > 0:
                st.prefilling += self.admit(room)
            b = len(st.running)
            budget = p.step_tokens - b
            chunks: list[tuple[int, int, bool]] = []
            for live in st.prefilling:
                if budget <= 0:
                    break
                target = self.prefill_len(live)
                w = min(budget, target - live.prefilled)
                chunks.append((w, live.prefilled, live.prefilled + w == target))
                budget -= w
            if not chunks:
                if b:
                    yield from self.decode_step(st.running)
                else:
                    yield self.waiter("decode")
                continue
            owners = st.prefilling[:len(chunks)]
            if b == 0 and len(chunks) == 1:  # one prompt's chunk alone: a prefill pass at its offset
                w, offset, last = chunks[0]
                step = self.m.prefill(self.prefill_len(owners[0]), 1, tokens_per_seq=w, logits=last)
                ctx, label = float(offset), f"prefill x1 chunk {offset}+{w}"
            else:
                step = self.m.mixed(b, tuple(chunks))
                ctx = self.m.step_context(self.m.context_tokens(x.req.prompt_tokens, x.generated) for x in st.running)
                tokens = sum(w for w, _, _ in chunks)
                label = f"mixed x{b} + {tokens} prefill tokens" if b else f"prefill {len(chunks)} chunks, {tokens} tokens"
                if b:
                    st.mixed_steps += 1
                    st.mixed_decode_tokens += b
                    st.mixed_prefill_tokens += tokens
            yield from self.ex.run(step, ctx, label=label, record=self.record())
            if b:
                self.decoded(st.running, [1] * b)
            for live, (w, _, last) in zip(owners, chunks):
                live.prefilled += w
                if not last:
                    continue
                st.prefilling.remove(live)
                self.prefill_done(live)
                self.rounds.prefilled(1)
                if live.generated >= live.req.gen_tokens:
                    self.finish(live)
                else:
                    st.running.append(live)

    def device_loop(self) -> Generator[simpy.Event, None, None]:
        """Prefill and decode on one device."""
        p = self.policy
        while not self.all_settled():
            if p.batching is Batching.STATIC:
                if not self.st.running and self.st.waiting:
                    group = self.admit(p.max_batch)
                    if group:
                        yield from self.prefill(group)
                        self.st.running = list(self.st.ready)
                        self.st.ready.clear()
                        while self.st.running:
                            yield from self.decode_step(self.st.running)
                        continue
                yield self.waiter("decode")
                continue
            room = p.max_batch - len(self.st.running) - len(self.st.ready)
            group = self.admit(room) if room > 0 else []
            if group:
                yield from self.prefill(group)
            self.st.running += list(self.st.ready)
            self.st.ready.clear()
            if self.st.running:
                yield from self.decode_step(self.st.running)
            elif not group:
                yield self.waiter("decode")

    def prefill_loop(self) -> Generator[simpy.Event, None, None]:
        """Prefill device of a split system: admits (KV is reserved on the decode side)."""
        p = self.policy
        while not self.all_settled():
            if p.batching is Batching.CONTINUOUS:
                # a prefill device works through arrivals on its own; the KV budget bounds how far ahead
                room = p.max_batch
            else:  # the next static batch forms once the previous one has left the decode device
                room = p.max_batch if self.group_size == 0 else 0
            group = self.admit(room) if room > 0 else []
            if group:
                if p.batching is Batching.STATIC:
                    self.group_size = len(group)
                yield from self.prefill(group)
            else:
                yield self.waiter("prefill")

    def decode_loop(self) -> Generator[simpy.Event, None, None]:
        p = self.policy
        while not self.all_settled():
            if p.batching is Batching.CONTINUOUS:
                while self.st.ready and len(self.st.running) < p.max_batch:
                    self.st.running.append(self.st.ready.popleft())
            elif not self.st.running and self.group_size and len(self.st.ready) == self.group_size:
                self.st.running = list(self.st.ready)
                self.st.ready.clear()
            if self.st.running:
                yield from self.decode_step(self.st.running)
                if p.batching is Batching.STATIC and not self.st.running:
                    self.group_size = 0
                    self.notify()
            else:
                yield self.waiter("decode")


def run_serving(mapper: StepMapper, requests: list[Request], policy: ServingPolicy = ServingPolicy(), *,
                trace_steps: int = 0, seed: int = 0, engine_name: str = "des") -> SimResult:
    sim = _Sim(mapper, requests, policy, trace_steps=trace_steps, seed=seed)
    env = sim.env
    env.process(sim.arrivals())
    if sim.same_device:
        mixed = policy.schedule is Schedule.MIXED and policy.batching is Batching.CONTINUOUS
        env.process(sim.mixed_loop() if mixed else sim.device_loop())
    else:
        env.process(sim.prefill_loop())
        env.process(sim.decode_loop())
    env.run()
    return _result(sim, engine_name)


def _memory_summary(sim: _Sim, makespan: float) -> dict:
    """The memory model, its channels, how many op-level simulations it took, and (banked)
    the refresh and background energy a DRAMPower-style count gives over the makespan. The
    latter two are reported, not charged: the tier's `background_power` is the charged figure."""
    out: dict = {"op_level_simulations": sim.ex.costs.simulations if sim.ex.costs else 0,
                 "op_instances_simulated": sim.ex.costs.op_instances if sim.ex.costs else 0,
                 "tiers": sim.memory.summary()}
    counters = sim.ex.memory_counters()
    for name, d in out["tiers"].items():
        c = counters.get(name)
        if c is None:
            continue
        d.update(c)
        sp = sim.memory.channels[name]
        if not (sim.memory.banked and sp.banked and sp.timing is not None):
            continue
        burst = sp.timing.burst_bytes
        bursts = (c["read_bytes"] + c["write_bytes"]) / burst
        d["row_buffer_hit_rate"] = 1.0 - c["activations"] / bursts if bursts > 0 else None
        # DRAMPower-style split of the tier's dynamic energy (what the banked model charges) and,
        # reported only, refresh and background over the makespan
        d["energy_j"] = {
            "activate_precharge": c["activations"] * sp.act_energy_j,
            "read_bursts": c["read_bytes"] / burst * sp.read_burst_energy_j,
            "write_bursts": c["write_bytes"] / burst * sp.write_burst_energy_j,
            "io": (c["read_bytes"] + c["write_bytes"]) * 8.0 * sp.io_energy_per_bit_j,
            "refresh (not charged)": makespan / sp.timing.trefi_s * sp.channels * sp.refresh_energy_j,
            "background (not charged)": makespan * sp.background_power_w * sp.channels,
        }
    return out


def _pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    a = np.asarray(values)
    p50, p90, p99 = np.percentile(a, [50, 90, 99]).tolist()  # one call: numpy's set-up is most of its cost
    return {"mean": float(a.mean()), "p50": p50, "p90": p90, "p99": p99, "max": float(a.max())}


def idle_time_s(spans: list[tuple[float, float]], makespan_s: float) -> float:
    """Time in [0, makespan] that no request spends in the system (arrival to finish or
    rejection): the serving loop is work-conserving, so nothing runs then."""
    covered, reach = 0.0, 0.0
    for start, end in sorted((a, f) for a, f in spans if math.isfinite(a) and math.isfinite(f)):
        start, end = max(start, reach), min(end, makespan_s)
        if end > start:
            covered += end - start
            reach = end
    idle = makespan_s - covered
    return idle if idle > 1e-12 * max(makespan_s, 1e-30) else 0.0


def saturated_batch(sim: _Sim, prompt: int, gen: int) -> int:
    """The most sequences of (prompt, gen) the decode device can run at once: max batch, and
    what the KV budget holds (a whole reservation each under wait / reject; under paged KV
    the blocks of the mean life, prompt + gen / 2)."""
    if sim.policy.kv_policy is KvPolicy.PAGED:
        need = sim.blocks(prompt + gen // 2) * sim.block_bytes
    else:
        need = sim.m.kv_bytes_for(prompt, gen)
    fits = int(sim.kv_budget // need) if need > 0 else sim.policy.max_batch
    return max(1, min(sim.policy.max_batch, fits))


def work_per_request_s(sim: _Sim, prompt: int, gen: int, batch: int) -> dict[str, float]:
    """Seconds each device (and a hand-over link) spends per request when `batch` requests of
    (prompt, gen) share every step: the analytic segments of that batch (prefill, decode and
    the strategy's draft / verify steps; a stage-pipelined CIM decode as its pipeline runs it)
    over `batch`."""
    from slmsim.simulator.decoding import analytic_segments

    out: dict[str, float] = {}
    for seg in analytic_segments(sim.m, batch=batch, prompt=prompt, gen=gen):
        if sim.pipe is not None and seg.role == "decode":
            continue
        out[seg.step.device] = out.get(seg.step.device, 0.0) + float(seg.times_s().sum()) / batch
    if sim.pipe is not None and gen > 1:
        seq_ctx = sim.m.model.decoder_prefix_tokens(prompt) + 1 + np.arange(gen - 1, dtype=float)
        step_s = sim.pipe.step_times_s(seq_ctx, batch)
        dev = sim.pipe.step.device
        out[dev] = out.get(dev, 0.0) + float(step_s.sum()) / batch
    if sim.handover is not None:
        name, bw, _, _ = sim.handover
        out[f"link:{name}"] = sim.m.prefill_kv_bytes(prompt) / bw
    return out


def _offered_load(sim: _Sim) -> float | None:
    """Arrival rate x the busiest device's work per request at its most efficient batch: the
    share of its capacity the stream asks for. Every phase is priced at the largest batch
    that fits (`saturated_batch`), prefill included, so this is a lower bound on the load the
    DES serves; above 1 even full batches cannot keep up, the queue grows through the run and
    latency grows with the number of requests (no steady state). Rate: (n - 1) / arrival span;
    a stream of several shapes is priced at its mean prompt and generation. None for a closed
    loop (it regulates itself) and when every request arrives at once."""
    if sim.policy.concurrency is not None:
        return None
    arrivals = sorted(x.req.arrival_s for x in sim.lives)
    n = len(arrivals)
    if n < 2 or arrivals[-1] <= arrivals[0]:
        return None
    prompt = max(1, round(sum(x.req.prompt_tokens for x in sim.lives) / n))
    gen = max(1, round(sum(x.req.gen_tokens for x in sim.lives) / n))
    work = work_per_request_s(sim, prompt, gen, saturated_batch(sim, prompt, gen))
    return (n - 1) / (arrivals[-1] - arrivals[0]) * max(work.values())


def _result(sim: _Sim, engine_name: str) -> SimResult:
    ex, m, st = sim.ex, sim.m, sim.st
    ex.finalize()
    makespan = sim.env.now
    served = [x for x in sim.lives if not x.rejected]
    energy: dict[str, float] = {c.value: v for c, v in ex.dynamic_energy_j().items()}
    dynamic_j = sum(energy.values())
    link_j = 0.0
    if sim.handover is not None:
        link_j = sim.handover_bytes * 8.0 * sim.handover[2]
        energy[Component.LINK.value] = energy.get(Component.LINK.value, 0.0) + link_j
    always_on_w = sum(m.always_on_power_w.values())
    static = always_on_w * makespan
    # a device's active power goes to the phase it ran (prefill on one device and decode on
    # another: each its own)
    active_by_phase = {ph: [(m.active_power_w.get(d, 0.0), t) for (d, p), t in ex.device_phase_busy_s.items()
                            if p == ph] for ph in ("prefill", "decode")}
    active_j = {ph: sum(w * t for w, t in pairs) for ph, pairs in active_by_phase.items()}
    energy[Component.STATIC.value] = energy.get(Component.STATIC.value, 0.0) + static + sum(active_j.values())
    # the always-on power of the gaps with no request in the system (before the first arrival,
    # between a stream's requests) is idle energy: in the run's total, in neither phase
    idle_s = idle_time_s([(x.req.arrival_s, x.finished_s) for x in sim.lives], makespan)
    idle_j = always_on_w * idle_s
    prefill_dyn = ex.phase_energy_j("prefill")
    # decode energy is every step that is not prefill: target passes, and the draft steps of
    # self-speculation (phase "draft"), as decode time below counts them
    decode_dyn = dynamic_j - prefill_dyn
    prefill_busy = sum(ex.class_time_s.get("prefill", {}).values())
    # decode time includes the draft steps of (self-)speculative decoding (phase "draft")
    decode_busy = sum(sum(v.values()) for k, v in ex.class_time_s.items() if k != "prefill")
    # always-on energy split between phases by their share of busy time (the hand-overs with decode)
    busy = prefill_busy + decode_busy + sim.handover_s  # a KV hand-over counts with decode (as analytic)
    pre_share = prefill_busy / busy if busy > 0 else 0.0
    always_on_j = static - idle_j
    # the same energies by layer (mapping.energy_boundary)
    always_on_layers: dict[str, float] = {}
    eb.add_static(always_on_layers, m.always_on_power_w, m.always_on_layer, makespan - idle_s)
    layers: dict[str, dict[str, float]] = {"prefill": eb.scaled(always_on_layers, pre_share),
                                           "decode": eb.scaled(always_on_layers, 1.0 - pre_share)}
    for ph, pairs in active_by_phase.items():
        eb.add_static(layers[ph], {}, {}, 0.0, pairs)
    if idle_s > 0:
        layers["idle"] = {}
        eb.add_static(layers["idle"], m.always_on_power_w, m.always_on_layer, idle_s)
    eb.add_dynamic(layers["prefill"], ex.phase_components_j("prefill"))
    for phase in sorted({run[0].phase for run in ex.step_runs()} - {"prefill"}):
        eb.add_dynamic(layers["decode"], ex.phase_components_j(phase))
    if link_j:
        eb.add_dynamic(layers["decode"], {Component.LINK: link_j})
    ttft = [x.first_token_s - x.req.arrival_s for x in served]
    tpot = [(x.finished_s - x.first_token_s) / (x.req.gen_tokens - 1) for x in served if x.req.gen_tokens > 1]
    e2e = [x.finished_s - x.req.arrival_s for x in served]
    generated = sum(x.req.gen_tokens for x in served)
    busy_time = {name: ch.busy_time_s for name, ch in ex.channels.items()}
    busy_time.update(ex.compute_busy_s)
    serving = {
        "requests": len(sim.lives), "completed": len(served), "rejected": len(sim.lives) - len(served),
        "makespan_s": makespan, "idle_s": idle_s, "throughput_tokens_per_s": generated / makespan if makespan > 0 else None,
        "mean_decode_batch": float(np.mean(st.batch_sizes)) if st.batch_sizes else None,
        "ttft_s": _pct(ttft), "tpot_s": _pct(tpot), "e2e_s": _pct(e2e), "itl_s": _pct(sim.st.gaps_s),
        "kv_budget_bytes": sim.kv_budget,
        "schedule": sim.policy.schedule.value if sim.same_device else "split devices",
        "concurrency": sim.policy.concurrency,
        "step_tokens": sim.policy.step_tokens if sim.policy.schedule is Schedule.MIXED else None,
        "mixed_steps": st.mixed_steps,
        "decode_only_steps": st.decode_steps - st.mixed_steps,
        "kv_policy": sim.policy.kv_policy.value,
        "preemptions": st.preemptions,
        "recomputed_tokens": st.recomputed_tokens,
        "offered_load": _offered_load(sim),
    }
    extra: dict = {"des_events": ex.events, "serving": serving, "decoding": sim.m.scenario.decoding.strategy,
                   **sim.rounds.summary(), "work": work_summary(ex.step_runs(), decode_tokens=st.decode_tokens - st.mixed_decode_tokens,
                                         mixed_tokens=(st.mixed_decode_tokens, st.mixed_prefill_tokens)),
                   "memory_model": sim.memory.model.value, "memory_system": _memory_summary(sim, makespan)}
    if ex.trace:
        for live in served:
            ex.span(f"request {live.req.id}", "request", "requests", f"request {live.req.id}", live.req.arrival_s,
                    live.finished_s - live.req.arrival_s,
                    {"ttft_s": live.first_token_s - live.req.arrival_s, "prompt": live.req.prompt_tokens,
                     "gen": live.req.gen_tokens})
        extra["trace"] = ex.trace
    return SimResult(
        engine=engine_name,
        requests=max(len(served), 1),
        prefill_time_s=prefill_busy,
        ttft_sum_s=float(sum(ttft)),
        decode_time_s=decode_busy,
        # token positions per sequence: tokens decoded / mean batch (rounds for autoregressive)
        decode_steps=(st.decode_tokens / float(np.mean(st.batch_sizes))) if st.batch_sizes else 0,
        decode_tokens=st.decode_tokens,
        generated_tokens=generated,
        prefill_energy_j=prefill_dyn + always_on_j * pre_share + active_j["prefill"],
        decode_energy_j=decode_dyn + always_on_j * (1 - pre_share) + active_j["decode"] + link_j,
        idle_energy_j=idle_j,
        energy_breakdown_j=energy,
        energy_layers_j=layers,
        latency_breakdown_s=ex.class_time_s,
        busy_time_s=busy_time,
        memory_footprint_bytes={"kv_cache_peak": st.kv_peak, "kv_budget": sim.kv_budget},
        weight_mode=dict(m.modes),
        makespan_s=makespan,
        extra=extra,
    )
