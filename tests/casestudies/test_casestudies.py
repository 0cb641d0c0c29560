"""Case studies: outputs, claim records, the physics bound behind the EdgeCIM energy claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.casestudies import elmoe3d as el
from slmsim.casestudies.common import hardware_with
from slmsim.casestudies.edgecim import MODELS, run_rows
from slmsim.cli import main
from slmsim.workloads.load import load_model

EDGECIM_CLAIMS = ["edgecim_mean_decode_tokens_per_s", "edgecim_mean_tokens_per_j",
                  "edgecim_vs_orin_nano_throughput_llama-3.2-1b", "edgecim_vs_orin_nano_energy_efficiency_llama-3.2-1b",
                  "edgecim_vs_sa8255p_throughput_llama-3.2-3b"]
ELMOE_CLAIMS = ["elmoe3d_speedup_vs_naive_moe_mean", "elmoe3d_energy_gain_vs_naive_moe_mean",
                "elmoe3d_speedup_vs_xpu_mean", "elmoe3d_energy_gain_vs_xpu_mean", "elmoe3d_speedup_vs_xpu_max",
                "elmoe3d_energy_gain_vs_xpu_max", "elmoe3d_speedup_vs_best_prior_mean",
                "elmoe3d_energy_gain_vs_best_prior_mean", "elmoe3d_4gb_speedup_vs_xpu_mean"]


def check_claims(summary: dict, names: list[str]) -> None:
    got = {c["claim"]: c for c in summary["claims"]}
    assert list(got) == names
    for c in got.values():
        assert c["diff_pct"] == pytest.approx(100 * (c["slmsim"] - c["paper"]) / c["paper"])
        assert c["slmsim"] > 0


def test_edgecim_case_study_with_a_small_dse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cs"
    assert main(["case-study", "edgecim", "--out", str(out), "--trials", "16"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    check_claims(summary, EDGECIM_CLAIMS)
    assert (out / "report.html").stat().st_size > 100_000  # plotly embedded: works offline
    assert len((out / "table.csv").read_text().splitlines()) == 1 + len(MODELS)
    assert len(summary["sensitivity"]) >= 8
    assert summary["dse"]["pareto_designs"] >= 1 and (out / "dse" / "report.html").exists()
    # re-running into its own folder is allowed
    assert main(["case-study", "edgecim", "--out", str(out), "--no-dse"]) == 0


def test_elmoe3d_case_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "el"
    assert main(["case-study", "elmoe3d", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    check_claims(summary, ELMOE_CLAIMS)
    rows = summary["batches"]
    assert [(b["model"], b["batch"]) for b in rows] == [(m, b) for m in el.MODELS for b in el.BATCHES]
    assert all(b["speedup_vs_xpu"] > 1.0 for b in rows)
    # the mode switch: plain decoding (one token per pass) up to the threshold, Elastic-SD above
    for b in rows:
        assert (b["mode"] == "elastic_sd") == (b["batch"] > 8)
        assert (b["tokens_per_target_pass"] > 1.0) == (b["batch"] > 8)
    assert [r["model"] for r in summary["models"]] == [*el.MODELS, *el.MODELS]  # 8 GB, then 4 GB
    needed = {r["unknown"]: r for r in summary["required"]}
    assert len(needed) == len(el.KNOBS)


def test_refuses_a_folder_that_is_not_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["case-study", "elmoe3d", "--out", str(mine)]) == 2
    assert "not a case-study output" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_dram_traffic_alone_bounds_tokens_per_joule() -> None:
    """Physics behind docs/case-studies.md: streaming every INT4 weight from a DRAM at e J/bit
    costs at least weights x 4 bits x e per token, so tokens/J <= 1 / (4 x params x e)."""
    e = hardware_with("edgecim").memories["dram"].energy_per_bit_j
    for row in run_rows(hardware_with("edgecim"), baselines=False):
        m = load_model(row.model)
        streamed = m.total_params() - (0 if m.tie_word_embeddings else m.embedding_params())
        assert row.tokens_per_j <= 1.0 / (streamed * 4 * e) * 1.0001, row.model


def test_elmoe3d_xpu_is_bound_by_lpddr_and_claims_are_means_of_ratios() -> None:
    """The xPU streams its LPDDR bytes per token at 102.4 GB/s x 0.99: decode tokens/s can only
    fall below that bound (by op overheads and compute that do not overlap), and not by much
    at these sizes. The mean claims are means of the per-(model, batch) ratios."""
    rows = el.run(models=["deepseek-v2-lite"], batches=(1, 16), baselines=False)
    for r in rows:
        bound = 102.4e9 * 0.99 / r.xpu.bytes_per_token["lpddr"]
        assert 0.95 * bound < r.xpu.tokens_per_s <= bound * (1 + 1e-9)
        assert set(r.xpu.bytes_per_token) == {"lpddr"}
    got = {c.claim: c.slmsim for c in el.claims(rows)}
    assert got["elmoe3d_speedup_vs_xpu_mean"] == pytest.approx(
        (rows[0].elmoe.tokens_per_s / rows[0].xpu.tokens_per_s + rows[1].elmoe.tokens_per_s / rows[1].xpu.tokens_per_s) / 2)
    assert "elmoe3d_speedup_vs_best_prior_mean" not in got  # no HB-xPU arm run
    assert "elmoe3d_speedup_vs_naive_moe_mean" not in got  # nor naive serving on the die
    assert [r.elmoe.mode for r in rows] == ["plain", "elastic_sd"]


def test_elmoe3d_energy_boundary_adds_exactly_the_lpddr_traffic_to_the_xpu() -> None:
    """The xPU has one memory, LPDDR at 3.88 pJ/bit with no background power (its preset): a
    decode token's chip+memory energy exceeds its chip energy by exactly its LPDDR bytes x 8 x
    3.88 pJ. The logic die's idle power is its own leakage (`idle_power_on: chip`), so the
    board holds nothing more: chip < chip+memory = board."""
    hw = hardware_with("elmoe3d-xpu")
    assert hw.memories["lpddr"].background_power_w == 0.0
    by = {b: el.run(models=["deepseek-v2-lite"], batches=(1,), baselines=False, boundary=b)[0]
          for b in ("chip", "chip+memory", "board")}
    chip, mem = by["chip"].xpu, by["chip+memory"].xpu
    assert 1 / mem.tokens_per_j - 1 / chip.tokens_per_j == pytest.approx(
        mem.bytes_per_token["lpddr"] * 8 * 3.88e-12, rel=1e-9)
    for arm in ("xpu", "elmoe"):
        tpj = [getattr(by[b], arm).tokens_per_j for b in ("chip", "chip+memory", "board")]
        assert tpj[0] > tpj[1] == pytest.approx(tpj[2], rel=1e-12)
    assert by["board"].xpu.tokens_per_j == pytest.approx(
        el.run(models=["deepseek-v2-lite"], batches=(1,), baselines=False)[0].xpu.tokens_per_j, rel=1e-12)
