"""`slmsim explore` killed with SIGKILL mid-study, again and again: nothing lost, nothing twice.

The heavy version (20 kills) is `benchmarks/dse_bench.py --kills 20`; here 3 kills."""

from __future__ import annotations

from pathlib import Path

from slmsim.dse.killtest import run_kills

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def test_three_sigkills_lose_nothing_and_evaluate_no_design_twice(tmp_path: Path) -> None:
    # the DES makes each trial ~30 ms, so kills land mid-study
    r = run_kills(space=FIXTURES / "kill.yaml", out=tmp_path / "out", study="kill", target=60, kills=3, seed=1,
                  extra=("--engine", "des"), cwd=ROOT)
    assert r.notes == []
    assert r.kills == 3 and r.kills_mid_run == 3
    assert r.lost == 0 and r.unfinished == 0
    assert r.complete == 60
    assert r.evaluated_twice == 0 and r.bad_repeats == 0
    assert r.distinct <= 60
