"""Prefill structure a stack's kernels impose, derived by hand: llama.cpp Metal's tiled GEMMs
dequantise every weight once per 32-token tile, and Genie's fixed-shape prompt processor scores
the whole compiled window and computes logits at every position of every pass."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.processor import dequant_passes
from slmsim.mapping.stack import make_stack_plan
from slmsim.simulator.engines import run
from slmsim.stacks.load import format_library, load_stack, stack_with_edits
from slmsim.workloads.graph import Op, OpClass, OpKind, Phase, build_step
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario


def _plan(hw: str, model: str, stack: str, fmt: str, scen: Scenario):  # noqa: ANN202
    return make_stack_plan(load_hardware(hw).spec, load_model(model), scen, load_stack(stack).spec, fmt,
                           format_library())


def _matmul(rows: int, k: int = 64, n: int = 64, weights: float | None = None) -> Op:
    w = float(k * n) if weights is None else weights
    return Op(name="x", op_class=OpClass.FFN, kind=OpKind.MATMUL, layers=1, m=rows, k=k, n=n, weight_params=w,
              weight_bits=4.0, flops=2.0 * rows * k * n, act_bytes=0.0)


def test_dequant_passes_count_token_tiles() -> None:
    assert dequant_passes(_matmul(512), 32) == 16
    assert dequant_passes(_matmul(513), 32) == 17
    assert dequant_passes(_matmul(1), 32) == 1  # a decode GEMV: one pass
    assert dequant_passes(_matmul(512), None) == 1  # no tile: once per GEMM
    # an expert op: 64 token rows x top-2 over 8 distinct experts = 16 rows per expert, one tile
    assert dequant_passes(_matmul(64 * 2, weights=8 * 64 * 64.0), 32) == 1


def test_metal_q4_0_prefill_pays_the_dequantisation_per_32_token_tile() -> None:
    """By hand, Llama 2 7B at 512 prompt tokens on M1 Max (llama.cpp, one 512-token pass): prefill is
    compute-bound, so q4_0 takes longer than f16 by its dequantisation alone. The linear weights
    (32 layers x (4 x 4096^2 + 3 x 4096 x 11008) = 6.476e9) are converted once per 32-token tile,
    16 times, at 12 ops each (AND, quarter-rate CONVERT, FMA) on the 10.4 TFLOP/s ALUs:
    6.476e9 x 16 x 12 / 10.4e12 = 119.6 ms; the LM head's one row is memory-bound (its
    conversion hides under its weight stream), and f16 converts nothing.
    Measured (calibration-decode-2.csv): 512/530.06 - 512/599.53 = 112 ms."""
    scen = Scenario(prompt_tokens=512, gen_tokens=8)
    q4, choice = _plan("apple-m1-max", "llama-2-7b", "llama.cpp", "q4_0", scen)
    f16, _ = _plan("apple-m1-max", "llama-2-7b", "llama.cpp", "f16", scen)
    assert choice.dequant_ops_per_weight == 12.0 and choice.costs.dequant_token_tile == 32
    linear = 32 * (4 * 4096**2 + 3 * 4096 * 11008)
    want = linear * 16 * 12 / 10.4e12
    assert want == pytest.approx(0.1196, rel=1e-3)
    # the rest of the difference is f16's larger weight reads in the memory-bound ops (head, norms)
    assert run(q4).ttft_s - run(f16).ttft_s == pytest.approx(want, rel=0.01)


def test_metal_decode_dequantisation_hides_under_the_weight_stream() -> None:
    """A decode step has one token row: one pass of 12 ops per weight, under the weight stream
    (M1 Max, Llama 2 7B: 6.5e9 x 12 / 10.4e12 = 7.5 ms against 3.8 GB at 400 GB/s), so decode does
    not move when the count changes, while prefill moves by (12 - 2) ops x 16 tiles per weight."""
    scen = Scenario(prompt_tokens=512, gen_tokens=8)
    base, _ = _plan("apple-m1-max", "llama-2-7b", "llama.cpp", "q4_0", scen)
    edited = stack_with_edits("llama.cpp", {"costs.apple-gpu.formats.q4_0.dequant_ops_per_weight": 2.0})
    low, choice = make_stack_plan(load_hardware("apple-m1-max").spec, load_model("llama-2-7b"), scen, edited,
                                  "q4_0", format_library())
    assert choice.dequant_ops_per_weight == 2.0
    a, b = run(base), run(low)
    assert a.decode_time_s == pytest.approx(b.decode_time_s, rel=1e-9)
    linear = 32 * (4 * 4096**2 + 3 * 4096 * 11008)
    # the LM head's one row is memory-bound: its dequantisation hides under its weight stream
    assert a.ttft_s - b.ttft_s == pytest.approx(linear * 16 * 10 / 10.4e12, rel=1e-6)


def test_cpu_llama_cpp_states_no_token_tile() -> None:
    _, choice = _plan("raspberry-pi-5", "llama-3.2-1b", "llama.cpp", "q4_0", Scenario(prompt_tokens=64, gen_tokens=8))
    assert choice.costs.dequant_token_tile is None
    assert choice.dequant_ops_per_weight == 2.0  # the stack-wide (CPU int8 dot-product) figure


def test_fixed_shape_prefill_pass_scores_the_whole_window() -> None:
    """By hand, Llama 3.2 1B (16 layers, 32 heads x 64, 8 KV heads x 64) in a 128-token pass of a
    4096-token compiled window, 8-bit KV: attention FLOPs = 128 x 4096 x 4 x 2048 per layer, K/V
    read = 4096 x 2 x 512 bytes per layer, whatever the pass's offset; the head over all 128
    rows: 2 x 128 x 2048 x 128256 FLOPs."""
    model = load_model("llama-3.2-1b")
    prec = Precision(weight_bits=4, activation_bits=16, kv_bits=8)
    wl = build_step(model, prec, phase=Phase.PREFILL, batch=1, prompt_tokens=1000, tokens_per_seq=128,
                    static_kv_tokens=4096, all_position_logits=True)
    ops = {op.name: op for op in wl.ops}
    attn = ops["attention"]
    assert attn.flops == pytest.approx(128 * 4096 * 4 * 2048)
    assert attn.flops_per_ctx == 0 and attn.kv_read_bytes_per_ctx == 0
    assert attn.kv_read_bytes == pytest.approx(4096 * 2 * 512)
    assert ops["lm_head"].flops == pytest.approx(2 * 128 * 2048 * 128256)
    last = build_step(model, prec, phase=Phase.PREFILL, batch=1, prompt_tokens=1000, tokens_per_seq=128)
    assert {op.name: op for op in last.ops}["lm_head"].flops == pytest.approx(2 * 2048 * 128256)


def test_genie_prefill_passes_cost_the_same_at_every_offset() -> None:
    """Genie (AR-128, 4096 window, logits at every position): a 512-token prompt is 4 passes of 128,
    each with the head, each scoring the whole window, so every pass costs the same and TTFT is
    4 x a one-pass prompt's."""
    plan, _ = _plan("snapdragon-8-elite", "llama-3.2-1b", "genie", "genie-w4", Scenario(prompt_tokens=512, gen_tokens=8))
    offsets = np.concatenate([ctx for _, ctx in plan.prefill_passes])
    assert np.array_equal(offsets, [0.0, 128.0, 256.0, 384.0])
    per_pass = np.concatenate([step.op_times_s(ctx).sum(axis=0) for step, ctx in plan.prefill_passes])
    assert np.allclose(per_pass, per_pass[0], rtol=1e-12)
    assert all(any(op.name == "lm_head" for op in step.ops) for step, _ in plan.prefill_passes)
    one, _ = _plan("snapdragon-8-elite", "llama-3.2-1b", "genie", "genie-w4", Scenario(prompt_tokens=128, gen_tokens=8))
    assert run(plan).ttft_s == pytest.approx(4 * run(one).ttft_s, rel=1e-6)


def test_fixed_shape_prompt_is_padded_to_whole_passes() -> None:
    """Genie pads every slice of the prompt to the compiled 128 tokens (ai-hub-models
    generator.prepare_inputs): 1, 16 and 128 tokens cost one whole pass, 129 tokens two."""
    def ttft(prompt: int) -> float:
        plan, _ = _plan("snapdragon-8-elite", "llama-3.2-3b", "genie", "genie-w4a16",
                        Scenario(prompt_tokens=prompt, gen_tokens=8))
        return run(plan).ttft_s

    one = ttft(128)
    assert ttft(1) == pytest.approx(one, rel=1e-12)
    assert ttft(16) == pytest.approx(one, rel=1e-12)
    assert ttft(129) == pytest.approx(2 * one, rel=1e-9)


def test_expert_op_tile_count_is_the_mean_of_the_ceiling() -> None:
    """Rows of a touched expert are 1 + Poisson(mean - 1): at a mean of 32 rows, P(R > 32) =
    P(Poisson(31) >= 32) = 0.4524, so 1.4524 tiles (a Monte Carlo of the same law gives 1.4522);
    the count is smooth across the tile, where a dense op's jumps from 1 to 2."""
    def expert(rows: float) -> Op:
        w = 128 * 64 * 64.0
        return Op(name="experts_up", op_class=OpClass.EXPERTS, kind=OpKind.MATMUL, layers=1, m=1, k=64, n=64,
                  weight_params=w, weight_bits=4.0, flops=2.0 * rows * w, act_bytes=0.0)

    assert dequant_passes(expert(32), 32) == pytest.approx(1.4524, abs=1e-4)
    rng = np.random.default_rng(0)
    assert np.mean(np.ceil((1 + rng.poisson(31, 200_000)) / 32)) == pytest.approx(1.4524, abs=0.005)
    assert abs(dequant_passes(expert(32.1), 32) - dequant_passes(expert(31.9), 32)) < 0.02
    assert dequant_passes(expert(1), 32) == 1.0
    assert dequant_passes(_matmul(32), 32) == 1 and dequant_passes(_matmul(33), 32) == 2


def test_a_scenario_prefill_logits_wins_over_the_stack() -> None:
    """A scenario that asks for every position's logits gets them under llama.cpp, and one that
    asks for the last token's gets that under Genie (as a prefill chunk given wins)."""
    def head_rows(stack: str, fmt: str, hw: str, logits: str) -> float:
        scen = Scenario(prompt_tokens=128, gen_tokens=8, prefill_logits=logits)
        plan, _ = _plan(hw, "llama-3.2-1b", stack, fmt, scen)
        step = plan.prefill_passes[-1][0]
        return next(op for op in step.ops if op.name == "lm_head").flops.const / (2 * 2048 * 128256)

    assert head_rows("llama.cpp", "q4_0", "apple-m1-max", "all") == pytest.approx(128)
    assert head_rows("llama.cpp", "q4_0", "apple-m1-max", "last") == pytest.approx(1)
    assert head_rows("genie", "genie-w4", "snapdragon-8-elite", "last") == pytest.approx(1)
