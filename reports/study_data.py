"""Read a DSE study: from its output directory (the contract below) or from Optuna storage.

A study DIR written by `slmsim explore --out DIR` holds

- `trials.parquet` / `trials.csv`: `number`, `state`, `feasible`, `infeasible_reason`,
  `wall_time_s`, `datetime_start`, `param:<yaml.path>`, `obj:<metric>`, `metric:<metric>`,
  `wl:<workload>:<metric>`;
- `pareto.csv`: the feasible Pareto-optimal trials (same columns);
- `study.json`: study name, storage URL, sampler, engine, seed, objectives (metric,
  direction, column, unit), params (path, column, kind, unit, choices), workloads,
  aggregate, constraints, baselines (name, metrics, per_workload, infeasible_reason),
  hypervolume reference and history.

Without a DIR, `load_study_storage` rebuilds the same frame from Optuna: parameters,
objective values (named by `study.metric_names` when set), feasibility from the
constraints Optuna recorded, and user attributes named like the columns above (or a
`metrics` dict). Study-level facts come from the study's user attributes when the run stored
them there (same keys as study.json); otherwise the report says what it could not know.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slmsim.reports.metrics import canonical, info
from slmsim.reports.pareto import pareto_mask
from slmsim.core.credentials import is_conninfo, mask_secrets, postgres_url, redact
from slmsim.core.errors import Problem, SpecError


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # "minimize" | "maximize"
    column: str
    unit: str
    label: str

    @property
    def minimize(self) -> bool:
        return self.direction != "maximize"


@dataclass(frozen=True)
class Param:
    path: str
    column: str
    kind: str  # "float" | "int" | "categorical"
    unit: str = ""
    choices: tuple[Any, ...] = ()
    low: float | None = None  # the searched range, when the study says
    high: float | None = None
    log: bool = False
    step: float | None = None  # a grid: low + k step (None: a continuous range)


@dataclass(frozen=True)
class Baseline:
    name: str
    metrics: dict[str, float]
    per_workload: dict[str, dict[str, float] | None]
    infeasible_reason: str | None = None


def workload_value(row: pd.Series, w: str, m: str, *, reciprocal: dict[str, str]) -> float | None:
    """Metric `m` of workload `w` in a trials row (`wl:<w>:<m>`), or 1 / its reciprocal
    metric (`reciprocal[m]`, e.g. tokens/J from energy per token) when only that is recorded."""
    col = f"wl:{w}:{m}"
    if col in row.index and pd.notna(row[col]):
        return float(row[col])
    recip = reciprocal.get(m)
    rcol = f"wl:{w}:{recip}" if recip else None
    if rcol and rcol in row.index and pd.notna(row[rcol]) and row[rcol] > 0:
        return 1.0 / float(row[rcol])
    return None


def baseline_workload_value(b: "Baseline", w: str, m: str, *, reciprocal: dict[str, str]) -> float | None:
    """The same for a baseline's per-workload figures."""
    vals = b.per_workload.get(w)
    if not vals:
        return None
    v = vals.get(m)
    if v is None:
        recip = reciprocal.get(m)
        if recip and vals.get(recip):
            v = 1.0 / vals[recip]
    return v


@dataclass(frozen=True)
class StudyData:
    """Everything a study report shows. `trials` has the contract's columns plus
    `complete` (state COMPLETE), `ok` (complete, feasible and every objective finite),
    `design_key` / `design` / `n_trials` / `rep` (duplicate parameter sets merged, see
    `_merge_duplicates`) and `pareto` (Pareto-optimal among the distinct `ok` designs, on the
    row that stands for each design)."""

    name: str
    source: str  # where it was read from, for the page
    trials: pd.DataFrame
    objectives: tuple[Objective, ...]
    params: tuple[Param, ...]
    workloads: tuple[dict[str, Any], ...] = ()
    baselines: tuple[Baseline, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    hv_reference: tuple[float, ...] | None = None
    hv_history: tuple[tuple[int, float], ...] | None = None
    notes: tuple[str, ...] = ()  # what the loader had to guess or could not find
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # derived views, built once

    @property
    def ok(self) -> pd.DataFrame:
        """Feasible complete designs, one row per design (duplicate trials merged)."""
        return self.trials[self.trials["ok"] & self.trials["rep"]]

    @property
    def designs(self) -> pd.DataFrame:
        """One row per distinct design (any state)."""
        return self.trials[self.trials["rep"]]

    @property
    def front(self) -> pd.DataFrame:
        return self.trials[self.trials["pareto"]]

    @property
    def workload_names(self) -> list[str]:
        names = [str(w.get("name")) for w in self.workloads if w.get("name")]
        if names:
            return names
        seen: dict[str, None] = {}
        for c in self.trials.columns:
            if c.startswith("wl:") and c.count(":") >= 2:
                seen[c.split(":")[1]] = None
        return list(seen)

    def metric_column(self, metric: str) -> str | None:
        for col in (f"metric:{metric}", f"obj:{metric}"):
            if col in self.trials.columns:
                return col
        return None


# Loading a DIR ---------------------------------------------------------------------------


def _bad(path: Path | str, message: str, hint: str | None = None, value: object = None) -> SpecError:
    return SpecError([Problem(file=str(path), path="", message=message, hint=hint, value=value)])


def read_trials_table(study_dir: Path) -> pd.DataFrame:
    """trials.parquet if it can be read (pyarrow present), else trials.csv."""
    pq, csv = study_dir / "trials.parquet", study_dir / "trials.csv"
    if pq.is_file():
        try:
            return pd.read_parquet(pq)
        except ImportError:
            if not csv.is_file():
                raise _bad(pq, "cannot read parquet without pyarrow, and there is no trials.csv",
                           hint="pip install pyarrow") from None
        except Exception as exc:  # a corrupt file: fall back to the CSV if there is one
            if not csv.is_file():
                raise _bad(pq, f"cannot read: {exc}") from None
    if csv.is_file():
        try:
            return pd.read_csv(csv)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
    raise _bad(study_dir, "no trials.parquet or trials.csv in the study directory",
               hint="give the --out directory of `slmsim explore`, or a storage URL with --study")


def load_study_dir(study_dir: Path, *, study_name: str | None = None) -> StudyData:
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise _bad(study_dir, "is not a directory", hint="give the --out directory of `slmsim explore`")
    meta_path = study_dir / "study.json"
    notes: list[str] = []
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise _bad(meta_path, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if not isinstance(meta, dict):
            raise _bad(meta_path, f"holds a JSON {type(meta).__name__}, expected an object (what `slmsim explore` "
                       "writes)", hint="re-run the explore command that made this folder to rewrite it")
    else:
        notes.append("study.json is missing: objectives and parameters were inferred from the column names; "
                     "no baselines.")
    if study_name and meta.get("study_name") and meta["study_name"] != study_name:
        raise _bad(meta_path, f"holds study {meta['study_name']!r}, not {study_name!r}", value=study_name,
                   hint=f"drop --study, or use --study {meta['study_name']}")
    df = read_trials_table(study_dir)
    stale = _journal_ahead(study_dir, meta.get("study_name") or study_name, len(df))
    if stale is not None:
        notes.append(stale)
        print(f"report: {stale}", file=sys.stderr)
    pareto_numbers = None
    pareto_path = study_dir / "pareto.csv"
    if pareto_path.is_file():
        try:
            pareto_numbers = set(pd.read_csv(pareto_path, usecols=["number"])["number"].astype(int))
        except (ValueError, pd.errors.EmptyDataError):
            pareto_numbers = set()
    return _assemble(df, meta, source=str(study_dir), pareto_numbers=pareto_numbers, notes=notes,
                     name=study_name or meta.get("study_name") or study_dir.name)


def _journal_ahead(study_dir: Path, study_name: str | None, rows: int) -> str | None:
    """A note when the study's journal in `study_dir` holds more completed trials than the
    trials table (workers added trials after the explore that wrote the table)."""
    journal = study_dir / "study.journal.log"
    if not journal.is_file() or not study_name:
        return None
    try:
        import optuna
        from optuna.trial import TrialState

        study = optuna.load_study(study_name=study_name, storage=open_storage(str(journal)))
        complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    except Exception:  # an unreadable journal is not this report's business: the table is what it shows
        return None
    if complete <= rows:
        return None
    return (f"this report shows the {rows} trials of trials.parquet, but the study's journal now holds {complete} "
            f"completed trials (workers added them since): re-run the same `slmsim explore` / `sweep` command "
            f"(it evaluates nothing more and rewrites the tables), or report the journal itself with "
            f"`slmsim report {journal}`")


# Loading from Optuna ---------------------------------------------------------------------


def open_storage(storage: str, *, base_dir: Path | None = None) -> Any:
    """An Optuna storage from a URL or a path.

    - `sqlite:///...`, `postgresql://...`, `mysql://...`: RDB storage;
    - `redis://...`: journal storage on Redis;
    - `journal:PATH` or a path to an existing file: journal-file storage (a file that starts
      with the SQLite header is opened as SQLite instead). Relative paths are relative to
      `base_dir` (a study DIR) when given."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    def resolve(p: str) -> Path:
        path = Path(p).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        return path

    shown = mask_secrets(storage)
    if is_conninfo(storage):
        raise _bad(shown, "looks like a libpq connection string (key=value pairs), which slmsim does not take",
                   hint="write it as a URL: postgresql://USER:PASSWORD@HOST:PORT/DB")
    if storage.startswith(("sqlite:", "postgresql", "postgres:", "mysql", "oracle", "mssql", "redis://", "rediss://")):
        try:
            if storage.startswith(("redis://", "rediss://")):
                from optuna.storages.journal import JournalRedisBackend

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning quotes our source line
                    return JournalStorage(JournalRedisBackend(storage))
            url = postgres_url(storage) if storage.startswith(("postgresql", "postgres:")) else storage
            if url.startswith("sqlite:"):  # a report reads: a file that is not there is not created
                db = (url.split(":///", 1)[1] if ":///" in url else "").split("?", 1)[0]  # query: driver options
                if not db or db == ":memory:":
                    raise _bad(shown, "names no database file", hint="give sqlite:///path/to/study.db")
                if not resolve(db).is_file():
                    raise _bad(shown, f"no such file: {mask_secrets(db)}",
                               hint="the path after sqlite:/// is the study database (four slashes for an absolute "
                                    "path)")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SQLAlchemy's warnings quote its own source lines
                return optuna.storages.RDBStorage(url)
        except SpecError:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing driver, a bad port, a server that is down
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            first = redact(first, storage)
            raise _bad(shown, f"cannot open the storage: {type(exc).__name__}: {first[:300]}",
                       hint="is the driver installed (psycopg2-binary for PostgreSQL, redis for Redis), the URL "
                            "well formed (host, a numeric port) and the server reachable?") from None
    path = resolve(storage.removeprefix("journal:").removeprefix("file:").removeprefix("//"))
    if not path.is_file():
        raise _bad(shown, "no such storage: not a database URL and not an existing journal file",
                   hint="give sqlite:///path.db, postgresql://..., redis://..., or the path of an Optuna "
                        "journal file")
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"SQLite format 3\x00"):
        return optuna.storages.RDBStorage(f"sqlite:///{path}")
    first = head.split(b"\n", 1)[0].strip()
    if head.strip() and not (first.startswith(b"{") and b'"op_code"' in first):
        raise _bad(shown, "is neither an Optuna journal file (JSON lines with an op_code) nor a SQLite database",
                   hint="give the --out folder of `slmsim explore`, its study.journal.log, or a sqlite:/// URL")
    # the open-lock works where symlinks do not (some mounts); reading takes no lock anyway
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def load_study_storage(storage: str, *, study_name: str | None = None, base_dir: Path | None = None) -> StudyData:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = open_storage(storage, base_dir=base_dir)
    shown = mask_secrets(storage)  # a password in the URL is never printed or written into the report
    names = list(optuna.get_all_study_names(store))
    if study_name is None:
        if len(names) != 1:
            raise _bad(shown, f"holds {len(names)} studies; say which with --study" if names else
                       "holds no study", hint=f"studies: {', '.join(names)}" if names else None)
        study_name = names[0]
    elif study_name not in names:
        from difflib import get_close_matches

        close = get_close_matches(study_name, names, n=1)
        raise _bad(shown, f"has no study {study_name!r}", value=study_name,
                   hint=(f"did you mean {close[0]!r}? " if close else "") + f"studies: {', '.join(names) or 'none'}")
    study = optuna.load_study(study_name=study_name, storage=store)
    meta = dict(study.user_attrs)
    meta.setdefault("study_name", study_name)
    meta["storage"] = mask_secrets(str(meta.get("storage") or storage))
    _meta_from_config(meta)
    notes = []
    if "objectives" not in meta:
        directions = ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize"
                      for d in study.directions]
        names_ = study.metric_names or [f"objective_{i}" for i in range(len(directions))]
        meta["objectives"] = [{"metric": n, "direction": d, "column": f"obj:{n}", "unit": info(n).unit}
                              for n, d in zip(names_, directions)]
    if "baselines" not in meta:
        notes.append("Read from Optuna storage without the study directory: no baselines or per-workload "
                     "figures unless the run stored them with the trials.")
    df = trials_frame_from_study(study, meta["objectives"])
    return _assemble(df, meta, source=f"{shown} (study {study_name})", pareto_numbers=None, notes=notes,
                     name=study_name)


def _meta_from_config(meta: dict[str, Any]) -> None:
    """Fill what study.json would say (objectives and parameters with their units, workloads,
    constraints, engine, space) from the configuration slmsim stores in the study itself
    (`slmsim:config`, a plain dict: no import of the DSE package is needed to read it)."""
    config = meta.get("slmsim:config")
    if not isinstance(config, dict) or not isinstance(config.get("space"), dict):
        return
    space = config["space"]
    for key, value in (("objectives", space.get("objectives")), ("params", space.get("parameters")),
                       ("workloads", space.get("workloads")), ("constraints", space.get("constraints")),
                       ("aggregate", space.get("aggregate")), ("energy_boundary", space.get("energy_boundary")),
                       ("space_file", space.get("file")), ("base", space.get("base")),
                       ("description", space.get("description")), ("engine", config.get("engine")),
                       ("seed", config.get("seed"))):
        if value is not None:
            meta.setdefault(key, value)


def trials_frame_from_study(study: Any, objectives: list[dict[str, Any]]) -> pd.DataFrame:
    """The trials of an Optuna study as a frame with the DIR contract's columns."""
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name,
                               "datetime_start": t.datetime_start.isoformat() if t.datetime_start else "",
                               "wall_time_s": t.duration.total_seconds() if t.duration else math.nan}
        row.update({f"param:{k}": v for k, v in t.params.items()})
        for i, o in enumerate(objectives):
            row[o.get("column") or f"obj:{o['metric']}"] = t.values[i] if t.values and i < len(t.values) else math.nan
        for k, v in t.user_attrs.items():
            if k.startswith(("metric:", "wl:", "obj:")) and (v is None or isinstance(v, (int, float))):
                row[k] = math.nan if v is None else v
            elif k == "metrics" and isinstance(v, dict):  # {"metric:x": v, "wl:w:x": v} or {"x": v}
                for m, x in v.items():
                    if x is None or isinstance(x, (int, float)):
                        key = m if m.startswith(("metric:", "wl:")) else f"metric:{m}"
                        row[key] = math.nan if x is None else float(x)
        cons = list((getattr(t, "constraints", None) or {}).values()) or t.system_attrs.get("constraints")
        if not cons:
            cons = [v for k, v in t.system_attrs.items() if k.startswith("constraint")
                    and isinstance(v, (int, float))] or None
        feasible = t.user_attrs.get("feasible")
        if feasible is None:
            feasible = t.state == TrialState.COMPLETE and (cons is None or all(c <= 0 for c in cons))
        row["feasible"] = bool(feasible)
        row["infeasible_reason"] = str(t.user_attrs.get("infeasible_reason") or "")
        if not row["feasible"] and not row["infeasible_reason"] and t.state == TrialState.COMPLETE and cons:
            row["infeasible_reason"] = "constraint violated: " + ", ".join(f"{c:.4g}" for c in cons if c > 0)
        for o in objectives:  # the objective is also a metric
            row.setdefault(f"metric:{o['metric']}", row.get(o.get("column") or f"obj:{o['metric']}", math.nan))
        rows.append(row)
    return pd.DataFrame(rows)


# Assembly --------------------------------------------------------------------------------


def _objectives(meta: dict[str, Any], df: pd.DataFrame, notes: list[str]) -> tuple[Objective, ...]:
    objs = []
    for o in meta.get("objectives") or []:
        col = o.get("column") or f"obj:{o.get('metric')}"
        metric = canonical(str(o.get("metric")))  # e.g. decode_latency -> decode_latency_s
        if col not in df.columns and f"metric:{metric}" in df.columns:
            col = f"metric:{metric}"
        mi = info(metric, o.get("unit") or None)
        objs.append(Objective(metric=metric, direction=str(o.get("direction", "minimize")), column=col,
                              unit=mi.unit, label=mi.label))
    if not objs:
        for col in df.columns:
            if col.startswith("obj:"):
                mi = info(canonical(col[4:]))
                objs.append(Objective(metric=mi.name, direction="maximize" if mi.higher_is_better else "minimize",
                                      column=col, unit=mi.unit, label=mi.label))
        if objs:
            notes.append("Objective directions were guessed from the metric names (no study.json).")
    return tuple(objs)


def _params(meta: dict[str, Any], df: pd.DataFrame) -> tuple[Param, ...]:
    out = []
    listed = set()
    for p in meta.get("params") or []:
        col = p.get("column") or f"param:{p['path']}"
        listed.add(col)
        if col in df.columns:
            out.append(Param(path=str(p.get("path", col[6:])), column=col, kind=str(p.get("kind", "float")),
                             unit=str(p.get("unit") or ""), choices=tuple(p.get("choices") or ()),
                             low=_num_or_none(p.get("low")), high=_num_or_none(p.get("high")),
                             log=bool(p.get("log", False)), step=_num_or_none(p.get("step"))))
    for col in df.columns:
        if col.startswith("param:") and col not in listed:
            s = df[col]
            kind = "categorical" if not pd.api.types.is_numeric_dtype(s) else (
                "int" if pd.api.types.is_integer_dtype(s) else "float")
            out.append(Param(path=col[6:], column=col, kind=kind,
                             choices=tuple(sorted(s.dropna().unique(), key=str)) if kind == "categorical" else ()))
    return tuple(out)


def canonical_value(v: Any) -> str:
    """A parameter value as a key: 6 significant digits for numbers (so 1.0 and 1 and a float
    that went through CSV compare equal), the text otherwise, '' when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return f"{float(v):.6g}"
    try:
        return f"{float(str(v)):.6g}"
    except ValueError:
        return str(v)


def _merge_duplicates(df: pd.DataFrame, params: Sequence[Param]) -> None:
    """One row per design: trials with the same parameter values are one design.

    Adds `design_key` (the canonical parameter values), `design` (the trial number that
    stands for the design: its first feasible complete trial, else its first trial),
    `n_trials` (trials that proposed it, failed and running ones excepted) and `rep` (True on
    the row that stands for the design). Samplers propose the same parameters again (NSGA-II
    children, a categorical space): counting them as designs inflates fronts and tables.
    Works whether or not the study itself skipped re-evaluating duplicates."""
    cols = [p.column for p in params if p.column in df.columns]
    if not cols or df.empty:
        df["design_key"] = df["number"].astype(str)
    else:
        df["design_key"] = ["|".join(canonical_value(v) for v in row)
                            for row in df[cols].itertuples(index=False, name=None)]
    counted = ~df["state"].isin(["FAIL", "RUNNING", "WAITING"])
    n_counted = df[counted].groupby("design_key")["number"].size()
    df["n_trials"] = df["design_key"].map(n_counted).fillna(1).astype(int)
    # the representative: first ok trial of the group, else the first trial
    order = df.assign(_not_ok=~df["ok"]).sort_values(["_not_ok", "number"], kind="stable")
    first = order.drop_duplicates("design_key")
    rep_number = dict(zip(first["design_key"], first["number"]))
    df["design"] = df["design_key"].map(rep_number).astype(int)
    df["rep"] = df["number"] == df["design"]


def _num_or_none(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _baselines(meta: dict[str, Any]) -> tuple[Baseline, ...]:
    out = []
    for b in meta.get("baselines") or []:
        metrics = {k: float(v) for k, v in (b.get("metrics") or {}).items() if isinstance(v, (int, float))}
        per = {}
        for wl, vals in (b.get("per_workload") or {}).items():
            per[str(wl)] = None if vals is None else {k: float(v) for k, v in vals.items()
                                                      if isinstance(v, (int, float))}
        out.append(Baseline(name=str(b.get("name", "?")), metrics=metrics, per_workload=per,
                            infeasible_reason=b.get("infeasible_reason") or None))
    return tuple(out)


def _bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.astype(str).str.strip().str.lower().isin({"true", "1", "yes"})


def _assemble(df: pd.DataFrame, meta: dict[str, Any], *, source: str, pareto_numbers: set[int] | None,
              notes: list[str], name: str) -> StudyData:
    df = df.copy()
    if "number" not in df.columns:
        df["number"] = np.arange(len(df))
    df["number"] = pd.to_numeric(df["number"], errors="coerce").fillna(-1).astype(int)
    df = df.sort_values("number", kind="stable").reset_index(drop=True)
    df["state"] = df["state"].astype(str).str.upper() if "state" in df.columns else "COMPLETE"
    df["feasible"] = _bool(df["feasible"]) if "feasible" in df.columns else True
    df["infeasible_reason"] = (df["infeasible_reason"].fillna("").astype(str)
                               if "infeasible_reason" in df.columns else "")
    objectives = _objectives(meta, df, notes)
    df["complete"] = df["state"] == "COMPLETE"
    finite = np.ones(len(df), dtype=bool)
    for o in objectives:
        if o.column not in df.columns and df.empty:  # a study with no trial yet
            df[o.column] = pd.Series(dtype=float)
        if o.column not in df.columns:
            raise _bad(source, f"objective column {o.column!r} is not in the trials table",
                       hint="study.json and trials.parquet disagree; re-run the study's export")
        df[o.column] = pd.to_numeric(df[o.column], errors="coerce")
        finite &= np.isfinite(df[o.column].to_numpy(dtype=float))
    df["ok"] = df["complete"] & df["feasible"] & finite
    params = _params(meta, df)
    _merge_duplicates(df, params)
    if pareto_numbers is not None:
        # a design is on the front if any of its trials is (pareto.csv may list every duplicate)
        keys = set(df.loc[df["number"].isin(pareto_numbers) & df["ok"], "design_key"])
        df["pareto"] = df["design_key"].isin(keys) & df["ok"] & df["rep"]
        if pareto_numbers and not df["pareto"].any():
            notes.append("pareto.csv names no feasible trial of trials.parquet; the front was recomputed.")
            pareto_numbers = None
    if pareto_numbers is None:
        df["pareto"] = False
        if objectives and (df["ok"] & df["rep"]).any():
            ok = df[df["ok"] & df["rep"]]
            pts = np.column_stack([ok[o.column].to_numpy(dtype=float) * (1 if o.minimize else -1)
                                   for o in objectives])
            df.loc[ok.index, "pareto"] = pareto_mask(pts)
    ref = meta.get("hypervolume_reference")
    hist = meta.get("hypervolume_history")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hv_history = tuple((int(n), float(v)) for n, v in hist) if hist else None
    return StudyData(
        name=str(name), source=source, trials=df, objectives=objectives, params=params,
        workloads=tuple(meta.get("workloads") or ()), baselines=_baselines(meta), meta=meta,
        hv_reference=tuple(float(x) for x in ref) if ref else None, hv_history=hv_history, notes=tuple(notes))
