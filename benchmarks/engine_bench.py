"""Engine speed: wall time per design point, events per second, and how it grows.

    python benchmarks/engine_bench.py          (figures recorded in docs/performance.md)

Every figure is the minimum over repeats of one Python process (one core: simpy and the
analytic engine are single-threaded). A "design point" includes mapping (make_plan) and
the engine run; spec loading is excluded (done once per study).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import numpy as np

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.simulator.serving import ServingPolicy, run_serving
from slmsim.workloads.load import load_model
from slmsim.workloads.requests import poisson_requests
from slmsim.workloads.scenario import Precision, Scenario

A8 = Precision(weight_bits=4, activation_bits=8)


def best(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    out = None
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    print(f"machine: {machine()}")
    hw = load_hardware("edgecim").spec
    model = load_model("qwen3-4b")
    scen = Scenario(prompt_tokens=512, gen_tokens=256, batch=1, precision=A8)

    for engine in ("analytic", "des"):
        for _ in range(3):
            run(make_plan(hw, model, scen), engine=engine)
        t, res = best(lambda: run(make_plan(hw, model, scen), engine=engine), 20 if engine == "des" else 200)
        ev = res.extra.get("des_events")
        extra = f", {ev} events, {ev / t:,.0f} events/s" if ev else ""
        print(f"qwen3-4b on edgecim, 512 + 256 tokens, batch 1, {engine}: {t * 1e3:.2f} ms per design point{extra}")

    # batch 16 with Poisson arrivals: 64 requests, rate chosen to keep about 16 in flight
    plan = make_plan(hw, model, Scenario(prompt_tokens=512, gen_tokens=256, precision=A8))
    reqs = poisson_requests(64, rate_per_s=5.0, prompt_tokens=512, gen_tokens=256, rng=np.random.default_rng(0))
    t, res = best(lambda: run_serving(plan.mapper, reqs, ServingPolicy(max_batch=16)), 3)
    sv = res.extra["serving"]
    print(f"qwen3-4b on edgecim, 64 Poisson requests (5/s), max batch 16, des: {t * 1e3:.1f} ms wall, "
          f"{res.extra['des_events']} events ({res.extra['des_events'] / t:,.0f} events/s), "
          f"mean decode batch {sv['mean_decode_batch']:.1f}, {res.decode_steps} decode steps")

    print("\nDES wall time vs generated tokens (qwen3-4b, edgecim, prompt 512, batch 1):")
    for gen in (64, 128, 256, 512, 1024):
        s = Scenario(prompt_tokens=512, gen_tokens=gen, precision=A8)
        p = make_plan(hw, model, s)
        t, _ = best(lambda: run(p, engine="des"), 5)
        print(f"  gen {gen:5d}: {t * 1e3:7.2f} ms  ({t / gen * 1e6:6.1f} us per token)")

    print("\nDES wall time vs layers (qwen3-4b shape, layers scaled; 512 + 256, batch 1):")
    for layers in (9, 18, 36, 72):
        m = model.model_copy(update={"num_layers": layers})
        p = make_plan(hw, m, scen)
        t, _ = best(lambda: run(p, engine="des"), 5)
        print(f"  layers {layers:3d}: {t * 1e3:7.2f} ms")

    print("\nDES wall time vs batch (all requests at t=0, static batch; 512 + 256):")
    for batch in (1, 2, 4, 8, 16):
        s = Scenario(prompt_tokens=512, gen_tokens=256, batch=batch, precision=A8)
        p = make_plan(hw, model, s)
        t, _ = best(lambda: run(p, engine="des"), 5)
        print(f"  batch {batch:3d}: {t * 1e3:7.2f} ms")

    shared = load_hardware("tests/fixtures/hetero-shared-dram.yaml").spec
    p = make_plan(shared, model, scen)
    t, res = best(lambda: run(p, engine="des"), 5)
    print(f"\nop-level events (GPU prefill + CIM decode sharing one DRAM), 512 + 256: {t * 1e3:.1f} ms, "
          f"{res.extra['des_events']} events ({res.extra['des_events'] / t:,.0f} events/s)")


if __name__ == "__main__":
    main()
