"""Where a study lives: a journal file (default), SQLite, PostgreSQL, or memory.

- A journal file (Optuna's `JournalStorage`, one JSON line per operation) needs nothing
  started and is safe for several processes on one machine. Ours differs from Optuna's
  `JournalFileBackend` in two ways, both for crash safety at speed:
  * the lock is `fcntl.flock`, which the kernel releases when a process dies (Optuna's
    lock files stay behind after `kill -9` and stall every writer for 30 s);
  * lines are written with one `write(2)` on an `O_APPEND` descriptor. Lines that change
    the study are `fsync`ed at once; lines that finish a trial are `fsync`ed within
    `FSYNC_INTERVAL_S` (group commit) and at exit; lines of trials still running are not
    (losing them re-runs the trial). Whatever was written survives the death of the
    process (it is in the page cache): only a power cut can lose the last half second of
    finished trials, which are then run again. This makes the journal about twice as fast
    as Optuna's backend (fsync on every line).
  The file format is Optuna's, so `optuna-dashboard FILE` and Optuna's own
  `JournalFileBackend(FILE)` read it.
- `sqlite:///...` and `postgresql://...` are Optuna's `RDBStorage`, with heartbeats so a
  trial whose worker vanished is failed after `GRACE_S` and retried.
- `memory`: nothing is kept (benchmarks, tests).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import time
import warnings
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import BaseJournalBackend, JournalStorage

from slmsim.core.errors import Problem, SpecError

JOURNAL_NAME = "study.journal.log"
HEARTBEAT_S = 5  # RDB storages: a running trial's worker records a heartbeat this often
GRACE_S = 20  # ... and a trial without one for this long is failed and retried
MAX_RETRY = 3  # a trial whose worker died is retried at most this many times
FSYNC_INTERVAL_S = 0.5  # journal: finished trials are on disk at most this long after they end

# journal op codes (optuna.storages.journal._storage.JournalOperation) that only touch a
# trial still running: no fsync needed, a lost line just means the trial runs again
_CREATE_TRIAL, _SET_PARAM, _SET_STATE, _INTERMEDIATE, _TRIAL_USER_ATTR, _TRIAL_SYSTEM_ATTR = 4, 5, 6, 7, 8, 9
_UNFINISHED_STATES = (0, 4)  # TrialState.RUNNING, TrialState.WAITING


@contextlib.contextmanager
def flocked(path: str | Path) -> Generator[None, None, None]:
    """An exclusive advisory lock on `path`, released by the kernel if we die."""
    fd = os.open(str(path), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class FlockJournalBackend(BaseJournalBackend):
    """Optuna's journal file format, with a kernel lock and fsync only where it matters."""

    def __init__(self, file_path: str | Path, *, fsync_interval_s: float = FSYNC_INTERVAL_S) -> None:
        self._path = str(file_path)
        self._lock_path = self._path + ".flock"
        if not os.path.exists(self._path):
            open(self._path, "ab").close()
        self._offsets: dict[int, int] = {0: 0}
        self._fsync_interval = fsync_interval_s
        self._last_fsync = 0.0
        self._pending = False  # finished trials written but not yet fsynced
        atexit.register(_flush_at_exit, weakref.ref(self))

    def flush(self) -> None:
        """fsync what is pending (at exit, and at the latest FSYNC_INTERVAL_S after a trial ends)."""
        if not self._pending:
            return
        self._pending = False
        try:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        except OSError:
            return  # the file is gone (a temporary study): nothing to keep
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._last_fsync = time.monotonic()

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        with open(self._path, "rb") as f:
            size = os.fstat(f.fileno()).st_size  # lines appended while we read wait for the next call
            start = 0
            if log_number_from in self._offsets:
                f.seek(self._offsets[log_number_from])
                start = log_number_from
                size -= self._offsets[log_number_from]
            for number, line in enumerate(f, start=start):
                size -= len(line)
                if size < 0 or not line.endswith(b"\n"):
                    break  # a line still being written
                if number + 1 not in self._offsets:
                    self._offsets[number + 1] = self._offsets[number] + len(line)
                if number < log_number_from:
                    continue
                yield json.loads(line)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        kinds = [_durability(log) for log in logs]
        with flocked(self._lock_path):
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
            try:
                view = memoryview(text)
                while view:
                    view = view[os.write(fd, view):]
                now = time.monotonic()
                if _STUDY in kinds or (_FINISH in kinds or self._pending) and now - self._last_fsync >= self._fsync_interval:
                    os.fsync(fd)  # group commit: finished trials reach the disk within the interval
                    self._last_fsync = now
                    self._pending = False
                elif _FINISH in kinds:
                    self._pending = True
            finally:
                os.close(fd)


_RUNNING_TRIAL, _FINISH, _STUDY = "running", "finish", "study"


def _flush_at_exit(ref: weakref.ref) -> None:
    backend = ref()
    if backend is not None:
        backend.flush()


def _durability(log: dict[str, Any]) -> str:
    """running: a trial still running (losing it re-runs the trial); finish: a trial's end
    (fsynced within FSYNC_INTERVAL_S); study: the study itself (fsynced at once)."""
    op = log.get("op_code")
    if op in (_CREATE_TRIAL, _SET_PARAM, _INTERMEDIATE, _TRIAL_USER_ATTR, _TRIAL_SYSTEM_ATTR):
        return _RUNNING_TRIAL
    if op == _SET_STATE:
        return _RUNNING_TRIAL if log.get("state") in _UNFINISHED_STATES else _FINISH
    return _STUDY


@dataclass(frozen=True)
class StorageSpec:
    kind: str  # "journal" | "rdb" | "memory"
    url: str  # what to pass to --storage / optuna-dashboard (absolute paths)

    @property
    def shareable(self) -> bool:
        return self.kind != "memory"


def storage_spec(arg: str | None, *, out_dir: Path) -> StorageSpec:
    """Interpret `--storage`: None = a journal file in the output folder."""
    if arg is None:
        return StorageSpec("journal", str((out_dir / JOURNAL_NAME).resolve()))
    if arg in ("memory", ":memory:"):
        return StorageSpec("memory", "memory")
    if "://" in arg:
        scheme = arg.split("://", 1)[0].split("+", 1)[0]
        if scheme == "sqlite":
            path = arg.split(":///", 1)[1] if ":///" in arg else ""
            if path and path != ":memory:" and not path.startswith("/"):
                arg = "sqlite:///" + str(Path(path).resolve())
            return StorageSpec("rdb", arg)
        if scheme in ("postgresql", "postgres"):
            return StorageSpec("rdb", _postgres_driver(arg))
        if scheme == "mysql":
            return StorageSpec("rdb", arg)
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"unknown storage scheme '{scheme}'",
                                 value=arg, expected="a journal file path, sqlite:///FILE, postgresql://..., or memory",
                                 hint="see docs/dse.md, 'Storage'")])
    if arg.endswith((".db", ".sqlite", ".sqlite3")):
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"{arg!r} looks like an SQLite file",
                                 value=arg, expected="sqlite:///PATH for SQLite, or a journal file path",
                                 hint=f"use --storage sqlite:///{arg}")])
    return StorageSpec("journal", str(Path(arg).resolve()))


def _postgres_driver(url: str) -> str:
    """Name the installed driver in a plain postgresql:// URL.

    SQLAlchemy 2.1 maps `postgresql://` to psycopg 3; 2.0 to psycopg2. We install
    psycopg2-binary (the `test` extra), so pick whichever driver is importable.
    """
    scheme, rest = url.split("://", 1)
    if "+" in scheme:
        return url
    import importlib.util

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    return f"postgresql://{rest}"


def open_storage(spec: StorageSpec) -> optuna.storages.BaseStorage:
    """An Optuna storage object for `spec` (what `optuna.load_study(storage=...)` takes)."""
    if spec.kind == "memory":
        return optuna.storages.InMemoryStorage()
    if spec.kind == "journal":
        Path(spec.url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(FlockJournalBackend(spec.url))
    from slmsim.dse.study import retry_stale_trial

    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if spec.url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                spec.url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=retry_stale_trial,
            )
    except ImportError as exc:
        driver = "psycopg2-binary" if spec.url.startswith("postgres") else "the database driver SQLAlchemy names"
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"the database driver is missing: {exc}",
                                 value=mask_password(spec.url), hint=f"pip install {driver}")]) from None
    except Exception as exc:  # noqa: BLE001 - sqlalchemy's OperationalError and friends
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"cannot open the storage: {first}",
                                 value=mask_password(spec.url),
                                 hint="is the database server running and reachable, and do the user, password and "
                                      "database exist? (docs/dse.md, 'Workers on PostgreSQL')")]) from None


def mask_password(url: str) -> str:
    """A URL with its password hidden, for messages."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
