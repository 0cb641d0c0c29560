"""Tables and progress for the CLI: `rich` on a terminal, plain aligned text when piped.

Every command prints through `emit()`: on a terminal a table is drawn by rich (rules, bold
headers, colour); when stdout is a pipe or a file the same table is plain text (no box
characters, no colour, no trailing spaces, never wrapped), so `slmsim ... | grep` and
captured logs stay readable. Numbers with units are formatted once, by
`slmsim.core.display.fmt` (SI prefixes: `414 µJ`, `96.8 nJ`, `11.3 ms`), the formatter the
HTML reports use.

Progress bars go to stderr and only when stderr is a terminal (`progress()`); piped or
captured runs print nothing extra.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from slmsim.core.display import fmt as _fmt
from slmsim.core.display import num

Cell = str | float | int | None


def q(value: float | None, unit: str, digits: int = 3) -> str:
    """An SI value with a readable prefix (`q(0.0004137, "J") == "414 µJ"`); `n/a` for None/NaN."""
    return _fmt(value, unit, digits)


def n(value: float | None, digits: int = 3) -> str:
    """A plain number with `digits` significant digits."""
    return num(value, digits)


def pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


@dataclass
class Table:
    """Rows of cells under a title."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[Cell]] = field(default_factory=list)
    note: str = ""  # one line under the table (what the figures aggregate, assumptions)
    align: str = ""  # one letter per column, l or r; default: the first left, the others right

    def aligns(self) -> str:
        a = self.align or "l" + "r" * (len(self.columns) - 1)
        return a.ljust(len(self.columns), "r")

    def add(self, *cells: Cell) -> None:
        self.rows.append(cells)


Block = Table | str


def is_terminal(stream: Any = None) -> bool:
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


def _cell(c: Cell) -> str:
    if c is None:
        return "n/a"
    if isinstance(c, float):
        return num(c, 4)
    return str(c)


def render_plain(blocks: Sequence[Block]) -> str:
    """Plain text: a title line, a header, rows padded to the widest cell of each column."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, str):
            out.append(b)
            continue
        rows = [[_cell(c) for c in r] for r in b.rows]
        cols = [str(c) for c in b.columns]
        widths = [max([len(cols[i])] + [len(r[i]) for r in rows if i < len(r)]) for i in range(len(cols))]

        def line(cells: Sequence[str]) -> str:
            parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, b.aligns())]
            return ("  " + "  ".join(parts)).rstrip()

        out.append(b.title)
        if any(cols):
            out.append(line(cols))
        out += [line(r) for r in rows]
        if b.note:
            out.append(f"  ({b.note})")
        out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def _rich_table(b: Table) -> Any:
    from rich import box
    from rich.table import Table as RichTable

    t = RichTable(box=box.SIMPLE_HEAD, show_edge=False, show_header=any(b.columns), header_style="bold cyan",
                  pad_edge=True)
    for c, a in zip(b.columns, b.aligns()):
        t.add_column(str(c), justify="left" if a == "l" else "right", no_wrap=a == "r")
    for r in b.rows:
        t.add_row(*[_cell(c) for c in r])
    return t


def emit(blocks: Sequence[Block], *, stream: Any = None) -> None:
    """Print blocks (tables and lines of text) to stdout: rich on a terminal, plain otherwise."""
    stream = sys.stdout if stream is None else stream
    if not is_terminal(stream):
        print(render_plain(blocks), file=stream)
        return
    from rich.console import Console
    from rich.markup import escape

    from rich.text import Text

    console = Console(file=stream, highlight=False)
    for b in blocks:
        if isinstance(b, str):
            console.print(escape(b))
        else:  # the title on its own line: a table narrower than its title would wrap it
            console.print(Text(b.title, style="bold"))
            console.print(_rich_table(b))
            if b.note:  # under the table, not a caption: a caption wraps at the table's width
                console.print(Text(f" ({b.note})", style="dim"))
            console.print()


class _NoProgress:
    def advance(self, description: str | None = None, steps: float = 1) -> None:
        pass

    def describe(self, description: str) -> None:
        pass


class _RichProgress(_NoProgress):
    def __init__(self, progress: Any, task: Any) -> None:
        self._p, self._task = progress, task

    def advance(self, description: str | None = None, steps: float = 1) -> None:
        kw = {"description": description} if description is not None else {}
        self._p.update(self._task, advance=steps, **kw)

    def describe(self, description: str) -> None:
        self._p.update(self._task, description=description)


@contextmanager
def progress(description: str, total: float | None, *, enabled: bool = True) -> Iterator[_NoProgress]:
    """A progress bar on stderr while the block runs, only when stderr is a terminal.

    `total=None` shows a spinner with the elapsed time. The bar is transient: it disappears
    when the block ends, so it never mixes with the command's output."""
    if not (enabled and is_terminal(sys.stderr)):
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as p:
        yield _RichProgress(p, p.add_task(description, total=total))
