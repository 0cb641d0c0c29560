"""`slmsim explore`, `slmsim sweep` and `slmsim worker`: design-space exploration (docs/dse.md).
(`slmsim serve-storage`, the gRPC proxy workers can join through, is slmsim/commands/serve.py.)

explore SPACE   a multi-objective Optuna study over the space (NSGA-II by default)
sweep SPACE     the full grid of the space (Optuna's grid sampler), same storage and outputs
worker          joins a study in a shared storage; needs no space file

Re-running `explore`/`sweep` with the same --out (or --storage and --study) resumes the
study and tops it up to --trials completed trials. Outputs go to --out (trials.csv,
trials.parquet, pareto.csv, space.resolved.yaml, base-hardware.yaml, study.json,
report.html); nothing else is written, and a folder slmsim did not create is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from slmsim.commands._common import EXIT_OK
from slmsim.core.errors import Problem, SpecError

MARKER = ".slmsim-study"  # written into --out when we create it: proof the folder is ours, and whose study it holds
# --jobs workers: forked where the platform has fork (the parent has imported everything:
# a worker starts in milliseconds, not the ~1.5 s of a fresh interpreter), spawned elsewhere.
# No thread is running when we fork (the progress bar starts after).
_START_METHOD = os.environ.get("SLMSIM_START_METHOD") or (
    "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
LOCK_NAME = ".slmsim-study.lock"  # held by the explore running on the folder
OUR_FILES = (MARKER, LOCK_NAME, "study.json", "study.journal.log")
OUTPUT_FILES = ("trials.csv", "trials.parquet", "pareto.csv", "space.resolved.yaml", "base-hardware.yaml", "study.json",
                "rescreen-des.csv", "report.html")


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("explore", help="multi-objective design-space exploration of a space file (Optuna)",
                       description="Explore a design space: an Optuna study over the parameters of a space file, "
                                   "resumable, with a Pareto front of the objectives. See docs/dse.md.")
    e.add_argument("space", help="space YAML file (docs/dse.md), or a bundled example: space-demo, space-edgecim")
    e.add_argument("--trials", type=int, default=100,
                   help="completed trials wanted in the study (default 100); re-running tops up to this number")
    e.add_argument("--sampler", choices=["nsga2", "tpe", "gp", "random"], default="nsga2",
                   help="Optuna sampler (default nsga2; gp needs PyTorch)")
    _common(e)
    e.set_defaults(func=_cmd_explore)

    s = sub.add_parser("sweep", help="evaluate the full grid of a space file (Optuna's grid sampler)",
                       description="Evaluate every point of the space's grid. Ranges need `step:` (or use choices).")
    s.add_argument("space", help="space YAML file (docs/dse.md)")
    s.add_argument("--trials", type=int, default=None, help="stop after this many grid points (default: all)")
    _common(s)
    s.set_defaults(func=_cmd_sweep)

    w = sub.add_parser("worker", help="join a study in a shared storage and evaluate trials until it is complete",
                       description="Join a study created by `slmsim explore` in a shared storage (PostgreSQL, "
                                   "a gRPC storage proxy, SQLite or a journal file) and evaluate its trials. The space, engine and target "
                                   "come from the study.")
    w.add_argument("--storage", required=True,
                   help="the study's storage: postgresql://..., grpc://HOST:PORT (a `slmsim serve-storage` proxy), "
                        "sqlite:///FILE or a journal file")
    w.add_argument("--study", required=True, help="study name")
    w.add_argument("--trials", type=int, default=None, help="stop after completing this many trials here")
    w.add_argument("--sampler", choices=["nsga2", "tpe", "gp", "random", "grid"], default=None,
                   help="default: the sampler the study was last run with")
    w.add_argument("--seed", type=int, default=None, help="sampler seed (default: random, so workers differ)")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    w.set_defaults(func=_cmd_worker)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["analytic", "des"], default="analytic", help="simulation engine (default analytic)")
    p.add_argument("--storage", default=None,
                   help="default: a journal file in --out; or sqlite:///FILE, postgresql://USER@HOST/DB, a journal "
                        "file path, or memory (nothing kept)")
    p.add_argument("--study", default=None, help="study name (default: the space's name)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes here (default 1); 0 = only create the study and write outputs")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0); worker i of --jobs uses seed + i")
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/<space name>)")
    p.add_argument("--rescreen-des", type=int, default=0, metavar="K",
                   help="after the study, re-evaluate the K Pareto designs adding most hypervolume with the DES "
                        "engine (written to rescreen-des.csv)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the study already in --out when it was made from a different space (its trials "
                        "and outputs are deleted)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--energy-boundary", choices=["chip", "chip+memory", "board"], default=None,
                   help="which energy energy_per_token and tokens_per_j count (overrides the space's "
                        "energy_boundary; default board, docs/architecture.md)")


# ----------------------------------------------------------------------------- commands


def _with_boundary(loaded: Any, args: argparse.Namespace) -> Any:
    """--energy-boundary replaces the space file's `energy_boundary`."""
    if getattr(args, "energy_boundary", None) is None:
        return loaded
    from dataclasses import replace

    from slmsim.mapping.energy_boundary import EnergyBoundary

    return replace(loaded, space=replace(loaded.space, energy_boundary=EnergyBoundary(args.energy_boundary)))


def _cmd_explore(args: argparse.Namespace) -> int:
    from slmsim.dse.space import load_space

    _check_counts(args)
    loaded = _with_boundary(load_space(_space_file(args.space)), args)
    return _run(args, loaded=loaded, sampler=args.sampler, suffix="", n_trials=args.trials)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from slmsim.dse.space import load_space
    from slmsim.dse.study import grid_space

    _check_counts(args)
    loaded = _with_boundary(load_space(_space_file(args.space)), args)
    from slmsim.core.limits import MAX_GRID_POINTS

    counted = loaded.space.grid_size()
    if counted is not None and counted > MAX_GRID_POINTS:
        raise SpecError([Problem(file=loaded.space.file, path="parameters", message=f"the grid has {counted:,} points",
                                 value=counted, expected=f"at most {MAX_GRID_POINTS:,} points for a sweep",
                                 hint="coarsen a `step:`, or use `slmsim explore` to sample the space")])
    grid = grid_space(loaded.space)
    size = math.prod(len(v) for v in grid.values())
    n = size if args.trials is None else min(args.trials, size)
    print(f"sweep: {size} grid points ({' x '.join(str(len(v)) for v in grid.values())}); evaluating {n}",
          file=sys.stderr)
    return _run(args, loaded=loaded, sampler="grid", suffix="-sweep", n_trials=n)


def _cmd_worker(args: argparse.Namespace) -> int:
    from slmsim.dse.storage import storage_spec
    from slmsim.dse.study import SAMPLER_ATTR, make_sampler, open_study, run_worker

    problems = _seed_and_trials_problems(args)
    if problems:
        raise SpecError(problems)
    storage = storage_spec(args.storage, out_dir=Path.cwd())
    if storage.kind == "memory":
        raise SpecError([Problem(file="<command line>", path="--storage", message="a worker needs a shared storage",
                                 value=args.storage, expected="postgresql://..., grpc://HOST:PORT, sqlite:///FILE or a journal "
                                          "file")])
    study, config = open_study(storage, args.study)
    sampler_name = args.sampler or study.user_attrs.get(SAMPLER_ATTR, "nsga2")
    target = int(study.user_attrs.get("slmsim:n_trials", 0))
    from slmsim.dse.study import resume_seed

    seed = resume_seed(args.seed, done=_count(study, "COMPLETE"))  # a fixed seed continues, not replays
    sampler = make_sampler(sampler_name, seed=seed, space=config.space, n_trials=target)
    bar = _Bar(study, disabled=args.no_progress, label=f"worker {os.getpid()}")
    try:
        mine = run_worker(study, config, sampler=sampler, max_trials=args.trials, on_trial=bar.update)
    finally:
        bar.close()
    complete = _count(study, "COMPLETE")
    print(f"worker {os.getpid()}: completed {mine} trials; study {args.study!r} has {complete} of {target} complete")
    return EXIT_OK


def _space_file(ref: str) -> str:
    """A path, or the name of a bundled example space (`space-demo`, `space-edgecim`)."""
    from slmsim.resources import example_path

    found = example_path(ref)
    return str(found) if found is not None else ref


def _seed_and_trials_problems(args: argparse.Namespace) -> list[Problem]:
    """--seed and --trials of explore, sweep and worker, checked before anything is touched."""
    from slmsim.core.limits import MAX_DSE_SEED, MAX_TRIALS

    problems = []
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_DSE_SEED:
        problems.append(Problem(file="<command line>", path="--seed", message="out of range", value=seed,
                                expected=f"an integer from 0 to {MAX_DSE_SEED:,}"))
    if args.trials is not None and args.trials < 1:
        problems.append(Problem(file="<command line>", path="--trials", message="must be at least 1", value=args.trials,
                                expected=f"a whole number from 1 to {MAX_TRIALS:,}",
                                hint="the trials the study should hold in all (a resumed study tops up to it)"))
    elif args.trials is not None and args.trials > MAX_TRIALS:
        problems.append(Problem(file="<command line>", path="--trials", message="too many trials", value=args.trials,
                                expected=f"at most {MAX_TRIALS:,}", hint="see docs/input-limits.md"))
    return problems


def _check_counts(args: argparse.Namespace) -> None:
    from slmsim.core.limits import max_jobs

    problems = _seed_and_trials_problems(args)
    if args.jobs < 0:
        problems.append(Problem(file="<command line>", path="--jobs", message="must be 0 or more", value=args.jobs,
                                expected=f"0 (no trials here: workers run them) to {max_jobs()} processes",
                                hint="--jobs 1 runs the trials in this process"))
    elif args.jobs > max_jobs():
        problems.append(Problem(file="<command line>", path="--jobs", message="more processes than this machine "
                                "can run", value=args.jobs, expected=f"at most {max_jobs()} (4 per core)",
                                hint="start `slmsim worker` processes on other machines to go wider (docs/dse.md)"))
    if args.rescreen_des < 0:
        problems.append(Problem(file="<command line>", path="--rescreen-des", message="must be 0 or more",
                                value=args.rescreen_des, expected="0 (none) or how many Pareto designs the DES re-runs",
                                hint="e.g. --rescreen-des 5"))
    if problems:
        raise SpecError(problems)


def _run(args: argparse.Namespace, *, loaded: Any, sampler: str, suffix: str, n_trials: int) -> int:
    from slmsim.dse.storage import check_journal_path, storage_spec
    from slmsim.dse.study import make_sampler, prepare_study, resume_seed, run_worker

    name = loaded.space.name + suffix
    out = args.out if args.out is not None else Path("out") / safe_name(name)
    _check_out(out)
    storage = storage_spec(args.storage, out_dir=out)
    if storage.kind == "journal" and args.storage is not None:  # before --out is made: a bad path leaves nothing
        check_journal_path(Path(storage.url))
    if storage.kind == "rdb" and storage.url.startswith("sqlite"):  # likewise: not a user's own database
        from slmsim.dse.storage import check_sqlite_file

        check_sqlite_file(storage.url)
    if storage.kind == "memory" and args.jobs > 1:
        raise SpecError([Problem(file="<command line>", path="--jobs", message="in-memory storage cannot be shared "
                                 "between processes", value=args.jobs, hint="use the default journal storage")])
    study_name = args.study or name
    with _OutLock(out):  # one explore per --out at a time; released when we exit, however we exit
        _claim_out(out, study_name=study_name, fingerprint=loaded.fingerprint(), engine=args.engine,
                   overwrite=args.overwrite, own_journal=args.storage is None)
        _check_outputs_replaceable(out, overwrite=args.overwrite)  # before any trial runs or any file is written
        study, config = prepare_study(loaded, storage=storage, study_name=study_name, sampler=sampler,
                                      engine=args.engine, seed=args.seed, n_trials=n_trials)
        _resume_notes(loaded.space, config.space)
        _mark_out(out, study_name=study_name, fingerprint=loaded.fingerprint(), engine=args.engine)
        before = _count(study, "COMPLETE")
        started = time.perf_counter()
        run_start = datetime.now()  # Optuna stamps trials with naive local times
        children: list[multiprocessing.process.BaseProcess] = []
        interrupted = False
        if args.jobs > 0 and before < n_trials:
            # the sampler first: a sampler that cannot be made (gp without PyTorch) stops us before any worker starts
            main_sampler = make_sampler(sampler, seed=resume_seed(args.seed, done=before), space=config.space,
                                        n_trials=n_trials)
            ctx = multiprocessing.get_context(_START_METHOD)
            from slmsim.dse.study import worker_entry

            for i in range(1, args.jobs):
                proc = ctx.Process(target=worker_entry, daemon=True, kwargs=dict(
                    storage_url=storage.url, storage_kind=storage.kind, study_name=study_name, sampler_name=sampler,
                    seed=resume_seed(args.seed, done=before, worker=i), parent_pid=os.getpid()))
                proc.start()
                children.append(proc)
            bar = _Bar(study, disabled=args.no_progress, label=name)
            try:
                run_worker(study, config, on_trial=bar.update, sampler=main_sampler)
                for proc in children:
                    proc.join()
            except KeyboardInterrupt:
                interrupted = True
                for proc in children:
                    proc.terminate()
                for proc in children:
                    proc.join(timeout=10)
            finally:
                bar.close()
            failed = [p for p in children if p.exitcode not in (0, None) and not interrupted]
            if failed:
                print(f"explore: {len(failed)} worker process(es) failed (exit {failed[0].exitcode}); see the error "
                      "above", file=sys.stderr)
        elapsed = time.perf_counter() - started
        report = _write_outputs(out, study=study, config=config, storage=storage, sampler=sampler,
                                n_trials=n_trials, rescreen=args.rescreen_des)
        ours = {os.getpid(), *(p.pid for p in children)}
        _print_summary(report, out=out, evaluated=_count_by(study, ours, since=run_start), elapsed=elapsed,
                       added=_count(study, "COMPLETE") - before)
    if interrupted:
        raise KeyboardInterrupt
    return EXIT_OK


def _count_by(study: Any, pids: set[int], *, since: datetime) -> int:
    """Completed trials this run's processes wrote (this host, these pids, finished since
    `since`): not those of a `slmsim worker` that joined, nor an earlier run's."""
    import socket

    from optuna.trial import TrialState

    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        w = t.user_attrs.get("worker") or {}
        n += (w.get("host") == host and w.get("pid") in pids and t.datetime_complete is not None
              and t.datetime_complete >= since)
    return n


def _count(study: Any, state: str) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState[state],)))


# ----------------------------------------------------------------------------- output folder


def safe_name(name: str) -> str:
    """A name made safe as one folder name: letters, digits, '.', '_', '-' (others -> '-'),
    no leading dots, so `name: ../../x` cannot reach outside `out/`."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned[:100] or "study"


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SpecError([Problem(file=str(out), path="", message="--out is a file, expected a folder",
                                 hint="give a folder name, e.g. out/my-study")])
    if out.is_dir() and any(out.iterdir()) and not _ours(out):
        user_json = (out / "study.json").exists()
        raise SpecError([Problem(file=str(out), path="", message="refusing to write into a folder slmsim did not create "
                                 "(it is not empty and holds no study" + ("; its study.json is not a summary slmsim "
                                 "wrote" if user_json else "") + ")",
                                 hint="choose another --out, or empty the folder")])


def _ours(out: Path) -> bool:
    """A folder slmsim wrote: its marker, lock or journal, or a study.json that is an slmsim study
    summary (a user's own study.json is not: --overwrite would delete it)."""
    return any((out / f).exists() for f in OUR_FILES if f != "study.json") or _summary(out) is not None


def _summary(out: Path) -> dict | None:
    """study.json when it is a summary slmsim wrote (study_name, sampler, n_trials_requested), else None."""
    path = out / "study.json"
    try:
        if not path.is_file() or path.stat().st_size > 64 << 20:
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("study_name"), str) and "n_trials_requested" in data \
            and "sampler" in data:
        return data
    return None


def _resume_notes(now: Any, stored: Any) -> None:
    """Keys a resumed study keeps from when it began (outside the fingerprint, so an edit is
    not refused): said, not silently dropped."""
    changed = [key for key in ("baselines", "reference") if getattr(now, key) != getattr(stored, key)]
    if changed:
        print(f"explore: warning: {' and '.join(changed)} in {now.file} differ from the study's (set when it "
              f"began): the study's are used on resume (study.json, space.resolved.yaml); start a new --out to "
              "use the new ones", file=sys.stderr)


class _OutLock:
    """An exclusive flock on `--out/.slmsim-study.lock`, taken without waiting: a second
    explore on the same folder is refused with a message (the kernel drops the lock when
    the holder exits or is killed, so nothing stale stays behind)."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self.fd: int | None = None
        self.made = False  # whether we created --out (then a run that fails before writing in it removes it)

    def __enter__(self) -> "_OutLock":
        import fcntl

        from slmsim.core.outputs import under_a_file, write_problem

        blocked = under_a_file(self.path.parent, "--out")
        if blocked is not None:
            raise SpecError([blocked])
        try:
            self.made = not self.path.parent.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:  # a folder in /proc or /sys, no permission, a device
            raise SpecError([write_problem(self.path.parent, "--out", exc)]) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise SpecError([Problem(
                file=str(self.path.parent), path="--out", message=f"another `slmsim explore` is running on this "
                f"folder ({holder})", hint="wait for it to finish (re-running then tops the study up), use "
                "`slmsim worker` to help it, or choose another --out")]) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.fd is not None:
            import fcntl

            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        if exc_type is not None and self.made:
            # a run that failed before writing anything (an unreachable storage) leaves no folder
            folder = self.path.parent
            with contextlib.suppress(OSError):
                if {p.name for p in folder.iterdir()} <= {LOCK_NAME}:
                    with contextlib.suppress(FileNotFoundError):
                        self.path.unlink()
                    folder.rmdir()


def _read_marker(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _claim_out(out: Path, *, study_name: str, fingerprint: str, engine: str, overwrite: bool,
               own_journal: bool) -> None:
    """Refuse a --out that holds a study of another space (unless --overwrite: then it is
    emptied of slmsim's files first). The folder's marker records which study it holds."""
    marker = _read_marker(out)
    previous = None
    if marker is not None:
        previous = marker
    elif (summary := _summary(out)) is not None:
        previous = {"study_name": summary.get("study_name"), "fingerprint": summary.get("fingerprint")}
    if previous is None:
        return
    same = previous.get("study_name") == study_name and previous.get("fingerprint") in (None, fingerprint)
    if same and previous.get("engine") in (None, engine):
        return
    if not overwrite:
        what = (f"study {previous.get('study_name')!r} of a different space" if previous.get("study_name") == study_name
                else f"study {previous.get('study_name')!r}")
        if previous.get("study_name") == study_name and previous.get("fingerprint") == fingerprint:
            what = f"study {study_name!r} run with the {previous.get('engine')} engine"
        raise SpecError([Problem(
            file=str(out), path="--out", message=f"this folder holds {what}; refusing to mix or replace it",
            hint="choose another --out, or pass --overwrite to delete that study's trials and outputs")])
    for name in (*OUTPUT_FILES, *(("study.journal.log", "study.journal.log.flock", "study.journal.log.claims")
                                  if own_journal else ())):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    print(f"explore: --overwrite: removed study {previous.get('study_name')!r} from {out}", file=sys.stderr)


def _mark_out(out: Path, *, study_name: str, fingerprint: str, engine: str) -> None:
    """The folder's marker: whose study it holds, and the SHA-256 of each output file as slmsim
    last wrote it (`_record_output`, kept here), so an output edited since is not overwritten
    (`_edited_outputs`)."""
    outputs = (_read_marker(out) or {}).get("outputs") or {}
    _atomic_write(out / MARKER, json.dumps({"what": "slmsim study output folder; files here are rewritten by slmsim "
                                                    "explore/sweep", "study_name": study_name,
                                            "fingerprint": fingerprint, "engine": engine, "outputs": outputs},
                                           indent=1) + "\n")


def _record_output(out: Path, name: str) -> None:
    """Record the digest of an output slmsim has just written in the folder's marker."""
    from slmsim.core.outputs import file_sha256

    marker = _read_marker(out)
    if marker is None:
        return
    digest = file_sha256(out / name)
    outputs = dict(marker.get("outputs") or {})
    if digest is not None:
        outputs[name] = digest
    _atomic_write(out / MARKER, json.dumps({**marker, "outputs": outputs}, indent=1) + "\n")


def _write_output(out: Path, name: str, data: bytes | str) -> None:
    _atomic_write(out / name, data)
    _record_output(out, name)


def _edited_outputs(out: Path) -> list[str]:
    """Output files that differ from what slmsim last wrote there (by the marker's digests): a
    user's edits. A folder whose marker records no digests (written before they were kept) has
    none to compare: nothing is reported. report.html carries its own digest (it is also
    rewritten by `slmsim report DIR`)."""
    from slmsim.core.outputs import file_sha256

    recorded = (_read_marker(out) or {}).get("outputs")
    if not isinstance(recorded, dict):
        return []
    return [name for name, digest in recorded.items()
            if name in OUTPUT_FILES and name != "report.html" and (out / name).is_file()
            and file_sha256(out / name) != digest]


def _check_outputs_replaceable(out: Path, *, overwrite: bool) -> None:
    """Refuse, before any work, to replace an output the user edited or a report.html slmsim did
    not write (`--overwrite` replaces edited outputs; a foreign report.html is never replaced)."""
    from dataclasses import replace

    from slmsim.reports.html import replace_problem

    problems = []
    report = replace_problem(out / "report.html")  # what write() would refuse, said before any work
    if report is not None:
        problems.append(replace(report, message=report.message + " (nothing was run or written)"))
    edited = [] if overwrite else _edited_outputs(out)
    for name in edited:
        problems.append(Problem(file=str(out / name), path="--out", message="was changed since slmsim wrote it; "
                                "refusing to overwrite it (nothing was run or written)", value=name,
                                expected="the file as the last explore/sweep wrote it",
                                hint="move or rename your edited copy (the trials are safe in the study's storage), "
                                     "or pass --overwrite to replace it"))
    if problems:
        raise SpecError(problems)


def _atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_outputs(out: Path, *, study: Any, config: Any, storage: Any, sampler: str, n_trials: int,
                   rescreen: int) -> dict[str, Any]:
    import io

    import yaml

    from slmsim.dse.outputs import (
        baseline_summary,
        best_for_rescreen,
        evaluation_row,
        pareto_table,
        study_summary,
        trials_table,
    )
    from slmsim.hw_models.load import load_hardware

    df = trials_table(study.get_trials(deepcopy=False), config)
    pareto = pareto_table(df, config)
    evaluator = config.evaluator()
    baselines = []
    for ref in config.space.baselines:
        hw = load_hardware(ref)
        label = Path(ref).stem if ref.endswith((".yaml", ".yml")) else ref
        baselines.append(baseline_summary(label, evaluator.evaluate_spec(hw.spec, need_objectives=False)))
    extra: dict[str, Any] = {}
    rescreened = None
    if rescreen > 0 and not pareto.empty:
        import pandas as pd

        des = config.evaluator(engine="des")
        rows = []
        for _, r in best_for_rescreen(pareto, config, rescreen).iterrows():
            sampled = {p.path: _native(r[p.column]) for p in config.space.params}
            ev = des.evaluate_params(sampled, label=f"trial {int(r['number'])} (des)")
            row = {"number": int(r["number"]), "engine": "des", **{p.column: r[p.column] for p in config.space.params}}
            row.update(evaluation_row(ev, config))
            for o in config.space.objectives:
                row[f"analytic:{o.column}"] = r[o.column]
            rows.append(row)
        rescreened = pd.DataFrame(rows)
        _write_output(out, "rescreen-des.csv", rescreened.to_csv(index=False))
        extra["rescreen"] = {"engine": "des", "file": "rescreen-des.csv", "trials": [r["number"] for r in rows]}
    from slmsim.dse.importance import compute_importances

    extra["importances"] = compute_importances(df, config, seed=config.seed)  # once, here: the report reads them
    summary = study_summary(study=study, config=config, storage=storage, sampler=sampler, n_trials=n_trials, df=df,
                            baselines=baselines, extra=extra)
    from slmsim.core.version import __version__

    summary = {"slmsim_version": __version__, **summary}  # which slmsim wrote study.json
    _write_output(out, "trials.csv", df.to_csv(index=False))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    _write_output(out, "trials.parquet", buf.getvalue())
    _write_output(out, "pareto.csv", pareto.to_csv(index=False))
    head = (f"# {config.space.file} resolved by slmsim: defaults filled in, paths made absolute,\n"
            "# numbers in SI (the unit of each parameter is given beside it).\n")
    _write_output(out, "space.resolved.yaml", head + yaml.safe_dump(config.space.to_dict(), sort_keys=False))
    _write_output(out, "base-hardware.yaml", f"# the base spec of {config.space.file} after `extends:`\n"
                  + yaml.safe_dump(config.base_tree, sort_keys=False))
    _write_output(out, "study.json", json.dumps(summary, indent=2, default=_json_default, allow_nan=False))
    report_path = _write_report(out)  # report.html carries its own digest (reports.html.edited)
    return {"df": df, "pareto": pareto, "summary": summary, "report": report_path, "rescreen": rescreened,
            "config": config}


def _native(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x


def _json_default(x: object) -> object:
    if hasattr(x, "item"):
        return x.item()  # numpy scalars
    return str(x)


def _write_report(out: Path) -> Path | None:
    try:
        from slmsim.reports.study import write_study_report
    except ModuleNotFoundError as exc:
        if exc.name not in ("reports.study", "reports"):
            raise
        print("explore: report.html not written: this installation has no reports.study (the study report)",
              file=sys.stderr)
        return None
    path = out / "report.html"
    from slmsim.study_probe import evaluator_factory

    write_study_report(study_dir=out, out_html=path, evaluator_factory=evaluator_factory)
    return path


# ----------------------------------------------------------------------------- printing


class _Bar:
    """tqdm progress with the front size and hypervolume; off when stderr is not a terminal."""

    def __init__(self, study: Any, *, disabled: bool, label: str) -> None:
        from tqdm import tqdm

        from slmsim.dse.study import TARGET_ATTR

        target = int(study.user_attrs.get(TARGET_ATTR, 0))
        done = _count(study, "COMPLETE")
        self._bar = tqdm(total=target, initial=min(done, target), unit="trial", desc=label, dynamic_ncols=True,
                         disable=True if disabled else None, file=sys.stderr)
        self._n = min(done, target)

    def update(self, p: Any) -> None:
        n = min(p.complete, p.target)
        if self._bar.total != p.target:
            self._bar.total = p.target
        if n > self._n:
            self._bar.update(n - self._n)
            self._n = n
        self._bar.set_postfix_str(f"{p.designs} designs, {p.feasible} feasible, front {p.front_size}, "
                                  f"hv {p.hypervolume:.4f}",
                                  refresh=False)

    def close(self) -> None:
        self._bar.close()


def _fmt(value: float, unit: str) -> str:
    from slmsim.core.display import fmt

    return fmt(value, unit)


def _print_summary(report: dict[str, Any], *, out: Path, evaluated: int, elapsed: float, added: int | None = None) -> None:
    df, pareto, summary, config = report["df"], report["pareto"], report["summary"], report["config"]
    complete = int((df["state"] == "COMPLETE").sum())
    hist = summary["hypervolume_history"]
    hv = hist[-1][1] if hist else 0.0
    rate = f", {evaluated / elapsed:.1f} trials/s" if evaluated > 0 and elapsed > 0 else ""
    repeats = summary["n_repeats"]
    again = f" ({repeats} {'repeat' if repeats == 1 else 'repeats'} served from the evaluation cache)" if repeats else ""
    others = added - evaluated if added is not None else 0
    joined = f", {others} by other workers meanwhile" if others > 0 else ""
    print(f"{summary['study_name']}: {complete} of {summary['n_trials_requested']} trials complete "
          f"({evaluated} this run{rate}{joined}); {summary['n_designs']} distinct designs evaluated{again}, "
          f"{summary['n_designs_feasible']} feasible; Pareto front {len(pareto)} "
          f"{'design' if len(pareto) == 1 else 'designs'}, hypervolume {hv:.4f}")
    for o in config.space.objectives:
        col = o.column
        # the best on one objective among the Pareto designs: a tie on it is broken by the others
        # (a feasible design of equal area but more latency is dominated and never named)
        feas = pareto if not pareto.empty else df[df["feasible"]]
        if feas.empty:
            continue
        idx = feas[col].idxmin() if o.direction.value == "minimize" else feas[col].idxmax()
        print(f"  best {o.metric.value:<17} {_fmt(float(feas.loc[idx, col]), o.unit):>14}  (trial {int(feas.loc[idx, 'number'])})")
    from slmsim.dse.metrics import METRICS

    for b in summary["baselines"]:
        if b["infeasible_reason"]:
            print(f"  baseline {b['name']}: cannot run ({b['infeasible_reason']})")
            continue
        figures = ", ".join(f"{o.metric.value} {_fmt(b['metrics'][METRICS[o.metric].column], o.unit)}"
                            for o in config.space.objectives)
        print(f"  baseline {b['name']}: {figures}")
    res = report["rescreen"]
    if res is not None and len(res):
        diffs = []
        for o in config.space.objectives:
            a, d = res[f"analytic:{o.column}"].astype(float), res[o.column].astype(float)
            diffs.append(f"{o.metric.value} {float(((d - a) / a).abs().max() * 100):.2f}%")
        print(f"  DES re-screen of {len(res)} Pareto designs (rescreen-des.csv): largest difference from the analytic "
              f"screen: {', '.join(diffs)}")
    print(f"  outputs in {out}/: trials.csv, trials.parquet, pareto.csv, study.json, space.resolved.yaml, "
          "base-hardware.yaml" + (", rescreen-des.csv" if res is not None else ""))
    shown = summary["storage"]  # already masked
    if summary["storage_kind"] == "memory":
        print("  storage: memory (nothing kept)")
    elif summary["storage_kind"] == "grpc":
        print(f"  storage: {shown}  (a storage proxy; optuna-dashboard reads the database behind it)")
    else:
        print(f"  storage: {shown}  (optuna-dashboard {shown})")
    if report["report"] is not None:
        print(f"report: {report['report']}")
