from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from slmsim.cli import main

DATA = Path(__file__).parents[2] / "slmsim" / "data"
REQUIRED = {"ttft_s", "tpot_s", "decode_tokens_per_s", "tokens_per_j", "energy_j", "energy_breakdown_j",
            "latency_breakdown_s", "memory_footprint_bytes"}


def simulate_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["simulate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def measured(device: str, model: str) -> float:
    with open(DATA / "calibration-decode.csv") as f:
        for row in csv.DictReader(f):
            if row["device"] == device and row["model"] == model:
                return float(row["decode_tokens_per_s"])
    raise KeyError((device, model))


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "llama-3.2-3b")
    assert REQUIRED <= set(d)
    assert isinstance(d["energy_breakdown_j"], dict) and isinstance(d["latency_breakdown_s"], dict)
    assert d["energy_j"] == pytest.approx(sum(d["energy_breakdown_j"].values()))


def test_orin_nano_llama_3b_near_measurement(capsys: pytest.CaptureFixture[str]) -> None:
    """Jetson AI Lab (MLC q4f16_ft, prompt 16, gen 128): 27.7 tokens/s. Foundation bound: 25%."""
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "llama-3.2-3b", "--prompt", "16")
    target = measured("orin-nano", "llama-3.2-3b")
    assert d["decode_tokens_per_s"] == pytest.approx(target, rel=0.25)


def test_defaults_are_documented_ones(capsys: pytest.CaptureFixture[str]) -> None:
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "qwen3-0.6b")
    sc = d["scenario"]
    assert (sc["prompt_tokens"], sc["gen_tokens"], sc["batch"]) == (128, 128, 1)
    assert (sc["precision"]["weight_bits"], sc["precision"]["kv_bits"]) == (4, 16)


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hw", "edgecim", "--model", "qwen3-0.6b", "--act-bits", "8"]) == 0
    out = capsys.readouterr().out
    for needle in ("TTFT", "TPOT", "decode throughput", "tokens/J", "Energy by component", "Memory"):
        assert needle in out


def test_des_engine_from_cli(capsys: pytest.CaptureFixture[str]) -> None:
    a = simulate_json(capsys, "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--gen", "16")
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--gen", "16", "--engine", "des")
    assert d["engine"] == "des"
    assert d["tpot_s"] == pytest.approx(a["tpot_s"], rel=0.01)


def test_presets_command_lists_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    from slmsim.hw_models.load import preset_names

    assert set(d["hardware"]) == set(preset_names()) and len(d["hardware"]) == 28  # issue 14: + 4 ELMoE-3D presets
    assert {"orin-nano", "edgecim", "elmoe3d", "raspberry-pi-5", "apple-m1-max", "jetson-agx-thor"} <= set(d["hardware"])
    assert len(d["models"]) == 31  # issue 14: + glm-4.7-flash
    assert set(d["stacks"]) == {"mlc", "llama.cpp", "vllm", "tensorrt-llm", "tensorrt-edge-llm", "genie", "torchao"}
    assert d["weight_formats"]["q4_0"]["bits_per_weight"] == 4.5


def test_check_a_good_spec(capsys: pytest.CaptureFixture[str], fixtures: Path) -> None:
    assert main(["check", str(fixtures / "good-gpu.yaml")]) == 0
    assert "OK, hardware 'good-gpu'" in capsys.readouterr().out


def test_model_from_config_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
           "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
           "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    from_json = simulate_json(capsys, "--hw", "orin-nano", "--model", str(tmp_path / "config.json"))
    preset = simulate_json(capsys, "--hw", "orin-nano", "--model", "qwen3-0.6b")
    assert from_json["tpot_s"] == pytest.approx(preset["tpot_s"], rel=1e-9)


def test_ops_report_per_op_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    d = simulate_json(capsys, "--hw", "edgecim", "--model", "qwen3-0.6b", "--act-bits", "8", "--ops")
    ops = {op["name"]: op for op in d["decode_ops"]["ops"]}
    qkv = ops["qkv_proj"]
    assert qkv["unit"] == "cim_macros" and qkv["layers"] == 28
    # W4 with a scale per 32 inputs: each operation sums one 32-row group, 4 of them x 8 input bits
    assert qkv["detail"]["cycles_per_mvm"] == 4 * 8 and qkv["detail"]["rows_per_op"] == 32
    assert qkv["detail"]["macro_tiles"] > 0
    # qwen3-0.6b: hidden 1024, q 16 x 128 + k, v 8 x 128 = 4096 outputs, 28 layers; W4 with an fp16
    # scale per 32 weights = 4.5 bits, streamed from DRAM once per step
    assert qkv["bytes_by_tier"]["dram"] == 28 * 1024 * (2048 + 2 * 1024) * 4.5 / 8 == 66_060_288
    assert qkv["energy_j"]["dram"] > 0
    assert ops["attention"]["unit"] == "vector_unit"
    # the per-op times of one step add up to the step time at that context: at batch 1 the
    # report's context is the mean one (prompt 128 + gen 128 / 2), whose step time is the TPOT
    assert d["decode_ops"]["context_tokens"] == 128 + 128 / 2
    assert sum(op["time_s"] for op in ops.values()) == pytest.approx(d["tpot_s"], rel=1e-9)


DECODING_KEYS = {"tokens_per_target_pass", "draft_time_s", "verify_time_s", "expert_cache_hit_rate",
                 "distinct_experts_per_step"}


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_speculative_flags_and_output_keys(capsys: pytest.CaptureFixture[str], engine: str) -> None:
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "qwen3-4b", "--decoding", "speculative", "--draft",
                      "qwen3-0.6b", "--draft-len", "4", "--acceptance", "0.7", "--gen", "32", "--engine", engine)
    assert DECODING_KEYS <= set(d)
    assert d["decoding"] == "speculative" and d["draft_time_s"] > 0 and d["verify_time_s"] > 0
    assert d["expert_cache_hit_rate"] is None  # a dense model has no experts


def test_moe_flags_report_cache_and_distinct_experts(capsys: pytest.CaptureFixture[str]) -> None:
    d = simulate_json(capsys, "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--weight-bits", "8", "--gen", "16",
                      "--batch", "4", "--routing", "zipf", "--expert-cache", "16", "--cache-tier", "hb")
    assert 0 < d["expert_cache_hit_rate"] < 1
    assert 8 < d["distinct_experts_per_step"] <= 32


def test_scenario_file_with_flag_override(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).parents[2]
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "llama-3.1-8b", "--scenario",
                      str(root / "examples" / "decoding" / "spec-orin.yaml"), "--draft-len", "2", "--gen", "16")
    assert d["scenario"]["decoding"]["draft_len"] == 2 and d["scenario"]["decoding"]["draft"] == "qwen3-0.6b"
    assert d["scenario"]["prompt_tokens"] == 128


def test_bad_scenario_file_and_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("decoding:\n  strategy: speculative\n  draft: qwen3-0.6b\n  acceptnce: 0.8\n")
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-4b", "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: decoding.acceptnce: unknown field" in err and "did you mean 'acceptance'?" in err
    assert main(["simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--decoding", "self_speculative",
                 "--msb-tier", "hbm", "--lsb-tier", "lpddr"]) == 2
    assert "<command line>: --msb-tier: elmoe3d has no 'hbm'" in capsys.readouterr().err
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-4b", "--acceptance", "2"]) == 2
    assert "<command line>: --acceptance" in capsys.readouterr().err


def test_serving_command_of_issue_4_reports_percentiles(capsys: pytest.CaptureFixture[str]) -> None:
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "llama-3.2-1b", "--arrivals", "poisson", "--rate", "2",
                      "--requests", "50")
    sv = d["serving"]
    assert sv["completed"] == 50
    for key in ("ttft_s", "tpot_s"):
        assert set(sv[key]) >= {"mean", "p50", "p90", "p99"}
        assert 0 < sv[key]["p50"] <= sv[key]["p99"]


def test_energy_boundary_flag(capsys: pytest.CaptureFixture[str]) -> None:
    d = simulate_json(capsys, "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "16", "--energy-boundary", "chip")
    by = d["energy_by_boundary"]
    assert d["energy_boundary"] == "chip" and set(by) == {"chip", "chip+memory", "board"}
    assert d["decode_tokens_per_j_within_boundary"] == by["chip"]["decode_tokens_per_j"]
    assert by["chip"]["decode_tokens_per_j"] > by["chip+memory"]["decode_tokens_per_j"] > \
        by["board"]["decode_tokens_per_j"]
    assert by["board"]["decode_tokens_per_j"] == pytest.approx(d["decode_tokens_per_j"])
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "16",
                 "--energy-boundary", "chip+memory"]) == 0
    text = capsys.readouterr().out
    assert "chip+memory (used)" in text and "Energy by boundary" in text
    # the Performance table names the chosen boundary's figure beside the whole run's tokens/J
    assert "decode tokens/J within chip+memory" in text
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "16"]) == 0
    assert "tokens/J within" not in capsys.readouterr().out  # the default (board) is the whole run already
