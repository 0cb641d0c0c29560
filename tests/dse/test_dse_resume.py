"""`slmsim explore` killed with SIGKILL mid-study, then run again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.trial import TrialState

from slmsim.dse.storage import FlockJournalBackend

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
TARGET = 40


def _cmd(out: Path) -> list[str]:
    # the DES makes each trial long enough (~30 ms) that a kill usually lands mid-evaluation
    return [sys.executable, "-m", "slmsim.cli", "explore", str(FIXTURES / "slow.yaml"), "--trials", str(TARGET),
            "--engine", "des", "--out", str(out), "--no-progress", "--jobs", "2"]


def _trials(out: Path) -> list[optuna.trial.FrozenTrial]:
    storage = JournalStorage(FlockJournalBackend(out / "study.journal.log"))
    return optuna.load_study(study_name="slow", storage=storage).get_trials()


def test_resume_after_sigkill(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_cmd(out), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    done: list[optuna.trial.FrozenTrial] = []
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if (out / "study.journal.log").exists():
            try:
                trials = _trials(out)
            except KeyError:
                continue  # the study is being created
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            # kill while both workers run and one is mid-evaluation (sampled, not finished)
            if len(done) >= 8 and any(t.state == TrialState.RUNNING and t.params for t in trials):
                break
        assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)  # the explore process and its --jobs worker, at once
    proc.wait()
    time.sleep(0.2)

    before = {t.number: t for t in _trials(out)}
    finished_before = {n: t for n, t in before.items() if t.state == TrialState.COMPLETE}
    running_before = {n: t for n, t in before.items() if t.state == TrialState.RUNNING}
    assert 8 <= len(finished_before) < TARGET

    rerun = subprocess.run(_cmd(out), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = {t.number: t for t in _trials(out)}

    # no finished trial lost or changed
    for n, t in finished_before.items():
        assert after[n].state == TrialState.COMPLETE
        assert after[n].params == t.params and after[n].values == t.values
    # exactly the requested number of completed trials; nothing left running
    complete = [t for t in after.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == TARGET
    assert not [t for t in after.values() if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # trials cut off by the kill are failed and re-run once with the same parameters
    retries = {t.system_attrs["failed_trial"]: t for t in after.values() if "failed_trial" in t.system_attrs}
    for n, t in running_before.items():
        assert after[n].state == TrialState.FAIL
        if t.params:  # killed after sampling: re-queued with the same parameters
            assert n in retries and retries[n].params == t.params and retries[n].state == TrialState.COMPLETE
    assert all(list(retries).count(n) == 1 for n in retries)
    # the outputs count each trial once
    import pandas as pd

    df = pd.read_csv(out / "trials.csv")
    assert df["number"].is_unique and (df["state"] == "COMPLETE").sum() == TARGET
