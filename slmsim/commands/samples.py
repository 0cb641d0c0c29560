"""`simulate --engine des --samples N`: N DES runs with derived seeds, figures with intervals.

The stochastic figures (`decode_tokens_per_s`, `tokens_per_target_pass`,
`expert_cache_hit_rate`, `distinct_experts_per_step`) become `{mean, ci95: [lo, hi],
samples, values}` (null stays null where a figure does not apply). A request stream
(`--arrivals`, whose arrival times the seed draws) adds `serving_intervals`: the same for its
mean and p99 TTFT, mean TPOT, p99 inter-token gap, mean end-to-end latency and throughput.
Every other number is the mean over the N runs (a count equal in every run keeps its value),
nested breakdowns element by element; a figure the runs do not produce (the version) is the
base run's; `sampling` says how the seeds were derived and lists them. See `simulator.samples`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from slmsim.core.errors import Problem
from slmsim.simulator.samples import derived_seeds, half_width, t_interval

INTERVAL_KEYS = ("decode_tokens_per_s", "tokens_per_target_pass", "expert_cache_hit_rate",
                 "distinct_experts_per_step")
# the range each figure cannot leave, which its interval is cut to (simulator.samples): every
# figure here is >= 0, a hit rate <= 1
NONNEGATIVE = (0.0, None)
BOUNDS = {"expert_cache_hit_rate": (0.0, 1.0)}
# (serving key, statistic or None for a plain number) -> label
SERVING_INTERVALS = ((("ttft_s", "mean"), "TTFT mean"), (("ttft_s", "p99"), "TTFT p99"),
                     (("tpot_s", "mean"), "TPOT mean"), (("itl_s", "p99"), "inter-token gap p99"),
                     (("e2e_s", "mean"), "end to end mean"), (("throughput_tokens_per_s", None), "throughput tokens/s"))


def samples_problems(args: argparse.Namespace) -> list[Problem]:
    if args.samples is None:
        return []
    problems = []
    if args.samples < 2:
        problems.append(Problem(file="<command line>", path="--samples", message="an interval needs at least 2 runs",
                                value=args.samples, expected="a whole number >= 2", hint="e.g. --samples 20"))
    from slmsim.core.limits import MAX_SAMPLES

    if args.samples > MAX_SAMPLES:
        problems.append(Problem(file="<command line>", path="--samples", message="out of range", value=args.samples,
                                expected=f"a whole number from 2 to {MAX_SAMPLES:,}",
                                hint="20-100 runs give a 95% interval; see docs/input-limits.md"))
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
        if all(v == first for v in values):
            return first  # the same in every run (a count stays a whole number)
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
        if key in ("hardware", "model", "scenario", "engine", "warnings", "trace") or key not in runs[0]:
            continue
        out[key] = _mean_of([r.get(key) for r in runs])
    for key in INTERVAL_KEYS:
        values = [r.get(key) for r in runs]
        out[key] = None if any(v is None for v in values) else t_interval(values, bounds=BOUNDS.get(key, NONNEGATIVE))
    if all(isinstance(r.get("serving"), dict) for r in runs):
        ivs = {}
        for (key, stat), label in SERVING_INTERVALS:
            values = [r["serving"].get(key) if stat is None else (r["serving"].get(key) or {}).get(stat) for r in runs]
            if all(isinstance(v, (int, float)) for v in values):
                ivs[f"{key}.{stat}" if stat else key] = {**t_interval(values, bounds=NONNEGATIVE), "label": label}
        out["serving_intervals"] = ivs
    out["sampling"] = {"runs": n, "seed": seed, "seeds": seeds,
                       "method": "seeds: numpy SeedSequence(seed).spawn(runs), first 32-bit state word each; "
                                 "ci95: Student-t over the runs, cut to the figure's range where it leaves it "
                                 "(clipped: true); other numbers: means over the runs"}
    return out


def table_view(d: dict) -> tuple[dict, list[str]]:
    """A copy of `d` with interval figures replaced by their means, and the interval lines."""
    view = dict(d)
    lines = ["", f"  over {d['sampling']['runs']} DES runs (mean +- 95% half-width, Student-t; an interval cut at "
             "the figure's range: its ends):"]
    labels = {"decode_tokens_per_s": "decode tokens/s", "tokens_per_target_pass": "tokens per target pass",
              "expert_cache_hit_rate": "expert cache hit rate", "distinct_experts_per_step": "distinct experts/step"}
    for key in INTERVAL_KEYS:
        iv = d.get(key)
        if isinstance(iv, dict):
            view[key] = iv["mean"]
            lines.append(f"    {labels[key]:<24} {_spread(iv)}")
    for key, iv in (d.get("serving_intervals") or {}).items():
        unit = "" if key == "throughput_tokens_per_s" else " s"
        lines.append(f"    {iv['label']:<24} {_spread(iv, unit)}")
    return view, lines


def _spread(iv: dict, unit: str = "") -> str:
    """mean +- half-width, or mean (lo to hi) for an interval cut at its figure's range."""
    if iv.get("clipped"):
        lo, hi = iv["ci95"]
        return f"{iv['mean']:.4g}{unit} (95%: {lo:.4g} to {hi:.4g})"
    return f"{iv['mean']:.4g} +- {half_width(iv):.2g}{unit}"
