"""Serving workloads in a design space (`serving:` under a workload): each trial serves the
workload's request stream in the DES, and ttft / decode_latency / tokens_per_s report the
stream's figures (at the chosen statistic); a bad block is a clear error; a space without one
is stored exactly as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.cli import main
from slmsim.core.errors import SpecError
from slmsim.dse.candidate import build_hardware, derive_tree
from slmsim.dse.evaluate import Evaluator
from slmsim.dse.metrics import Metric
from slmsim.dse.space import load_space
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.serving import Schedule, ServingPolicy, run_serving
from slmsim.workloads.load import load_model
from slmsim.workloads.requests import arrival_rng, poisson_requests

BASE = "base: orin-nano\nparameters:\n  memories.dram.bandwidth: {choices: ['68 GB/s', '102 GB/s']}\n"
SERVED = ("workloads:\n  - {model: qwen3-0.6b, prompt: 256, gen: 16, serving: {arrivals: poisson, rate: 8, "
          "requests: 12, max_batch: 4, schedule: mixed, step_tokens: 128, memory_model: ideal, statistic: p99}}\n"
          "objectives: [decode_latency, ttft]\nbaselines: []\n")


def space(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_a_served_workload_reports_the_streams_figures(tmp_path: Path) -> None:
    loaded = load_space(space(tmp_path, BASE + SERVED))
    (w,) = loaded.space.workloads
    assert w.serving is not None and (w.serving.schedule, w.serving.statistic) == ("mixed", "p99")
    ev = Evaluator(space=loaded.space, base_si=loaded.base_si, models=loaded.models)
    got = ev.evaluate_params({"memories.dram.bandwidth": 102e9}).per_workload[w.name]
    # the same stream by hand: the trial seed's Poisson arrivals, the same policy
    hw = build_hardware(derive_tree(loaded.base_si, loaded.space, {"memories.dram.bandwidth": 102e9}),
                        label="candidate").spec
    assert hw.memories["dram"].peak_bandwidth_bytes_per_s == 102e9
    assert load_hardware("orin-nano").spec.memories["dram"].peak_bandwidth_bytes_per_s != 102e9
    plan = make_plan(hw, load_model("qwen3-0.6b"), w.scenario(seed=0))
    reqs = poisson_requests(12, rate_per_s=8.0, prompt_tokens=256, gen_tokens=16, rng=arrival_rng(0))
    res = run_serving(plan.mapper, reqs, ServingPolicy(max_batch=4, schedule=Schedule.MIXED, step_tokens=128,
                                                       memory_model=MemoryModel.IDEAL))
    sv = res.extra["serving"]
    assert got[Metric.TTFT] == pytest.approx(sv["ttft_s"]["p99"], rel=1e-9)
    assert got[Metric.DECODE_LATENCY] == pytest.approx(sv["itl_s"]["p99"], rel=1e-9)
    assert got[Metric.TOKENS_PER_S] == pytest.approx(sv["throughput_tokens_per_s"], rel=1e-9)
    assert sv["mixed_steps"] > 0
    # more bandwidth never makes the stream's p99 gap longer
    slow = ev.evaluate_params({"memories.dram.bandwidth": 68e9}).per_workload[w.name]
    assert slow[Metric.DECODE_LATENCY] > got[Metric.DECODE_LATENCY]


@pytest.mark.parametrize(("serving", "path", "words"), [
    ("{arrivals: poisson}", "serving.rate", "need a rate"),
    ("{arrivals: closed}", "serving.concurrency", "needs a concurrency"),
    ("{arrivals: fixed, rate: 2}", "serving.rate", "poisson only"),
    ("{arrivals: poisson, rate: 2, schedule: mixed}", "serving.step_tokens", "token budget"),
    ("{arrivals: poisson, rate: 2, statistic: p95}", "serving.statistic", "p99"),
    ("{arrivals: poisson, rate: 2, requests: 100000}", "serving.requests", "10000"),
])
def test_a_bad_serving_block_is_a_clear_error(tmp_path: Path, serving: str, path: str, words: str) -> None:
    text = BASE + f"workloads:\n  - {{model: qwen3-0.6b, gen: 8, serving: {serving}}}\nobjectives: [ttft]\nbaselines: []\n"
    with pytest.raises(SpecError) as e:
        load_space(space(tmp_path, text))
    rendered = e.value.render()
    assert f"workloads[0].{path}" in rendered and words in rendered, rendered


def test_a_space_without_serving_stores_its_workloads_as_before(tmp_path: Path) -> None:
    loaded = load_space(space(tmp_path, BASE + "workloads: [{model: qwen3-0.6b, gen: 8}]\nobjectives: [ttft]\n"
                                              "baselines: []\n"))
    assert "serving" not in json.dumps(loaded.space.to_dict()["workloads"])


def test_explore_runs_a_served_workload_and_resumes_it(tmp_path: Path) -> None:
    out = tmp_path / "o"
    f = space(tmp_path, BASE + SERVED)
    assert main(["explore", str(f), "--trials", "2", "--out", str(out), "--no-progress"]) == 0
    stored = json.loads((out / "study.json").read_text())
    assert stored["workloads"][0]["serving"]["statistic"] == "p99"
    assert stored["n_trials_complete"] == 2
    # a second run of the same space resumes the study (its fingerprint holds the serving block)
    assert main(["explore", str(f), "--trials", "3", "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "study.json").read_text())["n_trials_complete"] == 3


def test_the_serving_example_checks_and_says_how_it_is_served(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).parents[2] / "examples" / "space-serving.yaml"
    assert main(["check", str(example)]) == 0
    out = capsys.readouterr().out
    assert "24 Poisson at 2/s, max batch 8, mixed 512, KV wait, p99" in out


def test_the_study_report_says_what_a_served_workloads_metrics_are(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["explore", str(space(tmp_path, BASE + SERVED)), "--trials", "2", "--out", str(out),
                 "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    assert "served: 12 requests, 8/s Poisson; ttft and decode_latency are the stream&#x27;s p99" in page
