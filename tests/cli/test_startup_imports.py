"""`simulate --json` must not drag in the heavy libraries it does not use (issue 18 item 5).

Not a timing test: a fresh interpreter runs the command and the test reads sys.modules.
pint is imported only for units outside slmsim.core.units_table (the presets use none), and
the DES modules (simpy's serving loop, the op-level engine) only when the DES runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import contextlib, io, json, sys
from slmsim.cli import main
sys.argv = ['slmsim', 'simulate', '--hw', 'orin-nano', '--model', 'llama-3.2-1b', '--json']
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
json.loads(out.getvalue())  # the command really ran and printed its JSON
print(json.dumps(sorted(sys.modules)))
"""

HEAVY = ("optuna", "plotly", "pandas", "scipy", "rich", "pint", "slmsim.simulator.des", "slmsim.simulator.serving",
         "slmsim.commands.explore", "slmsim.commands.report", "multiprocessing")


def test_simulate_json_imports_no_heavy_library() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "slmsim.mapping.plan" in modules  # sanity: the command path was imported
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == [], f"simulate --json imported {loaded}"
