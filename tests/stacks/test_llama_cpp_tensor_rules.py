"""llama.cpp's tensor-type rules for MoE models and fused q/k/v (src/llama-quant.cpp
llama_tensor_get_type_impl, ggml-org/llama.cpp 007dbbf3; convert_hf_to_gguf.py), derived by hand
and checked against published GGUF file sizes (held out, never fitted).

- A tensor's category is found by substring, so "ffn_down" takes ffn_down_exps: in Q4_K_M and
  Q5_K_M the experts' down projections are Q6_K on use_more_bits() layers.
- The router (ffn_gate_inp) is never quantised; the converter writes it in F32.
- n_expert == 8 (Mixtral): attn_k and attn_v Q8_0; attn_output Q5_K in Q4_K_M.
- phi3 checkpoints keep q, k, v as one attn_qkv tensor, which the attn_v rules take whole.
- A tensor whose rows (ne[0]) are not whole blocks of its type falls back: Q4_K -> Q5_0,
  Q5_K -> Q5_1, Q6_K -> Q8_0, Q3_K -> IQ4_NL, then F16 (llama_tensor_get_type).
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
Q5_0, Q5_1 = 5.5, 6.0  # 22, 24 B per 32 (llama.cpp's row fallbacks for Q4_K, Q5_K)


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
    picks 1, 2 (i < 3), 23-26 (i >= 23) and 5, 8, ..., 20 (six): 12 of 26. Its experts are 1,408
    wide (5.5 super-blocks of 256), so their down projections' rows fall back: Q6_K -> Q8_0 on
    those 12 layers, Q4_K -> Q5_0 on the rest; gate and up (rows of 2,048) stay Q4_K."""
    model = load_model("deepseek-v2-lite")
    assert model.moe.first_dense_layers == 1 and model.num_layers == 27
    assert model.moe.expert_intermediate_size == 1408 and model.hidden_size == 2048
    _, experts = moe_bits_split("q4_k_m", model, format_library())
    share = 12 / 26
    assert experts == pytest.approx(2 / 3 * Q4K + 1 / 3 * (share * Q8_0 + (1 - share) * Q5_0), rel=1e-12)


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


def _qwen25_05b_by_hand(bits: dict[str, float]) -> float:
    """qwen2.5-0.5b's weight bytes with each tensor class at `bits` (v and down: the mean over
    layers): 24 layers, hidden 896, 14 x 64 query and 2 x 64 KV heads with q/k/v biases (shared
    pro rata over the widths, 897 per width unit), FFN 4,864, a tied 151,936 x 896 head."""
    per_width = (896 * 1152 + 1152) / 1152
    layer = (per_width * 896 * bits["q"] + per_width * 128 * (bits["k"] + bits["v"]) + 896 * 896 * bits["o"]
             + 2 * 896 * 4864 * bits["gate_up"] + 4864 * 896 * bits["down"])
    return (24 * layer + 151936 * 896 * bits["output"]) / 8


@pytest.mark.parametrize(("fmt", "bits"), [
    # 896 rows are 3.5 super-blocks: every Q4_K tensor but ffn_down (rows of 4,864) is Q5_0, the
    # Q6_K ones Q8_0 (attn_v on the 12 use_more_bits layers of 24, the tied output)
    ("q4_k_m", {"q": Q5_0, "k": Q5_0, "v": (Q8_0 + Q5_0) / 2, "o": Q5_0, "gate_up": Q5_0,
                "down": (Q6K + Q4K) / 2, "output": Q8_0}),
    # Q4_0's blocks of 32 divide 896; its Q6_K output falls back to Q8_0
    ("q4_0", {"q": 4.5, "k": 4.5, "v": 4.5, "o": 4.5, "gate_up": 4.5, "down": 4.5, "output": Q8_0}),
    # Q5_K_M: Q5_K -> Q5_1 at 896, Q6_K -> Q8_0
    ("q5_k_m", {"q": Q5_1, "k": Q5_1, "v": (Q8_0 + Q5_1) / 2, "o": Q5_1, "gate_up": Q5_1,
                "down": (Q6K + Q5K) / 2, "output": Q8_0}),
])
def test_rows_that_are_not_whole_blocks_fall_back(fmt: str, bits: dict[str, float]) -> None:
    model, precision = _stored("qwen2.5-0.5b", fmt)
    assert model.hidden_size == 896 and model.intermediate_size == 4864
    assert weight_bytes(model, precision) == pytest.approx(_qwen25_05b_by_hand(bits), rel=1e-9)


def test_qwen25_05b_q4_k_m_against_its_published_file() -> None:
    """bartowski/Qwen2.5-0.5B-Instruct-GGUF Q4_K_M is 397,808,192 B (the download size apps that
    pin the file record, e.g. an app's LOCAL_MODELS list of bartowski URLs); the file adds the
    tokenizer and metadata to the weights: a few MB. Without
    the row fallbacks the weights would be 326.8 MB, 71 MB short."""
    model, precision = _stored("qwen2.5-0.5b", "q4_k_m")
    gap_b = 397_808_192 - weight_bytes(model, precision)
    assert 0 < gap_b < 10e6  # 6.2 MB


def test_whole_blocks_do_not_fall_back() -> None:
    """llama-3.2-1b: hidden 2,048, FFN 8,192, attention 2,048, all whole super-blocks: Q4_K_M is
    Q4_K with attn_v and ffn_down Q6_K on use_more_bits layers (8 of 16) and a Q6_K tied head."""
    model, precision = _stored("llama-3.2-1b", "q4_k_m")
    per_layer = (2 * 2048 * 2048 * Q4K + 2048 * 512 * Q4K + 2048 * 512 * (Q6K + Q4K) / 2  # q, o; k; v
                 + 2 * 2048 * 8192 * Q4K + 8192 * 2048 * (Q6K + Q4K) / 2)  # gate, up; down
    assert weight_bytes(model, precision) == pytest.approx((16 * per_layer + 128256 * 2048 * Q6K) / 8, rel=1e-9)
