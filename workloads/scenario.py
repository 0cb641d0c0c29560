"""What to run: prompt and generation lengths, batch, precision per tensor class."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from slmsim.core.limits import MAX_BATCH, MAX_SEED, MAX_TOKENS
from slmsim.workloads.decoding import Autoregressive, Decoding
from slmsim.workloads.model import ModelSpec
from slmsim.workloads.routing import MoeScenario

SPEC = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


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

    @property
    def weight_bits_in_memory(self) -> float:
        """Bits each weight costs in memory, scales included."""
        if self.weight_bits >= 16 or self.weight_group_size is None:
            return float(self.weight_bits)
        return self.weight_bits + self.scale_bits / self.weight_group_size


class Scenario(BaseModel):
    model_config = SPEC

    prompt_tokens: int = Field(128, ge=1, le=MAX_TOKENS)
    gen_tokens: int = Field(128, ge=1, le=MAX_TOKENS)
    batch: int = Field(1, ge=1, le=MAX_BATCH)
    precision: Precision = Precision()
    static_kv_tokens: int | None = Field(
        None, ge=1, le=2 * MAX_TOKENS,
        description="runtimes compiled for a fixed context window (e.g. Qualcomm Genie) attend over the whole "
                    "window every step; None: attend over the tokens so far",
    )
    decoding: Decoding = Field(default_factory=Autoregressive)
    moe: MoeScenario | None = Field(None, description="routing model and expert cache (MoE models)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seeds the run's random numbers (numpy needs >= 0)")

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


def context_warning(model: ModelSpec, prompt_tokens: int, gen_tokens: int, *, what: str = "prompt + gen") -> str | None:
    """A warning when a sequence outgrows the model's trained context (issue 15), else None.

    Not an error: the simulator's costs stay defined past the window (a runtime may use
    RoPE scaling or a sliding window), but the quality of such a run is not what the model
    card promises.
    """
    limit = model.max_position_embeddings
    total = prompt_tokens + gen_tokens
    if limit is None or total <= limit:
        return None
    return (f"{what} = {total} tokens exceeds {model.name}'s context of {limit} tokens "
            f"(max_position_embeddings); the figures assume the runtime can run it anyway")
