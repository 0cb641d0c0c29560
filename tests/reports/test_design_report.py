"""The design report: its figures are right about the numbers, and `simulate --report` writes it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import DesignRun

from slmsim.reports import design_figures as F
from slmsim.reports.design import build_page, write_design_report
from slmsim.cli import main


@pytest.fixture(params=["design_cim", "design_gpu"])
def run(request: pytest.FixtureRequest) -> DesignRun:
    return request.getfixturevalue(request.param)


def test_latency_per_token_adds_up_to_ttft_and_tpot(run: DesignRun) -> None:
    per = F.latency_per_token_s(run.result)
    assert sum(per["prefill (TTFT)"].values()) == pytest.approx(run.result["ttft_s"], rel=1e-9)
    assert sum(per["decode, per token (TPOT)"].values()) == pytest.approx(run.result["tpot_s"], rel=1e-9)


def test_energy_by_phase_matches_the_engine(run: DesignRun) -> None:
    per = F.energy_by_phase_j(run.result, run.plan)
    assert set(per) == {"prefill", "decode"}, "the per-phase split fell back to a single bar"
    assert sum(per["prefill"].values()) == pytest.approx(run.result["prefill_energy_j"], rel=1e-9)
    assert sum(per["decode"].values()) == pytest.approx(run.result["decode_energy_j"], rel=1e-9)
    for comp, total in run.result["energy_breakdown_j"].items():
        assert per["prefill"].get(comp, 0) + per["decode"].get(comp, 0) == pytest.approx(total, rel=1e-6, abs=1e-12)


def test_energy_falls_back_to_the_run_total_when_accounts_disagree(design_cim: DesignRun) -> None:
    skewed = {**design_cim.result, "energy_breakdown_j": {**design_cim.result["energy_breakdown_j"], "dram": 1e9}}
    assert list(F.energy_by_phase_j(skewed, design_cim.plan)) == ["whole run"]


def test_roofline_places_ops_where_their_costs_say(run: DesignRun) -> None:
    plan = run.plan
    pts = F.roofline_points(plan)
    ctx = F.mean_decode_context(plan)
    assert ctx == plan.batch * (plan.prompt_tokens + plan.gen_tokens / 2)
    decode = [p for p in pts if p.phase == "decode"]
    assert len(decode) == len(plan.decode.ops)
    # times are the mapped step's own, at the mean context
    times = plan.decode.op_times_s(np.array([ctx]))[:, 0]
    assert [p.time_s for p in decode] == pytest.approx(list(times))
    assert sum(p.share_of_step for p in decode) == pytest.approx(1.0)
    peak = plan.device_peak_ops_per_s[plan.decode.device]
    for p, op in zip(decode, plan.decode.ops):
        assert p.flops == pytest.approx(op.layers * op.flops.at(ctx))
        if p.flops > 0:
            assert p.attained_ops_per_s == pytest.approx(p.flops / p.time_s)
            assert p.attained_ops_per_s <= peak * (1 + 1e-9)
        if p.memory_tier is not None:
            assert p.intensity_ops_per_byte == pytest.approx(p.flops / p.memory_bytes)
            bw = plan.decode.tier_bandwidth_bytes_per_s[p.memory_tier]
            roof = bw * p.intensity_ops_per_byte
            assert p.attained_ops_per_s <= roof * (1 + 1e-9)  # nothing beats its memory roof
            if p.bound == p.memory_tier and op.overhead_s == 0:  # memory-bound: exactly on the roof
                assert p.attained_ops_per_s == pytest.approx(roof, rel=1e-9)
        else:
            assert math.isinf(p.intensity_ops_per_byte)


def test_roofline_has_a_roof_per_tier_and_the_peak(run: DesignRun) -> None:
    peaks = {name: m.peak_bandwidth_bytes_per_s for name, m in run.hardware.memories.items()}
    fig = F.roofline(run.plan, peak_bandwidths=peaks)
    names = [t.name for t in fig.data]
    assert any(n.startswith("compute peak ") for n in names)
    for tier, bw in run.plan.decode.tier_bandwidth_bytes_per_s.items():
        roof = next(n for n in names if n.startswith(f"{tier} "))
        assert "effective" in roof, roof
        if tier in peaks and peaks[tier] > bw:  # achievable < peak: both are in the label
            assert "peak" in roof, roof
    # the efficiency-scaled compute roof: the fastest rate any op is mapped at, never above the peak
    dev = run.plan.decode.device
    eff = F.attainable_compute_ops_per_s(run.plan, dev)
    peak = run.plan.device_peak_ops_per_s[dev]
    rates = [op.flops.at(0.0) / op.compute_s.at(0.0) for op in run.plan.prefill.ops
             if op.compute_s.at(0.0) > 0 and op.flops.at(0.0) > 0]
    assert eff is not None and eff >= max(rates) * (1 - 1e-12)
    if eff < 0.98 * peak:
        assert any(n.startswith("attainable compute") for n in names)
    assert all(t.meta == "guide" for t in fig.data if t.mode == "lines")
    markers = [t for t in fig.data if t.mode == "markers"]
    assert sum(len(t.x) for t in markers) == sum(1 for p in F.roofline_points(run.plan) if p.flops > 0)


def test_timeline_has_every_traced_span(run: DesignRun) -> None:
    fig = F.timeline(run.trace)
    spans = [e for e in run.trace if e["ph"] == "X"]
    assert sum(len(t.x) for t in fig.data) == len(spans)
    assert sum(sum(t.x) for t in fig.data) == pytest.approx(sum(e["dur"] for e in spans) / 1e3, rel=1e-9)  # ms
    assert F.timeline([]).data == ()


def test_memory_and_breakdown_figures_have_data(run: DesignRun) -> None:
    for fig in (F.latency_breakdown(run.result), F.energy_breakdown(run.result, run.plan),
                F.memory_footprint(run.result)):
        assert fig.data and all(len(t.x) for t in fig.data)


def test_page_has_every_section(design_cim: DesignRun) -> None:
    page = build_page(result=design_cim.result, plan=design_cim.plan, trace=design_cim.trace, title="t")
    anchors = [s.anchor for s in page.sections]
    assert anchors[:6] == ["summary", "latency", "energy", "memory", "roofline", "timeline"]


def test_write_design_report(tmp_path: Path, design_cim: DesignRun) -> None:
    out = write_design_report(result=design_cim.result, plan=design_cim.plan, trace=design_cim.trace,
                              out_path=tmp_path / "d.html", title=design_cim.title)
    text = out.read_text()
    assert text.count('data-figure="') == 5
    assert "qwen3-4b on edgecim" in text
    assert out.stat().st_size < 3e6


def test_simulate_report_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r" / "design.html"
    code = main(["simulate", "--hw", "edgecim", "--model", "qwen3-0.6b", "--act-bits", "8", "--gen", "16",
                 "--report", str(out)])
    assert code == 0 and out.is_file()
    assert f"report written to {out}" in capsys.readouterr().out
    specs = re.findall(r'<script type="application/json" id="fig\d+-data">(.*?)</script>', out.read_text(), re.S)
    assert len(specs) == 5
    for s in specs:
        assert json.loads(s.replace("<\\/", "</"))["data"]


def test_simulate_report_to_a_directory_is_an_input_error(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--hw", "edgecim", "--model", "qwen3-0.6b", "--gen", "8", "--report", str(tmp_path)])
    assert code == 2
    assert "is a directory" in capsys.readouterr().err


def test_opening_says_what_bounds_decode(design_cim: DesignRun) -> None:
    """edgecim streams its INT4 weights from DRAM each decode step: decode is DRAM-bound, and the
    opening's shares are those of the mapped op times and of the energy split."""
    from slmsim.reports.design import bounds, memory_use

    b = {x["phase"]: x for x in bounds(design_cim.result, design_cim.plan)}
    dec = b["decode"]
    assert dec["unit"] == "dram"
    pts = [p for p in F.roofline_points(design_cim.plan) if p.phase == "decode"]
    assert dec["time_share"] == pytest.approx(sum(p.time_s for p in pts if p.bound == "dram") /
                                              sum(p.time_s for p in pts))
    e = F.energy_by_phase_j(design_cim.result, design_cim.plan)["decode"]
    assert dec["energy_share"] == pytest.approx(e["dram"] / sum(e.values()))
    assert dec["busy"] == design_cim.result["utilisation"]["dram"]
    (tier, used, cap), = [m for m in memory_use(design_cim.result, design_cim.hardware) if m[0] == "dram"]
    assert used == design_cim.result["memory_footprint_bytes"]["tier.dram"]
    assert cap == design_cim.hardware.memories["dram"].capacity_bytes and used < cap


def test_design_report_shows_the_energy_boundary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.html"
    assert main(["simulate", "--hw", "edgecim", "--model", "qwen3-0.6b", "--act-bits", "8", "--gen", "16",
                 "--energy-boundary", "chip+memory", "--report", str(out)]) == 0
    page = out.read_text()
    assert "chip+memory (headline)" in page and "decode tokens/J" in page


def test_a_request_stream_gets_a_serving_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate --arrivals ... --report`: the per-request percentiles, drawn and tabled as the
    run's `serving` object has them; the cards speak of requests, not of the scenario's batch."""
    out, js = tmp_path / "s.html", tmp_path / "s.json"
    argv = ["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--arrivals", "poisson", "--rate", "4",
            "--requests", "6", "--prompt", "200", "--gen", "12", "--schedule", "mixed", "--step-tokens", "128"]
    assert main([*argv, "--report", str(out), "--json"]) == 0
    sv = json.loads(capsys.readouterr().out)["serving"]
    page = out.read_text()
    specs = [json.loads(s.replace("<\\/", "</")) for s in
             re.findall(r'<script type="application/json" id="fig\d+-data">(.*?)</script>', page, re.S)]
    (fig,) = [s for s in specs if any(t.get("name") == "inter-token gap" for t in s["data"])]
    lines = {t["name"]: t for t in fig["data"]}
    assert lines["inter-token gap"]["y"] == pytest.approx([sv["itl_s"][c] for c in ("p50", "p90", "p99", "max")])
    assert lines["time to first token"]["y"] == pytest.approx([sv["ttft_s"][c] for c in ("p50", "p90", "p99", "max")])
    assert "schedule mixed, 128 tokens per step" in page and "mean over requests, queueing included" in page
    assert f"{sv['completed']} of 6 requests completed" in page
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8", "--report", str(js)]) == 0
    assert 'id="serving"' not in js.read_text()  # a single batch has no stream to show


def test_serving_memory_card_shows_the_peak_kv_and_keeps_the_budget_apart() -> None:
    """A serving result holds kv_cache_peak (used) and kv_budget (a limit): the peak is stacked with
    the weights and activations as what the run needs; the budget has a row of its own (it was
    stacked onto the needs, 7.7 GB on orin-nano, and the peak was shown under its raw key)."""
    fp = {"weights": 2.0e8, "activations": 5.0e6, "kv_budget": 7.7e9, "kv_cache_peak": 1.9e7, "tier.dram": 2.24e8}
    fig = F.memory_footprint({"memory_footprint_bytes": fp})
    rows = {(t.name, t.y[0]) for t in fig.data}
    assert ("KV cache (peak)", "needed by the run") in rows
    assert ("KV budget (serving)", "KV budget (serving)") in rows
    needed = sum(t.x[0] for t in fig.data if t.y[0] == "needed by the run")
    tier = next(t.x[0] for t in fig.data if t.y[0] == "tier dram")
    assert needed == pytest.approx(tier)  # weights + activations + peak KV = what the tier holds
