"""The hardware system spec: named devices and memory tiers, plus where phases run."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from slmsim.hw_models.cim import CimAccelerator
from slmsim.hw_models.memory import DramTier, HybridBondedDramTier, SramTier
from slmsim.hw_models.processor import CpuDevice, GpuDevice, NpuDevice
from slmsim.core.quantity import FROZEN, Bandwidth, EnergyPerBit, Time

Device = Annotated[CimAccelerator | GpuDevice | NpuDevice | CpuDevice, Field(discriminator="kind")]
Memory = Annotated[SramTier | DramTier | HybridBondedDramTier, Field(discriminator="kind")]


class Placement(BaseModel):
    """Which device runs each phase (default: the first device listed)."""

    model_config = FROZEN

    prefill: str | None = Field(
        None, description="device (under `devices:`) that runs prefill; default: the first device listed",
    )
    decode: str | None = Field(None, description="device (under `devices:`) that runs decode; default: the first device listed")


class Link(BaseModel):
    """A connection between two devices' memories (PCIe, chip-to-chip), e.g. for KV handover."""

    model_config = FROZEN

    between: tuple[str, str] = Field(description="the two device names it connects")
    bandwidth_bytes_per_s: Bandwidth = Field(alias="bandwidth", description="e.g. '16 GB/s'")
    energy_per_bit_j: EnergyPerBit = Field(alias="energy_per_bit", description="e.g. '5 pJ/bit'")
    latency_s: Time = Field(0.0, alias="latency", description="fixed cost per transfer, e.g. '5 us'")


class HardwareSpec(BaseModel):
    model_config = FROZEN

    name: str = Field(description="name of the design, shown in outputs and reports")
    description: str = Field("", description="one line on what the design is (shown by `slmsim presets`)")
    devices: dict[str, Device] = Field(
        min_length=1, description="compute devices by name, each with a `kind:` (gpu, npu, cim_accelerator)",
    )
    memories: dict[str, Memory] = Field(
        min_length=1, description="memory tiers by name, each with a `kind:` (sram, dram, hybrid_bonded_dram)",
    )
    placement: Placement = Field(
        Placement(), description="which device runs prefill and which decode (default: the first device listed)",
    )
    links: dict[str, Link] = Field(
        default_factory=dict, description="links between devices by name (KV handover when prefill and decode run on different devices)",
    )

    def link_between(self, a: str, b: str) -> tuple[str, Link] | None:
        for name, link in self.links.items():
            if set(link.between) == {a, b}:
                return name, link
        return None

    def device_for(self, phase: str) -> str:
        chosen = getattr(self.placement, phase)
        return chosen if chosen is not None else next(iter(self.devices))
