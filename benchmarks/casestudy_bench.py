"""`slmsim case-study elmoe3d`, stage by stage: wall and CPU time beside the target.

    python benchmarks/casestudy_bench.py

Target (issue 14): the whole study in a few minutes at most (the claims command, which
includes it, under 10 minutes from a fresh clone). Stages as the CLI runs them: the 8 GB and
4 GB analytic runs, the DES of the xPU and ELMoE-3D arms, the sensitivity variants and the
required-value bisection. One process; the machine is shared, so compare stages as ratios.
"""

from __future__ import annotations

import time

from slmsim.casestudies import elmoe3d as el

TARGET_S = 180.0


def main() -> None:
    print(f"load average (1, 5, 15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}")
    cache: dict = {}
    stages = [
        ("analytic, 8 GB, all arms", lambda: el.run(el.HEADLINE)),
        ("analytic, 4 GB", lambda: el.run("4gb", baselines=False)),
        ("DES, 8 GB, xPU + ELMoE-3D", lambda: el.run(el.HEADLINE, engine="des", baselines=False)),
        (f"sensitivity ({len(el.VARIANTS)} variants)", lambda: el.sensitivity(cache=cache)),
        (f"required ({len(el.KNOBS)} unknowns)", lambda: el.required()),
    ]
    wall = cpu = 0.0
    for name, f in stages:
        w0, c0 = time.perf_counter(), time.process_time()
        f()
        dw, dc = time.perf_counter() - w0, time.process_time() - c0
        wall, cpu = wall + dw, cpu + dc
        print(f"{name:40s} wall {dw:7.2f} s  cpu {dc:7.2f} s")
    print(f"{'total':40s} wall {wall:7.2f} s  cpu {cpu:7.2f} s   (target <= {TARGET_S:.0f} s wall)")


if __name__ == "__main__":
    main()
