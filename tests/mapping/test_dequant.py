"""Weights on a GPU: dequantisation time and energy, and integer weights that need none.

Orin Nano's preset: `dequant_ops_per_weight`, `vector_throughput` and `energy_per_op` as
`slmsim check orin-nano` lists them. A matmul of k x n weights over m token rows:
- W4A16 (fp16 engine): the k n weights are dequantised, k n x dequant_ops_per_weight vector
  ops, whatever m is;
- W8A8 (int8 engine, int8 weights): no per-weight work, but each output's integer partial
  sums are rescaled once per scale group: m x n x k / group vector ops;
- every vector op costs `energy_per_op` like a matrix op (an assumption, a lower bound).
"""

from __future__ import annotations

import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.mapping.processor import math_precision
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario

ORIN = load_hardware("orin-nano").spec
GPU = ORIN.devices["gpu"]
M = load_model("llama-3.2-1b")


@pytest.mark.parametrize(("w", "a"), [(4, 16), (8, 8)])
def test_vector_work_beside_the_matrix_engine(w: int, a: int) -> None:
    precision = Precision(weight_bits=w, activation_bits=a)
    plan = make_plan(ORIN, M, Scenario(prompt_tokens=512, gen_tokens=2, precision=precision))
    step = plan.mapper.prefill(512, 1)
    mapped = next(o for o in step.ops if o.name == "ffn_up")
    k, n, m = 2048, 2 * 8192, 512  # gate and up projections together (config.json: hidden 2048, FFN 8192)
    matrix_s = 2 * m * k * n / (GPU.matrix_peak_ops_per_s(math_precision(precision)) * GPU.compute_efficiency)
    side = k * n * GPU.dequant_ops_per_weight if a == 16 else m * n * k / 32
    assert mapped.compute_s.const == pytest.approx(matrix_s + side / GPU.vector_throughput_ops_per_s, rel=1e-9)
    energy = dict(mapped.energy_j)["gpu_compute"].const
    assert energy == pytest.approx((2 * m * k * n + side) * GPU.energy_per_op_j, rel=1e-9)


def test_int8_weights_on_the_int8_engine_need_no_dequantisation_in_decode() -> None:
    """One token: W8A8's rescale is n k / 32 ops against W8A16's 7.5 k n dequant ops."""
    def ffn_up_s(a: int) -> float:
        plan = make_plan(ORIN, M, Scenario(prompt_tokens=16, gen_tokens=2,
                                           precision=Precision(weight_bits=8, activation_bits=a)))
        return next(o for o in plan.mapper.decode(1).ops if o.name == "ffn_up").compute_s.const

    assert ffn_up_s(8) < ffn_up_s(16) / 10
