"""A design space as data: the YAML a user writes, checked once, resolved into `Space`.

    base: edgecim                      # preset name, or a spec path relative to this file
    parameters:                        # YAML paths into the base spec
      devices.cim.tiles: {choices: [8, 16, 32]}
      memories.dram.bandwidth: {low: "50 GB/s", high: "400 GB/s", log: true}
      memories.dram:                   # a sub-tree: named alternatives merged into the base
        choices:
          lpddr5x: {technology: lpddr5x, energy_per_bit: "5 pJ/bit"}
          hbm3: {technology: hbm3, energy_per_bit: "3.9 pJ/bit"}
    workload_defaults: {weight_bits: 4, act_bits: 8}
    workloads: [qwen3-0.6b, {model: qwen3-4b, batch: 4}]
    aggregate: mean                    # or worst
    objectives: [decode_latency, energy_per_token, area]
    constraints: ["area <= 80 mm^2", "power <= 15 W"]
    baselines: [orin-nano, sa8255p]
    energy_boundary: board             # chip | chip+memory | board: what energy_per_token, tokens_per_j count

Every problem in the file is reported at once as a `SpecError` (YAML path in the space
file, value, expectation, hint). docs/dse.md is the reference for the format.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from slmsim.dse.metrics import METRICS, Aggregate, Direction, Metric
from slmsim.mapping.energy_boundary import EnergyBoundary
from slmsim.workloads.model import ModelSpec
from slmsim.workloads.scenario import Precision, Scenario

DEFAULT_BASELINES = ("orin-nano", "sa8255p")
CONSTRAINT_FITS = "fits"  # every workload must map onto the design: always enforced
_LOOSE = ConfigDict(frozen=True, extra="forbid")


# ----------------------------------------------------------------------------- raw file


class _ParamRaw(BaseModel):
    model_config = _LOOSE

    choices: list[Any] | dict[str, Any] | None = None
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None


class _ServingRaw(BaseModel):
    """A workload served as a request stream in the DES (docs/dse.md, "Serving workloads")."""

    model_config = _LOOSE

    arrivals: Literal["poisson", "closed", "fixed"] = Field(
        "poisson", description="poisson (rate), closed (a client keeping `concurrency` out), fixed (all at t = 0)")
    requests: int = Field(32, ge=1, le=10_000, description="requests in the stream")
    rate: float | None = Field(None, gt=0, le=1e6, description="poisson: requests per second")
    concurrency: int | None = Field(None, ge=1, le=10_000, description="closed: requests out at once")
    max_batch: int = Field(16, ge=1, le=4096, description="most requests decoded together")
    schedule: Literal["prefill-first", "mixed"] = "prefill-first"
    step_tokens: int | None = Field(None, ge=1, description="mixed: tokens a step carries (default: prefill_chunk)")
    kv_policy: Literal["wait", "reject", "paged"] = "wait"
    memory_model: Literal["banked", "ideal"] = "banked"
    statistic: Literal["mean", "p50", "p90", "p99", "max"] = Field(
        "mean", description="what ttft and decode_latency report over the stream: ttft over requests (queueing "
                            "included), decode_latency over every gap between a request's tokens")


class _WorkloadRaw(BaseModel):
    model_config = _LOOSE

    model: str
    name: str | None = None
    prompt: int = Field(128, ge=1)
    gen: int = Field(128, ge=2, description="generated tokens; at least 2 (decode needs one step)")
    batch: int = Field(1, ge=1)
    weight_bits: int = Field(4, ge=1, le=16)
    act_bits: int = Field(16, ge=1, le=32)
    kv_bits: int = Field(16, ge=1, le=32)
    group_size: int | None = Field(32, ge=0, description="weights per fp16 scale; 0 or null = per-channel")
    prefill_chunk: int | None = Field(None, ge=1, description="tokens one prefill pass holds (llama.cpp "
                                                              "n_ubatch 512): prefill runs in passes of it; null: "
                                                              "the whole prompt in one")
    serving: _ServingRaw | None = Field(None, description="serve the workload as a request stream (DES); "
                                                          "null: one batch")


class _SpaceRaw(BaseModel):
    model_config = _LOOSE

    name: str | None = None
    description: str = ""
    base: str
    parameters: dict[str, Any] = Field(min_length=1)
    workload_defaults: dict[str, Any] = Field(default_factory=dict)
    workloads: list[Any] = Field(min_length=1)
    aggregate: Aggregate = Aggregate.MEAN
    objectives: list[Any] = Field(min_length=1)
    constraints: list[Any] = Field(default_factory=list)
    baselines: list[str] = Field(default_factory=lambda: list(DEFAULT_BASELINES))
    reference: dict[str, Any] | None = None
    energy_boundary: str = "board"


# ----------------------------------------------------------------------------- resolved


@dataclass(frozen=True)
class Param:
    """One dimension of the space: a leaf or sub-tree of the base spec and its values.

    `kind` is what Optuna samples: `float`/`int` ranges, or `categorical` over `labels`.
    `values[i]` is what label i puts into the tree (an SI number, a string, or a sub-tree
    merged into the base sub-tree). Numbers are SI, in `unit`.
    """

    path: str
    kind: str  # "float" | "int" | "categorical"
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    labels: tuple[Any, ...] = ()
    values: tuple[Any, ...] = ()
    subtree: bool = False

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))

    @property
    def column(self) -> str:
        return f"param:{self.path}"

    def tree_value(self, sampled: Any) -> Any:
        if self.kind == "categorical":
            return copy.deepcopy(self.values[self.labels.index(sampled)])
        return sampled

    def grid(self) -> list[Any] | None:
        """Every value of a discrete parameter (None: a continuous range)."""
        if self.kind == "categorical":
            return list(self.labels)
        if self.kind == "int":
            return list(self._int_values())
        n = self.grid_count()
        if n is None:
            return None
        assert self.low is not None and self.step is not None
        return [self.low + i * self.step for i in range(n)]

    def _int_values(self) -> range:
        assert self.low is not None and self.high is not None
        return range(int(self.low), int(self.high) + 1, int(self.step or 1))

    def grid_count(self) -> int | None:
        """len(self.grid()), without building the list (None: a continuous range)."""
        if self.kind == "categorical":
            return len(self.labels)
        if self.kind == "int":
            return len(self._int_values())
        if self.step is None:
            return None
        assert self.low is not None and self.high is not None
        return int(round((self.high - self.low) / self.step)) + 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "column": self.column, "kind": self.kind, "unit": self.unit}
        if self.kind == "categorical":
            out["choices"] = list(self.labels)
            if list(self.values) != list(self.labels):
                out["values"] = list(self.values)
        else:
            out.update(low=self.low, high=self.high, step=self.step, log=self.log)
        out["subtree"] = self.subtree
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Param":
        return cls(path=d["path"], kind=d["kind"], unit=d.get("unit"), low=d.get("low"), high=d.get("high"),
                   step=d.get("step"), log=bool(d.get("log", False)), labels=tuple(d.get("choices", ())),
                   values=tuple(d.get("values", d.get("choices", ()))), subtree=bool(d.get("subtree", False)))


@dataclass(frozen=True)
class ServingSpec:
    """A workload's request stream (`_ServingRaw`, checked): what `dse.evaluate` serves."""

    arrivals: str = "poisson"
    requests: int = 32
    rate: float | None = None
    concurrency: int | None = None
    max_batch: int = 16
    schedule: str = "prefill-first"
    step_tokens: int | None = None
    kv_policy: str = "wait"
    memory_model: str = "banked"
    statistic: str = "mean"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    model: str  # as written (preset name) or an absolute path
    prompt: int
    gen: int
    batch: int
    weight_bits: int
    act_bits: int
    kv_bits: int
    group_size: int | None
    prefill_chunk: int | None = None
    serving: ServingSpec | None = None

    def __post_init__(self) -> None:
        if isinstance(self.serving, Mapping):  # from a stored study's space (Space.from_dict)
            object.__setattr__(self, "serving", ServingSpec(**self.serving))

    def scenario(self, *, seed: int = 0) -> Scenario:
        return Scenario(prompt_tokens=self.prompt, gen_tokens=self.gen, batch=self.batch, seed=seed,
                        prefill_chunk_tokens=self.prefill_chunk,
                        precision=Precision(weight_bits=self.weight_bits, activation_bits=self.act_bits,
                                            kv_bits=self.kv_bits, weight_group_size=self.group_size))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "model": self.model, "prompt": self.prompt, "gen": self.gen,
                               "batch": self.batch, "weight_bits": self.weight_bits, "act_bits": self.act_bits,
                               "kv_bits": self.kv_bits, "group_size": self.group_size}
        if self.prefill_chunk is not None:  # left out when unset: a stored study's space stays byte-identical
            out["prefill_chunk"] = self.prefill_chunk
        if self.serving is not None:  # likewise
            out["serving"] = self.serving.to_dict()
        return out


@dataclass(frozen=True)
class Objective:
    metric: Metric
    direction: Direction

    @property
    def column(self) -> str:
        return f"obj:{self.metric.value}"

    @property
    def unit(self) -> str:
        return METRICS[self.metric].unit

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric.value, "direction": self.direction.value, "column": self.column,
                "unit": self.unit}


@dataclass(frozen=True)
class Constraint:
    """`metric <= bound` (sense "max") or `metric >= bound` ("min"), on every workload."""

    metric: Metric
    sense: str
    bound: float  # SI, in the metric's unit
    text: str  # as the user wrote it

    @property
    def key(self) -> str:
        op = "<=" if self.sense == "max" else ">="
        return f"{self.metric.value}{op}{self.bound:g}"

    def violation(self, value: float) -> float:
        """> 0 when broken, relative to the bound (Optuna's convention: <= 0 is feasible)."""
        if value is None or math.isnan(value):
            return 1.0
        scale = abs(self.bound) or 1.0
        return (value - self.bound) / scale if self.sense == "max" else (self.bound - value) / scale

    def describe(self) -> str:
        op = "<=" if self.sense == "max" else ">="
        return f"{self.metric.value} {op} {self.bound:g} {METRICS[self.metric].unit}"

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric.value, "column": f"metric:{METRICS[self.metric].column}",
                "sense": self.sense, "op": "<=" if self.sense == "max" else ">=", "bound": self.bound,
                "unit": METRICS[self.metric].unit, "text": self.text}


@dataclass(frozen=True)
class Space:
    file: str
    name: str
    description: str
    base: str  # preset name or absolute path
    params: tuple[Param, ...]
    workloads: tuple[WorkloadSpec, ...]
    aggregate: Aggregate
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    baselines: tuple[str, ...]
    reference: tuple[float, ...] | None = None  # per objective, in its unit; None: from the base
    energy_boundary: EnergyBoundary = EnergyBoundary.BOARD  # what the energy metrics count

    @property
    def directions(self) -> list[str]:
        return [o.direction.value for o in self.objectives]

    def param(self, path: str) -> Param:
        for p in self.params:
            if p.path == path:
                return p
        raise KeyError(path)

    def grid_size(self) -> int | None:
        n = 1
        for p in self.params:
            g = p.grid_count()
            if g is None:
                return None
            n *= g
        return n

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "name": self.name, "description": self.description, "base": self.base,
            "parameters": [p.to_dict() for p in self.params],
            "workloads": [w.to_dict() for w in self.workloads],
            "aggregate": self.aggregate.value,
            "objectives": [o.to_dict() for o in self.objectives],
            "constraints": [c.to_dict() for c in self.constraints],
            "baselines": list(self.baselines),
            "reference": list(self.reference) if self.reference is not None else None,
            "energy_boundary": self.energy_boundary.value,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Space":
        return cls(
            file=d["file"], name=d["name"], description=d.get("description", ""), base=d["base"],
            params=tuple(Param.from_dict(p) for p in d["parameters"]),
            workloads=tuple(WorkloadSpec(**w) for w in d["workloads"]),
            aggregate=Aggregate(d["aggregate"]),
            objectives=tuple(Objective(Metric(o["metric"]), Direction(o["direction"])) for o in d["objectives"]),
            constraints=tuple(Constraint(Metric(c["metric"]), c["sense"], float(c["bound"]), c["text"])
                              for c in d["constraints"]),
            baselines=tuple(d["baselines"]),
            reference=tuple(d["reference"]) if d.get("reference") is not None else None,
            energy_boundary=EnergyBoundary(d.get("energy_boundary", "board")),  # studies before issue 14: board
        )


@dataclass(frozen=True)
class LoadedSpace:
    """A checked space with everything a trial needs: never mutated after loading."""

    space: Space
    base_tree: dict[str, Any]  # the resolved base spec as written (unit strings), after `extends:`
    base_si: dict[str, Any]  # the same tree with every quantity in SI floats: candidates start here
    models: dict[str, ModelSpec] = field(default_factory=dict)  # by workload name

    def fingerprint(self) -> str:
        return space_fingerprint(self.space, self.base_si, self.models)


def space_fingerprint(space: Space, base_si: Mapping[str, Any], models: Mapping[str, ModelSpec]) -> str:
    """What must not change under a study: parameters, workloads, objectives, constraints, base."""
    d = space.to_dict()
    key = {k: d[k] for k in ("parameters", "workloads", "aggregate", "objectives", "constraints")}
    if space.energy_boundary is not EnergyBoundary.BOARD:  # board: the fingerprint of studies made before it existed
        key["energy_boundary"] = space.energy_boundary.value
    key["base_si"] = base_si
    key["models"] = {n: m.model_dump(mode="json") for n, m in sorted(models.items())}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- loading


def load_space(path: str | Path) -> LoadedSpace:
    """Read and check a space file; every problem is reported at once (dse.space_check)."""
    from slmsim.dse.space_check import check_space

    return check_space(Path(path))


# ----------------------------------------------------------------------------- helpers


def _set(tree: dict[str, Any], parts: Sequence[str], value: Any, *, merge: bool) -> None:
    node = tree
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            node[p] = nxt
        node = nxt
    old = node.get(parts[-1])
    if merge and isinstance(old, dict) and isinstance(value, Mapping) and value.get("kind", old.get("kind")) == old.get("kind"):
        node[parts[-1]] = _merge(old, value)  # an alternative of another `kind` replaces the sub-tree
    else:
        node[parts[-1]] = value


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        if isinstance(out.get(k), dict) and isinstance(v, Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_path(tree: dict[str, Any], parts: Sequence[str], value: Any, *, merge: bool) -> None:
    """Put `value` at `parts` of `tree` (a fresh copy the caller owns); sub-trees merge."""
    _set(tree, parts, value, merge=merge)


