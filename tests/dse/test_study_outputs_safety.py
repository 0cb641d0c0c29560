"""What `report` and `explore` do around a user's files and a growing study (found by an audit):
nothing the user wrote is overwritten, a folder that holds no study is refused, a report
says when the journal has grown past its table, names a Pareto design as the best, counts
distinct designs, and shows quantities with their units."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slmsim.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
TINY = str(FIXTURES / "tiny.yaml")


def test_report_refuses_a_folder_that_holds_no_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "report.html").write_text("keep\n")
    (tmp_path / "trials.csv").write_text("a,b\n")
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a study directory" in capsys.readouterr().err
    assert (tmp_path / "report.html").read_text() == "keep\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("s") / "o"
    assert main(["explore", TINY, "--trials", "30", "--out", str(out), "--no-progress", "--seed", "1"]) == 0
    return out


def test_report_never_overwrites_a_file_slmsim_did_not_write(study: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes\n")
    assert main(["report", str(study), "--out", str(mine)]) == 2
    assert "is not a report slmsim wrote" in capsys.readouterr().err
    assert mine.read_text() == "my notes\n"
    before = (study / "trials.csv").read_bytes()
    assert main(["report", str(study), "--out", str(study / "trials.csv")]) == 2
    assert (study / "trials.csv").read_bytes() == before
    again = tmp_path / "r.html"  # a report slmsim wrote is replaced, as before
    assert main(["report", str(study), "--out", str(again)]) == 0
    assert main(["report", str(study), "--out", str(again)]) == 0
    assert '<meta name="generator" content="slmsim ' in again.read_text()[:2000]


def test_report_says_when_the_journal_has_grown_past_its_table(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["explore", TINY, "--trials", "12", "--jobs", "0", "--out", str(out), "--no-progress"]) == 0
    assert main(["worker", "--storage", str(out / "study.journal.log"), "--study", "tiny", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "journal now holds 12 completed trials" in err and "shows the 0 trials" in err
    assert "journal now holds 12 completed trials" in (out / "report.html").read_text()


def test_the_summary_names_pareto_designs_and_only_this_runs_trials(study: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    assert main(["explore", TINY, "--trials", "30", "--out", str(study), "--no-progress", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "(0 this run" in text  # the study already had its 30: an earlier run's trials are not this run's
    pareto = set(pd.read_csv(study / "pareto.csv")["number"])
    named = {int(n) for n in re.findall(r"best .*\(trial (\d+)\)", text)}
    assert named and named <= pareto


def test_the_report_counts_distinct_infeasible_designs_and_states_its_setup(study: Path) -> None:
    from slmsim.reports import study_figures as F
    from slmsim.reports.study import build_page
    from slmsim.reports.study_data import load_study_dir

    data = load_study_dir(study)
    fig = F.pareto_front(data)
    infeasible = [t for t in fig.data if t.name and t.name.startswith("infeasible")]
    distinct = int((data.trials["rep"] & data.trials["complete"] & ~data.trials["feasible"]).sum())
    if infeasible:
        assert infeasible[0].name == f"infeasible ({len(infeasible[0].x)})"
        assert len(infeasible[0].x) <= distinct
    page = build_page(data)
    setup = next(s for s in page.sections if s.anchor == "setup")
    assert "Area counts the devices" in " ".join(b.text for b in setup.blocks if hasattr(b, "text"))


def test_quantity_choices_read_with_their_units() -> None:
    from slmsim.reports.study_data import Param
    from slmsim.reports.study_figures import _category_label, fmt_param

    bw = Param(path="memories.dram.bandwidth", column="param:memories.dram.bandwidth", kind="categorical",
               unit="B/s", choices=(68e9, 273e9))
    assert fmt_param(bw, 273e9) == "273 GB/s"
    assert _category_label("273000000000.0", "B/s") == "273 GB/s"
    tiles = Param(path="devices.cim.tiles", column="param:devices.cim.tiles", kind="categorical", choices=(8, 16))
    assert fmt_param(tiles, 16.0) == "16" and _category_label("16.0", "") == "16"
    assert _category_label("m128x128", "") == "m128x128"


def test_reason_groups_keep_the_digits_of_names_and_units() -> None:
    from slmsim.reports.study_figures import _NUMBER

    text = "qwen3-8b: violates area <= 60 mm^2 (71.2 mm^2)"
    assert _NUMBER.sub("#", text) == "qwen3-8b: violates area <= # mm^2 (# mm^2)"


def test_a_refused_storage_file_gets_no_lock_file_beside_it(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    assert main(["explore", TINY, "--trials", "2", "--storage", str(notes), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "o") == ["notes.txt"]
    assert notes.read_text() == "hello\n"


def test_a_report_from_storage_knows_units_workloads_and_constraints(study: Path) -> None:
    """Read from the journal alone, the report takes what study.json would say from the
    configuration slmsim stores in the study."""
    from slmsim.reports.study_data import load_study_dir, load_study_storage

    stored = load_study_storage(str(study / "study.journal.log"))
    from_dir = load_study_dir(study)
    assert {p.path: p.unit for p in stored.params} == {p.path: p.unit for p in from_dir.params}
    assert [w["name"] for w in stored.workloads] == [w["name"] for w in from_dir.workloads]
    assert stored.meta["engine"] == "analytic"
