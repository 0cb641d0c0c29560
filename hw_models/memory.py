"""Memory tiers: on-chip SRAM, DRAM (LPDDR/DDR/HBM) and hybrid-bonded 3D DRAM.

Each tier states a peak bandwidth (or the physical figures it follows from), the fraction
of that peak a streaming reader achieves, the energy per bit moved, capacity and the
power it draws just by being on. Peak and achievable are both exposed so a user sees
which one a result depends on.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from slmsim.core.quantity import (
    FROZEN,
    Area,
    Bandwidth,
    BitRate,
    Capacity,
    EnergyPerBit,
    Length,
    Power,
    Time,
    Voltage,
)
from slmsim.hw_models.dram_timing import SOURCES, default_fields


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


class DramTiming(BaseModel):
    """Timing and IDD currents of one DRAM channel (banked DES); optional, defaults by `technology`.

    Used by the `banked` DES memory model (`simulator/memory_system.py`). A DRAM tier's
    defaults are its technology's row in `hw_models/dram_timing.py` (HBM2/2E, HBM3/3E,
    GDDR6/6X, DDR4, DDR5, LPDDR4/4X: Ramulator timing, DRAMsim3 currents; docs/engines.md
    lists them); fields a spec gives override that row. The defaults below, LPDDR5-6400 x16,
    16 Gb, are LPDDR5's and LPDDR5X's row and a hybrid-bonded bank's core:

    - organisation (16 banks in 4 bank groups, 1,024 columns of 16 bits = 2 KiB page, BL16)
      and timing: Ramulator 2.0 `src/dram/impl/LPDDR5.cpp`, presets `LPDDR5_16Gb_x16` and
      `LPDDR5_6400` (nRCD 15, nRPpb 15, nRAS 34, nFAW 16, nRRD 4, nCL 20 at tCK 1.25 ns) and its
      refresh tables (tRFCab 280 ns and tRFCpb 140 ns for 16 Gb, tREFI 3,906 ns), which
      follow JESD209-5; per-bank refresh by default (JESD209-5 REFpb);
    - currents and supply: DRAMPower's LPDDR5 memspec (tukl-msd/DRAMPower,
      tests/tests_drampower/resources/lpddr5.json: IDD0 56.25 mA, IDD2N 33.75, IDD3N 35,
      IDD4R 157.5, IDD4W 135, IDD5 118, IDD5PB 74, VDD 1.2 V), an example part, not a datasheet.

    A tier's own `achievable_fraction` and `energy_per_bit` still describe a long sequential
    read stream; the banked model reproduces both for that stream and derives from these
    figures what changes for other access patterns (docs/engines.md).
    """

    model_config = FROZEN

    channels: int | None = Field(None, gt=0, description="independent channels; default: bus width / channel width (DRAM), banks (hybrid-bonded)")
    channel_width_bits: int = Field(16, gt=0, description="data pins per channel (LPDDR5: x16)")
    banks_per_channel: int = Field(16, gt=0, description="banks that can hold an open row at once, per channel")
    page_bytes: Capacity = Field(2048.0, alias="page", description="row (page) size per channel, e.g. '2 KiB'")
    burst_bytes: Capacity = Field(32.0, alias="burst", description="bytes per burst (LPDDR5 BL16 x16 = 32 B)")
    trcd_s: Time = Field(18.75e-9, alias="tRCD", description="activate to read/write")
    trp_s: Time = Field(18.75e-9, alias="tRP", description="precharge period (per bank)")
    tras_s: Time = Field(42.5e-9, alias="tRAS", description="activate to precharge, minimum")
    tcl_s: Time = Field(25e-9, alias="tCL", description="read latency")
    trrd_s: Time = Field(5e-9, alias="tRRD", description="activate to activate, different banks")
    tfaw_s: Time = Field(20e-9, alias="tFAW", description="four-activate window")
    twtr_s: Time = Field(12.5e-9, alias="tWTR", description="write to read turnaround")
    refresh: Literal["per_bank", "all_bank"] = Field(
        "per_bank", description="per_bank: one bank at a time (REFpb, what LPDDR5 controllers use to hide refresh); "
                                "all_bank: the whole channel pauses for tRFC every tREFI")
    trfc_s: Time = Field(280e-9, alias="tRFC", description="all-bank refresh cycle (tRFCab)")
    trfcpb_s: Time = Field(140e-9, alias="tRFCpb", description="per-bank refresh cycle (tRFCpb)")
    trefi_s: Time = Field(3.906e-6, alias="tREFI", description="refresh interval (each bank is refreshed once per tREFI)")
    idd0_a: float = Field(56.25e-3, gt=0, description="one-bank activate-precharge current, A")
    idd2n_a: float = Field(33.75e-3, gt=0, description="precharge standby current, A")
    idd3n_a: float = Field(35e-3, gt=0, description="active standby current, A")
    idd4r_a: float = Field(157.5e-3, gt=0, description="burst read current, A")
    idd4w_a: float = Field(135e-3, gt=0, description="burst write current, A")
    idd5_a: float = Field(118e-3, gt=0, description="all-bank refresh current, A")
    idd5pb_a: float = Field(74e-3, gt=0, description="per-bank refresh current, A")
    vdd_v: Voltage = Field(1.2, alias="vdd", description="core supply of the currents above")


class _Tier(BaseModel):
    model_config = FROZEN

    description: str = Field("", description="free text about the tier")
    capacity_bytes: Capacity = Field(alias="capacity", description="capacity, e.g. '8 GiB'")
    energy_per_bit_j: EnergyPerBit = Field(alias="energy_per_bit", description="access energy, e.g. '7 pJ/bit'")
    achievable_fraction: float = Field(
        1.0, ge=1e-3, le=1,
        description="fraction of peak bandwidth a long sequential stream achieves [0.001, 1]",
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
    technology: DramTechnology = Field(
        description="DRAM standard: picks the banked DES's timing defaults (docs/engines.md); bandwidth and energy "
                    "come from the fields")
    bandwidth_bytes_per_s: Bandwidth = Field(alias="bandwidth", description="peak bandwidth, e.g. '68 GB/s'")
    bus_width_bits: int | None = Field(None, gt=0, description="bus width in bits (documentation; peak is `bandwidth`)")
    timing: DramTiming = Field(
        DramTiming(),
        description="channel, bank and refresh timing (banked DES; section below); fields left out take the "
                    "technology's defaults (LPDDR5's shown below; HBM, GDDR6, DDR4/5, LPDDR4: docs/engines.md)")

    @model_validator(mode="before")
    @classmethod
    def _technology_timing(cls, data: Any) -> Any:
        """Fill the timing fields a spec leaves out from its technology's row (dram_timing.py)."""
        if not isinstance(data, dict) or isinstance(data.get("timing"), DramTiming):
            return data
        given = data.get("timing", {})
        base = default_fields(str(data.get("technology", "")))
        if not base or not isinstance(given, dict):
            return data  # LPDDR5/5X (the class defaults), an unknown technology or a malformed timing: as written
        merged = dict(given)
        for name, value in base.items():
            alias = DramTiming.model_fields[name].alias
            if name not in given and (alias is None or alias not in given):
                merged[alias or name] = value
        return {**data, "timing": merged}

    @property
    def timing_source(self) -> str:
        """Where this tier's DRAM timing and currents come from: its technology's row
        (`dram_timing.SOURCES`) and the fields the spec sets apart from it."""
        row = default_fields(str(self.technology))
        reference = DramTiming.model_validate({DramTiming.model_fields[k].alias or k: v for k, v in row.items()})
        return SOURCES.get(str(self.technology), "DramTiming defaults") + _own_fields(self.timing, reference)

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
    timing: DramTiming = Field(
        DramTiming(banks_per_channel=4),
        description="timing of each bonded bank (banked DES); default: a channel per bonded bank, of 4 sub-banks that can "
                    "hold open rows at once, with LPDDR5 core timing (assumption: one bank per channel could not hide its "
                    "row cycle and would reach ~0.50 of peak (0.498); ELMoE-3D's Ramulator-timed HB reaches ~0.97)")

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        return self.banks * self.pins_per_bank * self.pin_rate_bits_per_s / 8.0

    @property
    def bank_bandwidth_bytes_per_s(self) -> float:
        return self.pins_per_bank * self.pin_rate_bits_per_s / 8.0

    @property
    def timing_source(self) -> str:
        """Where a bonded bank's timing comes from (the field's default, then the spec's own fields)."""
        return ("a bonded bank: LPDDR5 core timing (" + SOURCES["lpddr5"] + "), 4 sub-banks (assumption)"
                + _own_fields(self.timing, DramTiming(banks_per_channel=4)))


def _own_fields(timing: DramTiming, reference: DramTiming) -> str:
    """'; set in the spec: a, b' for the timing fields that differ from `reference` ('' if none)."""
    def same(a: object, b: object) -> bool:
        return math.isclose(a, b, rel_tol=1e-9) if isinstance(a, float) and isinstance(b, float) else a == b

    own = [f.alias or name for name, f in DramTiming.model_fields.items()
           if not same(getattr(timing, name), getattr(reference, name))]
    return f"; set in the spec: {', '.join(own)}" if own else ""


Memory = SramTier | DramTier | HybridBondedDramTier
