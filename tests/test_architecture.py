"""Imports go one way: hw_models, workloads -> mapping -> simulator -> dse -> reports; slmsim wires them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# folder in the repository -> the subpackage it installs as (pyproject's package-dir)
FOLDERS = {
    "slmsim_core": "core",
    "hw_models": "hw_models",
    "workloads": "workloads",
    "stacks": "stacks",
    "mapping": "mapping",
    "simulator": "simulator",
    "dse": "dse",
    "reports": "reports",
    "slmsim": "slmsim",
}
OURS = set(FOLDERS)
BY_SUBPACKAGE = {sub: folder for folder, sub in FOLDERS.items()}
ALLOWED = {
    "slmsim_core": set(),
    "hw_models": {"slmsim_core"},
    "workloads": {"slmsim_core"},
    "stacks": {"slmsim_core"},  # software stacks as specs; mapping combines them with the rest
    "mapping": {"slmsim_core", "hw_models", "workloads", "stacks"},
    "simulator": {"slmsim_core", "mapping", "workloads"},  # request streams are workload data
    "dse": {"slmsim_core", "hw_models", "workloads", "mapping", "simulator"},
    "reports": {"slmsim_core", "simulator", "mapping"},
    "slmsim": OURS - {"slmsim"},
}
FORBIDDEN_THIRD_PARTY = {"simulator": {"optuna", "yaml"}, "mapping": {"optuna", "yaml"}}


def _folder_of(module: str) -> str:
    """`slmsim.mapping.plan` -> `mapping`; `slmsim.commands` -> `slmsim`; `numpy.x` -> `numpy`."""
    parts = module.split(".")
    if parts[0] != "slmsim":
        return parts[0]
    if len(parts) > 1 and parts[1] in BY_SUBPACKAGE and parts[1] != "slmsim":
        return BY_SUBPACKAGE[parts[1]]
    return "slmsim"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {_folder_of(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(_folder_of(node.module))
            if node.module == "slmsim":  # from slmsim import mapping
                names |= {_folder_of(f"slmsim.{a.name}") for a in node.names}
    return names


def test_no_generic_top_level_imports() -> None:
    """Nothing imports a folder by its repository name: installed, only `slmsim.*` exists."""
    bad = []
    for folder in OURS - {"slmsim"}:
        for path in sorted(ROOT.rglob("*.py")):
            if ".venv" in path.parts or "build" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                mods = []
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    mods = [node.module]
                bad += [f"{path.relative_to(ROOT)} imports {m}" for m in mods if m.split(".")[0] == folder]
    assert bad == []


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
