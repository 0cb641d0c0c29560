"""SIGKILL an `slmsim explore` again and again and check that nothing is lost or repeated.

`run_kills`: one explore on a journal, killed again and again (below). `run_worker_kills`:
k `slmsim worker` processes on one study in a shared storage (PostgreSQL, or through the
gRPC proxy), some of them SIGKILLed mid-study; the same checks, plus how many designs two
workers evaluated at once.

Used by tests/dse/test_dse_resume.py (a few kills) and benchmarks/dse_bench.py --kills
(issue 17: 20 kills). Each round starts the same command on the same --out, kills its
process group at a random moment (seeded), and records the finished trials; a last run
completes the study. Checked: every finished trial survives every later kill unchanged;
the study ends with exactly the target of completed trials, none RUNNING or WAITING; no
design was evaluated twice (each design has one trial without `duplicate_of`, and every
repeat points at it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from slmsim.dse.storage import JOURNAL_NAME, JournalBackend


@dataclass
class KillReport:
    kills: int = 0
    kills_mid_run: int = 0  # kills that landed after the study had started and before it ended
    lost: int = 0  # finished trials missing or changed after a later kill
    complete: int = 0
    target: int = 0
    distinct: int = 0
    evaluated_twice: int = 0  # designs with more than one non-repeat trial
    bad_repeats: int = 0  # repeats whose duplicate_of is not the design's evaluated trial
    unfinished: int = 0  # RUNNING or WAITING trials at the end
    notes: list[str] = field(default_factory=list)


def _trials(journal: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(JournalBackend(journal))
    return optuna.load_study(study_name=study, storage=storage).get_trials()


def run_kills(*, space: Path, out: Path, study: str, target: int, kills: int, seed: int = 0,
              extra: tuple[str, ...] = (), delay_s: tuple[float, float] = (0.0, 0.05),
              poll_s: float = 0.05, cwd: Path | None = None) -> KillReport:
    rng = random.Random(seed)
    report = KillReport(target=target)
    cmd = [sys.executable, "-m", "slmsim.cli", "explore", str(space), "--trials", str(target), "--out", str(out),
           "--no-progress", "--sampler", "random", *extra]
    journal = out / JOURNAL_NAME
    kept: dict[int, tuple] = {}
    step = max(1, target // (2 * (kills + 1)))  # trials a run may add before its kill: half the budget by then
    for k in range(kills):
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        # kill once this run has added a random number of trials (so every kill lands mid-study),
        # after a random extra delay (so it lands anywhere in a trial)
        goal = min(target - 1, len(kept) + rng.randint(1, step))
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(poll_s)
            try:
                n = sum(1 for t in _trials(journal, study) if t.state == TrialState.COMPLETE) if journal.exists() else 0
            except (KeyError, Exception):  # noqa: BLE001 - the study is being created
                n = 0
            if n >= goal:
                break
        time.sleep(rng.uniform(*delay_s))
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            if proc.returncode != 0:
                report.notes.append(f"a run failed before its kill: {err[-400:]}")
            proc.stderr.close() if proc.stderr else None
            break  # the study completed before we could kill it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
        report.kills += 1
        if not journal.exists():
            continue
        try:
            trials = _trials(journal, study)
        except KeyError:
            continue
        done = {t.number: (tuple(t.params.items()), tuple(t.values)) for t in trials if t.state == TrialState.COMPLETE}
        report.lost += sum(1 for n, v in kept.items() if done.get(n) != v)
        if 0 < len(done) < target:
            report.kills_mid_run += 1
        kept.update(done)
    final = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    if final.returncode != 0:
        report.notes.append(f"the last run failed: {final.stderr[-600:]}")
        return report
    trials = _trials(journal, study)
    done = {t.number: (tuple(t.params.items()), tuple(t.values)) for t in trials if t.state == TrialState.COMPLETE}
    report.lost += sum(1 for n, v in kept.items() if done.get(n) != v)
    report.complete = len(done)
    report.unfinished = sum(1 for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING))
    _count_designs(report, [t for t in trials if t.state == TrialState.COMPLETE], space)
    return report


def _count_designs(report: KillReport, done: list[optuna.trial.FrozenTrial], space: Path) -> None:
    """Set `report`'s designs evaluated twice, repeats pointing elsewhere and distinct designs
    from the completed trials `done`."""
    from slmsim.dse.space import load_space
    from slmsim.dse.study import design_key

    loaded = load_space(space)
    first: dict[str, int] = {}
    for t in sorted(done, key=lambda t: t.number):
        if t.user_attrs.get("duplicate_of") is None:
            key = design_key(t.params, loaded.space)
            if key in first:
                report.evaluated_twice += 1
            else:
                first[key] = t.number
    for t in done:
        dup = t.user_attrs.get("duplicate_of")
        if dup is not None and first.get(design_key(t.params, loaded.space)) != dup:
            report.bad_repeats += 1
    report.distinct = len(first)


def _study_report(trials: list[optuna.trial.FrozenTrial], space: Path, target: int) -> KillReport:
    """Counts of a finished study: complete, unfinished, designs evaluated twice, repeats pointing elsewhere."""
    report = KillReport(target=target)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    report.complete = len(done)
    report.lost = max(0, target - len(done))
    report.unfinished = sum(1 for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING))
    _count_designs(report, done, space)
    return report


def run_worker_kills(*, storage: str, space: Path, study: str, target: int, workers: int, killed: int,
                     engine: str = "des", sampler: str = "random", kill_at: float = 0.25,
                     cwd: Path | None = None, timeout_s: float = 900) -> KillReport:
    """Create `study` in `storage` (a URL as `--storage` takes it), run `workers` `slmsim
    worker` processes on it (seeds 0..k-1), SIGKILL `killed` of them once `kill_at` of the
    target is complete, let the others finish, and count. The study is deleted at the end."""
    from slmsim.dse.space import load_space
    from slmsim.dse.storage import open_storage, storage_spec
    from slmsim.dse.study import prepare_study

    spec = storage_spec(storage, out_dir=Path.cwd())
    prepare_study(load_space(space), storage=spec, study_name=study, sampler=sampler, engine=engine, seed=0,
                  n_trials=target)
    cmd = [sys.executable, "-m", "slmsim.cli", "worker", "--storage", storage, "--study", study, "--no-progress",
           "--sampler", sampler]
    procs = [subprocess.Popen([*cmd, "--seed", str(i)], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True) for i in range(workers)]
    st = open_storage(spec)
    handle = optuna.load_study(study_name=study, storage=st)
    notes = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            if len(handle.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= kill_at * target:
                break
            time.sleep(0.1)
        at_kill = len(handle.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        for p in procs[:killed]:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            try:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                notes.append("a worker did not finish in time")
        for p in procs[killed:]:
            err = p.stderr.read().decode() if p.stderr else ""
            if p.returncode != 0:
                notes.append(f"a worker failed (exit {p.returncode}): {err[-400:]}")
        report = _study_report(handle.get_trials(deepcopy=False), space, target)
        report.kills = killed
        report.kills_mid_run = killed if 0 < at_kill < target else 0
        report.notes += notes
        return report
    finally:
        for p in procs:
            if p.stderr:
                p.stderr.close()
        try:
            optuna.delete_study(study_name=study, storage=st)
        except Exception:  # noqa: BLE001 - cleanup only
            pass
