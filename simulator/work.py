"""The work a run did: arithmetic ops and bytes per memory tier, prefill and per decode token.

Reported as `work` in `simulate --json`:
`{prefill: {flops, bytes_by_tier}, decode_per_token: {flops, bytes_by_tier, tokens}}`.
`prefill` totals every prefill step of the run (one step of `batch` prompts in a plain
`simulate`, the draft model's prefill included); `decode_per_token` totals every decode-phase
step (target passes and draft steps) and divides by the tokens those steps produced. Bytes
are what the mapped ops move per tier (weights, KV reads and writes, cache fills, the NoC of
a CIM device); `flops` counts matmul FLOPs (2 per MAC), attention and vector-unit ops.
"""

from __future__ import annotations

from collections.abc import Iterable

from slmsim.mapping.cost import MappedStep

Run = tuple[MappedStep, float, float]  # (step, sum of the contexts of its runs, number of runs)


def step_work(step: MappedStep, ctx_sum: float, runs: float) -> tuple[float, dict[str, float]]:
    """FLOPs and bytes per tier of `runs` runs of `step` whose contexts sum to `ctx_sum`."""
    return float(step.flops_total(ctx_sum, runs)), step.tier_bytes_total(ctx_sum, runs)


def work_summary(runs: Iterable[Run], *, decode_tokens: float) -> dict:
    totals: dict[str, dict] = {"prefill": {"flops": 0.0, "bytes_by_tier": {}},
                               "decode": {"flops": 0.0, "bytes_by_tier": {}}}
    for step, ctx_sum, n in runs:
        if n <= 0:
            continue
        flops, tiers = step_work(step, ctx_sum, n)
        part = totals["prefill" if step.phase == "prefill" else "decode"]
        part["flops"] += flops
        for tier, b in tiers.items():
            part["bytes_by_tier"][tier] = part["bytes_by_tier"].get(tier, 0.0) + b
    dec = totals["decode"]
    per = 1.0 / decode_tokens if decode_tokens else 0.0
    return {
        "prefill": {"flops": totals["prefill"]["flops"], "bytes_by_tier": dict(sorted(totals["prefill"]["bytes_by_tier"].items()))},
        "decode_per_token": {"flops": dec["flops"] * per if decode_tokens else None,
                             "bytes_by_tier": {t: b * per for t, b in sorted(dec["bytes_by_tier"].items())}
                             if decode_tokens else {},
                             "tokens": decode_tokens},
    }
