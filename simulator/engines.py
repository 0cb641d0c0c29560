"""Engine registry: `analytic` and `des` run the same `Plan`."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from slmsim.mapping.plan import Plan
from slmsim.simulator.analytic import run_analytic
from slmsim.simulator.des import run_des
from slmsim.simulator.result import SimResult


class Engine(StrEnum):
    ANALYTIC = "analytic"
    DES = "des"


_ENGINES: dict[Engine, Callable[[Plan, int, int], SimResult]] = {
    Engine.ANALYTIC: lambda plan, seed, trace_steps: run_analytic(plan),
    Engine.DES: lambda plan, seed, trace_steps: run_des(plan, seed=seed, trace_steps=trace_steps),
}


def run(plan: Plan, *, engine: str | Engine = Engine.ANALYTIC, seed: int = 0, trace_steps: int = 0) -> SimResult:
    """Run `plan` on an engine. `trace_steps` (DES only) records a Chrome trace of the first steps."""
    try:
        key = Engine(engine)
    except ValueError:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(e.value for e in Engine)}") from None
    return _ENGINES[key](plan, seed, trace_steps)
