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
    FP4 = "fp4"  # a native FP4 engine (Blackwell); stated so fp4 weight formats know it is there
    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"


class HostCpu(BaseModel):
    """The CPU that launches a GPU's or NPU's kernels (a software stack's launch cost runs here)."""

    model_config = FROZEN

    core: str = Field(description="core microarchitecture, e.g. 'cortex-a78ae', 'neoverse-v3ae', 'zen5'")
    cores: int = Field(gt=0, description="CPU cores")
    clock_hz: Frequency = Field(alias="clock", description="peak clock of the cores, e.g. '2.2 GHz'")
    relative_ipc: float = Field(
        1.0, gt=0, le=4,
        description="single-thread work per cycle relative to a Cortex-A78 (launch paths are single-threaded)")

    @property
    def launch_rate_hz(self) -> float:
        """Cycles per second of A78-equivalent single-thread work: what a launch cost scales with."""
        return self.clock_hz * self.relative_ipc


class _Processor(BaseModel):
    model_config = FROZEN

    description: str = Field("", description="free text about the device")
    device_class: str | None = Field(
        None, description="class of device a software stack's kernel costs are stated for, e.g. 'jetson-orin'")
    host_cpu: HostCpu | None = Field(None, description="the CPU that launches this device's kernels")
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
        ge=1e-3, le=1, description="achieved fraction of matrix peak on large GEMMs [0.001, 1]"
    )
    kernel_overhead_s: Time = Field(
        alias="kernel_overhead", description="fixed cost per kernel (launch + sync + tail), e.g. '5 us'"
    )
    step_overhead_s: Time = Field(
        0.0, alias="step_overhead",
        description="fixed cost per model step outside the kernels (sampling, host sync, runtime), e.g. '2 ms'",
    )
    dequant_ops_per_weight: float = Field(
        0.0, ge=0, le=1000, description="vector ops to dequantise one low-bit weight (0 when the matrix engine takes it "
                                        "natively; at most 1000)"
    )
    dequant_token_tile: int | None = Field(
        None, gt=0, le=4096,
        description="tokens a tiled GEMM's output tile holds: the kernel dequantises each weight once per tile of "
                    "this many token rows (llama.cpp Metal's kernel_mul_mm: 32), so a GEMM of n token rows (a prefill "
                    "pass, a large decode batch) pays ceil(n / tile) x dequant_ops_per_weight per weight; none: once "
                    "per weight per GEMM",
    )
    idle_power_w: Power = Field(alias="idle_power", description="board/device power when idle, e.g. '5 W'")
    idle_power_on: Literal["board", "chip"] = Field(
        "board", description="where `idle_power` is drawn, for `--energy-boundary`: `board` (a measured device's "
                             "board or module idle, the default) or `chip` (a proposed die's own leakage and clocks)")
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
        if precision not in order:  # fp4: its own peak, else the fp8 engine's (never the integer ones')
            if precision in self.matrix_throughput:
                return self.matrix_throughput[precision]
            precision = MathPrecision.FP8
        for p in order[order.index(precision):]:
            if p in self.matrix_throughput:
                return self.matrix_throughput[p]
        return min(self.matrix_throughput.values())


class GpuDevice(_Processor):
    """A GPU (Jetson Orin class at the edge; A100/H100 as datacenter reference points)."""

    kind: Literal["gpu"] = Field(
        "gpu", description="`gpu`: a GPU (SIMT cores + matrix engine, kernels launched per op)",
    )
    sm_count: int | None = Field(
        None, gt=0, description="streaming multiprocessors (NVIDIA) / GPU cores (Apple): units a kernel spreads over")


class NpuDevice(_Processor):
    """An NPU (Qualcomm Hexagon class): graph-compiled, so per-op overhead is small."""

    kind: Literal["npu"] = Field("npu", description="`npu`: a neural processing unit (fused graph, matrix engine)")
    local_memory_bytes: Capacity | None = Field(
        None, alias="local_memory", description="tightly coupled SRAM (VTCM), e.g. '8 MiB'"
    )


class DotProductIsa(StrEnum):
    """The int8 dot-product instructions a CPU core has (what llama.cpp's CPU kernels use)."""

    NEON = "neon"  # no dot product: widening multiply-accumulate
    NEON_DOTPROD = "neon-dotprod"  # Armv8.2 SDOT/UDOT: 4 int8 MACs per 32-bit lane
    NEON_I8MM = "neon-i8mm"  # Armv8.6 SMMLA: 2x8 by 8x2 int8 matrix multiply per 128-bit op
    AVX2 = "avx2"  # no VNNI: vpmaddubsw + vpmaddwd
    AVX_VNNI = "avx-vnni"  # 256-bit VPDPBUSD
    AVX512_VNNI = "avx512-vnni"  # 512-bit VPDPBUSD


class CpuDevice(_Processor):
    """A CPU running the model itself (llama.cpp on a Raspberry Pi or a laptop).

    The matrix and vector peaks are stated in the preset and follow from the fields below
    (cores x SIMD lanes x ops per lane x pipes x clock); a test re-derives them. The CPU is
    its own host: a stack's per-kernel cost (a thread barrier per graph node) runs on it.
    """

    kind: Literal["cpu"] = "cpu"
    cores: int = Field(gt=0, description="cores used for inference")
    core: str = Field(description="core microarchitecture, e.g. 'cortex-a76', 'zen5'")
    simd_width_bits: int = Field(gt=0, description="SIMD register width per core, e.g. 128 (NEON), 512 (AVX-512)")
    simd_pipes: int = Field(gt=0, description="SIMD pipes per core that issue the dot-product / FMA instruction")
    dot_product_isa: DotProductIsa = Field(description="the int8 dot-product instructions of a core (sets ops per lane)")
    l2_bytes_per_core: Capacity | None = Field(None, alias="l2_per_core", description="L2 cache of each core")
    last_level_cache_bytes: Capacity | None = Field(None, alias="last_level_cache", description="shared last-level cache (L3 / SLC)")
    memory_channels: int | None = Field(None, gt=0, description="DRAM channels (of the bus width the memory states)")
    relative_ipc: float = Field(
        1.0, gt=0, le=4, description="single-thread work per cycle relative to a Cortex-A78 (see HostCpu)")

    def derived_int8_ops_per_s(self) -> float:
        """Int8 peak from the ISA: a dot-product instruction does 4 MACs (8 ops) per 32-bit lane."""
        assert self.clock_hz is not None
        lanes32 = self.simd_width_bits / 32
        per_lane = 8.0 if self.dot_product_isa not in (DotProductIsa.NEON, DotProductIsa.AVX2) else 4.0
        if self.dot_product_isa is DotProductIsa.NEON_I8MM:
            per_lane = 16.0  # SMMLA: 32 MACs per 128-bit instruction = 8 MACs per 32-bit lane
        return self.cores * self.simd_pipes * lanes32 * per_lane * self.clock_hz

    def derived_fp32_flops(self) -> float:
        """FP32 FMA peak: 2 flops per 32-bit lane per pipe per cycle."""
        assert self.clock_hz is not None
        return self.cores * self.simd_pipes * (self.simd_width_bits / 32) * 2.0 * self.clock_hz

    @property
    def launch_rate_hz(self) -> float:
        assert self.clock_hz is not None
        return self.clock_hz * self.relative_ipc
