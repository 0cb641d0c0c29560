"""What to run: prompt and generation lengths, batch, precision per tensor class."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from slmsim.workloads.decoding import Autoregressive, Decoding
from slmsim.workloads.routing import MoeScenario

SPEC = ConfigDict(frozen=True, extra="forbid")


class Precision(BaseModel):
    """Bits per tensor class.

    Low-bit weights carry one scale of `scale_bits` per `weight_group_size` weights
    (MLC's q4f16 layout: 4-bit weights, an fp16 scale per 32 weights, so 4.5 bits per
    weight in memory). `weight_group_size: null` means per-channel scales (negligible).
    """

    model_config = SPEC

    weight_bits: int = Field(4, ge=1, le=16)
    activation_bits: int = Field(16, ge=1, le=32)
    kv_bits: int = Field(16, ge=1, le=32)
    weight_group_size: int | None = Field(32, gt=0)
    scale_bits: int = Field(16, ge=0, le=32)
    bits_per_weight: float | None = Field(
        None, gt=0, le=32,
        description="bits per weight in memory as a weight format states it (block scales, zero points and any "
                    "mixture of tensor formats included); overrides the group/scale arithmetic when set")

    @property
    def weight_bits_in_memory(self) -> float:
        """Bits each weight costs in memory, scales included."""
        if self.bits_per_weight is not None:
            return self.bits_per_weight
        if self.weight_bits >= 16 or self.weight_group_size is None:
            return float(self.weight_bits)
        return self.weight_bits + self.scale_bits / self.weight_group_size


class Scenario(BaseModel):
    model_config = SPEC

    prompt_tokens: int = Field(128, ge=1)
    gen_tokens: int = Field(128, ge=1)
    batch: int = Field(1, ge=1)
    precision: Precision = Precision()
    static_kv_tokens: int | None = Field(
        None, ge=1,
        description="runtimes compiled for a fixed context window (e.g. Qualcomm Genie) attend over the whole "
                    "window every step; None: attend over the tokens so far",
    )
    decoding: Decoding = Field(default_factory=Autoregressive)
    moe: MoeScenario | None = Field(None, description="routing model and expert cache (MoE models)")
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> "Scenario":
        if self.static_kv_tokens is not None and self.static_kv_tokens < self.prompt_tokens + self.gen_tokens:
            raise ValueError(
                f"static_kv_tokens ({self.static_kv_tokens}) is shorter than prompt + gen "
                f"({self.prompt_tokens + self.gen_tokens})"
            )
        return self

    @property
    def decode_steps(self) -> int:
        """Prefill yields the first token; each further token is one decode step."""
        return self.gen_tokens - 1
