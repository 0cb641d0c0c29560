"""Decoding strategies in the engines: expected in the analytic engine, sampled in the DES.

A *round* is what one target pass yields: autoregressive and multipath decode one token
per sequence per step; speculative and self-speculative run `draft_len` draft steps then
one verification pass over all candidates; lexical-unit verifies a window per step.

Analytic: a round gains 1 + k tokens for a sequence, k the accepted draft tokens, with
P(k >= i) = a^i up to the draft length (tree: the product over depths of 1 - (1 - a)^b;
lexical unit: the window - 1 positions after the kept token; a replayed CSV: its
empirical law), so E = (1 - a^(g+1)) / (1 - a) tokens per round for a chain. Each
sequence needs `gen - 1` tokens after prefill, and the batch shrinks as sequences finish
(as in the DES: a finished sequence leaves the batch). `rounds_profile` gives, by exact
dynamic programming over one sequence's token count, P(a sequence is still live at round
r) and its expected tokens so far; sequences are independent, so the live count at round
r is Binomial(batch, p_r). The expected time and energy are then exact sums over affine
step costs: round r runs the step of batch b with probability P(live = b), at the context
b x (prompt prefix + 1 + the live sequences' expected tokens so far). At batch 1 this is
E[rounds] = (gen - 1 + E[overshoot]) / E rounds (Wald), slightly more than (gen - 1) / E;
at batch B it counts the slowest sequence's rounds, which a batch-wide E cannot
(E[max of 4 sequences' rounds] is 7% above the mean at a = 0.7, g = 3, gen 128). Elastic
self-speculation that speculates only *above* a batch threshold switches mode as the batch
shrinks; there the mean-rate model (E per round, the last round fractional) is kept and
the DES differs from it in the tail (docs/engines.md).

DES: each sequence's accepted count is sampled every round, position by position up to the
first rejection (speculative, self-speculative, lexical unit), or replayed from a CSV; MoE
routing is sampled per step and, with an expert cache, the caches are simulated, so each
step is mapped with the distinct experts and hit rate it really had (drawn and simulated in
blocks of steps by `workloads.routing.MoeRouter`; the same law as step by step).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

from slmsim.mapping.cost import MappedStep
from slmsim.mapping.plan import StepMapper
from slmsim.workloads.decoding import (
    Autoregressive,
    LexicalUnit,
    Multipath,
    SelfSpeculative,
    Speculative,
    expected_tokens_per_pass,
    expected_tokens_tree,
    read_accepted_csv,
    sample_accepted,
    sample_accepted_tree,
    tree_nodes,
)
from slmsim.workloads.routing import MoeRouter


@dataclass(frozen=True)
class Segment:
    """Runs of one mapped step: total context and (fractional) count of each run."""

    role: str  # prefill | draft_prefill | decode | draft | verify
    step: MappedStep
    ctx: np.ndarray
    weight: np.ndarray

    def times_s(self) -> np.ndarray:
        return self.step.step_times_s(self.ctx) * self.weight

    def op_times_s(self) -> np.ndarray:
        return self.step.op_times_s(self.ctx) @ self.weight


def verify_width(dec: object) -> int:
    if isinstance(dec, (Speculative, SelfSpeculative)):
        return (tree_nodes(dec.tree) if dec.tree else dec.draft_len) + 1
    if isinstance(dec, LexicalUnit):
        return dec.window
    return 1


def tokens_per_round(dec: object) -> float:
    if isinstance(dec, Speculative):
        if dec.acceptance_csv:
            accepted = read_accepted_csv(Path(dec.acceptance_csv))
            return 1.0 + float(np.mean(accepted)) if accepted else 1.0
        return expected_tokens_tree(dec.acceptance, dec.tree) if dec.tree else expected_tokens_per_pass(
            dec.acceptance, dec.draft_len)
    if isinstance(dec, SelfSpeculative):
        return expected_tokens_tree(dec.acceptance, dec.tree) if dec.tree else expected_tokens_per_pass(
            dec.acceptance, dec.draft_len)
    if isinstance(dec, LexicalUnit):
        return dec.tokens_per_step
    return 1.0


def speculating(dec: object, batch: int) -> bool:
    if isinstance(dec, SelfSpeculative):
        return dec.speculates_at(batch)
    return isinstance(dec, Speculative) and dec.draft_len > 0


def draft_widths(dec: object) -> list[int]:
    """Tokens per sequence of each draft step: 1 for a chain; a token tree's frontier (the
    nodes at depth j - 1 propose depth j's children), for a self-speculative draft and a
    separate draft model alike (until 2026-12-07 a draft model's tree was charged as a chain)."""
    g = dec.draft_len  # type: ignore[attr-defined]
    tree = getattr(dec, "tree", None)
    if tree:
        return [int(np.prod(tree[:j])) for j in range(g)]
    return [1] * g


def draft_step(mapper: StepMapper, dec: object, batch: int, width: int = 1) -> MappedStep:
    if isinstance(dec, SelfSpeculative):
        return mapper.self_draft(batch, width=width)
    assert mapper.draft is not None, "speculative decoding needs the draft model's mapper"
    return mapper.draft.verify(batch, width)  # `width` tokens per sequence in one pass (tree attention)


def gain_pmf(dec: object) -> np.ndarray:
    """P(a round gains j tokens for one sequence), j = 0..max (entry 0 is 0): one kept token
    plus the accepted draft (or lexical-unit) positions, as the DES samples them."""
    if isinstance(dec, Speculative) and dec.acceptance_csv:
        accepted = np.minimum(np.array(read_accepted_csv(Path(dec.acceptance_csv)), dtype=int), dec.draft_len)
        if accepted.size == 0:
            return np.array([0.0, 1.0])
        return np.bincount(accepted + 1, minlength=dec.draft_len + 2) / accepted.size
    if isinstance(dec, LexicalUnit):
        a, factors = dec.acceptance, [1] * (dec.window - 1)
    else:
        a = dec.acceptance  # type: ignore[attr-defined]
        factors = list(dec.tree) if dec.tree else [1] * dec.draft_len  # type: ignore[attr-defined]
    # P(depth >= j): every level up to j has its right continuation among the b candidates
    at_least = np.cumprod([1.0] + [1.0 - (1.0 - a) ** b for b in factors])
    depth = at_least - np.append(at_least[1:], 0.0)
    return np.concatenate([[0.0], depth])


ALIVE_TAIL = 1e-12  # rounds after which a sequence is live with less probability are dropped
MASS_TRIM = 1e-16  # probability mass trimmed off the far ends of the token-count distribution


def rounds_profile(pmf: np.ndarray, tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """One sequence needing `tokens` tokens, gaining `pmf` per round (i.i.d.): for each round
    r = 1, 2, ..., P(it is still live, i.e. has fewer than `tokens` before the round) and
    the expected tokens it has before the round given that it is live. Exact dynamic
    programming on the distribution of its token count (the far tails, below MASS_TRIM,
    dropped so that the work per round stays near the distribution's width)."""
    alive, before = [], []
    dist, lo = np.array([1.0]), 0  # P(count = lo + i), counts below `tokens` only
    while True:
        p = float(dist.sum())
        if p < ALIVE_TAIL or lo >= tokens:
            break
        alive.append(p)
        before.append(float(np.dot(np.arange(lo, lo + dist.size), dist)) / p)
        nxt = np.convolve(dist, pmf)[: max(0, tokens - lo)]  # counts lo .. tokens - 1
        c = np.cumsum(nxt)
        cut = int(np.searchsorted(c, MASS_TRIM))  # leading entries holding < MASS_TRIM of mass
        nxt, lo = nxt[cut:], lo + cut
        tail = np.cumsum(nxt[::-1])
        keep = nxt.size - int(np.searchsorted(tail, MASS_TRIM))
        dist = nxt[:keep]
    return np.array(alive), np.array(before)


@lru_cache(maxsize=128)
def _cached_profile(pmf: tuple[float, ...], tokens: int) -> tuple[np.ndarray, np.ndarray]:
    alive, before = rounds_profile(np.array(pmf), tokens)
    alive.setflags(write=False)
    before.setflags(write=False)
    return alive, before


def profile_of(dec: object, tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """`rounds_profile` of a strategy's per-round law, computed once per (law, tokens): a run
    asks for it for its segments, its tokens per pass and its decode steps."""
    return _cached_profile(tuple(gain_pmf(dec).tolist()), tokens)


def live_count_pmf(batch: int, alive: np.ndarray) -> np.ndarray:
    """(batch, rounds): P(exactly b of `batch` independent sequences are live), b = 1..batch."""
    b = np.arange(1, batch + 1, dtype=float)[:, None]
    log_comb = (math.lgamma(batch + 1) - np.vectorize(math.lgamma)(b + 1) - np.vectorize(math.lgamma)(batch - b + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(b > 0, b * np.log(alive)[None, :], 0.0)
        logq = np.where(batch - b > 0, (batch - b) * np.log1p(-alive)[None, :], 0.0)
    return np.nan_to_num(np.exp(log_comb + logp + logq), nan=0.0)


def _mode_switches(dec: object, batch: int) -> bool:
    """Whether a shrinking batch switches between speculating and not (elastic self-speculation)."""
    return isinstance(dec, SelfSpeculative) and len({dec.speculates_at(b) for b in range(1, batch + 1)}) > 1


def analytic_segments(mapper: StepMapper, *, batch: int, prompt: int, gen: int) -> list[Segment]:
    """Prefill and decode segments of one batch under the scenario's decoding strategy."""
    dec = mapper.scenario.decoding
    segs = [Segment("prefill", step, ctx, np.ones(len(ctx))) for step, ctx in mapper.prefill_passes(prompt, batch)]
    if isinstance(dec, Speculative) and mapper.draft is not None and dec.draft_len > 0:
        segs += [Segment("draft_prefill", step, ctx, np.ones(len(ctx)))
                 for step, ctx in mapper.draft.prefill_passes(prompt, batch)]
    remaining = gen - 1
    if remaining <= 0:
        return segs
    base = mapper.model.decoder_prefix_tokens(prompt)  # self-attention context after prefill
    if isinstance(dec, Multipath):
        widths = np.array([dec.width_at(t) for t in range(1, gen)])
        for w in sorted(set(widths.tolist())):
            idx = np.nonzero(widths == w)[0]
            b = batch * w
            segs.append(Segment("decode", mapper.decode(b), b * (base + 1 + idx.astype(float)), np.ones(len(idx))))
        return segs
    if isinstance(dec, Autoregressive) or not (speculating(dec, batch) or isinstance(dec, LexicalUnit)):
        ctx = batch * (base + 1 + np.arange(remaining, dtype=float))
        return [*(s for s in segs if s.role == "prefill"), Segment("decode", mapper.decode(batch), ctx, np.ones(remaining))]
    if not _mode_switches(dec, batch):
        return segs + _shrinking_batch_segments(mapper, dec, batch=batch, base=base, remaining=remaining)
    e = tokens_per_round(dec)
    rounds = math.ceil(remaining / e - 1e-12)
    length = base + 1 + e * np.arange(rounds)
    weight = np.ones(rounds)
    weight[-1] = (remaining - (rounds - 1) * e) / e
    segs.append(Segment("verify", mapper.verify(batch, verify_width(dec)), batch * length, weight))
    if speculating(dec, batch):
        widths = draft_widths(dec)
        for w in sorted(set(widths)):
            js = [j for j, wj in enumerate(widths) if wj == w]
            ctx = np.concatenate([batch * (length + j) for j in js])
            segs.append(Segment("draft", draft_step(mapper, dec, batch, w), ctx, np.tile(weight, len(js))))
    return segs


def _shrinking_batch_segments(mapper: StepMapper, dec: object, *, batch: int, base: int,
                              remaining: int) -> list[Segment]:
    """The verify (and draft) steps of every live batch size b, weighted by P(live = b) per round."""
    alive, before = profile_of(dec, remaining)
    length = base + 1 + before  # a live sequence's context at the round
    live = live_count_pmf(batch, alive)
    spec = speculating(dec, batch)
    widths = draft_widths(dec) if spec else []
    segs = []
    for b in range(batch, 0, -1):
        weight = live[b - 1]
        if not weight.any():
            continue
        segs.append(Segment("verify", mapper.verify(b, verify_width(dec)), b * length, weight))
        for w in sorted(set(widths)):
            js = [j for j, wj in enumerate(widths) if wj == w]
            ctx = np.concatenate([b * (length + j) for j in js])
            segs.append(Segment("draft", draft_step(mapper, dec, b, w), ctx, np.tile(weight, len(js))))
    return segs


def run_tokens_per_pass(dec: object, *, batch: int, gen: int) -> float:
    """Expected tokens a sequence gains per target pass over a run: (gen - 1) / E[rounds]
    (the DES's tokens over sequence-passes); the strategy's E where the mode switches."""
    if gen <= 1 or _mode_switches(dec, batch):
        return tokens_per_round(dec)
    alive, _ = profile_of(dec, gen - 1)
    return (gen - 1) / float(alive.sum())


def expected_decode_steps(dec: object, *, batch: int, gen: int) -> float:
    """The DES's `decode_steps` in expectation: decode tokens over the mean live batch of a
    round, (gen - 1) x E[rounds the batch runs] / E[rounds a sequence runs]; gen - 1 where
    every sequence runs every round (autoregressive, multipath, a mode switch)."""
    tokens = max(gen - 1, 0)
    if tokens == 0 or not (speculating(dec, batch) or isinstance(dec, LexicalUnit)) or _mode_switches(dec, batch):
        return float(tokens)
    alive, _ = profile_of(dec, tokens)
    batch_rounds = float(np.sum(1.0 - (1.0 - alive) ** batch))  # P(some sequence is live at round r)
    return tokens * batch_rounds / float(alive.sum())


# ----------------------------------------------------------------------------- DES


class RoundRunner:
    """Runs decode rounds of a batch in the DES, sampling what the analytic engine expects."""

    def __init__(self, mapper: StepMapper, rng: np.random.Generator) -> None:
        self.m = mapper
        self.dec = mapper.scenario.decoding
        self.rng = rng
        moe = mapper.model.moe
        self.router = None
        if moe is not None and mapper.scenario.moe is not None:
            self.router = MoeRouter(mapper.routing(), num_experts=moe.num_experts, top_k=moe.top_k,
                                    layers=mapper.model.moe_layers(), rng=rng, cache=mapper.scenario.moe.expert_cache)
        self.has_cache = self.router is not None and self.router.cache is not None
        # expected tokens a verifying step gains per sequence: sizes the router's blocks (a guess, not physics)
        self.round_tokens = tokens_per_round(self.dec) if isinstance(self.dec, Speculative | SelfSpeculative
                                                                          | LexicalUnit) else 1.0
        self.replay = (read_accepted_csv(Path(self.dec.acceptance_csv))
                       if isinstance(self.dec, Speculative) and self.dec.acceptance_csv else None)
        self.replay_at = 0
        self.draft_s = 0.0
        self.verify_s = 0.0
        self.passes = 0  # target passes
        self.seq_passes = 0  # sequences verified, summed over passes
        self.tokens = 0  # tokens gained by the sequences
        self.distinct: list[float] = []
        self.spent = 0
        self._drafts: dict[int, list[tuple[int, MappedStep, str]]] = {}  # batch -> its draft steps

    def prefilled(self, requests: int) -> None:
        """Prefill yields each request's first token (every initial path's, for multipath)."""
        width = self.dec.width_at(0) if isinstance(self.dec, Multipath) else 1
        self.spent += width * requests

    def _moe_step(self, lives: list, width: int) -> tuple[float | None, float | None]:
        """The step's sampled mean distinct experts per MoE layer and cache hit rate. Routes are
        drawn (and caches simulated) in blocks of steps: about `horizon` more steps of this
        batch are expected (the remaining tokens over the tokens a step gains)."""
        if self.router is None:
            if self.m.model.moe is not None:  # no `moe:` scenario: the step is mapped with the expectation
                self.distinct.append(self.m.expected_distinct(len(lives) * width))
            return None, None
        remaining = min(live.req.gen_tokens - live.generated for live in lives)
        horizon = math.ceil(remaining / self.round_tokens) if width > 1 else remaining
        distinct, hits, lookups = self.router.step([live.req.id for live in lives], width, max(1, horizon))
        self.distinct.append(distinct)
        if not self.has_cache:
            return distinct, None
        return distinct, hits / lookups if lookups else 0.0

    def accepted(self, n: int) -> np.ndarray:
        dec = self.dec
        if self.replay is not None:
            out = [self.replay[(self.replay_at + i) % len(self.replay)] for i in range(n)]
            self.replay_at += n
            return np.minimum(np.array(out), dec.draft_len)
        if isinstance(dec, (Speculative, SelfSpeculative)) and dec.tree:
            return sample_accepted_tree(self.rng, dec.acceptance, dec.tree, n)
        if n == 1 and dec.draft_len > 0:  # type: ignore[union-attr]
            # sample_accepted for one sequence without its array set-up: the same draws
            # (random((1, g)) is random(g)), the same first rejection
            a = dec.acceptance  # type: ignore[union-attr]
            for i, u in enumerate(self.rng.random(dec.draft_len).tolist()):  # type: ignore[union-attr]
                if u >= a:
                    return np.array([i])
            return np.array([dec.draft_len])  # type: ignore[union-attr]
        return sample_accepted(self.rng, dec.acceptance, dec.draft_len, n)  # type: ignore[union-attr]

    def run(self, ex: object, lives: list, *, record: bool, priority: int = 1) -> Generator[simpy.Event, None, list[int]]:
        """One round for the sequences in `lives`; returns tokens gained by each."""
        dec = self.dec
        b = len(lives)
        seq_ctx = [self.m.context_tokens(live.req.prompt_tokens, live.generated) for live in lives]
        ctx = self.m.step_context(seq_ctx)  # the sum; with a sliding window, its exact equivalent
        # an encoder-decoder's cross-attention reads every sequence's encoder K/V (mean prompt)
        prompt = round(sum(live.req.prompt_tokens for live in lives) / b)
        if isinstance(dec, Multipath):
            widths = [dec.width_at(live.generated) for live in lives]
            w_total = int(sum(widths))
            ctx = self.m.step_context([c for w, c in zip(widths, seq_ctx) for _ in range(w)])  # each path its own
            distinct, hit = self._moe_step(lives, max(1, w_total // b))
            step = self.m.decode(w_total, prompt, distinct=distinct, hit=hit)
            t = yield from ex.run(step, ctx, label=f"decode x{w_total}", record=record, priority=priority)
            self.verify_s += t
            self.passes += 1
            self.seq_passes += b
            self.spent += w_total
            self.tokens += b
            return [1] * b
        if speculating(dec, b):
            drafts = self._drafts.get(b)
            if drafts is None:  # the mapper maps each draft shape once; this saves asking it every round
                drafts = self._drafts[b] = [(j, draft_step(self.m, dec, b, w), f"draft {j}")
                                            for j, w in enumerate(draft_widths(dec))]
            width = verify_width(dec)
            gained = (self.accepted(b) + 1).tolist()
            distinct, hit = self._moe_step(lives, width)
            step = self.m.verify(b, width, prompt, distinct=distinct, hit=hit)
            # the draft steps and the verification back to back (their draws need no draft timing)
            dm = self.m.draft if isinstance(dec, Speculative) else self.m  # the model the draft steps run
            assert dm is not None
            seq = [(dstep, dm.step_context([c + j for c in seq_ctx]), label) for j, dstep, label in drafts]
            seq.append((step, ctx, f"verify x{b}" if width > 1 else f"decode x{b}"))
            times = yield from ex.run_seq(seq, record=record, priority=priority)
            for t in times[:-1]:
                self.draft_s += t
            self.verify_s += times[-1]
            return self._gained(gained, lives)
        elif isinstance(dec, LexicalUnit):
            width = dec.window
            # the first token is kept; the others up to the first rejection (a prefix)
            gained = (1 + sample_accepted(self.rng, dec.acceptance, dec.window - 1, b)).tolist()
        else:
            width = 1
            gained = [1] * b
        distinct, hit = self._moe_step(lives, width)
        step = self.m.verify(b, width, prompt, distinct=distinct, hit=hit)
        t = yield from ex.run(step, ctx, label=f"verify x{b}" if width > 1 else f"decode x{b}", record=record,
                              priority=priority)
        self.verify_s += t
        return self._gained(gained, lives)

    def _gained(self, gained: list[int], lives: list) -> list[int]:
        """A target pass's tokens, each sequence's capped at what it still has to generate."""
        self.passes += 1
        self.seq_passes += len(lives)
        gained = [min(gn, live.req.gen_tokens - live.generated) for gn, live in zip(gained, lives)]
        self.tokens += int(sum(gained))
        self.spent += int(sum(gained))
        return gained

    def summary(self) -> dict[str, float | None]:
        return {
            "tokens_per_target_pass": (self.tokens / self.seq_passes) if self.seq_passes else None,
            "draft_time_s": self.draft_s,
            "verify_time_s": self.verify_s,
            "expert_cache_hit_rate": self.router.hit_rate if self.has_cache else None,
            "distinct_experts_per_step": float(np.mean(self.distinct)) if self.distinct else None,
            "total_tokens_spent": self.spent,
        }
