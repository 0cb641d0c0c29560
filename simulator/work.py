"""The work a run did: arithmetic ops and bytes per memory tier, prefill and per decode token.

Reported as `work` in `simulate --json`:
`{prefill: {flops, bytes_by_tier}, decode_per_token: {flops, bytes_by_tier, tokens}}`.
`prefill` totals every prefill step of the run (one step of `batch` prompts in a plain
`simulate`, the draft model's prefill included); `decode_per_token` totals every decode-phase
step (target passes and draft steps) and divides by the tokens those steps produced. Bytes
are what the mapped ops move per tier (weights, KV reads and writes, cache fills, the NoC of
a CIM device); `flops` counts matmul FLOPs (2 per MAC), attention and vector-unit ops.
Mixed steps of the serving DES (`--schedule mixed`: decodes and prefill chunks in one step)
are neither, and are totalled apart as `mixed: {flops, bytes_by_tier, steps, decode_tokens,
prefill_tokens}` when there are any (`decode_per_token` then counts the decode-only steps and
their tokens).
"""

from __future__ import annotations

from collections.abc import Iterable

from slmsim.mapping.cost import CtxSum, MappedStep

Run = tuple[MappedStep, CtxSum, float]  # (step, the contexts of its runs summed, number of runs)


def step_work(step: MappedStep, ctx_sum: CtxSum, runs: float) -> tuple[float, dict[str, float]]:
    """FLOPs and bytes per tier of `runs` runs of `step` whose contexts sum to `ctx_sum`."""
    return float(step.flops_total(ctx_sum, runs)), step.tier_bytes_total(ctx_sum, runs)


def work_summary(runs: Iterable[Run], *, decode_tokens: float, mixed_tokens: tuple[float, float] = (0.0, 0.0)) -> dict:
    """`decode_tokens`: tokens of the decode-only steps; `mixed_tokens`: (decode, prefill) tokens
    the mixed steps carried."""
    totals: dict[str, dict] = {"prefill": {"flops": 0.0, "bytes_by_tier": {}},
                               "decode": {"flops": 0.0, "bytes_by_tier": {}},
                               "mixed": {"flops": 0.0, "bytes_by_tier": {}, "steps": 0.0}}
    for step, ctx_sum, n in runs:
        if n <= 0:
            continue
        flops, tiers = step_work(step, ctx_sum, n)
        part = totals[step.phase if step.phase in ("prefill", "mixed") else "decode"]
        part["flops"] += flops
        if step.phase == "mixed":
            part["steps"] += n
        for tier, b in tiers.items():
            part["bytes_by_tier"][tier] = part["bytes_by_tier"].get(tier, 0.0) + b
    dec = totals["decode"]
    per = 1.0 / decode_tokens if decode_tokens else 0.0
    mixed = totals["mixed"]
    extra = {"mixed": {"flops": mixed["flops"], "bytes_by_tier": dict(sorted(mixed["bytes_by_tier"].items())),
                       "steps": mixed["steps"], "decode_tokens": mixed_tokens[0],
                       "prefill_tokens": mixed_tokens[1]}} if mixed["steps"] else {}
    return {
        "prefill": {"flops": totals["prefill"]["flops"], "bytes_by_tier": dict(sorted(totals["prefill"]["bytes_by_tier"].items()))},
        "decode_per_token": {"flops": dec["flops"] * per if decode_tokens else None,
                             "bytes_by_tier": {t: b * per for t, b in sorted(dec["bytes_by_tier"].items())}
                             if decode_tokens else {},
                             "tokens": decode_tokens},
        **extra,
    }
