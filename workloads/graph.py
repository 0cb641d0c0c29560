"""The op graph of one step (prefill, decode), with identical layers folded into one op.

Every op records its shape and what it moves; nothing about hardware. Costs that grow
with the KV cache are affine in the *total* context of the batch (the sum over sequences
of the tokens each attends to), so one op serves every decode step: an engine evaluates
`flops + flops_per_ctx * ctx` for whichever contexts it needs. A model's sliding-window layers
(`ModelSpec.sliding_window`) are `window_share` of an attention op's layers: that share of the
context terms sees at most `window_ctx` tokens of the batch's context (sequences x W), and a
prefill's own causal pairs are counted with the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from slmsim.workloads.model import ModelSpec
from slmsim.workloads.routing import Uniform, expected_distinct
from slmsim.workloads.scenario import Precision, WeightGroup


# Vector-unit work per element (counted as ops on the vector unit; matmul FLOPs are exact).
# assumption: RMSNorm (every preset's norm, T5's "T5LayerNorm" included) costs 4 ops per
# element: square, accumulate, scale by 1/rms (the rsqrt is once per row), scale by the
# gain; the graph has no separate residual op, so the residual add is folded in here: 5.
# LLM-Viewer (Yuan et al., arXiv 2402.16363, model_analyzer.py) counts a LayerNorm as 7
# ("sum sub pow sum div mul add") plus 1 for the residual add: 8 would be the LayerNorm
# figure. tests/workloads/test_vector_constants.py bounds what a 2x error changes.
NORM_OPS_PER_ELEMENT = 5.0
# assumption: a gated FFN's activation, SiLU(g) * u = g / (1 + exp(-g)) * u, counted with
# exp as one special-function op: exp, add, divide, multiply = 4 per element of the
# intermediate width (GELU-tanh, T5 v1.1's gated-gelu, is about 9; LLM-Viewer counts 2).
ACTIVATION_OPS_PER_ELEMENT = 4.0


class Phase(StrEnum):
    PREFILL = "prefill"
    DECODE = "decode"


class OpKind(StrEnum):
    MATMUL = "matmul"  # activations x stored weights
    ATTENTION = "attention"  # activations x KV cache
    VECTOR = "vector"  # norms, activation functions, rotary, residuals
    EMBEDDING = "embedding"  # row lookup


class OpClass(StrEnum):
    """What an op is for; latency breakdowns are reported per class."""

    EMBEDDING = "embedding"
    NORM = "norm"
    QKV = "qkv_proj"
    ATTENTION = "attention"
    O_PROJ = "o_proj"
    FFN = "ffn"
    ROUTER = "router"
    EXPERTS = "experts"
    SHARED_EXPERTS = "shared_experts"
    CROSS_ATTENTION = "cross_attention"
    LM_HEAD = "lm_head"
    ELEMENTWISE = "elementwise"


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    op_class: OpClass
    kind: OpKind
    layers: int  # identical instances executed one after another
    m: int  # activation rows (tokens) in this step
    k: int  # reduction dimension (matmul)
    n: int  # output dimension (matmul)
    weight_params: float  # weights touched per instance
    weight_bits: float  # bits per weight in memory (scales included)
    flops: float  # per instance, the part independent of context
    flops_per_ctx: float = 0.0  # per instance, per context token
    kv_read_bytes_per_ctx: float = 0.0
    kv_read_bytes: float = 0.0  # context-independent KV reads (cross-attention)
    kv_write_bytes: float = 0.0
    act_bytes: float = 0.0  # activations in + out
    # attention of a model with sliding-window layers: the share of the op's layers that are
    # local, whose context terms are capped at `window_ctx` (the batch's sequences x W tokens)
    window_share: float = 0.0
    window_ctx: float = math.inf

    @property
    def weight_bytes(self) -> float:
        return self.weight_params * self.weight_bits / 8.0


@dataclass(frozen=True, slots=True)
class Workload:
    model: str
    phase: Phase
    batch: int
    tokens_per_seq: int  # new tokens each sequence adds in this step
    ops: tuple[Op, ...]

    @property
    def new_tokens(self) -> int:
        return self.batch * self.tokens_per_seq


def build_step(
    model: ModelSpec,
    precision: Precision,
    *,
    phase: Phase,
    batch: int,
    prompt_tokens: int,
    tokens_per_seq: int | None = None,
    distinct_experts: float | None = None,
    static_kv_tokens: int | None = None,
    logits: bool = True,
    all_position_logits: bool = False,
    window_overcount_pairs: float = 0.0,
) -> Workload:
    """Ops for one step. Prefill processes `prompt_tokens` per sequence (or, as one pass of a
    chunked prefill, `tokens_per_seq` of them after a context of earlier passes: the step's
    attention is affine in that context); decode one token. `logits: False` leaves out the
    final norm and lm_head (a prefill pass before the last one needs no logits);
    `all_position_logits` (prefill): the head runs on every token of the pass, not the last
    of each sequence only (a fixed-shape prompt processor's whole logits tensor).
    `static_kv_tokens`: a fixed-shape runtime's compiled window, which every step's (and
    every prefill pass's) attention reads and scores whole.
    `window_overcount_pairs`: a pass of a chunked prefill at an offset where its sliding-window
    layers' context term, tokens x min(offset, W), overcounts the attended pairs
    (`chunk_window_overcount_pairs`); its constant FLOPs take them off, so the pass is exact at
    that offset."""
    tps = tokens_per_seq if tokens_per_seq is not None else (prompt_tokens if phase is Phase.PREFILL else 1)
    if model.encoder_decoder is not None and phase is Phase.PREFILL:
        return _encoder_decoder_prefill(model, precision, batch=batch, prompt_tokens=prompt_tokens)
    m = batch * tps
    b = _Builder(model=model, precision=precision, m=m, batch=batch, tps=tps, phase=phase,
                 prompt_tokens=prompt_tokens, static_kv_tokens=static_kv_tokens,
                 window_overcount_pairs=window_overcount_pairs, all_position_logits=all_position_logits)
    ops: list[Op] = [b.embedding()]
    ops += b.decoder_layers(distinct_experts)
    if logits:
        ops += b.head()
    return Workload(model=model.name, phase=phase, batch=batch, tokens_per_seq=tps, ops=tuple(ops))


def _encoder_decoder_prefill(model: ModelSpec, precision: Precision, *, batch: int, prompt_tokens: int) -> Workload:
    """Encoder over the prompt, the cross-attention K/V of every decoder layer over all encoder
    tokens, then the first decoder step: one token per sequence (the decoder start token),
    whose self-attention sees only itself and whose cross-attention reads the new K/V."""
    enc = _Builder(model=model, precision=precision, m=batch * prompt_tokens, batch=batch, tps=prompt_tokens,
                   phase=Phase.PREFILL, prompt_tokens=prompt_tokens)
    ops: list[Op] = [enc.embedding()]
    ops += enc.encoder()
    ops += enc.cross_kv_projection()
    dec = replace(enc, m=batch, tps=1)  # the first decoder step, one token per sequence
    ops += [_renamed(dec.embedding(), "dec_")]
    ops += dec.decoder_layers(None)
    ops += dec.head()
    return Workload(model=model.name, phase=Phase.PREFILL, batch=batch, tokens_per_seq=prompt_tokens, ops=tuple(ops))


def merge_steps(decode: Workload | None, chunks: tuple[tuple[Workload, int], ...], *, model: str) -> Workload:
    """One step that runs a decode batch and prefill chunks together: a mixed batch (vLLM V1's
    scheduler, Sarathi-Serve's stall-free batching), every weight read once for all its tokens.

    `decode`: a decode step of its batch (None: no sequence decodes); `chunks`: (a prefill pass
    of one sequence, built with `tokens_per_seq` = its chunk, the number of that sequence's
    tokens already prefilled). Ops are matched by name, in the decode step's order:
    - weight ops (matmul): the rows, FLOPs, activations and KV writes add up; the weights are
      read once (the largest weight count of the parts: equal for dense weights, and for
      experts when every part was built with the distinct experts of all the step's tokens);
    - the embedding looks up every part's rows (its "weights" are the rows read): they add up;
    - attention: each part keeps its own attention (a chunk's queries against its sequence's
      context, decode's against theirs); a chunk's context terms are evaluated at its offset
      and become constants, so the step stays affine in the decode batch's total context
      only, the one context an engine passes;
    - the head (final norm, lm_head) runs for the decode rows and the last chunk of a prompt
      only (a chunk before a prompt's last has no logits), unless the chunks were built with
      every position's logits (`all_position_logits`: each chunk then carries its head).
    The merged step counts `decode.batch` sequences (the ones its context sums over)."""
    parts: list[tuple[Op, ...]] = []
    if decode is not None:
        parts.append(decode.ops)
    for wl, offset in chunks:
        parts.append(tuple(_at_offset(op, offset, wl.tokens_per_seq, wl.batch) if op.kind is OpKind.ATTENTION else op
                           for op in wl.ops))
    if not parts:
        raise ValueError("a mixed step needs a decode batch or at least one prefill chunk")
    merged: dict[str, Op] = {}
    for ops in parts:
        for op in ops:
            have = merged.get(op.name)
            merged[op.name] = op if have is None else _merged_op(have, op)
    batch = decode.batch if decode is not None else 0
    return Workload(model=model, phase=Phase.DECODE, batch=batch, tokens_per_seq=1, ops=tuple(merged.values()))


def window_pairs(tokens: float, window: float) -> float:
    """Causal pairs of `tokens` positions in a layer over a sliding window: token i attends to
    min(i, W) positions, sum_{i=1..n} min(i, W)."""
    if tokens <= window:
        return tokens * (tokens + 1) / 2.0
    return window * (window + 1) / 2.0 + (tokens - window) * window


def chunk_window_overcount_pairs(offset: float, tokens: float, window: float) -> float:
    """Pairs per sequence that a chunk's capped context term, tokens x min(offset, W), counts
    beyond the exact pairs of its tokens with earlier positions in a sliding-window layer.

    Token j of a chunk of p tokens after `offset` earlier ones attends to min(offset + j, W)
    positions, min(j, W) of them in the chunk (the pass's own pairs), so to
    S(offset + p) - S(offset) - S(p) earlier ones in all (S = `window_pairs`). Zero while
    offset + p <= W and without a window; S(p) once offset >= W (p <= W)."""
    if math.isinf(window) or not offset:
        return 0.0
    earlier = window_pairs(offset + tokens, window) - window_pairs(offset, window) - window_pairs(tokens, window)
    return tokens * min(offset, window) - earlier


def _at_offset(op: Op, offset: int, tokens: int, batch: int) -> Op:
    """A prefill chunk's attention (`tokens` per sequence of `batch`) with its context
    (`offset` earlier tokens) made constant: its sliding-window layers' part at most the window,
    their FLOPs the exact pairs (`chunk_window_overcount_pairs`)."""
    seen = (1.0 - op.window_share) * offset + op.window_share * min(offset, op.window_ctx / batch)
    over = op.window_share * chunk_window_overcount_pairs(offset, tokens, op.window_ctx / batch)
    # flops_per_ctx is the pass's p tokens x the FLOPs of one attended pair
    flops = op.flops + batch * (seen - over / tokens) * op.flops_per_ctx
    return replace(op, flops=flops, flops_per_ctx=0.0,
                   kv_read_bytes=op.kv_read_bytes + batch * seen * op.kv_read_bytes_per_ctx, kv_read_bytes_per_ctx=0.0)


def _merged_op(a: Op, b: Op) -> Op:
    if (a.kind, a.layers, a.k, a.n, a.weight_bits) != (b.kind, b.layers, b.k, b.n, b.weight_bits):
        raise ValueError(f"op {a.name!r} differs between the parts of a mixed step")
    weights = a.weight_params + b.weight_params if a.kind is OpKind.EMBEDDING else max(a.weight_params, b.weight_params)
    if b.flops_per_ctx or b.kv_read_bytes_per_ctx:  # the part whose context terms remain carries the window
        if a.flops_per_ctx or a.kv_read_bytes_per_ctx:
            raise ValueError(f"op {a.name!r}: two parts of a mixed step keep context terms")
        a = replace(a, window_share=b.window_share, window_ctx=b.window_ctx)
    return replace(a, m=a.m + b.m, weight_params=weights, flops=a.flops + b.flops,
                   flops_per_ctx=a.flops_per_ctx + b.flops_per_ctx,
                   kv_read_bytes_per_ctx=a.kv_read_bytes_per_ctx + b.kv_read_bytes_per_ctx,
                   kv_read_bytes=a.kv_read_bytes + b.kv_read_bytes, kv_write_bytes=a.kv_write_bytes + b.kv_write_bytes,
                   act_bytes=a.act_bytes + b.act_bytes)


def all_weight_ops(model: ModelSpec, precision: Precision, *, prompt_tokens: int) -> tuple[Op, ...]:
    """One op per weight matrix of the model (every expert, the encoder and cross-K/V
    projections of an encoder-decoder): what weight-stationary hardware must hold."""
    ops = build_step(model, precision, phase=Phase.DECODE, batch=1, prompt_tokens=prompt_tokens,
                     distinct_experts=float(model.moe.num_experts) if model.moe else None).ops
    if model.encoder_decoder is not None:
        pre = build_step(model, precision, phase=Phase.PREFILL, batch=1, prompt_tokens=prompt_tokens).ops
        ops += tuple(op for op in pre if op.name.startswith("enc_") or op.name == "cross_kv_proj")
    return ops


@dataclass(frozen=True)
class _Builder:
    model: ModelSpec
    precision: Precision
    m: int
    batch: int
    tps: int
    phase: Phase
    prompt_tokens: int
    static_kv_tokens: int | None = None
    # a chunked prefill pass: pairs per sequence its local layers' capped context term counts
    # beyond the exact ones at the pass's offset (`chunk_window_overcount_pairs`)
    window_overcount_pairs: float = 0.0
    all_position_logits: bool = False  # prefill: the head over every token of the pass

    @property
    def abytes(self) -> float:
        return self.precision.activation_bits / 8.0

    @property
    def kvbytes(self) -> float:
        return self.precision.kv_bits / 8.0

    def matmul(self, name: str, cls: OpClass, group: WeightGroup, layers: int, k: int, n: int, *,
               m: int | None = None, weight_params: float | None = None) -> Op:
        rows = self.m if m is None else m
        return Op(
            name=name, op_class=cls, kind=OpKind.MATMUL, layers=layers, m=rows, k=k, n=n,
            weight_params=float(k * n if weight_params is None else weight_params),
            weight_bits=self.precision.bits_for(group),
            flops=2.0 * rows * k * n,
            act_bytes=rows * (k + n) * self.abytes,
        )

    def vector(self, name: str, cls: OpClass, layers: int, width: int, ops_per_elem: float, *, m: int | None = None) -> Op:
        rows = self.m if m is None else m
        return Op(
            name=name, op_class=cls, kind=OpKind.VECTOR, layers=layers, m=rows, k=width, n=width,
            weight_params=0.0, weight_bits=0.0, flops=ops_per_elem * rows * width,
            act_bytes=2 * rows * width * self.abytes,
        )

    def embedding(self) -> Op:
        h = self.model.hidden_size
        table = WeightGroup.LM_HEAD if self.model.tie_word_embeddings else WeightGroup.EMBEDDING  # one tensor when tied
        return Op(name="embedding", op_class=OpClass.EMBEDDING, kind=OpKind.EMBEDDING, layers=1, m=self.m, k=h,
                  n=h, weight_params=float(self.m * h), weight_bits=self.precision.bits_for(table), flops=0.0,
                  act_bytes=self.m * h * self.abytes)

    # --- attention -------------------------------------------------------------------

    def self_attention(self, layers: int, prefix: str = "") -> list[Op]:
        md = self.model
        h = md.hidden_size
        if md.mla is not None:
            mla = md.mla
            qk_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
            q_out = md.num_attention_heads * qk_head
            qkv_params = md.attention_params() - md.num_attention_heads * mla.v_head_dim * h
            o_in = md.num_attention_heads * mla.v_head_dim
            qkv = self.matmul(f"{prefix}qkv_proj", OpClass.QKV, WeightGroup.QKV, layers, h,
                              q_out + mla.kv_lora_rank + mla.qk_rope_head_dim,
                              weight_params=qkv_params)
            # Every projection weight is used once per token in both of MLA's forms (vLLM
            # v1/attention/backends/mla/common.py): q (or q_a, q_b), kv_a, and kv_b, which
            # prefill applies to the latent of each prompt token (k_nope, v) and decode
            # absorbs (W_UK on q_nope, W_UV on the latent output). So 2 FLOPs per weight per row.
            qkv = replace(qkv, flops=2.0 * self.m * qkv_params)
            latent = mla.kv_lora_rank + mla.qk_rope_head_dim
            heads = md.num_attention_heads
            if self.phase is Phase.PREFILL:
                # compute-friendly form: multi-head attention over the up-projected keys and values
                per_ctx_flops = 2.0 * heads * (qk_head + mla.v_head_dim)
            else:
                # data-movement-friendly (absorbed) form: scores over latent + rope key, values from the latent
                per_ctx_flops = 2.0 * heads * (latent + mla.kv_lora_rank)
            kv_per_token = latent * self.kvbytes
        else:
            o_in = md.q_dim
            qkv = self.matmul(f"{prefix}qkv_proj", OpClass.QKV, WeightGroup.QKV, layers, h, md.q_dim + 2 * md.kv_dim)
            per_ctx_flops = 4.0 * md.num_attention_heads * md.head_dim
            kv_per_token = 2 * md.kv_dim * self.kvbytes
        attn = self._attention_op(f"{prefix}attention", OpClass.ATTENTION, layers, per_ctx_flops, kv_per_token,
                                  causal_prefill=self.model.encoder_decoder is None or prefix != "enc_")
        o = self.matmul(f"{prefix}o_proj", OpClass.O_PROJ, WeightGroup.O_PROJ, layers, o_in, h)
        norm = self.vector(f"{prefix}attn_norm", OpClass.NORM, layers, h, NORM_OPS_PER_ELEMENT)
        return [norm, qkv, attn, o]

    def _attention_op(self, name: str, cls: OpClass, layers: int, per_ctx_flops: float, kv_per_token: float,
                      *, causal_prefill: bool) -> Op:
        """Decode: affine in total context. Prefill: the pass's tokens, causal or not, and (causal,
        a pass of a chunked prefill) each of them against the earlier passes' context, whose
        K/V it reads once: zero at context 0, a whole-prompt prefill."""
        writes = self.m * kv_per_token
        share, w = self.model.local_attention()
        window = dict(window_share=share, window_ctx=self.batch * w) if share else {}
        if self.static_kv_tokens is not None and (self.phase is Phase.DECODE or causal_prefill):
            # fixed-shape runtime: every step and every prefill pass reads and scores the whole
            # compiled window, masked or not, whatever its offset (a sliding-window layer at most
            # its own; Genie's AR-128 pass: attention mask 1 x 1 x 128 x context, past K/V of
            # context - 128 positions as inputs)
            seen = (1.0 - share) * self.static_kv_tokens + share * min(self.static_kv_tokens, w)
            span = self.batch * seen
            return Op(name=name, op_class=cls, kind=OpKind.ATTENTION, layers=layers, m=self.m, k=0, n=0,
                      weight_params=0.0, weight_bits=0.0, flops=self.tps * per_ctx_flops * span,
                      kv_read_bytes=kv_per_token * span, kv_write_bytes=writes,
                      act_bytes=2 * self.m * self.model.q_dim * self.abytes)
        if self.phase is Phase.PREFILL:
            p = self.tps
            if causal_prefill:
                # token i attends to i positions, a sliding-window layer's to min(i, W)
                local = p * (p + 1) / 2.0 if p <= w else w * (w + 1) / 2.0 + (p - w) * w
                # (a pass after earlier ones: less what its capped context term overcounts)
                pairs = (1.0 - share) * p * (p + 1) / 2.0 + share * (local - self.window_overcount_pairs)
            else:
                pairs = float(p * p)
            return Op(name=name, op_class=cls, kind=OpKind.ATTENTION, layers=layers, m=self.m, k=0, n=0,
                      weight_params=0.0, weight_bits=0.0, flops=self.batch * pairs * per_ctx_flops,
                      flops_per_ctx=p * per_ctx_flops if causal_prefill else 0.0,
                      kv_read_bytes_per_ctx=kv_per_token if causal_prefill else 0.0,
                      kv_read_bytes=self.m * kv_per_token, kv_write_bytes=writes,
                      act_bytes=2 * self.m * self.model.q_dim * self.abytes, **(window if causal_prefill else {}))
        # each of the tps new tokens of a sequence attends to that sequence's context
        return Op(name=name, op_class=cls, kind=OpKind.ATTENTION, layers=layers, m=self.m, k=0, n=0,
                  weight_params=0.0, weight_bits=0.0, flops=0.0, flops_per_ctx=self.tps * per_ctx_flops,
                  kv_read_bytes_per_ctx=kv_per_token, kv_write_bytes=writes,
                  act_bytes=2 * self.m * self.model.q_dim * self.abytes, **window)

    def cross_attention(self, layers: int) -> list[Op]:
        """T5 decoder cross-attention over the encoder output (K/V cached at prefill)."""
        md = self.model
        h = md.hidden_size
        kv_per_token = 2 * md.kv_dim * self.kvbytes
        enc = self.batch * self.prompt_tokens
        q = self.matmul("cross_q_proj", OpClass.CROSS_ATTENTION, WeightGroup.QKV, layers, h, md.q_dim)
        attn = Op(name="cross_attention", op_class=OpClass.CROSS_ATTENTION, kind=OpKind.ATTENTION, layers=layers,
                  m=self.m, k=0, n=0, weight_params=0.0, weight_bits=0.0,
                  flops=self.tps * enc * 4.0 * md.num_attention_heads * md.head_dim,
                  kv_read_bytes=enc * kv_per_token, act_bytes=2 * self.m * md.q_dim * self.abytes)
        o = self.matmul("cross_o_proj", OpClass.CROSS_ATTENTION, WeightGroup.O_PROJ, layers, md.q_dim, h)
        norm = self.vector("cross_norm", OpClass.NORM, layers, h, NORM_OPS_PER_ELEMENT)
        return [norm, q, attn, o]

    def cross_kv_projection(self) -> list[Op]:
        md = self.model
        assert md.encoder_decoder is not None
        enc = self.batch * self.prompt_tokens
        op = self.matmul("cross_kv_proj", OpClass.CROSS_ATTENTION, WeightGroup.QKV,
                         md.encoder_decoder.num_decoder_layers,
                         md.hidden_size, 2 * md.kv_dim, m=enc)
        return [Op(**{**_fields(op), "kv_write_bytes": enc * 2 * md.kv_dim * self.kvbytes})]

    # --- feed-forward ----------------------------------------------------------------

    def dense_ffn(self, layers: int, inter: int, *, cls: OpClass = OpClass.FFN, prefix: str = "") -> list[Op]:
        h = self.model.hidden_size
        up_n = 2 * inter if self.model.ffn.value == "gated" else inter
        return [
            self.vector(f"{prefix}ffn_norm", OpClass.NORM, layers, h, NORM_OPS_PER_ELEMENT),
            self.matmul(f"{prefix}ffn_up", cls, WeightGroup.FFN_UP, layers, h, up_n),
            self.vector(f"{prefix}ffn_act", OpClass.ELEMENTWISE, layers, inter, ACTIVATION_OPS_PER_ELEMENT),
            self.matmul(f"{prefix}ffn_down", cls, WeightGroup.FFN_DOWN, layers, inter, h),
        ]

    def moe_ffn(self, layers: int, distinct: float | None) -> list[Op]:
        md = self.model
        moe = md.moe
        assert moe is not None
        h = md.hidden_size
        e = expected_distinct(Uniform(), moe.num_experts, moe.top_k, self.m) if distinct is None else distinct
        inter = moe.expert_intermediate_size
        up_n = 2 * inter if md.ffn.value == "gated" else inter
        routed_rows = self.m * moe.top_k  # token-expert pairs
        ops = [
            self.vector("ffn_norm", OpClass.NORM, layers, h, NORM_OPS_PER_ELEMENT),
            self.matmul("router", OpClass.ROUTER, WeightGroup.ROUTER, layers, h, moe.num_experts),
            self.matmul("experts_up", OpClass.EXPERTS, WeightGroup.EXPERTS, layers, h, up_n, weight_params=e * h * up_n,
                        m=routed_rows),
            self.vector("experts_act", OpClass.ELEMENTWISE, layers, inter, ACTIVATION_OPS_PER_ELEMENT, m=routed_rows),
            self.matmul("experts_down", OpClass.EXPERTS, WeightGroup.EXPERTS, layers, inter, h,
                        weight_params=e * inter * h,
                        m=routed_rows),
        ]
        if moe.num_shared_experts:
            width = moe.num_shared_experts * moe.shared_expert_intermediate_size
            shared = self.dense_ffn(layers, width, cls=OpClass.SHARED_EXPERTS, prefix="shared_")
            ops += shared[1:]  # shares the norm with the routed experts
        return ops

    # --- stacks ----------------------------------------------------------------------

    def decoder_layers(self, distinct: float | None) -> list[Op]:
        md = self.model
        ops: list[Op] = []
        if md.moe is None:
            ops += self.self_attention(md.num_layers)
            if md.encoder_decoder is not None:
                ops += self.cross_attention(md.num_layers)
            ops += self.dense_ffn(md.num_layers, md.intermediate_size)
            return ops
        dense = md.moe.first_dense_layers
        if dense:
            ops += [_renamed(o, "dense_") for o in self.self_attention(dense)]
            ops += self.dense_ffn(dense, md.moe.dense_intermediate_size or md.intermediate_size, prefix="dense_")
        moe_layers = md.num_layers - dense
        ops += self.self_attention(moe_layers)
        ops += self.moe_ffn(moe_layers, distinct)
        return ops

    def encoder(self) -> list[Op]:
        md = self.model
        assert md.encoder_decoder is not None
        n = md.encoder_decoder.num_encoder_layers
        ops = self.self_attention(n, prefix="enc_")
        ops += self.dense_ffn(n, md.intermediate_size, prefix="enc_")
        ops.append(self.vector("enc_final_norm", OpClass.NORM, 1, md.hidden_size, NORM_OPS_PER_ELEMENT))
        return ops

    def head(self) -> list[Op]:
        md = self.model
        h = md.hidden_size
        # prefill: logits of each sequence's last token only, unless the runtime returns them all
        rows = self.batch if self.phase is Phase.PREFILL and not self.all_position_logits else self.m
        return [
            self.vector("final_norm", OpClass.NORM, 1, h, NORM_OPS_PER_ELEMENT, m=rows),
            self.matmul("lm_head", OpClass.LM_HEAD, WeightGroup.LM_HEAD, 1, h, md.vocab_size, m=rows),
        ]


def _fields(op: Op) -> dict:
    return {f: getattr(op, f) for f in Op.__slots__}


def _renamed(op: Op, prefix: str) -> Op:
    return Op(**{**_fields(op), "name": prefix + op.name})
