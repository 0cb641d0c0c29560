"""Issue 17 for the DSE: broken storages, shared output folders, hostile names."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import optuna
import pytest

from slmsim.cli import main
from slmsim.dse.storage import JournalBackend, mask_password, redact, storage_spec

FIXTURES = Path(__file__).parent / "fixtures"
TINY = str(FIXTURES / "tiny.yaml")


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://u:pw@host/db", "postgresql://u:***@host/db"),
    ("postgresql+psycopg2://u:p@ss:w0rd@host:5432/db", "postgresql+psycopg2://u:***@host:5432/db"),
    ("postgresql://u@host/db?password=pw&sslmode=require", "postgresql://u@host/db?password=***&sslmode=require"),
    ("postgresql://host/db", "postgresql://host/db"),
    ("mysql://u:a/b@host/db", "mysql://u:***@host/db"),
])
def test_urls_are_masked(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_a_password_with_at_and_colon_reaches_the_driver_whole_and_never_a_message(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    secret = "S3nt@in:el"
    spec = storage_spec(f"postgresql://u:{secret}@127.0.0.1:1/db", out_dir=tmp_path)
    assert spec.url.endswith("u:S3nt%40in%3Ael@127.0.0.1:1/db")  # percent-encoded: SQLAlchemy parses it whole
    assert redact(f"x {secret} S3nt%40in%3Ael y", spec.url) == "x *** *** y"
    code = main(["explore", TINY, "--trials", "2", "--out", str(tmp_path / "o"), "--no-progress",
                 "--storage", f"postgresql://u:{secret}@127.0.0.1:1/db"])
    err = capsys.readouterr()
    assert code == 2 and "cannot open the storage" in err.err and "Traceback" not in err.err
    for text in (err.out, err.err, *(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())):
        assert "S3nt" not in text and "in:el" not in text and "%40in" not in text


@pytest.mark.parametrize("content", [b"hello\nworld\n", b"\x00\x01\x02binary", b"[1, 2, 3]\n", b'{"a": 1}\n'])
def test_a_storage_file_that_is_not_a_journal_is_a_clear_error(content: bytes, capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_bytes(content)
    code = main(["explore", TINY, "--trials", "2", "--out", str(tmp_path / "o"), "--storage", str(f),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "not an Optuna journal file" in err and "Traceback" not in err
    assert f.read_bytes() == content  # nothing the user wrote is changed


def test_a_torn_last_journal_line_is_cut_off_with_a_message(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", TINY, "--trials", "5", "--out", str(out), "--no-progress"]) == 0
    journal = out / "study.journal.log"
    whole = journal.read_bytes()
    with open(journal, "ab") as f:
        f.write(b'{"op_code":4,"worker_id":"x","study_id":0,"datetime_st')  # a power cut mid-line
    capsys.readouterr()
    assert main(["explore", TINY, "--trials", "8", "--out", str(out), "--no-progress"]) == 0
    io = capsys.readouterr()
    assert "last journal line was incomplete" in io.err and "truncated to the last complete record" in io.err
    assert "8 of 8 trials complete (3 this run" in io.out
    assert journal.read_bytes().startswith(whole)
    st = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    assert len(optuna.load_study(study_name="tiny", storage=st).trials) == 8  # Optuna's own reader agrees
    # a torn line that ends in a newline but is not JSON is cut off too
    with open(journal, "ab") as f:
        f.write(b'{"op_code":4,"wor\n')
    assert main(["explore", TINY, "--trials", "8", "--out", str(out), "--no-progress"]) == 0
    assert "truncated" in capsys.readouterr().err


def test_a_second_explore_on_the_same_folder_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", TINY, "--trials", "2", "--out", str(out), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    fd = os.open(out / ".slmsim-study.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running explore holds it
        os.pwrite(fd, b"pid 12345\n", 0)
        capsys.readouterr()
        assert main(["explore", TINY, "--trials", "4", "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "another `slmsim explore` is running on this folder (pid 12345)" in err
    finally:
        os.close(fd)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".slmsim-study.lock"}
    assert after == {k: v for k, v in before.items() if k != ".slmsim-study.lock"}  # nothing touched
    # the lock lives in the folder and is free again once its holder is gone
    assert main(["explore", TINY, "--trials", "4", "--out", str(out), "--no-progress"]) == 0
    assert (out / ".slmsim-study.lock").read_text() == ""


def test_another_space_on_an_existing_out_is_refused_unless_overwrite(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", TINY, "--trials", "3", "--out", str(out), "--no-progress"]) == 0
    trials_before = (out / "trials.csv").read_bytes()
    other = tmp_path / "tiny.yaml"  # same name, another space
    other.write_text((FIXTURES / "tiny.yaml").read_text().replace("area <= 40 mm^2", "area <= 30 mm^2")
                     .replace("baselines: [orin-nano]", "baselines: []"))
    capsys.readouterr()
    assert main(["explore", str(other), "--trials", "3", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds study 'tiny' of a different space" in err and "--overwrite" in err
    assert (out / "trials.csv").read_bytes() == trials_before
    assert main(["explore", str(FIXTURES.parent.parents[1] / "examples" / "space-demo.yaml"), "--trials", "3",
                 "--out", str(out), "--no-progress"]) == 2
    assert "holds study 'tiny'" in capsys.readouterr().err
    assert main(["explore", str(other), "--trials", "3", "--out", str(out), "--no-progress", "--overwrite"]) == 0
    summary = json.loads((out / "study.json").read_text())
    assert summary["constraints"][0]["bound"] == 30.0 and summary["n_trials_complete"] == 3


def test_a_hostile_space_name_writes_nothing_outside_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    space = work / "s.yaml"
    space.write_text("name: ../../x\n" + (FIXTURES / "tiny.yaml").read_text().replace("baselines: [orin-nano]",
                                                                                      "baselines: []"))
    monkeypatch.chdir(work)
    assert main(["explore", str(space), "--trials", "2", "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.rglob("*") if p.parent == tmp_path) == ["a"]
    assert (work / "out" / "x" / "study.json").is_file()
    assert json.loads((work / "out" / "x" / "study.json").read_text())["study_name"] == "../../x"


def test_journal_backend_is_optunas_format(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    st = optuna.storages.JournalStorage(JournalBackend(path))
    study = optuna.create_study(storage=st, study_name="s")
    study.add_trial(optuna.trial.create_trial(params={"x": 1.0}, distributions={
        "x": optuna.distributions.FloatDistribution(0, 2)}, value=3.0))
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2  # create the study; one record for the whole trial
    other = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    assert optuna.load_study(study_name="s", storage=other).trials[0].value == 3.0
