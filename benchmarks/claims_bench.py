"""The claims table from a fresh clone: `git clone`, a new venv, `pip install -e .`, then
`slmsim case-study claims` (issue 14: under 10 minutes on this machine).

    python benchmarks/claims_bench.py            # the command alone, in this environment
    python benchmarks/claims_bench.py --fresh    # clone HEAD, new venv, install, run (needs pip's index or cache)

Prints each stage's wall time beside the target and the machine's load (figures recorded in
docs/performance.md).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 600.0
ROOT = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], **kw: object) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t


def main() -> None:
    fresh = "--fresh" in sys.argv
    print(f"load average (1, 5, 15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}")
    with tempfile.TemporaryDirectory() as tmp:
        stages: list[tuple[str, float]] = []
        if fresh:
            clone = Path(tmp) / "clone"
            stages.append(("git clone", _timed(["git", "clone", "-q", str(ROOT), str(clone)])))
            stages.append(("venv", _timed([sys.executable, "-m", "venv", str(clone / ".venv")])))
            stages.append(("pip install -e .", _timed([str(clone / ".venv" / "bin" / "pip"), "install", "-q", "-e",
                                                      str(clone)])))
            slmsim, cwd = str(clone / ".venv" / "bin" / "slmsim"), clone
        else:
            slmsim, cwd = str(Path(sys.executable).parent / "slmsim"), ROOT
        stages.append(("slmsim case-study claims", _timed([slmsim, "case-study", "claims", "--out",
                                                          str(Path(tmp) / "out")], cwd=cwd)))
    for name, s in stages:
        print(f"  {name:28s} {s:8.1f} s")
    total = sum(s for _, s in stages)
    print(f"  {'total':28s} {total:8.1f} s   target <= {TARGET_S:.0f} s: {'ok' if total <= TARGET_S else 'MISSED'}")


if __name__ == "__main__":
    main()
