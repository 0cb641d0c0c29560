"""Reading a user's CSV text without a traceback: the csv module's own errors become a `SpecError`.

`csv.DictReader` raises `csv.Error` for a cell longer than `csv.field_size_limit()`
(131,072 characters by default), a NUL byte or a broken quote in strict mode, from inside
its iterator and even from `fieldnames`. `dict_rows` turns that into one problem with the
file and the physical line, and `header` does the same for the first line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from slmsim.core.errors import Problem, SpecError


def _problem(shown: str, reader: csv.DictReader, exc: csv.Error, hint: str | None) -> SpecError:
    line = reader.line_num + 1  # the lines of the records read so far, then the one that failed
    message = str(exc)
    if "field larger than field limit" in message:
        message = f"a cell longer than {csv.field_size_limit():,} characters"
        hint = hint or "is a quote left open, so that the rest of the file reads as one cell?"
    elif "unexpected end of data" in message:
        message = "a quote left open at the end of the file"
        hint = hint or "close the quoted cell (\"...\"), or remove the stray quote"
    elif "expected after" in message:
        hint = hint or "a quote inside a cell must be doubled (\"\") and the cell quoted"
    return SpecError([Problem(file=shown, path=f"line {line}", message=f"not a readable CSV: {message}",
                              hint=hint)])


def header(reader: csv.DictReader, shown: str, *, hint: str | None = None) -> list[str]:
    """The column names (an empty list for an empty file)."""
    try:
        return list(reader.fieldnames or [])
    except csv.Error as exc:
        raise _problem(shown, reader, exc, hint) from None


def dict_rows(reader: csv.DictReader, shown: str, *, hint: str | None = None) -> Iterator[dict[str, str]]:
    """The reader's rows; a `csv.Error` on the way is raised as a `SpecError` naming the line."""
    it = iter(reader)
    while True:
        try:
            row = next(it)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _problem(shown, reader, exc, hint) from None
        yield row
