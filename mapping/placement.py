"""Where an op's weight bytes come from: one tier, an expert cache, or MSB/LSB slices.

- Plain: every weight from the device's weight tier.
- Expert cache (`MoeScenario.expert_cache`): a share `hit` of the experts a step touches is
  read from the cache tier, the rest from the weight tier; misses are written into the
  cache tier (the fill traffic an LRU/LFU cache pays).
- Bit slices (`SelfSpeculative.msb_tier` / `lsb_tier`): the top `msb_bits` of every weight
  live in the MSB tier and the rest in the LSB tier; a full-precision pass reads both (the
  partial sums merge before the next nonlinearity), the self-speculative draft reads MSBs
  only. With both, the cache tier is the MSB tier and holds the MSB slices of hot experts
  (ELMoE-3D): hits read MSBs there and LSBs from the LSB tier, misses read everything from
  the LSB tier (where full experts live) and fill the cache with their MSBs.
- `dense_in_msb` (an MoE model with split tiers): the dense, non-expert weights live whole
  in the MSB tier, as ELMoE-3D places them ("HB holds the dense layers", seed-details.md);
  only experts are split.
- `expert_msb_fraction` 1.0 (experts not bit-sliced, ELMoE-3D's "expert axis only" for
  GPT-OSS-20B's MXFP4 experts): cached experts are whole in the MSB tier, hits read there
  only, misses read the LSB tier and fill the cache with the whole expert.
- `dense_tier` (an expert cache with `dense_layers`, no split): the non-expert weights live
  whole in that tier.

Every share of an op is read concurrently (the engines take the slowest tier): ELMoE-3D
reads a cached expert's HB top bits and LPDDR low bits in parallel during verification.
"""

from __future__ import annotations

from dataclasses import dataclass

from slmsim.workloads.graph import OpClass

Shares = tuple[tuple[str, float], ...]  # (tier, fraction of the op's weight bytes)


@dataclass(frozen=True)
class WeightSources:
    main: str
    cache_tier: str | None = None
    hit: float = 0.0
    msb_tier: str | None = None
    lsb_tier: str | None = None
    msb_fraction: float = 1.0  # msb bits / full bits
    draft: bool = False  # an MSB-only (self-speculative draft) pass
    dense_in_msb: bool = False  # non-expert weights whole in the MSB tier (MoE + split tiers)
    expert_msb_fraction: float | None = None  # share of an expert's bytes in its MSB slice (None: msb_fraction)
    dense_tier: str | None = None  # non-expert weights whole here (an expert cache holding the dense layers)

    @property
    def expert_fraction(self) -> float:
        return self.msb_fraction if self.expert_msb_fraction is None else self.expert_msb_fraction

    def reads(self, op_class: OpClass) -> Shares:
        split = self.msb_tier is not None and self.lsb_tier is not None
        expert = op_class is OpClass.EXPERTS
        if self.draft:
            return ((self.msb_tier or self.main, 1.0),)
        if expert and self.cache_tier is not None:
            h = self.hit
            if split and self.cache_tier == self.msb_tier:
                f = self.expert_fraction
                assert self.lsb_tier is not None
                return ((self.msb_tier, h * f), (self.lsb_tier, h * (1 - f) + (1 - h)))
            return ((self.cache_tier, h), (self.main, 1 - h))
        if self.dense_tier is not None and not expert:
            return ((self.dense_tier, 1.0),)
        if split and self.dense_in_msb and not expert:
            return ((self.msb_tier, 1.0),)
        if split:
            f = self.msb_fraction
            return ((self.msb_tier, f), (self.lsb_tier, 1 - f))
        return ((self.main, 1.0),)

    def fills(self, op_class: OpClass) -> Shares:
        """Cache-fill writes, as fractions of the op's weight bytes."""
        if self.draft or op_class is not OpClass.EXPERTS or self.cache_tier is None:
            return ()
        split = self.msb_tier is not None and self.cache_tier == self.msb_tier
        return ((self.cache_tier, (1 - self.hit) * (self.expert_fraction if split else 1.0)),)

    def tiers(self) -> set[str]:
        return {t for t in (self.main, self.cache_tier, self.msb_tier, self.lsb_tier, self.dense_tier) if t is not None}
