"""Memos shared by every plan of a process: step workloads, mapped ops, derived macros.

A design-space exploration maps many plans of one model on hardware that differs in a few
fields, and a benchmark or a sweep maps the same point again. What a plan recomputes from
scratch is therefore mostly the same: the op graph of each step (a function of the model,
precision and step shape only), each op mapped onto a unit (a function of the op and of the
few hardware fields that unit's mapping reads) and the CIM macro at the accelerator's node.

Every key is made of *values* (frozen pydantic specs and frozen dataclasses hash and compare
by value), never of object identities, so a changed field is a different key. The unit keys
(`cim_matmul_unit`, `cim_vector_unit`, `processor_unit`) name exactly the fields their
mapping function reads; `tests/mapping/test_memo.py` perturbs every numeric and boolean
field of the hardware one at a time and checks that results with the memo equal results
without it.

Module constants a mapping reads are part of the keys where a test or a sensitivity study
changes them at run time (the graph's vector-op counts, the partial-sum word); the periphery
and scaling constants of `hw_models` are fixed at import.

Each memo is bounded (oldest entries dropped first) so a long study does not grow without
limit. `disabled()` turns every memo off (tests compare both ways).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

V = TypeVar("V")

_enabled = [True]


class Memo(Generic[V]):
    """A bounded dict of computed values; `get(key, compute)` computes on a miss."""

    def __init__(self, name: str, max_entries: int) -> None:
        self.name = name
        self.max_entries = max_entries
        self._d: dict[Hashable, V] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        if not _enabled[0]:
            return compute()
        d = self._d
        try:
            v = d[key]
        except KeyError:
            pass
        else:
            self.hits += 1
            return v
        self.misses += 1
        v = compute()
        if len(d) >= self.max_entries:
            try:
                del d[next(iter(d))]  # oldest first
            except (KeyError, RuntimeError, StopIteration):  # another thread evicted it first
                pass
        d[key] = v
        return v

    def clear(self) -> None:
        self._d.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._d)


class UnitKey:
    """A tuple of values with its hash computed once (a spec's hash is recomputed on every
    call; an op key is hashed once per op)."""

    __slots__ = ("values", "_hash")

    def __init__(self, *values: Hashable) -> None:
        self.values = values
        self._hash = hash(values)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, UnitKey) and self._hash == other._hash
                                 and self.values == other.values)


def enabled() -> bool:
    return _enabled[0]


@contextmanager
def disabled() -> Iterator[None]:
    """Every memo off inside the block (values computed afresh each time)."""
    before = _enabled[0]
    _enabled[0] = False
    try:
        yield
    finally:
        _enabled[0] = before


# The memos. Sizes: a study's distinct step shapes and hardware units; an entry of OPS is one
# unit's dict of mapped ops (tens of ops).
WORKLOADS: Memo = Memo("workloads", 512)
WEIGHT_OPS: Memo = Memo("weight_ops", 64)
MACROS: Memo = Memo("macros", 256)
OPS: Memo = Memo("ops_by_unit", 512)
STEPS: Memo = Memo("steps", 1024)


def clear_all() -> None:
    for m in (WORKLOADS, WEIGHT_OPS, MACROS, OPS, STEPS):
        m.clear()
