"""ELMoE-3D-style study: naive MoE serving vs elastic self-speculative decoding, batch 1-16.

    python examples/decoding/elmoe3d_study.py [--model olmoe-1b-7b] [--engine analytic|des]

Both arms run on the elmoe3d preset with the scenarios next to this file (assumptions are
listed there); the naive arm reads every expert from LPDDR, the elastic arm keeps MSB
slices (and hot experts) in the hybrid-bonded tier. Prints speedup and energy gain.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="olmoe-1b-7b")
    ap.add_argument("--engine", default="analytic", choices=["analytic", "des"])
    args = ap.parse_args()
    hw = load_hardware("elmoe3d").spec
    model = load_model(args.model)
    base = {name: yaml.safe_load((HERE / f"elmoe3d-{name}.yaml").read_text()) for name in ("naive", "elastic")}
    print(f"{args.model} on elmoe3d ({args.engine}); tokens/s and tokens/J per arm")
    print(f"{'batch':>5} {'naive tok/s':>12} {'elastic tok/s':>14} {'speedup':>8} {'naive tok/J':>12} "
          f"{'elastic tok/J':>14} {'energy gain':>12} {'E':>5} {'hit':>6}")
    speedups, gains = [], []
    for batch in (1, 2, 4, 8, 16):
        res = {}
        for arm, data in base.items():
            scen = Scenario.model_validate({**data, "batch": batch})
            res[arm] = run(make_plan(hw, model, scen), engine=args.engine)
        n, e = res["naive"], res["elastic"]
        sp = e.decode_tokens_per_s / n.decode_tokens_per_s
        eg = e.decode_tokens_per_j / n.decode_tokens_per_j
        speedups.append(sp)
        gains.append(eg)
        hit = e.extra.get("expert_cache_hit_rate")
        print(f"{batch:>5} {n.decode_tokens_per_s:>12.1f} {e.decode_tokens_per_s:>14.1f} {sp:>7.2f}x "
              f"{n.decode_tokens_per_j:>12.2f} {e.decode_tokens_per_j:>14.2f} {eg:>11.2f}x "
              f"{e.extra['tokens_per_target_pass']:>5.2f} {hit if hit is None else round(hit, 3)!s:>6}")
    print(f"mean speedup {sum(speedups) / len(speedups):.2f}x, mean energy gain {sum(gains) / len(gains):.2f}x")


if __name__ == "__main__":
    main()
