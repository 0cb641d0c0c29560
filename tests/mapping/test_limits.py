"""The two roofline limits: infinite compute -> bytes / bandwidth; infinite bandwidth -> compute."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import hardware_with_edits
from slmsim.mapping.plan import make_plan
from slmsim.simulator.analytic import decode_contexts
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

SCEN = Scenario(prompt_tokens=64, gen_tokens=16)
HUGE = 1e30


def spec(name: str, edits: dict[str, object]):  # noqa: ANN201
    return hardware_with_edits(name, edits)


def test_infinite_compute_leaves_bytes_over_bandwidth() -> None:
    hw = spec("orin-nano", {"devices.gpu.matrix_throughput": {"fp16": HUGE, "int8": HUGE},
                            "devices.gpu.vector_throughput": HUGE, "devices.gpu.kernel_overhead": 0.0})
    plan = make_plan(hw, load_model("llama-3.2-1b"), SCEN)
    ctx = decode_contexts(plan)
    moved = plan.decode.tier_bytes_total(float(ctx.sum()), len(ctx))["dram"]
    bw = hw.memories["dram"].achievable_bandwidth_bytes_per_s
    assert run(plan).decode_time_s == pytest.approx(moved / bw, rel=1e-9)


def test_infinite_bandwidth_leaves_compute_time() -> None:
    hw = spec("orin-nano", {"memories.dram.bandwidth": HUGE, "devices.gpu.kernel_overhead": 0.0})
    plan = make_plan(hw, load_model("llama-3.2-1b"), SCEN)
    ctx = decode_contexts(plan)
    compute = sum(op.layers * (op.compute_s.const * len(ctx) + op.compute_s.per_ctx * ctx.sum())
                  for op in plan.decode.ops)
    assert run(plan).decode_time_s == pytest.approx(compute, rel=1e-9)


def test_cim_infinite_bandwidth_leaves_macro_and_vector_time() -> None:
    hw = spec("edgecim", {"memories.dram.bandwidth": HUGE, "devices.cim.noc.bandwidth": HUGE})
    plan = make_plan(hw, load_model("qwen3-0.6b"), SCEN)
    ctx = decode_contexts(plan)
    compute = np.sum([op.layers * (op.compute_s.const * len(ctx) + op.compute_s.per_ctx * ctx.sum())
                      for op in plan.decode.ops])
    assert run(plan).decode_time_s == pytest.approx(float(compute), rel=1e-9)
