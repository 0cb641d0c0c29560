from __future__ import annotations

import itertools

import numpy as np
import pytest

from slmsim.mapping.pipeline import linear_partition, unrolled_op_costs


def brute(costs: list[float], stages: int) -> float:
    n = len(costs)
    best = float("inf")
    for cuts in itertools.combinations(range(1, n), stages - 1):
        bounds = (0, *cuts, n)
        best = min(best, max(sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_partition_is_optimal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 10))
    costs = list(rng.random(n))
    stages = int(rng.integers(1, n + 1))
    p = linear_partition(costs, stages)
    assert p.bottleneck == pytest.approx(brute(costs, stages))
    assert sum(p.stage_costs) == pytest.approx(sum(costs))
    assert p.boundaries[0] == 0 and list(p.boundaries) == sorted(p.boundaries)


def test_unrolled_order_is_layer_major() -> None:
    costs, order = unrolled_op_costs(np.array([1.0, 20.0, 40.0, 5.0]), [1, 2, 2, 1])
    assert order == [0, 1, 2, 1, 2, 3]
    assert list(costs) == [1.0, 10.0, 20.0, 10.0, 20.0, 5.0]


def test_flow_shop_makespan() -> None:
    from slmsim.mapping.pipeline import StagePipeline

    same = np.array([[1.0] * 5, [3.0] * 5, [2.0] * 5])  # 3 stages, 5 identical jobs
    assert StagePipeline.makespan_s(same) == pytest.approx(6.0 + 4 * 3.0)
    # two jobs, two stages: C = max(p00 + p01, ...) by the recursion
    p = np.array([[2.0, 1.0], [1.0, 3.0]])
    assert StagePipeline.makespan_s(p) == pytest.approx(6.0)  # j0: 2, 3; j1: 3, max(3,3)+3 = 6


def test_pipeline_stages_share_the_one_vector_unit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Stages hold their own macros but share the accelerator's one vector unit (a mapping
    audit: the flow shop let them overlap freely, 837.5 us at batch 16 where the vector unit
    alone needs 2759 us, and printed the unit 118% busy). By hand for qwen3-0.6b, W4A8 group 32,
    weights on chip: every matmul's group-32 partial sums are rescaled on the vector unit,
    n x ceil(k / 32) ops each: per layer qkv 4096 x 32 + o 1024 x 64 + gate/up 6144 x 32 +
    down 1024 x 96 = 491,520, x 28 layers, plus the head's 151,936 x 32 = 18,624,512 ops per
    sequence, at 512 lanes x 2 ops x 200 MHz = 204.8 Gop/s: 90.94 us. Sixteen sequences need
    16 x that of the unit, whatever the stages; the busiest shared resource sets the step."""
    from slmsim.hw_models.load import load_hardware
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.engines import run
    from slmsim.workloads.load import load_model
    from slmsim.workloads.scenario import Precision, Scenario

    spec = tmp_path / "ws4.yaml"
    spec.write_text("extends: edgecim\nname: edgecim-ws4\ndevices:\n  cim:\n    tiles: 512\n"
                    "    macros_per_tile: 512\n    pipeline_stages: 4\n")
    hw, model = load_hardware(str(spec)).spec, load_model("qwen3-0.6b")
    rescale_s = (28 * (4096 * 32 + 1024 * 64 + 6144 * 32 + 1024 * 96) + 151936 * 32) / (512 * 2 * 200e6)
    assert rescale_s == pytest.approx(90.94e-6, rel=1e-4)
    tpot = {}
    for batch in (1, 16):
        plan = make_plan(hw, model, Scenario(prompt_tokens=64, gen_tokens=12, batch=batch,
                                             precision=Precision(activation_bits=8)))
        pipe = plan.mapper.stage_pipeline()
        assert pipe is not None and len(pipe.partition.stage_costs) == 4
        res = run(plan, engine="analytic")
        tpot[batch] = res.tpot_s
        assert res.utilisation["cim"] <= 1.0 + 1e-9  # no unit more than wholly busy
        des = run(plan, engine="des", memory_model="ideal")
        assert des.tpot_s == pytest.approx(res.tpot_s, rel=2e-3)  # the same bound in both engines
    assert tpot[16] >= 16 * rescale_s
    # a shared resource sets the step: 16 x its time per sequence, below 16 lone steps (the
    # stages still overlap what is their own)
    busiest = max(float(b[0]) for b in pipe.shared_busy_s(np.array([64.0 + 6.0])).values())
    assert tpot[16] == pytest.approx(16 * busiest, rel=0.02) and tpot[16] < 16 * tpot[1]


def test_weights_on_chip_keep_the_embedding_table_in_the_weight_tier(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With every matmul weight in the macros the token lookup still reads its rows from DRAM,
    so DRAM stores the table (a mapping audit: left out). qwen3-0.6b (tied) at W4 group 32:
    151,936 x 1,024 x 4.5 bits / 8 = 87.52 MB beside the KV cache and activations."""
    from slmsim.hw_models.load import load_hardware
    from slmsim.mapping.plan import make_plan
    from slmsim.workloads.load import load_model
    from slmsim.workloads.scenario import Precision, Scenario

    spec = tmp_path / "ws.yaml"
    spec.write_text("extends: edgecim\nname: edgecim-ws\ndevices:\n  cim:\n    tiles: 512\n    macros_per_tile: 512\n")
    plan = make_plan(load_hardware(str(spec)).spec, load_model("qwen3-0.6b"),
                     Scenario(prompt_tokens=64, gen_tokens=12, precision=Precision(activation_bits=8)))
    assert plan.weight_mode["cim"] == "weight_stationary"
    fp = plan.memory_footprint_bytes
    assert fp["tier.dram"] == pytest.approx(151936 * 1024 * 4.5 / 8 + fp["kv_cache"] + fp["activations"], rel=1e-12)
