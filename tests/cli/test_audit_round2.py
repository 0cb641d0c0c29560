"""Bad input found by an audit (2026-12-02), each with exit 2, a message and no traceback;
and the user's files left as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._audit import run

ROOT = Path(__file__).parents[2]
TINY = str(ROOT / "tests" / "dse" / "fixtures" / "tiny.yaml")
HEADER = "device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s,prefill_tokens_per_s,power_w,source\n"



def test_simulate_never_writes_over_its_inputs_or_a_users_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hw = tmp_path / "chip.yaml"
    hw.write_text("extends: orin-nano\n")
    code, _, err = run(capsys, "simulate", "--hw", str(hw), "--model", "qwen3-0.6b", "--gen", "8", "--report", str(hw))
    assert code == 2 and "is an input file of this run" in err and hw.read_text() == "extends: orin-nano\n"
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8", "--trace", str(notes))
    assert code == 2 and "was not written by slmsim" in err and notes.read_text() == "mine\n"
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8",
                       "--trace", str(notes / "t.json"))
    assert code == 2 and "is a file, so nothing can be written under it" in err
    trace = tmp_path / "t.json"
    for _ in range(2):  # its own trace is replaced
        assert run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8",
                   "--trace", str(trace))[0] == 0
    code, _, err = run(capsys, "schema", "model", "--out", str(notes / "x.json"))
    assert code == 2 and "is a file" in err
    code, _, err = run(capsys, "examples", "--copy", str(notes / "sub"))
    assert code == 2 and "is a file" in err


def test_a_bad_seed_is_refused_before_overwrite_touches_the_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert run(capsys, "explore", TINY, "--trials", "3", "--out", str(out), "--no-progress")[0] == 0
    before = sorted(p.name for p in out.iterdir())
    trials = (out / "trials.csv").read_bytes()
    for seed in ("-1", "99999999999999999999999"):
        code, _, err = run(capsys, "explore", TINY, "--trials", "3", "--out", str(out), "--overwrite", "--seed", seed)
        assert code == 2 and "--seed: out of range" in err
    assert sorted(p.name for p in out.iterdir()) == before and (out / "trials.csv").read_bytes() == trials


def test_counts_that_would_take_the_machine_down_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explore", TINY, "--jobs", "100000", "--trials", "3", "--out", str(tmp_path / "a"))
    assert code == 2 and "--jobs" in err and "4 per core" in err
    code, _, err = run(capsys, "explore", TINY, "--trials", "100000000000", "--out", str(tmp_path / "b"))
    assert code == 2 and "--trials" in err
    huge = tmp_path / "huge.yaml"
    huge.write_text("base: edgecim\nparameters:\n  memories.dram.bandwidth: {low: '68 GB/s', high: '546 GB/s', "
                    "step: '1 kB/s'}\nworkloads: [{model: qwen3-0.6b, prompt: 16, gen: 8}]\n"
                    "objectives: [decode_latency, area]\n")
    code, _, err = run(capsys, "sweep", str(huge), "--trials", "2", "--out", str(tmp_path / "c"))
    assert code == 2 and "the grid has 478,000,001 points" in err


@pytest.mark.parametrize(("body", "words"), [
    ("orin-nano,llama-3.2-1b,mlc,q4f16_ft,128,1,1,40,,,me\n", "at least 2 generated tokens"),
    ("orin-nano,llama-3.2-1b,mlc,q4f16_ft,128,128,1,1e-300,,,me\n", "out of range for a measured figure"),
    ("orin-nano,llama-3.2-1b,mlc,q4f16_ft,1000000000000000,128,1,40,,,me\n", "out of range"),
    ("orin-nano,llama-3.2-1b,mlc,q4f16_ft,128,128,1,40,,,me,extra\n", "the header has 11 columns"),
    ("", "no row has a measured figure"),
])
def test_validate_csv_rows_that_cannot_be_predicted(body: str, words: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "rows.csv"
    f.write_text(HEADER + body)
    code, out, err = run(capsys, "validate", "--csv", str(f), "--json")
    assert code == 2 and words in err and "nan" not in out.lower()


def test_validate_csv_reads_a_byte_order_mark_and_refuses_a_column_twice(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (HEADER + "orin-nano,llama-3.2-1b,mlc,q4f16_ft,128,128,1,40,,,me\n").encode())
    assert run(capsys, "validate", "--csv", str(f), "--json")[0] == 0
    f.write_text(HEADER.replace("source", "device") + "orin-nano,llama-3.2-1b,mlc,q4f16_ft,128,128,1,40,,,edgecim\n")
    code, _, err = run(capsys, "validate", "--csv", str(f))
    assert code == 2 and "given twice: device" in err


@pytest.mark.parametrize(("content", "words"), [
    (None, "file not found"),
    ("accepted\nx\n", "is not an integer >= 0"),
    ("accepted\n-1\n", "is not an integer >= 0"),
    ("foo\n1\n", "no column 'accepted'"),
    ("accepted\n", "no rows"),
    ("accepted\n2\n5\n", "line 3: accepted = 5 exceeds draft_len 4"),  # it was clamped to 4 silently
    ("accepted\n" + "9" * 5000 + "\n", "is not an integer >= 0"),  # it was int()'s digit-limit traceback
])
def test_acceptance_csv_is_checked_when_the_scenario_is_read(content: str | None, words: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "acc.csv"
    if content is not None:
        csv.write_text(content)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"decoding: {{strategy: speculative, draft: qwen3-0.6b, acceptance_csv: '{csv}'}}\n")
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--scenario", str(scenario),
                       "--engine", "des")
    assert code == 2 and words in err


def test_integers_of_thousands_of_digits_and_fractions_that_divide(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    y = tmp_path / "long.yaml"
    y.write_text("extends: orin-nano\nmemories:\n  dram:\n    bus_width_bits: " + "9" * 5000 + "\n")
    code, _, err = run(capsys, "check", str(y))
    assert code == 2 and "more than 4,300 digits" in err
    j = tmp_path / "config.json"
    j.write_text('{"hidden_size": ' + "9" * 5000 + "}")
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", str(j))
    assert code == 2 and "an integer of 5000 digits" in err
    f = tmp_path / "frac.yaml"
    f.write_text("extends: orin-nano\nmemories:\n  dram:\n    achievable_fraction: 5e-324\n")
    code, _, err = run(capsys, "simulate", "--hw", str(f), "--model", "qwen3-0.6b")
    assert code == 2 and "achievable_fraction" in err and "internal error" not in err


def test_credentials_in_storage_strings_are_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    conninfo = "host=127.0.0.1 port=1 user=u password=S3cr3tPW"
    code, out, err = run(capsys, "worker", "--storage", conninfo, "--study", "x")
    assert code == 2 and "libpq connection string" in err and "S3cr3tPW" not in out + err
    assert list(tmp_path.iterdir()) == []  # no file named after the string
    for source in (conninfo, "postgresql://u:S3cr3tPW@127.0.0.1:notaport/db"):
        code, out, err = run(capsys, "report", source, "--study", "x")
        assert code == 2 and "S3cr3tPW" not in out + err


def test_report_on_a_study_json_that_is_not_an_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert run(capsys, "explore", TINY, "--trials", "3", "--out", str(out), "--no-progress")[0] == 0
    (out / "study.json").write_text("[]")
    code, _, err = run(capsys, "report", str(out))
    assert code == 2 and "holds a JSON list" in err


def test_a_space_parameter_into_a_device_the_base_lacks_is_refused_up_front(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("base: edgecim\nparameters:\n  devices.nosuch.tiles: {choices: [8, 16]}\n"
                     "workloads: [{model: qwen3-0.6b, prompt: 16, gen: 8}]\nobjectives: [decode_latency, area]\n")
    code, _, err = run(capsys, "explore", str(space), "--trials", "2", "--out", str(tmp_path / "o"))
    assert code == 2 and "no device 'nosuch' in the base spec" in err and "one of its devices: cim" in err


def test_flags_a_run_does_not_use_are_said_not_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8", "--rate", "5",
                       "--max-batch", "4", "--memory-model", "ideal", "--json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert any("--rate, --max-batch only apply with --arrivals" in w for w in warnings)
    assert any("--memory-model applies to the DES only" in w for w in warnings)
    code, _, err = run(capsys, "case-study", "edgecim", "--trials", "-5")
    assert code == 2 and "--trials: out of range" in err
