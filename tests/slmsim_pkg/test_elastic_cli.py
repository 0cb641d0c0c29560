"""`simulate --decoding self_speculative` refuses a draft that reads every bit (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.cli import main

ROOT = Path(__file__).parents[2]


def test_draft_bits_equal_to_weight_bits_exit_2_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--decoding", "self_speculative",
                 "--weight-bits", "4", "--draft-bits", "4"]) == 2
    err = capsys.readouterr().err
    assert "--draft-bits" in err and "not below the weight bits (4)" in err and "hint:" in err
    assert "Traceback" not in err


def test_warnings_in_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--decoding", "self_speculative",
            "--weight-bits", "8", "--gen", "8"]
    assert main([*args, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["warnings"]) == 2
    assert main(args) == 0
    assert capsys.readouterr().out.count("warning:") == 2
    assert main(["simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--gen", "8", "--json", "--scenario",
                 str(ROOT / "examples" / "decoding" / "elmoe3d-elastic.yaml")]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
