"""Engine registry: `analytic` and `des` run the same `Plan`."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from slmsim.mapping.plan import Plan
from slmsim.simulator.analytic import run_analytic
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.result import SimResult


def run_des(plan: Plan, **kw: object) -> SimResult:
    """`simulator.des.run_des`, imported on first use: the DES modules (serving loop,
    executor, op-level engine) are a fifth of an analytic `simulate`'s start-up."""
    from slmsim.simulator.des import run_des as des

    return des(plan, **kw)


class Engine(StrEnum):
    ANALYTIC = "analytic"
    DES = "des"


_ENGINES: dict[Engine, Callable[[Plan, int, int, MemoryModel], SimResult]] = {
    Engine.ANALYTIC: lambda plan, seed, trace_steps, memory: run_analytic(plan),
    Engine.DES: lambda plan, seed, trace_steps, memory: run_des(plan, seed=seed, trace_steps=trace_steps,
                                                                memory_model=memory),
}


def run(plan: Plan, *, engine: str | Engine = Engine.ANALYTIC, seed: int = 0, trace_steps: int = 0,
        memory_model: str | MemoryModel = MemoryModel.BANKED) -> SimResult:
    """Run `plan` on an engine. `trace_steps` (DES only) records a Chrome trace of the first
    steps; `memory_model` (DES only): `banked` (default) or `ideal` (the analytic engine's)."""
    try:
        key = Engine(engine)
    except ValueError:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(e.value for e in Engine)}") from None
    try:
        memory = MemoryModel(memory_model)
    except ValueError:
        raise ValueError(f"unknown memory model {memory_model!r}; valid: {', '.join(m.value for m in MemoryModel)}") from None
    return _ENGINES[key](plan, seed, trace_steps, memory)
