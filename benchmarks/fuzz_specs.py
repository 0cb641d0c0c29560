"""10,000 fuzzed inputs: counts of uncaught exceptions, nonsense results and runs over 5 s.

    nice python benchmarks/fuzz_specs.py                 # 10,000 cases, seed 0
    python benchmarks/fuzz_specs.py --n 500 --seed 3 -v  # a quick look, failures printed

Cases cycle through the targets of tests/fuzz/mutate.py (hardware, model, scenario,
config.json, request CSV and space files): a valid input with 1-4 random, mostly hostile,
mutations, run through the CLI in-process. Outcomes: ok (exit 0, strict JSON, finite
non-negative figures, TTFT > 0), refused (exit 2 with a message), nonsense (exit 1 from the
result gate, a result that is not strict JSON or not physical), uncaught (an exception
escaping the CLI). Over 5 s is wall time per case on this machine; a case still running
after 60 s is stopped with SIGALRM and counted as a hang. Also measures the alias bomb of
tests/fixtures/bad/hostile (wall time and peak traced memory).
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import random
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

from mutate import TARGETS, Outcome, classify  # noqa: E402

SLOW_S = 5.0
HANG_S = 60


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _Hang


def bomb_figures() -> tuple[float, float]:
    from slmsim.core.errors import SpecError
    from slmsim.core.yamlio import read_yaml

    path = ROOT / "tests" / "fixtures" / "bad" / "hostile" / "alias-bomb.yaml"
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        read_yaml(path)
    except SpecError:
        pass
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, peak / 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every bad case")
    args = ap.parse_args()

    from slmsim.cli import main as _warm  # noqa: F401 - imports outside the timed cases

    dt, peak = bomb_figures()
    print(f"alias bomb: refused in {dt * 1e3:.1f} ms, peak traced memory {peak:.2f} MB (targets < 1 s, < 100 MB)")
    signal.signal(signal.SIGALRM, _alarm)
    names = sorted(TARGETS)
    counts: collections.Counter[str] = collections.Counter()
    per_target: dict[str, collections.Counter[str]] = {n: collections.Counter() for n in names}
    slow: list[tuple[float, str, list[str]]] = []
    bad: list[tuple[str, str, Outcome, str]] = []
    rng = random.Random(args.seed)
    t_start = time.perf_counter()
    worst = 0.0
    for i in range(args.n):
        target = names[i % len(names)]
        case_rng = random.Random(rng.getrandbits(64))
        with tempfile.TemporaryDirectory() as tmp:
            argv = TARGETS[target](case_rng, Path(tmp))
            inputs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[:2000]}"
                               for p in Path(tmp).rglob("*") if p.is_file())
            t0 = time.perf_counter()
            signal.alarm(HANG_S)
            try:
                outcome = classify(argv)
            except _Hang:
                outcome = Outcome("hang", f"over {HANG_S} s")
            finally:
                signal.alarm(0)
            elapsed = time.perf_counter() - t0
        worst = max(worst, elapsed)
        counts[outcome.kind] += 1
        per_target[target][outcome.kind] += 1
        if elapsed > SLOW_S:
            slow.append((elapsed, target, argv))
        if outcome.kind not in ("ok", "refused"):
            bad.append((target, " ".join(argv), outcome, inputs))
            if args.verbose:
                print(f"[{i}] {target} {outcome.kind}: {outcome.detail}\n{inputs}\n", flush=True)
        if (i + 1) % 500 == 0:
            print(f"  {i + 1} cases, {time.perf_counter() - t_start:.0f} s: {dict(counts)}", flush=True)
    total = time.perf_counter() - t_start
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; python {platform.python_version()}")
    print(f"{args.n} fuzzed inputs (seed {args.seed}) in {total:.0f} s, worst case {worst:.2f} s")
    for name in names:
        print(f"  {name:<14} {dict(per_target[name])}")
    print(f"uncaught: {counts['uncaught']}   (target 0)")
    print(f"nonsense: {counts['nonsense']}   (target 0)")
    print(f"over {SLOW_S:g} s: {len(slow)}   (target 0; hangs stopped at {HANG_S} s: {counts['hang']})")
    for target, argv, outcome, inputs in bad[:10]:
        print(f"\n{target} {outcome.kind}: {outcome.detail}\n  {argv}\n{inputs[:1500]}")
    for elapsed, target, argv in sorted(slow, reverse=True)[:10]:
        print(f"slow {elapsed:.1f} s: {target} {' '.join(argv)}")
    return 0 if not bad and not slow else 1


if __name__ == "__main__":
    sys.exit(main())
