"""Command-line flags checked before anything runs, and results checked before they print.

`flag_problems` holds every rule argparse cannot express (finite, positive, bounded), so
`simulate` stays a thin wiring module. `refuse_impossible` is the last gate of a run: a
NaN, an infinity or a negative time or energy is an internal error with a clear message
(exit 1), never a number on the screen or in `--json`.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from slmsim.core.errors import Problem
from slmsim.core.limits import MAX_BATCH, MAX_DES_TOKENS, MAX_REQUESTS, MAX_SEED, MAX_TOKENS

EXIT_INTERNAL = 1
MIN_RATE_PER_S = 1e-6  # one request in ~11.6 days: anything slower is a typo, and its energy a nonsense figure
MAX_RATE_PER_S = 1e6
MAX_TRACE_STEPS = 10_000

# flag -> (attribute, low, high) for whole numbers
_INTS: tuple[tuple[str, str, int, int], ...] = (
    ("--prompt", "prompt", 1, MAX_TOKENS),
    ("--gen", "gen", 1, MAX_TOKENS),
    ("--batch", "batch", 1, MAX_BATCH),
    ("--prefill-chunk", "prefill_chunk", 1, MAX_TOKENS),
    ("--seed", "seed", 0, MAX_SEED),
    ("--requests", "requests", 1, MAX_REQUESTS),
    ("--max-batch", "max_batch", 1, MAX_BATCH),
    ("--step-tokens", "step_tokens", 1, MAX_TOKENS),
    ("--concurrency", "concurrency", 1, MAX_REQUESTS),
    ("--trace-steps", "trace_steps", 0, MAX_TRACE_STEPS),
    ("--expert-cache", "expert_cache", 0, 4096),
    ("--draft-len", "draft_len", 1, 256),
    ("--window", "window", 1, 256),
    ("--initial-width", "initial_width", 1, 1024),
    ("--max-width", "max_width", 1, 1024),
    ("--batch-threshold", "batch_threshold", 1, MAX_BATCH),
)
# flag -> attribute, for numbers with a fraction (bounds beyond "finite" are the scenario's)
_FLOATS: tuple[tuple[str, str], ...] = (
    ("--rate", "rate"), ("--acceptance", "acceptance"), ("--tokens-per-step", "tokens_per_step"),
    ("--zipf-s", "zipf_s"), ("--reuse", "reuse"),
)




def des_work_problems(tokens: int, *, what: str, prefill_passes: int = 0, runs: int = 1) -> list[Problem]:
    """The discrete-event engine steps through every generated token and prefill pass: refuse
    runs of hours.

    `tokens` is the generated tokens the DES would step through (all requests of a stream),
    `prefill_passes` the passes of their prefills (one each unless prefill is chunked), `runs`
    how many times it does so (`--samples N`: the scenario's seed and N derived ones).
    """
    steps = (tokens + max(0, prefill_passes - 1)) * runs  # one prefill pass was always allowed for
    if steps <= MAX_DES_TOKENS:
        return []
    passes = f" and {prefill_passes} prefill passes" if prefill_passes > 1 else ""
    times = f" in each of {runs} runs (--samples {runs - 1} and the scenario's seed)" if runs > 1 else ""
    return [Problem(file="<command line>", path="--samples" if runs > 1 else "--engine",
                    message=f"{what}: {tokens} generated tokens{passes}{times} is too long for the discrete-event "
                            f"engine (it steps through each one; about {steps * 1e-4 / 60:.0f} min here)",
                    value=runs - 1 if runs > 1 else tokens,
                    expected=f"at most {MAX_DES_TOKENS} steps (generated tokens + prefill passes, times the runs) "
                             "in all",
                    hint="use --engine analytic (exact for one request), fewer --samples, or fewer or shorter "
                         "requests")]


def _problem(flag: str, message: str, value: Any, expected: str) -> Problem:
    return Problem(file="<command line>", path=flag, message=message, value=value, expected=expected,
                   hint=f"see `slmsim simulate --help` for {flag}")


def flag_problems(args: argparse.Namespace) -> list[Problem]:
    """Every bad flag value of `simulate`, at once (file "<command line>", path the flag)."""
    out: list[Problem] = []
    for flag, attr, low, high in _INTS:
        value = getattr(args, attr, None)
        if value is not None and not low <= value <= high:
            out.append(_problem(flag, f"out of range: {value}", value, f"a whole number from {low} to {high}"))
    for flag, attr in _FLOATS:
        value = getattr(args, attr, None)
        if value is not None and not math.isfinite(value):
            out.append(_problem(flag, f"{value} is not a finite number", value, "a finite number"))
    rate = getattr(args, "rate", None)
    if rate is not None and math.isfinite(rate) and not MIN_RATE_PER_S <= rate <= MAX_RATE_PER_S:
        out.append(_problem("--rate", f"rate {rate:g} requests/s is out of range", rate,
                            f"requests per second from {MIN_RATE_PER_S:g} to {MAX_RATE_PER_S:g}, e.g. --rate 2"))
    return out


_SECTIONS = ("precision", "decoding", "moe", "moe.routing", "moe.expert_cache")


def scenario_shape_problems(data: Any, file: str) -> list[Problem]:
    """Sections of a scenario that must be mappings before flags are merged into them."""
    if not isinstance(data, dict):
        from slmsim.core.yamlio import not_a_mapping

        return [not_a_mapping(data, file=file, expected="prompt_tokens:, gen_tokens:, decoding:, ...")]
    out: list[Problem] = []
    for dotted in _SECTIONS:
        node: Any = data
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None and dotted in ("moe", "moe.expert_cache"):
            continue  # optional sections: null means "none"
        present = _has(data, dotted)
        if present and not isinstance(node, dict):
            out.append(Problem(file=file, path=dotted, message=f"'{dotted}' must be a mapping",
                               value=node if not isinstance(node, (dict, list)) else type(node).__name__,
                               expected=f"{dotted.rsplit('.', 1)[-1]}: {{key: value, ...}}",
                               hint="see docs/spec-format.md for the scenario format"))
    return out


def _has(data: dict[str, Any], dotted: str) -> bool:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def refuse_impossible(out: dict[str, Any]) -> bool:
    """True (and a message on stderr) when a result holds a figure that cannot be right.

    A served stream in which no request completed has no first token: its mean TTFT is
    n/a (None), not the 0 s a sum over no requests would give.
    """
    from slmsim.simulator.result import impossible_figures

    serving = out.get("serving")
    if isinstance(serving, dict) and serving.get("completed") == 0:
        for key in ("ttft_s", "tpot_s", "decode_tokens_per_s"):
            out[key] = None

    bad = impossible_figures(out)
    if not bad:
        return False
    print("internal error: the simulation produced impossible figures, so none are printed:", file=sys.stderr)
    for line in bad:
        print(f"    {line}", file=sys.stderr)
    print("  this is a bug in slmsim, not in your input; please report it with the command line and the spec files",
          file=sys.stderr)
    return True
