"""MoE routing models, distinct experts per step, and expert caches (LRU / LFU).

Routing models (per MoE layer, each token picks `top_k` distinct experts):
- uniform: every expert equally likely;
- zipf: popularity of the i-th most popular expert ~ 1 / i^s;
- temporal: a token reuses its sequence's previous expert set with probability p, else
  draws afresh from `base` (uniform or zipf);
- trace: a CSV of per-token expert ids (columns layer, token, experts = ids joined by
  spaces), replayed in order.

Expected distinct experts touched by B tokens: sum_i 1 - (1 - p_i)^B, with p_i the
probability one token selects expert i under the successive-sampling law the DES draws from
(the exponential-race integral in `selection_probability`; k/E under uniform routing:
E (1 - (1 - k/E)^B)).

A trace's analytic selection probabilities are its own inclusion frequencies, pooled over
its layers (each expert's share of the rows that list it); the analytic engine then treats
tokens as independent, so it sees neither the trace's per-layer differences nor its
temporal locality: the DES replays the trace itself.

Caches hold whole experts of one layer in a fast tier. Analytic hit rates under
independent routing: LFU keeps the C most popular experts (hit = their share of accesses);
LRU follows Che's approximation taken at step granularity (`_lru_held`). Temporal
correlation raises LRU hits; only the DES, which simulates the caches, sees that.

The DES draws routes and simulates caches in blocks of steps (`MoeRouter`: successive
sampling in `RoutingSampler`, the exact block LRU `LruBlockCache`); `CacheState` is the
step-by-step cache (LFU in the DES; the reference the block LRU is tested against).
The sampler's ids are popularity ranks; `MoeRouter` relabels them by a random permutation
per run, since the caches break ties within a step by id and real ids carry no popularity.
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from slmsim.core import csvio
from slmsim.core.errors import Problem, SpecError
from slmsim.core.limits import MAX_CSV_FILE_BYTES, read_text_limited

SPEC = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Uniform(BaseModel):
    model_config = SPEC
    model: Literal["uniform"] = "uniform"


class Zipf(BaseModel):
    model_config = SPEC
    model: Literal["zipf"] = "zipf"
    s: float = Field(1.0, ge=0.0, le=5.0, description="skew: popularity of the i-th expert ~ 1 / i^s (0-5; MoE routing measurements fit ~0.5-2)")


class Temporal(BaseModel):
    model_config = SPEC
    model: Literal["temporal"] = "temporal"
    reuse: float = Field(0.5, ge=0.0, le=1.0, description="probability a token reuses its previous token's experts")
    base: Uniform | Zipf = Field(default_factory=Uniform, discriminator="model",
                                 description="the routing a token follows when it does not reuse its experts")


class Trace(BaseModel):
    model_config = SPEC
    model: Literal["trace"] = "trace"
    path: str = Field(description="CSV with columns layer, token, experts (space-separated ids); read when the "
                                  "spec loads (every bad cell reported), checked against the model when it runs")

    @field_validator("path")
    @classmethod
    def _readable(cls, v: str) -> str:
        try:
            read_trace(v)
        except SpecError as exc:
            shown = [f"{p.path + ': ' if p.path else ''}{p.message}{f' (value {p.value!r})' if p.value is not None else ''}"
                     for p in exc.problems[:3]]
            more = f"; and {len(exc.problems) - 3} more" if len(exc.problems) > 3 else ""
            raise ValueError("; ".join(shown) + more) from None
        return v


Routing = Annotated[Uniform | Zipf | Temporal | Trace, Field(discriminator="model")]


class CachePolicy(StrEnum):
    LRU = "lru"
    LFU = "lfu"


class ExpertCache(BaseModel):
    """Whole experts of each MoE layer kept in a fast memory tier."""

    model_config = SPEC
    tier: str = Field(description="the fast memory tier (e.g. hybrid-bonded DRAM)")
    experts_per_layer: int = Field(ge=0, le=4096, description="cache capacity per MoE layer, in experts")
    policy: CachePolicy = Field(CachePolicy.LRU, description="which expert the cache evicts: least recently (lru) or least frequently (lfu) used")
    dense_layers: bool = Field(False, description="the cache tier also holds the dense (non-expert) weights whole, "
                                                  "e.g. an HB-equipped baseline keeping what it can in HB")


class MoeScenario(BaseModel):
    model_config = SPEC
    routing: Routing = Field(default_factory=Uniform, description="how tokens pick experts, by `model:` (uniform, zipf, temporal, trace)")
    expert_cache: ExpertCache | None = Field(None, description="whole experts kept in a fast tier; none: no cache")


# --------------------------------------------------------------------------- probabilities


def popularity(routing: Uniform | Zipf | Temporal | Trace, num_experts: int) -> np.ndarray:
    """Share of one token's picks going to each expert (sums to 1), most popular first."""
    if isinstance(routing, Temporal):
        return popularity(routing.base, num_experts)
    if isinstance(routing, Zipf):
        w = 1.0 / np.arange(1, num_experts + 1) ** routing.s
        return w / w.sum()
    return np.full(num_experts, 1.0 / num_experts)


# Pure functions of frozen specs, memoised per process (a DSE or a DES run asks for the same
# few (routing, experts, top-k) again and again; the bisection and the root search cost
# ~0.2 ms each, most of a MoE plan's mapping time). Bounded: cleared when full.
_MEMO_MAX = 512
_SELECTION: dict[tuple[object, int, int], np.ndarray] = {}
_HIT_RATES: dict[tuple[object, ...], float] = {}


def selection_probability(routing: Uniform | Zipf | Temporal | Trace, num_experts: int, top_k: int) -> np.ndarray:
    """Probability one token selects each expert, under the law the DES samples (sum = k).

    A token picks k *distinct* experts by successive sampling: draws in proportion to the
    popularity q, each drawn expert removed (`RoutingSampler`; the same law as the top k of
    log q_i + Gumbel noise). Expert i is in the k picked with probability

        pi_i = integral_0^inf q_i exp(-q_i t) P(fewer than k of the others arrive by t) dt,

    the exponential race (expert j arrives at X_j / q_j, X_j ~ Exp(1); the k first arrive).
    Uniform: k/E. For skewed q this is flatter than the water-filled min(1, c q_i) used up to
    2026-12-04, which overstated the share of the most popular experts (olmoe-1b-7b, Zipf 1.0,
    4 tokens: 20.07 distinct experts per step vs 21.5 sampled). The array is shared (memoised)
    and read-only."""
    key = (routing, num_experts, top_k)
    p = _SELECTION.get(key)
    if p is None:
        if len(_SELECTION) >= _MEMO_MAX:
            _SELECTION.clear()
        p = _SELECTION[key] = _selection_probability(routing, num_experts, top_k)
        p.flags.writeable = False
    return p


def _selection_probability(routing: Uniform | Zipf | Temporal | Trace, num_experts: int, top_k: int) -> np.ndarray:
    if isinstance(routing, Trace):  # the trace's own inclusion frequencies, pooled over its layers
        ids = np.concatenate([rows.reshape(-1) for rows in
                              check_trace(routing, layers=0, top_k=top_k, num_experts=num_experts).values()])
        return np.bincount(ids, minlength=num_experts) / (ids.size / top_k)
    q = popularity(routing, num_experts)
    if top_k >= num_experts:
        return np.ones(num_experts)
    if np.ptp(q) <= 1e-12 * q.max():
        return np.full(num_experts, top_k / num_experts)
    return successive_inclusion(q, top_k)


RACE_NODES = 600  # quadrature nodes in log t; the inclusion probabilities then sum to k within 1e-9


def successive_inclusion(q: np.ndarray, k: int) -> np.ndarray:
    """P(expert i among the first k of successive sampling without replacement from q).

    The race integral of `selection_probability`, on a uniform grid in log t (the integrand
    q_i t exp(-q_i t) F_i(t) is smooth there). F_i(t) = P(at most k-1 of the experts j != i
    have arrived by t) is a Poisson-binomial tail in p_j(t) = 1 - exp(-q_j t), built from
    prefix and suffix counts (truncated at k) so that leaving each i out costs O(k^2)."""
    q = np.asarray(q, dtype=float) / np.sum(q)
    e = len(q)
    qs = np.sort(q)[::-1]
    # below t_lo the integrand is < 1e-12 of its peak; above t_hi, k+1 experts have arrived
    # with probability > 1 - k exp(-40), so fewer than k others have not
    t = np.exp(np.linspace(np.log(1e-12 / qs[0]), np.log(40.0 / qs[k]), RACE_NODES))
    arrived = -np.expm1(-np.outer(q, t))  # (e, T): expert j has arrived by t
    pre = np.zeros((e + 1, t.size, k))  # pre[i]: count of arrivals among experts 0..i-1
    pre[0, :, 0] = 1.0
    for j in range(e):
        pre[j + 1] = pre[j] * (1.0 - arrived[j])[:, None]
        pre[j + 1, :, 1:] += pre[j, :, :-1] * arrived[j][:, None]
    suf = np.zeros((e + 1, t.size, k))  # suf[i]: count of arrivals among experts i..e-1
    suf[e, :, 0] = 1.0
    for j in range(e - 1, -1, -1):
        suf[j] = suf[j + 1] * (1.0 - arrived[j])[:, None]
        suf[j, :, 1:] += suf[j + 1, :, :-1] * arrived[j][:, None]
    # F_i = sum_{a+b<k} pre_i[a] suf_{i+1}[b] = sum_a pre_i[a] (cumsum suf_{i+1})[k-1-a]
    tail = np.cumsum(suf[1:], axis=2)[:, :, ::-1]  # tail[i, :, a] = P(suffix count <= k-1-a)
    f = np.einsum("itk,itk->it", pre[:e], tail)
    integrand = q[:, None] * t[None, :] * np.exp(-np.outer(q, t)) * f
    dlog = np.log(t[1]) - np.log(t[0])
    pi = dlog * (integrand.sum(axis=1) - 0.5 * (integrand[:, 0] + integrand[:, -1]))
    return np.clip(pi, 0.0, 1.0)


def expected_distinct(routing: Uniform | Zipf | Temporal | Trace, num_experts: int, top_k: int, tokens: int) -> float:
    """sum_i 1 - (1 - p_i)^B; under uniform routing E (1 - (1 - k/E)^B)."""
    p = selection_probability(routing, num_experts, top_k)
    return float(np.sum(1.0 - (1.0 - p) ** tokens))


def analytic_hit_rate(cache: ExpertCache, routing: Uniform | Zipf | Temporal | Trace, num_experts: int,
                      top_k: int = 1, tokens_per_step: int = 1) -> float:
    """Share of a step's distinct experts already in the cache, independent-reference model.

    Expert i is touched by a step of B tokens with probability t_i = 1 - (1 - p_i)^B. LFU
    holds the C experts with the largest t_i; LRU holds what Che's approximation holds, taken
    at the granularity of whole steps (`_lru_held`). The hit rate is sum_i t_i held_i /
    sum_i t_i. Memoised per process (a pure function of frozen specs)."""
    key = (cache, routing, num_experts, top_k, tokens_per_step)
    h = _HIT_RATES.get(key)
    if h is None:
        if len(_HIT_RATES) >= _MEMO_MAX:
            _HIT_RATES.clear()
        h = _HIT_RATES[key] = _analytic_hit_rate(cache, routing, num_experts, top_k, tokens_per_step)
    return h


def _analytic_hit_rate(cache: ExpertCache, routing: Uniform | Zipf | Temporal | Trace, num_experts: int,
                       top_k: int, tokens_per_step: int) -> float:
    c = min(cache.experts_per_layer, num_experts)
    if c <= 0:
        return 0.0
    if c >= num_experts:
        return 1.0
    p = selection_probability(routing, num_experts, top_k)
    t = 1.0 - (1.0 - p) ** tokens_per_step
    if cache.policy is CachePolicy.LFU:
        held = np.zeros(num_experts)
        held[np.argsort(-t, kind="stable")[:c]] = 1.0
    else:
        if np.count_nonzero(t > 0) <= c:
            return 1.0
        held = _lru_held(t, c)
    return float(np.sum(t * held) / np.sum(t))


def _lru_held(t: np.ndarray, c: int) -> np.ndarray:
    """Probability that an LRU cache of `c` experts holds expert i at the start of a step, each
    step touching expert i with probability t_i (independent references).

    Che's approximation at step granularity: the experts touched in the last k steps number
    N(k) = sum_i 1 - (1 - t_i)^k on average; the cache holds every expert of the last m whole
    steps (N(m) <= c < N(m + 1)) and, of the experts step m + 1 adds, the share
    frac = (c - N(m)) / (N(m + 1) - N(m)), the order within a step being independent of
    popularity (the DES walks a step's experts by id, ids a random relabelling of the ranks):
    held_i = 1 - (1 - t_i)^m + frac t_i (1 - t_i)^m, which sums to c. Che's continuous form,
    1 - (1 - t_i)^T with N(T) = c, is the same where steps are short against the cache
    (T >> 1), but when one step touches more experts than the cache holds (T < 1) it keeps the
    popular experts with near certainty, where LRU keeps a random share of the step's. Against
    a Monte Carlo of the same LRU (olmoe-1b-7b routing, 64 experts top-8, Zipf 0.8, 16 cached,
    random within-step order, 4 x 12,000 steps at batch 1 and 4 x 8,000 at batch 4;
    docs/decoding.md): batch 1 0.4230 here, 0.4230 +- 0.0008 measured, Che 0.4248; batch 4
    0.3306, 0.3311, Che 0.3520."""
    log_miss = np.log1p(-np.minimum(t, 1.0 - 1e-15))  # ln(1 - t_i), exact for rare experts

    def n_touched(k: int) -> float:
        return float(np.sum(-np.expm1(k * log_miss)))

    lo, hi = 0, 1  # N(lo) <= c < N(hi), found by doubling then bisection on whole steps
    while n_touched(hi) <= c and hi < 2**62:  # the caller checked that more than c experts are touched
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if n_touched(mid) <= c else (lo, mid)
    n_lo = n_touched(lo)
    step = n_touched(lo + 1) - n_lo
    frac = min(1.0, (c - n_lo) / step) if step > 0 else 1.0  # step 0: experts too rare to matter in 2^62 steps
    kept = np.exp(lo * log_miss)
    return 1.0 - kept + frac * t * kept


# --------------------------------------------------------------------------- sampling


class RoutingSampler:
    """Draws every MoE layer's expert choices for a step at once (one RNG, seeded by the run).

    k distinct experts per token by the Gumbel-top-k trick (exactly sampling without
    replacement proportional to popularity); temporal reuse per (sequence, layer).

    `block_tokens` > 1 draws the experts of that many tokens in one numpy call and hands
    them out as steps ask (a block of steps, vectorised), by *successive sampling*: each
    (layer, token) row is a stream of independent draws from the popularity q (inverse
    CDF with a guide table), and its experts are the first k distinct values of the stream. Given the
    experts so far S, the next new value is q restricted to the complement of S,
    renormalised: the law of sampling k without replacement proportional to q, which is the
    law of Gumbel top-k (Gumbel-max applied k times: Yellott 1977; Kool et al. 2019). A row
    whose stream (length `stream_len`, about the 99th percentile of the draws needed) has fewer than k
    distinct values is completed by the exponential race over the experts not yet drawn,
    which again is that conditional law, so the law is exact. Each token's draws are
    independent of every other token's; the random stream is consumed in another order, so
    a seed gives other (equally likely) draws than `block_tokens=1`.
    """

    def __init__(self, routing: Uniform | Zipf | Temporal | Trace, *, num_experts: int, top_k: int, layers: int,
                 rng: np.random.Generator, block_tokens: int = 1) -> None:
        if block_tokens < 1:
            raise ValueError(f"block_tokens must be >= 1, got {block_tokens}")
        self.block_tokens = block_tokens
        self._block: np.ndarray | None = None  # (layers, tokens, k) drawn ahead
        self._block_pos = 0
        self.routing = routing
        self.e, self.k, self.layers = num_experts, top_k, layers
        self.rng = rng
        q = popularity(routing, num_experts)
        self.logq = np.log(q)
        self.inv_q = 1.0 / q
        self._guide, self.stream_len = _sampling_plan(q, top_k)
        self._tables: dict[type, np.ndarray] = {}
        self.prev: dict[int, np.ndarray] = {}  # sequence -> (layers, k) last expert ids
        self.trace: list[np.ndarray] | None = None
        self.cursor = 0
        if isinstance(routing, Trace):
            self.trace = _read_trace(Path(routing.path), layers, top_k, num_experts)

    def step(self, sequences: list[int], tokens_per_seq: int = 1) -> np.ndarray:
        """Expert ids of every token of this step: shape (layers, tokens, k)."""
        return self.steps(sequences, tokens_per_seq, 1)

    def steps(self, sequences: list[int], tokens_per_seq: int, steps: int) -> np.ndarray:
        """Expert ids of `steps` consecutive steps of the same sequences: (layers, steps x tokens, k),
        token order (step, sequence, token of the sequence)."""
        n = len(sequences) * tokens_per_seq * steps
        if self.trace is not None:
            idx = (self.cursor + np.arange(n))
            out = np.stack([layer[idx % len(layer)] for layer in self.trace])
            self.cursor += n
            return out
        out = self._draw(n) if self.block_tokens > 1 else self._topk(n)
        if isinstance(self.routing, Temporal):
            out = self._reuse(out, sequences, tokens_per_seq, steps)
        self.cursor += n
        return out

    def rewind(self, tokens: int) -> None:
        """Hand back the last `tokens` tokens drawn but not used: a trace replays them next.
        (Random draws need no rewinding: unused draws are independent of what follows.)"""
        self.cursor -= tokens

    def _reuse(self, fresh: np.ndarray, sequences: list[int], tps: int, steps: int) -> np.ndarray:
        """Temporal reuse, vectorised: each (layer, token) keeps its fresh draw with
        probability 1 - reuse, else repeats its sequence's previous token (a chain in time
        order; a sequence's first token ever has nothing to reuse and keeps its draw)."""
        s = len(sequences)
        lay, k = self.layers, self.k
        # (layers, steps, seqs, tps, k) -> time order per sequence: (layers, seqs, steps x tps, k)
        per_seq = fresh.reshape(lay, steps, s, tps, k).transpose(0, 2, 1, 3, 4).reshape(lay, s, steps * tps, k)
        length = steps * tps
        reuse = self.rng.random((lay, s, length)) < self.routing.reuse  # type: ignore[union-attr]
        has_prev = np.array([q in self.prev for q in sequences])
        reuse[:, ~has_prev, 0] = False
        idx = np.where(reuse, -1, np.arange(length))
        src = np.maximum.accumulate(idx, axis=2)
        out = np.take_along_axis(per_seq, np.maximum(src, 0)[..., None], axis=2)
        from_prev = src < 0
        if from_prev.any():
            prev = np.stack([self.prev.get(q, np.zeros((lay, k), dtype=out.dtype)) for q in sequences], axis=1)
            out = np.where(from_prev[..., None], prev[:, :, None, :], out)
        for i, q in enumerate(sequences):
            self.prev[q] = out[:, i, -1].copy()
        return out.reshape(lay, s, steps, tps, k).transpose(0, 2, 1, 3, 4).reshape(lay, steps * s * tps, k)

    def set_prev(self, sequences: list[int], ids: np.ndarray, tps: int, steps: int) -> None:
        """Make each sequence's previous experts those of its last token in `ids` (layers,
        steps x seqs x tps, k): used when steps drawn ahead are dropped."""
        if not isinstance(self.routing, Temporal) or steps <= 0:
            return
        s = len(sequences)
        last = ids.reshape(self.layers, steps, s, tps, self.k)[:, -1, :, -1]
        for i, q in enumerate(sequences):
            self.prev[q] = last[:, i].copy()

    def _topk(self, n: int) -> np.ndarray:
        g = self.rng.gumbel(size=(self.layers, n, self.e)) + self.logq
        return np.argpartition(-g, self.k - 1, axis=2)[:, :, : self.k]

    def _race(self, n: int) -> np.ndarray:
        """The same law as `_topk`, 3x cheaper: -log(X) of X ~ Exp(1) is a standard Gumbel, so the
        k largest log q_i + G_i are the k smallest X_i / q_i (the exponential race)."""
        x = self.rng.standard_exponential(size=(self.layers, n, self.e)) * self.inv_q
        return np.argpartition(x, self.k - 1, axis=2)[:, :, : self.k]

    def _successive(self, n: int) -> np.ndarray:
        """(layers, n, k): the first k distinct values of each row's stream of draws from q."""
        k, e = self.k, self.e
        if k >= e:
            return np.broadcast_to(np.arange(e), (self.layers, n, e)).copy()
        m = self.stream_len
        if m <= 0:  # the stream would be longer than the race is dear
            return self._race(n)
        rows = self.layers * n
        shift = max(1, (m - 1).bit_length())
        small = (e << shift) < 2**15 and m * e < 2**15
        d = self._categorical((rows, m), np.int16 if small else np.int32)
        # first occurrence of each value in its row: sort (value << shift | position), keep value changes
        key = np.sort((d << shift) | np.arange(m, dtype=d.dtype), axis=1)
        val = key >> shift
        first = np.empty(key.shape, dtype=bool)
        first[:, 0] = True
        np.not_equal(val[:, 1:], val[:, :-1], out=first[:, 1:])
        # new values keyed by (position, value); the k smallest keys are the first k new values
        key2 = np.where(first, (key & ((1 << shift) - 1)) * e + val, m * e)
        sel = np.partition(key2, k - 1, axis=1)[:, :k]
        ok = sel[:, k - 1] < m * e
        out = sel % e
        if not ok.all():
            # fewer than k distinct in the stream: complete by the race over the experts not yet drawn
            bad = np.nonzero(~ok)[0]
            race = self.rng.standard_exponential(size=(len(bad), e)) * self.inv_q
            rr, cc = np.nonzero(first[bad])
            race[rr, val[bad][rr, cc]] = -1.0  # drawn already: kept, the race picks the rest
            out[bad] = np.argpartition(race, k - 1, axis=1)[:, :k]
        return out.reshape(self.layers, n, k)

    PAIRWISE_MAX_STREAM = 16  # speed only: above, touched_steps defers to the sort of _successive

    def touched_steps(self, tokens_per_step: int, steps: int, epad: int) -> np.ndarray | None:
        """The distinct experts of each of `steps` steps of `tokens_per_step` tokens:
        (steps, layers, epad) bool, what `steps()` then a scatter of its ids gives, from the
        same random draws (bit-identical), without materialising the ids. None (nothing
        drawn) where only `steps()` applies: temporal reuse, a trace, a block drawn ahead
        (`block_tokens` > n), fewer than two tokens, no stream (the race) or a long one (the
        pairwise compares grow as its square: `_successive`'s sort is cheaper there)."""
        n = tokens_per_step * steps
        if (self.trace is not None or isinstance(self.routing, Temporal) or self.block_tokens <= 1 or n < 2
                or n < self.block_tokens or self.k >= self.e or not 0 < self.stream_len <= self.PAIRWISE_MAX_STREAM
                or (self._block is not None and self._block_pos < self._block.shape[1])):
            return None
        self.cursor += n
        return self._first_k_union(n, tokens_per_step, steps, epad)

    def _first_k_union(self, n: int, tps: int, steps: int, epad: int) -> np.ndarray:
        """(steps, layers, epad) bool: the union over each step's tokens of each (layer, token)
        row's first k distinct values in its stream of draws: the same rows and random draws
        as `_successive` (row r = layer x n + token) and the same exact completion by the
        race for a row whose stream has fewer than k distinct values. A draw is new if no
        earlier draw of its row equals it (pairwise compares of short int columns, no sort);
        a row keeps its new draws up to the k-th."""
        k, e, m = self.k, self.e, self.stream_len
        rows = self.layers * n
        shift = max(1, (m - 1).bit_length())
        small = (e << shift) < 2**15 and m * e < 2**15
        d = self._categorical((rows, m), np.int16 if small else np.int32)
        col = np.ascontiguousarray(d.T)  # (m, rows)
        base = (np.arange(rows, dtype=np.intp) // tps) * epad  # row -> its (layer, step)'s first cell
        trash = self.layers * steps * epad  # one cell past the result: where draws not kept go
        tgt = np.empty((m, rows), dtype=np.intp)
        cnt = np.ones(rows, dtype=np.int16)  # distinct values so far, per row (the first draw is new)
        np.add(base, col[0], out=tgt[0])
        for j in range(1, m):
            dup = col[0] == col[j]
            for i in range(1, j):
                dup |= col[i] == col[j]
            keep = ~dup & (cnt < k)
            cnt += keep
            np.add(base, col[j], out=tgt[j])
            tgt[j][~keep] = trash
        out = np.zeros(trash + 1, dtype=bool)
        out[tgt.reshape(-1)] = True
        out = out[:trash]
        bad = np.flatnonzero(cnt < k)
        if len(bad):  # fewer than k distinct in the stream: complete by the race over the experts not yet drawn
            race = self.rng.standard_exponential(size=(len(bad), e)) * self.inv_q
            race[np.arange(len(bad))[:, None], d[bad]] = -1.0  # drawn already: kept, the race picks the rest
            pick = np.argpartition(race, k - 1, axis=1)[:, :k]
            out[(base[bad][:, None] + pick).reshape(-1)] = True
        return np.ascontiguousarray(out.reshape(self.layers, steps, epad).transpose(1, 0, 2))

    def _categorical(self, shape: tuple[int, ...], dtype: type = np.int32) -> np.ndarray:
        """Independent draws from q by inverse CDF with a guide table: u in one of G equal
        buckets maps to the one expert whose CDF interval covers the bucket; the few buckets
        a CDF step crosses (marked -1) are resolved by a search on u itself. Exact (up to the
        53-bit uniform)."""
        table, crossed, cdf = self._guide
        guide = self._tables.get(dtype)
        if guide is None:
            guide = self._tables[dtype] = np.where(crossed, -1, table).astype(dtype)
        raw = self.rng.bit_generator.random_raw(shape)  # uniform 64-bit words of the run's generator
        bucket = (raw >> np.uint64(64 - (len(table).bit_length() - 1))).view(np.int64)  # top bits: G a power of 2
        d = guide.take(bucket)
        fix = np.flatnonzero(d < 0)
        if len(fix):
            u = (raw.reshape(-1)[fix] >> np.uint64(11)) * 2.0**-53  # the 53-bit uniform whose top bits are the bucket
            d.reshape(-1)[fix] = np.searchsorted(cdf, u, side="right")
        return d

    def _draw(self, n: int) -> np.ndarray:
        """n tokens' expert ids from the block drawn ahead (a new block when it runs out)."""
        parts = []
        while n > 0:
            if self._block is None or self._block_pos >= self._block.shape[1]:
                self._block = self._successive(max(self.block_tokens, n))
                self._block_pos = 0
            take = min(n, self._block.shape[1] - self._block_pos)
            parts.append(self._block[:, self._block_pos:self._block_pos + take])
            self._block_pos += take
            n -= take
        return (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)).copy()


_PLANS: dict[tuple[bytes, int], tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int]] = {}


def _sampling_plan(q: np.ndarray, k: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int]:
    """The guide table of q and the stream length for k distinct, computed once per (q, k)."""
    key = (q.tobytes(), k)
    plan = _PLANS.get(key)
    if plan is None:
        guide = _guide_table(q)
        plan = _PLANS[key] = (guide, _stream_len(guide, len(q), k))
    return plan


def _guide_table(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expert of each of G equal buckets of [0, 1), whether a CDF step crosses the bucket,
    the CDF); G = 2^12 or more, >= 32 buckets per expert."""
    e = len(q)
    g = max(1 << 12, 1 << (32 * e - 1).bit_length())
    cdf = np.cumsum(q)
    cdf[-1] = 1.0
    edges = np.arange(g + 1) / g
    lo = np.searchsorted(cdf, edges[:-1], side="right")
    hi = np.minimum(np.searchsorted(cdf, edges[1:], side="left"), e - 1)
    return lo.astype(np.int16 if e < 2**10 else np.int32), lo != hi, cdf


def _stream_len(guide: tuple[np.ndarray, np.ndarray, np.ndarray], e: int, k: int) -> int:
    """Draws per row for successive sampling: the 99th percentile of the draws k distinct
    experts take, from 4,096 simulated rows (a private, fixed-seed generator: the run's
    random stream is not touched). Only speed depends on it: a row that falls short is
    completed exactly. 0: the popularity is so skewed (or k so close to E) that the stream
    would be longer than 4 k or E draws; the exponential race is used instead."""
    if k >= e:
        return 0
    table, crossed, cdf = guide
    m = 4 * k
    u = np.random.default_rng(20261202).random((4096, m))
    bucket = (u * len(table)).astype(np.intp)
    d = table.take(bucket).astype(np.int64)
    fix = np.nonzero(crossed.take(bucket))
    d[fix] = np.searchsorted(cdf, u[fix], side="right")
    key = np.sort(d * m + np.arange(m), axis=1)
    first = np.ones(key.shape, dtype=bool)
    first[:, 1:] = key[:, 1:] // m != key[:, :-1] // m
    pos = np.sort(np.where(first, key % m, m), axis=1)[:, k - 1]  # draw index of the k-th new expert
    need = float(np.quantile(pos, 0.99)) + 1
    return int(need) if need <= min(m, e) else 0


MAX_TRACE_LAYER = 4095  # a layer index; no model here has more than a few hundred layers
MAX_TRACE_EXPERT = 65535  # an expert id; presets have at most 256 experts per layer
_TRACES: dict[tuple[str, int, int], dict[int, np.ndarray]] = {}
_TRACE_HINT = "columns layer, token, experts: e.g. 0,0,3 17 (layer 0, token 0, experts 3 and 17)"


def read_trace(path: str | Path) -> dict[int, np.ndarray]:
    """Expert ids per layer, in file order: layer -> (tokens, k) int array.

    Every bad cell is reported at once (a `SpecError` naming the file and line): a missing
    column, a layer or an expert id that is not a whole number, a row whose experts repeat,
    rows of one layer with different widths. What depends on the model (k, the expert count,
    the layers) is checked by `check_trace`. Memoised per (path, modification time, size)."""
    p = Path(path)
    shown = str(path)
    text = read_text_limited(p, shown=shown, limit=MAX_CSV_FILE_BYTES, what="routing trace (CSV)", hint=_TRACE_HINT)
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key in _TRACES:
        return _TRACES[key]
    reader = csv.DictReader(text.removeprefix("\ufeff").splitlines())
    header = csvio.header(reader, shown, hint=_TRACE_HINT)
    missing = [c for c in ("layer", "experts") if c not in header]
    if missing:
        raise SpecError([Problem(file=shown, path="header", message=f"missing column(s): {', '.join(missing)}",
                                 value=",".join(header)[:200], expected="columns layer, token, experts",
                                 hint=_TRACE_HINT)])
    problems: list[Problem] = []
    per_layer: dict[int, list[list[int]]] = {}
    for line, row in enumerate(csvio.dict_rows(reader, shown, hint=_TRACE_HINT), start=2):
        if len(problems) >= 1000:
            break  # enough to show; SpecError prints the first 50
        cell, ids_cell = (row.get("layer") or "").strip(), (row.get("experts") or "").strip()
        bad = False
        if not (cell.isascii() and cell.isdigit() and len(cell) <= 6 and int(cell) <= MAX_TRACE_LAYER):
            problems.append(Problem(file=shown, path=f"line {line}.layer", message="not a layer index",
                                    value=cell[:60], expected=f"a whole number from 0 to {MAX_TRACE_LAYER}"))
            bad = True
        words = ids_cell.split()
        if not words or not all(w.isascii() and w.isdigit() and len(w) <= 6 and int(w) <= MAX_TRACE_EXPERT
                                for w in words):
            problems.append(Problem(file=shown, path=f"line {line}.experts", message="not a list of expert ids",
                                    value=ids_cell[:60], expected=f"whole numbers from 0 to {MAX_TRACE_EXPERT} "
                                    "separated by spaces", hint=_TRACE_HINT))
            bad = True
        if bad:
            continue
        ids = [int(w) for w in words]
        if len(set(ids)) != len(ids):
            problems.append(Problem(file=shown, path=f"line {line}.experts", message="an expert listed twice",
                                    value=ids_cell[:60], expected="the distinct experts the token was routed to"))
            continue
        rows = per_layer.setdefault(int(cell), [])
        if rows and len(rows[0]) != len(ids):
            problems.append(Problem(file=shown, path=f"line {line}.experts",
                                    message=f"{len(ids)} experts, earlier rows of layer {cell} list {len(rows[0])}",
                                    value=ids_cell[:60], expected="the same number of experts (top-k) on every row"))
            continue
        rows.append(ids)
    if problems:
        raise SpecError(problems)
    if not per_layer:
        raise SpecError([Problem(file=shown, path="", message="the trace has no rows", hint=_TRACE_HINT)])
    out = {layer: np.array(rows, dtype=np.int64) for layer, rows in per_layer.items()}
    for ids in out.values():
        ids.setflags(write=False)  # shared by every reader of the memo
    if len(_TRACES) >= 16:
        _TRACES.clear()
    _TRACES[key] = out
    return out


def check_trace(routing: Trace, *, layers: int, top_k: int, num_experts: int) -> dict[int, np.ndarray]:
    """The trace's rows, or a `SpecError` where it does not fit the model: every MoE layer
    0..layers-1 needs rows, each row lists `top_k` experts, every id is below `num_experts`."""
    trace = read_trace(routing.path)
    shown = routing.path
    problems: list[Problem] = []
    absent = [layer for layer in range(layers) if layer not in trace]
    if absent:
        problems.append(Problem(file=shown, path="layer", message=f"no rows for MoE layer(s) {_ranges(absent)}",
                                expected=f"rows for every MoE layer 0..{layers - 1} of the model",
                                hint="MoE layers are counted from 0 in the order they run, dense layers left out"))
    for layer, ids in sorted(trace.items()):
        if ids.shape[1] != top_k:
            problems.append(Problem(file=shown, path=f"layer {layer}.experts",
                                    message=f"rows list {ids.shape[1]} experts, the model routes each token to {top_k}",
                                    expected=f"{top_k} expert ids per row"))
        if int(ids.max()) >= num_experts:
            problems.append(Problem(file=shown, path=f"layer {layer}.experts", value=int(ids.max()),
                                    message=f"expert id {int(ids.max())} is not one of the model's {num_experts}",
                                    expected=f"ids from 0 to {num_experts - 1}"))
    if problems:
        raise SpecError(problems)
    return trace


def _ranges(xs: list[int]) -> str:
    return ", ".join(str(x) for x in xs[:8]) + (f" ... ({len(xs)} in all)" if len(xs) > 8 else "")


def _read_trace(path: Path, layers: int, top_k: int, num_experts: int) -> list[np.ndarray]:
    trace = check_trace(Trace.model_construct(path=str(path)), layers=layers, top_k=top_k, num_experts=num_experts)
    return [trace[layer] for layer in range(layers)]


class CacheState:
    """Expert caches of every MoE layer, updated once per step with the experts it touched
    (step by step: the DES uses it for LFU; `LruBlockCache` simulates LRU over blocks of steps).

    LRU holds each layer's C most recently used experts; LFU the C most frequently used
    (ties to the more recent). A step's distinct experts are looked up together, then
    recorded: hits are the ones already held.
    """

    def __init__(self, cache: ExpertCache, *, layers: int, num_experts: int) -> None:
        self.cap = min(cache.experts_per_layer, num_experts)
        self.policy = cache.policy
        self.last = np.full((layers, num_experts), -1.0)  # step of last use, -1: never
        self.freq = np.zeros((layers, num_experts))
        self.t = 0
        self.hits = 0
        self.lookups = 0

    def held(self) -> np.ndarray:
        """(layers, experts) mask of what each layer's cache holds now."""
        if self.cap <= 0:
            return np.zeros_like(self.last, dtype=bool)
        used = self.last >= 0
        # experts used at the same step tie; a fixed small offset per expert id keeps the
        # capacity exact (which of the tied experts stays is arbitrary but deterministic)
        tie = np.arange(self.last.shape[1]) / (4.0 * self.last.shape[1])
        if self.policy is CachePolicy.LRU:
            key = self.last + tie
        else:
            key = self.freq + (self.last + tie) / (self.t + 2.0)  # frequency, ties to recency
        key = np.where(used, key, -np.inf)
        if self.cap >= key.shape[1]:
            return used
        kth = np.partition(key, -self.cap, axis=1)[:, -self.cap][:, None]
        return used & (key >= kth)

    def step(self, touched: np.ndarray) -> tuple[int, int]:
        """`touched`: (layers, experts) bool of experts this step needs. Returns (hits, lookups)."""
        held = self.held()
        hits = int((held & touched).sum())
        lookups = int(touched.sum())
        self.freq += touched
        self.last[touched] = self.t
        self.t += 1
        self.hits += hits
        self.lookups += lookups
        return hits, lookups

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


def touched_mask(ids: np.ndarray, num_experts: int) -> np.ndarray:
    """(layers, tokens, k) expert ids -> (layers, experts) bool of the distinct ones."""
    mask = np.zeros((ids.shape[0], num_experts), dtype=bool)
    layer_idx = np.repeat(np.arange(ids.shape[0]), ids.shape[1] * ids.shape[2])
    mask[layer_idx, ids.reshape(-1)] = True
    return mask


# --------------------------------------------------------------------------- blocks of steps


def _packed(mask: np.ndarray) -> np.ndarray:
    """(..., E') bool, E' a multiple of 64 -> (..., E' / 64) uint64 bit sets (expert i = bit i)."""
    return np.packbits(mask, axis=-1, bitorder="little").view("<u8")


def _count(bits: np.ndarray) -> np.ndarray:
    """Members of each bit set: (..., words) uint64 -> (...) int."""
    c = np.bitwise_count(bits)
    out = c[..., 0].astype(np.int64)
    for w in range(1, bits.shape[-1]):  # a few words: adds beat a reduction over a short axis
        out += c[..., w]
    return out


class LruBlockCache:
    """Exact LRU expert caches of every MoE layer, simulated for a block of steps at once.

    The same policy as `CacheState` with `policy: lru`: before step t each layer holds the
    C experts used most recently (experts last used in the same step: the higher id counts
    as more recent), and a step's hits are its distinct experts already held. Without a
    loop over steps: with U_r(t) the experts used in steps t-1 .. t-r of the block and
    D_r = |U_r|, the held set before t is
      - U_r0 plus the (C - D_r0) highest ids of T_{t-r0-1} minus U_r0, where r0 is the
        largest r with D_r <= C, if that step lies in the block (then D_{r0+1} > C);
      - else U_t (every expert the block used before t) plus the first C - D entries, in
        recency order, of what the caches held at the block's start that are not in U_t.
    Sets are bit sets (uint64 words), so each r is one vectorised OR and popcount over the
    whole block. `commit(c)` makes the first c steps of the last block the caches' history
    (steps after c were drawn ahead and are dropped).
    """

    def __init__(self, capacity: int, *, layers: int, num_experts: int) -> None:
        self.cap = max(0, min(capacity, num_experts))
        self.layers, self.e = layers, num_experts
        self.epad = -(-num_experts // 64) * 64
        self.last = np.full((layers, num_experts), -1, dtype=np.int64)  # step of last use, -1: never
        self.t = 0
        self._ge: np.ndarray | None = None  # (E'+1, words): bit sets of ids >= b

    def _ge_table(self) -> np.ndarray:
        if self._ge is None:
            ids = np.arange(self.epad)
            self._ge = _packed(ids[None, :] >= np.arange(self.epad + 1)[:, None])
        return self._ge

    def _start_prefixes(self) -> np.ndarray:
        """(C + 1, layers, words): bit sets of the first j experts held now, in recency order."""
        lay, c, e = self.layers, self.cap, self.e
        key = np.where(self.last >= 0, self.last * e + np.arange(e), -1)  # recency; ties: higher id
        top = np.argpartition(key, e - c, axis=1)[:, e - c:] if c < e else np.broadcast_to(np.arange(e), (lay, e))
        tk = np.take_along_axis(key, top, axis=1)
        order = np.argsort(-tk, axis=1, kind="stable")
        ids = np.take_along_axis(top, order, axis=1)
        valid = np.take_along_axis(tk, order, axis=1) >= 0
        words = np.zeros((lay, c + 1, self.epad // 64), dtype=np.uint64)
        rows, cols = np.nonzero(valid)
        e_id = ids[rows, cols]
        words[rows, cols + 1, e_id // 64] = np.left_shift(np.uint64(1), (e_id % 64).astype(np.uint64))
        return np.bitwise_or.accumulate(words, axis=1).transpose(1, 0, 2)

    def hits(self, touched: np.ndarray) -> np.ndarray:
        """`touched`: (steps, layers, E') bool, the distinct experts of each step of a block that
        starts after the committed history. Returns (steps, layers) hits; the state is unchanged."""
        b = touched.shape[0]
        c = self.cap
        t_bits = _packed(touched)  # (B, L, w)
        if c <= 0:
            return np.zeros(t_bits.shape[:2], dtype=np.int64)
        if c >= self.e:  # the cache holds every expert ever used: a hit is a repeat
            seen = np.zeros((self.layers, self.epad), dtype=bool)
            seen[:, : self.e] = self.last >= 0
            before = np.bitwise_or.accumulate(t_bits, axis=0)
            before[1:] = before[:-1].copy()
            before[0] = 0
            return _count((before | _packed(seen)[None]) & t_bits)
        steps = np.arange(b)[:, None]
        u_list = [np.zeros_like(t_bits)]
        r0 = np.zeros(t_bits.shape[:2], dtype=np.int64)
        u = u_list[0]
        for r in range(1, b):
            u = u.copy()
            u[r:] |= t_bits[:-r]
            d = _count(u)
            r0 += (steps >= r) & (d <= c)
            u_list.append(u)
            if not np.any((d <= c) & (steps > r)):  # no row can still grow within C
                break
        rows = b * self.layers
        words = t_bits.shape[2]
        flat_t = t_bits.reshape(rows, words)
        r0 = r0.reshape(rows)
        u0 = np.stack(u_list).reshape(len(u_list), rows, words)[r0, np.arange(rows)]
        hits = _count(u0 & flat_t)
        need = c - _count(u0)  # >= 0
        step_of = np.repeat(np.arange(b), self.layers)
        capped = r0 < step_of  # step t - r0 - 1 is in the block and overflows C
        # capped rows: the `need` highest ids of x = T_{t-r0-1} minus U_r0 are held too
        sub = np.nonzero(capped & (need > 0))[0]
        if len(sub):
            src = (step_of[sub] - r0[sub] - 1) * self.layers + sub % self.layers
            x = flat_t[src] & ~u0[sub]
            y = x & flat_t[sub]
            keep = np.nonzero(y.any(axis=1))[0]
            if len(keep):
                x, y, nd = x[keep], y[keep], need[sub[keep]]
                ge = self._ge_table()
                lo = np.zeros(len(keep), dtype=np.int64)
                hi = np.full(len(keep), self.epad)
                while np.any(hi - lo > 1):  # largest id b with |x & ids >= b| >= need: the `need` highest ids
                    mid = (lo + hi) // 2
                    ok = _count(x & ge[mid]) >= nd
                    lo = np.where(ok, mid, lo)
                    hi = np.where(ok, hi, mid)
                hits[sub[keep]] += _count(y & ge[lo])
        # rows whose block history holds <= C experts: the first entries held at the start, in recency order
        sub = np.nonzero(~capped & (need > 0))[0]
        if len(sub):
            pref = self._start_prefixes()  # (C + 1, L, w)
            fresh = pref[:, sub % self.layers] & ~u0[sub][None]  # (C + 1, n, w)
            cnt = _count(fresh)
            j = np.minimum(np.count_nonzero(cnt < need[sub][None], axis=0), c)  # cnt rises in j: first j with enough
            add = fresh[j, np.arange(len(sub))]
            hits[sub] += _count(add & flat_t[sub])
        return hits.reshape(b, self.layers)

    def commit(self, touched: np.ndarray) -> None:
        """Record the steps `touched` (steps, layers, E') bool as used, in order."""
        n = touched.shape[0]
        if n == 0:
            return
        # 1 + the block's last step using each expert (0: unused), by a max over steps
        for lo in range(0, n, 255):
            part = touched[lo:lo + 255, :, : self.e]
            stamp = (part.view(np.uint8) * np.arange(1, len(part) + 1, dtype=np.uint8)[:, None, None]).max(axis=0)
            self.last = np.where(stamp > 0, self.t + lo + stamp.astype(np.int64) - 1, self.last)
        self.t += n


class MoeRouter:
    """Routing and expert caches of the DES, sampled and simulated in blocks of steps.

    `step(sequences, tokens_per_seq, horizon)` returns a step's mean distinct experts per
    MoE layer and its cache hits and lookups. The router draws the routes of a block of
    steps ahead assuming the next steps have the same sequences and width (true between
    batch changes; `horizon` bounds how many can follow), and simulates the caches over the
    block at once. A step of another shape drops the steps drawn ahead: the caches keep the
    history of the steps used, a trace rewinds, temporal reuse restarts from each
    sequence's last used token. Dropping draws is unbiased: whether a step is used never
    depends on its own draws. LRU caches are simulated by `LruBlockCache`; LFU step by step
    (`CacheState`).
    """

    MIN_BLOCK = 32
    MAX_BLOCK = 128

    def __init__(self, routing: Uniform | Zipf | Temporal | Trace, *, num_experts: int, top_k: int, layers: int,
                 rng: np.random.Generator, cache: ExpertCache | None = None) -> None:
        # block_tokens=2: successive sampling of exactly the tokens a block asks for (no look-ahead)
        self.sampler = RoutingSampler(routing, num_experts=num_experts, top_k=top_k, layers=layers, rng=rng,
                                      block_tokens=2)
        self.e, self.k, self.layers = num_experts, top_k, layers
        self.epad = -(-num_experts // 64) * 64
        self.cache = cache
        self.lru = (LruBlockCache(cache.experts_per_layer, layers=layers, num_experts=num_experts)
                    if cache is not None and cache.policy is CachePolicy.LRU else None)
        self.lfu = (CacheState(cache, layers=layers, num_experts=num_experts)
                    if cache is not None and cache.policy is not CachePolicy.LRU else None)
        # the sampler ranks experts by popularity (id 0 the most popular); a real model's ids say
        # nothing of popularity, and the caches break ties within a step by id (the order a grouped
        # kernel walks the experts). So the ranks are relabelled by a random permutation drawn from
        # the run's generator (each seed its own labelling); a trace keeps its own ids.
        self._rank_of = (None if isinstance(routing, Trace)
                         else np.argsort(rng.permutation(num_experts)))  # id -> the rank it carries
        self.hits = 0
        self.lookups = 0
        self._key: tuple[tuple[int, ...], int] | None = None
        self._pos = 0
        self._size = 0
        self._next_size = self.MIN_BLOCK
        self._run = 0  # steps of the current shape before the open block
        self._touched = np.zeros((0, layers, self.epad), dtype=bool)
        self._ids: np.ndarray | None = None
        self._distinct = np.zeros(0)
        self._hits = np.zeros(0, dtype=np.int64)
        self._lookups = np.zeros(0, dtype=np.int64)

    def step(self, sequences: list[int], tokens_per_seq: int, horizon: int = MAX_BLOCK) -> tuple[float, int, int]:
        """(mean distinct experts per layer, hits, lookups) of one step."""
        key = (tuple(sequences), tokens_per_seq)
        if key != self._key or self._pos >= self._size:
            if key == self._key:  # the block was used up: the shape holds, draw further ahead
                self._run += self._pos
                self._next_size = min(self.MAX_BLOCK, 4 * self._next_size)
            else:  # a new shape: guess it lasts as long as the last one did (batches change often in serving)
                self._run += self._pos
                self._next_size = max(1, min(self.MIN_BLOCK, self._run)) if self._key is not None else self.MIN_BLOCK
                self._run = 0
            self._close()
            self._open(key, max(1, min(self._next_size, horizon)))
        i = self._pos
        self._pos += 1
        if self.lfu is not None:
            h, n = self.lfu.step(self._touched[i, :, : self.e])
        else:
            h, n = int(self._hits[i]), int(self._lookups[i])
        self.hits += h
        self.lookups += n
        return float(self._distinct[i]), h, n

    def _open(self, key: tuple[tuple[int, ...], int], size: int) -> None:
        seqs, tps = list(key[0]), key[1]
        n = len(seqs) * tps
        touched = self.sampler.touched_steps(n, size, self.epad)  # None: the ids are needed
        ids = None
        if touched is None:
            ids = self.sampler.steps(seqs, tps, size)  # (L, size x n, k)
            touched = np.zeros((size, self.layers, self.epad), dtype=bool)
            # one scatter for the block: flat index (step, layer, expert)
            step_of = np.repeat(np.arange(size), n)[None, :, None]
            layer_of = np.arange(self.layers)[:, None, None]
            touched.reshape(-1)[((step_of * self.layers + layer_of) * self.epad + ids).reshape(-1)] = True
        if self._rank_of is not None:  # ranks -> ids: id j is touched when the rank it carries is
            touched[:, :, : self.e] = touched[:, :, self._rank_of]
        self._key, self._pos, self._size = key, 0, size
        self._touched, self._ids = touched, ids
        if n == 1:  # one token: its k experts are distinct
            self._distinct = np.full(size, float(min(self.k, self.e)))
            self._lookups = np.full(size, self.layers * min(self.k, self.e), dtype=np.int64)
        else:
            counts = np.count_nonzero(touched, axis=2)  # (size, L) distinct experts
            self._distinct = counts.mean(axis=1)
            self._lookups = counts.sum(axis=1)
        self._hits = (self.lru.hits(touched).sum(axis=1) if self.lru is not None
                      else np.zeros(size, dtype=np.int64))

    def _close(self) -> None:
        """Keep the history of the steps used from the open block; drop the rest."""
        if self._key is None:
            return
        used = self._pos
        if self.lru is not None:
            self.lru.commit(self._touched[:used])
        seqs, tps = list(self._key[0]), self._key[1]
        n = len(seqs) * tps
        if used < self._size:
            self.sampler.rewind((self._size - used) * n)
            if used and self._ids is not None:
                self.sampler.set_prev(seqs, self._ids[:, : used * n], tps, used)
        self._key = None

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0
