"""Hugging Face config.json files convert to the same spec as the matching preset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from slmsim.core.errors import SpecError
from slmsim.workloads.hf_config import SUPPORTED_MODEL_TYPES
from slmsim.workloads.load import load_model
from slmsim.workloads.model import ModelSpec

# Real config.json values (the architecture-relevant keys, plus a few unrelated ones the
# converter must ignore), one model per family, each matching a preset.
CONFIGS: dict[str, dict[str, Any]] = {
    "llama-3.2-1b": {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 2048,
        "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
        "head_dim": 64, "vocab_size": 128256, "tie_word_embeddings": True, "max_position_embeddings": 131072,
        "attention_bias": False, "rope_theta": 500000.0, "rms_norm_eps": 1e-05,
    },
    "phi-3.5-mini": {
        "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064, "tie_word_embeddings": False,
        "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "attention_bias": False,
    },
    "qwen2.5-0.5b": {
        "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
        "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True,
        "max_position_embeddings": 32768, "sliding_window": 32768, "use_sliding_window": False,
    },
    "qwen3-0.6b": {
        "model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "tie_word_embeddings": True, "max_position_embeddings": 40960, "attention_bias": False,
    },
    "smollm3-3b": {
        "model_type": "smollm3", "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
        "num_attention_heads": 16, "num_key_value_heads": 4, "vocab_size": 128256, "tie_word_embeddings": True,
        "max_position_embeddings": 65536, "no_rope_layer_interval": 4,
        "no_rope_layers": [int((i + 1) % 4 != 0) for i in range(36)],
    },
    "mixtral-8x7b": {
        "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "num_local_experts": 8, "num_experts_per_tok": 2,
        "vocab_size": 32000, "tie_word_embeddings": False, "max_position_embeddings": 32768, "sliding_window": None,
    },
    "phi-3.5-moe": {
        "model_type": "phimoe", "hidden_size": 4096, "intermediate_size": 6400, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "num_local_experts": 16, "num_experts_per_tok": 2,
        "vocab_size": 32064, "tie_word_embeddings": False, "max_position_embeddings": 131072,
        "attention_bias": True, "lm_head_bias": True,
    },
    "granite-3.0-1b-a400m": {
        "model_type": "granitemoe", "hidden_size": 1024, "intermediate_size": 512, "num_hidden_layers": 24,
        "num_attention_heads": 16, "num_key_value_heads": 8, "num_local_experts": 32, "num_experts_per_tok": 8,
        "vocab_size": 49155, "tie_word_embeddings": True, "max_position_embeddings": 4096,
        "embedding_multiplier": 12.0, "logits_scaling": 6.0,
    },
    "olmoe-1b-7b": {
        "model_type": "olmoe", "hidden_size": 2048, "intermediate_size": 1024, "num_hidden_layers": 16,
        "num_attention_heads": 16, "num_key_value_heads": 16, "num_experts": 64, "num_experts_per_tok": 8,
        "vocab_size": 50304, "tie_word_embeddings": False, "max_position_embeddings": 4096, "clip_qkv": None,
    },
    "qwen1.5-moe-a2.7b": {
        "model_type": "qwen2_moe", "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
        "num_attention_heads": 16, "num_key_value_heads": 16, "num_experts": 60, "num_experts_per_tok": 4,
        "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632, "decoder_sparse_step": 1,
        "vocab_size": 151936, "tie_word_embeddings": False, "max_position_embeddings": 32768,
    },
    "qwen3-30b-a3b": {
        "model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 48,
        "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128,
        "num_experts_per_tok": 8, "moe_intermediate_size": 768, "decoder_sparse_step": 1, "mlp_only_layers": [],
        "vocab_size": 151936, "tie_word_embeddings": False, "max_position_embeddings": 40960,
    },
    "deepseek-v2-lite": {
        "model_type": "deepseek_v2", "hidden_size": 2048, "intermediate_size": 10944, "num_hidden_layers": 27,
        "num_attention_heads": 16, "num_key_value_heads": 16, "first_k_dense_replace": 1, "moe_layer_freq": 1,
        "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6, "moe_intermediate_size": 1408,
        "kv_lora_rank": 512, "q_lora_rank": None, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
        "v_head_dim": 128, "vocab_size": 102400, "tie_word_embeddings": False, "max_position_embeddings": 163840,
    },
    "mistral-7b-v0.3": {
        "model_type": "mistral", "architectures": ["MistralForCausalLM"], "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "head_dim": None, "vocab_size": 32768, "tie_word_embeddings": False, "max_position_embeddings": 32768,
        "sliding_window": None, "rope_theta": 1000000.0,
    },
    "gemma-2-2b": {
        "model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
        "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 256000,
        "max_position_embeddings": 8192, "sliding_window": 4096, "hidden_activation": "gelu_pytorch_tanh",
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 256,
    },
    "gemma-2-9b": {
        "model_type": "gemma2", "hidden_size": 3584, "intermediate_size": 14336, "num_hidden_layers": 42,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256, "vocab_size": 256000,
        "max_position_embeddings": 8192, "sliding_window": 4096, "attention_bias": False,
        "query_pre_attn_scalar": 224, "cache_implementation": "hybrid",
    },
    "gpt-oss-20b": {
        "model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880, "num_hidden_layers": 24,
        "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "num_local_experts": 32,
        "num_experts_per_tok": 4, "experts_per_token": 4, "vocab_size": 201088, "tie_word_embeddings": False,
        "attention_bias": True, "max_position_embeddings": 131072, "sliding_window": 128,
        "quantization_config": {"quant_method": "mxfp4"},
    },
    "flan-t5-small": {
        "model_type": "t5", "d_model": 512, "d_ff": 1024, "d_kv": 64, "num_layers": 8, "num_decoder_layers": 8,
        "num_heads": 6, "vocab_size": 32128, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
        "n_positions": 512, "relative_attention_num_buckets": 32,
    },
    "flan-t5-base": {
        "model_type": "t5", "d_model": 768, "d_ff": 2048, "d_kv": 64, "num_layers": 12, "num_decoder_layers": 12,
        "num_heads": 12, "vocab_size": 32128, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
    },
}


def _write(tmp_path: Path, folder: str, config: dict[str, Any]) -> Path:
    path = tmp_path / folder / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _architecture(spec: ModelSpec) -> dict[str, Any]:
    """Everything but the bookkeeping text: sizes, family, MoE, MLA, encoder-decoder."""
    return spec.model_dump(exclude={"name", "source", "notes"})


@pytest.mark.parametrize("preset", sorted(CONFIGS))
def test_config_json_matches_preset(tmp_path: Path, preset: str) -> None:
    spec = load_model(_write(tmp_path, preset, CONFIGS[preset]))
    assert spec.name == preset  # named after the folder holding config.json
    assert _architecture(spec) == _architecture(load_model(preset))
    assert spec.total_params() == load_model(preset).total_params()


def test_folder_holding_config_json_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, "qwen3-0.6b", CONFIGS["qwen3-0.6b"])
    assert load_model(path.parent) == load_model(path)


def test_defaults_for_old_llama_config(tmp_path: Path) -> None:
    # Llama-2-7b-hf as first published: no head_dim, no num_key_value_heads, no tie key
    config = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
              "num_attention_heads": 32, "vocab_size": 32000, "max_position_embeddings": 4096}
    spec = load_model(_write(tmp_path, "llama-2-7b", config))
    assert (spec.head_dim, spec.num_kv_heads, spec.tie_word_embeddings) == (128, 32, False)
    assert _architecture(spec) == _architecture(load_model("llama-2-7b"))


def test_smollm3_notes_list_nope_layers(tmp_path: Path) -> None:
    spec = load_model(_write(tmp_path, "smollm3-3b", CONFIGS["smollm3-3b"]))
    assert "NoPE" in spec.notes and "[3, 7, 11" in spec.notes and "35]" in spec.notes


def test_t5_v10_is_plain_ffn_and_tied(tmp_path: Path) -> None:
    # t5-small (v1.0): relu FFN, no tie key (transformers default: tied), no num_decoder_layers
    config = {"model_type": "t5", "d_model": 512, "d_ff": 2048, "d_kv": 64, "num_layers": 6, "num_heads": 8,
              "vocab_size": 32128, "feed_forward_proj": "relu"}
    spec = load_model(_write(tmp_path, "t5-small", config))
    assert spec.ffn == "plain" and spec.tie_word_embeddings
    assert spec.encoder_decoder is not None
    assert spec.encoder_decoder.num_decoder_layers == spec.num_layers == 6


def _error(tmp_path: Path, config: dict[str, Any], folder: str = "m") -> tuple[SpecError, Path]:
    path = _write(tmp_path, folder, config)
    with pytest.raises(SpecError) as info:
        load_model(path)
    return info.value, path


def test_unknown_model_type_names_file_key_value_and_choices(tmp_path: Path) -> None:
    err, path = _error(tmp_path, {**CONFIGS["llama-3.2-1b"], "model_type": "gpt_neox"})
    text = err.render()
    assert str(path) in text
    assert "model_type" in text and "'gpt_neox'" in text
    assert "one of: " + ", ".join(SUPPORTED_MODEL_TYPES) in text
    for family in ("llama", "qwen2", "qwen3", "phi3", "mixtral", "olmoe", "qwen2_moe", "deepseek_v2", "t5"):
        assert family in SUPPORTED_MODEL_TYPES


def test_near_miss_model_type_gets_a_suggestion(tmp_path: Path) -> None:
    err, _ = _error(tmp_path, {**CONFIGS["qwen2.5-0.5b"], "model_type": "qwen2-moe"})
    assert "did you mean 'qwen2_moe'?" in err.render()


def test_missing_model_type(tmp_path: Path) -> None:
    config = {k: v for k, v in CONFIGS["llama-3.2-1b"].items() if k != "model_type"}
    err, _ = _error(tmp_path, config)
    assert len(err.problems) == 1
    assert err.problems[0].path == "model_type" and "missing model_type" in err.render()


def test_missing_keys_are_reported_together(tmp_path: Path) -> None:
    gone = {"hidden_size", "num_hidden_layers", "vocab_size"}
    config = {k: v for k, v in CONFIGS["llama-3.2-1b"].items() if k not in gone}
    err, path = _error(tmp_path, config)
    assert {p.path for p in err.problems} == gone
    text = err.render()
    assert "3 problems found" in text and str(path) in text
    for key in gone:
        assert f"missing required key '{key}'" in text


def test_missing_moe_and_mla_keys_are_reported_together(tmp_path: Path) -> None:
    gone = {"n_routed_experts", "kv_lora_rank", "v_head_dim"}
    config = {k: v for k, v in CONFIGS["deepseek-v2-lite"].items() if k not in gone}
    err, _ = _error(tmp_path, config)
    assert {p.path for p in err.problems} == gone


def test_sparse_step_other_than_one_is_refused(tmp_path: Path) -> None:
    err, _ = _error(tmp_path, {**CONFIGS["qwen1.5-moe-a2.7b"], "decoder_sparse_step": 2})
    assert [p.path for p in err.problems] == ["decoder_sparse_step"]
    assert "cannot represent" in err.render()


def test_bad_value_is_reported_by_validation(tmp_path: Path) -> None:
    err, path = _error(tmp_path, {**CONFIGS["llama-3.2-1b"], "num_key_value_heads": 7})
    text = err.render()
    assert str(path) in text and "multiple of num_kv_heads" in text


def test_mistral_config_loads_instead_of_a_mixtral_suggestion(tmp_path: Path) -> None:
    spec = load_model(_write(tmp_path, "mistral-7b-v0.3", CONFIGS["mistral-7b-v0.3"]))
    assert spec.family == "mistral" and spec.moe is None and spec.head_dim == 128


def test_gemma3_multimodal_config_reads_its_text_config(tmp_path: Path) -> None:
    # google/gemma-3-4b-it: the decoder sits under text_config (head_dim 256, tied, 34 layers)
    text = {"model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 34,
            "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262208,
            "sliding_window": 1024, "max_position_embeddings": 131072}
    spec = load_model(_write(tmp_path, "gemma-3-4b", {"model_type": "gemma3", "text_config": text,
                                                      "vision_config": {"hidden_size": 1152}}))
    assert (spec.family, spec.tie_word_embeddings, spec.head_dim, spec.num_layers) == ("gemma3", True, 256, 34)
    # by hand: 34 x (attention 2560 x (2048 + 2 x 1024) + 2048 x 2560 + FFN 3 x 2560 x 10240) + 262208 x 2560
    attn = 2560 * (8 * 256 + 2 * 4 * 256) + 8 * 256 * 2560
    assert spec.total_params() == 34 * (attn + 3 * 2560 * 10240) + 262208 * 2560
    assert load_model(_write(tmp_path, "g3text", text)).total_params() == spec.total_params()


def test_phi2_is_plain_ffn_with_biases(tmp_path: Path) -> None:
    # microsoft/phi-2: 32 layers, hidden 2560, fc1/fc2 GELU (2 matrices), MHA, untied head
    config = {"model_type": "phi", "hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": None, "vocab_size": 51200,
              "partial_rotary_factor": 0.4, "tie_word_embeddings": False, "max_position_embeddings": 2048}
    spec = load_model(_write(tmp_path, "phi-2", config))
    assert (spec.ffn, spec.num_kv_heads, spec.head_dim, spec.qkv_bias) == ("plain", 32, 80, True)
    layer = 4 * 2560 * 2560 + 3 * 2560 + 2 * 2560 * 10240
    assert spec.total_params() == 32 * layer + 2 * 51200 * 2560  # about 2.78 B (phi-2 is "2.7B")


def test_granite_dense_is_llama_shaped(tmp_path: Path) -> None:
    # ibm-granite/granite-3.0-2b-base: 40 layers, hidden 2048, GQA 32/8, tied, multipliers ignored
    config = {"model_type": "granite", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 40,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 49155, "tie_word_embeddings": True,
              "embedding_multiplier": 12.0, "residual_multiplier": 0.22, "attention_multiplier": 0.015625}
    spec = load_model(_write(tmp_path, "granite-3.0-2b", config))
    attn = 2048 * 2048 + 2 * 2048 * 512 + 2048 * 2048
    assert spec.family == "granite" and spec.total_params() == 40 * (attn + 3 * 2048 * 8192) + 49155 * 2048


@pytest.mark.parametrize(("change", "window"), [
    ({"model_type": "mistral", "sliding_window": 4096}, (4096, 32)),  # Mistral 7B v0.1: every layer local
    ({"model_type": "mistral", "sliding_window": None}, None),  # v0.3
    ({"model_type": "gemma2", "sliding_window": 4096}, (4096, 16)),  # layer i local when i is even
    ({"model_type": "gemma3_text", "sliding_window": 1024}, (1024, 27)),  # 32 - 32 // 6 global
    ({"model_type": "gemma3_text", "sliding_window": 512, "sliding_window_pattern": 4}, (512, 24)),
    ({"model_type": "gpt_oss", "sliding_window": 128, "num_local_experts": 8, "num_experts_per_tok": 2,
      "layer_types": ["sliding_attention", "full_attention", "full_attention", "full_attention"] * 8}, (128, 8)),
])
def test_sliding_window_layers_from_config(tmp_path: Path, change: dict, window: tuple[int, int] | None) -> None:
    config = {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": 8, "vocab_size": 32000, **change}
    spec = load_model(_write(tmp_path, "m", config))
    got = None if spec.sliding_window is None else (spec.sliding_window.tokens, spec.sliding_window.layers)
    assert got == window


@pytest.mark.parametrize(("preset", "tokens", "share"), [
    ("gemma-2-2b", 4096 + 512, (13 * 4608 + 13 * 4096) / (26 * 4608)),  # 0.944
    ("gpt-oss-20b", 256, (12 * 256 + 12 * 128) / (24 * 256)),  # 0.75
    ("gpt-oss-20b", 128, 1.0),  # within the window: nothing to correct
    ("llama-3.2-1b", 100_000, 1.0),  # no window
])
def test_windowed_kv_share_by_hand(preset: str, tokens: int, share: float) -> None:
    assert load_model(preset).windowed_kv_share(tokens) == pytest.approx(share)
