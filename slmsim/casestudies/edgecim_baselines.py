"""EdgeCIM's baselines as stated configurations (examples/edgecim-baselines.yaml): each
hardware preset with a software stack and precision, and the ratio claims against each.

The paper does not say how it ran the Orin Nano and the SA8255P (seed-details.md), and the
stack and precision decide the ratios (7.3x, 49.59x, 9.95x) as much as the accelerator: this
table shows by how much. `boundary_pairs` shows the other unknown of the energy ratio, which
energy each side counts.
"""

from __future__ import annotations

from typing import Any

import yaml

from slmsim.casestudies.common import hardware_with
from slmsim.core.errors import Infeasible
from slmsim.simulator.engines import run
from slmsim.simulator.result import SimResult
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

MODEL_FOR = {"orin-nano": "llama-3.2-1b", "sa8255p": "llama-3.2-3b"}  # the claims' models


def configurations() -> dict[str, Any]:
    from slmsim.resources import example

    return yaml.safe_load(example("edgecim-baselines.yaml").read_text())


def run_configuration(entry: dict[str, Any], model: str, scenario: dict[str, Any],
                      boundary: str = "board") -> SimResult:
    """One baseline configuration: through its stack preset, or the preset as calibrated."""
    from slmsim.mapping.plan import make_plan

    spec = hardware_with(entry["hardware"])
    m = load_model(model)
    scen = Scenario(prompt_tokens=scenario["prompt_tokens"], gen_tokens=scenario["gen_tokens"],
                    precision=Precision(weight_bits=4, weight_group_size=None))
    if entry.get("stack"):
        from slmsim.mapping.stack import make_stack_plan
        from slmsim.stacks.load import format_library, load_stack

        plan, _ = make_stack_plan(spec, m, scen, load_stack(entry["stack"]).spec, entry["weight_format"],
                                  format_library())
    else:
        plan = make_plan(spec, m, scen)
    if isinstance(plan, Infeasible):
        raise RuntimeError(f"baseline {entry['name']}: {plan.render()}")
    return run(plan, engine="analytic")


def baseline_table(rows: list[Any], boundary: str | None = None) -> list[dict[str, Any]]:
    """Per configuration: the baseline's tokens/s and tokens/J on the claim's model and the
    EdgeCIM ratios against it (EdgeCIM from `rows`, edgecim.run_rows, in the rows' boundary)."""
    from slmsim.casestudies.edgecim import lookup

    cfg = configurations()
    out = []
    for entry in cfg["baselines"]:
        model = MODEL_FOR[entry["hardware"]]
        e = lookup(rows, "edgecim", model)
        b = boundary or e.boundary
        r = run_configuration(entry, model, cfg["scenario"])
        tpj = r.decode_tokens_per_j_within(b)
        out.append({"hardware": entry["hardware"], "configuration": entry["name"], "model": model,
                    "tokens_per_s": r.decode_tokens_per_s, "tokens_per_j": tpj, "boundary": b,
                    "speedup": e.tokens_per_s / r.decode_tokens_per_s, "energy_gain": e.tokens_per_j / tpj})
    return out


def boundary_pairs(model: str = "llama-3.2-1b") -> list[dict[str, Any]]:
    """EdgeCIM's tokens/J within each boundary over the Orin Nano preset's within each: the
    energy ratio when the two sides count different energies."""
    from slmsim.casestudies.common import simulate
    from slmsim.casestudies.edgecim import baseline_scenario, cim_scenario

    e = simulate(hardware_with("edgecim"), model, cim_scenario())
    o = simulate(hardware_with("orin-nano"), model, baseline_scenario())
    bs = ("chip", "chip+memory", "board")
    return [{"pair": f"{a} / {b}", "edgecim_tokens_per_j": e.decode_tokens_per_j_within(a),
             "orin_nano_tokens_per_j": o.decode_tokens_per_j_within(b),
             "ratio": e.decode_tokens_per_j_within(a) / o.decode_tokens_per_j_within(b)} for a in bs for b in bs]
