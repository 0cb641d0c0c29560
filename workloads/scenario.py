"""What to run: prompt and generation lengths, batch, precision per tensor class."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from slmsim.core.limits import MAX_BATCH, MAX_SEED, MAX_TOKENS
from slmsim.workloads.decoding import Autoregressive, Decoding, SelfSpeculative
from slmsim.workloads.routing import MoeScenario

SPEC = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class WeightGroup(StrEnum):
    """Weight matrices the op graph reads as one op, by what they are (encoder and cross-attention
    projections fall in the same groups: qkv_proj, o_proj, ffn_up, ffn_down)."""

    EMBEDDING = "embedding"  # token embedding table (rows looked up); a tied one is the LM head
    QKV = "qkv_proj"  # q, k, v projections (MLA: q, kv_a, kv_b)
    O_PROJ = "o_proj"
    FFN_UP = "ffn_up"  # gate and up projections of dense FFNs and shared experts
    FFN_DOWN = "ffn_down"
    ROUTER = "router"
    EXPERTS = "experts"  # routed experts: `expert_bits_per_weight`
    LM_HEAD = "lm_head"


class TensorBits(BaseModel):
    """Bits per weight in memory (scales included) of the weight groups a format keeps in another
    format than the rest: a W4A16 checkpoint's f16 LM head and embedding, llama.cpp Q4_K_M's Q6_K
    attn_v and ffn_down on some layers (averaged over the layers), gpt-oss's bf16 attention.
    None: the group uses `bits_per_weight` (or the group/scale arithmetic). A `--stack` sets the
    groups its weight format stores otherwise (mapping.stack). A tied embedding is the LM head: `lm_head` sets it."""

    model_config = SPEC

    embedding: float | None = Field(None, gt=0, le=32, description="token embedding rows (untied models)")
    qkv_proj: float | None = Field(None, gt=0, le=32, description="q, k, v (and cross-attention) projections")
    o_proj: float | None = Field(None, gt=0, le=32, description="attention output projections")
    ffn_up: float | None = Field(None, gt=0, le=32, description="FFN gate and up projections (shared experts too)")
    ffn_down: float | None = Field(None, gt=0, le=32, description="FFN down projections (shared experts too)")
    router: float | None = Field(None, gt=0, le=32, description="MoE router weights")
    lm_head: float | None = Field(None, gt=0, le=32, description="LM head (and a tied embedding)")


class Precision(BaseModel):
    """Bits per tensor class.

    Low-bit weights carry one scale of `scale_bits` per `weight_group_size` weights
    (MLC's q4f16 layout: 4-bit weights, an fp16 scale per 32 weights, so 4.5 bits per
    weight in memory). `weight_group_size: null` means per-channel scales (negligible).
    """

    model_config = SPEC

    weight_bits: int = Field(4, ge=1, le=16, description="bits per weight")
    activation_bits: int = Field(16, ge=1, le=32, description="bits per activation")
    kv_bits: int = Field(16, ge=1, le=32, description="bits per KV-cache element")
    weight_group_size: int | None = Field(32, gt=0, description="weights sharing one scale; none: per-channel scales")
    scale_bits: int = Field(16, ge=0, le=32, description="bits of each group scale")
    bits_per_weight: float | None = Field(
        None, gt=0, le=32,
        description="bits per weight in memory as a weight format states it (block scales and zero points "
                    "included) for every weight group tensor_bits leaves unset; overrides the group/scale "
                    "arithmetic when set")
    expert_bits_per_weight: float | None = Field(
        None, gt=0, le=32,
        description="bits per routed-expert weight in memory (scales included) when the experts use another format "
                    "than every other weight, e.g. gpt-oss's MXFP4 experts (4.25: 32 E2M1 values + one E8M0 scale, "
                    "stacks/formats.yaml mxfp4-experts); None: as every other weight")

    tensor_bits: TensorBits = Field(
        TensorBits(), description="bits per weight in memory of weight groups stored in another format than the "
                                  "rest (an f16 LM head beside 4-bit linears); unset groups: bits_per_weight")

    @property
    def weight_bits_in_memory(self) -> float:
        """Bits each weight costs in memory, scales included (the groups `tensor_bits` leaves unset)."""
        if self.bits_per_weight is not None:
            return self.bits_per_weight
        if self.weight_bits >= 16 or self.weight_group_size is None:
            return float(self.weight_bits)
        return self.weight_bits + self.scale_bits / self.weight_group_size

    @property
    def expert_bits_in_memory(self) -> float:
        """Bits each routed-expert weight costs in memory."""
        return self.expert_bits_per_weight if self.expert_bits_per_weight is not None else self.weight_bits_in_memory

    def bits_for(self, group: WeightGroup) -> float:
        """Bits per weight in memory of one weight group."""
        if group is WeightGroup.EXPERTS:
            return self.expert_bits_in_memory
        own = getattr(self.tensor_bits, group.value)
        return own if own is not None else self.weight_bits_in_memory

    def draft_slice(self, draft_bits: int, *, experts: bool = True) -> "Precision":
        """What a self-speculative draft reads: the top `draft_bits` of every integer weight, i.e.
        `weight_bits - draft_bits` low bit-planes fewer per weight, scales read whole (the layout of
        ELMoE-3D's bit-sliced weights). A group stored at 16 bits or more (an f16 LM head) is a float
        and is read whole; `experts: False` reads the routed experts whole (expert axis only)."""
        drop = self.weight_bits - draft_bits

        def cut(bits: float | None) -> float | None:
            return bits if bits is None or bits >= 16 else max(bits - drop, float(draft_bits))

        update: dict[str, object] = {"weight_bits": draft_bits, "bits_per_weight": cut(self.bits_per_weight),
                                     "tensor_bits": TensorBits(**{k: cut(v) for k, v in self.tensor_bits})}
        update["expert_bits_per_weight"] = (cut(self.expert_bits_per_weight) if experts
                                            else self.expert_bits_in_memory)
        return self.model_copy(update=update)

    def own_group_bits(self) -> dict[str, float]:
        """The weight groups stored at other bits than the rest (`weight_bits_in_memory`)."""
        base = self.weight_bits_in_memory
        return {g: v for g, v in self.tensor_bits if v is not None and abs(v - base) > 1e-9}

    @property
    def is_mixed(self) -> bool:
        """Some weight group is stored at other bits than the rest."""
        return bool(self.own_group_bits())


class Scenario(BaseModel):
    model_config = SPEC

    prompt_tokens: int = Field(128, ge=1, le=MAX_TOKENS, description="prompt tokens per request (prefilled at once)")
    gen_tokens: int = Field(128, ge=1, le=MAX_TOKENS, description="tokens generated per request (the first comes from prefill)")
    batch: int = Field(1, ge=1, le=MAX_BATCH, description="requests decoded together")
    precision: Precision = Field(Precision(), description="bits per tensor class (see scenario.precision)")
    static_kv_tokens: int | None = Field(
        None, ge=1, le=2 * MAX_TOKENS,
        description="runtimes compiled for a fixed context window (e.g. Qualcomm Genie) attend over the whole "
                    "window every step and every prefill pass; None: attend over the tokens so far",
    )
    prefill_logits: Literal["last", "all"] | None = Field(
        None, description="rows of the LM head in prefill: `last`, the last token of the prompt (what sampling "
                          "needs); `all`, every position of every pass, as a compiled fixed-shape prompt "
                          "processor that returns the causal LM's whole logits tensor (Qualcomm's Genie assets); "
                          "none: a --stack's own (`last` without one); a value given wins over the stack's",
    )
    windowed_kv_cache: bool = Field(
        True, description="a model's sliding-window layers keep only their last W positions (llama.cpp's SWA cache, "
                          "vLLM's hybrid KV cache manager); false: they keep the whole context, as a runtime that "
                          "allocates full-size caches (llama.cpp --swa-full). Either way they attend over the "
                          "window only (docs/decoding.md, sliding windows)",
    )
    prefill_chunk_tokens: int | None = Field(
        None, ge=1, le=MAX_TOKENS,
        description="tokens one prefill forward pass holds (llama.cpp n_ubatch, vLLM max_num_batched_tokens, "
                    "MLC prefill_chunk_size): prefill runs in passes of it, each streaming the weights and "
                    "holding its own activations; a --stack sets its own; None: the batch's whole prompt in "
                    "one pass (docs/mapping.md, Memory tiers)",
    )
    decoding: Decoding = Field(
        default_factory=Autoregressive, description="decoding strategy, by `strategy:` (docs/decoding.md)",
    )
    moe: MoeScenario | None = Field(None, description="routing model and expert cache (MoE models)")
    seed: int = Field(0, le=MAX_SEED, ge=0, description="seeds the random numbers of the run (sampled acceptance, routing, arrivals)")

    @model_validator(mode="after")
    def _check(self) -> "Scenario":
        if self.static_kv_tokens is not None and self.static_kv_tokens < self.prompt_tokens + self.gen_tokens:
            raise ValueError(
                f"static_kv_tokens ({self.static_kv_tokens}) is shorter than prompt + gen "
                f"({self.prompt_tokens + self.gen_tokens})"
            )
        dec = self.decoding
        if isinstance(dec, SelfSpeculative):
            w = self.precision.weight_bits
            if dec.draft_bits(w) >= w:
                raise PydanticCustomError(
                    "value_error",
                    "{draft} draft bits are not below the weight bits ({w}): "
                    "the self-speculative draft would read every bit and save nothing",
                    {"path": "decoding.draft_weight_bits", "draft": dec.draft_bits(w), "w": w, "expected": f"draft bits from 1 to {w - 1}",
                     "hint": "use fewer draft bits (ELMoE-3D drafts with the top 4 of INT8: --weight-bits 8 "
                             "--draft-bits 4), or more weight bits"})
        return self

    @property
    def decode_steps(self) -> int:
        """Prefill yields the first token; each further token is one decode step."""
        return self.gen_tokens - 1
