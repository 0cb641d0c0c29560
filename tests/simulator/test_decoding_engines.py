"""Decoding strategies in both engines: convergence, the speedup optimum, edge cases, coverage."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware, preset_names
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.core.errors import Infeasible
from slmsim.workloads.decoding import (
    Autoregressive,
    LexicalUnit,
    Multipath,
    SelfSpeculative,
    Speculative,
    expected_tokens_per_pass,
)
from slmsim.workloads.graph import OpClass, Phase, build_step
from slmsim.workloads.load import load_model
from slmsim.workloads.routing import ExpertCache, MoeScenario, Zipf
from slmsim.workloads.scenario import Precision, Scenario

TARGET, DRAFT = load_model("qwen3-1.7b"), load_model("qwen3-0.6b")
ORIN = load_hardware("orin-nano").spec


def plan(dec: object, *, hw=ORIN, model=TARGET, gen: int = 64, batch: int = 1, **kw: object):  # noqa: ANN001, ANN202
    scen = Scenario(prompt_tokens=32, gen_tokens=gen, batch=batch, decoding=dec, **kw)
    return make_plan(hw, model, scen, draft_model=DRAFT)


def test_des_mean_acceptance_converges_to_the_formula() -> None:
    dec = Speculative(draft="qwen3-0.6b", draft_len=4, acceptance=0.7)
    des = run(plan(dec, gen=4000), engine="des", seed=1)
    assert des.extra["tokens_per_target_pass"] == pytest.approx(expected_tokens_per_pass(0.7, 4), rel=0.02)
    ana = run(plan(dec, gen=4000))
    assert des.decode_tokens_per_s == pytest.approx(ana.decode_tokens_per_s, rel=0.03)


def test_speedup_surface_has_the_known_optimum() -> None:
    """Speedup over autoregressive vs draft length g peaks at an interior g* that grows with the
    acceptance rate, as in Leviathan et al.: E(g) / (g c + 1) with c = T_draft / T_target.
    (Target llama-3.1-8b: with a 1.7B target the 0.6B draft costs ~60% of a target step on
    Orin Nano, per-kernel costs dominating, and speculation never pays.)"""
    big = load_model("llama-3.1-8b")
    ar = run(plan(Autoregressive(), model=big)).decode_tokens_per_s
    best = {}
    for a in (0.5, 0.7, 0.9):
        speed = [run(plan(Speculative(draft="qwen3-0.6b", draft_len=g, acceptance=a), model=big)).decode_tokens_per_s
                 / ar for g in range(0, 13)]
        g_star = int(np.argmax(speed))
        assert 0 < g_star < 12  # interior optimum
        assert all(np.diff(speed[: g_star + 1]) > 0) and all(np.diff(speed[g_star:]) < 0)  # unimodal
        best[a] = g_star
        # the closed form with the engine's own cost ratio picks the same g (within one)
        p = plan(Speculative(draft="qwen3-0.6b", draft_len=1, acceptance=a), model=big)
        c = p.mapper.draft.decode(1).step_times_s(np.array([40.0]))[0] / p.mapper.decode(1).step_times_s(np.array([40.0]))[0]
        closed = [expected_tokens_per_pass(a, g) / (g * c + 1) for g in range(0, 13)]
        assert abs(int(np.argmax(closed)) - g_star) <= 1
    assert best[0.5] <= best[0.7] <= best[0.9]


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_acceptance_edges(engine: str) -> None:
    zero = run(plan(Speculative(draft="qwen3-0.6b", draft_len=4, acceptance=0.0)), engine=engine)
    one = run(plan(Speculative(draft="qwen3-0.6b", draft_len=4, acceptance=1.0), gen=61), engine=engine)
    assert zero.extra["tokens_per_target_pass"] == pytest.approx(1.0)
    assert one.extra["tokens_per_target_pass"] == pytest.approx(5.0)


def test_draft_length_zero_is_autoregressive() -> None:
    spec = run(plan(Speculative(draft="qwen3-0.6b", draft_len=0, acceptance=0.7)))
    ar = run(plan(Autoregressive()))
    assert spec.tpot_s == pytest.approx(ar.tpot_s, rel=1e-9)
    assert spec.extra["draft_time_s"] == 0.0


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_self_speculation_switches_off_above_the_batch_threshold(engine: str) -> None:
    dec = SelfSpeculative(draft_len=4, acceptance=0.8, batch_threshold=4)
    above = run(plan(dec, batch=8), engine=engine)
    ar = run(plan(Autoregressive(), batch=8), engine=engine)
    assert above.extra["draft_time_s"] == 0.0
    assert above.tpot_s == pytest.approx(ar.tpot_s, rel=1e-9)
    below = run(plan(dec, batch=2), engine=engine)
    assert below.extra["draft_time_s"] > 0


STRATEGIES = [Autoregressive(), Speculative(draft="qwen3-0.6b", draft_len=3, acceptance=0.7),
              SelfSpeculative(draft_len=3), LexicalUnit(), Multipath(initial_width=2, max_width=4, expand_every=4,
                                                                      prune_after=10)]


@pytest.mark.parametrize("hw_name", preset_names())
def test_every_strategy_runs_on_every_preset_with_both_engines(hw_name: str) -> None:
    hw = load_hardware(hw_name).spec
    for dec in STRATEGIES:
        p = plan(dec, hw=hw, model=DRAFT, gen=12, precision=Precision(activation_bits=8))
        assert not isinstance(p, Infeasible), (hw_name, dec.strategy)
        for engine in ("analytic", "des"):
            r = run(p, engine=engine)
            assert r.decode_tokens_per_s > 0 and r.energy_j > 0, (hw_name, dec.strategy, engine)
            assert r.extra["decoding"] == dec.strategy
            # every joule charged is in a phase: the draft steps of self-speculation (phase
            # "draft") are decode energy (the DES once left them out of decode_energy_j)
            total = sum(r.energy_breakdown_j.values())
            assert r.prefill_energy_j + r.decode_energy_j == pytest.approx(total, rel=1e-9), (hw_name, dec, engine)
            for phase, figure in (("prefill", r.prefill_energy_j), ("decode", r.decode_energy_j)):
                assert sum(r.energy_layers_j[phase].values()) == pytest.approx(figure, rel=1e-9), (phase, engine)


def test_multipath_spends_more_tokens_and_batches_the_paths() -> None:
    mp = run(plan(Multipath(initial_width=4, max_width=8, expand_every=16, prune_after=48, final_width=2)))
    assert mp.extra["total_tokens_spent"] > 64 * 4
    ar = run(plan(Autoregressive()))
    assert mp.tpot_s > ar.tpot_s  # a wider batch per step, but far less than 4x: weights are shared
    assert mp.tpot_s < 2 * ar.tpot_s


def test_moe_cache_and_routing_reach_the_output() -> None:
    hw = load_hardware("elmoe3d").spec
    moe = MoeScenario(routing=Zipf(s=0.8), expert_cache=ExpertCache(tier="hb", experts_per_layer=16))
    p = plan(Autoregressive(), hw=hw, model=load_model("olmoe-1b-7b"), moe=moe,
             precision=Precision(weight_bits=8, activation_bits=8))
    for engine in ("analytic", "des"):
        r = run(p, engine=engine)
        assert 0.0 < r.extra["expert_cache_hit_rate"] < 1.0
        assert r.extra["distinct_experts_per_step"] == pytest.approx(8.0)  # one token, top-8
        assert r.energy_breakdown_j["hybrid_bonded_dram"] > 0  # hits are served from the HB tier


def test_elastic_self_speculation_reads_msbs_from_the_fast_tier() -> None:
    hw = load_hardware("elmoe3d").spec
    moe = MoeScenario(routing=Zipf(s=0.8), expert_cache=ExpertCache(tier="hb", experts_per_layer=16))
    dec = SelfSpeculative(draft_len=4, acceptance=0.8, draft_top_k=2, draft_weight_bits=4, msb_tier="hb",
                          lsb_tier="lpddr")
    p = plan(dec, hw=hw, model=load_model("olmoe-1b-7b"), moe=moe, precision=Precision(weight_bits=8, activation_bits=8))
    draft = p.mapper.self_draft(1)
    tiers = {t for op in draft.ops for t, a in op.tier_bytes if op.op_class == "experts" and a.const > 0}
    assert tiers == {"hb"}  # the draft reads only MSB slices of cached experts
    verify = p.mapper.verify(1, 5)
    tiers = {t for op in verify.ops for t, a in op.tier_bytes if op.op_class == "experts" and a.const > 0}
    assert tiers == {"hb", "lpddr"}  # verification merges MSBs (HB) and LSBs (LPDDR)


def test_shared_experts_and_dense_first_layer() -> None:
    m = load_model("deepseek-v2-lite")
    wl = build_step(m, Precision(), phase=Phase.DECODE, batch=1, prompt_tokens=32)
    names = {op.name: op for op in wl.ops}
    assert names["dense_ffn_up"].layers == 1 and names["experts_up"].layers == 26
    assert names["shared_ffn_up"].op_class is OpClass.SHARED_EXPERTS
    r = run(make_plan(load_hardware("agx-orin-64gb").spec, m, Scenario(prompt_tokens=32, gen_tokens=8)))
    assert r.latency_breakdown_s["decode"]["shared_experts"] > 0


def test_encoder_decoder_runs_the_encoder_once() -> None:
    m = load_model("flan-t5-base")
    pre = build_step(m, Precision(), phase=Phase.PREFILL, batch=1, prompt_tokens=64)
    dec = build_step(m, Precision(), phase=Phase.DECODE, batch=1, prompt_tokens=64)
    assert any(op.name.startswith("enc_") for op in pre.ops) and any(op.name == "cross_kv_proj" for op in pre.ops)
    assert not any(op.name.startswith("enc_") or op.name == "cross_kv_proj" for op in dec.ops)
    cross = next(op for op in dec.ops if op.name == "cross_attention")
    assert cross.kv_read_bytes > 0 and cross.kv_write_bytes == 0  # cross K/V computed once, read every step


def test_acceptance_replayed_from_a_csv(tmp_path) -> None:  # noqa: ANN001
    csv_path = tmp_path / "accepted.csv"
    csv_path.write_text("accepted\n" + "\n".join(str(x) for x in [0, 4, 2, 2]) + "\n")
    dec = Speculative(draft="qwen3-0.6b", draft_len=4, acceptance_csv=str(csv_path))
    p = plan(dec, gen=397)
    # analytic: the replayed counts as independent draws of their law (1, 5, 3, 3 tokens w.p.
    # 1/4 each; mean 3): E[rounds to 396 tokens] by the backward recursion
    # R(n) = 1 + sum_j P(j) R(n - j), R(n <= 0) = 0, and tokens per pass = 396 / R(396)
    rounds = [0.0] * 397
    for n in range(1, 397):
        rounds[n] = 1 + sum(0.25 * rounds[max(0, n - j)] for j in (1, 5, 3, 3))
    assert run(p).extra["tokens_per_target_pass"] == pytest.approx(396 / rounds[396], rel=1e-9)
    assert 396 / rounds[396] == pytest.approx(3.0, rel=0.005)  # the overshoot of the last round: < 0.5%
    des = run(p, engine="des")
    # the replay cycles 1, 5, 3, 3 tokens per pass: 396 decode tokens take exactly 132 passes
    assert des.extra["tokens_per_target_pass"] == pytest.approx(3.0)


def test_rounds_profile_matches_a_monte_carlo_of_the_batch() -> None:
    """The analytic engine's rounds at batch > 1: a batch runs until its slowest sequence has
    its tokens (finished sequences leave it). 127 tokens at a = 0.7, g = 3: E[rounds] and
    E[max over 4 sequences] from the dynamic programme vs 20,000 sampled sequences."""
    from slmsim.simulator.decoding import gain_pmf, rounds_profile

    dec = Speculative(draft="qwen3-0.6b", draft_len=3, acceptance=0.7)
    pmf = gain_pmf(dec)
    assert pmf == pytest.approx([0.0, 0.3, 0.21, 0.147, 0.343])  # 1 + k, P(k >= i) = 0.7^i, k <= 3
    alive, before = rounds_profile(pmf, 127)
    rng = np.random.default_rng(0)
    u = rng.random((20_000, 127, 3))
    accepted = np.where((u >= 0.7).any(axis=2), np.argmax(u >= 0.7, axis=2), 3)
    rounds = np.argmax(np.cumsum(1 + accepted, axis=1) >= 127, axis=1) + 1
    se = rounds.std() / np.sqrt(rounds.size)
    assert alive.sum() == pytest.approx(rounds.mean(), abs=4 * se)
    assert alive.sum() > 127 / expected_tokens_per_pass(0.7, 3)  # the last round's overshoot
    batches = rounds.reshape(-1, 4).max(axis=1)
    assert np.sum(1 - (1 - alive) ** 4) == pytest.approx(batches.mean(), abs=4 * batches.std() / np.sqrt(batches.size))
    assert batches.mean() / rounds.mean() > 1.05  # what a batch-wide mean rate leaves out
    assert before[0] == 0.0  # no token before round 1; before round 2, one round's gain
    assert before[1] == pytest.approx(pmf @ np.arange(5))


def test_speculative_batch_engines_agree_in_the_mean() -> None:
    """Batch 4, ideal memory (nothing contends): the DES's mean decode rate over 20 seeds
    lies within 2.5% (about 3 standard errors) of the analytic one, which counts the
    shrinking batch; a batch-wide mean rate was 7% above the DES here."""
    dec = Speculative(draft="qwen3-0.6b", draft_len=3, acceptance=0.7)
    p = plan(dec, gen=128, batch=4)
    ana = run(p)
    seeds = np.random.SeedSequence(5).generate_state(20)
    des = [run(p, engine="des", seed=int(s), memory_model="ideal") for s in seeds]
    assert np.mean([d.decode_tokens_per_s for d in des]) == pytest.approx(ana.decode_tokens_per_s, rel=0.025)
    assert np.mean([d.tpot_s for d in des]) == pytest.approx(ana.tpot_s, rel=0.025)
    assert np.mean([d.extra["tokens_per_target_pass"] for d in des]) == pytest.approx(
        ana.extra["tokens_per_target_pass"], rel=0.025)


def test_speculative_footprint_lists_the_draft_and_adds_up_to_the_tier() -> None:
    """Draft and target share Orin Nano's LPDDR: the tier holds target weights + KV +
    activations + the draft's weights (qwen3-0.6b, 596M parameters at 4.5 bits) and its KV
    (28 layers x 2 x 8 KV heads x 128 x 2 B per token, prompt 32 + gen 64)."""
    fp = run(plan(Speculative(draft="qwen3-0.6b", draft_len=3, acceptance=0.7))).memory_footprint_bytes
    assert fp["draft_weights"] == pytest.approx(DRAFT.total_params() * 4.5 / 8)
    assert fp["draft_kv_cache"] == pytest.approx(28 * 2 * 8 * 128 * 2 * (32 + 64))
    parts = ("weights", "kv_cache", "activations", "draft_weights", "draft_kv_cache")
    assert sum(fp[k] for k in parts) == pytest.approx(fp["tier.dram"], rel=1e-12)


def test_a_draft_models_token_tree_drafts_its_frontier() -> None:
    """A separate draft model with tree [4, 2, 2]: depth 1 is proposed from the last token
    (1 token per sequence), depth 2 from the 4 depth-1 nodes, depth 3 from the 4 x 2 = 8
    depth-2 nodes, so the draft steps run 1, 4 and 8 tokens per sequence. Every op's FLOPs
    are per token (the projections 2 x params, attention 4 x heads x head_dim x context at the
    same context), so a step's FLOPs are 4x and 8x the chain's; the draft's weights are read
    once per step whatever the width.
    Until 2026-12-07 a draft model's tree was charged as a chain (1, 1, 1; an energy audit)."""
    from slmsim.simulator.decoding import draft_step, draft_widths

    dec = Speculative(draft="qwen3-0.6b", draft_len=3, acceptance=0.7, tree=(4, 2, 2))
    assert draft_widths(dec) == [1, 4, 8]
    p = plan(dec)
    steps = [draft_step(p.mapper, dec, 1, w) for w in draft_widths(dec)]
    ctx = np.array([40.0])

    def linear_flops(step) -> float:  # noqa: ANN001
        return sum(op.layers * op.flops.at(40.0) for op in step.ops)

    one = linear_flops(steps[0])
    assert one > 0
    assert linear_flops(steps[1]) == pytest.approx(4 * one, rel=1e-9)
    assert linear_flops(steps[2]) == pytest.approx(8 * one, rel=1e-9)
    weights = [sum(b for b in s.tier_bytes_total(s.ctx_of(ctx[0]), 1).values()) for s in steps]
    assert weights[1] >= weights[0] and weights[2] >= weights[1]  # KV reads may grow, weights do not repeat
    assert weights[2] < 2 * weights[0]
