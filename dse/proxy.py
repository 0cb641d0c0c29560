"""Optuna's gRPC storage proxy between many workers and one database (`slmsim serve-storage`).

A cluster: one database, one proxy (`slmsim serve-storage --storage postgresql://...`), N
workers (`slmsim worker --storage grpc://HOST:PORT`). The proxy is Optuna's
`run_grpc_proxy_server` over the database storage (Optuna's cached RDB storage, so a worker's
read of the study costs the database only the trials that are new); the workers talk to it
with Optuna's `GrpcStorageProxy` and hold no database connection.

What a direct database worker does with SQL (count the study near its target under an
advisory lock; claim a design while evaluating it, slmsim.dse.claims) a proxied worker
cannot, so the proxy does it for them, inside the storage it serves
(`CoordinatingStorage`), through Optuna's own storage calls:

- exact target: a finished trial from a slmsim worker (`create_new_trial` with a COMPLETE
  template) is counted and inserted as one step (`add_counted`, the same advisory lock as the
  direct workers), and refused with `FULL` once the study has its target;
- design claims: `set_study_system_attr(study, "slmsim:claim:<key>", owner)` is not stored
  but takes the claim in the proxy's memory, and is refused with `CLAIMED` while another
  worker holds it, or with `EVALUATED` + the trial id when the database (queried, not a
  cache) already has a trial that evaluated the design. A worker holds at most one claim, which ends when it records its next
  trial (or releases it, value None), or after `CLAIM_TTL_S` (a worker killed mid-claim).
  Claims are the proxy's: workers going to the database directly claim with advisory locks,
  so two kinds of worker on one study share the cache and the count, not the claims.

The refusals reach the worker as gRPC errors whose details carry `FULL` or `CLAIMED`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

CLAIM_PREFIX = "slmsim:claim:"
FULL = "slmsim-study-full"  # the study has its target of completed trials
CLAIMED = "slmsim-design-claimed"  # another worker is evaluating this design
EVALUATED = "slmsim-design-evaluated:"  # + the trial id that evaluated it
CLAIM_TTL_S = 10.0  # a claim not ended by a record within this long is void (its worker died, or is slow: then
# the design may be evaluated twice, nothing worse)
TARGET_EVERY_S = 1.0  # how often the proxy re-reads a study's target attribute
DEFAULT_PORT = 13000  # Optuna's default for run_grpc_proxy_server


class Refused(KeyError):
    """Raised inside the proxy. A KeyError, which Optuna's servicer turns into a NOT_FOUND
    status with the message as its details (without logging a traceback), and Optuna's client
    back into a KeyError raised from the gRPC error."""


class CoordinatingStorage(BaseStorage):
    """A storage that passes every call to `backend` except slmsim's counting and claims."""

    def __init__(self, backend: BaseStorage, rdb: optuna.storages.RDBStorage) -> None:
        self._backend = backend
        self._rdb = rdb
        self._lock = threading.Lock()
        self._claims: dict[tuple[int, str], tuple[str, float]] = {}  # (study, key) -> (owner, since)
        self._targets: dict[int, tuple[int, float]] = {}

    # -- what slmsim changes

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        owner = _owner_of(template_trial)
        if template_trial is None or template_trial.state != TrialState.COMPLETE or owner is None:
            return self._backend.create_new_trial(study_id, template_trial)
        from slmsim.dse.study import add_counted

        ids: list[int] = []
        try:
            added, _ = add_counted(self._rdb.engine, study_id, target=self._target(study_id),
                                   add=lambda: ids.append(self._backend.create_new_trial(study_id, template_trial)))
        finally:
            self._end_claims(owner)  # after the insert committed: a worker waiting for the design then finds it
        if not added:
            raise Refused(FULL)
        return ids[0]

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        if not key.startswith(CLAIM_PREFIX):
            return self._backend.set_study_system_attr(study_id, key, value)
        design = key[len(CLAIM_PREFIX):]
        now = time.monotonic()
        with self._lock:
            held = self._claims.get((study_id, design))
            if isinstance(value, dict):  # {"release": owner}
                if held is not None and held[0] == str(value.get("release")):
                    del self._claims[(study_id, design)]
                return None
            owner = str(value)
            if held is not None and held[0] != owner and now - held[1] < CLAIM_TTL_S:
                raise Refused(CLAIMED)
            self._claims[(study_id, design)] = (owner, now)
        # held now: look in the database (not a cache, which can miss a trial whose insert
        # committed after a later one's) for a trial that evaluated it meanwhile
        from slmsim.dse.claims import evaluated_trial_id

        with self._rdb.engine.connect() as conn:
            trial_id = evaluated_trial_id(conn, study_id, design)
        if trial_id is not None:
            with self._lock:
                self._claims.pop((study_id, design), None)
            raise Refused(f"{EVALUATED}{trial_id}")
        return None

    def _end_claims(self, owner: str) -> None:
        with self._lock:
            for k in [k for k, (o, _) in self._claims.items() if o == owner]:
                del self._claims[k]

    def _target(self, study_id: int) -> int:
        from slmsim.dse.study import TARGET_ATTR

        now = time.monotonic()
        cached = self._targets.get(study_id)
        if cached is None or now - cached[1] > TARGET_EVERY_S:
            cached = (int(self._backend.get_study_user_attrs(study_id).get(TARGET_ATTR, 0)), now)
            self._targets[study_id] = cached
        return cached[0]

    # -- everything else, as the backend does it

    def create_new_study(self, directions: Sequence[Any], study_name: str | None = None) -> int:
        return self._backend.create_new_study(directions, study_name)

    def delete_study(self, study_id: int) -> None:
        self._backend.delete_study(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._backend.set_study_user_attr(study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._backend.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._backend.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[Any]:
        return self._backend.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._backend.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._backend.get_study_system_attrs(study_id)

    def get_all_studies(self) -> list[Any]:
        return self._backend.get_all_studies()

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: Any) -> None:
        self._backend.set_trial_param(trial_id, param_name, param_value_internal, distribution)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._backend.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        return self._backend.set_trial_state_values(trial_id, state, values)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self._backend.set_trial_intermediate_value(trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._backend.set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._backend.set_trial_system_attr(trial_id, key, value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._backend.get_trial(trial_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
        return self._backend.get_all_trials(study_id, deepcopy=deepcopy, states=states)


def _owner_of(t: FrozenTrial | None) -> str | None:
    if t is None:
        return None
    worker = t.user_attrs.get("worker")
    return str(worker.get("id")) if isinstance(worker, dict) and worker.get("id") else None


def serve(rdb: optuna.storages.RDBStorage, *, host: str, port: int,
          on_ready: Callable[[], None] | None = None) -> None:
    """Run Optuna's gRPC proxy over `rdb` (until interrupted)."""
    import warnings

    storage = CoordinatingStorage(optuna.storages.get_storage(rdb), rdb)
    if on_ready is not None:
        on_ready()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.run_grpc_proxy_server(storage, host=host, port=port)


# ----------------------------------------------------------------------------- the worker's side


def refused(exc: BaseException, what: str) -> bool:
    """Is `exc` the proxy's refusal `what` (FULL or CLAIMED), as Optuna's client raises it
    (a KeyError from the gRPC error, whose details hold the message)?"""
    for e in (exc, exc.__cause__):
        if e is None:
            continue
        details = getattr(e, "details", None)
        text = details() if callable(details) else str(e)
        if what in (text or ""):
            return True
    return False


class GrpcClaims:
    """Design claims taken from the proxy (see the module docstring)."""

    def __init__(self, storage: BaseStorage, study_id: int, owner: str) -> None:
        self._storage = storage
        self._study_id = study_id
        self._owner = owner

    def try_claim(self, key: str) -> bool | int:
        """True: ours; False: another worker holds it; an int: the trial id that evaluated it."""
        try:
            self._storage.set_study_system_attr(self._study_id, CLAIM_PREFIX + key, self._owner)
        except KeyError as exc:
            if refused(exc, CLAIMED):
                return False
            for e in (exc, exc.__cause__):
                details = getattr(e, "details", None)
                text = (details() if callable(details) else str(e)) or ""
                if EVALUATED in text:
                    return int(text.split(EVALUATED, 1)[1].split("'")[0].strip())
            raise
        return True

    def trial(self, trial_id: int) -> FrozenTrial:
        return self._storage.get_trial(trial_id)

    def release(self, key: str) -> None:
        try:
            self._storage.set_study_system_attr(self._study_id, CLAIM_PREFIX + key, {"release": self._owner})
        except Exception:  # noqa: BLE001 - the claim times out anyway
            pass

    def close(self) -> None:
        pass
