"""Software stacks and weight formats: every preset loads, every number is sourced, and the
bytes per weight follow from the block layouts (derived here by hand from the C structs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from slmsim.core.errors import SpecError
from slmsim.core.yamlio import is_wrapper
from slmsim.mapping.stack import format_bits_per_weight, use_more_bits
from slmsim.stacks.load import FORMATS_FILE, PRESET_DIR, format_library, load_stack, preset_names
from slmsim.workloads.load import load_model

STACKS = ["mlc", "llama.cpp", "vllm", "tensorrt-llm", "tensorrt-edge-llm", "genie", "torchao"]

# bits per weight = 8 x bytes per block / weights per block, each from the layout it names
BY_HAND = {
    "q4_0": 8 * (2 + 32 // 2) / 32,  # block_q4_0 { ggml_half d; uint8_t qs[16]; } = 18 B / 32 = 4.5
    "q8_0": 8 * (2 + 32) / 32,  # block_q8_0 { ggml_half d; int8_t qs[32]; } = 34 B / 32 = 8.5
    "q3_k": 8 * (256 // 8 + 256 // 4 + 12 + 2) / 256,  # hmask 32 + qs 64 + scales 12 + d 2 = 110 B = 3.4375
    "q4_k": 8 * (2 + 2 + 12 + 256 // 2) / 256,  # d, dmin + scales 12 + qs 128 = 144 B = 4.5
    "q5_k": 8 * (2 + 2 + 12 + 256 // 8 + 256 // 2) / 256,  # d, dmin + scales 12 + qh 32 + qs 128 = 176 B = 5.5
    "q6_k": 8 * (256 // 2 + 256 // 4 + 256 // 16 + 2) / 256,  # ql 128 + qh 64 + scales 16 + d 2 = 210 B = 6.5625
    "q4_k_m": 4.5,  # base layout Q4_K (the mixture is tested below)
    "q3_k_s": 3.4375,  # base layout Q3_K
    "q5_0": 22 * 8 / 32, "q5_1": 24 * 8 / 32, "iq4_nl": 18 * 8 / 32,  # llama.cpp's row fallbacks: 5.5, 6.0, 4.5
    "q5_k_m": 5.5, "q5_k_s": 5.5,  # base layout Q5_K (the MoE rules: tests/stacks/test_llama_cpp_moe_rules.py)
    "f16": 16.0, "bf16": 16.0, "f32": 32.0,
    "q4f16_ft": 4.0,  # int4, one fp16 scale per output channel (neglected)
    "q4f16_1": (32 * 4 + 16) / 32,  # int4 x 32 + one fp16 scale = 4.5
    "w4a16-g128": (128 * 4 + 16 + 4) / 128,  # int4 x 128 + fp16 scale + int4 zero = 4.15625
    "int8-weight-only": 8.0,
    "int4-g64-bf16-scale-zero": (64 * 4 + 16 + 16) / 64,  # bf16 scale + bf16 zero per 64 = 4.5
    "int4-g32-bf16-scale-zero": (32 * 4 + 16 + 16) / 32,  # per 32 = 5.0
    "fp8": 8.0,
    "nvfp4": (16 * 4 + 8) / 16,  # E2M1 x 16 + one E4M3 scale = 4.5
    "mxfp4": (32 * 4 + 8) / 32,  # E2M1 x 32 + one E8M0 scale = 4.25
    "mxfp4-experts": 4.25,
    "genie-w4a16": 4.0, "genie-w4": 4.0,  # base layout; the LM head is genie-w8-channel
    "genie-w8-channel": 8.0,  # one int8 per weight, per-channel scale negligible
}


def test_every_named_format_is_in_the_library() -> None:
    assert set(BY_HAND) == set(format_library().formats)


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_bits_per_weight_from_the_block_layout(name: str) -> None:
    assert format_library().formats[name].bits_per_weight == pytest.approx(BY_HAND[name], abs=1e-12)


def test_preset_names_are_the_seven_stacks() -> None:
    assert sorted(preset_names()) == sorted(STACKS)


# the formats issue 12 names for each stack (each must run there; a stack may run more)
ISSUE_FORMATS = {
    "llama.cpp": {"q4_0", "q4_k_m", "q8_0", "f16", "q3_k_s"},
    "mlc": {"q4f16_ft", "q4f16_1"},
    "vllm": {"w4a16-g128", "fp8", "nvfp4", "mxfp4"},
    "tensorrt-llm": {"w4a16-g128", "int8-weight-only", "fp8", "nvfp4"},
    "tensorrt-edge-llm": {"w4a16-g128", "fp8", "nvfp4"},
    "genie": {"genie-w4a16", "genie-w4"},
    "torchao": {"int8-weight-only", "int4-g64-bf16-scale-zero"},
}


@pytest.mark.parametrize("name", STACKS)
def test_stack_loads_and_its_formats_resolve(name: str) -> None:
    st = load_stack(name).spec
    assert st.name == name
    assert ISSUE_FORMATS[name] <= set(st.formats), sorted(ISSUE_FORMATS[name] - set(st.formats))
    # every device class gets constants: a default entry, or the class it carries from
    assert "default" in st.costs or st.default_costs_from in st.costs
    lib = format_library()
    resolved = {lib.resolve(st, fmt)[0] for fmt in st.formats}
    assert resolved == {lib.canonical(f) for f in st.formats} and len(resolved) == len(st.formats)
    for fmt in st.formats:
        canon, layout, use = lib.resolve(st, fmt)
        assert layout.bits_per_weight > 0 and use.dequant_ops_per_weight >= 0


def _unsourced(node: Any, path: str) -> list[str]:
    if is_wrapper(node):
        return []
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _unsourced(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _unsourced(v, f"{path}[{i}]")]
    # numbers and booleans are figures; strings are names and descriptions
    return [path] if isinstance(node, (int, float)) else []


@pytest.mark.parametrize("file", [*(PRESET_DIR / f"{n}.yaml" for n in STACKS), FORMATS_FILE], ids=lambda p: p.name)
def test_every_number_has_a_source_or_assumption(file: Path) -> None:
    assert _unsourced(yaml.safe_load(file.read_text()), "") == []


def test_aliases_name_the_same_stack() -> None:
    assert load_stack("ollama").spec.name == "llama.cpp"
    assert load_stack("gpt-fast").spec.name == "torchao"
    assert format_library().canonical("awq-w4a16-g128") == "w4a16-g128"


def test_a_stack_refuses_a_format_it_does_not_run() -> None:
    st = load_stack("genie").spec
    with pytest.raises(SpecError) as info:
        format_library().resolve(st, "q4_k_m")
    text = info.value.render()
    assert "does not run weight format 'q4_k_m'" in text and "genie-w4a16" in text
    with pytest.raises(SpecError, match="unknown weight format"):
        format_library().resolve(st, "q5_z")


def test_use_more_bits_selects_the_llama_cpp_layers() -> None:
    # n = 32: i < 4, i >= 28, and (i - 4) % 3 == 2 between: 4 + 4 + 8 = 16 layers
    assert [i for i in range(32) if use_more_bits(i, 32)] == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]


def test_q4_k_m_average_on_llama_3_2_3b_by_hand() -> None:
    # 28 layers: use_more_bits picks 3 + 4 + 7 = 14 of them for attn_v and ffn_down in Q6_K;
    # the output (tied embedding, 128256 x 3072) is Q6_K; everything else Q4_K.
    h, kv, inter, vocab, n = 3072, 1024, 8192, 128256, 28
    more = 14
    q, k, v, o = h * h, h * kv, h * kv, h * h
    gate = up = down = h * inter
    out = vocab * h
    total = n * (q + k + v + o + gate + up + down) + out
    bits = (n * (q + k + o + gate + up) * 4.5 + (n - more) * (v + down) * 4.5 + more * (v + down) * 6.5625
            + out * 6.5625)
    assert format_bits_per_weight("q4_k_m", load_model("llama-3.2-3b"), format_library()) == pytest.approx(
        bits / total, rel=1e-12)


def test_q4_0_keeps_the_output_in_q6_k() -> None:
    # llama-2-7b (untied): the output 32000 x 4096 in Q6_K, every layer tensor in Q4_0.
    # (llama.cpp reports 3.56 GiB for this file: 6.74e9 weights at ~4.53 bits.)
    m = load_model("llama-2-7b")
    out = 32000 * 4096
    layers = m.decoder_layer_params(active_only=False)
    expect = (layers * 4.5 + out * 6.5625) / (layers + out)
    assert format_bits_per_weight("q4_0", m, format_library()) == pytest.approx(expect, rel=1e-12)


def test_mxfp4_experts_only_converts_the_experts() -> None:
    # gpt-oss-20b by hand: 24 layers; attention 2880 x 4096 (q), 2 x 2880 x 512 (k, v), 4096 x 2880 (o);
    # router 2880 x 32; experts 32 x 3 x 2880 x 2880 in MXFP4; lm_head 201088 x 2880; the rest bf16
    h, n = 2880, 24
    attn = 2 * h * 4096 + 2 * h * 512 + 4096 + 2 * 512  # + the q, k, v biases (qkv_bias), bf16 like the rest
    router = h * 32
    experts = 32 * 3 * h * h
    head = 201088 * h
    rest = n * (attn + router) + head
    expect = (n * experts * 4.25 + rest * 16) / (n * experts + rest)
    m = load_model("gpt-oss-20b")
    assert format_bits_per_weight("mxfp4-experts", m, format_library()) == pytest.approx(expect, rel=1e-12)


def test_default_costs_from_carries_the_fitted_class_not_a_copy() -> None:
    """mlc, genie and torchao name the class a device of any other class takes; its constants are
    the very object of that class, so a refit of the class moves both (a copied `default:` entry
    had gone stale: 79,350 Hexagon cycles beside the fitted 92,970)."""
    for name, cls in (("mlc", "jetson-orin"), ("genie", "hexagon-npu"), ("torchao", "datacenter-gpu")):
        st = load_stack(name).spec
        assert st.default_costs_from == cls and "default" not in st.costs
        got = st.costs_for("some-other-class")
        assert got is not None and got[0] == cls and got[1] is st.costs[cls]
        assert st.costs_for(cls) == (cls, st.costs[cls])


def test_default_costs_from_must_name_a_class_and_excludes_a_default(tmp_path: Path) -> None:
    data = yaml.safe_load((PRESET_DIR / "mlc.yaml").read_text())
    bad = dict(data, default_costs_from="jetson-thor")
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    with pytest.raises(SpecError, match="jetson-thor"):
        load_stack(f)
    both = dict(data, costs={**data["costs"], "default": data["costs"]["jetson-orin"]})
    f.write_text(yaml.safe_dump(both))
    with pytest.raises(SpecError, match="not both"):
        load_stack(f)


def test_type_errors_read_as_yaml_not_python(tmp_path: Path) -> None:
    """A list given as a number, a mapping as text, text as a number: the messages say 'list',
    'mapping' and 'text' (pydantic's own words name Python types: 'a valid tuple',
    'instance of FormatUse'), and a wrapped bad number shows the number, not nothing."""
    data = yaml.safe_load((PRESET_DIR / "mlc.yaml").read_text())
    data["runs_on"] = 0
    data["formats"]["f16"] = "fast"
    data["attention_kernel"] = 1.5
    data["costs"]["jetson-orin"]["attention_efficiency"] = {"value": "lots", "assumption": "x"}
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as info:
        load_stack(f)
    by_path = {p.path: p for p in info.value.problems}
    assert by_path["runs_on"].message == "must be a list" and by_path["runs_on"].value == 0
    assert by_path["formats.f16"].message == "must be a mapping" and by_path["formats.f16"].value == "fast"
    assert by_path["attention_kernel"].message == "must be text"
    assert by_path["costs.jetson-orin.attention_efficiency"].value == "lots"
    text = info.value.render()
    assert "tuple" not in text and "instance of" not in text and "FormatUse" not in text
