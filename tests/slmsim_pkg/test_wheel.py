"""The wheel installs cleanly into a fresh virtual environment and runs from anywhere (issue 15).

The wheel is built from a copy of the tracked sources (no stale build/ folder, nothing
written into the repository) without build isolation, so no index is needed. The fresh venv
has no pip and no packages of its own: a `.pth` file puts a folder of links to this
environment's installed packages (slmsim itself left out) on its path, so the wheel's
dependencies are satisfied offline and `pip install --no-index` checks that they are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
IGNORE = shutil.ignore_patterns(".git", ".venv*", "out", "build", "dist", "demo-out", "*.egg-info", "__pycache__",
                                ".pytest_cache", "tests", "benchmarks")
# what setuptools prints when the configuration is off (license form, package discovery, ...)
WARNING = re.compile(r"(Warning|^\s*warning:|!!)", re.MULTILINE)


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _deps_folder(dest: Path) -> Path:
    """Links to every package of this environment except slmsim (and its editable hooks)."""
    dest.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            low = entry.name.lower()
            if low.startswith(("slmsim", "__editable__", "_slmsim")) or low.endswith(".pth") \
                    or (dest / entry.name).exists():
                continue
            (dest / entry.name).symlink_to(entry)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    env = _clean_env()
    built = _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-v",
                  "-w", str(tmp / "dist")], cwd=tmp, env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    noise = [ln for ln in (built.stdout + built.stderr).splitlines() if WARNING.search(ln)]
    assert noise == [], "the build printed warnings:\n" + "\n".join(noise)
    wheel = next((tmp / "dist").glob("slmsim-*.whl"))

    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, env=env)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp,
                        env=env).stdout.strip())
    (purelib / "_slmsim_test_deps.pth").write_text(str(_deps_folder(tmp / "deps")) + "\n")
    inst = _run([str(py), "-m", "pip", "install", "--no-index", "--no-compile", str(wheel)], cwd=tmp, env=env)
    assert inst.returncode == 0, inst.stdout[-3000:] + inst.stderr[-3000:]
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return venv, env, elsewhere


def test_the_build_has_the_licence_and_package_data(installed: tuple[Path, dict[str, str], Path]) -> None:
    venv, env, where = installed
    code = ("import importlib.metadata as md, slmsim.resources as r;"
            "d = md.distribution('slmsim');"
            "print(json.dumps({'license': d.metadata['License-Expression'],"
            " 'files': sorted(str(f) for f in d.files if 'LICENSE' in str(f)),"
            " 'examples': r.example_names(), 'file': __import__('slmsim').__file__}))")
    out = _run([str(venv / "bin" / "python"), "-c", "import json;" + code], cwd=where, env=env)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["license"] == "Apache-2.0"
    assert any(f.endswith("licenses/LICENSE") for f in d["files"])
    assert {"space-demo.yaml", "space-edgecim.yaml", "decoding/elmoe3d-elastic.yaml"} <= set(d["examples"])
    assert str(venv) in d["file"]  # the wheel's copy, not the source tree


def test_one_namespace(installed: tuple[Path, dict[str, str], Path]) -> None:
    venv, env, where = installed
    py = str(venv / "bin" / "python")
    for generic in ("simulator", "hw_models", "workloads", "mapping", "dse", "reports", "slmsim_core"):
        r = _run([py, "-c", f"import {generic}"], cwd=where, env=env)
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, generic
    r = _run([py, "-c", "import slmsim.simulator, slmsim.core, slmsim.dse; print('ok')"], cwd=where, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_version_case_study_and_explore_from_another_folder(installed: tuple[Path, dict[str, str], Path]) -> None:
    venv, env, where = installed
    slmsim = str(venv / "bin" / "slmsim")
    v = _run([slmsim, "--version"], cwd=where, env=env)
    from slmsim.core.version import __version__

    assert v.returncode == 0 and v.stdout.strip() == f"slmsim {__version__}", v.stderr

    cs = _run([slmsim, "case-study", "edgecim", "--trials", "8", "--out", "cs"], cwd=where, env=env)
    assert cs.returncode == 0, cs.stderr[-3000:]
    summary = json.loads((where / "cs" / "summary.json").read_text())
    assert summary["case_study"] == "edgecim" and summary["dse"]["trials"] == 8
    assert (where / "cs" / "dse" / "study.json").is_file() and (where / "cs" / "report.html").is_file()

    ex = _run([slmsim, "explore", "space-demo", "--trials", "6", "--out", "study"], cwd=where, env=env)
    assert ex.returncode == 0, ex.stderr[-3000:]
    study = json.loads((where / "study" / "study.json").read_text())
    assert study["slmsim_version"] == __version__
    assert "Traceback" not in cs.stderr + ex.stderr
    assert not (where / "examples").exists()  # nothing came from a source tree
