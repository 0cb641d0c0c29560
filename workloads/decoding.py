"""Decoding strategies: what each target pass verifies and how many tokens it yields.

- autoregressive: one token per target pass.
- speculative: a draft model proposes `draft_len` tokens one at a time; one target pass
  verifies them all (plus the bonus token), optionally as a tree of `tree` branching
  factors. Acceptance per token `acceptance` (or a CSV of per-step accepted counts).
- self_speculative (ELMoE-3D Elastic-SD): the draft is the target itself with fewer
  experts (`draft_top_k`, cached "hot" experts only) and only the most significant
  `draft_weight_bits` of each bit-sliced weight; verification restores all experts and all
  bits. The draft's weights are a nested subset: no extra weight memory. Above
  `batch_threshold` sequences, speculation is switched off.
- lexical_unit: no draft; each step verifies a window of `window` tokens and keeps the
  prefix up to the first rejected one: `tokens_per_step` on average (or per-position
  `acceptance` a: 1 + sum_{i=1}^{window-1} a^i).
- multipath: a pool of hypothesis paths sharing the prompt KV (copy-on-write forks); the
  live pool is the decode batch, growing from `initial_width` to `max_width` and pruned to
  `final_width` after `prune_after` tokens.

Expected tokens per target pass for a chain of g drafted tokens at acceptance a:
(1 - a^(g+1)) / (1 - a); for a tree: 1 + sum over nodes of the product of acceptance along
the path, the j-th sibling being right with probability a (1 - a)^(j - 1).
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

SPEC = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Strategy(StrEnum):
    AUTOREGRESSIVE = "autoregressive"
    SPECULATIVE = "speculative"
    SELF_SPECULATIVE = "self_speculative"
    LEXICAL_UNIT = "lexical_unit"
    MULTIPATH = "multipath"


class Autoregressive(BaseModel):
    model_config = SPEC
    strategy: Literal["autoregressive"] = "autoregressive"


def _check_tree(tree: tuple[int, ...] | None, draft_len: int) -> None:
    """A token tree's branching factors: each >= 1, one per drafted depth."""
    if tree is None:
        return
    if any(b < 1 for b in tree):
        raise PydanticCustomError(
            "value_error", "every tree branching factor must be >= 1 (the tokens kept at each drafted depth)",
            {"field": "tree", "value": list(tree), "expected": "whole numbers >= 1, one per drafted depth, e.g. [3, 2, 1]",
             "hint": "a chain (no tree) is all 1s, or leave tree out"})
    if len(tree) != draft_len:
        raise PydanticCustomError(
            "value_error", "a tree of depth {depth} needs draft_len {depth}",
            {"field": "tree", "depth": len(tree), "value": list(tree),
             "expected": f"{draft_len} branching factors (draft_len {draft_len}), or draft_len {len(tree)}",
             "hint": "one branching factor per drafted token depth"})


class Speculative(BaseModel):
    model_config = SPEC
    strategy: Literal["speculative"] = "speculative"
    draft: str = Field(description="draft model: a preset name or a model file")
    draft_device: str | None = Field(None, description="device running the draft (default: the decode device)")
    draft_len: int = Field(4, ge=0, le=64, description="tokens drafted per target pass")
    acceptance: float = Field(0.7, ge=0.0, le=1.0, description="probability each drafted token is accepted")
    acceptance_csv: str | None = Field(
        None, description="CSV with a column accepted: drafted tokens accepted at each step (replays in order)")
    tree: tuple[int, ...] | None = Field(
        None, description="branching factor per depth of a token tree (e.g. [4, 2, 1]); None: a chain")

    @model_validator(mode="after")
    def _check(self) -> "Speculative":
        _check_tree(self.tree, self.draft_len)
        if self.acceptance_csv is not None:
            check_accepted_csv(Path(self.acceptance_csv), draft_len=self.draft_len)
        return self


class SelfSpeculative(BaseModel):
    model_config = SPEC
    strategy: Literal["self_speculative"] = "self_speculative"
    draft_len: int = Field(4, ge=0, le=64, description="tokens the MSB-slice draft proposes per target pass")
    acceptance: float = Field(0.8, ge=0.0, le=1.0, description="probability the target accepts each drafted token")
    draft_top_k: int = Field(2, ge=1, le=256, description="experts per token in the draft (from the cached, hot experts)")
    draft_weight_bits: int | None = Field(
        None, ge=1, le=16, description="most significant bits of each weight the draft uses; below the weight bits "
                                "(None: half the weight bits, ELMoE-3D's 4 of INT8)")
    batch_threshold: int = Field(8, ge=1, le=4096, description="the batch size at which the decoding mode switches (see speculate_above_threshold)")
    speculate_above_threshold: bool = Field(
        False, description="false: speculate up to batch_threshold sequences and decode plainly above; true: decode "
                           "plainly (the fast tier as an expert cache) up to batch_threshold and speculate above it, "
                           "ELMoE-3D's switch as a secondary source reports it")
    msb_tier: str | None = Field(None, description="memory tier holding the MSB slices (e.g. hybrid-bonded DRAM)")
    lsb_tier: str | None = Field(None, description="memory tier holding the LSB slices (e.g. LPDDR)")
    expert_bit_axis: bool = Field(
        True, description="false: the experts are not bit-sliced (ELMoE-3D's GPT-OSS-20B, whose MXFP4 experts get the "
                          "expert axis only): cached experts are held whole in the MSB tier and the draft reads them whole")
    tree: tuple[int, ...] | None = Field(
        None, description="branching factor per depth of a token-tree draft (e.g. [2, 1, 1, 1]); None: a chain")

    @model_validator(mode="after")
    def _check(self) -> "SelfSpeculative":
        _check_tree(self.tree, self.draft_len)
        return self

    def speculates_at(self, batch: int) -> bool:
        """Whether a batch of `batch` sequences runs the self-speculative draft (the mode switch)."""
        if self.draft_len == 0:
            return False
        return batch > self.batch_threshold if self.speculate_above_threshold else batch <= self.batch_threshold

    def draft_bits(self, weight_bits: int) -> int:
        """Bits the draft reads: `draft_weight_bits`, or half the weight bits when not given."""
        return self.draft_weight_bits if self.draft_weight_bits is not None else max(1, weight_bits // 2)


class LexicalUnit(BaseModel):
    """Lexical-unit decoding (Wu et al., arXiv 2405.15208): each step predicts `window` tokens;
    the first is the ordinary next token (always kept), each further one is kept only if it
    and every one before it are accepted, i.e. the first rejection ends the step. With i.i.d.
    per-position acceptance a: E[tokens per step] = 1 + sum_{i=1}^{window-1} a^i.

    Give either `tokens_per_step` (the mean, 1.3-1.5 on text per the paper) or `acceptance`;
    the other is derived so that both are reported."""

    model_config = SPEC
    strategy: Literal["lexical_unit"] = "lexical_unit"
    tokens_per_step: float = Field(1.4, ge=1.0, le=256.0, description="mean tokens accepted per step (~1.3-1.5 on text)")
    window: int = Field(4, ge=1, le=256, description="tokens verified per step")
    acceptance: float | None = Field(None, ge=0.0, le=1.0, description="per-position acceptance (derived if not given)")

    @model_validator(mode="after")
    def _check(self) -> "LexicalUnit":
        if self.tokens_per_step > self.window:
            raise PydanticCustomError(
                "value_error", "tokens_per_step ({value}) cannot exceed window ({window}): a step emits at most the "
                "window's tokens", {"field": "tokens_per_step", "value": self.tokens_per_step, "window": self.window,
                                    "expected": f"a mean from 1 to {self.window} (window)",
                                    "hint": "lower tokens_per_step, or widen the window"})
        given = self.model_fields_set
        if self.acceptance is not None:
            mean = expected_tokens_per_pass(self.acceptance, self.window - 1)
            if "tokens_per_step" in given and abs(mean - self.tokens_per_step) > 1e-6 * mean:
                raise ValueError(f"tokens_per_step ({self.tokens_per_step}) and acceptance ({self.acceptance}) disagree: "
                                 f"acceptance {self.acceptance} over a window of {self.window} gives {mean:.6g}; "
                                 "give one of them")
            object.__setattr__(self, "tokens_per_step", mean)  # frozen: derived once, here
        else:
            object.__setattr__(self, "acceptance", acceptance_for_mean(self.tokens_per_step, self.window - 1))
        return self


class Multipath(BaseModel):
    model_config = SPEC
    strategy: Literal["multipath"] = "multipath"
    initial_width: int = Field(4, ge=1, le=1024, description="paths forked from the prompt")
    max_width: int = Field(8, ge=1, le=1024, description="most live paths")
    expand_every: int = Field(32, ge=1, le=1 << 24, description="tokens between expansions (doubling, up to max_width)")
    prune_after: int = Field(96, ge=1, le=1 << 24, description="tokens after which the pool is reduced")
    final_width: int = Field(2, ge=1, le=1024, description="live paths after pruning")

    @model_validator(mode="after")
    def _check(self) -> "Multipath":
        if not (self.final_width <= self.max_width and self.initial_width <= self.max_width):
            wide = "initial_width" if self.initial_width > self.max_width else "final_width"
            raise PydanticCustomError(
                "value_error", "initial_width and final_width must not exceed max_width ({cap})",
                {"field": wide, "value": getattr(self, wide), "cap": self.max_width,
                 "expected": f"at most max_width, {self.max_width}", "hint": "narrow it, or raise max_width"})
        return self

    def width_at(self, token: int) -> int:
        """Live paths while generating token index `token` (0-based)."""
        if token >= self.prune_after:
            return self.final_width
        w = self.initial_width * 2 ** (token // self.expand_every)
        return int(min(w, self.max_width))


Decoding = Annotated[Autoregressive | Speculative | SelfSpeculative | LexicalUnit | Multipath,
                     Field(discriminator="strategy")]


def expected_tokens_per_pass(acceptance: float, draft_len: int) -> float:
    """(1 - a^(g+1)) / (1 - a): drafted tokens accepted in a row, plus the target's own."""
    a, g = acceptance, draft_len
    if a >= 1.0:
        return float(g + 1)
    return (1.0 - a ** (g + 1)) / (1.0 - a)


def tree_nodes(tree: tuple[int, ...]) -> int:
    """Drafted tokens a tree verifies (the root, the last accepted token, excluded)."""
    total, level = 0, 1
    for b in tree:
        level *= b
        total += level
    return total


def expected_tokens_tree(acceptance: float, tree: tuple[int, ...]) -> float:
    """1 + sum over nodes of the product of acceptance along the path from the root.

    The j-th child of a node is the right continuation with probability a (1 - a)^(j-1);
    siblings are alternatives. A chain (all factors 1) gives (1 - a^(g+1)) / (1 - a)."""
    a = acceptance
    child = [a * (1 - a) ** j for j in range(max(tree, default=1))]
    total, frontier = 1.0, [1.0]
    for b in tree:
        frontier = [p * child[j] for p in frontier for j in range(b)]
        total += sum(frontier)
    return total


def sample_accepted(rng: np.random.Generator, acceptance: float, draft_len: int, size: int) -> np.ndarray:
    """Drafted tokens accepted in a row: P(k >= i) = a^i, k <= draft_len."""
    if draft_len == 0:
        return np.zeros(size, dtype=int)
    # first rejection position among draft_len Bernoulli trials
    trials = rng.random((size, draft_len)) >= acceptance
    first_reject = np.where(trials.any(axis=1), trials.argmax(axis=1), draft_len)
    return first_reject.astype(int)


def sample_accepted_tree(rng: np.random.Generator, acceptance: float, tree: tuple[int, ...], size: int) -> np.ndarray:
    """Accepted depth through a tree: at each depth one of the b children is right with
    probability 1 - (1 - a)^b (the sum of a (1 - a)^(j-1) over its b children)."""
    depth = np.zeros(size, dtype=int)
    alive = np.ones(size, dtype=bool)
    for b in tree:
        hit = rng.random(size) < 1.0 - (1.0 - acceptance) ** b
        alive &= hit
        depth += alive
    return depth


MAX_ACCEPTED_ROWS = 1_000_000


def check_accepted_csv(path: Path, *, draft_len: int | None = None) -> None:
    """Raise ValueError (a validation error of the scenario) unless `path` is a readable CSV
    with a column `accepted` of at least one integer from 0 to `draft_len` (no more can be
    accepted than were drafted; at most MAX_ACCEPTED_ROWS rows)."""
    if not path.is_file():
        raise ValueError(f"acceptance_csv {str(path)!r}: " + ("is a directory, not a CSV file" if path.is_dir()
                                                             else "file not found"))
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if "accepted" not in (reader.fieldnames or []):
                raise ValueError(f"acceptance_csv {str(path)!r}: no column 'accepted' (header: "
                                 f"{','.join(reader.fieldnames or [])[:100]!r})")
            n = 0
            for i, row in enumerate(reader, start=2):
                cell = (row.get("accepted") or "").strip()
                if not (cell.isascii() and cell.isdigit() and len(cell) <= 6):
                    raise ValueError(f"acceptance_csv {str(path)!r}, line {i}: accepted = {cell[:40]!r} is not an "
                                     "integer >= 0 (drafted tokens accepted at that step)")
                if draft_len is not None and int(cell) > draft_len:
                    raise ValueError(f"acceptance_csv {str(path)!r}, line {i}: accepted = {cell} exceeds draft_len "
                                     f"{draft_len}: no more tokens can be accepted than were drafted (record the "
                                     "trace with this draft length, or raise draft_len)")
                n += 1
                if n > MAX_ACCEPTED_ROWS:
                    raise ValueError(f"acceptance_csv {str(path)!r}: more than {MAX_ACCEPTED_ROWS:,} rows")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"acceptance_csv {str(path)!r}: cannot be read ({exc})") from None
    if n == 0:
        raise ValueError(f"acceptance_csv {str(path)!r}: no rows (a header alone replays nothing)")


def read_accepted_csv(path: Path) -> list[int]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [int(row["accepted"]) for row in csv.DictReader(f)]


def acceptance_for_mean(tokens_per_pass: float, positions: int) -> float:
    """The per-position acceptance a with 1 + sum_{i=1}^{positions} a^i = tokens_per_pass."""
    if positions == 0 or tokens_per_pass <= 1.0:
        return 0.0
    if tokens_per_pass >= positions + 1:
        return 1.0
    from scipy.optimize import brentq  # lazy: scipy is slow to import

    return float(brentq(lambda a: expected_tokens_per_pass(a, positions) - tokens_per_pass, 0.0, 1.0, xtol=1e-14))
