"""Serving benchmarks in `validate --csv` (a `requests` column: `requests` requests, at most
`batch` in flight, as `vllm bench serve --num-prompts N --max-concurrency batch` sends them),
the vLLM stack's server behaviour, and a physical bound the held-out concurrency-8 rows are
checked against."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from slmsim.cli import main
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.stack import make_stack_plan
from slmsim.simulator.memory_system import MemoryModel
from slmsim.simulator.serving import Schedule, ServingPolicy, run_serving
from slmsim.stacks.load import format_library, load_stack
from slmsim.validation import predict_row, read_csv, rows
from slmsim.workloads.load import load_model
from slmsim.workloads.requests import fixed_requests
from slmsim.workloads.scenario import Scenario

HEADER = ("device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s,prefill_tokens_per_s,"
          "power_w,source,notes,requests\n")


def plan(hw: str, model: str, **kw: object):  # noqa: ANN202
    p, _ = make_stack_plan(load_hardware(hw).spec, load_model(model), Scenario(**kw), load_stack("vllm").spec,
                           "w4a16-g128", format_library())
    return p


@pytest.mark.parametrize(("hw", "chunk"), [("agx-orin-64gb", 2048), ("jetson-agx-thor", 8192),
                                           ("a100-80gb", 2048), ("h100-pcie", 8192)])
def test_vllm_budget_follows_its_device_memory_rule(hw: str, chunk: int) -> None:
    """vLLM's OpenAI server: max_num_batched_tokens 8192 on devices of >= 70 GiB except A100s, else 2048."""
    assert plan(hw, "llama-3.2-1b", prompt_tokens=64, gen_tokens=8).mapper.scenario.prefill_chunk_tokens == chunk


def test_a_served_row_is_the_serving_des_of_its_stream(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text(HEADER + "agx-orin-64gb,llama-3.2-1b,vllm,w4a16-g128,256,16,4,100,,,s,includes TTFT,12\n")
    (row,) = read_csv(f)
    assert (row.requests, row.batch) == (12, 4)
    got = predict_row(row).prediction
    p = plan("agx-orin-64gb", "llama-3.2-1b", prompt_tokens=256, gen_tokens=16, batch=4)
    res = run_serving(p.mapper, fixed_requests(12, prompt_tokens=256, gen_tokens=16),
                      ServingPolicy(max_batch=4, schedule=Schedule.MIXED, step_tokens=2048,
                                    memory_model=MemoryModel.IDEAL, concurrency=4))
    assert got.decode == pytest.approx(12 * 16 / res.extra["serving"]["makespan_s"], rel=1e-12)
    assert got.prefill == pytest.approx(256 / res.extra["serving"]["ttft_s"]["mean"], rel=1e-12)
    # without the column, the same row is one request alone: batching 4 at a time beats it
    assert got.decode > predict_row(replace(row, requests=None)).prediction.decode


def test_a_bad_requests_cell_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + "agx-orin-64gb,llama-3.2-1b,vllm,w4a16-g128,256,16,4,100,,,s,,zero\n")
    assert main(["validate", "--csv", str(f)]) == 2
    err = capsys.readouterr().err
    assert "column requests" in err and "not a number" in err and "Traceback" not in err


def test_the_stack_sets_the_schedule_a_flag_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--hw", "agx-orin-64gb", "--model", "llama-3.2-1b", "--stack", "vllm", "--weight-format",
            "w4a16-g128", "--arrivals", "fixed", "--requests", "3", "--prompt", "64", "--gen", "8", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["serving"]["schedule"] == "mixed"
    assert main([*argv, "--schedule", "prefill-first"]) == 0
    assert json.loads(capsys.readouterr().out)["serving"]["schedule"] == "prefill-first"


def test_the_orin_concurrency_8_row_is_faster_than_its_stated_prompts_allow() -> None:
    """Llama 3.1 8B W4A16 on AGX Orin, 50 requests of 2048 + 128 tokens, 8 at a time, measured
    112.33 output tokens/s: 6400 / 112.33 = 57.0 s. A lower bound by hand, at 100% of the
    datasheet peaks (42.5 TFLOPS FP16 tensor, 204.8 GB/s LPDDR5):
    - prefill: 6,979,321,856 non-embedding weights x 2 x 2048 = 28.587 TFLOP, attention
      4 x 32 heads x 128 x 2048 x 2049 / 2 pairs x 32 layers = 1.100 TFLOP, the last token's
      head 2 x 4096 x 128,256 = 1.05 GFLOP: 29.69 TFLOP a prompt, 50 x 0.699 s = 34.9 s;
    - decode: 6350 tokens after the 50 first ones, at most 8 a step; at most 100 steps carry a
      prompt (two each: 2041 + 7 tokens at a 2048 budget), with at most 7 decodes: >= (6350 -
      700) / 8 = 706 steps of decodes alone, each reading the weights (6,979,321,856 x 4.15625
      bits / 8 = 3.626 GB + the fp16 LM head 128,256 x 4096 x 2 = 1.051 GB) and >= 8 x 2048
      tokens of K/V (131,072 B each): 6.824 GB, 33.3 ms, 23.5 s.
    58.4 s > 57.0 s: the row cannot be 2048-token prompts (docs/validation.md: vLLM's random
    dataset of that period sent shorter prompts than asked)."""
    nonembed = 32 * (4096 * (4096 + 2 * 1024) + 4096 * 4096 + 3 * 4096 * 14336)
    assert nonembed == 6_979_321_856
    prefill = nonembed * 2 * 2048 + 4 * 32 * 128 * (2048 * 2049 / 2) * 32 + 2 * 4096 * 128_256
    p = plan("agx-orin-64gb", "llama-3.1-8b", prompt_tokens=2048, gen_tokens=128, batch=8)
    assert float(p.mapper.prefill(2048, 1).flops_total(0.0, 1)) == pytest.approx(prefill, rel=2e-3)  # + norms, rotary
    weights = nonembed * 4.15625 / 8 + 128_256 * 4096 * 2
    step = p.mapper.decode(8)
    # + the 8 new tokens' K/V written (8 x 131,072 B) and 8 rows of the f16 embedding (8 x 4096 x 2 B)
    assert step.tier_bytes_total(0.0, 1)["dram"] == pytest.approx(weights + 8 * 131_072 + 8 * 4096 * 2, rel=1e-9)
    steps = (6350 - 100 * 7) / 8
    bound_s = 50 * prefill / 42.5e12 + steps * (weights + 8 * 2048 * 131_072) / 204.8e9
    (row,) = [r for r in rows("heldout-decode.csv") if r.requests and r.device == "agx-orin-64gb"
              and r.model == "llama-3.1-8b"]
    measured_s = row.requests * row.gen_tokens / row.decode_tokens_per_s
    assert measured_s == pytest.approx(56.98, abs=0.01) and bound_s == pytest.approx(58.4, abs=0.1)
    assert measured_s < bound_s


def test_the_stacks_schedule_gives_way_where_mixed_steps_are_not_modelled(capsys: pytest.CaptureFixture[str]) -> None:
    """--stack vllm with speculative decoding: the stack's mixed steps are not modelled for it, so
    the stream runs prefill-first with a warning (asked for with --schedule mixed, it is refused)."""
    argv = ["simulate", "--hw", "agx-orin-64gb", "--model", "qwen3-1.7b", "--stack", "vllm", "--weight-format",
            "w4a16-g128", "--decoding", "speculative", "--draft", "qwen3-0.6b", "--arrivals", "fixed", "--requests", "2",
            "--prompt", "64", "--gen", "8"]
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["serving"]["schedule"] == "prefill-first"
    assert any("serves in mixed steps" in w and "autoregressive" in w for w in d["warnings"])
    assert main([*argv, "--schedule", "mixed"]) == 2
