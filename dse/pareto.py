"""Pareto fronts and hypervolume for dse/: the shared implementation in slmsim.core.pareto
(moocore's algorithms; reports/ uses the same functions)."""

from __future__ import annotations

from slmsim.core.pareto import contributions, hypervolume, hypervolume_history, pareto_mask, to_costs

__all__ = ["contributions", "hypervolume", "hypervolume_history", "pareto_mask", "to_costs"]
