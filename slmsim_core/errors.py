"""Errors a user sees, and infeasibility as data.

`SpecError` carries every problem found in one input at once, each with the file, the
YAML path, the bad value, what was expected and a hint. The CLI prints it and exits 2.
`Infeasible` is not an exception: a design that cannot run is a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one value in one file."""

    file: str
    path: str  # dotted YAML path, e.g. "devices.cim.macro.rows"; "" for the whole file
    message: str
    value: object = None
    expected: str | None = None
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        lines = [f"{where}: {self.message}"]
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            lines.append(f"    value:    {shown}")
        if self.expected:
            lines.append(f"    expected: {self.expected}")
        if self.hint:
            lines.append(f"    hint:     {self.hint}")
        return "\n".join(lines)


MAX_PROBLEMS_SHOWN = 50  # a file with millions of bad keys prints the first 50 and a count


class SpecError(Exception):
    """Every problem found in a user's input, reported together (the first 50 shown, and a count)."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], *, total: int | None = None) -> None:
        if not problems:
            raise ValueError("SpecError needs at least one problem")
        # keep a bounded list: the rest are only counted
        self.problems = tuple(problems[:MAX_PROBLEMS_SHOWN * 20])
        self.total = max(total or 0, len(problems))
        super().__init__(self.render())

    def render(self) -> str:
        n = self.total
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        lines = [head, *(p.render() for p in shown)]
        if n > len(shown):
            lines.append(f"... and {n - len(shown)} more problem{'s' if n - len(shown) != 1 else ''} "
                         f"(the first {len(shown)} are shown; fix these and run again)")
        return "\n".join(lines)


def unheld(exc: SpecError) -> int:
    """How many of `exc`'s problems it counted but does not hold (beyond the bounded list).

    Code that gathers the problems of several `SpecError`s into one adds this to the new
    error's `total`, so a file with 3,000 bad keys is still reported as 3,000, not 1,000.
    """
    return exc.total - len(exc.problems)


class InternalError(Exception):
    """A result that cannot be right (NaN, infinite, negative time or energy): a bug, never a number."""


@dataclass(frozen=True, slots=True)
class Infeasible:
    """A design that cannot run this workload: what was demanded, the bound, what to change."""

    reason: str
    demanded: float
    bound: float
    unit: str
    hint: str
    details: dict[str, float] = field(default_factory=dict)

    def render(self) -> str:
        from slmsim.core.display import fmt, has_prefixes  # noqa: PLC0415 - numpy only when infeasible

        def amount(v: float) -> str:  # 5.776 GB, not 5.776e+09 bytes; counts as they are
            return fmt(v, self.unit, 4) if has_prefixes(self.unit) else f"{v:,.4g} {self.unit}"

        return f"infeasible: {self.reason}: needs {amount(self.demanded)}, has {amount(self.bound)}. {self.hint}"


def kind_of(value: object) -> str:
    """What a YAML/JSON value is, in the user's words rather than a Python type name."""
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a plain string", list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
