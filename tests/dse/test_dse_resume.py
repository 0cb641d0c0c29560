"""`slmsim explore` killed with SIGKILL mid-study, again and again: nothing lost, nothing twice.

The heavy version (20 kills) is `benchmarks/dse_bench.py --kills 20`; here 3 kills."""

from __future__ import annotations

from pathlib import Path

from slmsim.dse.killtest import run_kills

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def test_three_sigkills_lose_nothing_and_evaluate_no_design_twice(tmp_path: Path) -> None:
    # A DES trial takes ~4-8 ms since the plan memos and step-cost cache (measured: 40 trials of
    # kill.yaml at 130-260 trials/s), so the harness polls the journal every 5 ms and kills within
    # 5 ms of its goal: at most a few trials past it, every kill mid-study (target 60).
    r = run_kills(space=FIXTURES / "kill.yaml", out=tmp_path / "out", study="kill", target=60, kills=3, seed=1,
                  extra=("--engine", "des"), delay_s=(0.0, 0.005), poll_s=0.005, cwd=ROOT)
    assert r.notes == []
    assert r.kills == 3 and r.kills_mid_run == 3
    assert r.lost == 0 and r.unfinished == 0
    assert r.complete == 60
    assert r.evaluated_twice == 0 and r.bad_repeats == 0
    assert r.distinct <= 60


def test_a_resumed_run_continues_the_sampler_instead_of_replaying_it(tmp_path: Path) -> None:
    """Issue 17: the random sampler with the same --seed used to propose the first run's
    designs again on every resume. slow.yaml has a continuous range, so any repeat is a replay."""
    import subprocess
    import sys

    import pandas as pd

    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "slmsim.cli", "explore", str(FIXTURES / "slow.yaml"), "--out", str(out),
           "--no-progress", "--sampler", "random", "--seed", "3"]
    for n in (10, 20, 30):
        res = subprocess.run([*cmd, "--trials", str(n)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    df = pd.read_csv(out / "trials.csv")
    params = [c for c in df.columns if c.startswith("param:")]
    assert len(df) == 30 and df["duplicate_of"].isna().all()
    assert len(df.drop_duplicates(subset=params)) == 30


def test_an_orphaned_running_trial_is_failed_at_once(tmp_path: Path) -> None:
    """A RUNNING trial whose worker (on this host) is gone, e.g. left by another tool, is
    failed when a worker starts, without waiting for a timeout (the owner check, not the
    60 s rule for trials without an owner)."""
    import subprocess
    import sys

    from optuna.trial import TrialState

    from slmsim.dse.space import load_space
    from slmsim.dse.storage import storage_spec
    from slmsim.dse.study import make_sampler, owner_record, prepare_study, run_worker

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = {**owner_record(), "pid": int(dead.stdout), "start": "0"}
    loaded = load_space(FIXTURES / "tiny.yaml")
    storage = storage_spec(None, out_dir=tmp_path)
    study, config = prepare_study(loaded, storage=storage, study_name="t", sampler="random", engine="analytic",
                                  seed=0, n_trials=3)
    orphan = study.ask()
    orphan.set_user_attr("worker", owner)
    assert study.get_trials()[0].state == TrialState.RUNNING
    run_worker(study, config, sampler=make_sampler("random", seed=0, space=config.space, n_trials=3))
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_jobs_share_one_journal_exactly_and_evaluate_each_design_once(tmp_path: Path) -> None:
    """`explore --jobs 3` on one journal: exactly the target of completed trials (the count
    is exact near the target), nothing left RUNNING, and no design evaluated by two workers
    (each holds a claim on the design while it evaluates and records it)."""
    import subprocess
    import sys

    from slmsim.dse.killtest import _study_report, _trials

    out = tmp_path / "o"
    res = subprocess.run([sys.executable, "-m", "slmsim.cli", "explore", str(FIXTURES / "kill.yaml"), "--out", str(out),
                          "--no-progress", "--sampler", "random", "--engine", "des", "--trials", "90", "--jobs", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    trials = _trials(out / "study.journal.log", "kill")
    r = _study_report(trials, FIXTURES / "kill.yaml", 90)
    workers = {t.user_attrs["worker"]["pid"] for t in trials}
    assert len(workers) == 3  # three processes did the work
    assert r.complete == 90 and len(trials) == 90 and r.unfinished == 0
    assert r.distinct < 90  # repeats happened: the cache and the claims were exercised
    assert r.evaluated_twice == 0 and r.bad_repeats == 0
