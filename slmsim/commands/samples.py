"""`simulate --engine des --samples N`: N DES runs with derived seeds, figures with intervals.

The stochastic figures (`decode_tokens_per_s`, `tokens_per_target_pass`,
`expert_cache_hit_rate`, `distinct_experts_per_step`) become `{mean, ci95: [lo, hi],
samples, values}` (null stays null where a figure does not apply). Every other number is the
mean over the N runs, nested breakdowns element by element; `sampling` says how the seeds
were derived and lists them. See `simulator.samples`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from slmsim.core.errors import Problem
from slmsim.simulator.samples import derived_seeds, half_width, t_interval

INTERVAL_KEYS = ("decode_tokens_per_s", "tokens_per_target_pass", "expert_cache_hit_rate",
                 "distinct_experts_per_step")


def samples_problems(args: argparse.Namespace) -> list[Problem]:
    if args.samples is None:
        return []
    problems = []
    if args.samples < 2:
        problems.append(Problem(file="<command line>", path="--samples", message="an interval needs at least 2 runs",
                                value=args.samples, expected="a whole number >= 2", hint="e.g. --samples 20"))
    if args.engine != "des" and not args.arrivals:
        problems.append(Problem(file="<command line>", path="--samples",
                                message="the analytic engine is deterministic (expected values): nothing to sample",
                                value=args.engine, expected="--engine des", hint="add --engine des"))
    return problems


def _mean_of(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, bool) or first is None:
        return first
    if isinstance(first, (int, float)):
        nums = [v for v in values if isinstance(v, (int, float))]
        return sum(nums) / len(nums) if len(nums) == len(values) else first
    if isinstance(first, dict):
        return {k: _mean_of([v.get(k) for v in values if isinstance(v, dict)]) for k in first}
    return first


def sampled_output(base: dict, run_one: Callable[[int], dict], *, seed: int, n: int) -> dict:
    """`base` (the run at the scenario seed) with numbers averaged over N derived-seed runs."""
    seeds = derived_seeds(seed, n)
    runs = [run_one(s) for s in seeds]
    out = dict(base)
    for key, value in base.items():
        if key in ("hardware", "model", "scenario", "engine", "warnings", "trace"):
            continue
        out[key] = _mean_of([r.get(key) for r in runs])
    for key in INTERVAL_KEYS:
        values = [r.get(key) for r in runs]
        out[key] = None if any(v is None for v in values) else t_interval(values)
    out["sampling"] = {"runs": n, "seed": seed, "seeds": seeds,
                       "method": "seeds: numpy SeedSequence(seed).spawn(runs), first 32-bit state word each; "
                                 "ci95: Student-t over the runs; other numbers: means over the runs"}
    return out


def table_view(d: dict) -> tuple[dict, list[str]]:
    """A copy of `d` with interval figures replaced by their means, and the interval lines."""
    view = dict(d)
    lines = ["", f"  over {d['sampling']['runs']} DES runs (mean +- 95% half-width, Student-t):"]
    labels = {"decode_tokens_per_s": "decode tokens/s", "tokens_per_target_pass": "tokens per target pass",
              "expert_cache_hit_rate": "expert cache hit rate", "distinct_experts_per_step": "distinct experts/step"}
    for key in INTERVAL_KEYS:
        iv = d.get(key)
        if isinstance(iv, dict):
            view[key] = iv["mean"]
            lines.append(f"    {labels[key]:<24} {iv['mean']:.4g} +- {half_width(iv):.2g}")
    return view, lines
