"""Design claims: one worker at a time evaluates a given design (issue 17).

Workers share the evaluation cache through the study, but a worker only sees another's
trial once it is written: two workers that propose the same design at the same moment would
both simulate it. A claim closes that window. Around evaluate + record, a worker holds a lock
named by (study, design key); after taking it, it looks in the study once more (the design
may have been recorded while it waited) and serves the design from there if so.

- PostgreSQL: a session-level advisory lock `pg_advisory_lock(study_id, crc32(key))` on a
  connection the worker keeps (two 32-bit keys: a key space apart from the single 64-bit key
  of the target count). The server drops it when the connection closes, so a killed worker
  leaves no lock behind. The look-up after taking it is one query for a completed trial of the
  study with system attribute `slmsim:design` = the key (written on every evaluated trial).
- A journal file: a POSIX record lock (`fcntl.lockf`) on one byte of `FILE.claims` at an
  offset named by the key; the kernel drops it when the process dies. The look-up is a read
  of the journal's new lines (what a journal worker does with every trial anyway).

Two designs whose keys hash alike share a lock: they wait for each other, nothing more.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import zlib
from collections.abc import Generator
from typing import Any, Protocol

DESIGN_ATTR = "slmsim:design"  # trial system attribute: the design key of an evaluated (not repeated) trial
CLAIM_SLOTS = 1 << 20  # journal: bytes of the claims file a key maps to


def key_hash(key: str) -> int:
    """A signed 32-bit hash of a design key (PostgreSQL's int4 lock key)."""
    h = zlib.crc32(key.encode("utf-8"))
    return h - (1 << 32) if h >= 1 << 31 else h


class Claims(Protocol):
    def hold(self, key: str) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


class FileClaims:
    """Claims on one byte each of a file beside the journal (POSIX record locks)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)

    @contextlib.contextmanager
    def hold(self, key: str) -> Generator[None, None, None]:
        offset = zlib.crc32(key.encode("utf-8")) % CLAIM_SLOTS
        fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, offset)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class PgClaims:
    """Claims as PostgreSQL advisory locks on a connection of the worker's own."""

    def __init__(self, engine: Any, study_id: int) -> None:
        self._engine = engine
        self._study_id = int(study_id)
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    @contextlib.contextmanager
    def hold(self, key: str) -> Generator[None, None, None]:
        import sqlalchemy

        conn = self._connection()
        args = {"s": self._study_id, "k": key_hash(key)}
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:s, :k)"), args)
        try:
            yield
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:s, :k)"), args)

    def evaluated_trial_id(self, key: str) -> int | None:
        return evaluated_trial_id(self._connection(), self._study_id, key)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def evaluated_trial_id(conn: Any, study_id: int, key: str) -> int | None:
    """The trial id of a completed trial of the study that evaluated this design, if any
    (one query on a database connection)."""
    import sqlalchemy

    # Optuna's schema (stable since v1): trials(trial_id, number, study_id, state),
    # trial_system_attributes(trial_id, key, value_json), value_json = json.dumps(value)
    row = conn.execute(sqlalchemy.text(
        "SELECT t.trial_id FROM trials t JOIN trial_system_attributes a ON a.trial_id = t.trial_id "
        "WHERE t.study_id = :s AND t.state = 'COMPLETE' AND a.key = :a AND a.value_json = :v "
        "ORDER BY t.number LIMIT 1"), {"s": int(study_id), "a": DESIGN_ATTR, "v": json.dumps(key)}).first()
    return None if row is None else int(row[0])
