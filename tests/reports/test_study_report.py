"""The study report: reading the study DIR contract (or Optuna storage), the figures' facts,
`write_study_report`, `slmsim report`, and the size of a 500-trial report."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from slmsim.reports import decision as D
from slmsim.reports import style
from slmsim.reports import study_figures as F
from slmsim.reports.pareto import hypervolume
from slmsim.reports.study import build_page, write_storage_report, write_study_report
from slmsim.reports.study_data import load_study_dir, load_study_storage, open_storage
from slmsim.cli import main
from slmsim.core.errors import SpecError

# loading ---------------------------------------------------------------------------------


def test_load_study_dir_reads_the_contract(study2: Path) -> None:
    data = load_study_dir(study2)
    meta = json.loads((study2 / "study.json").read_text())
    assert data.name == meta["study_name"]
    assert [o.metric for o in data.objectives] == ["decode_latency_s", "energy_per_token_j"]
    assert [p.path for p in data.params] == [p["path"] for p in meta["params"]]
    assert [b.name for b in data.baselines] == ["orin-nano", "sa8255p", "edgecim"]
    assert data.workload_names == ["qwen3-0.6b", "llama-3.2-1b", "qwen3-4b"]
    df = data.trials
    assert len(df) == 60 and set(df["state"]) == {"COMPLETE", "FAIL"}
    assert (~df["feasible"] & df["complete"]).any(), "the fixture should have infeasible trials"
    assert not df.loc[df["pareto"], "infeasible_reason"].any()
    pareto_csv = set(pd.read_csv(study2 / "pareto.csv")["number"])
    assert set(df.loc[df["pareto"], "number"]) == pareto_csv


def test_front_is_recomputed_without_pareto_csv(study2: Path, tmp_path: Path) -> None:
    copy = tmp_path / "s"
    shutil.copytree(study2, copy)
    (copy / "pareto.csv").unlink()
    (copy / "trials.parquet").unlink()  # and the CSV alone is enough
    data = load_study_dir(copy)
    assert set(data.front["number"]) == set(pd.read_csv(study2 / "pareto.csv")["number"])


def test_missing_or_broken_inputs_are_input_errors(tmp_path: Path, study2: Path) -> None:
    with pytest.raises(SpecError, match="is not a directory"):
        load_study_dir(tmp_path / "nope")
    with pytest.raises(SpecError, match="no trials.parquet or trials.csv"):
        load_study_dir(tmp_path)
    copy = tmp_path / "s"
    shutil.copytree(study2, copy)
    with pytest.raises(SpecError, match="holds study 'toy-cim-2obj', not 'other'"):
        load_study_dir(copy, study_name="other")
    (copy / "study.json").write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_study_dir(copy)
    (copy / "study.json").unlink()
    data = load_study_dir(copy)  # columns alone still make a report
    assert [o.column for o in data.objectives] == ["obj:decode_latency_s", "obj:energy_per_token_j"]
    assert data.notes


def test_storage_mode_reads_optuna_directly(study2: Path) -> None:
    journal = study2 / "optuna-journal.log"
    for source in (str(journal), f"journal:{journal}"):
        data = load_study_storage(source)
        assert data.name == "toy-cim-2obj" and len(data.trials) == 60
        from_dir = load_study_dir(study2)
        ok = data.trials.set_index("number")["ok"]
        assert ok.equals(from_dir.trials.set_index("number")["ok"])  # feasibility from Optuna's constraints
        assert set(data.front["number"]) == set(from_dir.front["number"])
        assert data.metric_column("area_mm2") == "metric:area_mm2"  # from the trials' user attributes


def test_storage_errors(study2: Path, tmp_path: Path) -> None:
    journal = str(study2 / "optuna-journal.log")
    with pytest.raises(SpecError, match="has no study 'toy-cim-2ob'") as err:
        load_study_storage(journal, study_name="toy-cim-2ob")
    assert "did you mean 'toy-cim-2obj'" in str(err.value)
    with pytest.raises(SpecError, match="no such storage"):
        open_storage(str(tmp_path / "missing.log"))
    db = tmp_path / "two.db"
    for name in ("a", "b"):
        optuna.create_study(study_name=name, storage=f"sqlite:///{db}")
    with pytest.raises(SpecError, match="holds 2 studies"):
        load_study_storage(f"sqlite:///{db}")
    assert load_study_storage(str(db), study_name="a").trials.empty  # an SQLite file by path is recognised


# figures ---------------------------------------------------------------------------------


def test_pareto_front_figure(study2: Path) -> None:
    data = load_study_dir(study2)
    fig = F.pareto_front(data)
    by_name = {t.name.split(" (")[0]: t for t in fig.data}
    assert len(by_name["Pareto-optimal"].x) == int(data.trials["pareto"].sum())
    assert len(by_name["dominated"].x) == int((data.trials["ok"] & data.trials["rep"] & ~data.trials["pareto"]).sum())
    assert list(by_name["baselines"].text) == ["orin-nano", "sa8255p", "edgecim"]
    assert by_name["infeasible"].visible == "legendonly"
    hover = by_name["Pareto-optimal"].text[0]
    for p in data.params:  # hover shows every parameter
        assert p.path in hover
    assert by_name["dominated"].marker.color == style.DOMINATED  # grey, never the pale end of a colour scale


def test_three_objectives_get_the_pairs_view(study3: Path) -> None:
    data = load_study_dir(study3)
    fig = F.pareto_pairs(data)
    assert {ax for ax in fig.layout if ax.startswith("xaxis")} == {"xaxis", "xaxis2", "xaxis3"}
    assert F.colour_metric(data)[0] == "obj:area_mm2"
    page = build_page(data)
    front_section = next(s for s in page.sections if s.anchor == "front")
    assert len(front_section.blocks) == 2


def test_hypervolume_series_recorded_and_recomputed(study2: Path) -> None:
    data = load_study_dir(study2)
    nums, hv, source = F.hypervolume_series(data)
    assert source == "as recorded by the study" and len(nums) == 60
    from dataclasses import replace

    mine = replace(data, hv_history=None)
    nums2, hv2, source2 = F.hypervolume_series(mine)
    assert source2 == "computed here"
    assert hv2[-1] == pytest.approx(hv[-1], rel=1e-9)  # same reference point (study.json) -> same value
    assert np.all(np.diff(hv2) >= 0)
    front = data.front[[o.column for o in data.objectives]].to_numpy()
    assert hv2[-1] == pytest.approx(hypervolume(front, np.array(data.hv_reference)))


def test_importances_and_their_failures(study2: Path, tmp_path: Path) -> None:
    data = load_study_dir(study2)
    imp = F.importances(data)
    assert set(imp.values) == {"decode latency per token", "energy per token"}
    for vals in imp.values.values():
        assert sum(vals.values()) == pytest.approx(1.0)
    latency = imp.values["decode latency per token"]
    # the toy model's latency is set by bandwidth and compute; the DRAM kind does not enter it
    assert max(latency, key=latency.get) in ("memories.dram.bandwidth", "devices.cim.macro_count")
    assert latency.get("memories.dram.kind", 0.0) < 0.1
    few = load_study_dir(study2)
    few.trials.loc[few.trials.index[3:], "ok"] = False
    assert F.importances(few).values == {} and "at least 4 feasible trials" in F.importances(few).notes[0]


def test_pareto_rows_ratios(study2: Path) -> None:
    data = load_study_dir(study2)
    rows = F.pareto_rows(data)
    assert len(rows) == int(data.trials["pareto"].sum())
    assert sum(r.knee for r in rows) == 1
    orin = next(b for b in data.baselines if b.name == "orin-nano")
    r = rows[0]
    row = data.trials[data.trials["number"] == r.number].iloc[0]
    # geometric mean over the workloads of the per-workload ratios (not a ratio of arithmetic means,
    # which the largest model would decide)
    runs = [w for w in data.workload_names if orin.per_workload.get(w)]
    speed = [orin.per_workload[w]["decode_latency_s"] / row[f"wl:{w}:decode_latency_s"] for w in runs]
    eff = [row[f"wl:{w}:tokens_per_j"] / orin.per_workload[w]["tokens_per_j"] for w in runs]
    assert r.speedup["orin-nano"] == pytest.approx(float(np.prod(speed)) ** (1 / len(speed)))
    assert r.tokens_per_j_ratio["orin-nano"] == pytest.approx(float(np.prod(eff)) ** (1 / len(eff)))
    assert r.ratios["orin-nano"].per_workload[runs[0]][0] == pytest.approx(speed[0])
    assert D.geomean([2.0, 8.0]) == pytest.approx(4.0) and D.geomean([]) is None
    assert F.ratio(2.0, 4.0, higher_is_better=False) == 2.0 and F.ratio(None, 1.0, higher_is_better=True) is None


def test_per_workload_figure_and_selector(study2: Path) -> None:
    data = load_study_dir(study2)
    choices = F.workload_choices(data)
    assert choices[0] == F.knee_number(data) and len(set(choices)) == len(choices)
    fig = F.per_workload(data, choices[0], compare=choices)
    restyles = F.per_workload_restyles(data, fig, choices)
    design = [t for t in fig.data if t.meta == "design"]
    assert len(design) == 3  # latency, tokens/J, TTFT
    first, traces = restyles[0]
    assert [list(y) for y in first["y"]] == [list(t.y) for t in design]  # the first choice is what is drawn
    row = data.trials[data.trials["number"] == choices[-1]].iloc[0]
    last = restyles[-1][0]["y"][0]
    scale = 1e3  # ms
    assert last[0] == pytest.approx(row["wl:qwen3-0.6b:decode_latency_s"] * scale)


def test_infeasible_summary_groups_reasons(study2: Path) -> None:
    data = load_study_dir(study2)
    groups = F.infeasible_summary(data)
    assert sum(n for _, n, _ in groups) >= int((data.trials["complete"] & ~data.trials["feasible"]).sum())
    assert all("#" in pattern for pattern, _, _ in groups)


# writing ---------------------------------------------------------------------------------


def test_write_study_report(study2: Path, tmp_path: Path) -> None:
    out = write_study_report(study_dir=study2, out_html=tmp_path / "report.html")
    text = out.read_text()
    for anchor in ("summary", "front", "designs", "workloads", "convergence", "importance", "parallel", "infeasible"):
        assert f'id="{anchor}"' in text
    assert text.count("plotly.js (basic - minified) v") == 1


def test_write_storage_report(study2: Path, tmp_path: Path) -> None:
    out = write_storage_report(storage=str(study2 / "optuna-journal.log"), out_html=tmp_path / "r.html")
    assert 'id="front"' in out.read_text()


def test_500_trial_report_is_small_and_quick(study500: Path, tmp_path: Path) -> None:
    t0 = time.perf_counter()
    out = write_study_report(study_dir=study500, out_html=tmp_path / "report.html")
    took = time.perf_counter() - t0
    size = out.stat().st_size
    print(f"500-trial report: {size / 1e6:.2f} MB in {took:.1f} s")
    assert size < 10e6
    assert took < 30


def test_report_with_no_feasible_trial(study2: Path, tmp_path: Path) -> None:
    copy = tmp_path / "s"
    shutil.copytree(study2, copy)
    df = pd.read_parquet(copy / "trials.parquet")
    df["feasible"] = False
    df["infeasible_reason"] = "area 999 mm2 > 150 mm2"
    df.to_parquet(copy / "trials.parquet")
    (copy / "pareto.csv").write_text(",".join(df.columns) + "\n")
    text = write_study_report(study_dir=copy, out_html=copy / "r.html").read_text()
    assert "No feasible trial" in text and 'id="infeasible"' in text


# CLI -------------------------------------------------------------------------------------


def test_report_cli_dir_default_out(study2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "s"
    shutil.copytree(study2, copy)
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").is_file()
    assert f"report written to {copy / 'report.html'}" in capsys.readouterr().out


def test_report_cli_storage(study2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", f"journal:{study2 / 'optuna-journal.log'}", "--study", "toy-cim-2obj"]) == 0
    assert (tmp_path / "toy-cim-2obj-report.html").is_file()
    assert main(["report", str(study2 / "optuna-journal.log"), "--out", str(tmp_path / "x.html")]) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["report", "/nonexistent/study"], "no such study directory or storage"),
    (["report", "{study}", "--study", "other"], "holds study 'toy-cim-2obj', not 'other'"),
    (["report", "{journal}", "--study", "nope"], "has no study 'nope'"),
    (["report", "{study}", "--out", "{study}"], "is a directory"),
])
def test_report_cli_errors(args: list[str], message: str, study2: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(study=study2, journal=study2 / "optuna-journal.log") for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# the DSE's spelling, and large studies ---------------------------------------------------


def test_dse_style_objective_names_and_constraints(study2: Path, tmp_path: Path) -> None:
    """`slmsim explore` names objectives by metric (`decode_latency`, column `obj:decode_latency`)
    while metric columns carry the unit (`metric:decode_latency_s`); constraints are dicts."""
    copy = tmp_path / "s"
    shutil.copytree(study2, copy)
    meta = json.loads((copy / "study.json").read_text())
    ren = {"obj:decode_latency_s": "obj:decode_latency", "obj:energy_per_token_j": "obj:energy_per_token"}
    meta["objectives"] = [{"metric": "decode_latency", "direction": "minimize", "column": "obj:decode_latency",
                           "unit": "s"},
                          {"metric": "energy_per_token", "direction": "minimize", "column": "obj:energy_per_token",
                           "unit": "J"}]
    meta["constraints"] = [{"metric": "area", "op": "<=", "bound": 150.0, "unit": "mm^2",
                            "text": "area <= 150 mm^2"}]
    (copy / "study.json").write_text(json.dumps(meta))
    for name in ("trials.csv", "pareto.csv"):
        pd.read_csv(copy / name).rename(columns=ren).to_csv(copy / name, index=False)
    pd.read_parquet(copy / "trials.parquet").rename(columns=ren).to_parquet(copy / "trials.parquet")
    data = load_study_dir(copy)
    assert [o.metric for o in data.objectives] == ["decode_latency_s", "energy_per_token_j"]
    fig = F.pareto_front(data)
    assert any(t.name == "baselines" and len(t.x) == 3 for t in fig.data)
    assert F.pareto_rows(data)[0].speedup["orin-nano"] > 1
    text = write_study_report(study_dir=copy, out_html=copy / "r.html").read_text()
    assert "area &lt;= 150 mm^2" in text and "{&#x27;metric&#x27;" not in text


def test_large_studies_are_thinned(study2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "MAX_LINES", 500)
    copy = tmp_path / "big"
    copy.mkdir()
    shutil.copy(study2 / "study.json", copy)
    df = pd.read_parquet(study2 / "trials.parquet")
    big = pd.concat([df] * 40, ignore_index=True)
    big["number"] = np.arange(len(big))
    # distinct designs (identical copies would be merged into one design each)
    big["param:devices.cim.macro.clock"] *= 1 + 1e-3 * (big["number"] // len(df))
    big.to_parquet(copy / "trials.parquet")
    meta = json.loads((copy / "study.json").read_text())
    meta["hypervolume_history"] = None
    (copy / "study.json").write_text(json.dumps(meta))
    data = load_study_dir(copy)
    assert len(data.trials) == 2400 > F.MAX_FULL_HOVER
    dominated = next(t for t in F.pareto_front(data).data if t.name.startswith("dominated"))
    assert "parameters" not in dominated.text[0] and dominated.text[0].startswith("trial ")
    lines = next(t for t in F.parallel_coordinates(data).data if t.name.startswith("dominated"))
    assert "500 of" in lines.name
    out = write_study_report(study_dir=copy, out_html=copy / "r.html")
    assert out.stat().st_size < 10e6


def test_maximised_objective(tmp_path: Path, baselines: list) -> None:
    """decode latency (min) against tokens per joule (max): the front, the knee and the
    best-so-far follow each objective's direction."""
    from studyfix import make_study_dir

    d = make_study_dir(tmp_path / "s", n_trials=50, objectives=("decode_latency_s", "tokens_per_j"),
                       directions=("minimize", "maximize"), baselines=baselines)
    data = load_study_dir(d)
    assert [o.minimize for o in data.objectives] == [True, False]
    (d / "pareto.csv").unlink()
    recomputed = load_study_dir(d)
    assert set(recomputed.front["number"]) == set(data.front["number"])  # our front == Optuna's
    fig = F.convergence(data)
    best_tpj = [t for t in fig.data if t.name == "best tokens per joule"][0]
    ys = [y for y in best_tpj.y if y == y]
    assert ys == sorted(ys)  # best so far of a maximised objective only goes up
    from dataclasses import replace

    _, hv, source = F.hypervolume_series(replace(data, hv_history=None))
    assert source == "computed here" and hv[-1] > 0
    assert 'id="front"' in write_study_report(study_dir=d, out_html=d / "r.html").read_text()


def test_single_objective_study(tmp_path: Path, baselines: list) -> None:
    from studyfix import make_study_dir

    d = make_study_dir(tmp_path / "s", n_trials=30, objectives=("decode_latency_s",), baselines=baselines)
    text = write_study_report(study_dir=d, out_html=d / "r.html").read_text()
    assert "A single-objective study has no front" in text and 'id="convergence"' in text


def test_duplicate_designs_are_merged(study2: Path, tmp_path: Path) -> None:
    """Trials that proposed the same parameters are one design: one row, one point, "×N trials",
    counted once in the front, whatever pareto.csv lists (it may list every duplicate)."""
    copy = tmp_path / "dup"
    shutil.copytree(study2, copy)
    df = pd.read_parquet(copy / "trials.parquet")
    front = pd.read_csv(copy / "pareto.csv")
    n0, n_front = len(df), len(front)
    # three more trials that repeat the first front design, one with its float written as CSV rounds it
    first = df[df["number"] == front["number"].min()].iloc[0]
    extra = pd.DataFrame([first] * 3)
    extra["number"] = np.arange(n0, n0 + 3)
    extra.loc[extra.index[0], "param:devices.cim.macro.clock"] = float(f"{first['param:devices.cim.macro.clock']:.9g}")
    big = pd.concat([df, extra], ignore_index=True)
    big.to_parquet(copy / "trials.parquet")
    pd.concat([front, extra[front.columns]]).to_csv(copy / "pareto.csv", index=False)
    data = load_study_dir(copy)
    assert int(data.trials["pareto"].sum()) == n_front  # not n_front + 3
    rep = data.trials[data.trials["number"] == int(first["number"])].iloc[0]
    assert rep["rep"] and rep["n_trials"] == 4
    assert data.trials[data.trials["number"] >= n0]["design"].eq(int(first["number"])).all()
    rows = F.pareto_rows(data)
    assert len(rows) == n_front and len({r.number for r in rows}) == n_front
    assert next(r for r in rows if r.number == int(first["number"])).n_trials == 4
    page = build_page(data)
    text = write_study_report(study_dir=copy, out_html=copy / "r.html").read_text()
    assert f"{int(first['number'])} ×4" in text
    assert page.sections[0].title == "Decision"


def test_one_at_a_time_sensitivity_of_a_real_study(tmp_path: Path) -> None:
    """Around the recommended design of a real `slmsim explore` study: DRAM bandwidth cannot
    change area (exactly 0%), and more bandwidth never makes DRAM-streaming decode slower."""
    from slmsim.reports import sensitivity as S

    space = Path(__file__).parents[2] / "examples" / "space-demo.yaml"
    out = tmp_path / "demo"
    assert main(["explore", str(space), "--trials", "20", "--out", str(out), "--no-progress"]) == 0
    data = load_study_dir(out)
    knee = F.knee_number(data)
    from slmsim.study_probe import evaluator_factory

    sens, why = S.one_at_a_time(data, knee, factory=evaluator_factory)
    assert sens is not None, why
    bw = next(s for s in sens.sweeps if s.param == "memories.dram.bandwidth")
    area = [v for v in bw.objective_values["area"] if v is not None]
    assert area and all(v == pytest.approx(sens.centre["area"], rel=1e-12) for v in area)
    lat = [v for v in bw.objective_values["decode latency per token"] if v is not None]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(lat, lat[1:]))
    row = data.trials[data.trials["number"] == knee].iloc[0]
    assert sens.centre["decode latency per token"] == pytest.approx(row[data.objectives[0].column], rel=1e-9)
    # without the space file: a note, no failure
    meta = json.loads((out / "study.json").read_text())
    meta["space_file"] = "nowhere.yaml"
    (out / "study.json").write_text(json.dumps(meta))
    none, why = S.one_at_a_time(load_study_dir(out), knee, factory=evaluator_factory)
    assert S.one_at_a_time(data, knee, factory=None)[0] is None
    assert none is None and "not found" in why
    assert "Parameter importances" in write_study_report(study_dir=out, out_html=out / "r.html").read_text()


def test_a_password_in_the_storage_url_is_never_printed_or_written(tmp_path: Path) -> None:
    """Audit of 2026-12-04: `slmsim report URL` wrote the URL's password into the report's
    source line and into its "has no study" / "holds no study" errors."""
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}?password=S3cretPW"
    for name in ("a", "b"):
        optuna.create_study(study_name=name, storage=f"sqlite:///{db}")
    for kwargs, words in (({}, "holds 2 studies"), ({"study_name": "nope"}, "has no study 'nope'")):
        with pytest.raises(SpecError, match=words) as err:
            load_study_storage(url, **kwargs)
        assert "S3cretPW" not in str(err.value) and "***" in str(err.value)
    out = write_storage_report(storage=url, study_name="a", out_html=tmp_path / "r.html")
    text = out.read_text()
    assert "S3cretPW" not in text and "password=***" in text


def test_a_missing_sqlite_file_is_named_without_its_query_or_password(tmp_path: Path) -> None:
    """The query of a sqlite URL (driver options) is not part of the file name: a file that is
    there is found, and one that is not is named without the password the query carries."""
    url = f"sqlite:///{tmp_path / 'gone.db'}?password=S3cretPW"
    with pytest.raises(SpecError, match="no such file") as err:
        load_study_storage(url)
    assert "S3cretPW" not in str(err.value)
    assert f"no such file: {tmp_path / 'gone.db'}\n" in str(err.value) + "\n"


def test_parameter_values_print_as_the_space_wrote_them() -> None:
    """Audit of 2026-12-07: an integer range printed 8.000 and a boolean choice 1 / 0."""
    from slmsim.reports.study_data import Param

    tiles = Param(path="devices.cim.tiles", column="param:devices.cim.tiles", kind="int", low=4, high=32)
    flag = Param(path="devices.cim.double_buffer", column="param:devices.cim.double_buffer", kind="categorical",
                 choices=(True, False))
    assert [F.fmt_param(tiles, v) for v in (8, 8.0, np.int64(12))] == ["8", "8", "12"]
    assert [F.fmt_param(flag, v) for v in (1, 0, True, np.bool_(False))] == ["true", "false", "true", "false"]


def test_sensitivity_tries_only_points_of_the_searched_grid() -> None:
    """Audit of 2026-12-07: tiles {low 4, high 32, step 4} were swept at 11, 18 and 25, designs
    outside the space. By hand: 7 steps, 5 points at k = 0, 2, 4, 5, 7 (rounded quarters)."""
    from slmsim.reports.sensitivity import sweep_values
    from slmsim.reports.study_data import Param

    p = Param(path="t", column="param:t", kind="int", low=4, high=32, step=4)
    assert sweep_values(p, 5) == [4, 12, 20, 24, 32]
    clock = Param(path="c", column="param:c", kind="float", low=100e6, high=400e6, step=100e6)
    assert sweep_values(clock, 5) == pytest.approx([100e6, 200e6, 300e6, 400e6])  # 4 grid points, all of them
    assert sweep_values(Param(path="n", column="param:n", kind="int", low=1, high=3), 5) == [1, 2, 3]
    # a log int range stays geometric: 1024^(i/4) = 1, 5.66, 32, 181.0, 1024, rounded
    assert sweep_values(Param(path="b", column="param:b", kind="int", low=1, high=1024, log=True), 5) == \
        [1, 6, 32, 181, 1024]
    assert sweep_values(Param(path="f", column="param:f", kind="float", low=1.0, high=2.0), 5) == \
        pytest.approx([1.0, 1.25, 1.5, 1.75, 2.0])  # a continuous range: evenly spaced


def test_a_baseline_that_cannot_run_a_workload_is_compared_over_the_rest_and_the_page_says_so(
        study2: Path, tmp_path: Path) -> None:
    """Audit of 2026-12-07: a baseline that ran 1 of 2 workloads was captioned 'over the 2
    workloads both run'; a ratio below 1 was hovered as '0.581x worse'."""
    out = tmp_path / "s"
    shutil.copytree(study2, out)
    meta = json.loads((out / "study.json").read_text())
    first = meta["baselines"][0]
    dropped = next(iter(first["per_workload"]))
    first["per_workload"][dropped] = None
    (out / "study.json").write_text(json.dumps(meta))
    data = load_study_dir(out)
    n = len(data.workload_names)
    assert n > 1
    text = write_study_report(study_dir=out, out_html=tmp_path / "r.html").read_text()
    assert f"{first['name']}&#x27;s ratios are over {n - 1} of the {n} workloads ({dropped}" in text \
        or f"{first['name']}'s ratios are over {n - 1} of the {n} workloads ({dropped}" in text
    assert f"over the {n} workloads both run" not in text
    # the hover: a ratio is printed >= 1, with 'better' or 'worse'; some design is worse somewhere
    said = []
    for number in data.trials["number"]:
        for m in F._wl_metrics(data):
            _, custom = F._design_bars(data, int(number), m, F.Scale(label=""))
            said += [line for c in custom for line in c[2].split("<br>") if "than" in line]
    worse = [s for s in said if "worse" in s]
    assert worse and all(float(s.split("×")[0]) >= 1 for s in said), said[:5]
