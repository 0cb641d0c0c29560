"""Op-level steps: exact timelines of hand-built steps, layer collapsing, the step-cost cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from slmsim.cli import main
from slmsim.hw_models.load import load_hardware
from slmsim.hw_models.memory import DramTiming
from slmsim.mapping.cost import Affine, Component, MappedOp, MappedStep
from slmsim.mapping.plan import make_plan
from slmsim.simulator.memory_system import ChannelSpec, MemoryModel, MemorySystem
from slmsim.simulator.oplevel import analytic_step_s, simulate_step
from slmsim.simulator.stepcache import StepCostCache
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision, Scenario


def op(name: str, *, compute: float, nbytes: float = 0.0, overhead: float = 0.0, rounds: float | None = None,
       unit: str = "cim_macros", layers: int = 1) -> MappedOp:
    return MappedOp(name=name, op_class=name, device="cim", unit=unit, layers=layers, overhead_s=overhead,
                    compute_s=Affine(compute), tier_bytes=(("m", Affine(nbytes)),) if nbytes else (), energy_j=(),
                    detail=(("rounds", rounds),) if rounds is not None else ())


def step(*ops: MappedOp) -> MappedStep:
    return MappedStep(phase="decode", device="cim", batch=1, tokens_per_seq=1, ops=ops,
                      tier_bandwidth_bytes_per_s={"m": 100.0}, tier_component={"m": Component.DRAM},
                      tier_energy_per_bit_j={"m": 1e-12})


IDEAL = MemorySystem(model=MemoryModel.IDEAL,
                     channels={"m": ChannelSpec(tier="m", channels=1, ideal_bandwidth_bytes_per_s=100.0, timing=None)})
# banked, but with every latency and refresh set to zero: only prefetch and drain differ from ideal
_ZERO = DramTiming(banks_per_channel=16, tRCD="0 s", tRP="0 s", tRAS="0 s", tCL="0 s", tRRD="0 s", tFAW="0 s",
                   tWTR="0 s", tRFC="0 s", tREFI="1 s")
BANKED = MemorySystem(model=MemoryModel.BANKED, prefetch_devices=frozenset({"cim"}),
                      channels={"m": ChannelSpec(tier="m", channels=1, ideal_bandwidth_bytes_per_s=100.0, timing=_ZERO,
                                                 peak_bandwidth_bytes_per_s=100.0, bus_efficiency=1.0)})


def spans_of(run, tid: str) -> list[tuple[str, float, float]]:
    return [(s["name"], s["ts"], s["ts"] + s["dur"]) for s in run.spans if s["tid"] == tid]


def test_two_ops_on_one_channel_ideal() -> None:
    """A: 1,000 B at 100 B/s beside 5 s of compute -> [0, 10]; B: 0.5 s overhead, then 300 B
    (3 s) beside 1 s of compute -> [10, 13.5]. The analytic engine's time, exactly."""
    st = step(op("a", compute=5.0, nbytes=1000.0, unit="vector_unit"),
              op("b", compute=1.0, nbytes=300.0, overhead=0.5, unit="vector_unit"))
    run = simulate_step(st, 0.0, IDEAL, record=True)
    assert run.duration_s == pytest.approx(13.5) == pytest.approx(analytic_step_s(st, 0.0))
    assert spans_of(run, "vector unit") == [("a", 0.0, 10.0), ("b", 10.0, 13.5)]
    assert spans_of(run, "channel 0") == [("a", 0.0, 10.0), ("b", 10.5, 13.5)]
    assert run.channel_bytes["m"] == (1300.0, 0.0)


def test_streaming_ops_drain_their_last_round() -> None:
    """Two weight-streaming CIM ops of 1,000 B (10 s) and 10 s compute in 2 rounds each.
    Ideal: 10 + 10. Banked: op 1 streams [0, 10], then op 2's first round (500 B) [10, 15]
    while op 1's last round computes (drain: 10 + 5 = 15); op 2 streams its second half
    [15, 20] and computes until 15 + 10 = 25 (= 20 + its 5 s drain)."""
    st = step(op("w1", compute=10.0, nbytes=1000.0, rounds=2), op("w2", compute=10.0, nbytes=1000.0, rounds=2))
    assert simulate_step(st, 0.0, IDEAL).duration_s == pytest.approx(20.0)
    run = simulate_step(st, 0.0, BANKED, record=True)
    assert run.duration_s == pytest.approx(25.0)
    assert spans_of(run, "channel 0") == [("w1", 0.0, 10.0), ("prefetch w2", 10.0, 15.0), ("w2", 15.0, 20.0)]
    assert spans_of(run, "macro group A") == [("w1", 0.0, 15.0)]
    assert spans_of(run, "macro group B") == [("w2", 15.0, 25.0)]


def test_prefetch_hides_the_next_ops_first_round_behind_compute() -> None:
    """A 10 s vector op, then a streaming op (1,000 B in 2 rounds, 2 s compute). Ideal:
    10 + max(2, 10) = 20. Banked: the first 500 B stream during the vector op [0, 5]; the rest
    [10, 15]; the last round computes 1 s after: 16."""
    st = step(op("vec", compute=10.0, unit="vector_unit"), op("w", compute=2.0, nbytes=1000.0, rounds=2))
    assert simulate_step(st, 0.0, IDEAL).duration_s == pytest.approx(20.0)
    run = simulate_step(st, 0.0, BANKED, record=True)
    assert run.duration_s == pytest.approx(16.0)
    assert spans_of(run, "channel 0") == [("prefetch w", 0.0, 5.0), ("w", 10.0, 15.0)]


def _plan(hw: str, model: str, **scen: object):
    return make_plan(load_hardware(hw).spec, load_model(model),
                     Scenario(precision=Precision(weight_bits=4, activation_bits=8), **scen))


@pytest.mark.parametrize(("hw", "model"), [("edgecim", "qwen3-4b"), ("elmoe3d", "qwen3-30b-a3b"),
                                           ("orin-nano", "qwen3-0.6b")])
def test_collapsed_layers_match_the_full_run(hw: str, model: str) -> None:
    """Simulating 3 layers and repeating the steady-state one gives the full run's step
    (banked: refresh breaks exact periodicity by < one tRFC per layer; ideal: exact)."""
    plan = _plan(hw, model, prompt_tokens=512, gen_tokens=8)
    for model_name in ("banked", "ideal"):
        mem = MemorySystem.from_hardware(load_hardware(hw).spec, model=model_name)
        for st, ctx in ((plan.prefill, 0.0), (plan.decode, 600.0)):
            short = simulate_step(st, ctx, mem)
            full = simulate_step(st, ctx, mem, collapse=False)
            assert short.op_instances < full.op_instances / 5
            tol = 1e-3 if model_name == "banked" else 1e-9
            assert short.duration_s == pytest.approx(full.duration_s, rel=tol)
            for tier, (rd, wr) in full.channel_bytes.items():
                assert short.channel_bytes[tier][0] == pytest.approx(rd, rel=1e-9)
                assert short.channel_bytes[tier][1] == pytest.approx(wr, rel=1e-9, abs=1e-6)
            if model_name == "ideal":
                assert full.duration_s == pytest.approx(analytic_step_s(st, ctx), rel=1e-9)


def test_cached_step_costs_interpolate_within_a_bucket() -> None:
    plan = _plan("edgecim", "qwen3-4b", prompt_tokens=512, gen_tokens=8)
    mem = MemorySystem.from_hardware(load_hardware("edgecim").spec)
    cache = StepCostCache(mem)
    for ctx in np.linspace(513, 800, 12):
        d, k, t = cache.duration(plan.decode, float(ctx))
        assert 0.0 <= t < 1.0 and k == math.floor(ctx / mem.bucket_tokens)
        assert d == pytest.approx(simulate_step(plan.decode, float(ctx), mem).duration_s, rel=2e-3)
    assert cache.simulations <= 800 // mem.bucket_tokens - 512 // mem.bucket_tokens + 2  # each bucket end once


def test_banked_memory_slows_a_stream_on_one_bank_channels() -> None:
    """elmoe3d's self-speculative draft reads every MSB slice from the hybrid-bonded tier;
    with one bank per bonded channel a stream reaches ~0.50 of peak instead of 0.97, so the
    draft's expert reads take ~0.97 / 0.50 longer with the banked model."""
    from slmsim.hw_models.load import hardware_with_edits

    hw = hardware_with_edits("elmoe3d", {"memories.hb.timing.banks_per_channel": 1})
    from slmsim.workloads.scenario import Scenario as S

    scen = S.model_validate({"prompt_tokens": 128, "gen_tokens": 8,
                             "precision": {"weight_bits": 8, "activation_bits": 8},
                             "decoding": {"strategy": "self_speculative", "draft_len": 4, "acceptance": 0.8,
                                          "draft_top_k": 2, "draft_weight_bits": 4, "msb_tier": "hb",
                                          "lsb_tier": "lpddr"}})
    plan = make_plan(hw, load_model("olmoe-1b-7b"), scen)
    draft = plan.mapper.self_draft(1)
    banked = simulate_step(draft, 130.0, MemorySystem.from_hardware(hw))
    ideal = simulate_step(draft, 130.0, MemorySystem.from_hardware(hw, model="ideal"))
    hb = MemorySystem.from_hardware(hw).channels["hb"]
    # the fixed kernel overheads do not stretch; the streams do
    overhead = sum(op.layers * op.overhead_s for op in draft.ops if op.op_class == "experts")
    ratio = (banked.class_time_s["experts"] - overhead) / (ideal.class_time_s["experts"] - overhead)
    assert ratio == pytest.approx(0.97 / hb.sequential_fraction, rel=0.05)


def test_trace_has_a_named_track_per_dram_channel(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    assert main(["simulate", "--hw", "edgecim", "--model", "qwen3-0.6b", "--engine", "des", "--gen", "4",
                 "--trace-steps", "2", "--trace", str(out)]) == 0
    doc = json.loads(out.read_text())
    procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    threads = {(procs[e["pid"]], e["args"]["name"]) for e in doc["traceEvents"] if e["name"] == "thread_name"}
    channels = MemorySystem.from_hardware(load_hardware("edgecim").spec).channels["dram"].channels
    assert channels == 16  # 256-bit LPDDR5X bus of x16 channels
    for c in range(channels):
        assert ("memory dram", f"channel {c}") in threads
    assert {("cim", "macro group A"), ("cim", "macro group B"), ("cim", "vector unit"), ("cim", "noc")} <= threads
    assert ("requests", "request 0") in threads
    busy = [e for e in doc["traceEvents"] if e.get("ph") == "X" and procs[e["pid"]] == "memory dram"]
    assert busy and all(e["dur"] >= 0 for e in busy)


def test_pipeline_stages_run_as_processes_in_flow_shop_order() -> None:
    """Weight-stationary CIM with 4 stages, a batch of 8: the traced stage spans of the first
    decode step are the flow-shop schedule (stage s of sequence j starts when stage s is free
    and sequence j has left stage s - 1)."""
    from slmsim.hw_models.load import hardware_with_edits
    from slmsim.mapping.pipeline import StagePipeline
    from slmsim.simulator.engines import run

    hw = hardware_with_edits("edgecim", {"devices.cim.tiles": 512, "devices.cim.macros_per_tile": 512,
                                         "devices.cim.pipeline_stages": 4})
    plan = make_plan(hw, load_model("qwen3-0.6b"), Scenario(prompt_tokens=64, gen_tokens=4, batch=8,
                                                            precision=Precision(activation_bits=8)))
    res = run(plan, engine="des", memory_model="ideal", trace_steps=2)
    spans = [e for e in res.extra["trace"] if e["cat"] == "stage"]
    t0 = min(e["ts"] for e in spans)
    got = {(int(e["name"].split()[1]), int(e["tid"].split()[1])): (e["ts"] - t0) * 1e-6 for e in spans}
    pipe = plan.mapper.stage_pipeline()
    stage = pipe.stage_times_s(np.full(8, 64 + 1.0))
    begins, _ = StagePipeline.schedule(stage)
    assert len(got) == 32
    for (j, s), t in got.items():
        assert t == pytest.approx(begins[s, j], abs=1e-12)


def test_edgecim_banked_differs_by_drain_and_prefetch_only() -> None:
    """edgecim streams its weights from 16 x 16-bank LPDDR5X channels: sequential streams are
    bus-bound, so with drain and prefetch switched off the banked step is within 0.5% of the
    ideal one; the drain alone makes it slower, the prefetch alone faster."""
    import dataclasses

    hw = load_hardware("edgecim").spec
    plan = _plan("edgecim", "qwen3-0.6b", prompt_tokens=512, gen_tokens=8)
    banked = MemorySystem.from_hardware(hw)
    ideal = simulate_step(plan.decode, 640.0, MemorySystem.from_hardware(hw, model="ideal")).duration_s
    t = {name: simulate_step(plan.decode, 640.0, mem).duration_s / ideal for name, mem in {
        "both": banked,
        "neither": dataclasses.replace(banked, prefetch_devices=frozenset(), drain=False),
        "drain only": dataclasses.replace(banked, prefetch_devices=frozenset()),
        "prefetch only": dataclasses.replace(banked, drain=False),
    }.items()}
    assert 1.0 <= t["neither"] < 1.005
    assert t["drain only"] > t["neither"] + 0.01
    assert t["prefetch only"] < t["neither"] - 0.005
    assert t["prefetch only"] < t["both"] < t["drain only"]


def test_drampower_split_adds_up_to_the_charged_dram_energy() -> None:
    """edgecim, one LPDDR5X tier: activate/precharge + read/write bursts + I/O of the banked
    run is the DRAM energy it charges; the bytes are the weights (x steps) plus the KV; the
    row-buffer hit rate is 1 - activations / bursts."""
    from slmsim.simulator.engines import run

    plan = _plan("edgecim", "qwen3-0.6b", prompt_tokens=128, gen_tokens=16)
    res = run(plan, engine="des")
    tier = res.extra["memory_system"]["tiers"]["dram"]
    e = tier["energy_j"]
    charged = e["activate_precharge"] + e["read_bursts"] + e["write_bursts"] + e["io"]
    assert charged == pytest.approx(res.energy_breakdown_j["dram"], rel=1e-9)
    ana = run(plan, engine="analytic")
    # same bytes as the analytic engine, which charges them at the sourced energy per bit
    assert (tier["read_bytes"] + tier["write_bytes"]) * 8 * 5e-12 == pytest.approx(ana.energy_breakdown_j["dram"],
                                                                                   rel=1e-6)
    bursts = (tier["read_bytes"] + tier["write_bytes"]) / 32.0
    assert tier["row_buffer_hit_rate"] == pytest.approx(1 - tier["activations"] / bursts)
    assert 0.9 < tier["row_buffer_hit_rate"] < 1.0  # weight streams: one activation per 2 KiB row
