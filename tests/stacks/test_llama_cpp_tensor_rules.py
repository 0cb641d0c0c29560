"""llama.cpp's tensor-type rules for MoE models and fused q/k/v (src/llama-quant.cpp
llama_tensor_get_type_impl, ggml-org/llama.cpp 007dbbf3; convert_hf_to_gguf.py), derived by hand
and checked against published GGUF file sizes (held out, never fitted).

- A tensor's category is found by substring, so "ffn_down" takes ffn_down_exps: in Q4_K_M and
  Q5_K_M the experts' down projections are Q6_K on use_more_bits() layers.
- The router (ffn_gate_inp) is never quantised; the converter writes it in F32.
- n_expert == 8 (Mixtral): attn_k and attn_v Q8_0; attn_output Q5_K in Q4_K_M.
- phi3 checkpoints keep q, k, v as one attn_qkv tensor, which the attn_v rules take whole.
"""

from __future__ import annotations

import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.stack import choose, group_bits, moe_bits_split, stack_scenario, use_more_bits
from slmsim.stacks.load import format_library, load_stack
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario, WeightGroup
from slmsim.workloads.weights import weight_bytes

Q4K, Q5K, Q6K, Q8_0 = 4.5, 5.5, 6.5625, 8.5  # 144, 176, 210 B per 256; 34 B per 32


def _stored(model_name: str, fmt: str) -> tuple[object, Precision]:
    """The model and the precision `--stack llama.cpp --weight-format FMT` runs it at."""
    model = load_model(model_name)
    choice = choose(load_hardware("apple-m3-ultra").spec, model, load_stack("llama.cpp").spec, fmt, format_library())
    return model, stack_scenario(Scenario(), choice, model).precision


def test_use_more_bits_picks_half_of_48_layers() -> None:
    # i < 6, i >= 42, and (i - 6) % 3 == 2 between: 6 + 6 + 12
    assert sum(use_more_bits(i, 48) for i in range(48)) == 24


def test_qwen3_moe_q4_k_m_experts_and_router() -> None:
    model, lib = load_model("qwen3-30b-a3b"), format_library()
    rest, experts = moe_bits_split("q4_k_m", model, lib)
    assert experts == pytest.approx(2 / 3 * Q4K + 1 / 3 * (0.5 * Q6K + 0.5 * Q4K), rel=1e-12)  # 4.84375
    groups = group_bits("q4_k_m", model, lib)
    assert groups[WeightGroup.ROUTER] == 32.0
    assert groups[WeightGroup.EXPERTS] == pytest.approx(experts, rel=1e-12)


def test_dense_first_layers_are_not_counted_for_the_experts() -> None:
    """deepseek-v2-lite: 27 layers, layer 0 dense; use_more_bits(i, 27) over the MoE layers 1-26
    picks 1, 2 (i < 3), 23-26 (i >= 23) and 5, 8, ..., 20 (six): 12 of 26."""
    model = load_model("deepseek-v2-lite")
    assert model.moe.first_dense_layers == 1 and model.num_layers == 27
    _, experts = moe_bits_split("q4_k_m", model, format_library())
    share = 12 / 26
    assert experts == pytest.approx(2 / 3 * Q4K + 1 / 3 * (share * Q6K + (1 - share) * Q4K), rel=1e-12)


def test_eight_expert_rules() -> None:
    model, lib = load_model("mixtral-8x7b"), format_library()
    assert model.moe.num_experts == 8
    q = group_bits("q4_k_m", model, lib)
    # q 4096 wide at Q4_K, k and v 1024 wide each at Q8_0 on every layer (the n_expert == 8 rule
    # comes after, and wins over, attn_v's use_more_bits Q6_K)
    assert q[WeightGroup.QKV] == pytest.approx((4096 * Q4K + 2048 * Q8_0) / 6144, rel=1e-12)
    assert q[WeightGroup.O_PROJ] == Q5K
    # Q5_K_M: attn_output keeps Q5_K (Q5_K_M is not in that rule's list), attn_k / attn_v Q8_0
    q5 = group_bits("q5_k_m", model, lib)
    assert q5[WeightGroup.O_PROJ] == Q5K and q5[WeightGroup.QKV] == pytest.approx((4096 * Q5K + 2048 * Q8_0) / 6144)


def test_the_eight_expert_rules_leave_other_models_alone() -> None:
    lib = format_library()
    for name in ("qwen3-30b-a3b", "llama-3.2-3b"):
        model = load_model(name)
        assert group_bits("q4_k_m", model, lib)[WeightGroup.O_PROJ] == Q4K, name
    # llama-3.2-3b (dense, 28 layers, 14 picked): q 3072 and k 1024 at Q4_K, v 1024 half at Q6_K
    assert group_bits("q4_k_m", load_model("llama-3.2-3b"), lib)[WeightGroup.QKV] == pytest.approx(
        Q4K + 1024 / 5120 * 0.5 * (Q6K - Q4K), rel=1e-12)  # 4.70625


@pytest.mark.parametrize(("fmt", "published_gb", "rel"), [
    # bartowski/Qwen_Qwen3-30B-A3B-GGUF (llama.cpp b5200), file sizes as a copy of its model card
    # lists them (model.aibase.com/zh/models/details/1924737621108723712); held out, never fitted.
    # Files also hold the tokenizer and metadata (a few MB); the shared bf16 format keeps the
    # router at 16 bits where the converter wrote F32 (25 MB).
    ("bf16", 61.10, 0.002),
    ("q8_0", 32.48, 0.002),
    ("q5_k_m", 21.74, 0.002),
    ("q5_k_s", 21.10, 0.002),
])
def test_qwen3_moe_file_sizes(fmt: str, published_gb: float, rel: float) -> None:
    model, precision = _stored("qwen3-30b-a3b", fmt)
    assert weight_bytes(model, precision) / 1e9 == pytest.approx(published_gb, rel=rel)


def test_q5_k_m_minus_q5_k_s_is_the_experts_down_projections() -> None:
    """24 layers x 128 experts x 2,048 x 768 weights at Q6_K instead of Q5_K: 0.642 GB; the attn_v
    share adds 24 x 2,048 x 512 x 1.0625 / 8 B = 3.3 MB."""
    m, s = (weight_bytes(*_stored("qwen3-30b-a3b", f)) for f in ("q5_k_m", "q5_k_s"))
    assert m - s == pytest.approx((24 * 128 * 2048 * 768 + 24 * 2048 * 512) * (Q6K - Q5K) / 8, rel=1e-9)


PHI4_CONFIG = {  # microsoft/phi-4 config.json (model_type phi3: q, k, v fused as qkv_proj)
    "architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 5120, "intermediate_size": 17920,
    "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 10, "vocab_size": 100352,
    "max_position_embeddings": 16384, "tie_word_embeddings": False, "sliding_window": None,
}


@pytest.mark.parametrize(("fmt", "published_gb", "rel"), [
    # bartowski/phi-4-GGUF model card (llama.cpp b4456; a copy of the card); held out, never fitted
    ("f16", 29.32, 0.001),
    ("q8_0", 15.58, 0.001),
    ("q5_k_s", 10.15, 0.001),
    # the fused attn_qkv takes the attn_v rule whole: 9.054 GB; split q / k / v would give 8.885 (-1.8%)
    ("q4_k_m", 9.05, 0.001),
    # bartowski's imatrix Q4_0 keeps ffn_down of the first 5 layers in Q4_1 (has_imatrix && i_layer <
    # n_layer / 8): 5 x 5,120 x 17,920 x 0.5 / 8 B = 28.7 MB, not modelled: 8.378 GB here
    ("q4_0", 8.41, 0.005),
])
def test_phi4_file_sizes(tmp_path, fmt: str, published_gb: float, rel: float) -> None:
    import json

    path = tmp_path / "config.json"
    path.write_text(json.dumps(PHI4_CONFIG))
    model = load_model(str(path))
    choice = choose(load_hardware("apple-m3-ultra").spec, model, load_stack("llama.cpp").spec, fmt, format_library())
    assert weight_bytes(model, stack_scenario(Scenario(), choice, model).precision) / 1e9 == pytest.approx(
        published_gb, rel=rel)


def test_phi4_q5_k_m_was_made_with_the_older_attn_qkv_rule(tmp_path) -> None:
    """b4456 (January 2025) dispatched by name, so attn_qkv had its own branch: Q4_K_M -> Q5_K and
    Q5_K_M -> Q6_K on every layer (the current source sends it through the attn_v rule, Q6_K on the
    use_more_bits layers; the old branch is still there, unreachable). phi-4's qkv is 40 x 5,120 x
    7,680 = 1,572,864,000 weights: under the old rule Q5_K_M holds them at 6.5625 bits, not the
    current 6.03125, +104.4 MB, which is the card's 10.60 GB; Q4_K_M at 5.5 instead of 5.53125,
    -6.1 MB, still 9.05."""
    import json

    path = tmp_path / "config.json"
    path.write_text(json.dumps(PHI4_CONFIG))
    model = load_model(str(path))
    qkv = 40 * 5120 * (5120 + 2 * 1280)
    assert qkv == 1_572_864_000
    sizes = {}
    for fmt in ("q5_k_m", "q4_k_m"):
        choice = choose(load_hardware("apple-m3-ultra").spec, model, load_stack("llama.cpp").spec, fmt,
                        format_library())
        sizes[fmt] = weight_bytes(model, stack_scenario(Scenario(), choice, model).precision)
    old_q5 = sizes["q5_k_m"] + qkv * (Q6K - (0.5 * Q6K + 0.5 * Q5K)) / 8
    old_q4 = sizes["q4_k_m"] + qkv * (Q5K - (0.5 * Q6K + 0.5 * Q4K)) / 8
    assert old_q5 / 1e9 == pytest.approx(10.60, rel=0.001)  # the card
    assert old_q4 / 1e9 == pytest.approx(9.05, rel=0.001)


def test_fused_qkv_takes_the_attn_v_rule_whole() -> None:
    """phi-3.5-mini (32 layers, 16 picked): the whole qkv_proj at Q6_K on half the layers."""
    groups = group_bits("q4_k_m", load_model("phi-3.5-mini"), format_library())
    assert groups[WeightGroup.QKV] == pytest.approx(0.5 * Q6K + 0.5 * Q4K, rel=1e-12)  # 5.53125


def test_the_header_names_the_groups_stored_otherwise(capsys: pytest.CaptureFixture[str]) -> None:
    from slmsim.cli import main

    base = ["simulate", "--hw", "apple-m3-ultra", "--stack", "llama.cpp", "--weight-format", "q4_k_m",
            "--prompt", "16", "--gen", "4"]
    assert main([*base, "--model", "qwen3-30b-a3b"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert "W4 (4.5 bits/weight; qkv_proj 4.6, router 32, lm_head 6.56, experts 4.84)" in header
    assert main([*base, "--model", "llama-3.2-3b"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert "ffn_down 5.53" in header and "experts" not in header and "router" not in header
