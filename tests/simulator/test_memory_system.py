"""Exact timelines of banked memory channels (hand-computed, as simpy's own tests do)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from slmsim.hw_models.load import hardware_with_edits, load_hardware
from slmsim.hw_models.memory import DramTiming
from slmsim.simulator.memory_system import Channel, ChannelSpec, MemorySystem, refresh_stretch

NS = 1e-9


def channel(*, banks: int, trefi: float = 1.0, trfc: float = 0.0) -> Channel:
    """One channel: 100 GB/s bus (1,000 B page in 10 ns), tRCD 10 ns, tRP 10 ns, tRAS 20 ns,
    tCL 5 ns, no tRRD/tFAW limit, all-bank refresh."""
    t = DramTiming(banks_per_channel=banks, refresh="all_bank", page="1000 B", tRCD="10 ns", tRP="10 ns", tRAS="20 ns", tCL="5 ns",
                   tRRD="0 ns", tFAW="0 ns", tWTR="2 ns", tRFC=f"{trfc / NS} ns", tREFI=f"{trefi / NS} ns")
    return Channel(ChannelSpec(tier="m", channels=1, ideal_bandwidth_bytes_per_s=100e9, timing=t,
                               peak_bandwidth_bytes_per_s=100e9, bus_efficiency=1.0))


def test_row_hits_versus_row_misses_in_one_bank() -> None:
    # 4,000 B sequential = 4 rows; each row keeps the bank max(tRAS, tRCD + 10 ns) + tRP = 30 ns,
    # so one bank needs 120 ns (data alone 40 ns), plus tRCD + tCL = 15 ns to first data
    ch = channel(banks=1)
    assert ch.serve(0.0, 4000.0, math.inf) == pytest.approx((0.0, 135 * NS))
    assert ch.acts == pytest.approx(4)
    # the same bytes in 100 B runs: 40 activations of max(20, 10 + 1) + 10 = 30 ns each
    ch = channel(banks=1)
    assert ch.serve(0.0, 4000.0, 100.0) == pytest.approx((0.0, 1215 * NS))
    assert ch.acts == pytest.approx(40)


def test_bank_parallelism_hides_row_cycles() -> None:
    # 16 banks: 4 x 30 ns / 16 = 7.5 ns of bank time < 40 ns of data: bus-bound, 40 + 15 ns
    ch = channel(banks=16)
    assert ch.serve(0.0, 4000.0, math.inf)[1] == pytest.approx(55 * NS)
    # 100 B runs: 40 x 30 / 16 = 75 ns > 40 ns of data: bank-bound, 75 + 15 ns
    ch = channel(banks=16)
    assert ch.serve(0.0, 4000.0, 100.0)[1] == pytest.approx(90 * NS)


def test_two_requests_queue_first_come_first_served() -> None:
    ch = channel(banks=16)
    a = ch.serve(0.0, 4000.0, math.inf)  # [0, 55 ns]
    b = ch.serve(10 * NS, 2000.0, math.inf)  # waits; back to back: no new first-access latency
    assert a[1] == pytest.approx(55 * NS)
    assert b == pytest.approx((55 * NS, 75 * NS))
    # after an idle gap the next request pays tRCD + tCL again, and a write pays tWTR
    c = ch.serve(100 * NS, 1000.0, math.inf, write=True)
    assert c == pytest.approx((100 * NS, (100 + 10 + 15 + 2) * NS))
    assert ch.write_bytes == 1000.0 and ch.read_bytes == 6000.0


def test_refresh_blocks_trfc_of_every_trefi() -> None:
    trefi, trfc = 1000 * NS, 100 * NS
    # starting inside a refresh: wait for it; 900 ns fill the first window exactly
    assert refresh_stretch(0.0, 900 * NS, trefi, trfc) == pytest.approx(1000 * NS)
    assert refresh_stretch(0.0, 1800 * NS, trefi, trfc) == pytest.approx(2000 * NS)
    assert refresh_stretch(0.0, 1801 * NS, trefi, trfc) == pytest.approx(2101 * NS)
    assert refresh_stretch(550 * NS, 100 * NS, trefi, trfc) == pytest.approx(650 * NS)
    assert refresh_stretch(950 * NS, 100 * NS, trefi, trfc) == pytest.approx(1150 * NS)
    # a long stream loses tRFC / tREFI = 10% of the time: 9,000 ns of work take 10,000 ns
    assert refresh_stretch(0.0, 9000 * NS, trefi, trfc) == pytest.approx(10000 * NS)
    ch = channel(banks=16, trefi=trefi, trfc=trfc)
    end = ch.serve(0.0, 90_000.0, math.inf)[1]  # 900 ns of data + 15 ns latency, from t = 100 ns
    assert end == pytest.approx((100 + 915 + 100) * NS)


def test_per_bank_refresh_takes_each_bank_trfcpb_of_every_trefi() -> None:
    """Per-bank refresh: the bus keeps going; each bank is away tRFCpb / tREFI of the time, so
    a bank-bound request's bank time grows by 1 / (1 - tRFCpb / tREFI); a channel of one bank
    stops with it."""
    t = DramTiming(banks_per_channel=16, page="1000 B", tRCD="10 ns", tRP="10 ns", tRAS="20 ns", tCL="0 ns",
                   tRRD="0 ns", tFAW="0 ns", tRFCpb="100 ns", tREFI="1000 ns")
    ch = Channel(ChannelSpec(tier="m", channels=1, ideal_bandwidth_bytes_per_s=100e9, timing=t,
                             peak_bandwidth_bytes_per_s=100e9, bus_efficiency=1.0))
    assert ch.serve(0.0, 4000.0, math.inf)[1] == pytest.approx((40 + 10) * NS)  # bus-bound: no refresh cost
    ch = Channel(ChannelSpec(tier="m", channels=1, ideal_bandwidth_bytes_per_s=100e9, timing=t,
                             peak_bandwidth_bytes_per_s=100e9, bus_efficiency=1.0))
    # 40 activations x 30 ns / (16 banks x 0.9) = 83.3 ns > 40 ns of data
    assert ch.serve(0.0, 4000.0, 100.0)[1] == pytest.approx((40 * 30 / (16 * 0.9) + 10) * NS)
    one = dataclasses.replace(ch.spec, timing=t.model_copy(update={"banks_per_channel": 1}))
    ch = Channel(one)
    assert ch.serve(0.0, 4000.0, math.inf)[1] == pytest.approx((4 * 30 / 0.9 + 10) * NS)


def test_lpddr5_defaults_give_the_drampower_activation_energy() -> None:
    t = DramTiming()
    # (IDD0 tRC - IDD3N tRAS - IDD2N tRP) VDD with tRC = tRAS + tRP
    e_act = (56.25e-3 * (42.5 + 18.75) - 35e-3 * 42.5 - 33.75e-3 * 18.75) * 1e-9 * 1.2
    sp = MemorySystem.from_hardware(load_hardware("orin-nano").spec).channels["dram"]
    assert sp.act_energy_j == pytest.approx(e_act)
    # per-bank refresh (the default): refreshing a channel once = 16 REFpb of (IDD5PB - IDD3N) VDD tRFCpb
    assert t.refresh == "per_bank"
    assert sp.refresh_energy_j == pytest.approx(16 * (74e-3 - 35e-3) * 1.2 * 140e-9)
    assert t.trefi_s == pytest.approx(3.906e-6)


def test_banked_keeps_the_sequential_calibration() -> None:
    """orin-nano LPDDR5: 128-bit bus = 8 x16 channels; a long sequential read reaches the
    calibrated fraction of peak the preset carries (slmsim.refit; per-bank refresh costs a
    bus-bound stream nothing), and costs the sourced 7 pJ/bit."""
    spec = load_hardware("orin-nano").spec
    frac = spec.memories["dram"].achievable_fraction
    assert 0.5 < frac < 0.95  # the refit's bounds
    sp = MemorySystem.from_hardware(spec).channels["dram"]
    assert sp.channels == 8
    assert sp.sequential_fraction == pytest.approx(frac)
    assert sp.bus_efficiency == pytest.approx(frac)
    hw = hardware_with_edits("orin-nano", {"memories.dram.timing.refresh": "all_bank"})
    sp_ab = MemorySystem.from_hardware(hw).channels["dram"]
    assert sp_ab.sequential_fraction == pytest.approx(frac)
    assert sp_ab.bus_efficiency == pytest.approx(frac / (1 - 280 / 3906))
    page, burst = 2048.0, 32.0
    per_bit = sp.act_energy_j / (page * 8) + sp.read_burst_energy_j / (burst * 8) + sp.io_energy_per_bit_j
    assert per_bit == pytest.approx(7e-12)
    # scattered 256 B runs cost 8 activations per page instead of one
    scattered = sp.dynamic_energy_j(acts=8.0, read_bytes=page, write_bytes=0.0)
    sequential = sp.dynamic_energy_j(acts=1.0, read_bytes=page, write_bytes=0.0)
    assert scattered - sequential == pytest.approx(7 * sp.act_energy_j)


def test_a_tier_cited_below_the_lpddr5_core_energy_keeps_its_figure() -> None:
    """elmoe3d's hybrid-bonded tier is cited at 0.43 pJ/bit, while the LPDDR5 current table on
    a 51.2 GB/s bonded bank gives its core alone 0.456 pJ/bit (activation 1.59 nJ per 2 KiB row =
    0.097, read bursts (157.5 - 35) mA x 1.2 V / 409.6 Gb/s = 0.359). The core terms are scaled
    so a sequential read costs the cited 0.43 pJ/bit (before 2026-12-07: 0.456, +6%, found by an
    audit), with no I/O share; writes are scaled alike."""
    sp = MemorySystem.from_hardware(load_hardware("elmoe3d").spec).channels["hb"]
    page, burst = sp.timing.page_bytes, sp.timing.burst_bytes
    assert sp.io_energy_per_bit_j == 0.0
    per_bit = sp.act_energy_j / (page * 8) + sp.read_burst_energy_j / (burst * 8)
    assert per_bit == pytest.approx(0.43e-12, rel=1e-9)
    unscaled_rd = (157.5e-3 - 35e-3) * 1.2 * burst / 51.2e9
    assert sp.read_burst_energy_j < unscaled_rd
    assert sp.write_burst_energy_j / sp.read_burst_energy_j == pytest.approx(
        (sp.timing.idd4w_a - sp.timing.idd3n_a) / (sp.timing.idd4r_a - sp.timing.idd3n_a), rel=1e-9)


def test_a_one_bank_hybrid_bonded_channel_cannot_hide_its_row_cycle() -> None:
    """elmoe3d's hybrid-bonded tier: bonded banks of 1,024 pins x 0.4 Gb/s = 51.2 GB/s each.
    As a channel of ONE bank it reads a 2 KiB row in 40 ns but holds the bank max(tRAS,
    tRCD + 40 ns) + tRP = 77.5 ns per row, and stops for its own per-bank refresh, so a
    stream reaches ~0.50 of peak; the default (4 sub-banks per bonded bank) reaches the
    stated 0.97."""
    hw = hardware_with_edits("elmoe3d", {"memories.hb.timing.banks_per_channel": 1})
    sp = MemorySystem.from_hardware(hw).channels["hb"]
    assert sp.bus_efficiency == pytest.approx(1.0)  # 0.97 / (1 - 140 / 3906) > 1: capped
    row = max(42.5e-9, 18.75e-9 + 2048 / 51.2e9) + 18.75e-9
    expected = 2048 / 51.2e9 / row * (1 - 140 / 3906)
    assert sp.sequential_fraction == pytest.approx(expected)
    assert sp.sequential_fraction < 0.5
    default = MemorySystem.from_hardware(load_hardware("elmoe3d").spec).channels["hb"]
    assert default.timing.banks_per_channel == 4
    assert default.sequential_fraction == pytest.approx(0.97)
    assert MemorySystem.from_hardware(load_hardware("elmoe3d").spec, model="ideal").channels["hb"].timing is None


def test_the_banked_des_writes_only_the_kv_it_appends() -> None:
    """llama-3.2-1b stores 16 layers x 8 KV heads x 64 x (K, V) x 2 B = 32,768 B of K/V per
    token. A 1,024-token prefill (gen 1: the first token is the prefill's, no decode step)
    writes 1,024 x 32,768 B and reads the weights plus the prompt's K/V once (its attention's
    context-independent reads). Until 2026-12-07 the banked DES booked every context-independent
    KV byte as a write: 2,048 x 32,768 B written, no KV read (an audit found it)."""
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.engines import run
    from slmsim.workloads.load import load_model
    from slmsim.workloads.scenario import Scenario, WeightGroup
    from slmsim.workloads.weights import weight_bytes

    model = load_model("llama-3.2-1b")
    scen = Scenario(prompt_tokens=1024, gen_tokens=1)
    plan = make_plan(load_hardware("orin-nano").spec, model, scen)
    tiers = run(plan, engine="des").extra["memory_system"]["tiers"]["dram"]
    per_token = 16 * 8 * 64 * 2 * 2
    assert tiers["write_bytes"] == pytest.approx(1024 * per_token, rel=1e-9)
    # weights: every matrix once, plus the 1,024 embedding rows the prompt looks up (tied to the
    # LM head, at its bits: 1,024 x 2,048 x 4.5 / 8 = 1,179,648 B)
    lookup = 1024 * model.hidden_size * scen.precision.bits_for(WeightGroup.LM_HEAD) / 8
    assert lookup == 1_179_648
    kv_read = tiers["read_bytes"] - weight_bytes(model, scen.precision) - lookup
    assert kv_read == pytest.approx(1024 * per_token, rel=1e-9)


def test_each_dram_technology_takes_its_own_timing_row() -> None:
    """A DRAM tier without `timing` takes its technology's row (hw_models/dram_timing.py), so an
    HBM tier is HBM pseudo channels, not LPDDR5 x16 channels (before 2026-12-07 every
    technology was LPDDR5-6400: an H100 had 320 channels of 16 bits)."""
    def tier(name: str):
        spec = load_hardware(name).spec
        return spec, next(t for t in spec.memories.values() if t.kind == "dram")

    # H100 PCIe, HBM2e, 5,120 bits: 80 pseudo channels of 64 bits (5 stacks x 8 channels x 2)
    spec, hbm = tier("h100-pcie")
    assert hbm.technology == "hbm2e"
    sp = MemorySystem.from_hardware(spec).channels["hbm"]
    assert sp.channels == 5120 // 64 == 80
    assert (hbm.timing.banks_per_channel, hbm.timing.page_bytes, hbm.timing.burst_bytes) == (16, 1024.0, 32.0)
    # activation: (IDD0 tRC - IDD3N tRAS - IDD2N tRP) VDD, DRAMsim3's 128-bit HBM2 currents halved
    # (65, 55, 40 mA -> 32.5, 27.5, 20), Ramulator 2.0 HBM2-2000 tRAS 34, tRP 14 ns
    assert sp.act_energy_j == pytest.approx((32.5e-3 * 48 - 27.5e-3 * 34 - 20e-3 * 14) * 1e-9 * 1.2)  # 0.414 nJ
    # 64 B runs: one activation per burst pair; tRRD (4 ns per 64 B) binds before tFAW / 4
    # (3.75 ns), the banks (48 ns / (16 x (1 - 160 / 3900)) = 3.13 ns) and the bus (64 B at
    # 0.9 x 25 GB/s = 2.84 ns): slowdown 4 / 2.844 = 1.406
    bus = 0.9 * 2.0e12 / 80
    assert sp.slowdown(64.0) == pytest.approx(4e-9 / (64.0 / bus))
    # H100 SXM, HBM3: 160 pseudo channels of 32 bits with 32 banks (2 stack IDs)
    spec, hbm3 = tier("h100-sxm")
    assert MemorySystem.from_hardware(spec).channels["hbm"].channels == 160
    assert hbm3.timing.banks_per_channel == 32 and hbm3.timing.trcd_s == pytest.approx(19.375e-9)
    # Raspberry Pi 5, LPDDR4X: JESD209-4 timing (tRCD 18.1, tRAS 42.5 ns), 8 banks, per-bank refresh
    _, lp4 = tier("raspberry-pi-5")
    assert lp4.timing.banks_per_channel == 8 and lp4.timing.tras_s == pytest.approx(42.5e-9)
    assert lp4.timing.trefi_s == pytest.approx(6247 * 0.625e-9)
    # Ryzen AI 5 340, DDR5: 32-bit sub-channels, all-bank refresh (tRFC1 295 ns per 3.9 us):
    # a sequential stream keeps its calibrated fraction through a higher bus efficiency
    spec, ddr5 = tier("ryzen-ai-5-340")
    sp5 = MemorySystem.from_hardware(spec).channels[next(k for k, t in spec.memories.items() if t.kind == "dram")]
    assert sp5.channels == 128 // 32 and ddr5.timing.refresh == "all_bank"
    assert sp5.sequential_fraction == pytest.approx(ddr5.achievable_fraction)
    assert sp5.bus_efficiency == pytest.approx(ddr5.achievable_fraction / (1 - 295.239 / 3900.225))
    # LPDDR5 keeps the class defaults
    _, lp5 = tier("orin-nano")
    assert lp5.timing == DramTiming()


def test_timing_fields_a_spec_gives_override_only_themselves() -> None:
    hw = hardware_with_edits("h100-sxm", {"memories.hbm.timing": {"tRCD": "25 ns", "banks_per_channel": 16}})
    t = hw.memories["hbm"].timing
    assert t.trcd_s == pytest.approx(25e-9) and t.banks_per_channel == 16
    assert t.trp_s == pytest.approx(16.25e-9) and t.channel_width_bits == 32  # the rest: HBM3's row
    by_name = hardware_with_edits("h100-sxm", {"memories.hbm.timing": {"trcd_s": 25e-9}})
    assert by_name.memories["hbm"].timing.trcd_s == pytest.approx(25e-9)
    # a changed technology brings its own row
    gddr = hardware_with_edits("h100-sxm", {"memories.hbm.technology": "gddr6"})
    assert gddr.memories["hbm"].timing.channel_width_bits == 16
    assert gddr.memories["hbm"].timing.trefi_s == pytest.approx(3333 * 0.57e-9)


def test_the_des_summary_names_where_each_tiers_timing_comes_from() -> None:
    """`memory_system.tiers.<tier>.timing_source`: the technology row's sources, and the fields
    the spec sets apart from it (none for a preset that sets none)."""
    from slmsim.hw_models import dram_timing
    from slmsim.simulator.memory_system import MemorySystem

    plain = MemorySystem.from_hardware(load_hardware("h100-sxm").spec).summary()["hbm"]["timing_source"]
    assert plain == dram_timing.SOURCES["hbm3"]
    edited = hardware_with_edits("h100-sxm", {"memories.hbm.timing": {"tRCD": "25 ns", "banks_per_channel": 16}})
    text = MemorySystem.from_hardware(edited).summary()["hbm"]["timing_source"]
    assert text == dram_timing.SOURCES["hbm3"] + "; set in the spec: banks_per_channel, tRCD"
    hb = MemorySystem.from_hardware(hardware_with_edits("elmoe3d", {"memories.hb.timing.banks_per_channel": 1}))
    assert hb.summary()["hb"]["timing_source"].endswith("4 sub-banks (assumption); set in the spec: banks_per_channel")
    assert MemorySystem.from_hardware(load_hardware("orin-nano").spec).summary()["dram"]["timing_source"] == \
        dram_timing.SOURCES["lpddr5"]


def test_every_dram_technology_has_a_sourced_timing_row() -> None:
    from slmsim.hw_models import dram_timing
    from slmsim.hw_models.memory import DramTechnology

    for tech in DramTechnology:
        assert tech.value in dram_timing.SOURCES, tech
        row = dram_timing.default_fields(tech.value)
        assert tech.value.startswith("lpddr5") == (row == {}), tech
        if row:
            t = DramTiming(**row)  # every row is a valid timing, in the units a spec writes
            assert t.tras_s + t.trp_s > t.trcd_s > 0 and t.trefi_s > t.trfc_s


def test_constant_kv_reads_run_in_blocks_like_growing_ones() -> None:
    """Paged KV scatters 16-token blocks, so a constant KV read (here flan-t5-base's encoder K/V,
    read by every decode step's cross-attention) runs at most one block's share of a stream:
    16 tokens x d_kv 64 x 2 B = 2,048 B, where it ran 2,048 tokens' worth (6,291,456 B per
    layer / 24 streams = 262,144 B) before."""
    from slmsim.mapping.plan import make_plan
    from slmsim.simulator.oplevel import prepare_ops
    from slmsim.simulator.serving import ServingPolicy, _Sim
    from slmsim.workloads.load import load_model
    from slmsim.workloads.requests import fixed_requests
    from slmsim.workloads.scenario import Scenario

    plan = make_plan(load_hardware("orin-nano").spec, load_model("flan-t5-base"),
                     Scenario(prompt_tokens=2048, gen_tokens=16))
    sim = _Sim(plan.mapper, fixed_requests(1, prompt_tokens=2048, gen_tokens=16), ServingPolicy(),
               trace_steps=0, seed=0)
    assert sim.memory.kv_block_bytes == 16 * 64 * 2
    ops = {op.name: op for op in prepare_ops(plan.mapper.decode(1), 8.0, sim.memory)}
    (cross,) = [x for x in ops["cross_attention"].xfers if x.tier == "dram"]
    assert cross.nbytes == 2048 * 2 * 768 * 2 and cross.run_bytes == 2048
    grows = [x for x in ops["attention"].xfers if x.tier == "dram" and not x.write]
    assert grows and all(x.run_bytes == 2048 for x in grows)  # the self-attention's growing reads, as before
