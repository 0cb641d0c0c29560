"""Default DRAM channel timing and IDD currents per technology (banked DES).

A DRAM tier that leaves `timing` out, or gives only some of its fields, gets the rest from
the row of its `technology` here. LPDDR5 and LPDDR5X keep `DramTiming`'s own defaults
(LPDDR5-6400, hw_models/memory.py). Every other row states its sources in `SOURCES`:

- timing (cycles x tCK, in ns): Ramulator 2.0 (CMU-SAFARI/ramulator2 at c5b1c3a,
  python/ramulator/dram/*.py, presets and JEDEC secondary-timing tables as resolved by
  `resolve_secondary_timings`), except LPDDR4, which Ramulator 2.0 lacks: Ramulator 1
  (CMU-SAFARI/ramulator at 214f635, src/LPDDR4.h speed table LPDDR4_3200, from JESD209-4
  table 89, and src/LPDDR4.cpp refresh tables);
- currents: DRAMsim3 (umd-memsys/DRAMsim3 at 2981759, configs/*.ini `[power]`), one file
  per technology; DRAMsim3 gives one VDD rail per part, which is kept.

Assumptions, each stated in the row's source text:

- a channel is what an independent command bus drives: an HBM pseudo channel (64 bits on
  HBM2, 32 on HBM3), a x16 GDDR6 or LPDDR4 channel, a 64-bit DDR4 channel of four x16
  devices in lock step and a 32-bit DDR5 sub-channel of two; a lock-step channel's page
  and currents are the devices' summed, an HBM pseudo channel's currents are the DRAMsim3
  128-bit channel's divided by its share of the pins;
- HBM3 and DDR5 have no DRAMsim3 file: they take HBM2's and DDR4's currents per pin;
- a per-bank refresh current no source gives is derived so that refreshing every bank once
  with REFpb draws the charge of one REFab: IDD5PB = IDD3N + (IDD5AB - IDD3N) x tRFCab /
  (banks x tRFCpb);
- DDR4 and DDR5 refresh all banks at once (REFab, as Ramulator 2.0 models them); their
  `tRFCpb` (set to tRFC) and `IDD5PB` are then unused.
"""

from __future__ import annotations

from typing import Any

MA = 1e-3  # A per mA


def _idd5pb(*, idd3n: float, idd5ab: float, trfc: float, trfcpb: float, banks: int) -> float:
    """Per-bank refresh current with the charge of one all-bank refresh (assumption above)."""
    return idd3n + (idd5ab - idd3n) * trfc / (banks * trfcpb)


def _row(*, width: int, banks: int, page: float, burst: float, trcd: float, trp: float, tras: float, tcl: float,
         trrd: float, tfaw: float, twtr: float, refresh: str, trfc: float, trfcpb: float, trefi: float,
         idd0: float, idd2n: float, idd3n: float, idd4r: float, idd4w: float, idd5ab: float, vdd: float,
         scale: float = 1.0) -> dict[str, Any]:
    """One technology's `DramTiming` fields by field name, as a spec would write them (times
    given in ns and currents in mA as the sources print them; `scale` multiplies every
    current: devices in lock step, or a pseudo channel's share of a channel)."""
    i = {k: v * scale * MA for k, v in dict(idd0=idd0, idd2n=idd2n, idd3n=idd3n, idd4r=idd4r, idd4w=idd4w,
                                             idd5ab=idd5ab).items()}
    def ns(x: float) -> str:
        return f"{x} ns"

    return {
        "channel_width_bits": width, "banks_per_channel": banks, "page_bytes": f"{page:g} B",
        "burst_bytes": f"{burst:g} B", "trcd_s": ns(trcd), "trp_s": ns(trp), "tras_s": ns(tras), "tcl_s": ns(tcl),
        "trrd_s": ns(trrd), "tfaw_s": ns(tfaw), "twtr_s": ns(twtr), "refresh": refresh, "trfc_s": ns(trfc),
        "trfcpb_s": ns(trfcpb), "trefi_s": ns(trefi),
        "idd0_a": i["idd0"], "idd2n_a": i["idd2n"], "idd3n_a": i["idd3n"], "idd4r_a": i["idd4r"],
        "idd4w_a": i["idd4w"], "idd5_a": i["idd5ab"],
        "idd5pb_a": _idd5pb(idd3n=i["idd3n"], idd5ab=i["idd5ab"], trfc=trfc, trfcpb=trfcpb, banks=banks),
        "vdd_v": f"{vdd:g} V",
    }


# DRAMsim3 configs/HBM2_8Gb_x128.ini [power], mA, of one 128-bit legacy channel at VDD 1.2 V
_HBM2_IDD = dict(idd0=65.0, idd2n=40.0, idd3n=55.0, idd4r=390.0, idd4w=500.0, idd5ab=250.0, vdd=1.2)
# DRAMsim3 configs/DDR4_8Gb_x16_3200.ini [power], mA, of one x16 device at VDD 1.2 V
_DDR4_IDD = dict(idd0=95.0, idd2n=37.0, idd3n=56.0, idd4r=302.0, idd4w=278.0, idd5ab=280.0, vdd=1.2)

# HBM2 (and HBM2E): Ramulator 2.0 HBM2_8Gb (64-bit pseudo channel, 4 bank groups x 4 banks,
# 128 columns = 1 KiB page, BL4 = 32 B) at HBM2_2000Mbps, tCK 1 ns: nRCDRD 14, nRP 14, nRAS 34,
# nCL 14, nRRDS 4, nFAW 15, nWTRS 6, nRFC 350, nRFCpb 160, nREFI 3900
_HBM2 = _row(width=64, banks=16, page=1024.0, burst=32.0, trcd=14.0, trp=14.0, tras=34.0, tcl=14.0, trrd=4.0,
             tfaw=15.0, twtr=6.0, refresh="per_bank", trfc=350.0, trfcpb=160.0, trefi=3900.0, scale=0.5,
             **_HBM2_IDD)
# HBM3 (and HBM3E): Ramulator 2.0 HBM3_16Gb_8hi (32-bit pseudo channel, 2 stack IDs x 4 bank
# groups x 4 banks, 256 columns = 1 KiB page, BL8 = 32 B) at HBM3_6400Mbps, tCK 0.625 ns:
# nRCDRD 31, nRP 26, nRAS 45, nCL 20, nRRDS 4, nFAW 24, nWTRS 7, nRFCpb 320, tRFC 350 ns, tREFI 3.9 us
_HBM3 = _row(width=32, banks=32, page=1024.0, burst=32.0, trcd=19.375, trp=16.25, tras=28.125, tcl=12.5,
             trrd=2.5, tfaw=15.0, twtr=4.375, refresh="per_bank", trfc=350.0, trfcpb=200.0, trefi=3900.0,
             scale=0.25, **_HBM2_IDD)
# GDDR6 (and GDDR6X): Ramulator 2.0 GDDR6_8Gb_x16 (16-bit channel, 4 x 4 banks, 1,024 columns =
# 2 KiB page, BL16 = 32 B) at GDDR6_14000_1350mV_double, tCK 0.57 ns: nRCDRD 27, nRP 27, nRAS 53,
# nCL 24, nRRDS 8, nFAW 29, nWTRS 9, nRFCab 211, nRFCpb 106, nREFI 3333;
# currents: DRAMsim3 configs/GDDR6_8Gb_x16.ini, VDD 1.35 V
_GDDR6 = _row(width=16, banks=16, page=2048.0, burst=32.0, trcd=15.39, trp=15.39, tras=30.21, tcl=13.68,
              trrd=4.56, tfaw=16.53, twtr=5.13, refresh="per_bank", trfc=120.27, trfcpb=60.42, trefi=1899.81,
              idd0=71.0, idd2n=60.0, idd3n=61.0, idd4r=248.0, idd4w=231.0, idd5ab=286.0, vdd=1.35)
# DDR4: Ramulator 2.0 DDR4_8Gb_x16 (2 bank groups x 4 banks, 1,024 columns = 2 KiB page per
# device; four devices in lock step: 8 KiB page, 64-bit BL8 = 64 B) at DDR4_3200AA, tCK 0.625 ns:
# nRCD 22, nRP 22, nRAS 52, nCL 22, nRRDS 9, nFAW 48, nWTRS 4, tRFC 360 ns, tREFI 7.8 us
_DDR4 = _row(width=64, banks=8, page=8192.0, burst=64.0, trcd=13.75, trp=13.75, tras=32.5, tcl=13.75,
             trrd=5.625, tfaw=30.0, twtr=2.5, refresh="all_bank", trfc=360.0, trfcpb=360.0, trefi=7800.0,
             scale=4.0, **_DDR4_IDD)
# DDR5: Ramulator 2.0 DDR5_16Gb_x16 (4 x 4 banks, 2 KiB page per device; two devices per 32-bit
# sub-channel: 4 KiB page, BL16 = 64 B) at DDR5_5600AN, tCK 0.357 ns: nRCD 40, nRP 40, nRAS 90,
# nCL 40, nRRDS 14, nFAW 70, nWTRS 5, tRFC1 295 ns, tREFI 3.9 us
_DDR5 = _row(width=32, banks=16, page=4096.0, burst=64.0, trcd=14.28, trp=14.28, tras=32.13, tcl=14.28,
             trrd=4.998, tfaw=24.99, twtr=1.785, refresh="all_bank", trfc=295.239, trfcpb=295.239, trefi=3900.225,
             scale=2.0, **_DDR4_IDD)
# LPDDR4 (and LPDDR4X): Ramulator 1 LPDDR4_8Gb_x16 (16-bit channel, 8 banks, 1,024 columns =
# 2 KiB page, BL16 = 32 B) at LPDDR4_3200, tCK 0.625 ns: nRCD 29, nRPpb 27, nRAS 68, nCL 32,
# nRRD 16, nFAW 64, nWTR 16, nRFCab 288, nRFCpb 144, nREFI 6247;
# currents: DRAMsim3 configs/LPDDR4_8Gb_x16_2400.ini, VDD 1.2 V
_LPDDR4 = _row(width=16, banks=8, page=2048.0, burst=32.0, trcd=18.125, trp=16.875, tras=42.5, tcl=20.0,
               trrd=10.0, tfaw=40.0, twtr=10.0, refresh="per_bank", trfc=180.0, trfcpb=90.0, trefi=3904.375,
               idd0=80.0, idd2n=34.0, idd3n=47.0, idd4r=243.0, idd4w=228.0, idd5ab=280.0, vdd=1.2)

_RAM2 = "Ramulator 2.0 (CMU-SAFARI/ramulator2 c5b1c3a)"
_DSIM = "DRAMsim3 (umd-memsys/DRAMsim3 2981759)"
_REFPB = "IDD5PB derived (one REFab's charge over banks x REFpb; assumption)"

# technology value -> DramTiming fields by name; LPDDR5/LPDDR5X: the class defaults
BY_TECHNOLOGY: dict[str, dict[str, Any]] = {
    "hbm2": _HBM2, "hbm2e": _HBM2, "hbm3": _HBM3, "hbm3e": _HBM3,
    "gddr6": _GDDR6, "gddr6x": _GDDR6, "ddr4": _DDR4, "ddr5": _DDR5, "lpddr4": _LPDDR4, "lpddr4x": _LPDDR4,
}

SOURCES: dict[str, str] = {
    "hbm2": f"timing: {_RAM2} HBM2_8Gb at HBM2_2000Mbps, 64-bit pseudo channel; currents: {_DSIM} "
            f"HBM2_8Gb_x128 halved (a pseudo channel is half a 128-bit channel; assumption); {_REFPB}",
    "hbm3": f"timing: {_RAM2} HBM3_16Gb_8hi at HBM3_6400Mbps, 32-bit pseudo channel; currents: {_DSIM} "
            f"HBM2_8Gb_x128 per pin (a quarter; assumption: no HBM3 current table is sourced); {_REFPB}",
    "gddr6": f"timing: {_RAM2} GDDR6_8Gb_x16 at GDDR6_14000_1350mV_double; currents: {_DSIM} GDDR6_8Gb_x16; {_REFPB}",
    "ddr4": f"timing: {_RAM2} DDR4_8Gb_x16 at DDR4_3200AA; 64-bit channel of four x16 devices; currents: "
            f"{_DSIM} DDR4_8Gb_x16_3200 x 4; all-bank refresh",
    "ddr5": f"timing: {_RAM2} DDR5_16Gb_x16 at DDR5_5600AN; 32-bit sub-channel of two x16 devices; currents: "
            f"{_DSIM} DDR4_8Gb_x16_3200 x 2 (assumption: no DDR5 current table is sourced); all-bank refresh",
    "lpddr4": "timing: Ramulator 1 (CMU-SAFARI/ramulator 214f635) LPDDR4_8Gb_x16 at LPDDR4_3200 (JESD209-4 "
              f"table 89); currents: {_DSIM} LPDDR4_8Gb_x16_2400; {_REFPB}",
    "lpddr5": "DramTiming defaults: Ramulator 2.0 LPDDR5_16Gb_x16 at LPDDR5_6400; currents: DRAMPower's "
              "LPDDR5 memspec (an example part)",
}
for _alias, _base in (("hbm2e", "hbm2"), ("hbm3e", "hbm3"), ("gddr6x", "gddr6"), ("lpddr4x", "lpddr4"),
                      ("lpddr5x", "lpddr5")):
    SOURCES[_alias] = f"as {_base} (assumption: the same core timing at a higher pin rate): " + SOURCES[_base]


def default_fields(technology: str) -> dict[str, Any]:
    """The `DramTiming` fields (by name) a tier of `technology` defaults to; {} for LPDDR5/5X."""
    return dict(BY_TECHNOLOGY.get(str(technology), {}))
