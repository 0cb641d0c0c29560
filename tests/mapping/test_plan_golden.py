"""Plan building was sped up (issue 18 item 1): the plans and analytic results must not move.

tests/fixtures/plan_golden.json was written by tests/mapping/_plan_golden.py from the code
*before* the speed-up; every number (bytes, times, energies, powers, footprints) must agree
to 1e-12 relative, every string and count exactly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests.mapping._plan_golden import compute

FIXTURE = Path(__file__).parents[1] / "fixtures" / "plan_golden.json"


def _same(a: object, b: object, path: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: length {len(a)} vs {len(b) if isinstance(b, list) else b}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, (int, float)), f"{path}: {a} vs {b}"
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) or (math.isnan(a) and math.isnan(b)), \
            f"{path}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def test_plans_and_results_unchanged_by_the_speed_up() -> None:
    golden = json.loads(FIXTURE.read_text())
    now = json.loads(json.dumps(compute()))  # same JSON round trip as the fixture
    assert sorted(golden) == sorted(now)
    assert sum("plan" in v for v in golden.values()) >= 5  # mostly feasible cases, not all refusals
    for key in golden:
        _same(golden[key], now[key], key)
