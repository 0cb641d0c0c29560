"""MoE routing and expert caches of the DES: wall time per decode step, step by step vs blocks.

    python benchmarks/routing_bench.py          (figures recorded in docs/performance.md)

qwen3-30b-a3b's routing shape (48 MoE layers, 128 experts, top-8), Zipf 0.8 popularity, a
16-expert LRU cache per layer (the MoE case of `engine_bench.py`), batch-1 decode steps;
CPU time, minimum over 5 repeats of 256 steps in one process (ratios within the run are
what to compare: the machine is shared).

- step by step: what the DES did before blocks (per-token Gumbel top-k, `CacheState` per step);
- sampler only, blocks of tokens (`RoutingSampler(block_tokens=...)`, no cache);
- `MoeRouter`: routes drawn for blocks of steps (successive sampling) and the LRU caches
  simulated over each block (`LruBlockCache`), what the DES does now.
"""

from __future__ import annotations

import time

import numpy as np

from slmsim.workloads.load import load_model
from slmsim.workloads.routing import CacheState, ExpertCache, MoeRouter, RoutingSampler, Zipf, touched_mask

STEPS = 256
ROUTING = Zipf(s=0.8)
CACHE = ExpertCache(tier="hb", experts_per_layer=16)


def best(fn) -> float:
    times = []
    for _ in range(5):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times) / STEPS * 1e6


def main() -> None:
    print(f"load average (1, 5, 15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}")
    moe = load_model("qwen3-30b-a3b")
    assert moe.moe is not None
    e, k, layers = moe.moe.num_experts, moe.moe.top_k, moe.moe_layers()

    def step_by_step() -> None:
        smp = RoutingSampler(ROUTING, num_experts=e, top_k=k, layers=layers, rng=np.random.default_rng(0))
        cache = CacheState(CACHE, layers=layers, num_experts=e)
        for _ in range(STEPS):
            cache.step(touched_mask(smp.step([0]), e))

    def sampler_only(block: int):
        def go() -> None:
            smp = RoutingSampler(ROUTING, num_experts=e, top_k=k, layers=layers, rng=np.random.default_rng(0),
                                 block_tokens=block)
            for _ in range(STEPS):
                smp.step([0])
        return go

    def router() -> None:
        r = MoeRouter(ROUTING, num_experts=e, top_k=k, layers=layers, rng=np.random.default_rng(0), cache=CACHE)
        for i in range(STEPS):
            r.step([0], 1, STEPS - i)

    base = best(step_by_step)
    print(f"step by step (per-token Gumbel top-k + CacheState): {base:7.1f} us per decode step")
    for block in (1, 32, 256):
        t = best(sampler_only(block))
        print(f"sampler only, block_tokens {block:4d}:                  {t:7.1f} us per decode step")
    t = best(router)
    print(f"MoeRouter (blocks of steps + LruBlockCache):        {t:7.1f} us per decode step "
          f"({base / t:.1f}x faster than step by step; x {STEPS} steps = {t * STEPS / 1e3:.1f} ms of a design point)")


if __name__ == "__main__":
    main()
