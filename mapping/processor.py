"""Ops on a GPU or NPU: one kernel per op instance (see `hw_models.processor`)."""

from __future__ import annotations

import math

import numpy as np

from slmsim.hw_models.processor import CpuDevice, MathPrecision, NpuDevice, _Processor
from slmsim.mapping.cost import Affine, Component, MappedOp, ctx_affine
from slmsim.mapping.placement import WeightSources
from slmsim.workloads.graph import Op, OpClass, OpKind
from slmsim.workloads.scenario import Precision


def math_precision(precision: Precision) -> MathPrecision:
    """Weight-only quantisation (activations >= 16 bit) runs on the fp16 engine."""
    if precision.activation_bits >= 16:
        return MathPrecision.FP16
    if precision.activation_bits > 4 or precision.weight_bits > 4:
        return MathPrecision.INT8
    return MathPrecision.INT4


_INTEGER_BITS = {MathPrecision.INT8: 8, MathPrecision.INT4: 4}


def weight_side_vector_ops(op: Op, device: _Processor, precision: Precision) -> float:
    """Vector-unit ops a matmul needs beside the matrix engine's, per instance.

    Weights stored at the engine's own integer width (W8A8 on INT8, W4A4 on INT4) feed it
    as they are: only the integer partial sums are rescaled, one multiply-add per output
    and scale group (token rows x n x k / group; per-channel scales: token rows x n).
    Other low-bit weights are dequantised to the engine's precision first, at the
    device's (or stack's) `dequant_ops_per_weight` per weight (W4A16: to fp16; W4A8: the
    same count is charged for unpacking to int8, an upper bound), once per GEMM, or once per
    `dequant_token_tile` token rows where the kernel tiles the tokens and dequantises each
    weight tile again for every token tile (`dequant_passes`). A weight group a mixed format
    keeps in 16 bits (an f16 LM head beside 4-bit linears) feeds the fp16 engine as it is."""
    if not op.weight_bits or precision.weight_bits >= 16 or op.weight_bits >= 16:
        return 0.0
    if _INTEGER_BITS.get(math_precision(precision)) == precision.weight_bits:
        token_rows = op.flops / (2.0 * op.k * op.n)
        groups = op.k / precision.weight_group_size if precision.weight_group_size else 1.0
        return token_rows * op.n * max(1.0, groups)
    return op.weight_params * device.dequant_ops_per_weight * dequant_passes(op, device.dequant_token_tile)


def dequant_passes(op: Op, tile: int | None) -> float:
    """How often a tiled GEMM dequantises each of its weights: ceil(rows / tile), where rows are
    the token rows each weight meets (op FLOPs / 2 weights: m for a dense matmul); 1 without a
    tile (decode: one row).

    A routed expert's rows vary from expert to expert around their mean, m x top_k / distinct
    experts, so an expert op takes the mean of the ceiling, not the ceiling of the mean (which
    would jump by a whole tile for every expert as the mean crosses a multiple of the tile):
    rows of a touched expert are taken as 1 + Poisson(mean - 1) (a touched expert has at least
    one row; the spread is an assumption, the mean is the op's), and
    E[ceil(R / tile)] = 1 + sum_j P(R > j x tile)."""
    if tile is None or not op.weight_params:
        return 1.0
    rows = op.flops / (2.0 * op.weight_params)
    if op.op_class is not OpClass.EXPERTS or rows <= 1.0:
        return max(1.0, float(math.ceil(rows / tile - 1e-9)))
    from scipy.special import pdtrc  # P(X > k), X ~ Poisson(lam); scipy.special is light to import

    lam = rows - 1.0
    js = np.arange(1, int((lam + 10.0 * math.sqrt(lam) + 10.0) / tile) + 2)
    return 1.0 + float(np.sum(pdtrc(js * tile - 1, lam)))


def weight_and_kv_bytes(op: Op, sources: WeightSources, kv_tier: str) -> tuple[tuple[str, Affine], ...]:
    """Bytes per tier: weights from their sources (plus cache fills), the KV cache from its tier."""
    moved: dict[str, Affine] = {}
    for tier, share in (*sources.reads(op.op_class), *sources.fills(op.op_class)):
        if share > 0 and op.weight_bytes:
            moved[tier] = moved.get(tier, Affine(0.0)) + Affine(op.weight_bytes * share)
    kv = ctx_affine(op, op.kv_read_bytes + op.kv_write_bytes, op.kv_read_bytes_per_ctx)
    if kv.const or kv.grows:
        moved[kv_tier] = moved.get(kv_tier, Affine(0.0)) + kv
    return tuple(moved.items())


def unit_values(device: _Processor, precision: Precision) -> tuple:
    """Every value of `device` that `map_on_processor` reads (with the op, weight sources and
    precision, the key of a memoised mapped op: `mapping.memo`). Keep in step with it."""
    kind = NpuDevice if isinstance(device, NpuDevice) else CpuDevice if isinstance(device, CpuDevice) else None
    return (kind, device.matrix_peak_ops_per_s(math_precision(precision)),
            device.matrix_peak_ops_per_s(MathPrecision.FP16), device.compute_efficiency,
            device.dequant_ops_per_weight, device.dequant_token_tile, device.vector_throughput_ops_per_s,
            device.kernel_overhead_s,
            device.energy_per_op_j)


def map_on_processor(op: Op, *, device: _Processor, device_name: str, sources: WeightSources, kv_tier: str,
                     precision: Precision) -> MappedOp:
    matrix_ops_per_s = device.matrix_peak_ops_per_s(math_precision(precision)) * device.compute_efficiency
    attn_ops_per_s = device.matrix_peak_ops_per_s(MathPrecision.FP16) * device.compute_efficiency
    side_ops = 0.0
    if op.kind is OpKind.MATMUL:
        compute = Affine(op.flops / matrix_ops_per_s)
        side_ops = weight_side_vector_ops(op, device, precision)
        if side_ops:
            compute = compute + Affine(side_ops / device.vector_throughput_ops_per_s)
    elif op.kind is OpKind.ATTENTION:
        compute = ctx_affine(op, op.flops / attn_ops_per_s, op.flops_per_ctx / attn_ops_per_s)
    elif op.kind is OpKind.VECTOR:
        compute = Affine(op.flops / device.vector_throughput_ops_per_s)
    else:
        compute = Affine(0.0)
    # activations stay in caches/VTCM; weights and the KV cache come from memory
    flops = ctx_affine(op, op.flops, op.flops_per_ctx)
    compute_component = (Component.NPU_COMPUTE if isinstance(device, NpuDevice)
                         else Component.CPU_COMPUTE if isinstance(device, CpuDevice) else Component.GPU_COMPUTE)
    # the dequantisation (or rescaling) ops cost energy like the others: an assumption, since a
    # vector op on CUDA cores or HVX costs more than a tensor-core FLOP, so this is a lower bound
    energy = ((compute_component, ctx_affine(op, op.flops + side_ops, op.flops_per_ctx).scaled(device.energy_per_op_j)),)
    # memory energy: see MappedStep
    return MappedOp(
        name=op.name, op_class=op.op_class.value, device=device_name, unit=device_name, layers=op.layers,
        overhead_s=device.kernel_overhead_s, compute_s=compute, tier_bytes=weight_and_kv_bytes(op, sources, kv_tier),
        energy_j=energy,
        flops=flops,
        kv_tier=kv_tier if op.kv_write_bytes else "", kv_write_bytes=op.kv_write_bytes,
    )
