"""Evaluate designs of a finished study again, for the study report's one-at-a-time sensitivity.

reports/ never imports dse (tests/test_architecture.py); the commands that write a study report
(`slmsim report`, `slmsim explore`) hand it this factory, which builds the study's own
evaluator from its space file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def evaluator_factory(space_file: Path, engine: str, seed: int) -> Callable[[Mapping[str, Any]], dict[str, float] | None]:
    """A function: sampled parameters -> {metric column: value} (None when the design is infeasible)."""
    from slmsim.dse.evaluate import Evaluator
    from slmsim.dse.metrics import METRICS
    from slmsim.dse.space import load_space

    loaded = load_space(space_file)
    ev = Evaluator(space=loaded.space, base_si=loaded.base_si, models=loaded.models, engine=engine, seed=seed)

    def evaluate(params: Mapping[str, Any]) -> dict[str, float] | None:
        e = ev.evaluate_params(dict(params), label="sensitivity")
        if not e.feasible:
            return None
        return {METRICS[m].column: float(v) for m, v in e.metrics.items() if v is not None and math.isfinite(v)}

    return evaluate
