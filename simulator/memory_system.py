"""The memory system of the op-level DES: channels with banks, rows, refresh and energy.

Two models (`--memory-model`):

- `ideal`: a tier is its achievable bandwidth split evenly over its channels; a request of
  b bytes on a channel takes b / (achievable bandwidth / channels). No banks, no rows, no
  refresh, no latency, and no prefetch beyond what the analytic engine assumes (an op's
  streams overlap its own compute). The op-level DES then reproduces the analytic engine.
- `banked` (default for the DES): every DRAM or hybrid-bonded channel has
  `banks_per_channel` banks of `page_bytes` rows and JEDEC-style timing (`DramTiming`).
  A request of b bytes read in contiguous runs of r bytes needs
  `b / min(r, page)` row activations; its service time on the channel is the longest of
    - the data bus: b / (peak channel bandwidth x bus efficiency),
    - the banks: activations x tRC' / banks, with tRC' = max(tRAS, tRCD + row data time) + tRP
      (a bank cannot open its next row before the last one is read and precharged),
    - the activate limits: activations x tFAW / 4 and activations x tRRD,
  plus tRCD + tCL when the channel was idle (the first data of a new stream), plus tWTR after
  a write. All-bank refresh blocks the channel for tRFC at the start of every tREFI window;
  a request's service is stretched around those windows exactly.

Calibration is kept: a tier's `achievable_fraction` is by definition what a long sequential
read stream achieves, so the bus efficiency is chosen such that the banked model gives a
sequential stream exactly that fraction (when the banks allow it: a channel of one bank
cannot hide its row cycle, and then reaches less; `sequential_fraction` says what it
reaches). Likewise `energy_per_bit` is the sequential stream's energy; the banked model
splits it DRAMPower-style into activate/precharge, read/write bursts (from IDD currents) and
I/O + interface (the rest), and charges each access pattern its own activations.

Requests are served first come, first served per channel (a controller that batches row
hits keeps a stream's locality while it interleaves streams, so runs are not broken by
interleaving). A transfer is interleaved evenly over all channels of its tier, so all
channels of a tier carry the same load: one representative channel is simulated and its
counters are multiplied by the channel count (the trace still has one track per channel).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The simulator does not import hw_models (tests/test_architecture.py): the hardware spec
# arrives as the object the mapper holds, and its tiers are read by their documented fields
# (`kind`, `timing`, `achievable_fraction`, ...; hw_models/memory.py). `Timing` is a
# `hw_models.memory.DramTiming`.
Timing = Any


class MemoryModel(StrEnum):
    IDEAL = "ideal"
    BANKED = "banked"


# vLLM's default KV block (paged attention): 16 tokens per block (docs.vllm.ai, `block_size`;
# vllm/config/cache.py CacheConfig.block_size = 16).
# A KV read streams each (layer, KV head, K|V) block contiguously, the blocks scattered, so no
# run is longer than one block's share of a stream (`MemorySystem.kv_block_bytes`), whether
# the read grows with the context or is constant (a cross-attention's encoder K/V, a chunk's
# earlier passes); a KV write appends one token to each of those streams.
KV_BLOCK_TOKENS = 16


@dataclass(frozen=True)
class ChannelSpec:
    """One channel of a tier as the DES sees it (all times in s, energies in J)."""

    tier: str
    channels: int
    ideal_bandwidth_bytes_per_s: float  # per channel: achievable / channels
    timing: Timing | None  # None: a plain bandwidth (SRAM, NoC, or the ideal model)
    peak_bandwidth_bytes_per_s: float = 0.0  # per channel
    bus_efficiency: float = 1.0
    energy_per_bit_j: float = 0.0
    act_energy_j: float = 0.0
    read_burst_energy_j: float = 0.0
    write_burst_energy_j: float = 0.0
    io_energy_per_bit_j: float = 0.0
    refresh_energy_j: float = 0.0
    background_power_w: float = 0.0
    sequential_fraction: float = 1.0  # of peak, what a long sequential read stream reaches here
    timing_source: str = ""  # where the timing and currents come from (the tier's `timing_source`)

    @property
    def banked(self) -> bool:
        return self.timing is not None

    @property
    def bus_bandwidth_bytes_per_s(self) -> float:
        return self.peak_bandwidth_bytes_per_s * self.bus_efficiency

    def row_cycle_s(self, row_bytes: float) -> float:
        """How long one activation keeps its bank: open, read `row_bytes`, precharge."""
        t = self.timing
        assert t is not None
        return max(t.tras_s, t.trcd_s + row_bytes / self.bus_bandwidth_bytes_per_s) + t.trp_s

    @property
    def bank_availability(self) -> float:
        """Fraction of time a bank can serve: per-bank refresh takes each bank tRFCpb per tREFI."""
        t = self.timing
        assert t is not None
        return 1.0 - t.trfcpb_s / t.trefi_s if t.refresh == "per_bank" else 1.0

    @property
    def channel_availability(self) -> float:
        """Fraction of time the channel can move data: all-bank refresh blocks it tRFC per
        tREFI; per-bank refresh blocks it only when it has a single bank."""
        t = self.timing
        assert t is not None
        if t.refresh == "all_bank":
            return 1.0 - t.trfc_s / t.trefi_s
        return self.bank_availability if t.banks_per_channel == 1 else 1.0

    def work_s(self, nbytes: float, run_bytes: float) -> tuple[float, float]:
        """(service time without latency or all-bank refresh, activations) of a request."""
        if not self.banked:
            return nbytes / self.ideal_bandwidth_bytes_per_s, 0.0
        t = self.timing
        assert t is not None
        row = min(run_bytes, t.page_bytes)
        acts = nbytes / row
        data = nbytes / self.bus_bandwidth_bytes_per_s
        avail = self.bank_availability
        if t.banks_per_channel == 1:
            data /= avail  # the one bank refreshing stops the channel
        return max(data, acts * self.row_cycle_s(row) / (t.banks_per_channel * avail), acts * t.tfaw_s / 4.0,
                   acts * t.trrd_s), acts

    def slowdown(self, run_bytes: float) -> float:
        """Mean service time per byte of a long stream of `run_bytes` runs, refresh included,
        over the ideal model's (what a processor-shared tier channel is charged per byte)."""
        if not self.banked:
            return 1.0
        t = self.timing
        assert t is not None
        probe = 64.0 * t.page_bytes
        work, _ = self.work_s(probe, run_bytes)
        blocked = 1.0 - t.trfc_s / t.trefi_s if t.refresh == "all_bank" else 1.0
        return work / blocked / (probe / self.ideal_bandwidth_bytes_per_s)

    def dynamic_energy_j(self, *, acts: float, read_bytes: float, write_bytes: float) -> float:
        """DRAMPower-style: activations, bursts and I/O, for this channel's counters."""
        assert self.timing is not None
        burst = self.timing.burst_bytes
        return (acts * self.act_energy_j + read_bytes / burst * self.read_burst_energy_j
                + write_bytes / burst * self.write_burst_energy_j
                + (read_bytes + write_bytes) * 8.0 * self.io_energy_per_bit_j)


def refresh_stretch(begin_s: float, work_s: float, trefi_s: float, trfc_s: float) -> float:
    """End of `work_s` of service started at `begin_s` on a channel that is blocked during
    [k tREFI, k tREFI + tRFC) for every k (all-bank refresh): exact, O(1)."""
    if work_s <= 0:
        return begin_s
    k = math.floor(begin_s / trefi_s)
    start = max(begin_s, k * trefi_s + trfc_s)
    first = (k + 1) * trefi_s - start  # available until the next refresh
    if work_s <= first:
        return start + work_s
    rest = work_s - first
    avail = trefi_s - trfc_s
    n = math.floor(rest / avail)
    rem = rest - n * avail
    if rem <= 1e-12 * avail:  # ends exactly where a refresh begins
        return (k + 1 + n) * trefi_s
    return (k + 1 + n) * trefi_s + trfc_s + rem


_RATES: dict[ChannelSpec, dict[float, tuple[float, float]]] = {}


def _shared_rates(spec: ChannelSpec) -> dict[float, tuple[float, float]]:
    """Service time and activations per byte by run length, shared by every `Channel` of one
    spec (a pure function of the spec: each op-level simulation makes new channels)."""
    rates = _RATES.get(spec)
    if rates is None:
        if len(_RATES) >= 256:
            _RATES.clear()
        rates = _RATES[spec] = {}
    return rates


@dataclass
class Channel:
    """A channel's state during one op-level simulation (first come, first served)."""

    spec: ChannelSpec
    free_s: float = 0.0
    used: bool = False
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    acts: float = 0.0
    busy_s: float = 0.0

    _rates: dict[float, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rates = _shared_rates(self.spec)
        t = self.spec.timing
        # the spec's timing, read once per channel (serve runs per transfer)
        self._timed = t is not None
        self._first_data_s = t.trcd_s + t.tcl_s if t is not None else 0.0
        self._twtr_s = t.twtr_s if t is not None else 0.0
        self._all_bank = t is not None and t.refresh == "all_bank"
        self._trefi_s = t.trefi_s if t is not None else 0.0
        self._trfc_s = t.trfc_s if t is not None else 0.0

    def serve(self, issue_s: float, nbytes: float, run_bytes: float, *, write: bool = False) -> tuple[float, float]:
        """Queue a request issued at `issue_s`; returns its (begin, end)."""
        free = self.free_s
        begin = issue_s if issue_s > free else free
        rate = self._rates.get(run_bytes)
        if rate is None:  # service time and activations are linear in the bytes for a given run length
            rate = self._rates[run_bytes] = self.spec.work_s(1.0, run_bytes)
        work, acts = nbytes * rate[0], nbytes * rate[1]
        if self._timed:
            if not self.used or begin > free:  # the channel was idle: first data after tRCD + tCL
                work += self._first_data_s
            if write:
                work += self._twtr_s
            end = refresh_stretch(begin, work, self._trefi_s, self._trfc_s) if self._all_bank else begin + work
        else:
            end = begin + work
        self.used = True
        self.free_s = end
        self.acts += acts
        if write:
            self.write_bytes += nbytes
        else:
            self.read_bytes += nbytes
        self.busy_s += end - begin
        return begin, end


@dataclass(frozen=True)
class MemorySystem:
    """Channel specs of every tier (and NoC), the model, and device facts the DES needs."""

    model: MemoryModel
    channels: dict[str, ChannelSpec]
    prefetch_devices: frozenset[str] = frozenset()  # CIM devices that double-buffer their macros
    kv_streams: int = 16  # contiguous KV streams per layer: 2 (K, V) x KV heads
    kv_block_bytes: float = math.inf  # one stream's share of a KV block (KV_BLOCK_TOKENS tokens): its longest run
    bucket_tokens: int = 64  # context buckets of the step-cost cache, tokens per sequence
    drain: bool = True  # banked: a streaming CIM op's last round computes after its last weights arrive
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def banked(self) -> bool:
        return self.model is MemoryModel.BANKED

    def spec(self, tier: str, bandwidth_bytes_per_s: float) -> ChannelSpec:
        """The channel spec of `tier` (NoC or an unknown tier: one plain channel)."""
        found = self.channels.get(tier)
        if found is None:
            found = ChannelSpec(tier=tier, channels=1, ideal_bandwidth_bytes_per_s=bandwidth_bytes_per_s, timing=None)
        return found

    @classmethod
    def from_hardware(cls, hw: Any, *, model: MemoryModel | str = MemoryModel.BANKED,
                      kv_streams: int = 16, kv_block_bytes: float = math.inf) -> "MemorySystem":
        model = MemoryModel(model)
        out: dict[str, ChannelSpec] = {}
        for name, tier in hw.memories.items():
            out[name] = _channel_spec(name, tier, banked=model is MemoryModel.BANKED)
        prefetch = frozenset(name for name, dev in hw.devices.items() if getattr(dev, "double_buffer", False))
        return cls(model=model, channels=out, prefetch_devices=prefetch if model is MemoryModel.BANKED else frozenset(),
                   kv_streams=max(1, kv_streams), kv_block_bytes=kv_block_bytes)

    def summary(self) -> dict[str, dict[str, float | str]]:
        """Per tier: channels and, banked, where its timing comes from and what a sequential
        stream reaches and costs."""
        out: dict[str, dict[str, float | str]] = {}
        for name, sp in self.channels.items():
            d: dict[str, float | str] = {"channels": sp.channels}
            if sp.banked:
                t = sp.timing
                assert t is not None
                d.update(timing_source=sp.timing_source, banks_per_channel=t.banks_per_channel,
                         bus_efficiency=sp.bus_efficiency,
                         sequential_fraction_of_peak=sp.sequential_fraction,
                         act_energy_j=sp.act_energy_j, io_energy_per_bit_j=sp.io_energy_per_bit_j,
                         refresh=t.refresh, refresh_time_fraction=(t.trfc_s if t.refresh == "all_bank"
                                                                   else t.trfcpb_s) / t.trefi_s)
            out[name] = d
        return out


def _channel_spec(name: str, tier: object, *, banked: bool) -> ChannelSpec:
    timing: Timing | None = getattr(tier, "timing", None)
    achievable = tier.achievable_bandwidth_bytes_per_s  # type: ignore[attr-defined]
    kind = getattr(tier, "kind", None)
    if kind == "hybrid_bonded_dram":
        n = timing.channels if timing is not None and timing.channels else tier.banks  # type: ignore[attr-defined]
    elif kind == "dram":
        assert timing is not None
        if timing.channels:
            n = timing.channels
        elif tier.bus_width_bits:  # type: ignore[attr-defined]
            n = max(1, tier.bus_width_bits // timing.channel_width_bits)  # type: ignore[attr-defined]
        else:  # assumption: LPDDR5-6400 x16 channels (12.8 GB/s each)
            n = max(1, round(tier.peak_bandwidth_bytes_per_s / 12.8e9))  # type: ignore[attr-defined]
    else:
        n = 1
    ideal_bw = achievable / n
    if not banked or timing is None:
        return ChannelSpec(tier=name, channels=n, ideal_bandwidth_bytes_per_s=ideal_bw, timing=None,
                           energy_per_bit_j=tier.energy_per_bit_j)  # type: ignore[attr-defined]
    peak = tier.peak_bandwidth_bytes_per_s / n  # type: ignore[attr-defined]
    probe = ChannelSpec(tier=name, channels=n, ideal_bandwidth_bytes_per_s=ideal_bw, timing=timing,
                        peak_bandwidth_bytes_per_s=peak)
    refresh_free = probe.channel_availability
    # the data bus efficiency that makes a long sequential read stream reach `achievable_fraction`
    bus_eff = min(1.0, tier.achievable_fraction / refresh_free)  # type: ignore[attr-defined]
    probe = dataclasses.replace(probe, bus_efficiency=bus_eff)
    page = timing.page_bytes
    seq_work, _ = probe.work_s(page, math.inf)
    blocked = 1.0 - timing.trfc_s / timing.trefi_s if timing.refresh == "all_bank" else 1.0
    seq_fraction = page / seq_work / peak * blocked
    v = timing.vdd_v
    trc = timing.tras_s + timing.trp_s
    act = max(0.0, (timing.idd0_a * trc - timing.idd3n_a * timing.tras_s - timing.idd2n_a * timing.trp_s) * v)
    t_burst = timing.burst_bytes / peak
    rd = max(0.0, (timing.idd4r_a - timing.idd3n_a) * v * t_burst)
    wr = max(0.0, (timing.idd4w_a - timing.idd3n_a) * v * t_burst)
    core_per_bit = act / (page * 8.0) + rd / (timing.burst_bytes * 8.0)
    epb = tier.energy_per_bit_j  # type: ignore[attr-defined]
    if core_per_bit > epb > 0:
        # the tier's cited energy per bit is below what its current table gives its core (the technology's
        # row; a hybrid-bonded bank, LPDDR5's: 0.456 against 0.43 pJ/bit): the core terms are scaled down so a
        # sequential read stream costs the cited figure (the calibration is kept), no I/O share
        k = epb / core_per_bit
        act, rd, wr = act * k, rd * k, wr * k
    io = max(0.0, epb - core_per_bit)
    return ChannelSpec(
        tier=name, channels=n, ideal_bandwidth_bytes_per_s=ideal_bw, timing=timing, peak_bandwidth_bytes_per_s=peak,
        bus_efficiency=bus_eff, energy_per_bit_j=tier.energy_per_bit_j,  # type: ignore[attr-defined]
        act_energy_j=act, read_burst_energy_j=rd, write_burst_energy_j=wr, io_energy_per_bit_j=io,
        # energy of refreshing the channel once (every bank once): one REFab, or one REFpb per bank
        refresh_energy_j=max(0.0, (timing.idd5_a - timing.idd3n_a) * v * timing.trfc_s) if timing.refresh == "all_bank"
        else timing.banks_per_channel * max(0.0, (timing.idd5pb_a - timing.idd3n_a) * v * timing.trfcpb_s),
        background_power_w=timing.idd3n_a * v, sequential_fraction=seq_fraction,
        timing_source=str(getattr(tier, "timing_source", "")),
    )
