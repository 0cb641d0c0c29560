"""Request streams: a fixed batch at t = 0, Poisson arrivals, or a CSV trace."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slmsim.core import csvio
from slmsim.core.errors import Problem, SpecError
from slmsim.core.limits import MAX_CSV_FILE_BYTES, MAX_REQUESTS, MAX_TOKENS, read_text_limited

MAX_ARRIVAL_S = 1e6  # ~11.6 days of trace

# The arrival times draw from their own stream of `--seed`: a numpy SeedSequence child with
# this spawn key. The DES's own generator (acceptance and routing draws,
# simulator/serving.py) is `default_rng(seed)`, the root of the same seed; SeedSequence gives
# a root and a child with any spawn key independent streams (numpy's "Parallel random number
# generation"). The key lies above every child index `--samples` spawns (simulator/samples.py
# spawns children 0 .. N-1 of the seed for its runs), so no run's seed comes from this stream.
ARRIVAL_SPAWN_KEY = 2**32
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,3})?")


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    arrival_s: float
    prompt_tokens: int
    gen_tokens: int


def fixed_requests(n: int, *, prompt_tokens: int, gen_tokens: int) -> list[Request]:
    return [Request(i, 0.0, prompt_tokens, gen_tokens) for i in range(n)]


def arrival_rng(seed: int) -> np.random.Generator:
    """The generator a seed's arrival times draw from (ARRIVAL_SPAWN_KEY), apart from the DES's."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ARRIVAL_SPAWN_KEY,)))


def poisson_requests(n: int, *, rate_per_s: float, prompt_tokens: int, gen_tokens: int,
                     rng: np.random.Generator) -> list[Request]:
    """n requests whose inter-arrival times are exponential with mean 1 / rate (first at t = 0 + gap)."""
    gaps = rng.exponential(1.0 / rate_per_s, size=n)
    times = np.cumsum(gaps)
    return [Request(i, float(t), prompt_tokens, gen_tokens) for i, t in enumerate(times)]


COLUMNS = ("arrival_s", "prompt_tokens", "gen_tokens")


def requests_from_csv(path: Path) -> list[Request]:
    """A trace with columns arrival_s, prompt_tokens, gen_tokens; every bad cell reported at once."""
    shown = str(path)
    text = read_text_limited(path, shown=shown, limit=MAX_CSV_FILE_BYTES, what="request trace (CSV)",
                             hint="give a CSV with columns arrival_s,prompt_tokens,gen_tokens")
    reader = csv.DictReader(text.removeprefix("\ufeff").splitlines())  # a byte-order mark is not a column name
    header = csvio.header(reader, shown)
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise SpecError([Problem(file=shown, path="header", message=f"column(s) given twice: {', '.join(twice)}",
                                 value=header, hint="keep one column of each name")])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SpecError([Problem(file=shown, path="header", message=f"missing column(s): {', '.join(missing)}",
                                 value=reader.fieldnames, expected=f"columns {', '.join(COLUMNS)}",
                                 hint="the first line names the columns")])
    problems: list[Problem] = []
    out: list[Request] = []
    for i, row in enumerate(csvio.dict_rows(reader, shown)):
        line = i + 2
        if i >= MAX_REQUESTS:
            raise SpecError([Problem(file=shown, path=f"line {line}", message=f"more than {MAX_REQUESTS} requests",
                                     expected=f"at most {MAX_REQUESTS} rows", hint="see docs/input-limits.md")])
        if len(problems) >= 1000:
            break  # enough to show; SpecError prints the first 50
        try:
            cell = row["arrival_s"]
            arrival = float(cell.strip()) if isinstance(cell, str) and _DECIMAL.fullmatch(cell.strip()) else math.nan
            if not (0 <= arrival <= MAX_ARRIVAL_S):
                raise ValueError
        except (TypeError, ValueError, AttributeError):
            problems.append(Problem(file=shown, path=f"line {line}.arrival_s", message="not a finite time >= 0",
                                    value=row["arrival_s"],
                                    expected=f"seconds since the start, e.g. 0.25 (at most {MAX_ARRIVAL_S:g}; no nan or inf)"))
            continue
        vals = {}
        for col in ("prompt_tokens", "gen_tokens"):
            try:
                cell = row[col]
                vals[col] = int(cell) if isinstance(cell, str) and cell.strip().isdigit() else -1
                if not 1 <= vals[col] <= MAX_TOKENS:
                    raise ValueError
            except (TypeError, ValueError, AttributeError):
                vals.pop(col, None)
                problems.append(Problem(file=shown, path=f"line {line}.{col}",
                                        message=f"not a whole number from 1 to {MAX_TOKENS}",
                                        value=row[col], expected="a token count, e.g. 128"))
        if len(vals) == 2:
            out.append(Request(len(out), arrival, vals["prompt_tokens"], vals["gen_tokens"]))
    if problems:
        raise SpecError(problems)
    if not out:
        raise SpecError([Problem(file=shown, path="", message="the trace has no requests")])
    out.sort(key=lambda r: (r.arrival_s, r.id))
    return [Request(i, r.arrival_s, r.prompt_tokens, r.gen_tokens) for i, r in enumerate(out)]
