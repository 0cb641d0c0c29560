"""Prefill activations held for one chunk of the prompt, by hand.

The memory check holds the input and output buffers of the largest prefill op. Without a
chunk, an op's rows are every prompt token of the batch; a runtime that prefills in passes of
`prefill_chunk_tokens` tokens (llama.cpp's n_ubatch = 512) holds a chunk's share. Shapes from
the models' config.json files: Llama 3.1 8B hidden 4096, intermediate 14336 (gate and up
fused: n = 28672), vocab 128256; OLMoE 1B-7B hidden 2048, 64 experts, top-8, expert
intermediate 1024, 16 heads of 128 (q, k and v: n = 6144).
"""

from __future__ import annotations

import json

import pytest

from slmsim.cli import main
from slmsim.core.errors import Infeasible
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.mapping.stack import choose, stack_scenario
from slmsim.stacks.load import format_library, load_stack
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

FP16 = 2  # bytes per activation at the default 16 bits
BUFFERS = 2  # input and output of the op at once


def _footprint(model: str, **scenario: object) -> dict[str, float]:
    plan = make_plan(load_hardware("agx-orin-64gb").spec, load_model(model), Scenario(**scenario))
    assert not isinstance(plan, Infeasible), plan
    return plan.memory_footprint_bytes


def test_llama_8b_ffn_up_dominates_and_a_chunk_holds_512_of_its_rows() -> None:
    tokens = 4 * 2048  # batch x prompt
    whole = _footprint("llama-3.1-8b", batch=4, prompt_tokens=2048, gen_tokens=16)["activations"]
    assert whole == tokens * 28672 * FP16 * BUFFERS == 939_524_096
    chunked = _footprint("llama-3.1-8b", batch=4, prompt_tokens=2048, gen_tokens=16,
                         prefill_chunk_tokens=512)["activations"]
    assert chunked == 512 * 28672 * FP16 * BUFFERS == 58_720_256
    # the lm_head (one row per sequence: 4 x 128256) is not what binds either way
    assert 4 * 128256 * FP16 * BUFFERS < chunked


def test_a_chunk_as_long_as_the_batch_prompt_changes_nothing() -> None:
    args = dict(batch=2, prompt_tokens=1024, gen_tokens=16)
    whole = _footprint("llama-3.1-8b", **args)
    assert _footprint("llama-3.1-8b", prefill_chunk_tokens=2048, **args) == whole
    assert _footprint("llama-3.1-8b", prefill_chunk_tokens=100_000, **args) == whole
    # and a shorter chunk moves the activations only: weights and KV stay
    short = _footprint("llama-3.1-8b", prefill_chunk_tokens=256, **args)
    assert short["weights"] == whole["weights"] and short["kv_cache"] == whole["kv_cache"]
    assert short["activations"] == 256 * 28672 * FP16 * BUFFERS


def test_moe_routed_rows_scale_with_the_chunk() -> None:
    # OLMoE: qkv holds T x 6144, the expert activation 8 T routed rows x 1024: 8192 > 6144 per token
    t = 2 * 1024
    whole = _footprint("olmoe-1b-7b", batch=2, prompt_tokens=1024, gen_tokens=16)["activations"]
    assert whole == 8 * t * 1024 * FP16 * BUFFERS == 67_108_864
    chunked = _footprint("olmoe-1b-7b", batch=2, prompt_tokens=1024, gen_tokens=16,
                         prefill_chunk_tokens=512)["activations"]
    assert chunked == 8 * 512 * 1024 * FP16 * BUFFERS == 16_777_216


def test_the_chunk_bounds_memory_not_time() -> None:
    """Stated assumption (docs/mapping.md): prefill timing is one pass either way."""
    from slmsim.simulator.engines import run

    hw, model = load_hardware("agx-orin-64gb").spec, load_model("llama-3.2-1b")
    a = run(make_plan(hw, model, Scenario(batch=2, prompt_tokens=2048, gen_tokens=8)))
    b = run(make_plan(hw, model, Scenario(batch=2, prompt_tokens=2048, gen_tokens=8, prefill_chunk_tokens=512)))
    assert a.ttft_s == b.ttft_s


@pytest.mark.parametrize(("stack", "model", "chunk"), [
    ("llama.cpp", "llama-3.2-3b", 512),  # n_ubatch
    ("vllm", "llama-3.1-8b", 2048),  # max_num_batched_tokens, OpenAI server, GPUs < 70 GB
    ("mlc", "llama-3.1-8b", 8192),  # min(context window, 8192)
    ("genie", "llama-3.2-3b", 128),  # the AR-128 prompt processor
    ("genie", "llama-2-7b", 1024),  # its asset's prompt processor
    ("torchao", "llama-2-7b", None),  # the whole prompt in one forward call
])
def test_each_stack_states_its_chunk(stack: str, model: str, chunk: int | None) -> None:
    spec = load_stack(stack).spec
    assert spec.prefill_chunk(model) == chunk
    hw = {"genie": "snapdragon-8-elite", "torchao": "a100-80gb"}.get(stack, "agx-orin-64gb")
    fmt = next(iter(spec.formats))
    choice = choose(load_hardware(hw).spec, load_model(model), spec, fmt, format_library())
    assert stack_scenario(Scenario(), choice, load_model(model)).prefill_chunk_tokens == chunk
    # a chunk the user gives wins over the stack's
    assert stack_scenario(Scenario(prefill_chunk_tokens=64), choice, load_model(model)).prefill_chunk_tokens == 64


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_infeasible_by_activations_points_at_the_chunk(capsys: pytest.CaptureFixture[str]) -> None:
    # Qwen2.5 7B on an 8 GB Orin Nano, batch 16 x 4096: 65,536 rows x 37,888 (2 x 18,944) x 4 B
    # = 9.93 GB of activations, above the 4.28 GB of weights and 3.77 GB of KV
    args = ("simulate", "--hw", "orin-nano", "--model", "qwen2.5-7b", "--batch", "16", "--prompt", "4096",
            "--gen", "16")
    code, out, err = run_cli(capsys, *args)
    assert code == 2, out + err
    text = out + err
    assert "one prefill pass over all 65,536" in text and "--prefill-chunk 512" in text
    assert "9.932 GB" in text  # 65,536 x 37,888 x 2 B x 2 buffers
    code, out, err = run_cli(capsys, *args, "--prefill-chunk", "512")
    text = out + err
    assert "77.59 MB" in text  # 512 x 37,888 x 4 B
    assert "--prefill-chunk 512" not in text  # the hint is for unchunked runs whose activations bind


def test_prefill_chunk_flag_is_checked_and_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--prefill-chunk", "0")
    assert code == 2 and "--prefill-chunk" in err and "out of range: 0" in err
    code, out, _ = run_cli(capsys, "simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--prompt", "2048",
                           "--batch", "4", "--prefill-chunk", "512", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["scenario"]["prefill_chunk_tokens"] == 512
    # llama-3.2-1b: intermediate 8192, gate and up fused: 512 x 16384 x 2 B x 2
    assert d["memory_footprint_bytes"]["activations"] == 512 * 16384 * FP16 * BUFFERS


def test_a_dse_workload_carries_its_chunk_and_an_unset_one_keeps_the_stored_form(tmp_path) -> None:
    from slmsim.dse.space import Space, WorkloadSpec
    from slmsim.dse.space_check import check_space

    f = tmp_path / "space.yaml"
    f.write_text("base: orin-nano\nparameters: {memories.dram.bandwidth: {choices: ['68 GB/s', '102 GB/s']}}\n"
                 "workloads:\n  - {model: llama-3.2-1b, prompt: 2048, batch: 4, prefill_chunk: 512}\n"
                 "  - {model: qwen3-0.6b}\n"
                 "objectives: [decode_latency, energy_per_token]\n")
    space = check_space(f).space
    chunked, whole = space.workloads
    assert chunked.scenario().prefill_chunk_tokens == 512 and whole.scenario().prefill_chunk_tokens is None
    assert "prefill_chunk" not in whole.to_dict()  # a study stored before the field reads back the same
    assert Space.from_dict(space.to_dict()).workloads == space.workloads
    assert WorkloadSpec(**{k: v for k, v in whole.to_dict().items()}) == whole
