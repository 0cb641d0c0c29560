"""Candidates, evaluation, studies and outputs, in process (in-memory or journal storage)."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from slmsim.dse.candidate import derive_tree
from slmsim.dse.evaluate import Evaluator
from slmsim.dse.metrics import Metric
from slmsim.dse.outputs import columns, pareto_table, study_summary, trials_table
from slmsim.dse.pareto import pareto_mask, to_costs
from slmsim.dse.space import load_space
from slmsim.dse.storage import StorageSpec, storage_spec
from slmsim.dse.study import grid_space, make_sampler, open_study, prepare_study, run_worker
from slmsim.cli import main
from slmsim.core.errors import SpecError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny():  # noqa: ANN201
    return load_space(FIXTURES / "tiny.yaml")


def _sample(space, rng: random.Random) -> dict:  # noqa: ANN001
    out = {}
    for p in space.params:
        out[p.path] = rng.choice(p.grid())
    return out


def test_deriving_candidates_never_mutates_the_base(tiny) -> None:  # noqa: ANN001
    before = copy.deepcopy(tiny.base_si)
    values_before = copy.deepcopy([p.values for p in tiny.space.params])
    rng = random.Random(0)
    trees = [derive_tree(tiny.base_si, tiny.space, _sample(tiny.space, rng)) for _ in range(50)]
    for t in trees:  # mutate every candidate: the base and the space must not notice
        t["devices"]["cim"]["tiles"] = -1
        t["memories"]["dram"]["technology"] = "x"
    assert tiny.base_si == before
    assert [p.values for p in tiny.space.params] == values_before


def test_candidate_takes_leaves_and_merges_subtrees(tiny) -> None:  # noqa: ANN001
    tree = derive_tree(tiny.base_si, tiny.space, {"devices.cim.tiles": 8, "devices.cim.macros_per_tile": 12,
                                                  "devices.cim.macro.cols_per_readout": 2,
                                                  "memories.dram.bandwidth": 68e9, "memories.dram": "lpddr4x"})
    dram = tree["memories"]["dram"]
    assert dram["technology"] == "lpddr4x" and dram["energy_per_bit"] == pytest.approx(6e-12)
    assert dram["bandwidth"] == 68e9 and dram["capacity"] == tiny.base_si["memories"]["dram"]["capacity"]
    assert tree["devices"]["cim"]["macros_per_tile"] == 12


def test_an_invalid_candidate_is_infeasible_with_its_reason(tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    # rows below the preset's rows_per_op (128) is not a valid macro; 1 GB does not hold qwen3-4b
    space.write_text("base: edgecim\nparameters:\n  devices.cim.macro.rows: {choices: [64, 128]}\n"
                     "  memories.dram.capacity: {choices: ['1 GB', '8 GB']}\n"
                     "workloads: [{model: qwen3-4b, prompt: 16, gen: 8}]\nobjectives: [decode_latency, area]\n")
    loaded = load_space(space)
    ev = Evaluator(space=loaded.space, base_si=loaded.base_si, models=loaded.models)
    bad = ev.evaluate_params({"devices.cim.macro.rows": 64, "memories.dram.capacity": 8e9})
    assert not bad.runs and not bad.feasible and "rows_per_op (128) cannot exceed rows (64)" in bad.infeasible_reason
    assert bad.violations["runs"] == 1.0
    small = ev.evaluate_params({"devices.cim.macro.rows": 128, "memories.dram.capacity": 1e9})
    assert not small.runs and "qwen3-4b" in small.infeasible_reason and "does not fit" in small.infeasible_reason
    good = ev.evaluate_params({"devices.cim.macro.rows": 128, "memories.dram.capacity": 8e9})
    assert good.feasible and good.infeasible_reason == "" and good.metrics


def _run(loaded, tmp_path: Path, *, n: int, sampler: str = "random", storage: StorageSpec | None = None,  # noqa: ANN001
         name: str = "t", on_trial=None):  # noqa: ANN001, ANN202
    storage = storage or StorageSpec("memory", "memory")
    study, config = prepare_study(loaded, storage=storage, study_name=name, sampler=sampler, engine="analytic",
                                  seed=0, n_trials=n)
    run_worker(study, config, sampler=make_sampler(sampler, seed=0, space=config.space, n_trials=n), on_trial=on_trial)
    return study, config


def test_infeasible_trials_are_complete_with_reason_and_violation(tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("base: edgecim\nparameters:\n  devices.cim.macro.rows: {choices: [64, 128]}\n"
                     "  devices.cim.tiles: {choices: [8, 16, 32]}\n"
                     "workloads: [{model: qwen3-0.6b, prompt: 16, gen: 8}]\nobjectives: [decode_latency, area]\n"
                     "constraints: ['area <= 60 mm^2']\n")
    loaded = load_space(space)
    study, config = _run(loaded, tmp_path, n=30)
    df = trials_table(study.get_trials(), config)
    assert (df["state"] == "COMPLETE").sum() == 30
    invalid = df[df["param:devices.cim.macro.rows"] == 64]
    assert len(invalid) > 0
    assert (~invalid["feasible"]).all() and invalid["infeasible_reason"].str.contains("rows_per_op").all()
    assert invalid["obj:decode_latency"].isna().all()
    too_big = df[(df["param:devices.cim.macro.rows"] == 128) & (df["param:devices.cim.tiles"] == 32)]
    assert (~too_big["feasible"]).all() and too_big["infeasible_reason"].str.contains("violates area <= 60").all()
    assert too_big["obj:area"].notna().all()  # it ran: its figures are real
    ok = df[df["feasible"]]
    assert (ok["infeasible_reason"] == "").all() and ok["obj:area"].le(60).all()
    # the constraint values are the list optuna-dashboard reads (system attr `constraints`),
    # in the order the study names (user attr `slmsim:constraint_names`)
    assert study.user_attrs["slmsim:constraint_names"] == ["runs", "area<=60"]
    for t in study.get_trials():
        con = t.system_attrs["constraints"]
        assert len(con) == 2 and set(t.constraints) == {"0", "1"}
        row = df[df["number"] == t.number].iloc[0]
        assert bool(row["feasible"]) == all(v <= 0 for v in con)
        assert (con[0] > 0) == ("rows_per_op" in row["infeasible_reason"])  # runs: 1 for an invalid design
    assert study.metric_names == ["decode_latency", "area"]


def test_outputs_follow_the_contract(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    study, config = _run(tiny, tmp_path, n=40, sampler="nsga2")
    df = trials_table(study.get_trials(), config)
    assert list(df.columns) == columns(config)
    assert list(df.columns[:6]) == ["number", "state", "feasible", "infeasible_reason", "wall_time_s", "datetime_start"]
    for col in ("param:devices.cim.tiles", "param:memories.dram", "obj:decode_latency", "obj:energy_per_token",
                "obj:area", "metric:decode_latency_s", "metric:energy_per_token_j", "metric:area_mm2", "metric:ttft_s",
                "metric:tokens_per_s", "metric:tokens_per_j", "metric:power_w", "wl:qwen3-0.6b:decode_latency_s",
                "wl:qwen3-0.6b:power_w"):
        assert col in df.columns
    assert set(df["param:memories.dram"]) <= {"lpddr5x", "lpddr4x"}
    assert df["number"].is_unique and df["number"].dtype == np.int64
    # objectives equal the metrics they name (mean over one workload = the workload's figure)
    feas = df[df["feasible"]]
    assert np.allclose(feas["obj:decode_latency"], feas["metric:decode_latency_s"])
    assert np.allclose(feas["obj:decode_latency"], feas["wl:qwen3-0.6b:decode_latency_s"])
    # the Pareto table is exactly the brute-force non-dominated set of distinct feasible designs
    pareto = pareto_table(df, config)
    objs = ["obj:decode_latency", "obj:energy_per_token", "obj:area"]
    feas = feas[feas["duplicate_of"].isna()]
    costs = feas[objs].to_numpy()
    brute = [i for i in range(len(costs)) if not any(
        np.all(costs[j] <= costs[i]) and np.any(costs[j] < costs[i]) for j in range(len(costs)))]
    assert sorted(pareto["number"]) == sorted(feas.iloc[brute]["number"])
    summary = study_summary(study=study, config=config, storage=StorageSpec("memory", "memory"), sampler="nsga2",
                            n_trials=40, df=df, baselines=[])
    for key in ("study_name", "storage", "sampler", "engine", "seed", "n_trials_requested", "objectives", "params",
                "workloads", "aggregate", "constraints", "baselines", "hypervolume_reference", "hypervolume_history"):
        assert key in summary
    assert [o["column"] for o in summary["objectives"]] == objs
    assert {p["kind"] for p in summary["params"]} == {"categorical", "int"}
    assert summary["workloads"][0]["model"] == "qwen3-0.6b"
    hv = [h for _, h in summary["hypervolume_history"]]
    assert len(hv) == 40 and all(b >= a for a, b in zip(hv, hv[1:], strict=False)) and 0 < hv[-1] < 1
    json.dumps(summary, allow_nan=False)


def test_a_design_is_evaluated_once_and_repeats_point_at_it(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Issue 15: evaluations = distinct parameter sets; repeats are marked `duplicate_of`.
    tiny has 96 designs; 150 random trials must repeat some (pigeonhole)."""
    loaded = load_space(FIXTURES / "tiny.yaml")
    calls: list[tuple] = []
    original = Evaluator.evaluate_params

    def counting(self, sampled, **kw):  # noqa: ANN001, ANN202
        calls.append(tuple(sorted(sampled.items())))
        return original(self, sampled, **kw)

    monkeypatch.setattr(Evaluator, "evaluate_params", counting)
    storage = storage_spec(None, out_dir=tmp_path)
    seen = []
    study, config = _run(loaded, tmp_path, n=150, storage=storage, on_trial=seen.append)
    trials = study.get_trials()
    assert len(trials) == 150 and all(t.state == TrialState.COMPLETE for t in trials)
    designs = {tuple(sorted(t.params.items())) for t in trials}
    assert len(calls) == len(set(calls)) == len(designs) <= 96  # each distinct design simulated exactly once
    first = {}
    for t in trials:
        key = tuple(sorted(t.params.items()))
        if "duplicate_of" not in t.user_attrs:
            assert key not in first
            first[key] = t
    repeats = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert len(repeats) == 150 - len(designs) >= 54
    for t in repeats:  # the same result as the trial that evaluated the design
        orig = first[tuple(sorted(t.params.items()))]
        assert t.user_attrs["duplicate_of"] == orig.number < t.number
        assert t.values == orig.values and t.system_attrs["constraints"] == orig.system_attrs["constraints"]
        assert t.user_attrs["metrics"]["metric:area_mm2"] == orig.user_attrs["metrics"]["metric:area_mm2"]
    # tables, counts and the front count distinct designs
    df = trials_table(trials, config)
    assert df["duplicate_of"].notna().sum() == len(repeats)
    pareto = pareto_table(df, config)
    assert pareto["duplicate_of"].isna().all() and pareto["number"].is_unique
    assert len({tuple(r) for r in pareto[[p.column for p in config.space.params]].itertuples(index=False)}) == len(pareto)
    summary = study_summary(study=study, config=config, storage=storage, sampler="random", n_trials=150, df=df,
                            baselines=[])
    assert summary["n_designs"] == len(designs) and summary["n_repeats"] == len(repeats)
    # the progress bar's last figures agree with the outputs
    last = seen[-1]
    assert (last.complete, last.designs, last.front_size) == (150, len(designs), len(pareto))
    assert last.feasible == summary["n_designs_feasible"]
    assert last.hypervolume == pytest.approx(summary["hypervolume_history"][-1][1])
    # resuming (a new process would rebuild the cache from the study) evaluates nothing again
    calls.clear()
    study, _ = _run(loaded, tmp_path, n=170, storage=storage)
    assert len(study.get_trials()) == 170
    assert len(calls) == len(set(calls)) and not set(calls) & designs


def test_top_up_counts_completed_trials_not_runs(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    storage = storage_spec(None, out_dir=tmp_path)
    study, _ = _run(tiny, tmp_path, n=12, storage=storage)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 12
    study, _ = _run(tiny, tmp_path, n=12, storage=storage)  # same target: nothing to do
    assert len(study.get_trials()) == 12
    study, _ = _run(tiny, tmp_path, n=20, storage=storage)  # raised: tops up
    trials = study.get_trials()
    assert len(trials) == 20 and all(t.state == TrialState.COMPLETE for t in trials)
    # a worker joining from the storage alone sees the same space
    study2, config2 = open_study(storage, "t")
    assert config2.space == tiny.space and len(study2.get_trials()) == 20


def test_resuming_with_another_space_or_engine_is_refused(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    storage = storage_spec(None, out_dir=tmp_path)
    _run(tiny, tmp_path, n=3, storage=storage)
    other = load_space(FIXTURES.parent.parents[1] / "examples" / "space-demo.yaml")
    with pytest.raises(SpecError, match="was created from a different space"):
        prepare_study(other, storage=storage, study_name="t", sampler="random", engine="analytic", seed=0, n_trials=3)
    with pytest.raises(SpecError, match="was run with the analytic engine"):
        prepare_study(tiny, storage=storage, study_name="t", sampler="random", engine="des", seed=0, n_trials=3)


def test_sweep_visits_every_grid_point_once(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    n = tiny.space.grid_size()
    assert n == 96
    study, config = _run(tiny, tmp_path, n=n, sampler="grid")
    seen = {tuple(t.params[p.path] for p in config.space.params) for t in study.get_trials()}
    assert len(study.get_trials()) == n and len(seen) == n
    assert set(grid_space(config.space)) == {p.path for p in config.space.params}


def _grid_points(study, config) -> list[tuple]:  # noqa: ANN001
    return [tuple(t.params[p.path] for p in config.space.params) for t in study.get_trials()]


def test_a_sweep_resumed_or_shared_still_visits_every_grid_point_once(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    """Optuna's GridSampler maps trial number i to the i-th point of a shuffle by its seed: a
    resumed run (another seed) or a second worker read old indices as other points. Here a
    worker stops after 10 points, a second one with another seed takes over for 40, a third
    (seed 7, a resumed run's new stream) finishes: 96 trials, 96 distinct points."""
    n = tiny.space.grid_size()
    storage = storage_spec(None, out_dir=tmp_path)
    study, config = prepare_study(tiny, storage=storage, study_name="g", sampler="grid", engine="analytic",
                                  seed=0, n_trials=n)
    for seed, limit in ((0, 10), (1, 40), (7, None)):
        sampler = make_sampler("grid", seed=seed, space=config.space, n_trials=n)
        run_worker(study, config, sampler=sampler, max_trials=limit)
    points = _grid_points(study, config)
    assert len(points) == n and len(set(points)) == n


def test_a_sweep_writes_no_repeat_of_a_point_another_worker_did(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    """Two workers on one journal, their mirrors out of step: worker B is created (and has
    synced) before A evaluates anything, so B's sampler proposes points A has done since.
    B serves those from the study (no simulation) and writes nothing for them."""
    n = tiny.space.grid_size()
    storage = storage_spec(None, out_dir=tmp_path)
    study, config = prepare_study(tiny, storage=storage, study_name="g", sampler="grid", engine="analytic",
                                  seed=0, n_trials=n)
    from slmsim.dse.study import _Worker

    b = _Worker(study, config, make_sampler("grid", seed=0, space=config.space, n_trials=n))
    b.sync(force=True)
    run_worker(study, config, sampler=make_sampler("grid", seed=0, space=config.space, n_trials=n), max_trials=30)
    trial = b.propose()  # B's order is A's (same seed) and its mirror is stale: A's first point
    with b.claim(trial):  # the claim reads the journal again: A's 30 trials come into B's cache
        _, hit = b.evaluate(config.evaluator(), trial)
    assert hit is not None
    b.tell_only(trial, hit.result)
    assert len(study.get_trials()) == 30
    b.close()
    run_worker(study, config, sampler=make_sampler("grid", seed=0, space=config.space, n_trials=n))
    points = _grid_points(study, config)
    assert len(points) == n and len(set(points)) == n


def test_reference_is_twice_as_bad_as_the_base(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    from slmsim.dse.candidate import build_hardware

    _, config = _run(tiny, tmp_path, n=5)
    base = config.evaluator().evaluate_spec(build_hardware(copy.deepcopy(tiny.base_si), label="base").spec)
    for o, ref in zip(config.space.objectives, config.reference, strict=True):
        assert ref == pytest.approx(2 * base.metrics[o.metric])
    assert np.allclose(config.normalised_costs(np.array([config.reference])), 1.0)


def test_an_alternative_of_another_kind_replaces_the_subtree(tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text(
        "base: edgecim\nparameters:\n  memories.dram:\n    choices:\n"
        "      lpddr: {energy_per_bit: '5 pJ/bit'}\n"
        "      stacked: {kind: hybrid_bonded_dram, capacity: '8 GB', banks: 8, pins_per_bank: 1024,\n"
        "                pin_rate: '0.4 Gb/s', energy_per_bit: '0.88 pJ/bit', area: '2 mm^2'}\n"
        "workloads: [{model: qwen3-0.6b, prompt: 16, gen: 8}]\nobjectives: [decode_latency, area]\n")
    loaded = load_space(space)
    stacked = derive_tree(loaded.base_si, loaded.space, {"memories.dram": "stacked"})["memories"]["dram"]
    assert stacked["kind"] == "hybrid_bonded_dram" and "technology" not in stacked and "bandwidth" not in stacked
    ev = Evaluator(space=loaded.space, base_si=loaded.base_si, models=loaded.models)
    a, b = ev.evaluate_params({"memories.dram": "lpddr"}), ev.evaluate_params({"memories.dram": "stacked"})
    assert a.feasible and b.feasible
    assert b.metrics[Metric.AREA] == pytest.approx(a.metrics[Metric.AREA] + 2.0)  # the stacked die's area counts


def test_workload_defaults_and_names(tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("base: edgecim\nparameters:\n  devices.cim.tiles: {choices: [8, 16]}\n"
                     "workload_defaults: {act_bits: 8, batch: 2, promt: 64}\n"
                     "workloads: [qwen3-0.6b, {model: qwen3-0.6b, batch: 4}]\nobjectives: [decode_latency]\n")
    with pytest.raises(SpecError, match="workload_defaults.promt: unknown workload field 'promt'") as info:
        load_space(space)
    assert "did you mean 'prompt'?" in info.value.render()
    space.write_text(space.read_text().replace(", promt: 64", ""))
    names = [w.name for w in load_space(space).space.workloads]
    assert names == ["qwen3-0.6b@p128g128b2w4a8kv16", "qwen3-0.6b@p128g128b4w4a8kv16"]


def test_maximised_objective_direction(tmp_path: Path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("base: edgecim\nparameters:\n  devices.cim.tiles: {choices: [4, 8, 16, 32]}\n"
                     "  memories.dram.bandwidth: {choices: ['68 GB/s', '273 GB/s']}\n"
                     "workloads: [{model: qwen3-0.6b, prompt: 16, gen: 8}]\nobjectives: [tokens_per_s, area]\n")
    loaded = load_space(space)
    study, config = _run(loaded, tmp_path, n=16)
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    df = trials_table(study.get_trials(), config)
    pareto = pareto_table(df, config)
    feas = df[df["feasible"] & df["duplicate_of"].isna()]
    costs = to_costs(feas[["obj:tokens_per_s", "obj:area"]].to_numpy(), ["maximize", "minimize"])
    assert sorted(pareto["number"]) == sorted(feas[pareto_mask(costs)]["number"])
    assert pareto["obj:tokens_per_s"].max() == feas["obj:tokens_per_s"].max()


def test_cli_explore_writes_every_output_and_resumes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", str(FIXTURES / "tiny.yaml"), "--trials", "12", "--out", str(out), "--no-progress",
                 "--rescreen-des", "2"]) == 0
    text = capsys.readouterr().out
    for name in ("trials.csv", "trials.parquet", "pareto.csv", "space.resolved.yaml", "base-hardware.yaml",
                 "study.json", "rescreen-des.csv", "study.journal.log"):
        assert (out / name).is_file(), name
    assert "12 of 12 trials complete (12 this run" in text
    df = pd.read_parquet(out / "trials.parquet")
    assert len(df) == 12 and df["feasible"].dtype == bool
    summary = json.loads((out / "study.json").read_text())
    assert summary["storage"] == str((out / "study.journal.log").resolve())
    assert summary["baselines"][0]["name"] == "orin-nano" and summary["baselines"][0]["infeasible_reason"] is None
    assert summary["baselines"][0]["metrics"]["area_mm2"] is None  # the GPU preset states no area
    assert "qwen3-0.6b" in summary["baselines"][0]["per_workload"]
    des = pd.read_csv(out / "rescreen-des.csv")
    assert (des["engine"] == "des").all() and len(des) <= 2
    # the DES agrees with the analytic screen where nothing contends
    assert np.allclose(des["obj:decode_latency"], des["analytic:obj:decode_latency"], rtol=0.01)
    # optuna reads our journal with its own backend
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    st = JournalStorage(JournalFileBackend(summary["storage"]))
    assert len(optuna.load_study(study_name=summary["study_name"], storage=st).trials) == 12
    # re-running resumes: nothing new to do
    assert main(["explore", str(FIXTURES / "tiny.yaml"), "--trials", "12", "--out", str(out), "--no-progress"]) == 0
    assert "(0 this run)" in capsys.readouterr().out


def test_cli_refuses_a_folder_it_did_not_create(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["explore", str(FIXTURES / "tiny.yaml"), "--trials", "2", "--out", str(out)]) == 2
    assert "refusing to write into a folder slmsim did not create" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_cli_worker_needs_an_existing_study(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    journal.touch()  # a journal that exists but holds no study (a missing file: tests/cli/test_audit_round3.py)
    code = main(["worker", "--storage", str(journal), "--study", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "no study 'nope'" in err and "Traceback" not in err


def test_gp_without_torch_is_a_clear_error(tiny) -> None:  # noqa: ANN001
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(SpecError, match="needs PyTorch"):
            make_sampler("gp", seed=0, space=tiny.space, n_trials=10)
    else:
        assert make_sampler("gp", seed=0, space=tiny.space, n_trials=10) is not None


def test_nan_metrics_never_reach_optuna(tiny) -> None:  # noqa: ANN001
    ev = Evaluator(space=tiny.space, base_si=tiny.base_si, models=tiny.models).evaluate_params(
        {"devices.cim.tiles": 4, "devices.cim.macros_per_tile": 4, "devices.cim.macro.cols_per_readout": 1,
         "memories.dram.bandwidth": 68e9, "memories.dram": "lpddr5x"})
    assert ev.runs and all(not math.isnan(v) for v in ev.metrics.values())


def test_importances_are_computed_once_and_the_report_reads_them(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", str(FIXTURES / "tiny.yaml"), "--trials", "30", "--out", str(out), "--no-progress"]) == 0
    imp = json.loads((out / "study.json").read_text())["importances"]
    assert set(imp["by_objective"]) == {"decode_latency", "energy_per_token", "area"}
    paths = {p.path for p in load_space(FIXTURES / "tiny.yaml").space.params}
    for values in imp["by_objective"].values():
        assert set(values) <= paths and sum(values.values()) == pytest.approx(1.0)
    # the tile count decides the area (macros per tile too); DRAM bandwidth and technology cannot
    area = imp["by_objective"]["area"]
    assert area.get("memories.dram.bandwidth", 0.0) < max(area.get("devices.cim.tiles", 0.0),
                                                          area.get("devices.cim.macros_per_tile", 0.0))
    from slmsim.reports import study_figures
    from slmsim.reports.study import write_study_report

    def boom(data):  # noqa: ANN001, ANN202
        raise AssertionError("the report recomputed the importances")

    monkeypatch.setattr(study_figures, "importances", boom)
    write_study_report(study_dir=out, out_html=tmp_path / "r.html")
    assert "Parameter importances" in (tmp_path / "r.html").read_text()
