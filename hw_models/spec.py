"""The hardware system spec: named devices and memory tiers, plus where phases run."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from hw_models.cim import CimAccelerator
from hw_models.memory import DramTier, HybridBondedDramTier, SramTier
from hw_models.processor import GpuDevice, NpuDevice
from slmsim_core.quantity import FROZEN

Device = Annotated[CimAccelerator | GpuDevice | NpuDevice, Field(discriminator="kind")]
Memory = Annotated[SramTier | DramTier | HybridBondedDramTier, Field(discriminator="kind")]


class Placement(BaseModel):
    """Which device runs each phase (default: the first device listed)."""

    model_config = FROZEN

    prefill: str | None = None
    decode: str | None = None


class HardwareSpec(BaseModel):
    model_config = FROZEN

    name: str
    description: str = ""
    devices: dict[str, Device] = Field(min_length=1)
    memories: dict[str, Memory] = Field(min_length=1)
    placement: Placement = Placement()

    def device_for(self, phase: str) -> str:
        chosen = getattr(self.placement, phase)
        return chosen if chosen is not None else next(iter(self.devices))
