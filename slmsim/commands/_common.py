"""Shared by the command modules."""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 2  # a SpecError, or an infeasible design


def fmt_bytes(n: float | None) -> str:
    """Bytes with an SI prefix (`1.23 GB`): the one formatter, `slmsim.reports.units.fmt`."""
    from slmsim.reports.units import fmt

    return fmt(n, "bytes", 4)


def fmt_time(s: float | None) -> str:
    """Seconds with an SI prefix (`11.3 ms`, `n/a` for None)."""
    from slmsim.reports.units import fmt

    return fmt(s, "s")
