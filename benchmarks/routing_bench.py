"""MoE routing sampler: wall time per decode step, per-token draws vs blocks of steps.

    python benchmarks/routing_bench.py          (figures recorded in docs/performance.md)

qwen3-30b-a3b's routing shape (48 MoE layers, 128 experts, top-8), Zipf 1.0 popularity,
batch 1 decode steps; minimum over 5 repeats of 1,024 steps in one process.
"""

from __future__ import annotations

import time

import numpy as np

from slmsim.workloads.load import load_model
from slmsim.workloads.routing import RoutingSampler, Zipf


def main() -> None:
    print(f"load average (1, 5, 15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}")
    moe = load_model("qwen3-30b-a3b")
    assert moe.moe is not None
    layers = moe.num_layers
    steps = 1024
    base = None
    for block in (1, 2, 8, 32, 128):
        best = float("inf")
        for _ in range(5):
            smp = RoutingSampler(Zipf(s=1.0), num_experts=moe.moe.num_experts, top_k=moe.moe.top_k, layers=layers,
                                 rng=np.random.default_rng(0), block_tokens=block)
            t = time.perf_counter()
            for _ in range(steps):
                smp.step([0])
            best = min(best, time.perf_counter() - t)
        per = best / steps * 1e6
        base = base or per
        print(f"block_tokens {block:4d}: {per:7.1f} us per decode step ({base / per:4.1f}x per-token)")


if __name__ == "__main__":
    main()
