"""Repeated stochastic runs: derived seeds and Student-t intervals.

The DES samples acceptance, routing and cache behaviour, so one seed is one draw. N runs use
seeds derived from the scenario seed with numpy's `SeedSequence(seed).spawn(N)` (each
child's first 32-bit state word, so any sample can be rerun with `--seed`). A figure is
reported as `{mean, ci95: [lo, hi], samples, values}`: the mean over the N runs and its 95%
Student-t confidence interval, mean +- t_{0.975, N-1} s / sqrt(N) (s: the sample standard
deviation). The interval is for the mean of the per-run figure (each run's tokens per
target pass, tokens/s, ...), not for a single run.

A figure that cannot leave a range (every one reported here is >= 0; a hit rate is <= 1) has
its interval cut to that range: the true mean always lies inside the range, so the cut
interval covers it whenever the symmetric one does (the same 95% coverage). Few runs of a
widely spread figure need this: three runs of a sparse Poisson stream's decode tokens/s
(t_{0.975, 2} = 4.30) gave a symmetric interval reaching -1.5 tokens/s. A cut interval is
marked `clipped: true` and the table prints its ends instead of a half-width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def derived_seeds(seed: int, n: int) -> list[int]:
    """N independent seeds from one: SeedSequence(seed).spawn(n), first state word of each."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(n)]


def t_interval(values: Sequence[float], confidence: float = 0.95, *,
               bounds: tuple[float | None, float | None] = (None, None)) -> dict:
    """{mean, ci95, samples, values}; ci95 is None with fewer than two values.

    `bounds` (low, high; None: open) is the range the figure cannot leave: ci95 is cut to it,
    with `clipped: true` when it was (the module's docstring says why coverage is kept)."""
    a = np.asarray(values, dtype=float)
    n = len(a)
    mean = float(a.mean()) if n else math.nan
    ci = None
    if n >= 2:
        from scipy.stats import t  # lazy: scipy.stats takes a while to import

        half = float(t.ppf(0.5 + confidence / 2.0, n - 1) * a.std(ddof=1) / math.sqrt(n))
        ci = [mean - half, mean + half]
    out = {"mean": mean, "ci95": ci, "samples": n, "values": [float(v) for v in a]}
    low, high = bounds
    if ci is not None and ((low is not None and ci[0] < low) or (high is not None and ci[1] > high)):
        out["ci95"] = [ci[0] if low is None else max(ci[0], low), ci[1] if high is None else min(ci[1], high)]
        out["clipped"] = True
    return out


def half_width(interval: dict) -> float:
    lo, hi = interval["ci95"]
    return (hi - lo) / 2.0
