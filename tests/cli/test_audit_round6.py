"""The bad-input audit of 2026-12-07 (schema, explore, report, serve-storage, case-study,
examples): nothing a user wrote is overwritten, no hang on a device or a pipe, and each refusal
says what is wrong with the value the user gave."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.cli._audit import run

SPACE = Path(__file__).resolve().parents[2] / "examples" / "space-demo.yaml"


def test_schema_out_never_replaces_a_schema_slmsim_did_not_write(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "team.schema.json"
    text = '{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "my team config"}'
    mine.write_text(text)
    code, _, err = run(capsys, "schema", "hardware", "--out", str(mine))
    assert code == 2 and "not a schema slmsim wrote" in err and mine.read_text() == text
    ours = tmp_path / "hw.schema.json"
    assert run(capsys, "schema", "hardware", "--out", str(ours))[0] == 0
    assert run(capsys, "schema", "model", "--out", str(ours))[0] == 0  # its own output is rewritten
    assert '"title": "slmsim model spec"' in ours.read_text()


def test_schema_out_on_a_pipe_or_a_device_is_refused_without_reading_it(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would block for ever
    code, _, err = run(capsys, "schema", "hardware", "--out", str(fifo))
    assert code == 2 and "is not a regular file" in err
    code, _, err = run(capsys, "schema", "hardware", "--out", "/dev/zero")  # reading it would never end
    assert code == 2 and "is not a regular file" in err


def test_explore_never_treats_a_users_study_json_as_a_study(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "study.json").write_text('{"my": "own study notes"}')
    (out / "trials.csv").write_text("my,own,csv\n")
    code, _, err = run(capsys, "explore", str(SPACE), "--trials", "2", "--out", str(out), "--no-progress",
                       "--overwrite")
    assert code == 2 and "its study.json is not a summary slmsim wrote" in err and "None" not in err
    assert sorted(p.name for p in out.iterdir()) == ["study.json", "trials.csv"]  # no lock left, nothing replaced
    assert (out / "study.json").read_text() == '{"my": "own study notes"}'


@pytest.mark.parametrize(("url", "needle"), [("sqlite:///", "names no database file"),
                                             ("sqlite://", "names no database file"),
                                             ("sqlite:///:memory:", "names no database file")])
def test_explore_refuses_a_sqlite_url_that_keeps_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         url: str, needle: str) -> None:
    code, _, err = run(capsys, "explore", str(SPACE), "--trials", "2", "--out", str(tmp_path / "o"), "--no-progress",
                       "--storage", url)
    assert code == 2 and needle in err


def test_sqlite_in_a_missing_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/nodir/x.db"
    code, _, err = run(capsys, "explore", str(SPACE), "--trials", "2", "--out", str(tmp_path / "o"), "--no-progress",
                       "--storage", url)
    assert code == 2 and f"the folder {tmp_path}/nodir of the SQLite file does not exist" in err
    code, _, err = run(capsys, "report", url, "--study", "s")
    assert code == 2 and "no such file" in err and "server" not in err


def test_report_reads_a_plain_postgresql_url_with_the_installed_driver(capsys: pytest.CaptureFixture[str]) -> None:
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3; explore named the installed driver, report did not
    (ImportError, 'install psycopg2-binary' although it was installed). Port 1: nothing listens."""
    pytest.importorskip("psycopg2")
    code, _, err = run(capsys, "report", "postgresql://u:secret@127.0.0.1:1/x", "--study", "s")
    assert code == 2 and "ImportError" not in err and "Connection refused" in err
    assert "secret" not in err


def test_report_on_a_file_that_is_no_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("x\n")
    code, _, err = run(capsys, "report", str(path))
    assert code == 2 and "neither an Optuna journal file" in err and path.read_text() == "x\n"


@pytest.mark.parametrize("argv", [["elmoe3d", "--trials", "5"], ["claims", "--no-dse"]])
def test_case_study_flags_of_another_study_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       argv: list[str]) -> None:
    code, _, err = run(capsys, "case-study", *argv, "--out", str(tmp_path / "o"))
    assert code == 2 and "to the edgecim case study only" in err
    assert not (tmp_path / "o").exists()  # refused before anything ran or was written


def test_serve_storage_blames_the_host_it_cannot_resolve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "serve-storage", "--storage", f"sqlite:///{tmp_path}/s.db", "--host", "999.1.1.1",
                       "--port", "13517")
    assert code == 2 and "--host: cannot be resolved" in err and "--port" not in err


def test_examples_copy_under_a_file_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "decoding").write_text("mine\n")
    code, _, err = run(capsys, "examples", "--copy", str(tmp_path))
    assert code == 2 and f"{tmp_path / 'decoding'} is a file" in err
    assert (tmp_path / "decoding").read_text() == "mine\n"


def test_serving_flag_messages(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b")
    code, _, err = run(capsys, *base, "--arrivals", "poisson")
    assert code == 2 and "hint:     add --rate R" in err
    code, out, _ = run(capsys, *base, "--arrivals", "closed", "--concurrency", "2", "--requests", "4", "--rate", "3",
                       "--json")
    assert code == 0 and any("--rate is ignored with --arrivals closed" in w for w in json.loads(out)["warnings"])
    code, out, _ = run(capsys, *base, "--concurrency", "4", "--json")
    assert any(w.startswith("--concurrency only applies with --arrivals") for w in json.loads(out)["warnings"])


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative outputs (out/...) land here
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


@pytest.mark.parametrize(("argv", "lines"), [
    (["simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--concurrency", "2.5"],
     ["<command line>: --concurrency: invalid int value: '2.5'", "value:    '2.5'",
      "hint:     `slmsim simulate --help` lists every flag"]),
    (["simulat"], ["invalid choice: 'simulat'", "did you mean 'simulate'?"]),
    (["simulate", "--hw", "orin-nano", "--model", "x", "--routing", "zipff"], ["did you mean 'zipf'?"]),
    (["explore"], ["the following arguments are required: space"]),
])
def test_argparse_errors_read_like_every_other_input_error(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                           lines: list[str]) -> None:
    from slmsim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "usage:" not in err  # no 30-line usage dump before the one line that matters
    for line in lines:
        assert line in err


def test_explore_out_and_storage_that_cannot_be_made_are_input_errors(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Audit E of 2026-12-07: --out or --storage under a file, in /proc, or on a device was a
    traceback (exit 1), and --storage /dev/null left a /dev/null.flock beside the device."""
    afile = tmp_path / "afile"
    afile.write_text("mine")
    cases = [(["--out", str(afile / "sub")], "is a file, so nothing can be written under it"),
             (["--out", "/proc/slmsim-nowhere"], "cannot be written"),
             (["--out", str(tmp_path / "o1"), "--storage", str(afile / "j.log")], "is a file, so nothing"),
             (["--out", str(tmp_path / "o2"), "--storage", "/proc/slmsim-nowhere/j.log"], "cannot be written"),
             (["--out", str(tmp_path / "o3"), "--storage", "/dev/null"], "is not a regular file")]
    for flags, words in cases:
        code, _, err = run(capsys, "explore", str(SPACE), "--trials", "2", "--no-progress", *flags)
        assert code == 2 and words in err, (flags, err)
    assert afile.read_text() == "mine" and not Path("/dev/null.flock").exists()
    assert not any((tmp_path / f"o{i}").exists() for i in (1, 2, 3))  # a bad --storage makes no --out folder


def test_a_strict_constraint_is_refused_not_read_as_inclusive(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Audit E of 2026-12-07: 'area < 45.6 mm^2' was enforced as <=, so a 45.6 mm^2 design was
    feasible and on the front while the report showed the strict text."""
    import yaml

    space = yaml.safe_load(SPACE.read_text())
    space["constraints"] = ["area < 80 mm^2", "tokens_per_s > 1"]
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(space))
    code, _, err = run(capsys, "explore", str(path), "--trials", "2", "--out", str(tmp_path / "o"))
    assert code == 2 and "'<' is a strict bound" in err and "'>' is a strict bound" in err and "write <=" in err
    assert not (tmp_path / "o").exists()


def test_resume_says_that_edited_baselines_are_not_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit E of 2026-12-07: an edited `baselines:` was silently ignored on resume."""
    import yaml

    space = yaml.safe_load(SPACE.read_text())
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(space))
    out = tmp_path / "o"
    code, _, err = run(capsys, "explore", str(path), "--trials", "2", "--out", str(out), "--no-progress")
    assert code == 0 and "differ from the study's" not in err
    space["baselines"] = [*space["baselines"], "raspberry-pi-5"]  # the demo's base is a preset: no paths to fix
    path.write_text(yaml.safe_dump(space))
    code, _, err = run(capsys, "explore", str(path), "--trials", "3", "--out", str(out), "--no-progress")
    assert code == 0 and "baselines in" in err and "differ from the study's" in err
    assert "raspberry-pi-5" not in [b["name"] for b in json.loads((out / "study.json").read_text())["baselines"]]


def test_a_bound_no_design_can_meet_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit E of 2026-12-07: 'area <= -5 mm^2' ran every trial to an infeasible study."""
    import yaml

    space = yaml.safe_load(SPACE.read_text())
    space["constraints"] = ["area <= -5 mm^2", {"metric": "decode_latency", "max": "0 ms"}, "area <= 500 mm^2"]
    path = tmp_path / "never.yaml"
    path.write_text(yaml.safe_dump(space))
    code, _, err = run(capsys, "explore", str(path), "--trials", "2", "--out", str(tmp_path / "o"))
    assert code == 2 and err.count("can never be met") == 2 and "500" not in err
