"""Start-up: wall time of `slmsim simulate --hw orin-nano --model llama-3.2-1b --json`.

    python benchmarks/startup_bench.py [runs]      (figures recorded in docs/performance.md)

Each run is a fresh process (what a user waits for); the minimum and median over the runs
are printed beside the target (issue 18 item 5: <= 0.5 s), with the machine's load, the
process's CPU time (user + system, from wait4: on a shared machine a process waits for a
core, which wall time counts and CPU time does not), and the heaviest imports from one
`python -X importtime` run.

Two settings, alternating run by run so both see the same load: as the environment is
(this machine sets PYTHONDONTWRITEBYTECODE=1, so slmsim's own modules are compiled from
source on every start), and with bytecode cached (PYTHONDONTWRITEBYTECODE unset and
PYTHONPYCACHEPREFIX a temporary directory, after one warm-up run): what an installed
slmsim does on a user's machine.
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


def timed(env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh `slmsim simulate --json` process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CODE, *ARGS], stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, proc.returncode
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    import tempfile

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(f"load average (1, 5, 15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}")
    as_is = dict(os.environ)
    cache_dir = tempfile.mkdtemp(prefix="slmsim-pycache-")
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = cache_dir
    timed(cached)  # warm-up: writes the bytecode
    got: dict[str, list[tuple[float, float]]] = {"as the environment is": [], "bytecode cached": []}
    for _ in range(runs):
        got["as the environment is"].append(timed(as_is))
        got["bytecode cached"].append(timed(cached))
    for name, rows in got.items():
        walls = [w for w, _ in rows]
        cpus = [c for _, c in rows]
        print(f"slmsim {' '.join(ARGS)} ({name}, PYTHONDONTWRITEBYTECODE="
              f"{(as_is if name.startswith('as') else cached).get('PYTHONDONTWRITEBYTECODE', 'unset')}): "
              f"wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s; CPU min {min(cpus):.3f} s, "
              f"over {runs} runs (target <= {TARGET_S} s wall: {'met' if min(walls) <= TARGET_S else 'not met'})")
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
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
