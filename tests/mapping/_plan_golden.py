"""Flatten plans and analytic results to JSON-able nests (floats kept exact via repr round trip).

Used by tests/mapping/test_plan_golden.py and to regenerate tests/fixtures/plan_golden.json:
    .venv/bin/python tests/mapping/_plan_golden.py > tests/fixtures/plan_golden.json
The fixture was written from the code before the plan-building speed-up (issue 18 item 1),
so the test checks that the speed-up changed no byte, time or energy.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys

import numpy as np

# The fixture pins plan building, not calibration: the class constants a refit may move are
# held at the values the presets had when the fixture was written (slmsim.refit, issue 12,
# changed orin-nano's fraction, per-kernel time and dequantisation count).
PINNED: dict[str, dict[str, float]] = {
    "orin-nano": {"memories.dram.achievable_fraction": 0.845, "devices.gpu.kernel_overhead": 34.1e-6,
                  "devices.gpu.dequant_ops_per_weight": 6.88},
}

CASES = [
    ("edgecim", "qwen3-4b", 512, 256, 1),
    ("edgecim", "qwen3-4b", 128, 64, 4),
    ("edgecim", "olmoe-1b-7b", 256, 128, 1),
    ("orin-nano", "llama-3.2-1b", 512, 256, 1),
    ("orin-nano", "qwen3-30b-a3b", 256, 128, 2),
    ("elmoe3d", "qwen3-30b-a3b", 256, 128, 1),
    ("raspberry-pi-5", "qwen2.5-0.5b", 512, 256, 1),
]


# Fields added after the fixture was written: new figures beside the old ones, which must
# still not move (issue 14: the per-phase energy by boundary layer, checked against its own
# hand-derived figures in tests/simulator/test_energy_boundary.py; sliding-window attention:
# the capped context terms, zero and infinite for these cases' models, none of which has
# local layers, checked by hand in tests/workloads/test_sliding_window.py).
ADDED_SINCE = ("energy_layers_j", "window", "windowed", "window_share", "window_ctx")


def flat(x: object) -> object:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: flat(getattr(x, f.name)) for f in dataclasses.fields(x)
                if f.name not in ("mapper", *ADDED_SINCE) and f.repr is not False or f.name == "ops"}
    if isinstance(x, enum.Enum):
        return x.value
    if isinstance(x, dict):
        return {str(k): flat(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [flat(v) for v in x]
    if isinstance(x, np.ndarray):
        return [flat(v) for v in x.tolist()]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    return repr(x)


def compute() -> dict[str, object]:
    from slmsim.hw_models.load import hardware_with_edits, load_hardware
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.engines import run
    from slmsim.workloads.load import load_model
    from slmsim.workloads.scenario import Precision, Scenario

    out: dict[str, object] = {}
    for hw_name, model_name, prompt, gen, batch in CASES:
        hw = hardware_with_edits(hw_name, PINNED[hw_name]) if hw_name in PINNED else load_hardware(hw_name).spec
        model = load_model(model_name)
        scen = Scenario(prompt_tokens=prompt, gen_tokens=gen, batch=batch,
                        precision=Precision(weight_bits=4, activation_bits=8))
        plan = make_plan(hw, model, scen)
        key = f"{hw_name}/{model_name}/{prompt}+{gen}/b{batch}"
        if not hasattr(plan, "prefill"):
            out[key] = {"infeasible": flat(plan)}
            continue
        res = run(plan, engine="analytic")
        out[key] = {"plan": flat(plan), "result": flat(res)}
    return out


if __name__ == "__main__":
    json.dump(compute(), sys.stdout, indent=0, sort_keys=True)
