"""ELMoE-3D as reported (issue 14, item 3): every figure derived by hand.

qwen3-30b-a3b: hidden 2048, 48 layers, all MoE, 128 experts top-8 of intermediate 768 (gated:
3 x 2048 x 768 weights per expert), GQA 32 x 128 queries / 4 x 128 keys and values, vocab
151936 untied. INT8 group 32 with fp16 scales: 8 + 16/32 = 8.5 bits per weight.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from slmsim.casestudies.common import simulate
from slmsim.core.errors import Infeasible
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import StepMapper, expert_cache_capacity, make_plan
from slmsim.resources import example
from slmsim.workloads.decoding import SelfSpeculative, expected_tokens_tree, sample_accepted_tree
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

H, LAYERS, EXPERTS, TOP_K, VOCAB = 2048, 48, 128, 8, 151936
EXPERT_PARAMS = 3 * H * 768
BPW = 8.5 / 8  # bytes per INT8 group-32 weight
MSB = 4.5 / 8.5  # the MSB slice's share: the top 4 bits and the FP16 group scale (4 + 16/32 of 8.5 bits)
DENSE_PARAMS = 2 * VOCAB * H + LAYERS * (H * (4096 + 2 * 512) + 4096 * H + H * EXPERTS)  # emb + head, qkv + o + router
KV_PER_TOKEN = LAYERS * 2 * 512 * 2  # K and V, 4 heads x 128, fp16
QWEN = load_model("qwen3-30b-a3b")


def reported(batch: int = 1, **decoding: object) -> Scenario:
    tree = yaml.safe_load(example("decoding/elmoe3d-reported.yaml").read_text())
    tree["batch"] = batch
    tree["decoding"].update(decoding)
    return Scenario.model_validate(tree)


def test_hand_counts_match_the_model() -> None:
    assert QWEN.expert_params() == EXPERT_PARAMS
    assert QWEN.total_params() == DENSE_PARAMS + LAYERS * EXPERTS * EXPERT_PARAMS


def weight_bytes(step: object) -> dict[str, float]:
    """Weight bytes (reads and cache fills) per tier of one step, KV traffic left out."""
    out: dict[str, float] = {}
    for op in step.ops:  # type: ignore[attr-defined]
        if op.op_class == "attention":
            continue
        for tier, a in op.tier_bytes:
            out[tier] = out.get(tier, 0.0) + op.layers * a.const
    return out


def test_split_bytes_per_token_msb4_of_hot_experts_and_dense_layers_in_hb() -> None:
    """One token (batch 1, plain mode), 8 experts per layer, half of them hot (hit 0.5):
    HB: every dense weight, the MSB slice (top 4 bits and scales, 4.5 of 8.5 bits) of the 4 hot
    experts, and the MSB slices written for the 4 missed ones (the next draft's contents);
    LPDDR: the low 4 bits of the hot experts and the 4 missed experts whole."""
    hw = load_hardware("elmoe3d").spec
    sc = reported(1)
    assert not sc.decoding.speculates_at(1)  # type: ignore[union-attr]
    step = StepMapper(hw, QWEN, sc).verify(1, 1, distinct=8.0, hit=0.5)
    e = LAYERS * TOP_K * EXPERT_PARAMS * BPW  # the token's experts, all layers
    lm_head_and_dense = (DENSE_PARAMS - VOCAB * H) * BPW + H * BPW  # the embedding reads one row
    got = weight_bytes(step)
    assert got["hb"] == pytest.approx(lm_head_and_dense + e * 0.5 * MSB + e * 0.5 * MSB, rel=1e-9)
    assert got["lpddr"] == pytest.approx(e * (0.5 * (1 - MSB) + 0.5), rel=1e-9)


def test_expert_axis_only_holds_mxfp4_experts_whole() -> None:
    """gpt-oss-20b, MXFP4 experts (4.25 bits), no bit axis: a hit reads the whole expert from HB,
    a miss the whole expert from LPDDR (and writes it into HB)."""
    gpt = load_model("gpt-oss-20b")
    hw = load_hardware("elmoe3d").spec
    sc = reported(1, expert_bit_axis=False).model_copy(update={
        "precision": reported(1).precision.model_copy(update={"expert_bits_per_weight": 4.25})})
    step = StepMapper(hw, gpt, sc).verify(1, 1, distinct=4.0, hit=0.75)
    e = 24 * 4 * (3 * 2880 * 2880) * 4.25 / 8  # 4 experts per layer, 24 layers
    got = weight_bytes(step)
    # per layer qkv 2880 x (64 x 64 + 2 x 8 x 64) + o 4096 x 2880 + router 2880 x 32 (the qkv biases
    # are not read as weights); the lm head; one embedding row
    dense = (24 * (2880 * 5120 + 4096 * 2880 + 2880 * 32) + 2880 * 201088 + 2880) * BPW
    assert got["lpddr"] == pytest.approx(e * 0.25, rel=1e-9)
    assert got["hb"] == pytest.approx(dense + e * 0.75 + e * 0.25, rel=1e-9)
    # the weights in memory: experts at 4.25 bits, the rest at 8.5
    plan = make_plan(load_hardware("elmoe3d-xpu").spec, gpt,
                     Scenario.model_validate({**yaml.safe_load(example("decoding/elmoe3d-xpu.yaml").read_text()),
                                              "precision": {"weight_bits": 8, "activation_bits": 8,
                                                            "expert_bits_per_weight": 4.25}}))
    assert not isinstance(plan, Infeasible)
    experts = 24 * 32 * 3 * 2880 * 2880
    assert plan.memory_footprint_bytes["weights"] == pytest.approx(
        experts * 4.25 / 8 + (gpt.total_params() - experts) * BPW, rel=1e-12)


def test_verification_reads_hb_and_lpddr_in_parallel() -> None:
    """An expert op's time is overhead + max(compute, HB bytes / HB bandwidth, LPDDR bytes /
    LPDDR bandwidth): the two tiers are read at once, not one after the other."""
    hw = load_hardware("elmoe3d").spec
    step = StepMapper(hw, QWEN, reported(16)).verify(16, 9, distinct=100.0, hit=0.4)
    i = next(j for j, op in enumerate(step.ops) if op.name == "experts_up")
    op = step.ops[i]
    by = dict(op.tier_bytes)
    t_hb = by["hb"].const / (1638.4e9 * 0.97)
    t_lp = by["lpddr"].const / (102.4e9 * 0.99)
    assert t_lp > t_hb > 0
    expect = op.overhead_s + max(op.compute_s.const, t_hb, t_lp)
    got = step.op_times_s(np.array([0.0]))[i, 0] / op.layers  # all 48 layers of the op
    assert got == pytest.approx(expect, rel=1e-9)
    assert got < op.overhead_s + t_hb + t_lp  # not serial


@pytest.mark.parametrize("a", [0.33, 0.62, 0.91])
def test_tree_draft_expected_accepted_length_by_hand(a: float) -> None:
    """Tree [2, 1, 1, 1]: depth 1 is right if either of 2 candidates is (1 - (1 - a)^2), each
    further depth with probability a: E = 1 + p1 (1 + a + a^2 + a^3)."""
    p1 = 1 - (1 - a) ** 2
    hand = 1 + p1 * (1 + a + a * a + a ** 3)
    assert expected_tokens_tree(a, (2, 1, 1, 1)) == pytest.approx(hand, rel=1e-12)
    # a width-1 tree is the chain: (1 - a^5) / (1 - a)
    assert expected_tokens_tree(a, (1, 1, 1, 1)) == pytest.approx((1 - a ** 5) / (1 - a), rel=1e-12)
    draws = sample_accepted_tree(np.random.default_rng(1), a, (2, 1, 1, 1), 200_000)
    assert 1 + draws.mean() == pytest.approx(hand, abs=4 * draws.std() / math.sqrt(draws.size))


def test_tree_draft_in_the_engines() -> None:
    """The analytic engine uses the hand E; the DES samples it (olmoe for speed: 64 experts top-8);
    verification covers the 8 tree nodes + the root."""
    from slmsim.simulator.decoding import draft_widths, verify_width

    dec = reported(16).decoding
    assert verify_width(dec) == 9 and draft_widths(dec) == [1, 2, 2, 2]
    hw = load_hardware("elmoe3d").spec
    sc = reported(16).model_copy(update={"gen_tokens": 1024})
    sc = sc.model_copy(update={"moe": sc.moe.model_copy(update={"expert_cache": sc.moe.expert_cache.model_copy(  # type: ignore[union-attr]
        update={"experts_per_layer": 16})})})
    a = 0.62
    hand = 1 + (1 - (1 - a) ** 2) * (1 + a + a * a + a ** 3)
    ana = simulate(hw, "olmoe-1b-7b", sc)
    assert ana.extra["tokens_per_target_pass"] == pytest.approx(hand, rel=1e-12)
    des = simulate(hw, "olmoe-1b-7b", sc, engine="des")
    # ~16 x 350 sampled passes, sd ~1.6 tokens: 4 standard errors ~ 0.09; the last, truncated
    # pass of each sequence lowers the mean by < 0.01
    assert des.extra["tokens_per_target_pass"] == pytest.approx(hand, abs=0.1)


def test_batch_threshold_switch_both_ways() -> None:
    below = SelfSpeculative(batch_threshold=8)
    above = SelfSpeculative(batch_threshold=8, speculate_above_threshold=True)
    assert [below.speculates_at(b) for b in (1, 8, 9, 16)] == [True, True, False, False]
    assert [above.speculates_at(b) for b in (1, 8, 9, 16)] == [False, False, True, True]
    assert not SelfSpeculative(draft_len=0, speculate_above_threshold=True).speculates_at(16)
    hw = load_hardware("elmoe3d").spec
    sc = reported(8).model_copy(update={"gen_tokens": 64})
    sc = sc.model_copy(update={"moe": sc.moe.model_copy(update={"expert_cache": sc.moe.expert_cache.model_copy(  # type: ignore[union-attr]
        update={"experts_per_layer": 16})})})
    assert simulate(hw, "olmoe-1b-7b", sc).extra["tokens_per_target_pass"] == 1.0  # batch 8: plain
    assert simulate(hw, "olmoe-1b-7b", sc.model_copy(update={"batch": 16})).extra["tokens_per_target_pass"] > 2.0


@pytest.mark.parametrize("preset,cap", [("elmoe3d", 8e9), ("elmoe3d-4gb", 4e9)])
@pytest.mark.parametrize("batch", [1, 16])
def test_hb_expert_area_by_hand(preset: str, cap: float, batch: int) -> None:
    """HB holds the dense layers (1.54B weights at 8.5 bits = 1.64 GB) and the KV cache
    (batch x (512 + 512 + 8 tree slots) x 98304 B) first; the MSB slices of the hot experts
    (48 layers x 2.65 MB per expert per layer: the top 4 bits and the scales) take what is left."""
    hw = load_hardware(preset).spec
    assert hw.memories["hb"].capacity_bytes == cap
    sc = reported(batch)
    n = expert_cache_capacity(hw, QWEN, sc)
    kv = batch * (512 + 512 + 8) * KV_PER_TOKEN
    per_expert = LAYERS * EXPERT_PARAMS * BPW * MSB
    free = cap - DENSE_PARAMS * BPW - kv  # activations live in the device's own memory, LPDDR
    assert n == math.floor(free / per_expert)
    assert {("elmoe3d", 1): 49, ("elmoe3d", 16): 37, ("elmoe3d-4gb", 1): 17, ("elmoe3d-4gb", 16): 5}[(preset, batch)] == n

    def with_cache(k: int) -> object:
        return make_plan(hw, QWEN, sc.model_copy(update={"moe": sc.moe.model_copy(update={  # type: ignore[union-attr]
            "expert_cache": sc.moe.expert_cache.model_copy(update={"experts_per_layer": k})})}))  # type: ignore[union-attr]

    assert not isinstance(with_cache(n), Infeasible)
    over = with_cache(n + 1)
    assert isinstance(over, Infeasible) and over.bound == cap


def test_xpu_has_the_same_compute_and_lpddr_only() -> None:
    el = load_hardware("elmoe3d").spec
    for xpu_name, el_name in (("elmoe3d-xpu", "elmoe3d"), ("elmoe3d-4gb-xpu", "elmoe3d-4gb")):
        xpu, ref = load_hardware(xpu_name).spec, load_hardware(el_name).spec
        assert set(xpu.memories) == {"lpddr"}
        assert xpu.memories["lpddr"] == ref.memories["lpddr"]
        a = xpu.devices["logic"].model_dump(exclude={"kv_memory"})
        b = ref.devices["logic"].model_dump(exclude={"kv_memory"})
        assert a == b
    hb = load_hardware("elmoe3d-hb-xpu").spec
    assert hb.memories == el.memories and hb.devices == el.devices
