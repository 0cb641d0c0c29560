"""MoE routing models, distinct experts per step, and expert caches (LRU / LFU).

Routing models (per MoE layer, each token picks `top_k` distinct experts):
- uniform: every expert equally likely;
- zipf: popularity of the i-th most popular expert ~ 1 / i^s;
- temporal: a token reuses its sequence's previous expert set with probability p, else
  draws afresh from `base` (uniform or zipf);
- trace: a CSV of per-token expert ids (columns layer, token, experts = ids joined by
  spaces), replayed in order.

Expected distinct experts touched by B tokens: sum_i 1 - (1 - p_i)^B, with p_i the
probability one token selects expert i (k/E under uniform routing: E (1 - (1 - k/E)^B)).

Caches hold whole experts of one layer in a fast tier. Analytic hit rates under
independent routing: LFU keeps the C most popular experts (hit = their share of accesses);
LRU follows Che's approximation. Temporal correlation raises LRU hits; only the DES, which
simulates the caches, sees that.
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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
    path: str = Field(description="CSV with columns layer, token, experts (space-separated ids)")


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


def selection_probability(routing: Uniform | Zipf | Temporal | Trace, num_experts: int, top_k: int) -> np.ndarray:
    """Probability one token selects each expert: p_i = min(1, c q_i) with sum p_i = k.

    A token picks k *distinct* experts, so no expert can be picked with probability above 1;
    the excess of the most popular is spread over the rest (water-filling). Uniform: k/E."""
    q = popularity(routing, num_experts)
    if top_k >= num_experts:
        return np.ones(num_experts)
    lo, hi = 0.0, top_k / q.min()
    for _ in range(100):
        c = (lo + hi) / 2
        if np.minimum(1.0, c * q).sum() < top_k:
            lo = c
        else:
            hi = c
    return np.minimum(1.0, hi * q)


def expected_distinct(routing: Uniform | Zipf | Temporal | Trace, num_experts: int, top_k: int, tokens: int) -> float:
    """sum_i 1 - (1 - p_i)^B; under uniform routing E (1 - (1 - k/E)^B)."""
    p = selection_probability(routing, num_experts, top_k)
    return float(np.sum(1.0 - (1.0 - p) ** tokens))


def analytic_hit_rate(cache: ExpertCache, routing: Uniform | Zipf | Temporal | Trace, num_experts: int,
                      top_k: int = 1, tokens_per_step: int = 1) -> float:
    """Share of a step's distinct experts already in the cache, independent-reference model.

    Expert i is touched by a step of B tokens with probability t_i = 1 - (1 - p_i)^B. LFU
    holds the C experts with the largest t_i; LRU (Che's approximation) holds expert i with
    probability 1 - (1 - t_i)^T, T chosen so that C experts are held on average. The hit
    rate is sum_i t_i held_i / sum_i t_i."""
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
        from scipy.optimize import brentq  # here, not at module level: scipy.optimize costs ~0.4 s of start-up

        t = np.clip(t, 1e-12, 1 - 1e-12)
        big_t = brentq(lambda x: float(np.sum(1.0 - (1.0 - t) ** x)) - c, 1e-9, 1e12)
        held = 1.0 - (1.0 - t) ** big_t
    return float(np.sum(t * held) / np.sum(t))


# --------------------------------------------------------------------------- sampling


class RoutingSampler:
    """Draws every MoE layer's expert choices for a step at once (one RNG, seeded by the run).

    k distinct experts per token by the Gumbel-top-k trick (exactly sampling without
    replacement proportional to popularity); temporal reuse per (sequence, layer).

    `block_tokens` > 1 draws the experts of that many tokens in one numpy call, by the
    exponential race (equivalent to Gumbel top-k, see `_race`), and hands them out as steps
    ask (a block of steps, vectorised). Each token's experts
    are still k draws without replacement from the same popularity, independent of every
    other token's, so the law is that of the per-token sampler; the random stream is consumed
    in another order, so a seed gives other (equally likely) draws than `block_tokens=1`.
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
        self.logq = np.log(popularity(routing, num_experts))
        self.inv_q = 1.0 / popularity(routing, num_experts)
        self.prev: dict[int, np.ndarray] = {}  # sequence -> (layers, k) last expert ids
        self.trace: list[np.ndarray] | None = None
        self.cursor = 0
        if isinstance(routing, Trace):
            self.trace = _read_trace(Path(routing.path), layers, top_k)

    def step(self, sequences: list[int], tokens_per_seq: int = 1) -> np.ndarray:
        """Expert ids of every token of this step: shape (layers, tokens, k)."""
        n = len(sequences) * tokens_per_seq
        if self.trace is not None:
            idx = (self.cursor + np.arange(n))
            out = np.stack([layer[idx % len(layer)] for layer in self.trace])
            self.cursor += n
            return out
        out = self._draw(n) if self.block_tokens > 1 else self._topk(n)
        if isinstance(self.routing, Temporal):
            for i in range(n):
                seq = sequences[i // tokens_per_seq]
                prev = self.prev.get(seq)
                if prev is not None:
                    reuse = self.rng.random(self.layers) < self.routing.reuse
                    out[reuse, i] = prev[reuse]
                self.prev[seq] = out[:, i].copy()
        self.cursor += n
        return out


    def _topk(self, n: int) -> np.ndarray:
        g = self.rng.gumbel(size=(self.layers, n, self.e)) + self.logq
        return np.argpartition(-g, self.k - 1, axis=2)[:, :, : self.k]

    def _race(self, n: int) -> np.ndarray:
        """The same law as `_topk`, 3x cheaper: -log(X) of X ~ Exp(1) is a standard Gumbel, so the
        k largest log q_i + G_i are the k smallest X_i / q_i (the exponential race)."""
        x = self.rng.standard_exponential(size=(self.layers, n, self.e)) * self.inv_q
        return np.argpartition(x, self.k - 1, axis=2)[:, :, : self.k]

    def _draw(self, n: int) -> np.ndarray:
        """n tokens' expert ids from the block drawn ahead (a new block when it runs out)."""
        parts = []
        while n > 0:
            if self._block is None or self._block_pos >= self._block.shape[1]:
                self._block = self._race(max(self.block_tokens, n))
                self._block_pos = 0
            take = min(n, self._block.shape[1] - self._block_pos)
            parts.append(self._block[:, self._block_pos:self._block_pos + take])
            self._block_pos += take
            n -= take
        return (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)).copy()


def _read_trace(path: Path, layers: int, top_k: int) -> list[np.ndarray]:
    per_layer: list[list[list[int]]] = [[] for _ in range(layers)]
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            layer = int(row["layer"])
            if 0 <= layer < layers:
                ids = [int(x) for x in row["experts"].split()]
                if len(ids) != top_k:
                    raise ValueError(f"{path}: a row of layer {layer} lists {len(ids)} experts, the model routes to {top_k}")
                per_layer[layer].append(ids)
    if any(not rows for rows in per_layer):
        raise ValueError(f"{path}: the trace must have rows for every MoE layer 0..{layers - 1}")
    return [np.array(rows) for rows in per_layer]


class CacheState:
    """Expert caches of every MoE layer, updated once per step with the experts it touched.

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
