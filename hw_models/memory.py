"""Memory tiers: on-chip SRAM, DRAM (LPDDR/DDR/HBM) and hybrid-bonded 3D DRAM.

Each tier states a peak bandwidth (or the physical figures it follows from), the fraction
of that peak a streaming reader achieves, the energy per bit moved, capacity and the
power it draws just by being on. Peak and achievable are both exposed so a user sees
which one a result depends on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from slmsim.core.quantity import (
    FROZEN,
    Area,
    Bandwidth,
    BitRate,
    Capacity,
    EnergyPerBit,
    Length,
    Power,
)


class DramTechnology(StrEnum):
    LPDDR4 = "lpddr4"
    LPDDR4X = "lpddr4x"
    LPDDR5 = "lpddr5"
    LPDDR5X = "lpddr5x"
    DDR4 = "ddr4"
    DDR5 = "ddr5"
    HBM2 = "hbm2"
    HBM2E = "hbm2e"
    HBM3 = "hbm3"
    HBM3E = "hbm3e"
    GDDR6 = "gddr6"
    GDDR6X = "gddr6x"


class _Tier(BaseModel):
    model_config = FROZEN

    description: str = Field("", description="free text about the tier")
    capacity_bytes: Capacity = Field(alias="capacity", description="capacity, e.g. '8 GiB'")
    energy_per_bit_j: EnergyPerBit = Field(alias="energy_per_bit", description="access energy, e.g. '7 pJ/bit'")
    achievable_fraction: float = Field(
        1.0, gt=0, le=1,
        description="fraction of peak bandwidth a long sequential stream achieves (0-1]",
    )
    background_power_w: Power = Field(
        0.0, alias="background_power", description="standby/refresh power while powered, e.g. '0.1 W'"
    )

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def achievable_bandwidth_bytes_per_s(self) -> float:
        return self.peak_bandwidth_bytes_per_s * self.achievable_fraction


class SramTier(_Tier):
    """On-chip SRAM (global buffer, VTCM, L2)."""

    kind: Literal["sram"] = Field("sram", description="`sram`: on-chip SRAM")
    bandwidth_bytes_per_s: Bandwidth = Field(alias="bandwidth", description="peak bandwidth, e.g. '1 TB/s'")
    area_mm2: Area = Field(0.0, alias="area", description="silicon area counted in the system area, e.g. '4 mm^2'")

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth_bytes_per_s


class DramTier(_Tier):
    """Off-chip DRAM: LPDDR4/5/5X, DDR, HBM."""

    kind: Literal["dram"] = Field("dram", description="`dram`: off-chip DRAM (LPDDR, DDR, HBM)")
    technology: DramTechnology = Field(description="DRAM standard (informative; the figures come from the fields)")
    bandwidth_bytes_per_s: Bandwidth = Field(alias="bandwidth", description="peak bandwidth, e.g. '68 GB/s'")
    bus_width_bits: int | None = Field(None, gt=0, description="bus width in bits (documentation; peak is `bandwidth`)")

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth_bytes_per_s


class HybridBondedDramTier(_Tier):
    """3D DRAM stacked on the logic die with hybrid bonding (SeDRAM, H2-LLM, ELMoE-3D).

    Peak bandwidth follows from the bonds: banks x pins per bank x rate per pin.
    """

    kind: Literal["hybrid_bonded_dram"] = Field(
        "hybrid_bonded_dram", description="`hybrid_bonded_dram`: DRAM dies bonded face to face on the logic die",
    )
    banks: int = Field(gt=0, description="independently accessed banks (each with its own pins)")
    pins_per_bank: int = Field(gt=0, description="data pins (bonds) per bank, e.g. 1024")
    pin_rate_bits_per_s: BitRate = Field(alias="pin_rate", description="data rate per pin, e.g. '0.4 Gb/s'")
    bond_pitch_m: Length | None = Field(None, alias="bond_pitch", description="hybrid-bond pitch, e.g. '3 um'")
    area_mm2: Area = Field(0.0, alias="area", description="silicon area counted in the system area, e.g. '4 mm^2'")

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        return self.banks * self.pins_per_bank * self.pin_rate_bits_per_s / 8.0

    @property
    def bank_bandwidth_bytes_per_s(self) -> float:
        return self.pins_per_bank * self.pin_rate_bits_per_s / 8.0


Memory = SramTier | DramTier | HybridBondedDramTier
