"""Every model preset loads, and its derived parameter counts match published figures."""

from __future__ import annotations

import pytest

from slmsim.workloads.load import load_model, preset_names
from slmsim.workloads.model import Family, ModelSpec

EXPECTED_PRESETS = [
    "tinyllama-1.1b", "llama-3.2-1b", "llama-3.2-3b", "phi-3.5-mini", "qwen2.5-0.5b", "qwen2.5-1.5b",
    "qwen2.5-3b", "smollm2-1.7b", "smollm3-3b", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "llama-2-7b",
    "llama-3.1-8b", "qwen2.5-7b",
    # issue 12: models of the second calibration file and common comparison points
    "qwen3-8b", "llama-3-8b", "mistral-7b-v0.3", "gemma-2-2b", "gemma-2-9b",
    # mixture of experts
    "olmoe-1b-7b", "qwen1.5-moe-a2.7b", "qwen3-30b-a3b", "deepseek-v2-lite", "mixtral-8x7b", "phi-3.5-moe",
    "granite-3.0-1b-a400m", "gpt-oss-20b", "glm-4.7-flash",
    # encoder-decoder
    "flan-t5-small", "flan-t5-base",
]

MOE_FAMILIES = {Family.MIXTRAL, Family.OLMOE, Family.QWEN2_MOE, Family.QWEN3_MOE, Family.DEEPSEEK_V2,
                Family.PHIMOE, Family.GRANITEMOE, Family.GPT_OSS}


def test_preset_list_is_exactly_the_published_set() -> None:
    assert sorted(preset_names()) == sorted(EXPECTED_PRESETS)


@pytest.mark.parametrize("name", preset_names())
def test_preset_loads_and_is_self_consistent(name: str) -> None:
    spec = load_model(name)
    assert spec.name == name
    assert "config.json" in spec.source and "verified against" in spec.source
    assert spec.notes
    assert (spec.moe is not None) == (spec.family in MOE_FAMILIES)
    assert (spec.encoder_decoder is not None) == (spec.family is Family.T5)
    # Qwen2-architecture attention always carries q/k/v biases
    if spec.family in (Family.QWEN2, Family.QWEN2_MOE):
        assert spec.qkv_bias
    assert spec.total_params() >= spec.active_params() > 0


# Published parameter counts: (preset, which count, published value, unit of its last digit).
# Tolerance: 2% of the value for what the spec leaves out by design (norm weights, o_proj /
# router-gate biases, T5 relative-position tables: all far below 1%) and for vendors' own
# bookkeeping, plus half a unit of the last published digit because the figures are rounded.
PUBLISHED = [
    ("tinyllama-1.1b", "total", 1.1e9, 0.1e9),  # TinyLlama model card: "Parameters 1.1B"
    ("llama-3.2-1b", "total", 1.23e9, 0.01e9),  # Llama 3.2 model card: "1B (1.23B)"
    ("llama-3.2-3b", "total", 3.21e9, 0.01e9),  # Llama 3.2 model card: "3B (3.21B)"
    ("llama-3.1-8b", "total", 8e9, 1e9),  # Llama 3.1 model card: "8B"
    ("qwen2.5-0.5b", "total", 0.49e9, 0.01e9),  # Qwen2.5-0.5B model card: "0.49B"
    ("qwen2.5-0.5b", "non_embedding", 0.36e9, 0.01e9),  # same card: "0.36B non-embedding"
    ("qwen3-4b", "total", 4.0e9, 0.1e9),  # Qwen3-4B model card: "4.0B"
    ("mixtral-8x7b", "total", 46.7e9, 0.1e9),  # Mistral AI Mixtral announcement: 46.7B total
    ("mixtral-8x7b", "active", 12.9e9, 0.1e9),  # same: "only uses 12.9B parameters per token"
    ("olmoe-1b-7b", "total", 6.9e9, 0.1e9),  # OLMoE paper (arXiv 2409.02060): 6.9B total
    ("olmoe-1b-7b", "active", 1.3e9, 0.1e9),  # same: 1.3B active per token
    ("qwen1.5-moe-a2.7b", "total", 14.3e9, 0.1e9),  # Qwen1.5-MoE-A2.7B model card: 14.3B in total
    ("qwen1.5-moe-a2.7b", "active", 2.7e9, 0.1e9),  # same: 2.7B activated
    ("qwen3-30b-a3b", "total", 30.5e9, 0.1e9),  # Qwen3-30B-A3B model card: 30.5B in total
    ("qwen3-30b-a3b", "active", 3.3e9, 0.1e9),  # same: 3.3B activated
    ("deepseek-v2-lite", "total", 15.7e9, 0.1e9),  # DeepSeek-V2-Lite model card / arXiv 2405.04434
    # DeepSeek counts the LM head but not the input-embedding lookup as activated; with the
    # embedding, active_params() is 2.66B (see the preset's notes).
    ("deepseek-v2-lite", "active_without_embedding", 2.4e9, 0.1e9),  # same: 2.4B activated
    ("phi-3.5-moe", "total", 42e9, 1e9),  # Phi-3.5-MoE model card: 16x3.8B, ~42B in total
    ("phi-3.5-moe", "active", 6.6e9, 0.1e9),  # same: 6.6B active parameters
    ("qwen3-8b", "total", 8.2e9, 0.1e9),  # Qwen3-8B model card: "Number of Parameters: 8.2B"
    ("llama-3-8b", "total", 8e9, 1e9),  # Meta Llama 3 model card: "8B"
    ("mistral-7b-v0.3", "total", 7.25e9, 0.01e9),  # Hugging Face model page: 7.25B params (safetensors)
    ("gemma-2-2b", "total", 2.6e9, 0.1e9),  # Gemma 2 technical report (arXiv 2408.00118): 2.6B
    ("gemma-2-9b", "total", 9.2e9, 0.1e9),  # same report: 9B model, 9.24B on the HF page
    ("gpt-oss-20b", "total", 21e9, 1e9),  # OpenAI gpt-oss model card: 21B parameters
    # OpenAI counts 3.6B active per token without the embedding lookup
    ("gpt-oss-20b", "active_without_embedding", 3.6e9, 0.1e9),  # same card: 3.6B active
    # the 30B-A3B class name (THUDM slime scripts/models/glm4.7-30B-A3B.sh, as quoted in the search index)
    ("glm-4.7-flash", "total", 30e9, 1e9),
]


def _count(spec: ModelSpec, which: str) -> int:
    if which == "total":
        return spec.total_params()
    if which == "active":
        return spec.active_params()
    if which == "non_embedding":
        return spec.total_params() - spec.embedding_params() - (0 if spec.tie_word_embeddings else spec.lm_head_params())
    if which == "active_without_embedding":
        return spec.active_params() - spec.embedding_params()
    raise AssertionError(which)


@pytest.mark.parametrize(("name", "which", "published", "unit"), PUBLISHED,
                         ids=[f"{n}-{w}" for n, w, _, _ in PUBLISHED])
def test_parameter_count_matches_published(name: str, which: str, published: float, unit: float) -> None:
    ours = _count(load_model(name), which)
    tolerance = 0.02 * published + 0.5 * unit
    assert abs(ours - published) <= tolerance, f"{name} {which}: {ours / 1e9:.4f}B vs published {published / 1e9}B"


def test_dense_models_have_no_sparse_saving() -> None:
    spec = load_model("llama-3.2-1b")
    assert spec.total_params() == spec.active_params()


def test_qwen3_head_dim_is_explicit_not_hidden_over_heads() -> None:
    spec = load_model("qwen3-0.6b")
    assert spec.head_dim == 128 != spec.hidden_size // spec.num_attention_heads
    assert spec.q_dim == 2 * spec.hidden_size


def test_deepseek_v2_lite_structure() -> None:
    spec = load_model("deepseek-v2-lite")
    assert spec.moe is not None and spec.mla is not None
    assert (spec.moe.first_dense_layers, spec.moe.dense_intermediate_size) == (1, 10944)
    assert spec.moe_layers() == 26
    assert (spec.moe.num_shared_experts, spec.moe.shared_expert_intermediate_size) == (2, 1408)
    assert spec.mla.q_lora_rank is None
    assert spec.head_dim == spec.mla.qk_nope_head_dim + spec.mla.qk_rope_head_dim == 192
    # MLA caches the 512 latent + 64 rope key per layer, not full K and V
    assert spec.kv_bytes_per_token(16) == 27 * (512 + 64) * 2


def test_qwen15_moe_shared_expert() -> None:
    moe = load_model("qwen1.5-moe-a2.7b").moe
    assert moe is not None
    assert (moe.num_experts, moe.top_k, moe.expert_intermediate_size) == (60, 4, 1408)
    assert (moe.num_shared_experts, moe.shared_expert_intermediate_size) == (1, 5632)


@pytest.mark.parametrize("name", ["flan-t5-small", "flan-t5-base"])
def test_flan_t5_is_t5_v11(name: str) -> None:
    spec = load_model(name)
    assert spec.encoder_decoder is not None
    assert spec.encoder_decoder.num_encoder_layers == spec.encoder_decoder.num_decoder_layers == spec.num_layers
    assert spec.ffn == "gated" and not spec.tie_word_embeddings
    assert spec.head_dim == 64 and spec.num_kv_heads == spec.num_attention_heads
