"""Model architecture specs: dense decoders, mixture-of-experts, MLA, encoder-decoder.

Field names follow Hugging Face `config.json` where one exists, so a preset can be checked
against its config line by line. Parameter counts are derived here, once.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

SPEC = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

# Bounds on architecture sizes (docs/input-limits.md): ~10-100x beyond the largest public
# models (DeepSeek-V3: 256 routed experts, top-8, hidden 7168, 61 layers; Llama 3.1 405B:
# hidden 16384, 126 layers, 128 heads; Gemma 3: vocab 262,144). They refuse typos and hostile
# input (num_experts: 2**63) fast, before anything sizes an array by them.
MAX_EXPERTS = 4096
MAX_TOP_K = 256
MAX_WIDTH = 1 << 18  # hidden, intermediate and expert widths (262,144)
MAX_LAYERS = 2048
MAX_HEADS = 4096
MAX_HEAD_DIM = 4096
MAX_VOCAB = 1 << 24  # 16,777,216
MAX_CONTEXT = 1 << 24
HEAD_RATIO = 8.0  # heads x head_dim within [hidden / 8, hidden x 8] (Qwen3-0.6B: 2x, Gemma-2 2B: 0.89x)


class Family(StrEnum):
    """Hugging Face `model_type` values slmsim understands."""

    LLAMA = "llama"
    QWEN2 = "qwen2"
    QWEN3 = "qwen3"
    PHI3 = "phi3"
    SMOLLM3 = "smollm3"
    MIXTRAL = "mixtral"
    OLMOE = "olmoe"
    QWEN2_MOE = "qwen2_moe"
    QWEN3_MOE = "qwen3_moe"
    DEEPSEEK_V2 = "deepseek_v2"
    PHIMOE = "phimoe"
    GRANITEMOE = "granitemoe"
    T5 = "t5"
    MISTRAL = "mistral"
    GEMMA2 = "gemma2"
    GEMMA3 = "gemma3"
    PHI = "phi"
    GRANITE = "granite"
    GPT_OSS = "gpt_oss"


class Ffn(StrEnum):
    GATED = "gated"  # SwiGLU / GeGLU: gate, up, down (3 matrices)
    PLAIN = "plain"  # up, down (2 matrices)


class MoeSpec(BaseModel):
    model_config = SPEC

    num_experts: int = Field(gt=0, le=MAX_EXPERTS, description="routed experts per MoE layer")
    top_k: int = Field(gt=0, le=MAX_TOP_K, description="experts each token is routed to")
    expert_intermediate_size: int = Field(gt=0, le=MAX_WIDTH, description="FFN width of one expert")
    num_shared_experts: int = Field(0, ge=0, le=MAX_EXPERTS, description="experts every token uses (DeepSeek/Qwen2-MoE shared experts)")
    shared_expert_intermediate_size: int = Field(0, ge=0, le=MAX_WIDTH, description="per shared expert")
    first_dense_layers: int = Field(0, ge=0, le=MAX_LAYERS, description="leading layers with a dense FFN instead of experts")
    dense_intermediate_size: int | None = Field(None, gt=0, le=MAX_WIDTH, description="FFN width of the dense layers")

    @model_validator(mode="after")
    def _check(self) -> "MoeSpec":
        if self.top_k > self.num_experts:
            raise PydanticCustomError(
                "value_error", "top_k ({value}) cannot exceed num_experts ({n}): a token is routed to top_k of them",
                {"field": "top_k", "value": self.top_k, "n": self.num_experts,
                 "expected": f"a whole number from 1 to {self.num_experts} (num_experts)",
                 "hint": "lower moe.top_k, or raise moe.num_experts (config.json: num_experts_per_tok, num_experts)"})
        if self.first_dense_layers and self.dense_intermediate_size is None:
            raise ValueError("first_dense_layers needs dense_intermediate_size")
        if self.num_shared_experts and not self.shared_expert_intermediate_size:
            raise ValueError("num_shared_experts needs shared_expert_intermediate_size")
        return self


class MlaSpec(BaseModel):
    """Multi-head latent attention (DeepSeek-V2): a compressed KV latent is cached."""

    model_config = SPEC

    kv_lora_rank: int = Field(gt=0, le=MAX_WIDTH, description="width of the compressed KV latent (what the cache holds)")
    q_lora_rank: int | None = Field(None, gt=0, le=MAX_WIDTH, description="None: queries are projected directly")
    qk_nope_head_dim: int = Field(gt=0, le=MAX_HEAD_DIM, description="query/key head width without rotary embedding")
    qk_rope_head_dim: int = Field(gt=0, le=MAX_HEAD_DIM, description="query/key head width with rotary embedding (cached per token)")
    v_head_dim: int = Field(gt=0, le=MAX_HEAD_DIM, description="value head width")


class EncoderDecoderSpec(BaseModel):
    model_config = SPEC

    num_encoder_layers: int = Field(gt=0, le=MAX_LAYERS, description="encoder layers (run once over the prompt)")
    num_decoder_layers: int = Field(gt=0, le=MAX_LAYERS, description="decoder layers (must equal num_layers)")


class SlidingWindow(BaseModel):
    """Layers whose attention sees only the last `tokens` positions (local attention)."""

    model_config = SPEC

    tokens: int = Field(gt=0, le=MAX_CONTEXT, description="the window, in tokens (config.json sliding_window)")
    layers: int = Field(gt=0, le=MAX_LAYERS, description="how many of the decoder layers attend over the window "
                                                         "(the others attend over the whole context)")


class ModelSpec(BaseModel):
    model_config = SPEC

    name: str = Field(description="model name, shown in outputs")
    family: Family = Field(description="architecture family (Hugging Face model_type)")
    source: str = Field(description="where the figures come from (config.json, paper)")
    hidden_size: int = Field(gt=0, le=MAX_WIDTH, description="width of the residual stream (d_model)")
    intermediate_size: int = Field(gt=0, le=MAX_WIDTH, description="dense FFN width (ignored by MoE layers)")
    num_layers: int = Field(gt=0, le=MAX_LAYERS, description="decoder layers (encoder-decoder: see encoder_decoder)")
    num_attention_heads: int = Field(gt=0, le=MAX_HEADS, description="query heads per attention layer")
    num_kv_heads: int = Field(gt=0, le=MAX_HEADS, description="key/value heads (grouped-query attention; = heads for MHA)")
    head_dim: int = Field(gt=0, le=MAX_HEAD_DIM, description="width of one attention head")
    vocab_size: int = Field(gt=0, le=MAX_VOCAB, description="tokens in the vocabulary (embedding and LM-head rows)")
    tie_word_embeddings: bool = Field(description="the LM head shares the embedding matrix (counted once)")
    ffn: Ffn = Field(Ffn.GATED, description="FFN form: gated (SwiGLU, 3 matrices) or plain (2 matrices)")
    qkv_bias: bool = Field(False, description="the Q/K/V projections carry biases")
    moe: MoeSpec | None = Field(None, description="mixture-of-experts FFN (see model.moe); none: dense")
    mla: MlaSpec | None = Field(
        None, description="multi-head latent attention (see model.mla); none: standard attention",
    )
    encoder_decoder: EncoderDecoderSpec | None = Field(
        None, description="encoder-decoder layout (see model.encoder_decoder); none: decoder only",
    )
    max_position_embeddings: int | None = Field(
        None, gt=0, le=MAX_CONTEXT, description="longest context the model was trained for; longer runs get a warning",
    )
    sliding_window: SlidingWindow | None = Field(
        None, description="local (sliding-window) attention layers: they attend over the last `tokens` positions "
                          "and (scenario.windowed_kv_cache) keep only those; none: every layer global")
    notes: str = Field("", description="free text (checks made, quirks of the config)")

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        if self.num_attention_heads % self.num_kv_heads:
            divisors = [d for d in range(1, self.num_attention_heads + 1) if self.num_attention_heads % d == 0]
            raise PydanticCustomError(
                "value_error", "num_attention_heads ({heads}) must be a multiple of num_kv_heads ({value}): "
                "grouped-query attention shares each KV head among the same number of query heads",
                {"field": "num_kv_heads", "value": self.num_kv_heads, "heads": self.num_attention_heads,
                 "expected": f"a divisor of num_attention_heads {self.num_attention_heads}: "
                             + ", ".join(str(d) for d in divisors),
                 "hint": "config.json: num_key_value_heads (equal to num_attention_heads for multi-head attention)"})
        if self.encoder_decoder and self.encoder_decoder.num_decoder_layers != self.num_layers:
            raise ValueError("num_layers must equal encoder_decoder.num_decoder_layers")
        if self.sliding_window is not None and self.sliding_window.layers > self.num_layers:
            raise ValueError(f"sliding_window.layers ({self.sliding_window.layers}) cannot exceed num_layers "
                             f"({self.num_layers})")
        if self.num_kv_heads > self.num_attention_heads:
            raise ValueError(f"num_kv_heads ({self.num_kv_heads}) cannot exceed num_attention_heads "
                             f"({self.num_attention_heads})")
        if self.moe is not None and self.moe.first_dense_layers > self.num_layers:
            raise ValueError(f"moe.first_dense_layers ({self.moe.first_dense_layers}) cannot exceed num_layers "
                             f"({self.num_layers})")
        if self.mla is None:
            width = self.num_attention_heads * self.head_dim
            if not self.hidden_size / HEAD_RATIO <= width <= self.hidden_size * HEAD_RATIO:
                raise ValueError(
                    f"head_dim ({self.head_dim}) x num_attention_heads ({self.num_attention_heads}) = {width} is "
                    f"inconsistent with hidden_size ({self.hidden_size}): expected within a factor of "
                    f"{HEAD_RATIO:g} of it (usually head_dim = hidden_size / num_attention_heads)")
        return self

    # Derived sizes ----------------------------------------------------------------------

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def ffn_params(self, intermediate: int) -> int:
        mats = 3 if self.ffn is Ffn.GATED else 2
        return mats * self.hidden_size * intermediate

    def attention_params(self) -> int:
        """Weights of one self-attention block (projections, biases)."""
        h = self.hidden_size
        if self.mla is not None:
            m = self.mla
            qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank is None:
                q = h * self.num_attention_heads * qk_head
            else:
                q = h * m.q_lora_rank + m.q_lora_rank * self.num_attention_heads * qk_head
            kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim)
            kv_b = m.kv_lora_rank * self.num_attention_heads * (m.qk_nope_head_dim + m.v_head_dim)
            o = self.num_attention_heads * m.v_head_dim * h
            return q + kv_a + kv_b + o
        params = h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        if self.qkv_bias:
            params += self.q_dim + 2 * self.kv_dim
        return params

    def moe_layers(self) -> int:
        if self.moe is None:
            return 0
        return self.num_layers - self.moe.first_dense_layers

    def expert_params(self) -> int:
        assert self.moe is not None
        return self.ffn_params(self.moe.expert_intermediate_size)

    def shared_expert_params(self) -> int:
        assert self.moe is not None
        return self.moe.num_shared_experts * self.ffn_params(self.moe.shared_expert_intermediate_size)

    def router_params(self) -> int:
        assert self.moe is not None
        return self.hidden_size * self.moe.num_experts

    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def lm_head_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def decoder_layer_params(self, *, active_only: bool) -> int:
        """Matrix weights of all decoder layers (norm weights are negligible and left out)."""
        attn = self.attention_params()
        if self.encoder_decoder is not None:
            attn *= 2  # self-attention + cross-attention
        if self.moe is None:
            return self.num_layers * (attn + self.ffn_params(self.intermediate_size))
        m = self.moe
        experts = m.top_k if active_only else m.num_experts
        moe_layer = attn + experts * self.expert_params() + self.shared_expert_params() + self.router_params()
        dense_layer = attn + self.ffn_params(m.dense_intermediate_size or self.intermediate_size)
        return self.moe_layers() * moe_layer + m.first_dense_layers * dense_layer

    def encoder_params(self) -> int:
        if self.encoder_decoder is None:
            return 0
        return self.encoder_decoder.num_encoder_layers * (self.attention_params() + self.ffn_params(self.intermediate_size))

    def total_params(self) -> int:
        """All weights, counting a tied embedding once."""
        head = 0 if self.tie_word_embeddings else self.lm_head_params()
        return self.embedding_params() + head + self.decoder_layer_params(active_only=False) + self.encoder_params()

    def active_params(self) -> int:
        """Weights behind one decoder token (experts: top-k), embeddings counted once.

        The encoder of an encoder-decoder model runs once per prompt, so it is not counted.
        This is the vendors' convention for "active" parameters; per-token weight traffic is
        derived from the op graph instead (it reads one embedding row, not the table).
        """
        head = 0 if self.tie_word_embeddings else self.lm_head_params()
        return self.embedding_params() + head + self.decoder_layer_params(active_only=True)

    def kv_bytes_per_token(self, kv_bits: int) -> float:
        """Self-attention KV cache per decoder token across all decoder layers (MLA caches the
        latent + rope key). Encoder-decoder cross K/V: `cross_kv_bytes_per_token`."""
        if self.mla is not None:
            per_layer = self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        else:
            per_layer = 2 * self.kv_dim
        return self.num_layers * per_layer * kv_bits / 8.0

    def local_attention(self) -> tuple[float, float]:
        """(the share n / L of the decoder layers that attend over a sliding window, the window W in
        tokens); (0, inf) without one."""
        w = self.sliding_window
        return (0.0, math.inf) if w is None else (w.layers / self.num_layers, float(w.tokens))

    def windowed_kv_share(self, tokens: int) -> float:
        """KV a sequence of `tokens` positions needs with its sliding-window layers holding only the
        window, as a share of a full-attention cache (1.0: no window, or the context within it):
        ((L - n) T + n min(T, W)) / (L T)."""
        share, w = self.local_attention()
        if tokens <= w:
            return 1.0
        return (1.0 - share) + share * w / tokens

    def cross_kv_bytes_per_token(self, kv_bits: int) -> float:
        """Cross-attention K/V per encoder token across all decoder layers (0: decoder-only).

        Every decoder layer projects the encoder output to its own K and V once, at prefill."""
        if self.encoder_decoder is None:
            return 0.0
        return self.num_layers * 2 * self.kv_dim * kv_bits / 8.0

    def decoder_prefix_tokens(self, prompt_tokens: int) -> int:
        """Tokens in the decoder's self-attention context when prefill ends.

        Decoder-only: the prompt. Encoder-decoder: the decoder start token only; the prompt
        went through the encoder and is seen through cross-attention. Decode step i (0-based)
        then attends to prefix + i + 1 tokens (the prefill's output token fed back, and so on).
        """
        return 1 if self.encoder_decoder is not None else prompt_tokens

    def kv_bytes_per_sequence(self, prompt_tokens: int, gen_tokens: int, kv_bits: int, *,
                              self_tokens: int | None = None, windowed: bool = True) -> float:
        """KV cache one sequence reserves: self-attention K/V of `self_tokens` decoder positions
        (default: prefix + gen, one slot for each generated token; a sliding-window layer at most
        its window when `windowed`) plus, for an encoder-decoder, the cross-attention K/V of the
        `prompt_tokens` encoder tokens."""
        tokens = self.decoder_prefix_tokens(prompt_tokens) + gen_tokens if self_tokens is None else self_tokens
        share = self.windowed_kv_share(tokens) if windowed else 1.0
        return (tokens * share * self.kv_bytes_per_token(kv_bits)
                + prompt_tokens * self.cross_kv_bytes_per_token(kv_bits))
