"""Where a study lives: a journal file (default), SQLite, PostgreSQL, or memory.

- A journal file is Optuna's `JournalStorage` over `JournalFileBackend` (public API, Optuna's
  file format: `optuna-dashboard FILE` and Optuna's own backend read it). Our subclass
  changes how lines are written, not what they say:
  * the lock is `fcntl.flock` on `FILE.flock` beside the journal (inside the study folder),
    which the kernel releases when a process dies (Optuna's symlink lock stays behind after
    `kill -9` and stalls every writer for 30 s);
  * the file is kept open for appending: an append is one `write(2)` on an `O_APPEND`
    descriptor. Our workers write each finished trial as ONE record (`study.add_trial`),
    so a trial costs one append. Whatever was written survives the death of the process
    (it is in the page cache); `fsync` runs at most every `FSYNC_INTERVAL_S` (group commit),
    at exit, and at once for a study's creation, so a power cut can lose at most the last
    half second of finished trials, which are then simply run again;
  * a torn last line (power cut, full disk) is found when the journal is opened and cut
    off, with a message: the study goes on from the last complete record;
  * a file that is not a journal is a clear error, not a JSONDecodeError.
- `sqlite:///...` and `postgresql://...` are Optuna's `RDBStorage`. Our workers create no
  RUNNING trials (a trial is written once, finished), so no heartbeat thread is needed.
- `memory`: nothing is kept (benchmarks, tests).

Secrets: a storage URL is shown and written only masked (`user:***@host`, `password=***`
in the query); `redact()` removes the password from any message that might quote it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import sys
import threading
import time
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage

# the password helpers live in the core: the reports use them too
from slmsim.core.credentials import (is_conninfo, mask_conninfo, mask_password, postgres_url, quote_password, redact,
                                     split_url)
from slmsim.core.errors import Problem, SpecError

JOURNAL_NAME = "study.journal.log"
LOCK_SUFFIX = ".flock"  # not Optuna's ".lock": optuna-dashboard's own writes use that name
FSYNC_INTERVAL_S = 0.5  # journal: finished trials are on disk at most this long after they end


class FlockLock:
    """An exclusive `flock` on a file, re-entrant within a process (threads share it).

    Duck-types optuna's journal file lock (acquire/release); the kernel drops it when the
    process dies, so a killed worker never leaves a stale lock."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._fd: int | None = None
        self._depth = 0
        self._thread = threading.RLock()

    def acquire(self) -> bool:
        self._thread.acquire()
        if self._depth == 0:
            fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._thread.release()

    @contextlib.contextmanager
    def held(self) -> Generator[None, None, None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


@contextlib.contextmanager
def flocked(path: str | Path) -> Generator[None, None, None]:
    """An exclusive advisory lock on `path`, released by the kernel if we die."""
    with FlockLock(path).held():
        yield


class JournalBackend(JournalFileBackend):
    """Optuna's journal file backend with a kernel lock, a kept-open descriptor and group commit."""

    def __init__(self, file_path: str | Path, *, fsync_interval_s: float = FSYNC_INTERVAL_S) -> None:
        path = str(file_path)
        if os.path.isdir(path):
            raise _not_a_journal(path, "it is a folder")
        self.path = path
        lock_existed = os.path.exists(path + LOCK_SUFFIX)
        self.lock = FlockLock(path + LOCK_SUFFIX)
        try:
            with self.lock.held():
                if not os.path.exists(path):
                    open(path, "ab").close()
                _check_and_repair(path)
        except SpecError:
            if not lock_existed:  # refused: leave nothing of ours beside the user's file
                with contextlib.suppress(OSError):
                    os.unlink(path + LOCK_SUFFIX)
            raise
        super().__init__(path, lock_obj=self.lock)  # type: ignore[arg-type]  # duck-typed lock
        self._fd: int | None = None
        self._fsync_interval = fsync_interval_s
        self._last_fsync = 0.0
        self._pending = False  # appended but not yet fsynced
        atexit.register(_flush_at_exit, weakref.ref(self))

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND)
        return self._fd

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        with self.lock.held():
            fd = self._descriptor()
            view = memoryview(text)
            while view:
                view = view[os.write(fd, view):]
            self._pending = True
        if time.monotonic() - self._last_fsync >= self._fsync_interval:
            self._fsync(fd)  # outside the lock: the other workers need not wait for the disk

    def _fsync(self, fd: int) -> None:
        os.fsync(fd)
        self._last_fsync = time.monotonic()
        self._pending = False

    def flush(self) -> None:
        """fsync what is pending (at exit, after creating a study, before writing outputs)."""
        if self._pending and self._fd is not None:
            try:
                self._fsync(self._fd)
            except OSError:
                self._pending = False  # the file is gone (a temporary study): nothing to keep

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _flush_at_exit(ref: weakref.ref) -> None:
    backend = ref()
    if backend is not None:
        backend.close()


def _not_a_journal(path: str, why: str) -> SpecError:
    return SpecError([Problem(
        file=path, path="--storage", message=f"not an Optuna journal file: {why}", value=path,
        expected="a journal written by slmsim or Optuna (one JSON record per line), or a new file",
        hint="give a new file name, sqlite:///FILE for SQLite, or the study.journal.log of an earlier run")])


def _check_and_repair(path: str) -> None:
    """Refuse a file that is not a journal; cut off a torn last line (with a message).

    Journal records are JSON objects with an `op_code`, one per line, each written whole
    by one write(2). A last line without its newline, or one that does not parse, is what
    a power cut or a full disk leaves; anything else wrong is not ours to repair."""
    size = os.path.getsize(path)
    if size == 0:
        return
    with open(path, "rb") as f:
        first = f.readline(1 << 20)
        if b"\0" in first or not first.lstrip().startswith(b"{"):
            raise _not_a_journal(path, "its first line is not a JSON record")
        if first.endswith(b"\n"):
            try:
                record = json.loads(first)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise _not_a_journal(path, "its first line is not valid JSON") from None
            if not isinstance(record, dict) or "op_code" not in record:
                raise _not_a_journal(path, "its first record has no 'op_code'")
        tail_from = max(0, size - (1 << 20))
        f.seek(tail_from)
        tail = f.read()
    cut = len(tail)
    if not tail.endswith(b"\n"):
        cut = tail.rfind(b"\n") + 1
    else:
        start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
        try:
            json.loads(tail[start:])
        except (json.JSONDecodeError, UnicodeDecodeError):
            cut = start
    if cut == len(tail):
        return
    if tail_from == 0 and cut == 0:
        raise _not_a_journal(path, "it holds no complete record")
    keep = tail_from + cut
    with open(path, "r+b") as f:
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    print(f"slmsim: {path}: the last journal line was incomplete ({size - keep} bytes; a power cut or a full "
          f"disk?); truncated to the last complete record at byte {keep}. Trials in that line run again.",
          file=sys.stderr)


@dataclass(frozen=True)
class StorageSpec:
    kind: str  # "journal" | "rdb" | "memory"
    url: str  # what to pass to Optuna (absolute paths; may hold a password: never print or write it)

    @property
    def shareable(self) -> bool:
        return self.kind != "memory"

    @property
    def display(self) -> str:
        """The URL with its password masked: what messages and files show."""
        return mask_password(self.url)


def storage_spec(arg: str | None, *, out_dir: Path) -> StorageSpec:
    """Interpret `--storage`: None = a journal file in the output folder."""
    if arg is None:
        return StorageSpec("journal", str((out_dir / JOURNAL_NAME).resolve()))
    if arg in ("memory", ":memory:"):
        return StorageSpec("memory", "memory")
    if "://" in arg:
        scheme = arg.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme == "sqlite":
            path = arg.split(":///", 1)[1] if ":///" in arg else ""
            if not path or path.split("?", 1)[0] in ("", ":memory:"):
                raise SpecError([Problem(file="<command line>", path="--storage", value=mask_password(arg),
                                         message="names no database file: an in-memory SQLite keeps nothing",
                                         expected="sqlite:///path/to/study.db (four slashes for an absolute path)",
                                         hint="--storage memory says so openly, if nothing is to be kept")])
            if not path.startswith("/"):
                arg = "sqlite:///" + str(Path(path).resolve())
                path = arg.split(":///", 1)[1]
            folder = Path(path.split("?", 1)[0]).parent
            if not folder.is_dir():
                raise SpecError([Problem(file="<command line>", path="--storage", value=mask_password(arg),
                                         message=f"the folder {folder} of the SQLite file does not exist",
                                         hint=f"create it first (mkdir -p {folder}), or give a path in an existing "
                                              "folder")])
            return StorageSpec("rdb", arg)
        if scheme in ("postgresql", "postgres"):
            return StorageSpec("rdb", postgres_url(arg))
        if scheme == "mysql":
            return StorageSpec("rdb", quote_password(arg))
        if scheme == "grpc":
            return StorageSpec("grpc", _grpc_url(arg))
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"unknown storage scheme '{scheme}'",
                                 value=mask_password(arg),
                                 expected="a journal file path, sqlite:///FILE, postgresql://..., grpc://HOST:PORT "
                                          "(slmsim serve-storage), or memory",
                                 hint="see docs/dse.md, 'Storage'")])
    if is_conninfo(arg):
        raise SpecError([Problem(file="<command line>", path="--storage", message="looks like a libpq connection "
                                 "string (key=value pairs), which slmsim does not take",
                                 value=mask_conninfo(arg), expected="postgresql://USER:PASSWORD@HOST:PORT/DB",
                                 hint="write it as a URL; a password with '@', ':' or '/' may be given as is "
                                      "(docs/dse.md, 'Workers on PostgreSQL')")])
    if arg.endswith((".db", ".sqlite", ".sqlite3")):
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"{arg!r} looks like an SQLite file",
                                 value=arg, expected="sqlite:///PATH for SQLite, or a journal file path",
                                 hint=f"use --storage sqlite:///{arg}")])
    return StorageSpec("journal", str(Path(arg).resolve()))


def grpc_address(url: str) -> tuple[str, int]:
    """grpc://HOST:PORT -> (HOST, PORT)."""
    rest = url.split("://", 1)[1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)


def _grpc_url(url: str) -> str:
    rest = url.split("://", 1)[1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest or "@" in rest:
        raise SpecError([Problem(file="<command line>", path="--storage", message="not a gRPC proxy address",
                                 value=mask_password(url), expected="grpc://HOST:PORT, e.g. grpc://10.0.0.5:13000",
                                 hint="the host and port `slmsim serve-storage` listens on")])
    return f"grpc://{host}:{int(port)}"


def check_journal_path(path: Path) -> None:
    """The journal and its lock can be created and written where the user asked: under a file, a
    device, /proc or /sys, without permission, is an input problem (exit 2), and nothing is made
    beside a path that is not a regular file (a `/dev/null.flock`)."""
    from slmsim.core.outputs import under_a_file, write_problem

    blocked = under_a_file(path, "--storage")
    if blocked is not None:
        raise SpecError([blocked])
    if path.exists() and not path.is_file():
        raise SpecError([Problem(file=str(path), path="--storage", value=str(path),
                                 message="is not a regular file (a folder, a device or a pipe)",
                                 hint="give the path of a journal file, new or written by slmsim")])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for name in (path, Path(str(path) + LOCK_SUFFIX)):  # can they be made? (then gone: a later refusal,
            made = not name.exists()                         # e.g. a file that is not a journal, leaves nothing)
            os.close(os.open(name, os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o644))
            if made:
                name.unlink()
    except OSError as exc:
        raise SpecError([write_problem(path, "--storage", exc)]) from None


# tables every Optuna RDB storage creates (optuna/storages/_rdb/models.py); an SQLite file that
# holds other tables and none of these is someone else's database
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info"})


def check_sqlite_file(url: str) -> None:
    """An existing sqlite:///FILE must be an SQLite database that is empty or an Optuna storage:
    Optuna would otherwise add its tables to a user's own database (or fail on a text file with
    a message about servers and passwords)."""
    import sqlite3

    path = Path(url.split(":///", 1)[1].split("?", 1)[0])
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return
    if not path.is_file():
        raise SpecError([Problem(file=str(path), path="--storage", value=str(path),
                                 message="is not a regular file (a folder, a device or a pipe)",
                                 hint="give the path of an SQLite file, new or an Optuna storage")])
    with path.open("rb") as fh:
        magic = fh.read(16)
    if magic != b"SQLite format 3\x00":
        raise SpecError([Problem(file=str(path), path="--storage", value=str(path),
                                 message="exists and is not an SQLite database; not touched",
                                 expected="a new file, or an SQLite file that holds an Optuna storage",
                                 hint="give another path (sqlite:///NEW.db), or a journal file path")])
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise SpecError([Problem(file=str(path), path="--storage", value=str(path),
                                 message=f"cannot be read as an SQLite database: {exc}",
                                 hint="give another path (sqlite:///NEW.db)")]) from None
    if tables and not OPTUNA_TABLES <= tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise SpecError([Problem(file=str(path), path="--storage", value=str(path),
                                 message=f"is an SQLite database of something else (tables {shown}), not an Optuna "
                                         "storage; not touched",
                                 expected="a new file, or an SQLite file that holds an Optuna storage",
                                 hint="give another path (sqlite:///NEW.db)")])


def open_storage(spec: StorageSpec) -> optuna.storages.BaseStorage:
    """An Optuna storage object for `spec` (what `optuna.load_study(storage=...)` takes)."""
    if spec.kind == "memory":
        return optuna.storages.InMemoryStorage()
    if spec.kind == "journal":
        check_journal_path(Path(spec.url))
        backend = JournalBackend(spec.url)
        try:
            storage = JournalStorage(backend)
        except (ValueError, KeyError, TypeError) as exc:  # a record Optuna cannot replay
            raise _not_a_journal(spec.url, f"a record cannot be read ({type(exc).__name__}: "
                                           f"{str(exc)[:200]})") from None
        remember_backend(storage, backend)
        return storage
    if spec.kind == "grpc":
        return _open_proxy(spec)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if spec.url.startswith("sqlite"):
        check_sqlite_file(spec.url)
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        return optuna.storages.RDBStorage(spec.url, engine_kwargs=engine_kwargs)
    except ImportError as exc:
        driver = "psycopg2-binary" if spec.url.startswith("postgres") else "the database driver SQLAlchemy names"
        raise SpecError([Problem(file="<command line>", path="--storage",
                                 message=redact(f"the database driver is missing: {exc}", spec.url),
                                 value=spec.display, hint=f"pip install {driver}")]) from None
    except Exception as exc:  # noqa: BLE001 - sqlalchemy's OperationalError, a bad port, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError([Problem(file="<command line>", path="--storage",
                                 message=redact(f"cannot open the storage: {first}", spec.url),
                                 value=spec.display,
                                 hint="is the database server running and reachable, and do the user, password and "
                                      "database exist? A password with '@', ':' or '/' may be given as is or "
                                      "percent-encoded (docs/dse.md, 'Workers on PostgreSQL')")]) from None


def _open_proxy(spec: StorageSpec, *, timeout_s: float = 10.0) -> optuna.storages.BaseStorage:
    """Optuna's gRPC client for a `slmsim serve-storage` proxy (needs grpcio: the `cluster` extra)."""
    import warnings

    host, port = grpc_address(spec.url)
    try:
        import grpc  # noqa: F401 - Optuna imports it lazily; say what is missing here

        from optuna.storages import GrpcStorageProxy
    except ImportError as exc:
        raise SpecError([Problem(file="<command line>", path="--storage", message=f"a gRPC storage needs grpcio ({exc})",
                                 value=spec.display, hint="pip install 'slmsim[cluster]' (grpcio and protobuf)")]) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        proxy = GrpcStorageProxy(host=host, port=port)
    try:
        proxy.wait_server_ready(timeout=timeout_s)
    except ConnectionError:
        proxy.close()
        raise SpecError([Problem(file="<command line>", path="--storage",
                                 message=f"no storage proxy answers at {host}:{port} (waited {timeout_s:.0f} s)",
                                 value=spec.display,
                                 hint="start one with `slmsim serve-storage --storage postgresql://... --host HOST "
                                      "--port PORT`, and check the address and any firewall")]) from None
    try:  # a channel is ready for any gRPC server: ask the proxy's own service once
        proxy.get_all_studies()
    except grpc.RpcError as exc:
        proxy.close()
        code = exc.code().name if hasattr(exc, "code") and exc.code() is not None else type(exc).__name__
        detail = (exc.details() or "").strip() if hasattr(exc, "details") else ""
        raise SpecError([Problem(file="<command line>", path="--storage",
                                 message=f"the gRPC server at {host}:{port} is not an Optuna storage proxy: its "
                                         f"storage service answered {code}" + (f" ({detail[:120]})" if detail else ""),
                                 value=spec.display,
                                 expected="a `slmsim serve-storage` (Optuna run_grpc_proxy_server) address",
                                 hint="start one with `slmsim serve-storage --storage postgresql://... --host HOST "
                                      "--port PORT`, or check the port")]) from None
    return proxy


# the backend of each journal storage we opened (Optuna keeps its own reference private)
_BACKENDS: "weakref.WeakKeyDictionary[Any, JournalBackend]" = weakref.WeakKeyDictionary()


def remember_backend(owner: Any, backend: JournalBackend) -> None:
    _BACKENDS[owner] = backend


def journal_backend(owner: Any) -> JournalBackend | None:
    """The journal backend behind a storage or study we opened, or None (databases, memory)."""
    return _BACKENDS.get(owner)


def flush_storage(owner: Any) -> None:
    """Make what was written durable now (journal: fsync; databases commit as they go)."""
    backend = journal_backend(owner)
    if backend is not None:
        backend.flush()
