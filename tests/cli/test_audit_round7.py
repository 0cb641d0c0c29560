"""Round 7 of the bad-input audit (2026-12-07): errors name the file and field where the
mistake is written, say what was expected, and a run the DES cannot finish is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_hostile_input import bad


def test_an_unknown_extends_is_reported_where_it_is_written(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("extends: qwen2.5-0.5\n")
    err = bad(capsys, [f"{f}: extends: `extends:` names an unknown model preset 'qwen2.5-0.5'",
                       "did you mean 'qwen2.5-0.5b'"], "simulate", "--hw", "orin-nano", "--model", str(f))
    assert "qwen2.5-0.5: unknown" not in err  # not the bare name as if it were the file
    # `check` reads the file's kind from the closest preset name, and says the same
    bad(capsys, [f"{f}: extends:", "unknown model preset 'qwen2.5-0.5'", "did you mean 'qwen2.5-0.5b'"],
        "check", str(f))


def test_a_model_file_given_as_hardware_is_named_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("extends: qwen2.5-0.5b\nmax_position_embeddings: 16\n")
    bad(capsys, [f"{f}: extends:", "unknown hardware preset 'qwen2.5-0.5b': it is a model preset", "(--model)"],
        "simulate", "--hw", str(f), "--model", "qwen2.5-0.5b")


@pytest.mark.parametrize(("spec", "needles"), [
    ("extends: qwen2.5-0.5b\nnum_kv_heads: 3\n",
     ["num_kv_heads: num_attention_heads (14) must be a multiple of num_kv_heads (3)", "value:    3",
      "expected: a divisor of num_attention_heads 14: 1, 2, 7, 14", "hint:"]),
    ("extends: olmoe-1b-7b\nmoe: {num_experts: 4, top_k: 8, expert_intermediate_size: 1024}\n",
     ["moe.top_k: top_k (8) cannot exceed num_experts (4)", "value:    8", "expected: a whole number from 1 to 4",
      "hint:"]),
])
def test_model_checks_give_the_field_value_expectation_and_hint(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                spec: str, needles: list[str]) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(spec)
    bad(capsys, [str(f), *needles], "simulate", "--hw", "orin-nano", "--model", str(f))


def test_a_macro_check_names_its_field_where_the_macro_sits(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    f = tmp_path / "hw.yaml"
    f.write_text("extends: edgecim\ndevices:\n  cim:\n    macro:\n      rows_per_op: 1000\n")
    bad(capsys, ["devices.cim.macro.rows_per_op: rows_per_op (1000) cannot exceed rows (128)", "value:    1000",
                 "expected: a whole number from 1 to 128 (rows)"], "check", str(f))


HEADER = ("device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s,"
          "prefill_tokens_per_s,power_w,source\n")


def test_a_quote_left_open_in_a_csv_is_a_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text(HEADER + 'orin-nano,qwen2.5-0.5b,llama.cpp,q4_k_m,128,128,1,50,,,"unterminated\n')
    bad(capsys, [f"{f}: line 2: not a readable CSV: a quote left open at the end of the file",
                 "close the quoted cell"], "validate", "--csv", str(f))


def test_a_semicolon_separated_csv_is_named_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text(HEADER.replace(",", ";") + "orin-nano;qwen2.5-0.5b;llama.cpp;q4_k_m;128;128;1;50;;;x\n")
    bad(capsys, ["missing column(s)", "the file is semicolon-separated"], "validate", "--csv", str(f))


@pytest.mark.parametrize(("decoding", "needles"), [
    ("{strategy: multipath, initial_width: 16, max_width: 4}",
     ["decoding.initial_width:", "value:    16", "expected: at most max_width, 4", "hint:"]),
    ("{strategy: lexical_unit, window: 4, tokens_per_step: 10}",
     ["decoding.tokens_per_step:", "value:    10.0", "expected: a mean from 1 to 4 (window)", "hint:"]),
    ("{strategy: speculative, draft: qwen3-0.6b, tree: [0, -1]}",
     ["decoding.tree:", "value:    [0, -1]", "expected: whole numbers >= 1", "hint:"]),
])
def test_decoding_checks_give_the_field_value_expectation_and_hint(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path, decoding: str,
                                                                  needles: list[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(f"decoding: {decoding}\n")
    bad(capsys, [str(f), *needles], "simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--scenario", str(f))


def test_a_flag_of_the_wrong_type_says_what_it_takes(capsys: pytest.CaptureFixture[str]) -> None:
    from slmsim.cli import main

    for argv, needles in [
        (["--weight-bits", "3.5"], ["--weight-bits: invalid int value: '3.5'", "expected: a whole number"]),
        (["--engine", "dse"], ["--engine: invalid choice: 'dse'", "value:    'dse'", "expected: one of: analytic, des",
                               "did you mean 'des'?"]),
    ]:
        with pytest.raises(SystemExit) as exc:  # argparse exits from inside parse_args
            main(["simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        for needle in needles:
            assert needle in err, f"{needle!r} not in:\n{err}"
