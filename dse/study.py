"""Optuna studies over a `Space`: create or resume, run workers, count trials exactly.

A study carries everything a worker needs in its user attributes (`slmsim:config`: the
resolved space, the base tree in SI, the model specs, engine, hypervolume reference), so
`slmsim worker --storage URL --study NAME` needs no files.

Counting. `--trials N` is a target for *completed* trials in the study, shared by every
worker: re-running a command tops the study up to N, it does not add N more. A worker
starts a trial only while completed + running < N, and a trial checks, once it has its
number, that fewer than N trials before it are complete, running or waiting; otherwise it
is not evaluated and ends PRUNED ("not evaluated: ..."), which can happen only when
several workers race for the last places.

Resume. Finished trials are kept. A trial left RUNNING by a process that died is failed
and re-queued with the same parameters (at most `MAX_RETRY` times):
- on any storage, at once, if its owner (recorded in the trial's `worker` attribute) ran
  on this host and is gone;
- on SQLite/PostgreSQL, also by Optuna's heartbeat after `GRACE_S` (workers on other hosts).
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from slmsim.dse.evaluate import Evaluation, Evaluator
from slmsim.dse.metrics import METRICS, WORKLOAD_METRICS, Direction, Metric
from slmsim.dse.pareto import hypervolume
from slmsim.dse.space import LoadedSpace, Param, Space, space_fingerprint
from slmsim.dse.storage import MAX_RETRY, StorageSpec, flocked, open_storage
from slmsim.hw_models.load import hardware_from_raw
from slmsim.core.errors import Problem, SpecError
from slmsim.core.yamlio import RawSpec
from slmsim.workloads.model import ModelSpec

CONFIG_ATTR = "slmsim:config"
TARGET_ATTR = "slmsim:n_trials"
SAMPLER_ATTR = "slmsim:sampler"
SAMPLERS = ("nsga2", "tpe", "gp", "random")
ENGINES = ("analytic", "des")
REFERENCE_FACTOR = 2.0  # default hypervolume reference: twice as bad as the base design
ORPHAN_S = 60.0  # a RUNNING trial that never named its worker is abandoned after this long
CONFIG_VERSION = 1

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class StudyConfig:
    """What a study was created from; identical for every worker."""

    space: Space
    base_tree: dict[str, Any]
    base_si: dict[str, Any]
    models: dict[str, ModelSpec]
    engine: str
    seed: int
    reference: tuple[float, ...]  # hypervolume reference, per objective in its unit
    fingerprint: str

    def to_attr(self) -> dict[str, Any]:
        return {"version": CONFIG_VERSION, "space": self.space.to_dict(), "base_tree": self.base_tree,
                "base_si": self.base_si, "models": {n: m.model_dump(mode="json") for n, m in self.models.items()},
                "engine": self.engine, "seed": self.seed, "reference": list(self.reference),
                "fingerprint": self.fingerprint}

    @classmethod
    def from_attr(cls, d: Mapping[str, Any]) -> "StudyConfig":
        return cls(space=Space.from_dict(d["space"]), base_tree=d["base_tree"], base_si=d["base_si"],
                   models={n: ModelSpec.model_validate(m) for n, m in d["models"].items()},
                   engine=d["engine"], seed=int(d["seed"]), reference=tuple(d["reference"]),
                   fingerprint=d["fingerprint"])

    def evaluator(self, *, engine: str | None = None) -> Evaluator:
        return Evaluator(space=self.space, base_si=self.base_si, models=self.models,
                         engine=engine or self.engine, seed=self.seed)

    # -- costs: every objective as a positive number to minimise, 1.0 at the reference ---

    def normalised_costs(self, values: np.ndarray) -> np.ndarray:
        """Objective values (n x d) -> cost / reference cost, where a maximised metric's cost
        is its reciprocal. The reference point becomes (1, ..., 1) and the ideal 0, so the
        hypervolume is the fraction of that box the front dominates."""
        v = np.asarray(values, dtype=float).reshape(-1, len(self.space.objectives))
        out = np.empty_like(v)
        for j, (o, ref) in enumerate(zip(self.space.objectives, self.reference, strict=True)):
            with np.errstate(divide="ignore", invalid="ignore"):
                out[:, j] = v[:, j] / ref if o.direction is Direction.MINIMIZE else ref / v[:, j]
        return out


# ----------------------------------------------------------------------------- creating


def reference_from_base(loaded: LoadedSpace, *, engine: str, seed: int) -> tuple[float, ...]:
    """The hypervolume reference: the space's `reference:`, else twice as bad as the base."""
    space = loaded.space
    if space.reference is not None:
        return space.reference
    ev = Evaluator(space=space, base_si=loaded.base_si, models=loaded.models, engine=engine, seed=seed)
    hw = hardware_from_raw(RawSpec(data=loaded.base_si, provenance={}, file=space.file, chain=(space.file,)),
                           si_floats=True)
    result = ev.evaluate_spec(hw.spec)
    if not result.runs:
        raise SpecError([Problem(
            file=space.file, path="reference",
            message=f"the base design cannot run every workload ({result.infeasible_reason}), so no hypervolume "
                    "reference can be derived from it",
            expected="`reference:` with one value per objective, e.g. {decode_latency: '20 ms', area: '200 mm^2'}",
            hint="add `reference:` (a point every interesting design beats), or use a base that runs every workload",
        )])
    ref = []
    for o in space.objectives:
        v = result.metrics[o.metric]
        ref.append(v * REFERENCE_FACTOR if o.direction is Direction.MINIMIZE else v / REFERENCE_FACTOR)
    return tuple(ref)


def prepare_study(loaded: LoadedSpace, *, storage: StorageSpec, study_name: str, sampler: str, engine: str,
                  seed: int, n_trials: int) -> tuple[optuna.Study, StudyConfig]:
    """Create the study, or check that an existing one was made from the same space and engine."""
    st = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
        existing = True
    except KeyError:
        existing = False
    if existing:
        attr = study.user_attrs.get(CONFIG_ATTR)
        if attr is None:
            raise SpecError([Problem(
                file="<command line>", path="--study", message=f"study {study_name!r} exists in {storage.url} but was "
                "not created by slmsim", value=study_name, hint="choose another --study name")])
        config = StudyConfig.from_attr(attr)
        _check_same(loaded, config, engine=engine, study_name=study_name, storage=storage)
    else:
        reference = reference_from_base(loaded, engine=engine, seed=seed)
        config = StudyConfig(space=loaded.space, base_tree=loaded.base_tree, base_si=loaded.base_si,
                             models=dict(loaded.models), engine=engine, seed=seed, reference=reference,
                             fingerprint=loaded.fingerprint())
        study = optuna.create_study(study_name=study_name, storage=st, directions=loaded.space.directions,
                                    load_if_exists=True)
        if CONFIG_ATTR not in study.user_attrs:  # another process may have created it a moment ago
            study.set_user_attr(CONFIG_ATTR, config.to_attr())
        else:
            _check_same(loaded, StudyConfig.from_attr(study.user_attrs[CONFIG_ATTR]), engine=engine,
                        study_name=study_name, storage=storage)
    if study.user_attrs.get(TARGET_ATTR) != n_trials:
        study.set_user_attr(TARGET_ATTR, n_trials)
    if study.user_attrs.get(SAMPLER_ATTR) != sampler:
        study.set_user_attr(SAMPLER_ATTR, sampler)
    return study, config


def _check_same(loaded: LoadedSpace, config: StudyConfig, *, engine: str, study_name: str,
                storage: StorageSpec) -> None:
    problems = []
    if space_fingerprint(config.space, config.base_si, config.models) != loaded.fingerprint():
        old, new = config.space.to_dict(), loaded.space.to_dict()
        changed = [k for k in ("parameters", "workloads", "aggregate", "objectives", "constraints")
                   if json.dumps(old[k], sort_keys=True, default=str) != json.dumps(new[k], sort_keys=True, default=str)]
        if config.base_si != loaded.base_si:
            changed.append("base spec")
        if not changed:
            changed.append("model specs")
        problems.append(Problem(
            file=loaded.space.file, path="", message=f"study {study_name!r} in {storage.url} was created from a "
            f"different space (changed: {', '.join(changed)})",
            hint="resuming would mix designs from two spaces: use a new --study name or --out folder"))
    if config.engine != engine:
        problems.append(Problem(
            file="<command line>", path="--engine", message=f"study {study_name!r} was run with the {config.engine} "
            f"engine", value=engine, expected=config.engine,
            hint=f"pass --engine {config.engine} to resume it, or use a new --study name"))
    if problems:
        raise SpecError(problems)


def open_study(storage: StorageSpec, study_name: str) -> tuple[optuna.Study, StudyConfig]:
    """Join an existing slmsim study (what `slmsim worker` does)."""
    st = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(st)]
        raise SpecError([Problem(
            file="<command line>", path="--study", message=f"no study {study_name!r} in {storage.url}",
            value=study_name, expected="one of: " + (", ".join(names) or "(none yet)"),
            hint="create it first with `slmsim explore SPACE --storage URL --study NAME --jobs 0`")]) from None
    attr = study.user_attrs.get(CONFIG_ATTR)
    if attr is None:
        raise SpecError([Problem(file="<command line>", path="--study",
                                 message=f"study {study_name!r} was not created by slmsim", value=study_name)])
    return study, StudyConfig.from_attr(attr)


# ----------------------------------------------------------------------------- samplers


def make_sampler(name: str, *, seed: int | None, space: Space, n_trials: int) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "nsga2":
            # a generation of 10% of the budget (10..50) leaves several generations to evolve
            pop = int(min(50, max(10, n_trials // 10)))
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=pop)
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(20, max(10, n_trials // 20)))
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "gp":
            try:
                import torch  # noqa: F401 - the GP sampler needs it
            except ImportError:
                raise SpecError([Problem(
                    file="<command line>", path="--sampler", message="the gp sampler needs PyTorch, which is not "
                    "installed", value="gp", expected="nsga2, tpe or random, or PyTorch installed",
                    hint="pip install torch (the CPU build is enough), or use --sampler tpe")]) from None
            return optuna.samplers.GPSampler(seed=seed, deterministic_objective=True)
        if name == "grid":
            grid = grid_space(space)
            return optuna.samplers.GridSampler(grid, seed=seed)
    raise SpecError([Problem(file="<command line>", path="--sampler", message=f"unknown sampler {name!r}",
                             value=name, expected="one of: " + ", ".join(SAMPLERS))])


def grid_space(space: Space) -> dict[str, list[Any]]:
    """Every value of every parameter; continuous ranges are an error (they need a step)."""
    grid: dict[str, list[Any]] = {}
    problems = []
    for p in space.params:
        values = p.grid()
        if values is None:
            problems.append(Problem(
                file=space.file, path=f"parameters[{p.path}]", message="a sweep needs a finite set of values; "
                "this range is continuous", expected="`step:` on the range, or `choices:`",
                hint="add e.g. `step:` (with its unit) so the range has a grid"))
            continue
        grid[p.path] = values
    if problems:
        raise SpecError(problems)
    return grid


def suggest(trial: optuna.Trial, p: Param) -> Any:
    if p.kind == "categorical":
        return trial.suggest_categorical(p.path, list(p.labels))
    assert p.low is not None and p.high is not None
    if p.kind == "int":
        return trial.suggest_int(p.path, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return trial.suggest_float(p.path, p.low, p.high, step=p.step, log=p.log)


def distributions(space: Space) -> dict[str, optuna.distributions.BaseDistribution]:
    out: dict[str, optuna.distributions.BaseDistribution] = {}
    for p in space.params:
        if p.kind == "categorical":
            out[p.path] = optuna.distributions.CategoricalDistribution(list(p.labels))
        elif p.kind == "int":
            out[p.path] = optuna.distributions.IntDistribution(int(p.low or 0), int(p.high or 0),
                                                               step=int(p.step or 1), log=p.log)
        else:
            out[p.path] = optuna.distributions.FloatDistribution(float(p.low or 0), float(p.high or 0),
                                                                 step=p.step, log=p.log)
    return out


# ----------------------------------------------------------------------------- workers


def _proc_start(pid: int) -> str | None:
    """Start time of a process (clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # field 22 of stat(5); fields[0] is field 3
    except (OSError, IndexError):
        return None


def _proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def owner_record() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _proc_start(pid)}


def owner_alive(owner: Mapping[str, Any]) -> bool | None:
    """True/False for an owner on this host; None when it ran elsewhere (cannot tell)."""
    if owner.get("host") != socket.gethostname():
        return None
    pid = int(owner.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _proc_state(pid) in ("Z", "X"):
        return False
    start = owner.get("start")
    return start is None or _proc_start(pid) in (None, start)


def retry_stale_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a failed trial's parameters again (at most MAX_RETRY times), like Optuna's
    `RetryHeartbeatStaleTrialCallback`, without copying the dead worker's attributes."""
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRY:
        return
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        system_attrs={"failed_trial": history[0], "retry_history": history},
    ))


def _reap_lock_path(study: optuna.Study) -> str:
    key = zlib.crc32(f"{study.study_name}".encode())
    return os.path.join(tempfile.gettempdir(), f"slmsim-reap-{key:08x}.lock")


def reap_stale_trials(study: optuna.Study) -> list[int]:
    """Fail (and re-queue) RUNNING trials whose worker is known to be gone; return their numbers."""
    reaped: list[int] = []
    with flocked(_reap_lock_path(study)):
        now = datetime.now(timezone.utc)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = t.user_attrs.get("worker")
            if owner is not None:
                if owner_alive(owner) is not False:
                    continue
            else:
                started = t.datetime_start
                if started is None:
                    continue
                if started.tzinfo is None:
                    started = started.replace(tzinfo=timezone.utc) if _journal_like(study) else started.astimezone()
                if (now - started).total_seconds() < ORPHAN_S:
                    continue
            try:
                study.tell(t.number, state=TrialState.FAIL)
            except (ValueError, RuntimeError):
                continue  # finished meanwhile
            retry_stale_trial(study, t)
            reaped.append(t.number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # heartbeat-based, on RDB storages only
    return reaped


def _journal_like(study: optuna.Study) -> bool:
    return not isinstance(study._storage, optuna.storages.RDBStorage)  # noqa: SLF001


@dataclass
class Progress:
    complete: int
    target: int
    mine: int
    feasible: int
    front_size: int
    hypervolume: float


class NotEvaluated(optuna.TrialPruned):
    """This trial came after the target was reached by other workers."""


def _target(study: optuna.Study) -> int:
    return int(study.user_attrs.get(TARGET_ATTR, 0))


def run_worker(study: optuna.Study, config: StudyConfig, *, sampler: optuna.samplers.BaseSampler,
               max_trials: int | None = None, on_trial: Callable[[Progress], None] | None = None,
               parent_pid: int | None = None, poll_s: float = 0.2) -> int:
    """Evaluate trials until the study has its target of completed trials (or `max_trials` here).

    Returns how many trials this worker completed.
    """
    study.sampler = sampler
    evaluator = config.evaluator()
    owner = owner_record()
    objectives = config.space.objectives
    penalty = list(config.reference)
    target = _Target(study)
    room = _Room(study, target, poll_s=poll_s, parent_pid=parent_pid)
    tracker = _FrontTracker(config)
    mine = 0
    outcome: dict[str, bool] = {}

    def objective(trial: optuna.Trial) -> list[float]:
        trial.set_user_attr("worker", owner)
        # at most `trial.number` trials precede this one, so only count when that could reach the target
        if trial.number >= target.value:
            claimed = sum(1 for t in study.get_trials(deepcopy=False)
                          if t.number < trial.number and t.state in (TrialState.COMPLETE, TrialState.RUNNING,
                                                                     TrialState.WAITING))
            if claimed >= target.value and claimed >= target.refresh(force=True):
                trial.set_user_attr("infeasible_reason", f"not evaluated: {target.value} trials were already complete "
                                    "or running when this one started (another worker took the last place)")
                raise NotEvaluated()
        sampled = {p.path: suggest(trial, p) for p in config.space.params}
        try:
            ev = evaluator.evaluate_params(sampled, label=f"trial {trial.number}")
        except Exception as exc:
            trial.set_user_attr("infeasible_reason", f"internal error: {type(exc).__name__}: {exc}")
            raise
        trial.set_user_attr("infeasible_reason", ev.infeasible_reason)
        trial.set_user_attr("metrics", metrics_attr(ev))
        for key, value in ev.violations.items():
            trial.set_constraint(key, value)
        outcome["complete"] = True
        if not ev.runs:
            return penalty  # scored at the hypervolume reference; the `runs` constraint marks it infeasible
        return [ev.metrics[o.metric] for o in objectives]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        reap_stale_trials(study)
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the explore process that started us is gone
            done = room.wait()
            if done is None:
                break
            outcome.clear()
            study.optimize(objective, n_trials=1, catch=(), gc_after_trial=False)
            room.counted(completed_here=bool(outcome.get("complete")))
            if outcome.get("complete"):
                mine += 1
            if on_trial is not None:
                on_trial(tracker.progress(study, complete=done + int(outcome.get("complete", False)),
                                          target=target.value, mine=mine))
            if max_trials is not None and mine >= max_trials:
                break
    return mine


class _Target:
    """The study's target of completed trials; re-read now and then (it is a study attribute
    that a later `explore --trials N` may raise, and reading it copies every attribute)."""

    def __init__(self, study: optuna.Study, every_s: float = 2.0) -> None:
        self._study = study
        self._every = every_s
        self._at = time.monotonic()
        self.value = _target(study)

    def refresh(self, *, force: bool = False) -> int:
        now = time.monotonic()
        if force or now - self._at > self._every:
            self._at = now
            self.value = _target(self._study)
        return self.value


class _Room:
    """Is there room for another trial? Counting the study's trials costs time in proportion
    to its size, so between counts (at most a second apart, and always near the target) we
    add our own completions to the last count. An estimate that is off can only start a
    trial too many, and that trial's own exact check (`trial.number >= target`) stops it."""

    def __init__(self, study: optuna.Study, target: _Target, *, poll_s: float, parent_pid: int | None) -> None:
        self.study = study
        self.target = target
        self.poll_s = poll_s
        self.parent_pid = parent_pid
        self._at = -1e9
        self._complete = 0
        self._running = 0

    def counted(self, *, completed_here: bool) -> None:
        self._complete += int(completed_here)

    def wait(self) -> int | None:
        """The number of completed trials when another trial may start; None once the target is met."""
        self.target.refresh()
        margin = max(4, self.target.value // 20)
        if (time.monotonic() - self._at < 1.0
                and self._complete + self._running + margin < self.target.value):
            return self._complete
        while True:
            self._at = time.monotonic()
            complete = running = 0
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)):
                if t.state == TrialState.COMPLETE:
                    complete += 1
                else:
                    running += 1
            self._complete, self._running = complete, running
            if complete >= self.target.value and complete >= self.target.refresh(force=True):
                return None
            if complete + running < self.target.value:
                return complete
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                return None
            # the last places are taken by running trials: wait, they may fail and need a retry
            reap_stale_trials(self.study)
            time.sleep(self.poll_s * (0.5 + random.random()))


def metrics_attr(ev: Evaluation) -> dict[str, Any]:
    """Every figure of a trial, keyed by its trials-table column (None for unknown)."""
    out: dict[str, Any] = {}
    for m in Metric:
        out[f"metric:{METRICS[m].column}"] = _num(ev.metrics.get(m))
    for name, values in ev.per_workload.items():
        for m in WORKLOAD_METRICS:
            out[f"wl:{name}:{METRICS[m].column}"] = _num(values.get(m))
    out["wall_time_s"] = ev.wall_time_s
    return out


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


class _FrontTracker:
    """Pareto size and hypervolume for the progress bar: updated incrementally with the
    trials completed since the last look, at most once a second."""

    def __init__(self, config: StudyConfig) -> None:
        self.config = config
        self._at = 0.0
        self._seen: set[int] = set()
        self._front = np.empty((0, len(config.space.objectives)))
        self._hv = 0.0
        self._feasible = 0

    def progress(self, study: optuna.Study, *, complete: int, target: int, mine: int) -> Progress:
        now = time.monotonic()
        if now - self._at > 1.0 or complete >= target:
            self._at = now
            changed = False
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                if t.number in self._seen:
                    continue
                self._seen.add(t.number)
                if not trial_feasible(t) or t.values is None:
                    continue
                self._feasible += 1
                c = self.config.normalised_costs(np.array([t.values]))[0]
                if np.any(np.all(self._front <= c, axis=1)):
                    continue
                self._front = np.vstack([self._front[~np.all(c <= self._front, axis=1)], c])
                changed = True
            if changed:
                self._hv = hypervolume(self._front, [1.0] * self._front.shape[1])
        return Progress(complete=complete, target=target, mine=mine, feasible=self._feasible,
                        front_size=int(self._front.shape[0]), hypervolume=self._hv)


def trial_feasible(t: FrozenTrial) -> bool:
    return t.state == TrialState.COMPLETE and bool(t.constraints) and all(v <= 0 for v in t.constraints.values())


def feasible_values(trials: Sequence[FrozenTrial], objectives: Sequence[Any]) -> list[list[float]]:
    return [list(t.values) for t in trials if trial_feasible(t) and t.values is not None]


def worker_entry(*, storage_url: str, storage_kind: str, study_name: str, sampler_name: str, seed: int | None,
                 parent_pid: int | None) -> None:
    """Target of the extra processes `--jobs N` starts (spawned: a fresh interpreter)."""
    storage = StorageSpec(storage_kind, storage_url)
    study, config = open_study(storage, study_name)
    sampler = make_sampler(sampler_name, seed=seed, space=config.space, n_trials=_target(study))
    run_worker(study, config, sampler=sampler, parent_pid=parent_pid)
