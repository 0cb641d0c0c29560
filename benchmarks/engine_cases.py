"""The three banked-versus-ideal cases of docs/engines.md, printed with their figures.

    python benchmarks/engine_cases.py

For each case: TPOT and energy from the analytic engine and from the DES with the ideal
and the banked memory model (whole runs; case 2, where the DES samples, also as the mean and
95% interval over seeds 0-19), then one decode step at its mean context
simulated op by op with parts of the banked model switched off, to say where the
difference comes from. Deterministic: no timing, no randomness beyond the seeded DES.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import yaml

from slmsim.hw_models.load import hardware_with_edits, load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.simulator.memory_system import MemorySystem
from slmsim.simulator.oplevel import simulate_step
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario


def seeded(plan: object, label: str, seeds: int) -> None:
    """Mean +- Student-t 95% half-width over DES seeds 0..seeds-1 (ideal and banked on the same seed)."""
    from scipy import stats

    rows = []
    for seed in range(seeds):
        i = run(plan, engine="des", memory_model="ideal", seed=seed)
        b = run(plan, engine="des", memory_model="banked", seed=seed)
        rows.append((i.tpot_s * 1e3, b.tpot_s * 1e3, b.tpot_s / i.tpot_s, i.extra["draft_time_s"] * 1e3,
                     b.extra["draft_time_s"] * 1e3, b.extra["draft_time_s"] / i.extra["draft_time_s"],
                     b.energy_j / i.energy_j, b.extra["expert_cache_hit_rate"]))
    a = np.array(rows)
    half = stats.t.ppf(0.975, seeds - 1) * a.std(axis=0, ddof=1) / np.sqrt(seeds)
    names = ("TPOT ideal (ms)", "TPOT banked (ms)", "banked / ideal", "draft ideal (ms)", "draft banked (ms)",
             "draft banked / ideal", "energy banked / ideal", "cache hit rate")
    print(f"    {label}, DES seeds 0-{seeds - 1}: " + "; ".join(
        f"{n} {m:.4f} +- {h:.4f}" for n, m, h in zip(names, a.mean(axis=0), half)))


def whole_runs(plan: object, label: str) -> None:
    a = run(plan, engine="analytic")
    i = run(plan, engine="des", memory_model="ideal")
    b = run(plan, engine="des", memory_model="banked")
    print(f"  {label}")
    print(f"    TPOT   analytic {a.tpot_s * 1e3:8.4f} ms | DES ideal {i.tpot_s * 1e3:8.4f} ms | "
          f"DES banked {b.tpot_s * 1e3:8.4f} ms  (banked / ideal {b.tpot_s / i.tpot_s:.4f})")
    print(f"    TTFT   analytic {a.ttft_s * 1e3:8.3f} ms | DES ideal {i.ttft_s * 1e3:8.3f} ms | "
          f"DES banked {b.ttft_s * 1e3:8.3f} ms  (banked / ideal {b.ttft_s / i.ttft_s:.4f})")
    print(f"    energy analytic {a.energy_j:8.4f} J  | DES ideal {i.energy_j:8.4f} J  | "
          f"DES banked {b.energy_j:8.4f} J   (banked / ideal {b.energy_j / i.energy_j:.4f})")
    for tier, d in b.extra["memory_system"]["tiers"].items():
        if "sequential_fraction_of_peak" in d:
            print(f"    tier {tier}: {d['channels']} channels x {d['banks_per_channel']} banks; a sequential stream "
                  f"reaches {d['sequential_fraction_of_peak']:.3f} of peak; refresh {d['refresh_time_fraction']:.3f} "
                  f"of the time")


def one_step(hw: object, step: object, ctx: float, label: str) -> None:
    ideal = MemorySystem.from_hardware(hw, model="ideal")
    banked = MemorySystem.from_hardware(hw, model="banked")
    variants = {
        "ideal": ideal,
        "banked": banked,
        "banked, no prefetch": dataclasses.replace(banked, prefetch_devices=frozenset()),
        "banked, no drain": dataclasses.replace(banked, drain=False),
        "banked, no prefetch, no drain": dataclasses.replace(banked, prefetch_devices=frozenset(), drain=False),
    }
    base = simulate_step(step, ctx, ideal)
    print(f"  one {label} step at context {ctx:.0f}, op level:")
    for name, mem in variants.items():
        r = simulate_step(step, ctx, mem)
        worst = sorted(((r.class_time_s[c] - base.class_time_s.get(c, 0.0), c) for c in r.class_time_s),
                       reverse=True)[:3]
        classes = ", ".join(f"{c} {d * 1e6:+.1f} us" for d, c in worst if abs(d) > 1e-9)
        print(f"    {name:30s} {r.duration_s * 1e3:9.4f} ms ({r.duration_s / base.duration_s:.4f} x ideal)"
              f"{'; most changed: ' + classes if classes else ''}")


SEEDS = 20


def main() -> None:
    print("1. edgecim, weight streaming from LPDDR5X (W4A8, 512 + 256, batch 1)")
    hw = load_hardware("edgecim").spec
    for model in ("qwen3-4b", "qwen3-0.6b"):
        scen = Scenario.model_validate({"prompt_tokens": 512, "gen_tokens": 256,
                                        "precision": {"weight_bits": 4, "activation_bits": 8}})
        plan = make_plan(hw, load_model(model), scen)
        whole_runs(plan, model)
        one_step(hw, plan.decode, 512 + 128, f"{model} decode")

    print("\n2. elmoe3d, MSB slices in hybrid-bonded DRAM, LSB slices in LPDDR (examples/decoding/elmoe3d-elastic.yaml)")
    data = yaml.safe_load(open("examples/decoding/elmoe3d-elastic.yaml"))
    scen = Scenario.model_validate(data)
    for banks in (1, 4):  # 4: the default
        hw = hardware_with_edits("elmoe3d", {"memories.hb.timing.banks_per_channel": banks})
        plan = make_plan(hw, load_model("olmoe-1b-7b"), scen)
        whole_runs(plan, f"olmoe-1b-7b, hybrid-bonded channels of {banks} bank(s)")
        draft = run(plan, engine="des", memory_model="banked").extra["draft_time_s"]
        draft_i = run(plan, engine="des", memory_model="ideal").extra["draft_time_s"]
        print(f"    draft time: DES ideal {draft_i * 1e3:.2f} ms, DES banked {draft * 1e3:.2f} ms "
              f"({draft / draft_i:.3f} x)")
        seeded(plan, "sampled (acceptance, routing, caches)", SEEDS)
        one_step(hw, plan.mapper.self_draft(1), 128 + 64, "self-draft (MSB only, hybrid-bonded)")

    print("\n3. orin-nano decode from LPDDR5 (W4A16, batch 1)")
    hw = load_hardware("orin-nano").spec
    for model, prompt in (("qwen3-0.6b", 128), ("llama-3.2-1b", 4096)):
        plan = make_plan(hw, load_model(model), Scenario(prompt_tokens=prompt, gen_tokens=128))
        whole_runs(plan, f"{model}, {prompt} + 128")
        one_step(hw, plan.decode, prompt + 64, f"{model} decode")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
