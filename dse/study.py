"""Optuna studies over a `Space`: create or resume, run workers, count trials exactly.

A study carries everything a worker needs in its user attributes (`slmsim:config`: the
resolved space, the base tree in SI, the model specs, engine, hypervolume reference), so
`slmsim worker --storage URL --study NAME` needs no files.

A trial is written once, finished. Each worker keeps an in-memory mirror of the study that
its sampler works on (Optuna's `ask` with fixed distributions, then `tell`); the mirror
takes in the trials other workers and earlier runs finished. The finished trial goes to
the study's storage as one record (`Study.add_trial`): one journal append or one database
transaction per trial, and no RUNNING trial that a killed worker could leave behind.

Evaluation cache. A design (canonical key of its parameters, `design_key`) already
evaluated in the study is not simulated again: the trial records the same result and
`duplicate_of` (the number of the trial that evaluated it), so counts and fronts can count
distinct designs while the sampler still learns that it proposed a repeat.

Counting. `--trials N` is a target for *completed* trials in the study (repeats included),
shared by every worker: re-running a command tops the study up to N, it does not add N
more. On a journal, within JOURNAL_MARGIN trials of the target, the count and the append
are one step under the journal's lock, so a study never has more than N; on PostgreSQL the
same near the target under an advisory lock (`add_counted`), which the gRPC proxy also
takes for its workers (slmsim.dse.proxy); on SQLite/MySQL two workers can race for the last
place (at most one extra trial per worker).

Claims. Around evaluate + record a worker holds a claim on its design (slmsim.dse.claims,
or the proxy's), so no two workers evaluate one design at once.

Resume. Finished trials are kept. The sampler is seeded afresh (`resume_seed`), so a
resumed run continues rather than replaying the designs of the first run.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import os
import socket
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from slmsim.dse.claims import DESIGN_ATTR, Claims, FileClaims, PgClaims
from slmsim.dse.proxy import CLAIM_TTL_S, FULL, GrpcClaims, refused
from slmsim.dse.evaluate import RUNS, Evaluation, Evaluator
from slmsim.dse.metrics import METRICS, WORKLOAD_METRICS, Direction, Metric
from slmsim.dse.pareto import hypervolume
from slmsim.dse.space import LoadedSpace, Param, Space, space_fingerprint
from slmsim.dse.storage import StorageSpec, flush_storage, journal_backend, open_storage, remember_backend
from slmsim.hw_models.load import hardware_from_raw
from slmsim.core.credentials import mask_secrets
from slmsim.core.errors import Problem, SpecError
from slmsim.core.yamlio import RawSpec
from slmsim.workloads.model import ModelSpec

CONFIG_ATTR = "slmsim:config"
TARGET_ATTR = "slmsim:n_trials"
SAMPLER_ATTR = "slmsim:sampler"
CONSTRAINTS_ATTR = "slmsim:constraint_names"  # what each value of a trial's `constraints` list is
DUPLICATE_ATTR = "duplicate_of"  # trial user attribute: the trial that evaluated this design first
SAMPLERS = ("nsga2", "tpe", "gp", "random")
ENGINES = ("analytic", "des")
REFERENCE_FACTOR = 2.0  # default hypervolume reference: twice as bad as the base design
ORPHAN_S = 60.0  # a RUNNING trial that never named its worker is abandoned after this long
CONFIG_VERSION = 1
# journal: within this many trials of the target, the count and the append are one step under
# the journal lock; before that a worker appends at once after reading the journal. Each other
# worker can append at most one trial between that read and our append, so the target is exact
# while fewer than this many workers share one journal (they run on one machine: one per core)
JOURNAL_MARGIN = 16
CLAIMS_SUFFIX = ".claims"  # journal: the design claims file beside it (slmsim.dse.claims)
CLAIMS = True  # design claims on (journal, PostgreSQL, gRPC proxy); benchmarks/dse_bench.py turns them off to measure their cost

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
                file="<command line>", path="--study", message=f"study {study_name!r} exists in {storage.display} but was "
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
            study.set_user_attr(CONSTRAINTS_ATTR, constraint_keys(loaded.space))
        else:
            _check_same(loaded, StudyConfig.from_attr(study.user_attrs[CONFIG_ATTR]), engine=engine,
                        study_name=study_name, storage=storage)
    if study.user_attrs.get(TARGET_ATTR) != n_trials:
        study.set_user_attr(TARGET_ATTR, n_trials)
    if study.user_attrs.get(SAMPLER_ATTR) != sampler:
        study.set_user_attr(SAMPLER_ATTR, sampler)
    names = [o.metric.value for o in config.space.objectives]
    if study.metric_names != names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)  # optuna-dashboard and optuna.visualization label the objectives
    _remember(study, st)
    flush_storage(study)  # the study's creation is durable at once
    return study, config


_DATABASES: "weakref.WeakKeyDictionary[optuna.Study, optuna.storages.RDBStorage]" = weakref.WeakKeyDictionary()
_PROXIES: "weakref.WeakKeyDictionary[optuna.Study, optuna.storages.BaseStorage]" = weakref.WeakKeyDictionary()


def _remember(study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
    backend = journal_backend(storage)
    if backend is not None:
        remember_backend(study, backend)
    if isinstance(storage, optuna.storages.RDBStorage):
        _DATABASES[study] = storage
    if type(storage).__name__ == "GrpcStorageProxy":  # without importing grpc where it is not used
        _PROXIES[study] = storage


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
            file=loaded.space.file, path="", message=f"study {study_name!r} in {storage.display} was created from a "
            f"different space (changed: {', '.join(changed)})",
            hint="resuming would mix designs from two spaces: use a new --study name or --out folder"))
    if config.engine != engine:
        problems.append(Problem(
            file="<command line>", path="--engine", message=f"study {study_name!r} was run with the {config.engine} "
            f"engine", value=engine, expected=config.engine,
            hint=f"pass --engine {config.engine} to resume it, or use a new --study name"))
    if problems:
        raise SpecError(problems)


def _missing_storage_file(storage: StorageSpec) -> str | None:
    """The path of a journal or SQLite storage whose file does not exist; None otherwise."""
    if storage.kind == "journal":
        path = storage.url
    elif storage.kind == "rdb" and storage.url.lower().startswith("sqlite:///"):
        path = storage.url.split(":///", 1)[1]
        if path in ("", ":memory:"):
            return None
    else:
        return None
    return None if Path(path).exists() else path


def open_study(storage: StorageSpec, study_name: str) -> tuple[optuna.Study, StudyConfig]:
    """Join an existing slmsim study (what `slmsim worker` does).

    A journal or SQLite file that does not exist holds no study: it is refused before the
    storage is opened, so a mistyped path leaves no empty file (and lock) behind.
    """
    missing = _missing_storage_file(storage)
    if missing is not None:
        raise SpecError([Problem(
            file="<command line>", path="--storage", message=f"no such file: {mask_secrets(str(missing))}", value=storage.display,
            expected="the journal or database file a study was created in",
            hint="create the study first with `slmsim explore SPACE --storage URL --study NAME --jobs 0`, "
                 "or check the path")])
    st = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(st)]
        raise SpecError([Problem(
            file="<command line>", path="--study", message=f"no study {study_name!r} in {storage.display}",
            value=study_name, expected="one of: " + (", ".join(names) or "(none yet)"),
            hint="create it first with `slmsim explore SPACE --storage URL --study NAME --jobs 0`")]) from None
    attr = study.user_attrs.get(CONFIG_ATTR)
    if attr is None:
        raise SpecError([Problem(file="<command line>", path="--study",
                                 message=f"study {study_name!r} was not created by slmsim", value=study_name)])
    _remember(study, st)
    return study, StudyConfig.from_attr(attr)


# ----------------------------------------------------------------------------- samplers


def make_sampler(name: str, *, seed: int | None, space: Space, n_trials: int) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "nsga2":
            # a generation of 10% of the budget (10..50) leaves several generations to evolve
            pop = int(min(50, max(10, n_trials // 10)))
            return _fixed(optuna.samplers.NSGAIISampler, space)(seed=seed, population_size=pop)
        if name == "tpe":
            return _fixed(optuna.samplers.TPESampler, space)(
                seed=seed, multivariate=True, n_startup_trials=min(20, max(10, n_trials // 20)))
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
            return _fixed(optuna.samplers.GPSampler, space)(seed=seed, deterministic_objective=True)
        if name == "grid":
            grid = grid_space(space)
            return _GridSampler(grid, seed=seed)
    raise SpecError([Problem(file="<command line>", path="--sampler", message=f"unknown sampler {name!r}",
                             value=name, expected="one of: " + ", ".join(SAMPLERS))])


def _fixed(cls: type, space: Space) -> type:
    """`cls` with its relative search space fixed to the space's distributions: every trial
    samples every parameter from the same distribution, so Optuna's search-space inference
    (an intersection over all trials, compared distribution by distribution) is skipped."""
    fixed = distributions(space)

    def infer_relative_search_space(self: Any, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return dict(fixed)

    return type(f"Fixed{cls.__name__}", (cls,), {"infer_relative_search_space": infer_relative_search_space})


class GridExhausted(Exception):
    """Every grid point of a sweep has been evaluated in the study (as this worker has seen it)."""


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, made safe for resumes and several workers.

    Optuna's own shuffles the grid with the seed and hands trial number i the i-th point of
    that shuffle: a resumed run (new seed) or a second worker (seed + 1, or its own trial
    numbering in its mirror) then reads old indices as other points, proposes points
    already done and leaves others out, while the repeats count toward the target. Here
    the grid keeps Optuna's canonical order (parameters sorted by name, `itertools.product`,
    the same in every process), a point counts as visited by its *parameters* among the
    finished trials of the mirror (which holds every trial of the study the worker has
    seen), and the next point is the first unvisited one in this worker's own random order
    (a permutation drawn with its seed: two workers rarely pick the same point; the claim
    settles it when they do). When no point is left, `ask` raises `GridExhausted`.
    `study.stop()` is never called (it only works inside `optimize`; our loop stops on its
    own). A repeat is not written to the study (`_Worker.record`), so a sweep's target of
    completed trials is reached exactly when every point has been evaluated once."""

    def __init__(self, search_space: Mapping[str, Sequence[Any]], seed: int | None = None) -> None:
        super().__init__(search_space, seed=0)
        self._all_grids = list(itertools.product(*self._search_space.values()))  # undo the shuffle
        self._index = {self._point_key(g): i for i, g in enumerate(self._all_grids)}
        self._visited: set[int] = set()
        self._scanned = 0  # trials of the mirror already looked at
        self._order = np.random.default_rng(seed).permutation(len(self._all_grids)).tolist()  # this worker's order
        self._next = 0  # the points of `_order` before it are visited

    @staticmethod
    def _point_key(values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in values)

    def next_unvisited(self, study: optuna.Study) -> int | None:
        """The next point of this worker's order that no finished trial of `study` has."""
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        first_open = None  # a trial not finished yet (the one being asked) is looked at again next time
        for k in range(self._scanned, len(trials)):
            t = trials[k]
            if not t.state.is_finished():
                first_open = k if first_open is None else first_open
            elif all(n in t.params for n in self._param_names):
                i = self._index.get(self._point_key([t.params[n] for n in self._param_names]))
                if i is not None:
                    self._visited.add(i)
        self._scanned = len(trials) if first_open is None else first_open
        while self._next < len(self._order) and self._order[self._next] in self._visited:
            self._next += 1
        return self._order[self._next] if self._next < len(self._order) else None

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if "grid_id" in trial.system_attrs or "fixed_params" in trial.system_attrs:
            return
        grid_id = self.next_unvisited(study)
        if grid_id is None:
            raise GridExhausted
        study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
        study._storage.set_trial_system_attr(trial._trial_id, "grid_id", grid_id)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        pass


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
    return {"host": socket.gethostname(), "pid": pid, "start": _proc_start(pid), "id": uuid.uuid4().hex[:12]}


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


def reap_stale_trials(study: optuna.Study) -> list[int]:
    """Fail RUNNING trials left by a process that died; return their numbers.

    Our workers write a trial only once it is finished, so they leave no RUNNING trial
    behind whatever kills them; this cleans up after other tools (and older slmsim): a
    RUNNING trial whose owner ran on this host and is gone is failed at once, one with no
    owner after ORPHAN_S. A failed trial is not re-queued: the evaluation cache and the
    sampler make re-running it pointless."""
    reaped: list[int] = []
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
                started = started.astimezone()
            if (now - started).total_seconds() < ORPHAN_S:
                continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):
            continue  # finished meanwhile
        reaped.append(t.number)
    return reaped


@dataclass
class Progress:
    complete: int  # completed trials in the study (repeats included)
    target: int
    mine: int
    designs: int  # distinct designs evaluated (completed trials that are not repeats)
    feasible: int  # distinct feasible designs
    front_size: int  # distinct designs on the feasible front
    hypervolume: float


def _target(study: optuna.Study) -> int:
    return int(study.user_attrs.get(TARGET_ATTR, 0))


def design_key(params: Mapping[str, Any], space: Space) -> str:
    """A canonical key of a parameter set: equal designs, equal keys (floats to 12 digits)."""
    items = []
    for p in space.params:
        v = params.get(p.path)
        if isinstance(v, float):
            v = float(f"{v:.12g}")
        items.append(v)
    return json.dumps(items, default=str)


def constraint_keys(space: Space) -> list[str]:
    """The order of the values in a trial's `constraints` system attribute."""
    return [RUNS, *(c.key for c in space.constraints)]


def resume_seed(seed: int | None, *, done: int, worker: int = 0) -> int | None:
    """The sampler seed of a run: `seed + worker` for a new study; for a study that already
    has `done` trials, a different stream, so a resumed run continues instead of replaying
    the designs its first run proposed (the random sampler would repeat them all)."""
    if seed is None:
        return None
    if done == 0:
        return seed + worker
    return (seed * 1_000_003 + done * 7_919 + worker * 104_729 + 1) % (2**32)


class _Finished(FrozenTrial):
    """A finished trial for a worker's mirror, copied one level deep.

    Optuna's in-memory storage deep-copies every trial it is given (`add_trials`), and a
    mirror is given every trial the other workers finish: a full deep copy (datetimes,
    distributions, attribute values) cost ~0.4 ms a trial here, the largest part of what a
    second worker added to each trial's CPU time. A finished trial is never changed
    afterwards (neither we nor Optuna's samplers write to a COMPLETE trial), so its
    dictionaries are copied and their values shared."""

    def __deepcopy__(self, memo: dict[int, Any]) -> "_Finished":
        t = copy.copy(self)
        t.params = dict(self.params)
        t.distributions = dict(self.distributions)
        t.user_attrs = dict(self.user_attrs)
        t.system_attrs = dict(self.system_attrs)
        t.values = self.values  # the setter copies the list
        t.intermediate_values = dict(self.intermediate_values)
        return t


@dataclass(frozen=True)
class _Result:
    """What a trial records: objective values, constraint values, user attributes."""

    values: list[float]
    constraints: list[float]
    attrs: dict[str, Any]  # infeasible_reason, metrics


@dataclass
class _Cached:
    number: int | None  # the trial that evaluated it (None: ours, not read back yet)
    result: _Result


class _Worker:
    """One worker's view of a study: an in-memory mirror the sampler works on, the
    evaluation cache by design key, and the feasible front of distinct designs."""

    def __init__(self, study: optuna.Study, config: StudyConfig, sampler: optuna.samplers.BaseSampler) -> None:
        self.study = study
        self.config = config
        self.space = config.space
        self.keys = constraint_keys(self.space)
        self.dists = distributions(self.space)
        self.mem = optuna.create_study(directions=self.space.directions, sampler=sampler)
        # a sweep writes each grid point once: a repeat (another worker evaluated the point
        # since we last looked) is told to the mirror only, so it cannot take a grid point's place
        self.skip_repeats = isinstance(sampler, _GridSampler)
        self.owner = owner_record()
        self.cache: dict[str, _Cached] = {}
        backend = journal_backend(study)
        self.lock = backend.lock if backend is not None else None
        self.rdb = _DATABASES.get(study)
        self.proxy = _PROXIES.get(study)
        self.claims: Claims | GrpcClaims | None = None
        if not CLAIMS:
            pass
        elif backend is not None:
            self.claims = FileClaims(backend.path + CLAIMS_SUFFIX)
        elif self.rdb is not None and self.rdb.engine.dialect.name == "postgresql":
            self.claims = PgClaims(self.rdb.engine, self.rdb.get_study_id_from_name(study.study_name))
        elif self.proxy is not None:
            self.claims = GrpcClaims(self.proxy, self.proxy.get_study_id_from_name(study.study_name), self.owner["id"])
        self._seen: set[int] = set()
        self.complete = 0  # completed trials in the study at the last sync (+ ours since)
        self.designs = 0
        self.feasible = 0
        self._front = np.empty((0, len(self.space.objectives)))
        self._hv = 0.0
        self._hv_stale = False
        self._synced_at = -1e9
        self._sync_cost = 0.0
        self._n_synced = 0
        self._last_number = -1
        self._fresh: list[FrozenTrial] = []

    # -- reading the study

    def sync(self, *, force: bool = False, defer: bool = False) -> int:
        """Take in trials other workers (or earlier runs) finished; returns the completed count.

        A journal is read incrementally and cheaply, so it is synced with every trial; a
        database (or the gRPC proxy in front of one) at most every second (or ten times as long
        as a sync takes), unless forced. A design another worker evaluated since is then found
        by the claim, which looks in the database itself.
        `defer`: only count now (under the journal lock) and take the new trials into the
        cache and the mirror with `take_in()` once the lock is released."""
        now = time.monotonic()
        shared = self.rdb is not None or self.proxy is not None  # every read is a query (through the proxy: an RPC + one)
        if shared and not force and now - self._synced_at < max(1.0, 10 * self._sync_cost):
            return self.complete
        trials = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        self._synced_at = time.monotonic()
        self._sync_cost = self._synced_at - now
        self.complete = len(trials)
        # completed trials come in number order and new ones at the end (ours are written
        # finished); look at the tail only, unless an older trial completed meanwhile
        k = self._n_synced
        if not (0 < k <= len(trials) and trials[k - 1].number == self._last_number):
            k = 0
        fresh = []
        for t in trials[k:]:
            if t.number in self._seen:
                continue
            self._seen.add(t.number)
            fresh.append(t)
        if trials:
            self._n_synced, self._last_number = len(trials), trials[-1].number
        self._fresh += fresh
        if not defer:
            self.take_in()
        return self.complete

    def take_in(self) -> None:
        fresh, self._fresh = self._fresh, []
        if fresh:
            mirrored = []
            for t in fresh:
                key = design_key(t.params, self.space)
                duplicate = t.user_attrs.get(DUPLICATE_ATTR) is not None
                ours = (t.user_attrs.get("worker") or {}).get("id") == self.owner["id"]
                hit = self.cache.get(key)
                if hit is None and not duplicate and t.values is not None:
                    self.cache[key] = _Cached(t.number, _result_of(t, self.keys))
                elif hit is not None and hit.number is None and ours and not duplicate:
                    hit.number = t.number
                if not duplicate and not ours:  # ours were counted when written (record)
                    self._count_design(t.values, trial_feasible(t))
                if not ours:
                    mirrored.append(self._mirror_trial(t))
            if mirrored:
                self.mem.add_trials(mirrored)

    def _mirror_trial(self, t: FrozenTrial) -> FrozenTrial:
        system = {k: v for k, v in t.system_attrs.items() if not k.startswith("constraints") and k != DESIGN_ATTR}
        for k, v in t.constraints.items():
            name = self.keys[int(k)] if k.isdigit() and int(k) < len(self.keys) else k
            system[f"constraints:{name}"] = v
        return _Finished(number=0, trial_id=0, state=TrialState.COMPLETE, value=None, values=t.values,
                         datetime_start=t.datetime_start, datetime_complete=t.datetime_complete,
                         params=t.params, distributions=t.distributions, user_attrs={}, system_attrs=system,
                         intermediate_values={})

    def _count_design(self, values: Sequence[float] | None, feasible: bool) -> None:
        self.designs += 1
        if not feasible or values is None:
            return
        self.feasible += 1
        c = self.config.normalised_costs(np.array([values]))[0]
        # strict domination, so that two designs with equal objectives both stay on the
        # front, as in pareto.csv (the progress bar and the outputs count the same designs)
        f = self._front
        if np.any(np.all(f <= c, axis=1) & np.any(f < c, axis=1)):
            return
        self._front = np.vstack([f[~(np.all(c <= f, axis=1) & np.any(c < f, axis=1))], c])
        self._hv_stale = True

    def progress(self, *, target: int, mine: int) -> Progress:
        if self._hv_stale:
            self._hv = hypervolume(self._front, [1.0] * self._front.shape[1])
            self._hv_stale = False
        return Progress(complete=self.complete, target=target, mine=mine, designs=self.designs,
                        feasible=self.feasible, front_size=int(self._front.shape[0]), hypervolume=self._hv)

    # -- one trial

    def propose(self) -> optuna.Trial:
        return self.mem.ask(fixed_distributions=self.dists)

    @contextlib.contextmanager
    def claim(self, trial: optuna.Trial) -> Generator[None, None, None]:
        """Hold the design's claim around evaluate + record, so that no other worker evaluates
        it meanwhile; once it is held, look in the study again (the design may have been
        recorded while we waited). No claim for a design the cache already has."""
        key = design_key(trial.params, self.space)
        if self.claims is None or key in self.cache:
            yield
            return
        if isinstance(self.claims, GrpcClaims):
            # the proxy grants the claim, refuses it while another worker holds it (we wait),
            # or names the trial that evaluated the design (we serve it from there)
            deadline = time.monotonic() + CLAIM_TTL_S
            while True:
                answer = self.claims.try_claim(key)
                if answer is not True and answer is not False:
                    self._cache_trial(key, self.claims.trial(int(answer)))
                if answer is not False or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            try:
                yield
            except BaseException:
                self.claims.release(key)  # a record ends the claim in the proxy; nothing was recorded
                raise
            return
        with self.claims.hold(key):
            if isinstance(self.claims, PgClaims):
                trial_id = self.claims.evaluated_trial_id(key)
                if trial_id is not None and self.rdb is not None:
                    self._cache_trial(key, self.rdb.get_trial(trial_id))
            else:
                self.sync(force=True)  # a journal: read the new lines
            yield

    def _cache_trial(self, key: str, t: FrozenTrial) -> None:
        """Serve `key` from trial `t` (another worker's evaluation, found by a claim)."""
        self.cache[key] = _Cached(t.number, _result_of(t, self.keys))

    def close(self) -> None:
        if self.claims is not None:
            self.claims.close()
            self.claims = None

    def evaluate(self, evaluator: Evaluator, trial: optuna.Trial) -> tuple[_Result, _Cached | None]:
        """The trial's result: from the cache for a design evaluated before, else simulated."""
        key = design_key(trial.params, self.space)
        hit = self.cache.get(key)
        if hit is not None:
            return hit.result, hit
        ev = evaluator.evaluate_params(dict(trial.params), label=f"trial {self.complete}")
        values = list(self.config.reference) if not ev.runs else [ev.metrics[o.metric] for o in self.space.objectives]
        result = _Result(values=[float(v) for v in values],
                         constraints=[float(ev.violations[k]) for k in self.keys],
                         attrs={"infeasible_reason": ev.infeasible_reason, "metrics": metrics_attr(ev)})
        self.cache[key] = _Cached(None, result)
        return result, None

    def tell_only(self, trial: optuna.Trial, result: _Result) -> None:
        """Tell the mirror (the sampler learns the point is done); write nothing to the study."""
        for k, v in zip(self.keys, result.constraints, strict=True):
            trial.set_constraint(k, v)
        self.mem.tell(trial, result.values)

    def record(self, trial: optuna.Trial, result: _Result, hit: _Cached | None, *, target: int) -> bool:
        """Tell the mirror, then write the finished trial to the study as ONE record.

        False when the study reached its target meanwhile (another worker took the last
        place): the result stays in our cache and the mirror, nothing is written."""
        for k, v in zip(self.keys, result.constraints, strict=True):
            trial.set_constraint(k, v)
        self.mem.tell(trial, result.values)
        told = self.mem.get_trials(deepcopy=False)[trial.number]  # others' trials may have come in after it (claim)
        assert told.number == trial.number
        system = {k: v for k, v in told.system_attrs.items() if not k.startswith("constraints")}
        system["constraints"] = list(result.constraints)  # the list optuna-dashboard reads
        if hit is None:
            system[DESIGN_ATTR] = design_key(told.params, self.space)  # what a claim looks up
        attrs = {**result.attrs, "worker": {k: v for k, v in self.owner.items()}}
        if hit is not None:
            if hit.number is None:
                self.sync(force=True)  # our own earlier trial: read back its number
            attrs[DUPLICATE_ATTR] = hit.number
        record = FrozenTrial(number=0, trial_id=0, state=TrialState.COMPLETE, value=None, values=result.values,
                             datetime_start=told.datetime_start, datetime_complete=told.datetime_complete,
                             params=told.params, distributions=told.distributions, user_attrs=attrs,
                             system_attrs=system, intermediate_values={})
        if self.lock is not None:
            # read what the others appended (no lock: whole lines only); far from the target
            # the append alone takes the journal lock (one write), so workers do not queue on
            # the count; near it, the count and the append are one step under the lock
            full = self.sync(force=True, defer=True) >= target
            if not full and self.complete + JOURNAL_MARGIN >= target:
                with self.lock.held():
                    full = self.sync(force=True, defer=True) >= target
                    if not full:
                        self.study.add_trial(record)
            elif not full:
                self.study.add_trial(record)
            self.take_in()
            if full:
                return False
        elif self.rdb:
            self._add_counted(record, target=target)
            if self._dropped:
                return False
        elif self.proxy is not None:
            try:
                self.study.add_trial(record)  # the proxy counts and inserts as one step
            except KeyError as exc:
                if refused(exc, FULL):
                    self.complete = max(self.complete, target)
                    return False
                raise
        else:
            self.study.add_trial(record)
        self.complete += 1
        if hit is None:
            self._count_design(result.values, all(v <= 0 for v in result.constraints))
        return True

    _dropped = False

    def _add_counted(self, record: FrozenTrial, *, target: int) -> None:
        storage = self.rdb
        assert storage is not None
        study_id = storage.get_study_id_from_name(self.study.study_name)
        added, self.complete = add_counted(storage.engine, study_id, target=target,
                                           add=lambda: self.study.add_trial(record))
        self._dropped = not added


def add_counted(engine: Any, study_id: int, *, target: int, add: Callable[[], object]) -> tuple[bool, int]:
    """On a database: count the completed trials (one COUNT query) and `add()` ours unless the
    study has its target; near the target, under a PostgreSQL advisory lock so that two
    workers (or a worker and the gRPC proxy) cannot both take the last place. (SQLite/MySQL:
    the count without the lock; a race can add one trial.) Returns (added, count before)."""
    import sqlalchemy

    # Optuna's schema (stable since v1): table `trials`, state stored by name
    count = sqlalchemy.text("SELECT count(*) FROM trials WHERE study_id = :s AND state = 'COMPLETE'")
    lock_key = {"k": 0x51A5 * 100_000 + study_id}
    with engine.connect() as conn:
        n = int(conn.execute(count, {"s": study_id}).scalar() or 0)
        if n >= target:
            return False, n
        near = n + max(8, target // 50) >= target
        locked = near and engine.dialect.name == "postgresql"
        if locked:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), lock_key)
        try:
            if near:
                n = int(conn.execute(count, {"s": study_id}).scalar() or 0)
                conn.commit()
                if n >= target:
                    return False, n
            add()
            return True, n
        finally:
            if locked:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), lock_key)
                conn.commit()


def _result_of(t: FrozenTrial, keys: Sequence[str]) -> _Result:
    con = t.constraints
    constraints = [float(con.get(str(i), con.get(k, 1.0))) for i, k in enumerate(keys)]
    return _Result(values=list(t.values or []), constraints=constraints,
                   attrs={"infeasible_reason": t.user_attrs.get("infeasible_reason", ""),
                          "metrics": t.user_attrs.get("metrics", {})})


def run_worker(study: optuna.Study, config: StudyConfig, *, sampler: optuna.samplers.BaseSampler,
               max_trials: int | None = None, on_trial: Callable[[Progress], None] | None = None,
               parent_pid: int | None = None) -> int:
    """Evaluate trials until the study has its target of completed trials (or `max_trials` here).

    Each trial: the sampler proposes a design on the in-memory mirror of the study (Optuna's
    ask with fixed distributions), the design is simulated unless the cache has it, and the
    finished trial is written once. Returns how many trials this worker completed.
    """
    worker = _Worker(study, config, sampler)
    evaluator = config.evaluator()
    target = _Target(study)
    mine = 0
    cpu0, wall0 = os.times(), time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        reap_stale_trials(study)
        worker.sync(force=True)
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the explore process that started us is gone
            if max_trials is not None and mine >= max_trials:
                break
            # a journal is read back under its lock with every trial written (record), so the
            # count from then is current enough here; a database is re-read now and then
            known = worker.complete if worker.lock is not None else worker.sync()
            if known >= target.value and worker.sync(force=True) >= target.refresh(force=True):
                break
            try:
                trial = worker.propose()
            except GridExhausted:
                break  # a sweep: every grid point is in the study
            with worker.claim(trial):
                try:
                    result, hit = worker.evaluate(evaluator, trial)
                except Exception as exc:
                    raise RuntimeError(f"internal error evaluating {dict(trial.params)}: {type(exc).__name__}: "
                                       f"{exc}") from exc
                if hit is not None and worker.skip_repeats:
                    worker.tell_only(trial, result)
                    continue
                recorded = worker.record(trial, result, hit, target=target.value)
            if not recorded:
                break
            mine += 1
            if on_trial is not None:
                on_trial(worker.progress(target=target.value, mine=mine))
            target.refresh()
    worker.close()
    flush_storage(study)
    _write_stats(mine, cpu0, wall0)
    return mine


STATS_ENV = "SLMSIM_WORKER_STATS"  # a file: each worker appends its loop's trials, CPU and wall seconds (benchmarks)


def _write_stats(mine: int, cpu0: os.times_result, wall0: float) -> None:
    path = os.environ.get(STATS_ENV)
    if not path:
        return
    cpu1 = os.times()
    line = json.dumps({"pid": os.getpid(), "trials": mine, "wall_s": time.monotonic() - wall0,
                       "user_s": cpu1.user - cpu0.user, "sys_s": cpu1.system - cpu0.system}) + "\n"
    with open(path, "a", encoding="utf-8") as f:  # one short write per worker: lines do not interleave
        f.write(line)


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




def trial_feasible(t: FrozenTrial) -> bool:
    return t.state == TrialState.COMPLETE and bool(t.constraints) and all(v <= 0 for v in t.constraints.values())


def trial_runs(t: FrozenTrial) -> bool:
    """Completed, a valid design, and every workload ran (the first constraint value is 0)."""
    if t.state != TrialState.COMPLETE:
        return False
    con = t.constraints
    return float(con.get("0", con.get(RUNS, 1.0))) <= 0


def feasible_values(trials: Sequence[FrozenTrial], objectives: Sequence[Any]) -> list[list[float]]:
    return [list(t.values) for t in trials if trial_feasible(t) and t.values is not None]


def worker_entry(*, storage_url: str, storage_kind: str, study_name: str, sampler_name: str, seed: int | None,
                 parent_pid: int | None) -> None:
    """Target of the extra processes `--jobs N` starts (spawned: a fresh interpreter)."""
    storage = StorageSpec(storage_kind, storage_url)
    study, config = open_study(storage, study_name)
    sampler = make_sampler(sampler_name, seed=seed, space=config.space, n_trials=_target(study))
    run_worker(study, config, sampler=sampler, parent_pid=parent_pid)
