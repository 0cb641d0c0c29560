"""Start-up: wall time of `slmsim simulate --hw orin-nano --model llama-3.2-1b --json`.

    python benchmarks/startup_bench.py [runs]      (figures recorded in docs/performance.md)

Each run is a fresh process (what a user waits for); the minimum and median over the runs
are printed beside the target (issue 18 item 5: <= 0.5 s), with the machine's load, and the
heaviest imports from one `python -X importtime` run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

ARGS = ["simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--json"]
TARGET_S = 0.5
CODE = "import sys; from slmsim.cli import main; sys.argv = ['slmsim', *sys.argv[1:]]; main()"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(f"load average (1, 5, 15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}")
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", CODE, *ARGS], check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
    print(f"slmsim {' '.join(ARGS)}: min {min(walls):.3f} s, median {statistics.median(walls):.3f} s "
          f"over {runs} runs (target <= {TARGET_S} s: {'met' if min(walls) <= TARGET_S else 'not met'})")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"bare interpreter start: {time.perf_counter() - t:.3f} s")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", CODE, *ARGS], check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ}).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = line.split("|")
        try:
            rows.append((int(cum), name.rstrip()))
        except ValueError:
            continue
    top_level = [(c, n.strip()) for c, n in rows if n.startswith(" ") and not n.startswith("  ")]
    total = sum(c for c, _ in top_level)
    print(f"imports (sum of top-level cumulative, -X importtime inflates them): {total / 1e6:.3f} s; heaviest:")
    top = sorted(top_level)[-8:]
    for c, n in reversed(top):
        print(f"  {n:30s} {c / 1e6:.3f} s")


if __name__ == "__main__":
    main()
