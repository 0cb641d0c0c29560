"""Fixtures for report tests: study directories (made with Optuna, see studyfix.py) and one
real design point (edgecim running qwen3-4b, as `slmsim simulate` builds it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from studyfix import make_study_dir, real_baselines


@dataclass(frozen=True)
class DesignRun:
    result: dict[str, Any]
    plan: Any
    trace: list[dict[str, Any]]
    title: str
    hardware: Any = None


def simulate(hw: str, model: str, **scenario: Any) -> DesignRun:
    """What `slmsim simulate --report` hands to reports.design (same calls as the CLI)."""
    from slmsim.hw_models.load import load_hardware
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.engines import run
    from slmsim.workloads.load import load_model
    from slmsim.workloads.scenario import Scenario

    loaded, m = load_hardware(hw), load_model(model)
    sc = Scenario.model_validate(scenario)
    plan = make_plan(loaded.spec, m, sc)
    result = run(plan, engine="analytic", seed=sc.seed)
    trace = run(plan, engine="des", seed=sc.seed, trace_steps=4).extra["trace"]
    out = {"hardware": loaded.spec.name, "model": m.name, "scenario": sc.model_dump(mode="json"), **result.to_dict()}
    return DesignRun(result=out, plan=plan, trace=trace, title=f"{m.name} on {loaded.spec.name}", hardware=loaded.spec)


@pytest.fixture(scope="session")
def design_cim() -> DesignRun:
    return simulate("edgecim", "qwen3-4b", precision={"activation_bits": 8}, prompt_tokens=64, gen_tokens=32)


@pytest.fixture(scope="session")
def design_gpu() -> DesignRun:
    return simulate("orin-nano", "llama-3.2-1b", prompt_tokens=64, gen_tokens=32, batch=2)


@pytest.fixture(scope="session")
def baselines() -> list[dict[str, Any]]:
    return real_baselines()


@pytest.fixture(scope="session")
def study2(tmp_path_factory: pytest.TempPathFactory, baselines: list[dict[str, Any]]) -> Path:
    """60 trials, two objectives (latency, energy), infeasible and failed trials."""
    return make_study_dir(tmp_path_factory.mktemp("study2"), n_trials=60, baselines=baselines)


@pytest.fixture(scope="session")
def study3(tmp_path_factory: pytest.TempPathFactory, baselines: list[dict[str, Any]]) -> Path:
    """80 trials, three objectives (latency, energy, area)."""
    return make_study_dir(tmp_path_factory.mktemp("study3"), n_trials=80, baselines=baselines,
                          objectives=("decode_latency_s", "energy_per_token_j", "area_mm2"))


@pytest.fixture(scope="session")
def study500(tmp_path_factory: pytest.TempPathFactory, baselines: list[dict[str, Any]]) -> Path:
    """500 trials, three objectives: the size the issue's load-time and size limits are about."""
    return make_study_dir(tmp_path_factory.mktemp("study500"), n_trials=500, baselines=baselines,
                          objectives=("decode_latency_s", "energy_per_token_j", "area_mm2"))
