"""Every validation rule has a fixture; the CLI reports it with file, path, value, expectation, hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmsim.cli import main

BAD = Path(__file__).parents[1] / "fixtures" / "bad"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# (fixture, substrings that must all appear in stderr)
CASES = [
    ("missing-field.yaml", ["missing-field.yaml", "memories.dram.bandwidth", "missing required field 'bandwidth'",
                            "expected: peak bandwidth, e.g. '68 GB/s'"]),
    ("unknown-field.yaml", ["memories.dram.bandwith", "unknown field 'bandwith'", "did you mean 'bandwidth'?"]),
    ("wrong-dimension.yaml", ["memories.dram.bandwidth", "'68 GHz' is a frequency, not a bandwidth",
                              "expected: a bandwidth with a unit, e.g. '68 GB/s'", "did you mean '68 GB/s'?"]),
    ("negative.yaml", ["devices.gpu.kernel_overhead", "'-4 us' is negative", "remove the sign"]),
    ("zero.yaml", ["memories.dram.capacity", "'0 GB' is zero", "greater than zero"]),
    ("bare-number.yaml", ["memories.dram.bandwidth", "the number 68 has no unit", "'68 GB/s'"]),
    ("malformed.yaml", ["malformed.yaml", "malformed YAML at line 5", "indentation"]),
    ("cycle-a.yaml", ["extends", "`extends:` cycle: cycle-a.yaml -> cycle-b.yaml -> cycle-a.yaml"]),
    ("unknown-kind.yaml", ["memories.cache.kind", "unknown kind 'sramm'", "did you mean 'sram'?"]),
    ("bad-reference.yaml", ["devices.gpu.memory", "no memory tier named 'hbm'", "dram"]),
    ("duplicate-key.yaml", ["duplicate key 'name'"]),
]


@pytest.mark.parametrize(("fixture", "needles"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec_is_reported_clearly(capsys: pytest.CaptureFixture[str], fixture: str, needles: list[str]) -> None:
    code, out, err = run(capsys, "check", str(BAD / fixture))
    assert code == 2
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


def test_every_problem_is_listed_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(BAD / "many-problems.yaml"))
    assert code == 2
    assert err.startswith("3 problems found:")
    for needle in ("devices.gpu.kernel_overhead", "devices.gpu.idel_power", "did you mean 'idle_power'?",
                   "memories.dram.bandwidth"):
        assert needle in err


def test_unknown_preset_lists_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--hw", "orin-nan", "--model", "llama-3.2-3b")
    assert code == 2
    assert "unknown hardware preset 'orin-nan'" in err
    assert "did you mean 'orin-nano'" in err
    for name in ("orin-nano", "edgecim", "h100-sxm"):
        assert name in err


def test_unknown_model_preset_lists_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "llama-3.2-2b")
    assert code == 2
    assert "unknown model preset 'llama-3.2-2b'" in err
    assert "llama-3.2-1b" in err and "qwen3-4b" in err


def test_hw_and_model_problems_are_reported_together(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--hw", str(BAD / "wrong-dimension.yaml"), "--model", "nope-model")
    assert code == 2
    assert err.startswith("2 problems found:")


def test_model_that_does_not_fit_is_infeasible_with_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "simulate", "--hw", str(BAD / "tiny-memory.yaml"), "--model", "llama-3.2-3b")
    assert code == 2
    assert "Traceback" not in err
    assert "infeasible: model llama-3.2-3b does not fit memory tier 'dram'" in err
    assert "has 512.0 MB" in err  # the preset's 512 MB with an SI prefix (it was "5.12e+08 bytes")
    assert "weights: 1.807 GB" in err
    assert "--weight-bits" in err


def test_infeasible_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = run(capsys, "simulate", "--hw", str(BAD / "tiny-memory.yaml"), "--model", "llama-3.2-3b", "--json")
    assert code == 2
    inf = json.loads(out)["infeasible"]
    assert inf["bound"] == 512e6 and inf["unit"] == "bytes"
    assert inf["demanded"] > inf["bound"]


def test_bad_command_line_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "llama-3.2-3b", "--batch", "0",
                       "--weight-bits", "40")
    assert code == 2
    assert "<command line>: --batch" in err and "<command line>: --weight-bits" in err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "no/such/file.yaml")
    assert code == 2
    assert "no/such/file.yaml: file not found" in err


def test_user_file_is_not_modified(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    text = (BAD / "many-problems.yaml").read_text().replace("../good-gpu.yaml", str(BAD.parent / "good-gpu.yaml"))
    spec.write_text(text)
    run(capsys, "check", str(spec))
    assert spec.read_text() == text


@pytest.mark.parametrize(("text", "needles"), [
    # per-group weight bits (scenario.precision.tensor_bits): a misspelt group, a bit count <= 0
    ("precision:\n  tensor_bits:\n    lm_headd: 16\n",
     ["precision.tensor_bits.lm_headd", "unknown field 'lm_headd'", "did you mean 'lm_head'?",
      "expected: one of: embedding, ffn_down, ffn_up, lm_head, o_proj, qkv_proj, router"]),
    ("precision:\n  tensor_bits:\n    lm_head: 0\n", ["precision.tensor_bits.lm_head", "value:    0", "> 0"]),
    ("windowed_kv_cache: maybe\n", ["windowed_kv_cache", "'maybe'", "true or false"]),
])
def test_bad_scenario_field_is_reported_clearly(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str,
                                                needles: list[str]) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    code, out, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--scenario", str(path))
    assert code == 2 and not out
    assert "Traceback" not in err and str(path) in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"
    assert path.read_text() == text  # the user's file is left as written
