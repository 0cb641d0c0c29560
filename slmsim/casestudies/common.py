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


# Verdict rule (issue 14): a figure within these bands of the paper's is reproduced.
REPRODUCED_PCT = 10.0
REPRODUCED_RATIO_PCT = 15.0  # ratios compound two runs' errors
VERDICTS = ("reproduced", "explained", "not_expressible", "unexplained")


@dataclass(frozen=True)
class Claim:
    """One paper figure beside slmsim's. `verdict` is computed (`with_verdict`), never
    written by hand, except `not_expressible` (slmsim is None: `missing` says what is absent)."""

    claim: str
    paper: float
    slmsim: float | None
    unit: str
    source: str
    note: str = ""
    conditions: str = ""  # what the paper measured (model, device, batch, ...) as slmsim runs it
    verdict: str = ""
    boundary: str = ""  # energy boundary of an energy figure ("" for time-only claims)
    kind: str = "absolute"  # "ratio" for x-fold claims (wider band)
    assumptions: str = ""
    explanation: str = ""  # the physics reason when not reproduced
    sensitivity: tuple[dict[str, Any], ...] = ()  # rows: unknown, value, slmsim figure
    missing: str = ""  # not_expressible: what slmsim lacks
    paper_name: str = ""

    @property
    def diff_pct(self) -> float | None:
        if self.slmsim is None:
            return None
        return 100.0 * (self.slmsim - self.paper) / self.paper

    @property
    def tolerance_pct(self) -> float:
        return REPRODUCED_RATIO_PCT if self.kind == "ratio" else REPRODUCED_PCT

    def computed_verdict(self) -> str:
        """reproduced: within the band; explained: a physics reason and a sensitivity table over at
        least two unknowns; not_expressible: no slmsim figure; unexplained: none of these (a gap)."""
        d = self.diff_pct
        if d is None or (isinstance(d, float) and math.isnan(d)):
            return "not_expressible"
        if abs(d) <= self.tolerance_pct:
            return "reproduced"
        unknowns = {str(r.get("unknown")) for r in self.sensitivity if r.get("unknown") not in (None, "-")}
        if self.explanation and len(unknowns) >= 2:
            return "explained"
        return "unexplained"

    def with_verdict(self) -> "Claim":
        from dataclasses import replace

        return replace(self, verdict=self.computed_verdict())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["diff_pct"] = self.diff_pct
        d["sensitivity"] = list(self.sensitivity)
        d["boundary"] = self.boundary or None  # None: a time-only figure, no energy counted
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
