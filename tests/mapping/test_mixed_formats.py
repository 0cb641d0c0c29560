"""A mixed weight format stores each weight group at its own bits, through the op graph and the footprint.

By hand, Llama 3.1 8B (32 layers, hidden 4096, q 4096, k = v = 1024, FFN 14336, vocab 128256,
untied) in w4a16-g128 (66.5 bytes per 128 weights = 4.15625 bits; the LM head and the embedding
stay f16, stacks/formats.yaml): 32 x (4096 x 6144 + 4096 x 4096 + 3 x 4096 x 14336) = 6,979,321,856
linear weights at 4.15625 bits = 3.626 GB, the head 128256 x 4096 x 2 B = 1.051 GB, the embedding
the same: 5.728 GB of weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slmsim.core.errors import Infeasible
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.mapping.processor import weight_side_vector_ops
from slmsim.mapping.stack import make_stack_plan, stack_hardware, stack_scenario
from slmsim.stacks.load import format_library, load_stack
from slmsim.workloads.decoding import SelfSpeculative
from slmsim.workloads.graph import Phase, build_step
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario, TensorBits, WeightGroup
from slmsim.workloads.weights import group_params, weight_bytes

SCEN = Scenario(prompt_tokens=16, gen_tokens=16, batch=1)
LINEAR = 32 * (4096 * 6144 + 4096 * 4096 + 3 * 4096 * 14336)
HEAD = 128256 * 4096
Q4 = 66.5 * 8 / 128

PRESETS = sorted(p.stem for p in (Path(__file__).parents[2] / "workloads" / "presets").glob("*.yaml"))


def _stack(hw: str, model: str, stack: str, fmt: str, scen: Scenario = SCEN):  # noqa: ANN202
    spec = load_hardware(hw).spec
    plan, choice = make_stack_plan(spec, load_model(model), scen, load_stack(stack).spec, fmt, format_library())
    return plan, choice, stack_scenario(scen, choice, load_model(model), spec)


@pytest.mark.parametrize("name", PRESETS)
def test_weight_groups_add_up_to_the_model(name: str) -> None:
    model = load_model(name)
    assert sum(group_params(model).values()) == model.total_params()


def test_llama_8b_w4a16_footprint_counts_the_f16_head_and_embedding() -> None:
    assert LINEAR == 6_979_321_856
    plan, choice, scen = _stack("jetson-agx-thor", "llama-3.1-8b", "vllm", "w4a16-g128")
    want = LINEAR * Q4 / 8 + 2 * HEAD * 2
    assert plan.memory_footprint_bytes["weights"] == pytest.approx(want, rel=1e-12)
    assert want == pytest.approx(5.728e9, rel=1e-3)
    # one average over the tensors a step reads (4.985 bits) on every weight would give 5.004 GB
    assert choice.bits_per_weight * load_model("llama-3.1-8b").total_params() / 8 == pytest.approx(5.004e9, rel=1e-3)
    assert scen.precision.bits_per_weight == Q4
    assert scen.precision.tensor_bits.lm_head == 16 and scen.precision.tensor_bits.embedding == 16


def test_llama_8b_w4a16_decode_reads_the_head_at_16_bits() -> None:
    plan, _, _ = _stack("jetson-agx-thor", "llama-3.1-8b", "vllm", "w4a16-g128")
    ops = {op.name: op for op in plan.decode.ops}
    assert sum(a.const for _, a in ops["lm_head"].tier_bytes) == pytest.approx(HEAD * 2, rel=1e-12)  # 1,050.7 MB
    # one layer's q, k, v projection at the 4-bit layout
    assert sum(a.const for _, a in ops["qkv_proj"].tier_bytes) == pytest.approx(4096 * 6144 * Q4 / 8, rel=1e-12)
    # the embedding row a decode step looks up is f16 too
    assert sum(a.const for _, a in ops["embedding"].tier_bytes) == pytest.approx(4096 * 2, rel=1e-12)


def test_the_step_bytes_are_the_old_average_but_the_split_is_not() -> None:
    """Limit case: every weight but the embedding is read each decode step, so the bytes of one
    step equal the average over those tensors times their count (what slmsim did before the
    split); only the one embedding row differs (f16 against the average)."""
    plan, choice, scen = _stack("jetson-agx-thor", "llama-3.1-8b", "vllm", "w4a16-g128")
    flat = scen.model_copy(update={"precision": scen.precision.model_copy(
        update={"bits_per_weight": choice.bits_per_weight, "tensor_bits": TensorBits()})})
    old = make_plan(_thor_stack_hw(choice), load_model("llama-3.1-8b"), flat)
    new_b = plan.decode.tier_bytes_total(0.0, 1)["dram"]
    old_b = old.decode.tier_bytes_total(0.0, 1)["dram"]
    assert new_b - old_b == pytest.approx(4096 * (2 - choice.bits_per_weight / 8), rel=1e-6)
    head = lambda p: sum(a.const for op in p.decode.ops if op.name == "lm_head" for _, a in op.tier_bytes)  # noqa: E731
    assert head(plan) / head(old) == pytest.approx(16 / choice.bits_per_weight, rel=1e-9)


def _thor_stack_hw(choice):  # noqa: ANN001, ANN202
    return stack_hardware(load_hardware("jetson-agx-thor").spec, choice)


def test_a_16_bit_group_is_not_dequantised() -> None:
    _, choice, scen = _stack("jetson-agx-thor", "llama-3.1-8b", "vllm", "w4a16-g128")
    dev = _thor_stack_hw(choice).devices[choice.device]
    assert dev.dequant_ops_per_weight > 0
    ops = {op.name: op for op in build_step(load_model("llama-3.1-8b"), scen.precision, phase=Phase.DECODE,
                                            batch=1, prompt_tokens=16).ops}
    assert weight_side_vector_ops(ops["lm_head"], dev, scen.precision) == 0.0
    qkv = ops["qkv_proj"]
    assert weight_side_vector_ops(qkv, dev, scen.precision) == qkv.weight_params * dev.dequant_ops_per_weight


def test_a_tied_embedding_is_the_lm_head() -> None:
    """Llama 3.2 1B ties its embedding: llama.cpp stores that one tensor as the output, Q6_K
    (210 bytes per 256 weights) under Q4_K_M, and counts it once."""
    model = load_model("llama-3.2-1b")
    _, _, scen = _stack("raspberry-pi-5", "llama-3.2-1b", "llama.cpp", "q4_k_m")
    assert scen.precision.tensor_bits.lm_head == 210 * 8 / 256
    ops = {op.name: op for op in build_step(model, scen.precision, phase=Phase.DECODE, batch=1, prompt_tokens=8).ops}
    assert ops["embedding"].weight_bits == ops["lm_head"].weight_bits == 210 * 8 / 256
    assert group_params(model)[WeightGroup.EMBEDDING] == 0


def test_nvfp4_keeps_the_head_in_bf16() -> None:
    """ModelOpt's NVFP4 configs leave lm_head and MoE routers unquantised; 16 FP4 values and one
    FP8 scale per block: 9 bytes per 16 weights = 4.5 bits."""
    _, _, scen = _stack("jetson-agx-thor", "llama-3.1-8b", "tensorrt-edge-llm", "nvfp4")
    assert scen.precision.bits_per_weight == 4.5
    assert scen.precision.tensor_bits.lm_head == 16 and scen.precision.tensor_bits.embedding == 16
    want = LINEAR * 4.5 / 8 + 2 * HEAD * 2
    assert weight_bytes(load_model("llama-3.1-8b"), scen.precision) == pytest.approx(want, rel=1e-12)


def test_a_draft_reads_the_top_bits_of_each_integer_group_and_floats_whole() -> None:
    p = Precision(weight_bits=4, bits_per_weight=4.5, expert_bits_per_weight=4.25,
                  tensor_bits=TensorBits(lm_head=16, ffn_down=5.53125))
    d = p.draft_slice(2)
    assert (d.weight_bits, d.bits_per_weight, d.expert_bits_per_weight) == (2, 2.5, 2.25)
    assert d.tensor_bits.lm_head == 16 and d.tensor_bits.ffn_down == 3.53125 and d.tensor_bits.o_proj is None
    assert p.draft_slice(2, experts=False).expert_bits_per_weight == 4.25
    # no stack: the group/scale arithmetic (2 bits + a 16-bit scale per 32 weights) as before
    assert Precision(weight_bits=4).draft_slice(2).weight_bits_in_memory == 2.5


def test_a_self_speculative_draft_on_a_stack_reads_fewer_bytes() -> None:
    """q4f16_1 (4 bits + an fp16 scale per 32 = 4.5 bits) on Qwen2.5 0.5B (tied): a 2-bit draft
    reads 2.5 bits per weight, scales whole; before, a stack's bits_per_weight made the draft read all 4.5."""
    scen = SCEN.model_copy(update={"decoding": SelfSpeculative(draft_weight_bits=2)})
    plan, _, _ = _stack("orin-nano", "qwen2.5-0.5b", "mlc", "q4f16_1", scen)
    full = plan.mapper.decode(1).tier_bytes_total(0.0, 1)["dram"]
    draft = plan.mapper.self_draft(1).tier_bytes_total(0.0, 1)["dram"]
    kv_and_rows = 2 * 24 * 128 * 2 + 896 * 4.5 / 8  # one token's K/V written, one embedding row
    assert (draft - kv_and_rows) / (full - kv_and_rows) == pytest.approx(2.5 / 4.5, rel=1e-3)


def test_cim_refuses_per_group_bits() -> None:
    scen = SCEN.model_copy(update={"precision": Precision(weight_bits=4, weight_group_size=None,
                                                          tensor_bits=TensorBits(lm_head=16))})
    result = make_plan(load_hardware("edgecim").spec, load_model("llama-3.2-1b"), scen)
    assert isinstance(result, Infeasible)
    assert "one weight precision" in result.reason and "tensor_bits.lm_head" in result.reason
    assert (result.demanded, result.bound) == (16, 4)
