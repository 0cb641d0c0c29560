"""Engine speed: wall time per design point, events per second, and how it grows.

    python benchmarks/engine_bench.py          (figures recorded in docs/performance.md)

Every figure is the minimum over repeats of one Python process (one core: simpy and the
analytic engine are single-threaded). A "design point" includes mapping (make_plan) and
the engine run; spec loading is excluded (done once per study). The machine is shared:
the load average is printed with the figures, and ratios within one run are what to
compare (`--quick` runs only the targets, `--analytic` only issue 18's analytic figures,
`--chunked` only the chunked-prefill figures, `--mixed` only the mixed-schedule figures).
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


CPU: list[float] = [0.0]  # CPU seconds of the last `best` (minimum over repeats)


def best(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Minimum wall time over repeats (and, in CPU[0], the minimum CPU time: on a shared,
    overloaded machine the process waits for a core, which CPU time does not count)."""
    out = None
    times = []
    cpu = []
    for _ in range(repeats):
        t = time.perf_counter()
        c = time.process_time()
        out = fn()
        cpu.append(time.process_time() - c)
        times.append(time.perf_counter() - t)
    CPU[0] = min(cpu)
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


def load() -> str:
    try:
        return open("/proc/loadavg").read().split(" ", 3)[:3].__str__()
    except OSError:
        return "unknown"


def targets() -> None:
    """The issue-13 targets: DES per design point (dense, MoE, speculative), 5,000 requests."""
    from slmsim.workloads.decoding import Speculative

    hw = load_hardware("edgecim").spec
    dense = load_model("qwen3-4b")
    scen = Scenario(prompt_tokens=512, gen_tokens=256, batch=1, precision=A8)
    moe_hw = load_hardware("elmoe3d").spec
    moe = load_model("qwen3-30b-a3b")
    moe_scen = Scenario.model_validate({"prompt_tokens": 512, "gen_tokens": 256, "batch": 1,
                                        "precision": {"weight_bits": 4, "activation_bits": 8},
                                        "moe": {"routing": {"model": "zipf", "s": 0.8},
                                                "expert_cache": {"tier": "hb", "experts_per_layer": 16}}})
    spec_scen = scen.model_copy(update={"decoding": Speculative(draft="qwen3-0.6b", draft_len=3, acceptance=0.7)})
    draft = load_model("qwen3-0.6b")
    moe_expected = moe_scen.model_copy(update={"moe": None})
    import yaml

    with open("examples/decoding/elmoe3d-elastic.yaml") as f:
        elastic = Scenario.model_validate(yaml.safe_load(f))
    elastic_long = elastic.model_copy(update={"prompt_tokens": 512, "gen_tokens": 256})
    cases = [
        ("dense: qwen3-4b on edgecim, 512 + 256, batch 1", 10.0,
         lambda mm: run(make_plan(hw, dense, scen), engine="des", memory_model=mm)),
        ("MoE: qwen3-30b-a3b on elmoe3d, expected routing (no sampling), 512 + 256, batch 1", 20.0,
         lambda mm: run(make_plan(moe_hw, moe, moe_expected), engine="des", memory_model=mm)),
        ("MoE: qwen3-30b-a3b on elmoe3d, zipf routing, 16-expert HB cache, 512 + 256, batch 1", 20.0,
         lambda mm: run(make_plan(moe_hw, moe, moe_scen), engine="des", memory_model=mm)),
        ("MoE elastic self-speculative: qwen3-30b-a3b on elmoe3d, examples/decoding/elmoe3d-elastic.yaml "
         "(128 + 128, batch 1)", 20.0,
         lambda mm: run(make_plan(moe_hw, moe, elastic), engine="des", memory_model=mm)),
        ("MoE elastic self-speculative, the same scenario at 512 + 256 (the design point of issue 18)", 20.0,
         lambda mm: run(make_plan(moe_hw, moe, elastic_long), engine="des", memory_model=mm)),
        ("speculative: qwen3-4b + qwen3-0.6b draft (3 tokens, a = 0.7) on edgecim, 512 + 256, batch 1", 20.0,
         lambda mm: run(make_plan(hw, dense, spec_scen, draft_model=draft), engine="des", memory_model=mm)),
    ]
    print(f"load average before: {load()}")
    analytic_targets(hw, dense, scen)
    for name, target, fn in cases:
        for mm in ("banked", "ideal"):
            for _ in range(2):
                fn(mm)
            t, res = best(lambda: fn(mm), 15)
            ms = res.extra["memory_system"]
            print(f"DES {mm:6s} {name}: {t * 1e3:6.2f} ms wall, {CPU[0] * 1e3:6.2f} ms CPU "
                  f"per design point (target <= {target:.0f} ms; {ms['op_level_simulations']} op-level step "
                  f"simulations, {res.extra['des_events']} events)")
    # 5,000 Poisson requests: qwen3-4b on edgecim, 128 + 64 tokens, continuous batching up to 32
    plan = make_plan(hw, dense, Scenario(prompt_tokens=128, gen_tokens=64, precision=A8))
    reqs = poisson_requests(5000, rate_per_s=100.0, prompt_tokens=128, gen_tokens=64, rng=np.random.default_rng(0))
    t, res = best(lambda: run_serving(plan.mapper, reqs, ServingPolicy(max_batch=32)), 3)
    sv = res.extra["serving"]
    print(f"5,000 Poisson requests (100/s; 128 + 64 tokens; continuous batching <= 32), qwen3-4b on edgecim, "
          f"banked DES: {t:.2f} s wall, {CPU[0]:.2f} s CPU (target <= 2 s), {res.extra['des_events']} events, "
          f"mean decode batch {sv['mean_decode_batch']:.1f}, makespan {sv['makespan_s']:.1f} s simulated")
    print(f"load average after: {load()}")


def analytic_targets(hw: object, model: object, scen: Scenario) -> None:
    """Issue 18 item 1: analytic design point (make_plan + engine) <= 0.2 ms, three ways, in
    one run: the same point again (what the memos of mapping.memo serve: a sweep revisiting a
    point, or this benchmark), a new accelerator every point (tiles x macros per tile, 64 x 2
    designs: only the matmul ops are mapped afresh, as in a DSE over the macro array), and
    every memo off (the cost of a design point that shares nothing)."""
    from slmsim.mapping import memo

    dev_name = hw.device_for("decode")
    dev = hw.devices[dev_name]
    designs = [hw.model_copy(update={"devices": {**hw.devices, dev_name: dev.model_copy(
        update={"tiles": t, "macros_per_tile": m})}}) for t in range(4, 68) for m in (8, 16)]
    fresh = iter(designs)
    cases = [
        ("same point again (memos warm)", lambda: run(make_plan(hw, model, scen), engine="analytic"), 300),
        ("a new accelerator every point", lambda: run(make_plan(next(fresh), model, scen), engine="analytic"),
         len(designs)),
    ]
    for name, fn, n in cases:
        fn() if "again" in name else None
        t, _ = best(fn, n)
        print(f"analytic, dense qwen3-4b on edgecim, 512 + 256, batch 1, {name}: {t * 1e3:.3f} ms wall, "
              f"{CPU[0] * 1e3:.3f} ms CPU per design point (target <= 0.2 ms)")
    with memo.disabled():
        t, _ = best(lambda: run(make_plan(hw, model, scen), engine="analytic"), 300)
    print(f"analytic, dense qwen3-4b on edgecim, 512 + 256, batch 1, every memo off: {t * 1e3:.3f} ms wall, "
          f"{CPU[0] * 1e3:.3f} ms CPU per design point (target <= 0.2 ms)")


def chunked_prefill() -> None:
    """What prefill passes cost the engines: qwen3-4b on edgecim, prompt 2048, gen 64, chunk
    none / 512 / 128 / 32 (1 / 4 / 16 / 64 passes). No target: the figure to watch is the DES
    cost per extra pass against its cost per decode step (one step each)."""
    hw, model = load_hardware("edgecim").spec, load_model("qwen3-4b")
    print(f"\nchunked prefill (qwen3-4b, edgecim, 2048 + 64, batch 1), load {load()}:")
    base = {}
    for chunk in (None, 512, 128, 32):
        s = Scenario(prompt_tokens=2048, gen_tokens=64, precision=A8, prefill_chunk_tokens=chunk)
        row = []
        for engine in ("analytic", "des"):
            t, _ = best(lambda: run(make_plan(hw, model, s), engine=engine), 9)
            cpu = CPU[0]
            base.setdefault(engine, cpu)
            row.append(f"{engine} {cpu * 1e3:7.2f} ms CPU ({cpu / base[engine]:4.2f}x)")
        passes = make_plan(hw, model, s).mapper.prefill_pass_count(2048, 1)
        print(f"  chunk {str(chunk):>4} ({passes:2d} passes): " + ", ".join(row))


def mixed_schedule() -> None:
    """What `--schedule mixed` costs the serving DES: llama-3.2-3b on agx-orin-64gb, 32 Poisson
    requests (1/s), 2048 + 128 tokens, prefill-first against mixed at budgets 2048 / 512 / 128.
    No target: a mixed step is a new step shape (its chunks and their offsets), mapped and
    simulated once per context bucket, where prefill-first reuses a handful of shapes."""
    from slmsim.simulator.serving import Schedule

    hw, model = load_hardware("agx-orin-64gb").spec, load_model("llama-3.2-3b")
    reqs = poisson_requests(32, rate_per_s=1.0, prompt_tokens=2048, gen_tokens=128, rng=np.random.default_rng(0))
    print(f"\nmixed schedule (llama-3.2-3b, agx-orin-64gb, 32 Poisson requests at 1/s, 2048 + 128), load {load()}:")
    base = None
    for budget in (None, 2048, 512, 128):
        policy = ServingPolicy() if budget is None else ServingPolicy(schedule=Schedule.MIXED, step_tokens=budget)
        # a new mapper each run: its step shapes are mapped afresh, as in a first run
        run_once = lambda: run_serving(make_plan(hw, model, Scenario(prompt_tokens=2048, gen_tokens=128)).mapper,  # noqa: E731
                                       reqs, policy)
        t, res = best(run_once, 5)
        cpu = CPU[0]
        base = base or cpu
        sv = res.extra["serving"]
        label = "prefill-first" if budget is None else f"mixed {budget:4d}"
        print(f"  {label:>14}: {cpu * 1e3:7.1f} ms CPU ({cpu / base:4.2f}x), {sv['mixed_steps']:4d} mixed steps, "
              f"{res.extra['memory_system']['op_level_simulations']:5d} op-level step simulations, "
              f"ITL p99 {sv['itl_s']['p99'] * 1e3:6.1f} ms")


def main() -> None:
    import sys

    print(f"machine: {machine()}")
    if "--chunked" in sys.argv:
        chunked_prefill()
        return
    if "--mixed" in sys.argv:
        mixed_schedule()
        return
    if "--analytic" in sys.argv:  # issue 18 item 1 only
        print(f"load average before: {load()}")
        analytic_targets(load_hardware("edgecim").spec, load_model("qwen3-4b"),
                         Scenario(prompt_tokens=512, gen_tokens=256, batch=1, precision=A8))
        print(f"load average after: {load()}")
        return
    targets()
    if "--quick" in sys.argv:
        return
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
