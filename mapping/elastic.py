"""Elastic self-speculation (ELMoE-3D) honest: what the fast tier must hold, what is missing.

What the MSB tier holds when a self-speculative scenario splits weights into MSB and LSB
slices (`msb_tier` / `lsb_tier`), after ELMoE-3D's placement (via the secondary source in
shared/reference/seed-details.md):

- an MoE model: its dense (non-expert) weights whole, and the top `draft_bits` of every
  cached expert (`expert_cache.experts_per_layer` per MoE layer, when the cache lives in the
  MSB tier) with its scales whole, as the draft reads it (`msb_fraction`); the full experts
  stay in the LSB tier. Without a cache in the MSB tier every expert is split, so the MSB
  tier holds every expert's slice (a model whose slices do not fit is `Infeasible`:
  qwen3-30b-a3b's are 16.31 GB against elmoe3d's 8 GB HB);
- a dense model: the top `draft_bits` of every weight, with the scales.

With `expert_bit_axis: false` (experts not bit-sliced) the cached experts are held whole.
An expert cache with `dense_layers` (no split) holds the dense layers whole beside its experts.

An expert cache without the split holds whole experts. The KV cache is counted where the
device puts it (`kv_memory`) by `mapping.plan`. `tier_demand` returns these bytes per tier so
the capacity check in `mapping.plan._footprint` reports an overflow as `Infeasible` with
the figures; `warnings` says what a self-speculative run is missing.
"""

from __future__ import annotations

from slmsim.workloads.decoding import SelfSpeculative
from slmsim.workloads.model import ModelSpec
from slmsim.workloads.scenario import Scenario, WeightGroup
from slmsim.workloads.weights import group_params, weight_bytes

# ELMoE-3D (via seed-details.md): "plain rounding collapses below 4 bits"
MIN_CREDIBLE_DRAFT_BITS = 4


def split_tiers(scenario: Scenario) -> tuple[str, str] | None:
    dec = scenario.decoding
    if isinstance(dec, SelfSpeculative) and dec.msb_tier is not None and dec.lsb_tier is not None:
        return dec.msb_tier, dec.lsb_tier
    return None


def msb_fraction(scenario: Scenario, *, experts: bool = False) -> float:
    """Share of a weight's bytes in its MSB slice: what the draft reads, the top draft bits with
    the scales whole (`Precision.draft_slice`), over the whole weight; 4.5 of 8.5 bits at INT8
    group 32 with a 4-bit draft, the LSB slice holding the other 4. `experts`: at the routed
    experts' own bits. 1 when the weights are not split (and for experts that are not
    bit-sliced, the expert axis only)."""
    dec = scenario.decoding
    if split_tiers(scenario) is None or not isinstance(dec, SelfSpeculative) or (experts and not dec.expert_bit_axis):
        return 1.0
    p = scenario.precision
    draft = p.draft_slice(dec.draft_bits(p.weight_bits))
    if experts:
        return draft.expert_bits_in_memory / p.expert_bits_in_memory
    return draft.weight_bits_in_memory / p.weight_bits_in_memory


def expert_msb_fraction(scenario: Scenario) -> float:
    """Share of an expert's bytes its MSB slice holds (`msb_fraction` at the experts' bits)."""
    return msb_fraction(scenario, experts=True)


def cached_bytes_per_expert(model: ModelSpec, scenario: Scenario) -> float:
    """Bytes one cached expert of one MoE layer takes in the cache tier (its MSB slice, or all of it)."""
    return model.expert_params() * scenario.precision.expert_bits_in_memory / 8.0 * expert_msb_fraction(scenario)


def tier_demand(model: ModelSpec, scenario: Scenario) -> dict[str, dict[str, float]]:
    """Bytes the MSB / expert-cache tier must hold beyond what mapping.plan already counts."""
    p = scenario.precision
    out: dict[str, dict[str, float]] = {}
    cache = scenario.moe.expert_cache if scenario.moe is not None and model.moe is not None else None
    cached = 0.0
    if cache is not None:
        assert model.moe is not None
        cached = (min(cache.experts_per_layer, model.moe.num_experts) * model.moe_layers()
                  * cached_bytes_per_expert(model, scenario))
    whole = weight_bytes(model, p)  # scales included, each weight group at its own bits
    experts = group_params(model)[WeightGroup.EXPERTS] if model.moe is not None else 0
    dense = whole - experts * p.expert_bits_in_memory / 8.0
    split = split_tiers(scenario)
    if split is not None:
        dec = scenario.decoding
        assert isinstance(dec, SelfSpeculative)
        msb, _ = split
        d = out.setdefault(msb, {})
        if model.moe is None:
            d["msb_slices"] = whole * msb_fraction(scenario)
        else:
            d["dense_layers"] = dense
            if cache is not None and cache.tier == msb:
                d["cached_expert_msb_slices" if dec.expert_bit_axis else "cached_experts"] = cached
                cache = None
            else:
                # no cache in the MSB tier: every expert is split (mapping.placement reads its MSB
                # slice there in full passes and the draft reads only that tier), so every
                # expert's slice lives there
                d["expert_msb_slices"] = experts * p.expert_bits_in_memory / 8.0 * expert_msb_fraction(scenario)
    if cache is not None:
        d = out.setdefault(cache.tier, {})
        d["cached_experts"] = cached
        if cache.dense_layers:
            d["dense_layers"] = dense
    return out


def warnings(model: ModelSpec, scenario: Scenario) -> tuple[str, ...]:
    """What a self-speculative run lacks (each one sentence: what, and what to change)."""
    dec = scenario.decoding
    if not isinstance(dec, SelfSpeculative):
        return ()
    out: list[str] = []
    bits = dec.draft_bits(scenario.precision.weight_bits)
    if split_tiers(scenario) is None:
        out.append("self-speculative decoding without MSB/LSB tiers: the draft reads its bit slices from the same "
                   "memory as full passes, so only the bytes shrink, not the tier (set decoding.msb_tier and "
                   "lsb_tier, e.g. --msb-tier hb --lsb-tier lpddr on elmoe3d)")
    if model.moe is not None and (scenario.moe is None or scenario.moe.expert_cache is None):
        where = ("every expert's MSB slice is stored and read in the MSB tier (counted in its capacity)"
                 if split_tiers(scenario) is not None else "every expert is read from the weight tier")
        out.append("self-speculative decoding of an MoE model without an expert cache: the draft's experts are not "
                   f"restricted to hot, cached ones and {where} (set moe.expert_cache, e.g. --expert-cache 16 "
                   "--cache-tier hb)")
    if bits < MIN_CREDIBLE_DRAFT_BITS:
        out.append(f"the draft reads {bits} bits per weight: ELMoE-3D reports that plain rounded drafts collapse "
                   f"below {MIN_CREDIBLE_DRAFT_BITS} bits, so the acceptance rate given must come from a measured "
                   f"draft at this precision (or use --weight-bits 8 --draft-bits 4)")
    return tuple(out)
