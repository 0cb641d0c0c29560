"""Sliding-window layers attend over (and, with a windowed cache, keep) at most W positions.

Figures by hand from the presets' config.json fields:
- gpt-oss-20b: 24 layers, 12 of them local over 128 tokens; 8 KV heads x 64 = 512 KV width,
  so 2 x 512 x 2 B = 2,048 B of 16-bit K/V per layer per token; 64 query heads x 64, so
  4 x 64 x 64 = 16,384 attention FLOPs per layer per context token.
- gemma-2-2b: 26 layers, 13 local over 4,096 tokens; 8 query heads x 256: 8,192 FLOPs per
  layer per attended pair.
"""

from __future__ import annotations

import json

import pytest

from slmsim.core.errors import Infeasible
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.graph import Phase, build_step, merge_steps
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

KV_LAYER_TOKEN_B = 2 * 8 * 64 * 2  # gpt-oss-20b, 16-bit K/V
HW = "jetson-agx-thor"  # holds gpt-oss-20b (orin-nano's 8 GB does not)


def _plan(model: str, prompt: int, gen: int, **scenario: object):
    plan = make_plan(load_hardware(HW).spec, load_model(model),
                     Scenario(prompt_tokens=prompt, gen_tokens=gen, precision=Precision(kv_bits=16), **scenario))
    assert not isinstance(plan, Infeasible), plan
    return plan


def _attention_kv_read_b(step, ctx: float) -> float:
    """K/V bytes the step's self-attention reads at total context `ctx` (its writes taken off)."""
    total = 0.0
    for op in step.ops:
        if op.op_class == "attention":
            for _, aff in op.tier_bytes:
                total += op.layers * (aff.at(ctx) - aff.const)
    return total


@pytest.mark.parametrize(("ctx", "positions"), [
    (4096, 12 * 4096 + 12 * 128),  # past the window: the local half reads 128 positions
    (100, 24 * 100),  # within it: every layer reads the whole context
    (128, 24 * 128),  # at it
])
def test_decode_reads_the_window_only(ctx: int, positions: int) -> None:
    step = _plan("gpt-oss-20b", 256, 64).decode
    assert _attention_kv_read_b(step, ctx) == pytest.approx(positions * KV_LAYER_TOKEN_B, rel=1e-12)
    flops = sum(op.layers * op.flops.at(ctx) for op in step.ops if op.op_class == "attention")
    assert flops == pytest.approx(positions * 4 * 64 * 64, rel=1e-12)


def test_a_batch_caps_at_sequences_times_the_window() -> None:
    step = _plan("gpt-oss-20b", 256, 64, batch=4).mapper.decode(4)
    # four sequences at 4,096 tokens each: total context 16,384, the local layers 4 x 128
    assert _attention_kv_read_b(step, 4 * 4096) == pytest.approx((12 * 4 * 4096 + 12 * 4 * 128) * KV_LAYER_TOKEN_B,
                                                                 rel=1e-12)


def test_kv_footprint_holds_the_window_unless_told_not_to() -> None:
    # prompt 4096 + gen 128 = 4,224 positions: global layers keep all, local layers 128
    windowed = _plan("gpt-oss-20b", 4096, 128).memory_footprint_bytes["kv_cache"]
    assert windowed == pytest.approx((12 * 4224 + 12 * 128) * KV_LAYER_TOKEN_B, rel=1e-12)  # 106.95 MB
    full = _plan("gpt-oss-20b", 4096, 128, windowed_kv_cache=False).memory_footprint_bytes["kv_cache"]
    assert full == pytest.approx(24 * 4224 * KV_LAYER_TOKEN_B, rel=1e-12)  # 207.6 MB
    # the cache's size does not change what attention reads
    a = _plan("gpt-oss-20b", 4096, 128).decode
    b = _plan("gpt-oss-20b", 4096, 128, windowed_kv_cache=False).decode
    assert _attention_kv_read_b(a, 4200) == _attention_kv_read_b(b, 4200)


def test_prefill_pairs_by_hand() -> None:
    model, p = load_model("gemma-2-2b"), 8192
    wl = build_step(model, Precision(), phase=Phase.PREFILL, batch=1, prompt_tokens=p)
    attn = [op for op in wl.ops if op.op_class.value == "attention"]
    global_pairs = p * (p + 1) // 2  # 33,558,528
    local_pairs = 4096 * 4097 // 2 + (p - 4096) * 4096  # 25,167,872: token i sees min(i, 4096)
    assert sum(op.layers * op.flops for op in attn) == pytest.approx(13 * 8192 * (global_pairs + local_pairs),
                                                                     rel=1e-12)
    within = build_step(model, Precision(), phase=Phase.PREFILL, batch=1, prompt_tokens=4096)
    assert sum(op.layers * op.flops for op in within.ops if op.op_class.value == "attention") == pytest.approx(
        26 * 8192 * 4096 * 4097 / 2, rel=1e-12)


def test_a_chunk_past_the_window_reads_the_window_of_earlier_context() -> None:
    """A prefill chunk of 64 tokens after 1,000 earlier ones (gpt-oss-20b): a global layer
    reads all 1,000 earlier positions once, a local layer its last 128."""
    model = load_model("gpt-oss-20b")
    chunk = build_step(model, Precision(kv_bits=16), phase=Phase.PREFILL, batch=1, prompt_tokens=1064,
                       tokens_per_seq=64, logits=False)
    merged = merge_steps(None, ((chunk, 1000),), model=model.name)
    attn = next(op for op in merged.ops if op.op_class.value == "attention")
    per_layer_earlier = (0.5 * 1000 + 0.5 * 128) * KV_LAYER_TOKEN_B  # the op's instance is the layer average
    assert attn.kv_read_bytes - 64 * KV_LAYER_TOKEN_B == pytest.approx(per_layer_earlier, rel=1e-12)
    assert attn.kv_read_bytes_per_ctx == 0.0  # made constant at its offset


def _with_and_without_window(prompt: int, gen: int):
    """gemma-2-2b on orin-nano, as it is and with its sliding window removed (full attention)."""
    hw = load_hardware("orin-nano").spec
    model = load_model("gemma-2-2b")
    plain = model.model_copy(update={"sliding_window": None})
    scen = Scenario(prompt_tokens=prompt, gen_tokens=gen)
    return run(make_plan(hw, model, scen)), run(make_plan(hw, plain, scen))


def test_within_the_window_equals_the_model_without_one() -> None:
    """The limit case: a run that never passes W costs exactly what full attention costs."""
    a, b = _with_and_without_window(1024, 256)
    for metric in ("ttft_s", "tpot_s", "energy_j"):
        assert getattr(a, metric) == pytest.approx(getattr(b, metric), rel=1e-12), metric
    assert a.memory_footprint_bytes["kv_cache"] == b.memory_footprint_bytes["kv_cache"]


def test_past_the_window_decode_costs_less_than_full_attention() -> None:
    a, b = _with_and_without_window(8000, 64)
    assert a.tpot_s < b.tpot_s
    # per decode token the windowed run reads 13 layers x (8,032 - 4,096) positions fewer (at
    # the mean decode context 8,032) x 2 x 4 x 256 x 2 B of K/V: 209.6 MB
    saved = b.extra["work"]["decode_per_token"]["bytes_by_tier"]["dram"] - \
        a.extra["work"]["decode_per_token"]["bytes_by_tier"]["dram"]
    mean_ctx = 8000 + 1 + (64 - 2) / 2  # decode steps 0..62 attend to 8,001 .. 8,063 positions
    assert saved == pytest.approx(13 * (mean_ctx - 4096) * 2 * 4 * 256 * 2, rel=1e-9)


def test_engines_agree_across_the_window() -> None:
    """Decode crosses W = 128 mid-run (contexts 101 .. 163): the DES (ideal memory) and the
    analytic engine agree as they do without a window (tests/simulator/test_agreement.py)."""
    plan = _plan("gpt-oss-20b", 100, 64)
    a, d = run(plan, engine="analytic"), run(plan, engine="des", memory_model="ideal")
    for metric in ("ttft_s", "tpot_s", "energy_j", "decode_energy_j"):
        assert getattr(d, metric) == pytest.approx(getattr(a, metric), rel=0.01), metric


def test_a_plain_context_sum_is_refused_for_a_windowed_step() -> None:
    step = _plan("gpt-oss-20b", 256, 64).decode
    with pytest.raises(TypeError, match="sliding-window"):
        step.tier_bytes_total(4096.0, 1)
    assert step.tier_bytes_total(step.ctx_sum(4096.0), 1)["dram"] > 0


def test_the_window_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    """What the run assumed is in the table's header and in --json; none for a model without."""
    from slmsim.cli import main

    base = ["simulate", "--hw", "orin-nano", "--model", "gemma-2-2b", "--prompt", "256", "--gen", "8"]
    assert main(base) == 0
    assert "sliding window: 13 of 26 layers attend over the last 4,096 tokens; their KV cache holds the window " \
           "only" in capsys.readouterr().out
    assert main([*base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sliding_window"] == {
        "tokens": 4096, "layers": 13, "of_layers": 26, "windowed_kv_cache": True}
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--json"]) == 0
    assert "sliding_window" not in json.loads(capsys.readouterr().out)


def test_check_names_the_window(capsys: pytest.CaptureFixture[str]) -> None:
    from slmsim.cli import main

    assert main(["check", "gpt-oss-20b"]) == 0
    assert "sliding window: 12 of 24 layers attend over the last 128 tokens" in capsys.readouterr().out
    assert main(["check", "gpt-oss-20b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sliding_window"] == {"tokens": 128, "layers": 12}


def test_mixed_lengths_are_evaluated_at_their_exact_equivalent_context() -> None:
    """gemma-2-2b, two sequences at 1,000 and 6,000 tokens: the 13 global layers read 7,000
    positions, the 13 local ones 1,000 + 4,096 = 5,096. The plain sum (7,000, under the cap of
    2 x 4,096) would charge the local layers 7,000; the equivalent context solves
    0.5 x + 0.5 min(x, 8,192) = 0.5 x 7,000 + 0.5 x 5,096: x = 6,048."""
    plan = make_plan(load_hardware("orin-nano").spec, load_model("gemma-2-2b"), Scenario(prompt_tokens=64, gen_tokens=8))
    m = plan.mapper
    assert m.step_context([1000, 6000]) == pytest.approx(6048.0)
    assert m.step_context([5000, 6000]) == 11000.0  # both past W: the plain sum is exact
    assert m.step_context([1000, 2000]) == 3000.0  # both within
    step = m.decode(2)
    per_layer_token = 2 * 4 * 256 * 2  # 16-bit K/V of one layer and token
    assert _attention_kv_read_b(step, m.step_context([1000, 6000])) == pytest.approx(
        (13 * 7000 + 13 * 5096) * per_layer_token, rel=1e-12)
    # past the cap: 6,000 and 9,000 -> global 15,000, local 4,096 + 4,096
    assert _attention_kv_read_b(step, m.step_context([6000, 9000])) == pytest.approx(
        (13 * 15000 + 13 * 8192) * per_layer_token, rel=1e-12)


def test_the_serving_des_passes_the_equivalent_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests of different lengths decode together: each decode step runs at
    step_context of their contexts, not at the plain sum."""
    from slmsim.simulator.executor import Executor
    from slmsim.simulator.serving import ServingPolicy, run_serving
    from slmsim.workloads.requests import Request

    plan = make_plan(load_hardware("orin-nano").spec, load_model("gemma-2-2b"), Scenario(prompt_tokens=64, gen_tokens=8))
    seen: list[tuple[str, float]] = []
    original = Executor.run

    def spy(self, step, ctx, **kw):  # type: ignore[no-untyped-def]
        seen.append((kw.get("label", ""), ctx))
        return original(self, step, ctx, **kw)

    monkeypatch.setattr(Executor, "run", spy)
    reqs = [Request(0, 0.0, 1000, 4), Request(1, 0.0, 6000, 4)]
    run_serving(plan.mapper, reqs, ServingPolicy(max_batch=2))
    both = [c for label, c in seen if label == "decode x2"]
    assert both, seen
    # each two-sequence step: contexts 1,000 + g and 6,000 + g for the same g (both got their first token)
    for c in both:
        g = None
        for cand in range(1, 5):
            if abs(c - plan.mapper.step_context([1000 + cand, 6000 + cand])) < 1e-9:
                g = cand
        assert g is not None, c
        assert c < 7000 + 2 * g  # below the plain sum: the local layers see only their window


@pytest.mark.parametrize(("windowed", "blocks"), [
    # one request, prompt 8,000 + 64 generated: the last decode step holds 8,063 positions;
    # ceil(8,063 / 16) = 504 blocks, of which 13 of 26 layers free the (8,063 - 4,096) // 16 = 247
    # blocks wholly before their window
    (True, 504 - 0.5 * 247),
    (False, 504),
])
def test_paged_kv_frees_what_leaves_the_window(windowed: bool, blocks: float) -> None:
    from slmsim.simulator.serving import KvPolicy, ServingPolicy, run_serving
    from slmsim.workloads.requests import Request

    model = load_model("gemma-2-2b")
    scen = Scenario(prompt_tokens=8000, gen_tokens=64, windowed_kv_cache=windowed)
    plan = make_plan(load_hardware("orin-nano").spec, model, scen)
    res = run_serving(plan.mapper, [Request(id=0, arrival_s=0.0, prompt_tokens=8000, gen_tokens=64)],
                      ServingPolicy(max_batch=1, kv_policy=KvPolicy.PAGED))
    block_b = 16 * 26 * 2 * 4 * 256 * 2  # 16 tokens x 106,496 B of 16-bit K/V: 1,703,936 B
    assert res.memory_footprint_bytes["kv_cache_peak"] == pytest.approx(blocks * block_b, rel=1e-12)


def test_step_context_is_exact_for_any_lengths() -> None:
    """Property (hypothesis): for any 1-6 sequence contexts, a gpt-oss-20b decode step (12 of 24
    layers local over 128 tokens) evaluated at step_context reads exactly
    2,048 B x (12 sum T_i + 12 sum min(T_i, 128)) of K/V in its attention, FLOPs likewise."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    m = _plan("gpt-oss-20b", 256, 64).mapper
    steps = {b: m.decode(b) for b in range(1, 7)}

    @settings(max_examples=60, derandomize=True, deadline=None, database=None)
    @given(st.lists(st.integers(min_value=1, max_value=20_000), min_size=1, max_size=6))
    def check(ctxs: list[int]) -> None:
        step = steps[len(ctxs)]
        x = m.step_context(ctxs)
        positions = 12 * sum(ctxs) + 12 * sum(min(c, 128) for c in ctxs)
        assert _attention_kv_read_b(step, x) == pytest.approx(positions * KV_LAYER_TOKEN_B, rel=1e-9)
        flops = sum(op.layers * op.flops.at(x) for op in step.ops if op.op_class == "attention")
        assert flops == pytest.approx(positions * 4 * 64 * 64, rel=1e-9)

    check()


def test_chunk_overcount_by_hand() -> None:
    """tokens x min(offset, W) against the exact earlier pairs, S(o + p) - S(o) - S(p)."""
    from slmsim.workloads.graph import chunk_window_overcount_pairs as over
    assert over(0, 512, 4096) == 0.0  # the first pass has no earlier context
    assert over(2048, 2048, 4096) == 0.0  # o + p <= W: every earlier position is in the window
    assert over(4096, 512, 4096) == 512 * 513 / 2  # o >= W, p <= W: S(p), the chunk's own triangle
    assert over(1000, 64, 128) == 64 * 65 / 2  # 8,192 charged, 6,112 exact: token j reaches back 128 - j
    assert over(4096, 2048, 128) == 2048 * 128 - 128 * 127 / 2  # p > W: only the first 127 tokens reach back
    assert over(3500, 1000, 4096) == 1000 * 3500 - (  # between: the chunk crosses W
        (4096 * 4097 / 2 + 404 * 4096) - 3500 * 3501 / 2 - 1000 * 1001 / 2)
    assert over(5000, 64, float("inf")) == 0.0  # no window


def test_a_merged_chunk_past_the_window_has_exact_flops() -> None:
    """gpt-oss-20b, a 64-token chunk after 1,000 earlier tokens (mixed step): a global layer
    scores 64 x 1,000 earlier pairs and the chunk's own 2,080; a local layer 128 positions per
    token, 64 x 128 = 8,192 pairs in all (2,080 of them in the chunk), not 64 x 128 earlier
    ones plus the chunk's."""
    model = load_model("gpt-oss-20b")
    chunk = build_step(model, Precision(kv_bits=16), phase=Phase.PREFILL, batch=1, prompt_tokens=1064,
                       tokens_per_seq=64, logits=False)
    attn = next(op for op in merge_steps(None, ((chunk, 1000),), model=model.name).ops
                if op.op_class.value == "attention")
    pairs = 12 * (64 * 1000 + 64 * 65 / 2) + 12 * 64 * 128
    assert attn.layers * attn.flops == pytest.approx(pairs * 4 * 64 * 64, rel=1e-12)


def _chunked_attention_flops(model_name: str, prompt: int, batch: int, chunk: int | None) -> float:
    from slmsim.mapping.plan import StepMapper
    m = StepMapper(load_hardware(HW).spec, load_model(model_name),
                   Scenario(prompt_tokens=prompt, gen_tokens=1, batch=batch, prefill_chunk_tokens=chunk))
    return sum(op.layers * float(op.flops.at(c)) for step, ctx in m.prefill_passes(prompt, batch)
               for c in ctx for op in step.ops if op.op_class == "attention")


@pytest.mark.parametrize(("model", "prompt", "chunk"), [
    ("gemma-2-2b", 10_000, 2048),  # W = 4,096 a multiple of the chunk: passes before and past W
    ("gemma-2-2b", 10_000, 3000),  # a pass crosses W
    ("gpt-oss-20b", 3000, 512),  # chunks longer than W = 128
])
def test_chunking_keeps_the_attention_flops_of_a_windowed_model(model: str, prompt: int, chunk: int) -> None:
    """Chunking a prefill does not change which pairs are scored: the passes' attention FLOPs
    add up to the one-pass prefill's, sliding-window layers included."""
    whole = _chunked_attention_flops(model, prompt, 1, None)
    assert _chunked_attention_flops(model, prompt, 1, chunk) == pytest.approx(whole, rel=1e-12)


def test_chunking_keeps_the_attention_flops_for_any_chunks() -> None:
    """Property (hypothesis, derandomised): gemma-2-2b (W = 4,096), any batch 1-3, prompt and
    chunk: the chunked passes score exactly the one-pass prefill's pairs."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=30, derandomize=True, deadline=None, database=None)
    @given(batch=st.integers(1, 3), prompt=st.integers(1, 12_000), chunk=st.integers(1, 9_000))
    def check(batch: int, prompt: int, chunk: int) -> None:
        whole = _chunked_attention_flops("gemma-2-2b", prompt, batch, None)
        assert _chunked_attention_flops("gemma-2-2b", prompt, batch, chunk) == pytest.approx(whole, rel=1e-9)

    check()
