"""Edge and datacenter GPUs and NPUs, modelled to explain measurements, not to fit them.

A processor runs each op as one kernel: a fixed launch cost, then the longer of its
compute time (peak throughput for the precision x achieved fraction) and its memory time
(bytes / achievable bandwidth of the tier it reads). Power is idle + active (clocks up
while kernels run) + energy per operation + the memory's energy per bit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from slmsim.core.quantity import (
    FROZEN,
    Area,
    Capacity,
    EnergyPerOp,
    Frequency,
    Length,
    Power,
    Throughput,
    Time,
)


class MathPrecision(StrEnum):
    """The precision a matrix engine computes in (weights are dequantised to it)."""

    INT4 = "int4"
    INT8 = "int8"
    FP8 = "fp8"
    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"


class _Processor(BaseModel):
    model_config = FROZEN

    description: str = Field("", description="free text about the device")
    memory: str = Field(description="name of the memory tier (under `memories:`) holding the weights (and the KV cache)")
    kv_memory: str | None = Field(None, description="memory tier of the KV cache (default: memory)")
    clock_hz: Frequency | None = Field(
        None, alias="clock", description="clock the throughput figures hold at, e.g. '625 MHz' (informative)",
    )
    matrix_throughput: dict[MathPrecision, Throughput] = Field(
        description="dense peak of the matrix engine per precision, e.g. {fp16: '10 TFLOPS', int8: '20 TOPS'}",
        min_length=1,
    )
    vector_throughput_ops_per_s: Throughput = Field(
        alias="vector_throughput", description="peak of the vector/SIMT units (norms, softmax, dequant), e.g. '1 TFLOPS'"
    )
    compute_efficiency: float = Field(
        gt=0, le=1, description="achieved fraction of matrix peak on large GEMMs (0-1]"
    )
    kernel_overhead_s: Time = Field(
        alias="kernel_overhead", description="fixed cost per kernel (launch + sync + tail), e.g. '5 us'"
    )
    step_overhead_s: Time = Field(
        0.0, alias="step_overhead",
        description="fixed cost per model step outside the kernels (sampling, host sync, runtime), e.g. '2 ms'",
    )
    dequant_ops_per_weight: float = Field(
        0.0, ge=0, description="vector ops to dequantise one low-bit weight (0 when the matrix engine takes it natively)"
    )
    idle_power_w: Power = Field(alias="idle_power", description="board/device power when idle, e.g. '5 W'")
    active_power_w: Power = Field(
        alias="active_power", description="extra power while kernels run (clocks up, static of busy units), e.g. '3 W'"
    )
    energy_per_op_j: EnergyPerOp = Field(
        alias="energy_per_op", description="dynamic energy per arithmetic op at the matrix precision, e.g. '0.5 pJ/op'"
    )
    max_power_w: Power | None = Field(None, alias="max_power", description="TDP / power-mode cap, e.g. '15 W'")
    technology_node_m: Length | None = Field(
        None, alias="technology_node", description="process node, e.g. '8 nm' (informative)",
    )
    area_mm2: Area | None = Field(
        None, alias="area", description="die area counted in the system area, e.g. '200 mm^2'; none: the area is unknown",
    )

    @property
    def kv_tier(self) -> str:
        return self.kv_memory or self.memory

    def matrix_peak_ops_per_s(self, precision: MathPrecision) -> float:
        """Peak for `precision`; an engine without it runs at the next wider precision it has."""
        order = [MathPrecision.INT4, MathPrecision.INT8, MathPrecision.FP8, MathPrecision.FP16,
                 MathPrecision.BF16, MathPrecision.FP32]
        for p in order[order.index(precision):]:
            if p in self.matrix_throughput:
                return self.matrix_throughput[p]
        return min(self.matrix_throughput.values())


class GpuDevice(_Processor):
    """A GPU (Jetson Orin class at the edge; A100/H100 as datacenter reference points)."""

    kind: Literal["gpu"] = Field(
        "gpu", description="`gpu`: a GPU (SIMT cores + matrix engine, kernels launched per op)",
    )


class NpuDevice(_Processor):
    """An NPU (Qualcomm Hexagon class): graph-compiled, so per-op overhead is small."""

    kind: Literal["npu"] = Field("npu", description="`npu`: a neural processing unit (fused graph, matrix engine)")
    local_memory_bytes: Capacity | None = Field(
        None, alias="local_memory", description="tightly coupled SRAM (VTCM), e.g. '8 MiB'"
    )
