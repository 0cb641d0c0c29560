"""Issue 15: --version, check NAME|PATH, schema, warnings and readable tables."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from slmsim.cli import main
from slmsim.core.version import __version__
from slmsim.hw_models.load import PRESET_DIR as HW_PRESETS
from slmsim.workloads.load import PRESET_DIR as MODEL_PRESETS
from slmsim.workloads.load import load_model

ROOT = Path(__file__).parents[2]
CIM_MACROS = ROOT / "hw_models" / "macros"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"slmsim {__version__}"


def test_every_json_output_carries_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b")["slmsim_version"] == __version__
    assert run_json(capsys, "presets")["slmsim_version"] == __version__
    assert run_json(capsys, "check", "orin-nano")["slmsim_version"] == __version__
    assert main(["simulate", "--hw", "orin-nano", "--model", "llama-3.1-8b", "--weight-bits", "16", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["slmsim_version"] == __version__  # infeasible too


# ----------------------------------------------------------------------------- check


def test_check_a_preset_lists_yaml_paths_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "edgecim"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("devices.cim.macro.rows "))
    assert "128" in line and "assumption: digital SRAM CIM macros" in line
    d = run_json(capsys, "check", "edgecim")
    by_path = {v["path"]: v for v in d["values"]}
    assert by_path["devices.cim.macro.rows"]["written"] == 128
    # a quantity shows its SI value: 273 GB/s is 2.73e11 bytes per second
    bw = by_path["memories.dram.bandwidth"]
    assert bw["si"] == pytest.approx(273e9) and bw["unit"] == "B/s"
    assert d["unsourced"] == []  # every number of the preset has a source or an assumption
    # area: 256 macros x 0.2 mm^2 (the preset's macro, at its own 65 nm node) + 20 mm^2 of
    # buffers, vector unit, NoC and PHY (`other_area`)
    from slmsim.hw_models.load import load_hardware

    assert load_hardware("edgecim").spec.devices["cim"].macro_count == 256
    assert d["area_mm2"] == pytest.approx(256 * 0.2 + 20) == 71.2


def test_check_flags_an_unsourced_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "fast.yaml"
    f.write_text("extends: orin-nano\nname: fast\nmemories:\n  dram:\n    bandwidth: 136 GB/s\n"
                 "    capacity: {value: 16 GB, assumption: a 16 GB module}\n")
    d = run_json(capsys, "check", str(f))
    assert d["kind"] == "hardware"
    assert d["unsourced_overrides"] == ["memories.dram.bandwidth"]
    by_path = {v["path"]: v for v in d["values"]}
    assert by_path["memories.dram.bandwidth"]["si"] == pytest.approx(1.36e11)
    assert by_path["memories.dram.capacity"]["assumption"] == "a 16 GB module"
    assert by_path["memories.dram.energy_per_bit"]["source"]  # inherited from the preset
    assert main(["check", str(f)]) == 0
    assert "UNSOURCED override" in capsys.readouterr().out


def test_check_a_space_file_is_recognised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "examples" / "space-demo.yaml")]) == 0
    cap = capsys.readouterr()
    assert "space 'space-demo'" in cap.out and "devices.cim.tiles" in cap.out
    assert "problem" not in cap.out + cap.err and "hidden_size" not in cap.out + cap.err
    assert run_json(capsys, "check", "space-edgecim")["kind"] == "space"  # a bundled example by name


def test_check_models_scenarios_and_configs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    moe = run_json(capsys, "check", "qwen3-30b-a3b")
    m = load_model("qwen3-30b-a3b")
    assert (moe["total_params"], moe["active_params"]) == (m.total_params(), m.active_params())
    assert moe["active_params"] < moe["total_params"] / 5  # 8 of 128 experts per token
    dense = run_json(capsys, "check", "qwen3-0.6b")
    assert dense["active_params"] == dense["total_params"] and dense["max_position_embeddings"] == 40960
    sc = run_json(capsys, "check", str(ROOT / "examples" / "decoding" / "spec-orin.yaml"))
    assert sc["kind"] == "scenario" and sc["scenario"]["decoding"]["strategy"] == "speculative"
    cfg = tmp_path / "m" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072,
                               "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
                               "head_dim": 128, "vocab_size": 151936, "tie_word_embeddings": True,
                               "max_position_embeddings": 40960}))
    hf = run_json(capsys, "check", str(cfg))
    assert hf["kind"] == "hf_config" and hf["total_params"] == dense["total_params"]


def test_check_unknown_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "edgecmi"]) == 2
    err = capsys.readouterr().err
    assert "no preset named 'edgecmi'" in err and "did you mean 'edgecim'" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- schema


@pytest.mark.parametrize("kind, folder", [("hardware", HW_PRESETS), ("model", MODEL_PRESETS),
                                          ("cim-macro", CIM_MACROS)])
def test_schema_validates_every_preset(capsys: pytest.CaptureFixture[str], kind: str, folder: Path) -> None:
    assert main(["schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 9
    for f in files:
        errors = [e.message[:200] for e in validator.iter_errors(yaml.safe_load(f.read_text()))]
        assert errors == [], f"{f.name}: {errors}"


def test_schema_of_examples_and_what_it_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    from slmsim.schema import schema

    for kind, files in (("space", ["space-demo.yaml", "space-edgecim.yaml", "space-serving.yaml"]),
                        ("scenario", [f"decoding/{p.name}" for p in (ROOT / "examples" / "decoding").glob("*.yaml")]),
                        ("hardware", ["hetero-orin-edgecim.yaml"])):
        v = jsonschema.Draft202012Validator(schema(kind))
        for name in files:
            assert list(v.iter_errors(yaml.safe_load((ROOT / "examples" / name).read_text()))) == [], name
    hw = jsonschema.Draft202012Validator(schema("hardware"))
    base = yaml.safe_load((HW_PRESETS / "orin-nano.yaml").read_text())
    bare = json.loads(json.dumps(base))
    bare["memories"]["dram"]["bandwidth"] = 68e9  # a bare number where a unit is needed
    typo = json.loads(json.dumps(base))
    typo["memories"]["dram"]["bandwith"] = "68 GB/s"
    assert not hw.is_valid(bare) and not hw.is_valid(typo)
    assert hw.is_valid({"extends": "orin-nano", "memories": {"dram": {"bandwidth": "136 GB/s"}}})
    assert not hw.is_valid({"extends": "orin-nano", "memories": {"dram": {"bandwidth": 136}}})
    # a published CIM macro: its energies are predicted, so the schema refuses them as the loader does
    cim = jsonschema.Draft202012Validator(schema("cim-macro"))
    macro = yaml.safe_load((CIM_MACROS / "dimc5-jssc2021-65nm.yaml").read_text())
    given = json.loads(json.dumps(macro))
    given["macro"]["energy_per_readout"] = "1 pJ"
    assert cim.is_valid(macro) and not cim.is_valid(given)


def test_spec_format_doc_describes_every_field() -> None:
    from slmsim.specdoc import render, undescribed

    assert undescribed() == []
    text = render()
    assert "PydanticUndefined" not in text and "|  |" not in text
    assert "yaml-language-server: $schema=" in text and '"yaml.schemas"' in text


# ----------------------------------------------------------------------------- warnings


def test_lengths_past_the_context_warn(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "simulate", "--hw", "a100-80gb", "--model", "qwen3-0.6b", "--prompt", "200000")
    assert any("max_position_embeddings (40,960)" in w for w in d["warnings"])
    assert d["tpot_s"] > 0  # still simulated
    quiet = run_json(capsys, "simulate", "--hw", "a100-80gb", "--model", "qwen3-0.6b", "--prompt", "40000")
    assert quiet["warnings"] == []  # 40,000 + 128 fits the 40,960 positions
    # infeasible (the 200,128-token KV cache is 22.9 GB: 28 layers x 8 heads x 128 x 2 x 2 B per token)
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--prompt", "200000", "--json"]) == 2
    inf = json.loads(capsys.readouterr().out)
    assert inf["infeasible"]["details"]["kv_cache"] == pytest.approx(200128 * 28 * 8 * 128 * 2 * 2)
    assert any("max_position_embeddings" in w for w in inf["warnings"])


def test_settings_that_do_nothing_warn(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--routing", "zipf")
    assert any("is dense" in w for w in d["warnings"])
    d = run_json(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--decoding", "speculative",
                 "--draft", "qwen3-1.7b")
    assert any("not smaller than the target" in w for w in d["warnings"])


# ----------------------------------------------------------------------------- tables


def test_table_is_per_token_with_si_units(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--hw", "edgecim", "--model", "qwen3-0.6b", "--act-bits", "8"]
    d = run_json(capsys, *args)
    assert main(args) == 0
    out = capsys.readouterr().out
    # 128 generated tokens: prefill yields the first, so 127 decode steps; the op classes of
    # the decode phase add up to the decode time, i.e. TPOT per step
    dec = d["latency_breakdown_s"]["decode"]
    assert sum(dec.values()) / 127 == pytest.approx(d["tpot_s"], rel=1e-9)
    from slmsim.core.display import fmt

    assert f"add to {fmt(d['tpot_s'], 's')} per output token" in out
    assert "Decode latency by op class (per output token)" in out
    assert re.search(r"\d\.?\d*e[-+]\d", out) is None  # no exponents: SI prefixes
    mem = d["memory_tiers"]["dram"]
    assert mem["capacity_bytes"] == pytest.approx(8e9) and 0 < mem["used_bytes"] < mem["capacity_bytes"]
    assert "used %" in out and "area: " in out
    assert "┃" not in out and "━" not in out and all(ln == ln.rstrip() for ln in out.splitlines())  # plain


def test_serving_table_says_what_it_aggregates(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--arrivals", "poisson", "--rate", "4",
            "--requests", "12", "--gen", "32"]
    d = run_json(capsys, *args)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "batch 1" not in out and "mean decode batch" in out
    assert "Decode latency by op class (per decode step)" in out
    fp = d["memory_footprint_bytes"]
    load = load_model("llama-3.2-1b")
    assert fp["weights"] == pytest.approx(load.total_params() * 4.5 / 8)  # 4-bit weights + fp16 scale per 32
    assert fp["tier.dram"] == pytest.approx(fp["weights"] + fp["activations"] + fp["kv_cache_peak"])


def test_decoding_and_moe_statistics_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--scenario",
                 str(ROOT / "examples" / "decoding" / "elmoe3d-elastic.yaml")]) == 0
    out = capsys.readouterr().out
    for needle in ("strategy", "self_speculative", "tokens per target pass", "expert cache hit rate",
                   "distinct experts per step"):
        assert needle in out


def test_rich_on_a_terminal_plain_when_piped() -> None:
    from slmsim.commands.tables import Table, emit

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    t = Table("Energy", ("component", "energy"))
    t.add("dram", "1.83 J")
    piped, tty = io.StringIO(), Tty()
    emit([t], stream=piped)
    emit([t], stream=tty)
    assert piped.getvalue().splitlines() == ["Energy", "  component  energy", "  dram       1.83 J"]
    assert "\x1b[" in tty.getvalue() or "─" in tty.getvalue()  # rich: styles or rules


def test_bundled_examples_by_name_and_copy(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no examples/ folder here: the names resolve to package data
    assert main(["examples"]) == 0
    assert "space-demo" in capsys.readouterr().out
    d = run_json(capsys, "simulate", "--hw", "orin-nano", "--model", "llama-3.1-8b", "--scenario", "decoding/spec-orin")
    assert d["decoding"] == "speculative"
    own = tmp_path / "mine" / "space-demo.yaml"
    own.parent.mkdir()
    own.write_text("# mine\n")
    assert main(["examples", "--copy", "mine"]) == 0
    assert own.read_text() == "# mine\n"  # nothing the user wrote is overwritten
    assert (tmp_path / "mine" / "space-edgecim.yaml").read_text() == (ROOT / "examples" / "space-edgecim.yaml").read_text()


def test_report_footer_names_the_version(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "design.html"
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8", "--report", str(out)]) == 0
    assert f"by slmsim {__version__}</footer>" in out.read_text()


def test_check_reads_stack_presets_aliases_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = run_json(capsys, "check", "genie")
    assert d["kind"] == "stack" and d["name"] == "genie" and d["runs_on"] == ["npu"]
    assert "hexagon-npu" in d["cost_classes"] and d["unsourced"] == []
    by_path = {v["path"]: v for v in d["values"]}
    assert by_path["costs.hexagon-npu.device_kernel_cycles"]["source"].startswith("fitted by slmsim.refit")
    assert run_json(capsys, "check", "ollama")["name"] == "llama.cpp"  # an alias
    f = tmp_path / "my-stack.yaml"
    f.write_text((ROOT / "stacks" / "presets" / "vllm.yaml").read_text().replace("name: vllm", "name: my-vllm"))
    assert run_json(capsys, "check", str(f))["kind"] == "stack"
    assert main(["check", str(f)]) == 0
    assert "stack 'my-vllm'" in capsys.readouterr().out
