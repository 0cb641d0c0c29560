"""Shared by the case studies: running a (hardware tree, model, scenario) and claim records."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from slmsim.hw_models.load import hardware_with_edits
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.simulator.result import SimResult
from slmsim.core.errors import Infeasible
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario


@dataclass(frozen=True)
class Claim:
    claim: str
    paper: float
    slmsim: float
    unit: str
    source: str
    note: str = ""

    @property
    def diff_pct(self) -> float:
        return 100.0 * (self.slmsim - self.paper) / self.paper

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["diff_pct"] = self.diff_pct
        return d


def hardware_with(name: str, edits: dict[str, Any] | None = None) -> HardwareSpec:
    """A preset with `dotted.path: value` edits (SI floats for quantities)."""
    return hardware_with_edits(name, edits)


def simulate(hw: HardwareSpec, model: str, scenario: Scenario, *, engine: str = "analytic") -> SimResult:
    plan = make_plan(hw, load_model(model), scenario)
    if isinstance(plan, Infeasible):
        raise RuntimeError(f"{model} on {hw.name}: {plan.render()}")
    return run(plan, engine=engine, seed=scenario.seed)


def write_json(path: Path, data: Any) -> None:
    def default(x: object) -> object:
        if isinstance(x, float) and math.isnan(x):
            return None
        return str(x)

    path.write_text(json.dumps(data, indent=2, default=default) + "\n")
