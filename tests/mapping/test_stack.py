"""A software stack's kernel costs reach the plan through mapping.stack, with the device's clocks."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.mapping.stack import kernel_time_s, make_stack_plan
from slmsim.simulator.engines import run
from slmsim.stacks.load import format_library, load_stack, stack_with_edits
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

SCEN = Scenario(prompt_tokens=16, gen_tokens=64, batch=1)


def _plan(hw: str, model: str, stack: str, fmt: str, scen: Scenario = SCEN, stack_spec=None):  # noqa: ANN001, ANN202
    st = stack_spec or load_stack(stack).spec
    plan, choice = make_stack_plan(load_hardware(hw).spec, load_model(model), scen, st, fmt, format_library())
    return plan, choice


def test_mlc_on_orin_nano_equals_the_fitted_per_op_overhead() -> None:
    """Limit case: MLC's per-kernel cost on orin-nano is the fitted per-op overhead the device preset
    carries (slmsim.refit writes both), so the stack path and the stack-free path (same bits per
    weight, same dequantisation) give the same decode time."""
    plan, choice = _plan("orin-nano", "llama-3.2-3b", "mlc", "q4f16_ft")
    dev = load_hardware("orin-nano").spec.devices["gpu"]
    assert kernel_time_s(choice, dev) == pytest.approx(dev.kernel_overhead_s, rel=1e-3)
    old = make_plan(load_hardware("orin-nano").spec, load_model("llama-3.2-3b"),
                    SCEN.model_copy(update={"precision": Precision(weight_bits=4, weight_group_size=None,
                                                                   bits_per_weight=choice.bits_per_weight)}))
    assert run(plan).decode_time_s == pytest.approx(run(old).decode_time_s, rel=1e-3)


def test_kernel_time_scales_with_host_and_gpu_clocks() -> None:
    # by hand: host cycles / 1.7 GHz (Super CPU) + GPU cycles / 1.02 GHz (Super GPU)
    _, choice = _plan("orin-nano-super", "llama-3.2-1b", "mlc", "q4f16_ft")
    h, g = choice.costs.host_launch_cycles, choice.costs.device_kernel_cycles
    dev = load_hardware("orin-nano-super").spec.devices["gpu"]
    assert kernel_time_s(choice, dev) == pytest.approx(h / 1.7e9 + g / 1.02e9, rel=1e-9)
    # AGX Orin: CPU 2.2 GHz, GPU 1.3 GHz
    dev = load_hardware("agx-orin-64gb").spec.devices["gpu"]
    assert kernel_time_s(choice, dev) == pytest.approx(h / 2.2e9 + g / 1.3e9, rel=1e-9)


def test_graph_replay_pays_the_host_launch_once_per_step() -> None:
    # vllm: CUDA graphs, so per kernel only the device cycles; per step host launch + step work
    plan, choice = _plan("agx-orin-64gb", "llama-3.2-1b", "vllm", "w4a16-g128")
    c = choice.costs
    dev = load_hardware("agx-orin-64gb").spec.devices["gpu"]
    assert kernel_time_s(choice, dev) == pytest.approx(c.device_kernel_cycles / 1.3e9)
    runtime = [op for op in plan.decode.ops if op.op_class == "runtime"]
    assert len(runtime) == 1
    assert runtime[0].overhead_s == pytest.approx((c.step_host_cycles + c.host_launch_cycles) / 2.2e9)


def test_kernels_per_layer_sum_to_the_stack_count() -> None:
    # llama.cpp: 12 attention + 7 FFN kernels per layer, 4 per step for the head
    plan, choice = _plan("raspberry-pi-5", "llama-3.2-1b", "llama.cpp", "q4_k_m")
    t = kernel_time_s(choice, load_hardware("raspberry-pi-5").spec.devices["cpu"])
    per_step = sum(op.layers * op.overhead_s for op in plan.decode.ops if op.op_class != "runtime")
    assert per_step == pytest.approx((16 * (12 + 7) + 4) * t, rel=1e-9)


def test_dense_gemv_efficiency_is_a_floor_on_memory_bound_time() -> None:
    """Halving the dense-GEMV efficiency doubles the time of the weight-streaming ops (memory-bound)."""
    full, _ = _plan("orin-nano", "llama-3.1-8b", "mlc", "q4f16_ft")
    half_st = stack_with_edits("mlc", {"costs.jetson-orin.dense_gemv_efficiency": 0.5})
    half, _ = _plan("orin-nano", "llama-3.1-8b", "mlc", "q4f16_ft", stack_spec=half_st)
    ctx = np.array([20.0])

    def ffn_busy(plan) -> float:  # noqa: ANN001
        i = [j for j, op in enumerate(plan.decode.ops) if op.name == "ffn_up"][0]
        op = plan.decode.ops[i]
        return plan.decode.op_times_s(ctx)[i, 0] / op.layers - op.overhead_s

    assert ffn_busy(half) == pytest.approx(2 * ffn_busy(full), rel=1e-6)
    # energy is not touched: the same bytes move
    assert run(half).decode_energy_j > 0
    assert sum(b.const for op in half.decode.ops for _, b in op.tier_bytes) == pytest.approx(
        sum(b.const for op in full.decode.ops for _, b in op.tier_bytes))


def test_stack_format_sets_bytes_per_weight() -> None:
    plan, choice = _plan("raspberry-pi-5", "llama-3.2-3b", "llama.cpp", "q4_k_m")
    m = load_model("llama-3.2-3b")
    assert plan.memory_footprint_bytes["weights"] == pytest.approx(m.total_params() * choice.bits_per_weight / 8)
    # the Q4_K_M file of Llama 3.2 3B is about 2.0 GB (calibration-decode-2.csv note on the ryzen row)
    assert plan.memory_footprint_bytes["weights"] == pytest.approx(2.0e9, rel=0.03)


def test_genie_static_window_reads_the_whole_window() -> None:
    # KV read per decode step = layers x 2 x kv_dim x 1 byte (8-bit KV of the w4a16 asset) x 4096 (the
    # compiled window), independent of context
    plan, _ = _plan("snapdragon-8-elite", "llama-3.2-1b", "genie", "genie-w4a16")
    attn = next(op for op in plan.decode.ops if op.op_class == "attention")
    kv = sum(b.const for _, b in attn.tier_bytes)
    assert kv == pytest.approx(2 * 512 * 1 * 4096 + 2 * 512 * 1, rel=1e-9)  # reads + one token written


def test_engines_agree_on_a_stack_plan() -> None:
    plan, _ = _plan("agx-orin-64gb", "qwen3-8b", "vllm", "w4a16-g128")
    a, d = run(plan, engine="analytic"), run(plan, engine="des")
    assert d.decode_time_s == pytest.approx(a.decode_time_s, rel=0.01)
    assert d.energy_j == pytest.approx(a.energy_j, rel=0.01)


def test_moe_lm_head_keeps_its_16_bits_and_experts_their_own_bits() -> None:
    """By hand, Qwen3-30B-A3B in w4a16-g128 (66.5 bytes per 128 weights, LM head in f16 by the
    format's mixture): a decode step reads every non-expert weight (attention, router, the untied
    LM head at 2 bytes per weight) and each layer's top_k experts at 66.5 / 128 bytes per weight.
    Averaging the 16-bit head over all 30B weights (most of them experts the step never reads)
    would put only ~0.53 bytes per head weight into the step: 0.45 GB less per token."""
    model = load_model("qwen3-30b-a3b")
    plan, choice = _plan("jetson-agx-thor", "qwen3-30b-a3b", "vllm", "w4a16-g128")
    q4 = 66.5 / 128
    assert choice.expert_bits_per_weight == pytest.approx(8 * q4)
    step = plan.decode[0] if isinstance(plan.decode, (list, tuple)) else plan.decode
    ops = {op.name: op for op in step.ops}
    h, n, m = model.hidden_size, model.num_layers, model.moe
    attention = n * (2 * h * model.q_dim + 2 * h * model.kv_dim)  # q, o and k, v projections
    router = n * h * m.num_experts  # f16: vLLM builds the MoE gate unquantised (stacks/formats.yaml)
    want = attention * q4 + router * 2.0 + model.lm_head_params() * 2.0
    weights = {"qkv_proj", "o_proj", "router", "lm_head"}
    got = sum(a.const * (op.layers if op.name != "lm_head" else 1) for op in step.ops
              if op.op_class in weights or op.name in weights for _, a in op.tier_bytes)
    assert got == pytest.approx(want, rel=1e-9)
    # gate + up of the top_k selected experts of one layer: top_k x 2 x hidden x expert width
    up = sum(a.const for _, a in ops["experts_up"].tier_bytes)
    assert up == pytest.approx(m.top_k * 2 * h * m.expert_intermediate_size * q4, rel=0.02)


def test_moe_gemm_efficiency_divides_the_memory_bound_expert_time() -> None:
    """Limit case: a batch-1 expert GEMV is memory-bound, so its busy time is its bytes over the
    streaming bandwidth times moe_gemm_efficiency (at 0.5, twice the streaming time), and the
    dense ops do not move."""
    full = stack_with_edits("vllm", {"costs.default.moe_gemm_efficiency": 1.0})
    half = stack_with_edits("vllm", {"costs.default.moe_gemm_efficiency": 0.5})

    def ops(st):  # noqa: ANN001, ANN202
        plan, _ = _plan("jetson-agx-thor", "qwen3-30b-a3b", "vllm", "w4a16-g128", stack_spec=st)
        step = plan.decode[0] if isinstance(plan.decode, (list, tuple)) else plan.decode
        return {op.name: op for op in step.ops}, step

    a, step = ops(full)
    b, _ = ops(half)
    up = a["experts_up"]
    bw = step.tier_bandwidth_bytes_per_s["dram"]
    stream = up.tier_bytes[0][1].const / bw  # the op's weight bytes at the streaming bandwidth
    assert up.compute_s.const < stream  # memory-bound: at efficiency 1 the busy time is the memory time
    assert b["experts_up"].compute_s.const == pytest.approx(stream / 0.5, rel=1e-6)  # at 0.5: twice it
    assert b["qkv_proj"].compute_s.const == pytest.approx(a["qkv_proj"].compute_s.const, rel=1e-9)
    assert load_stack("vllm").spec.costs["default"].moe_gemm_efficiency == pytest.approx(0.56)  # the cited figure


def test_genie_decode_attention_is_a_compute_floor_on_the_vector_unit() -> None:
    """Decode attention over the compiled window costs its FLOPs / (HVX peak x the fitted
    decode_attention_efficiency) and its KV stream, the shorter hidden under the longer by the fitted
    decode_attention_overlap. By hand per layer: 2 matmuls (QK^T, AV) x 2 FLOPs x query heads x head_dim
    x window; Mistral 7B v0.3 (32 heads x 128, window 4096) and Llama 2 7B (32 x 128, window 1024) read
    the same KV bytes per step (8 vs 32 KV heads, 8-bit KV in the w4a16 assets), but Mistral's attention
    does 4x the FLOPs. Prefill is not floored."""
    st = load_stack("genie").spec
    costs = st.costs["hexagon-npu"]
    eff, overlap = costs.decode_attention_efficiency, costs.decode_attention_overlap
    assert eff is not None and 0.01 <= eff <= 1.0 and 0.0 <= overlap <= 1.0
    vector = load_hardware("snapdragon-8-elite").spec.devices["npu"].vector_throughput_ops_per_s
    times = {}
    for model, window in (("mistral-7b-v0.3", 4096), ("llama-2-7b", 1024)):
        plan, _ = _plan("snapdragon-8-elite", model, "genie", "genie-w4a16", Scenario(prompt_tokens=128, gen_tokens=128))
        attn = next(op for op in plan.decode.ops if op.op_class == "attention")
        flops = 2 * 2 * 32 * 128 * window
        assert attn.flops.per_ctx == 0.0  # the compiled window, not the context so far
        assert attn.flops.const == pytest.approx(flops, rel=0.02)
        kv_bytes = sum(b.const for _, b in attn.tier_bytes)
        # K and V, kv_dim (8 x 128 or 32 x 128), 1 byte each, over the window: the same for both
        assert kv_bytes == pytest.approx(2 * 1024 * 1 * 4096 if model.startswith("mistral") else 2 * 4096 * 1 * 1024,
                                         rel=0.01)
        vec = attn.flops.const / (vector * eff)
        mem = kv_bytes / plan.decode.tier_bandwidth_bytes_per_s["dram"]
        assert attn.compute_s.const == pytest.approx(max(vec, mem) + (1 - overlap) * min(vec, mem), rel=1e-6)
        times[model] = (vec, mem)
        pre = next(op for op in plan.prefill.ops if op.op_class == "attention")
        assert pre.compute_s.const < pre.flops.const / (vector * eff)  # prefill runs on the matrix unit
    assert times["mistral-7b-v0.3"][0] == pytest.approx(4 * times["llama-2-7b"][0], rel=0.03)
    assert times["mistral-7b-v0.3"][1] == pytest.approx(times["llama-2-7b"][1], rel=0.01)
    no_floor = stack_with_edits("genie", {"costs.hexagon-npu.decode_attention_efficiency": None})
    plan, _ = _plan("snapdragon-8-elite", "mistral-7b-v0.3", "genie", "genie-w4a16",
                    Scenario(prompt_tokens=128, gen_tokens=128), stack_spec=no_floor)
    attn = next(op for op in plan.decode.ops if op.op_class == "attention")
    assert attn.compute_s.const < times["mistral-7b-v0.3"][0] / 10  # without the floor: the matrix peak


@pytest.mark.parametrize("overlap", [0.0, 0.5, 1.0])
def test_decode_attention_overlap_between_max_and_sum(overlap: float) -> None:
    """Limit cases: overlap 1 is max(compute, KV), overlap 0 is compute + KV, 0.5 half way."""
    st = stack_with_edits("genie", {"costs.hexagon-npu.decode_attention_overlap": overlap,
                                    "costs.hexagon-npu.decode_attention_efficiency": 0.1})
    plan, _ = _plan("snapdragon-8-elite", "llama-3.2-3b", "genie", "genie-w4a16",
                    Scenario(prompt_tokens=128, gen_tokens=128), stack_spec=st)
    attn = next(op for op in plan.decode.ops if op.op_class == "attention")
    vector = load_hardware("snapdragon-8-elite").spec.devices["npu"].vector_throughput_ops_per_s
    vec = 2 * 2 * 24 * 128 * 4096 / (vector * 0.1)  # Llama 3.2 3B: 24 query heads x 128, window 4096
    mem = 2 * 8 * 128 * 4096 * 1 / plan.decode.tier_bandwidth_bytes_per_s["dram"]  # 8 KV heads, 8-bit KV
    expected = {0.0: vec + mem, 0.5: max(vec, mem) + 0.5 * min(vec, mem), 1.0: max(vec, mem)}[overlap]
    assert attn.compute_s.const == pytest.approx(expected, rel=0.02)


def test_genie_w4a16_assets_store_8_bit_kv_and_an_8_bit_lm_head() -> None:
    """quic/ai-hub-models: the w4a16 export sets past_key / past_value to 8 bits (Mistral's compiled
    asset takes uint8 past_key inputs) and the LM head weights to 8 bits per channel; w4 keeps fp16 KV.
    By hand for Llama 3.2 1B (16 layers, hidden 2048, 8 KV heads x 64, FFN 8192, vocab 128256, tied):
    layers 16 x (2 x 2048^2 + 2 x 2048 x 512 + 3 x 2048 x 8192) = 973.1 M weights at 4 bits, the head
    128256 x 2048 = 262.7 M at 8: (973.1 x 4 + 262.7 x 8) / 1235.8 = 4.850 bits per weight.
    KV over the 4096 window: 16 x 2 x 512 x 4096 x 1 B = 67.1 MB (w4a16), twice that in fp16 (w4)."""
    layers = 16 * (2 * 2048**2 + 2 * 2048 * 512 + 3 * 2048 * 8192)
    head = 128256 * 2048
    for fmt, kv_bytes in (("genie-w4a16", 1), ("genie-w4", 2)):
        plan, choice = _plan("snapdragon-8-elite", "llama-3.2-1b", "genie", fmt, Scenario(prompt_tokens=128, gen_tokens=128))
        assert choice.bits_per_weight == pytest.approx((layers * 4 + head * 8) / (layers + head), rel=1e-3)
        assert choice.kv_cache_bits == 8 * kv_bytes
        result = run(plan)
        assert result.memory_footprint_bytes["kv_cache"] == pytest.approx(16 * 2 * 512 * 4096 * kv_bytes, rel=1e-6)


@pytest.mark.parametrize("hw", ["apple-m1", "apple-m4", "apple-m2-max"])
def test_cuda_only_stacks_are_refused_on_apple_gpus_and_the_others_run(hw: str) -> None:
    """TensorRT-LLM, TensorRT Edge-LLM, vLLM and torchao (as modelled) are CUDA stacks: on an
    Apple GPU they are refused with the reason, not run on their `default` costs (audit of
    2026-12-04: tensorrt-llm on apple-m1 printed a TPOT)."""
    from slmsim.core.errors import SpecError

    for name, fmt in (("tensorrt-llm", "w4a16-g128"), ("tensorrt-edge-llm", "nvfp4"), ("vllm", "w4a16-g128"),
                      ("torchao", "bf16")):
        with pytest.raises(SpecError) as err:
            _plan(hw, "qwen2.5-0.5b", name, fmt)
        text = str(err.value.problems[0].message)
        assert "does not run on device class 'apple-gpu'" in text and load_stack(name).spec.not_on_device_classes[
            "apple-gpu"] in text
    for name, fmt in (("mlc", "q4f16_1"), ("llama.cpp", "q4_0")):
        plan, _ = _plan(hw, "qwen2.5-0.5b", name, fmt)
        assert run(plan).decode_tokens_per_s > 0
