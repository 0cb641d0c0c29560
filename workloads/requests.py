"""Request streams: a fixed batch at t = 0, Poisson arrivals, or a CSV trace."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slmsim.core.errors import Problem, SpecError


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    arrival_s: float
    prompt_tokens: int
    gen_tokens: int


def fixed_requests(n: int, *, prompt_tokens: int, gen_tokens: int) -> list[Request]:
    return [Request(i, 0.0, prompt_tokens, gen_tokens) for i in range(n)]


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
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(file=shown, path="", message=f"cannot read request trace: {exc}",
                                 hint="give a CSV with columns arrival_s,prompt_tokens,gen_tokens")]) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SpecError([Problem(file=shown, path="header", message=f"missing column(s): {', '.join(missing)}",
                                 value=reader.fieldnames, expected=f"columns {', '.join(COLUMNS)}",
                                 hint="the first line names the columns")])
    problems: list[Problem] = []
    out: list[Request] = []
    for i, row in enumerate(reader):
        line = i + 2
        try:
            arrival = float(row["arrival_s"])
            if arrival < 0:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(Problem(file=shown, path=f"line {line}.arrival_s", message="not a time >= 0",
                                    value=row["arrival_s"], expected="seconds since the start, e.g. 0.25"))
            continue
        vals = {}
        for col in ("prompt_tokens", "gen_tokens"):
            try:
                vals[col] = int(row[col])
                if vals[col] < 1:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(Problem(file=shown, path=f"line {line}.{col}", message="not a whole number >= 1",
                                        value=row[col], expected="a token count, e.g. 128"))
        if len(vals) == 2:
            out.append(Request(len(out), arrival, vals["prompt_tokens"], vals["gen_tokens"]))
    if problems:
        raise SpecError(problems)
    if not out:
        raise SpecError([Problem(file=shown, path="", message="the trace has no requests")])
    out.sort(key=lambda r: (r.arrival_s, r.id))
    return [Request(i, r.arrival_s, r.prompt_tokens, r.gen_tokens) for i, r in enumerate(out)]
