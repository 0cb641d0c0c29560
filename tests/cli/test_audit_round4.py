"""The bad-input audit of 2026-12-04: a config.json value of the wrong JSON type is reported under
the key the user wrote (never coerced, never misread, never blamed on a derived field), a file
that is not `key: value` pairs says what it is, and flag messages state the range they accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli._audit import llama_config, run
from slmsim.workloads.load import load_model




@pytest.mark.parametrize("bad", ["2048", 2048.0])
def test_a_quoted_or_decimal_count_is_reported_as_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         bad: object) -> None:
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", str(llama_config(tmp_path, hidden_size=bad)))
    assert code == 2 and "1 problem found" in err
    assert "hidden_size: not a JSON integer" in err and repr(bad) in err
    assert '"hidden_size": 2048' in err  # the hint writes the value as it should be
    assert "head_dim" not in err  # derived from hidden_size; the user never wrote it
    # the same value is refused when head_dim is given too (it used to pass there, coerced)
    code, _, err = run(capsys, "check", str(llama_config(tmp_path, hidden_size=bad, head_dim=64)))
    assert code == 2 and "hidden_size: not a JSON integer" in err


def test_a_quoted_boolean_is_refused_not_read_as_true(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(llama_config(tmp_path, attention_bias="false", tie_word_embeddings=1)))
    assert code == 2 and "2 problems found" in err
    assert "attention_bias: not a JSON boolean" in err and "'false'" in err
    assert "tie_word_embeddings: not a JSON boolean" in err
    # JSON booleans are read as written (bool("false") was True)
    assert load_model(llama_config(tmp_path, attention_bias=False)).qkv_bias is False
    assert load_model(llama_config(tmp_path, attention_bias=True)).qkv_bias is True


@pytest.mark.parametrize(("text", "words"), [
    ("", "the file is empty"), ("# only a comment\n", "the file is empty"),
    ("- 1\n- 2\n", "found a list of 2 items"), ("hello\n", "found a plain string"), ("3\n", "found a number"),
])
def test_a_file_that_is_not_key_value_pairs_says_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            text: str, words: str) -> None:
    path = tmp_path / "chip.yaml"
    path.write_text(text)
    for argv in (["check", str(path)], ["simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b",
                                        "--scenario", str(path)]):
        code, _, err = run(capsys, *argv)
        if argv[0] == "simulate" and "empty" in words:
            assert code == 0  # an empty scenario is every default
            continue
        assert code == 2 and words in err, err
        assert "NoneType" not in err and "'list'" not in err and "'str'" not in err
    if "empty" in words:  # a spec file says the same as `check`, not a list of every field it lacks
        code, _, err = run(capsys, "simulate", "--hw", str(path), "--model", "llama-3.2-1b")
        assert code == 2 and words in err and "missing" not in err.lower(), err
    assert path.read_text() == text  # nothing the user wrote is touched


def test_a_null_quantity_says_so_and_how_to_inherit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "chip.yaml"
    path.write_text("extends: orin-nano\nmemories:\n  dram:\n    bandwidth: null\n")
    code, _, err = run(capsys, "check", str(path))
    assert code == 2 and "memories.dram.bandwidth: no value (null)" in err and "leave the key out" in err
    assert "NoneType" not in err


def test_group_size_states_the_range_it_takes(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "4")
    code, _, err = run(capsys, *base, "--group-size", "-1")
    assert code == 2 and "--group-size" in err and ">= 0 (0 = per-channel scales)" in err
    assert "> 0" not in err.replace(">= 0", "")  # the old message refused the 0 the help offers
    code, out, _ = run(capsys, *base, "--group-size", "0", "--json")
    assert code == 0 and json.loads(out)["scenario"]["precision"]["weight_group_size"] is None
