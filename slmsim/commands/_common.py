"""Shared by the command modules."""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 2  # a SpecError, or an infeasible design


def fmt_bytes(n: float | None) -> str:
    """Bytes with an SI prefix (`1.23 GB`): the one formatter, `slmsim.core.display.fmt`."""
    from slmsim.core.display import fmt

    return fmt(n, "bytes", 4)


def fmt_time(s: float | None) -> str:
    """Seconds with an SI prefix (`11.3 ms`, `n/a` for None)."""
    from slmsim.core.display import fmt

    return fmt(s, "s")


def output_problems(outputs: "list[tuple[str, object, object]]", inputs: "list[object]") -> "list[object]":
    """Problems with output paths given on the command line, found before any work is done:
    an output that is one of the run's own input files, a path under an existing file, or an
    existing file that slmsim did not write (`ours(path)` says whether it did, or returns the
    Problem of a file slmsim wrote that was edited since). Nothing the user wrote may be
    overwritten. `outputs`: (flag, path or None, ours)."""
    from pathlib import Path

    from slmsim.core.errors import Problem
    from slmsim.core.outputs import under_a_file

    problems = []
    ins = []
    for i in inputs:
        if i:
            p = Path(str(i)).expanduser()
            if p.is_file():
                ins.append(p.resolve())
    for flag, path, ours in outputs:
        if path is None:
            continue
        out = Path(str(path)).expanduser()
        if out.exists() and not out.is_dir() and out.resolve() in ins:
            problems.append(Problem(file=str(out), path=flag, message="is an input file of this run; refusing to "
                                    "overwrite it", value=str(path), hint=f"give {flag} a new file name"))
            continue
        blocked = under_a_file(out, flag)
        if blocked is not None:
            problems.append(blocked)
            continue
        verdict = ours(out) if out.is_file() else True  # type: ignore[operator]
        if isinstance(verdict, Problem):  # slmsim's own file, changed since: the checker says how
            problems.append(verdict)
        elif not verdict:
            problems.append(Problem(file=str(out), path=flag, message="exists and was not written by slmsim; "
                                    "refusing to overwrite it", value=str(path),
                                    hint=f"give {flag} a new file name, or move the file away"))
    return problems

