"""Issue 17: a PostgreSQL password never reaches a file, a log or a message.

The role `slmsim_sentinel` (made by .ci/setup.d/postgres.sh) has a password holding '@'
and ':'. We explore, join as a worker, and provoke the two errors that used to print the
URL ("no study", "created from a different space"), then grep every output file, the
captured stdout/stderr and the journal-free output folder for any form of the password.
Skips without a server, except under SLMSIM_CI=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import optuna

from tests.dse.test_dse_postgres import _server_or_skip

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "Sent1nel@pa:ss-7q"
FORMS = (PASSWORD, quote(PASSWORD, safe=""), "Sent1nel", "pa:ss-7q", "ss-7q")


def test_the_sentinel_password_appears_nowhere(tmp_path: Path) -> None:
    _server_or_skip()
    name = f"secret-{uuid.uuid4().hex[:8]}"
    raw = f"postgresql://slmsim_sentinel:{PASSWORD}@127.0.0.1:5432/slmsim"  # as a user would type it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "o"

    def slmsim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "slmsim.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    runs = [slmsim("explore", str(FIXTURES / "tiny.yaml"), "--storage", raw, "--study", name, "--trials", "4",
                   "--out", str(out), "--no-progress")]
    assert runs[0].returncode == 0, runs[0].stderr
    runs.append(slmsim("worker", "--storage", raw, "--study", name, "--trials", "1", "--no-progress"))
    assert runs[-1].returncode == 0, runs[-1].stderr
    runs.append(slmsim("worker", "--storage", raw, "--study", name + "-nope", "--no-progress"))
    assert runs[-1].returncode == 2 and "no study" in runs[-1].stderr
    runs.append(slmsim("explore", str(ROOT / "examples" / "space-demo.yaml"), "--storage", raw, "--study", name,
                       "--trials", "4", "--out", str(tmp_path / "o2"), "--no-progress"))
    assert runs[-1].returncode == 2 and "created from a different space" in runs[-1].stderr
    runs.append(slmsim("explore", str(FIXTURES / "tiny.yaml"), "--storage", raw.replace("5432", "1"), "--study", name,
                       "--trials", "4", "--out", str(tmp_path / "o3"), "--no-progress"))
    assert runs[-1].returncode == 2 and "cannot open the storage" in runs[-1].stderr
    texts = [r.stdout for r in runs] + [r.stderr for r in runs]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "study.json" for p in files) and any(p.name == "report.html" for p in files)
    texts += [p.read_text(errors="replace") for p in files]
    for text in texts:
        for form in FORMS:
            assert form not in text
    assert "slmsim_sentinel:***@127.0.0.1" in (out / "study.json").read_text()
    optuna.delete_study(study_name=name, storage="postgresql+psycopg2://slmsim:slmsim@127.0.0.1:5432/slmsim")
