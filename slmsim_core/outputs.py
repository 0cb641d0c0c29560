"""Problems writing an output file the user named: shared by the commands and the reports."""

from __future__ import annotations

from pathlib import Path

from slmsim.core.errors import Problem


def under_a_file(path: Path, flag: str) -> Problem | None:
    """A problem when a parent of `path` is a file, so nothing can be written there."""
    blocker = next((a for a in Path(path).parents if a.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return Problem(file=str(path), path=flag, message=f"{blocker} is a file, so nothing can be written under it",
                       value=str(path), hint="give a path inside a folder")
    return None


def write_problem(path: object, flag: str, exc: OSError) -> Problem:
    """An OSError while writing an output, as an input problem (exit 2, no traceback)."""
    return Problem(file=str(path), path=flag, message=f"cannot be written: {exc.strerror or exc}",
                   value=str(path), hint="give a path in a folder you can write to")
