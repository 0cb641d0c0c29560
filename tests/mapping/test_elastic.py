"""Elastic self-speculation (issue 11, item 4): draft bits, warnings, HB capacity by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slmsim.core.errors import Infeasible
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.workloads.decoding import SelfSpeculative
from slmsim.workloads.load import load_model
from slmsim.workloads.routing import ExpertCache, MoeScenario, Zipf
from slmsim.workloads.scenario import Precision, Scenario

ROOT = Path(__file__).parents[2]
OLMOE = load_model("olmoe-1b-7b")


def elastic_scenario(**kw: object) -> Scenario:
    data = yaml.safe_load((ROOT / "examples" / "decoding" / "elmoe3d-elastic.yaml").read_text())
    data.update(kw)
    return Scenario.model_validate(data)


def test_draft_bits_must_be_below_the_weight_bits() -> None:
    with pytest.raises(ValueError, match="not below the weight bits"):
        Scenario(precision=Precision(weight_bits=4), decoding=SelfSpeculative(draft_weight_bits=4))
    # not given: half the weight bits (ELMoE-3D's top 4 of INT8)
    assert SelfSpeculative().draft_bits(8) == 4 and SelfSpeculative().draft_bits(4) == 2


def test_hb_capacity_of_the_preset_by_hand() -> None:
    """olmoe-1b-7b, INT8 group-32 (8.5 bits/weight), 16 cached experts per layer, KV in HB."""
    hw = load_hardware("elmoe3d").spec
    plan = make_plan(hw, OLMOE, elastic_scenario())
    assert not isinstance(plan, Infeasible)
    bpw = 8.5 / 8
    h, layers, vocab = 2048, 16, 50304
    dense = layers * (4 * h * h + h * 64) + 2 * vocab * h  # attention + router per layer, embedding + untied head
    # top 4 of 8 bits of 16 experts per layer, with their group scales whole (what the draft reads): 4 + 16/32 bits
    cached_msb = 16 * layers * (3 * h * 1024) * 4.5 / 8
    kv = (128 + 128 + 4) * 2 * layers * h * 2  # prompt + gen + 4 drafted slots, K and V, fp16
    assert plan.memory_footprint_bytes["tier.hb"] == pytest.approx(dense * bpw + cached_msb + kv, rel=1e-9)
    assert plan.memory_footprint_bytes["tier.hb"] < 8e9  # the preset's 8 GB passes
    assert plan.warnings == ()  # tiers and a cache: nothing missing


def test_hb_overflow_is_infeasible_with_the_figures() -> None:
    hw = load_hardware("elmoe3d").spec
    small = hw.model_copy(update={"memories": {**hw.memories,
                                              "hb": hw.memories["hb"].model_copy(update={"capacity_bytes": 1e9})}})
    out = make_plan(small, OLMOE, elastic_scenario())
    assert isinstance(out, Infeasible)
    assert "'hb'" in out.reason and out.bound == 1e9 and out.demanded > 1e9
    assert {"dense_layers", "cached_expert_msb_slices", "kv_cache"} <= set(out.details)
    assert out.details["dense_layers"] > 0.5e9


def test_dense_layers_are_read_from_the_msb_tier() -> None:
    hw = load_hardware("elmoe3d").spec
    plan = make_plan(hw, OLMOE, elastic_scenario())
    assert not isinstance(plan, Infeasible)
    attn = [op for op in plan.decode.ops if op.op_class == "attention" and op.tier_bytes]
    assert attn
    for op in attn:
        tiers = {t for t, a in op.tier_bytes if a.const > 0 and t != "noc"}
        assert "lpddr" not in tiers  # ELMoE-3D keeps the dense layers whole in HB


def test_missing_tiers_and_cache_warn() -> None:
    hw = load_hardware("elmoe3d").spec
    bare = Scenario(precision=Precision(weight_bits=8, activation_bits=8), decoding=SelfSpeculative(),
                    moe=MoeScenario(routing=Zipf(s=0.8)))
    plan = make_plan(hw, OLMOE, bare)
    assert not isinstance(plan, Infeasible)
    text = " ".join(plan.warnings)
    assert len(plan.warnings) == 2 and "MSB/LSB tiers" in text and "expert cache" in text
    cached = bare.model_copy(update={"moe": MoeScenario(routing=Zipf(s=0.8),
                                                        expert_cache=ExpertCache(tier="hb", experts_per_layer=16))})
    plan = make_plan(hw, OLMOE, cached)
    assert not isinstance(plan, Infeasible) and len(plan.warnings) == 1
    # a whole-expert cache without the split holds whole experts in HB
    assert plan.memory_footprint_bytes["tier.hb"] == pytest.approx(
        16 * 16 * 3 * 2048 * 1024 * 8.5 / 8 + (128 + 128 + 4) * 131072, rel=1e-9)


def test_split_experts_without_a_cache_are_stored_where_they_are_read() -> None:
    """Without a cache in the MSB tier every expert is split: full passes read its top bits from
    HB and the draft reads only HB, so HB holds every expert's MSB slice (found by a mapping
    audit: it read 16.7 GB from an HB that counted 1.66 GB and passed). By hand, qwen3-30b-a3b
    at INT8 group 32 (8.5 bits/weight), slices of the top 4 bits and the scales (4.5 bits): 48
    layers x 128 experts x 3 x 2048 x 768 weights x 4.5 bits / 8 = 16.31 GB, over the preset's
    8 GB."""
    hw = load_hardware("elmoe3d").spec
    scen = elastic_scenario(moe={"routing": {"model": "zipf", "s": 0.8}})
    big = make_plan(hw, load_model("qwen3-30b-a3b"), scen)
    assert isinstance(big, Infeasible) and "'hb'" in big.reason
    assert big.details["expert_msb_slices"] == pytest.approx(48 * 128 * 3 * 2048 * 768 * 4.5 / 8, rel=1e-9)
    # olmoe's slices fit: dense + every expert's top 4 of 8 bits + KV, by hand as above
    plan = make_plan(hw, OLMOE, scen)
    assert not isinstance(plan, Infeasible)
    h, layers, vocab, bpw = 2048, 16, 50304, 8.5 / 8
    dense = layers * (4 * h * h + h * 64) + 2 * vocab * h
    slices = layers * 64 * (3 * h * 1024) * 4.5 / 8
    kv = (128 + 128 + 4) * 2 * layers * h * 2
    assert plan.memory_footprint_bytes["tier.hb"] == pytest.approx(dense * bpw + slices + kv, rel=1e-9)
    assert any("MSB slice is stored and read in the MSB tier" in w for w in plan.warnings)


def test_the_draft_reads_the_msb_slice_that_hb_stores() -> None:
    """The draft reads the top 4 bits and the scales whole (Precision.draft_slice, 4.5 bits at
    INT8 group 32); the full pass reads the same slice from HB and the other 4 bits from LPDDR
    (a mapping audit: HB stored and the full pass read 4.25 bits, half of 8.5, while the
    draft read 4.5). llama-3.2-1b, split tiers on elmoe3d: every matmul, by hand."""
    hw = load_hardware("elmoe3d").spec
    scen = Scenario(precision=Precision(weight_bits=8, activation_bits=8),
                    decoding=SelfSpeculative(draft_weight_bits=4, msb_tier="hb", lsb_tier="lpddr"))
    plan = make_plan(hw, load_model("llama-3.2-1b"), scen)
    assert not isinstance(plan, Infeasible)
    full = {op.name: dict((t, a.const) for t, a in op.tier_bytes) for op in plan.mapper.verify(1, 1).ops}
    draft = {op.name: dict((t, a.const) for t, a in op.tier_bytes) for op in plan.mapper.self_draft(1).ops}
    for name in ("qkv_proj", "o_proj", "ffn_up", "ffn_down"):
        assert draft[name]["hb"] == pytest.approx(full[name]["hb"], rel=1e-12), name
        assert full[name]["lpddr"] == pytest.approx(full[name]["hb"] * 4.0 / 4.5, rel=1e-12), name
    h = 2048
    assert draft["qkv_proj"]["hb"] == pytest.approx(h * (h + 2 * 512) * 4.5 / 8, rel=1e-12)  # one layer
