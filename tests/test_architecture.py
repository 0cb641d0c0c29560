"""Imports go one way: hw_models, workloads -> mapping -> simulator -> dse -> reports; slmsim wires them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = {"slmsim_core", "hw_models", "workloads", "mapping", "simulator", "dse", "reports", "slmsim"}
ALLOWED = {
    "slmsim_core": set(),
    "hw_models": {"slmsim_core"},
    "workloads": {"slmsim_core"},
    "mapping": {"slmsim_core", "hw_models", "workloads"},
    "simulator": {"slmsim_core", "mapping", "workloads"},  # request streams are workload data
    "dse": {"slmsim_core", "hw_models", "workloads", "mapping", "simulator"},
    "reports": {"slmsim_core", "simulator", "mapping"},
    "slmsim": OURS - {"slmsim"},
}
FORBIDDEN_THIRD_PARTY = {"simulator": {"optuna", "yaml"}, "mapping": {"optuna", "yaml"}}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_go_one_way(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        found = imports_of(path)
        for name in found & OURS - {package} - ALLOWED[package]:
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
        for name in found & FORBIDDEN_THIRD_PARTY.get(package, set()):
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []
