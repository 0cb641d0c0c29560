"""An output slmsim wrote and a user edited since is not overwritten, and every refusal comes
before any work (found by an audit: explore re-ran its trials and replaced pareto.csv and
trials.csv, then refused report.html; sqlite:/// added Optuna's tables to a user's database).

How: a study folder's marker records the SHA-256 of each output as written (report.html, and a
`schema --out` file, carry their own digest with its value blanked); a file that no longer
matches is the user's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from slmsim.cli import main

TINY = str(Path(__file__).parent / "fixtures" / "tiny.yaml")


def _explore(out: Path, trials: int, *extra: str) -> int:
    return main(["explore", TINY, "--trials", str(trials), "--out", str(out), "--no-progress", "--seed", "1", *extra])


def test_an_edited_output_is_refused_before_any_trial_runs(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert _explore(out, 4) == 0
    marker = json.loads((out / ".slmsim-study").read_text())
    assert {"trials.csv", "pareto.csv", "study.json"} <= set(marker["outputs"])
    (out / "pareto.csv").write_text("my own analysis, keep me\n")
    journal = (out / "study.journal.log").read_bytes()
    capsys.readouterr()
    assert _explore(out, 8) == 2
    err = capsys.readouterr().err
    assert "pareto.csv" in err and "was changed since slmsim wrote it" in err and "nothing was run" in err
    assert (out / "pareto.csv").read_text() == "my own analysis, keep me\n"
    assert (out / "study.journal.log").read_bytes() == journal  # no trial ran
    assert _explore(out, 8, "--overwrite") == 0  # asked for: replaced
    assert (out / "pareto.csv").read_text().startswith("number,")
    assert _explore(out, 8) == 0  # and tracked again: an unedited folder resumes as before


def test_a_foreign_report_is_refused_before_the_tables_are_written(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert _explore(out, 4) == 0
    trials = (out / "trials.csv").read_bytes()
    (out / "report.html").write_text("<p>my annotated report</p>\n")
    assert _explore(out, 8) == 2
    assert "is not a report slmsim wrote" in capsys.readouterr().err
    assert (out / "trials.csv").read_bytes() == trials  # before: replaced, then the refusal


def test_an_edited_report_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert _explore(out, 4) == 0
    page = tmp_path / "r.html"
    assert main(["report", str(out), "--out", str(page)]) == 0
    assert main(["report", str(out), "--out", str(page)]) == 0  # unedited: replaced
    page.write_text(page.read_text() + "<!-- my note -->\n")
    capsys.readouterr()
    assert main(["report", str(out), "--out", str(page)]) == 2
    assert "changed since" in capsys.readouterr().err
    assert page.read_text().endswith("<!-- my note -->\n")
    # the study's own report.html carries its digest too: `report DIR` rewrites it and explore resumes
    assert main(["report", str(out)]) == 0
    assert _explore(out, 6) == 0


def test_an_edited_schema_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "hw.schema.json"
    assert main(["schema", "hardware", "--out", str(f)]) == 0
    data = json.loads(f.read_text())
    assert data["$comment"].startswith("slmsim-content-sha256:") and data["title"].startswith("slmsim")
    assert main(["schema", "hardware", "--out", str(f)]) == 0  # unedited: replaced
    data["x-my-notes"] = "mine"
    f.write_text(json.dumps(data, indent=2) + "\n")
    capsys.readouterr()
    assert main(["schema", "hardware", "--out", str(f)]) == 2
    assert "changed since" in capsys.readouterr().err
    assert json.loads(f.read_text())["x-my-notes"] == "mine"


def test_sqlite_storage_never_writes_into_someone_elses_database(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "userapp.db"
    con = sqlite3.connect(db)
    con.execute("create table customers(id int, name text)")
    con.commit()
    con.close()
    before = db.read_bytes()
    out = tmp_path / "o"
    assert _explore(out, 2, "--storage", f"sqlite:///{db}") == 2
    assert "an SQLite database of something else (tables customers)" in capsys.readouterr().err
    assert db.read_bytes() == before and not out.exists()  # untouched, and no --out left behind
    text = tmp_path / "notes.db"
    text.write_text("hello\n")
    assert _explore(out, 2, "--storage", f"sqlite:///{text}") == 2
    assert "is not an SQLite database" in capsys.readouterr().err and text.read_text() == "hello\n"
    fresh = tmp_path / "study.db"  # a new file, then the Optuna storage it became: accepted
    assert _explore(out, 2, "--storage", f"sqlite:///{fresh}") == 0
    assert _explore(out, 3, "--storage", f"sqlite:///{fresh}") == 0


@pytest.mark.parametrize("flag,name", [("--report", "r.html"), ("--trace", "t.json")])
def test_simulate_refuses_an_edited_output_before_it_simulates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch, flag: str,
                                                                name: str) -> None:
    """`simulate --report/--trace` over a file slmsim wrote and a user edited since: refused
    before the run (before: the report only when it was written, after seconds of simulation;
    the trace was replaced)."""
    f = tmp_path / name
    argv = ["simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--gen", "4", flag, str(f)]
    assert main(argv) == 0
    assert main(argv) == 0  # unedited: replaced
    if flag == "--trace":
        data = json.loads(f.read_text())
        assert set(data["otherData"]) == {"generator", "slmsim-content-sha256"}
        assert len(data["otherData"]["slmsim-content-sha256"]) == 64
        data["otherData"]["my-note"] = "keep me"
        f.write_text(json.dumps(data))
    else:
        f.write_text(f.read_text() + "<!-- keep me -->\n")
    kept = f.read_bytes()
    import slmsim.simulator.engines as engines

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("simulated before refusing the output")

    monkeypatch.setattr(engines, "run", never)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "changed since" in err and flag in err and "Traceback" not in err
    assert f.read_bytes() == kept
