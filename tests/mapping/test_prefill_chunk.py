"""Chunked prefill by hand: activations held for one pass, the passes' FLOPs, bytes and time.

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
    # OLMoE: qkv holds T x 6144; the experts' up projection holds 8 T routed rows x max(hidden
    # 2048, gate + up 2 x 1024) = 16,384 per token. Before 2026-12-07 the expert matmuls held
    # only T rows and the activation's 8 T x 1024 bound instead (half; found by an audit).
    t = 2 * 1024
    whole = _footprint("olmoe-1b-7b", batch=2, prompt_tokens=1024, gen_tokens=16)["activations"]
    assert whole == 8 * t * 2048 * FP16 * BUFFERS == 134_217_728
    chunked = _footprint("olmoe-1b-7b", batch=2, prompt_tokens=1024, gen_tokens=16,
                         prefill_chunk_tokens=512)["activations"]
    assert chunked == 8 * 512 * 2048 * FP16 * BUFFERS == 33_554_432
    # Qwen3-30B-A3B: 8 of 128 experts of width 768; the up projection's input (hidden 2048)
    # is wider than its output (2 x 768), so 8 T x 2048 binds
    q = _footprint("qwen3-30b-a3b", batch=1, prompt_tokens=1024, gen_tokens=16)["activations"]
    assert q == 8 * 1024 * 2048 * FP16 * BUFFERS == 67_108_864


def test_routed_rows_can_make_an_moe_prefill_infeasible(capsys: pytest.CaptureFixture[str]) -> None:
    # orin-nx-16gb, olmoe-1b-7b, batch 16 x 4000 tokens: 512,000 routed rows x 2048 x 2 B x 2 =
    # 4.19 GB of activations; with 3.89 GB of weights and 8.52 GB of KV the 16 GB tier overflows
    # (the audit's case: 2.10 GB of activations had it fit)
    rc = main(["simulate", "--hw", "orin-nx-16gb", "--model", "olmoe-1b-7b", "--prompt", "4000", "--gen", "64",
               "--batch", "16", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc != 0 or "infeasible" in out
    inf = out["infeasible"]
    assert inf["details"]["activations"] == 16 * 4000 * 8 * 2048 * FP16 * BUFFERS == 4_194_304_000
    assert inf["demanded"] == sum(inf["details"].values()) > inf["bound"] == 16e9


def _mapper(model: str, **scenario: object):
    from slmsim.mapping.plan import StepMapper

    return StepMapper(load_hardware("agx-orin-64gb").spec, load_model(model), Scenario(**scenario))


def test_pass_shapes_share_the_chunk_across_the_batch() -> None:
    # 512 tokens a pass for 2 sequences: 256 each, 8 passes; the last one computes the logits
    m = _mapper("llama-3.2-1b", batch=2, prompt_tokens=2048, prefill_chunk_tokens=512)
    assert m.prefill_pass_shapes(2048, 2) == ((256, False, 0, 7), (256, True, 1792, 1))
    (_, ctx), (_, last) = m.prefill_passes(2048, 2)  # the batch's total context at each pass
    assert ctx.tolist() == [2 * 256 * i for i in range(7)] and last.tolist() == [2 * 1792]
    # a remainder: 1000 = 512 + 488
    m = _mapper("llama-3.2-1b", prompt_tokens=1000, prefill_chunk_tokens=512)
    assert m.prefill_pass_shapes(1000, 1) == ((512, False, 0, 1), (488, True, 512, 1))
    # a chunk smaller than the batch still moves every sequence one token a pass
    m = _mapper("llama-3.2-1b", batch=8, prompt_tokens=3, prefill_chunk_tokens=4)
    assert m.prefill_pass_shapes(3, 8) == ((1, False, 0, 2), (1, True, 2, 1))
    # no chunk, or one the batch's prompts fit in: one pass
    assert _mapper("llama-3.2-1b", batch=2, prompt_tokens=2048).prefill_pass_shapes(2048, 2) == ((2048, True, 0, 1),)
    m = _mapper("llama-3.2-1b", batch=2, prompt_tokens=2048, prefill_chunk_tokens=4096)
    assert m.prefill_pass_shapes(2048, 2) == ((2048, True, 0, 1),)


def _prefill(capsys: pytest.CaptureFixture[str], engine: str, *chunk: str) -> dict:
    code, out, err = run_cli(capsys, "simulate", "--hw", "agx-orin-64gb", "--model", "llama-3.2-1b", "--batch", "2",
                             "--prompt", "2048", "--gen", "8", "--engine", engine, "--json", *chunk)
    assert code == 0, err
    return json.loads(out)


# Llama 3.2 1B: 16 layers of hidden 2048, q 32 x 64, k and v 8 x 64, intermediate 8192
LAYER_PARAMS = 2048 * (2048 + 2 * 512) + 2048 * 2048 + 2048 * 2 * 8192 + 8192 * 2048  # 60,817,408
WEIGHT_BYTES_PER_PASS = 16 * LAYER_PARAMS * 4.5 / 8  # W4 + an fp16 scale per 32: 547,356,672 B
KV_BYTES_PER_CTX_TOKEN = 16 * 2 * 512 * 2  # K and V of every layer at 16 bits: 32,768 B


def test_chunked_prefill_does_the_same_flops_and_reads_the_weights_once_a_pass(
        capsys: pytest.CaptureFixture[str]) -> None:
    whole = _prefill(capsys, "analytic")["work"]["prefill"]
    chunked = _prefill(capsys, "analytic", "--prefill-chunk", "512")["work"]["prefill"]
    # causal attention over 8 passes of 256: sum_i [256 x 257 / 2 + 256 x 256 i] = 2048 x 2049 / 2,
    # and every matmul is linear in the tokens: the same FLOPs
    assert sum(256 * 257 / 2 + 256 * 256 * i for i in range(8)) == 2048 * 2049 / 2
    assert chunked["flops"] == pytest.approx(whole["flops"], rel=1e-12)
    # 7 more passes each stream the layers' weights (the lm_head runs once, in the last pass),
    # and pass i reads the K/V of the 2 x 256 i tokens before it
    prior_ctx = 2 * 256 * sum(range(8))  # 14,336 tokens of context read, over the passes
    extra = 7 * WEIGHT_BYTES_PER_PASS + prior_ctx * KV_BYTES_PER_CTX_TOKEN
    assert extra == 3_831_496_704 + 469_762_048
    assert chunked["bytes_by_tier"]["dram"] - whole["bytes_by_tier"]["dram"] == pytest.approx(extra, rel=1e-9)


def test_chunked_prefill_ttft_is_bracketed_by_its_launches_and_its_extra_bytes(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each extra pass launches its 129 kernels (embedding + 16 layers x 8 ops, no lm_head) at the
    preset's 39.28 us; the extra bytes can at most add their streaming time at the AGX Orin's
    achievable LPDDR5 bandwidth (204.8 GB/s x 0.8798), the FLOPs being the same."""
    whole = _prefill(capsys, "analytic")
    chunked = _prefill(capsys, "analytic", "--prefill-chunk", "512")
    launches = 7 * 129 * 39.28e-6  # 35.5 ms
    extra_bytes = chunked["work"]["prefill"]["bytes_by_tier"]["dram"] - whole["work"]["prefill"]["bytes_by_tier"]["dram"]
    delta = chunked["ttft_s"] - whole["ttft_s"]
    assert launches * (1 - 1e-6) <= delta <= launches + extra_bytes / (204.8e9 * 0.8798)


@pytest.mark.parametrize("chunk", ["512", "300"])
def test_engines_agree_on_a_chunked_prefill(capsys: pytest.CaptureFixture[str], chunk: str) -> None:
    # one device, nothing shared, the ideal memory model: the DES runs the same passes back to
    # back (the ideal limit, docs/engines.md) and agrees to rounding
    a = _prefill(capsys, "analytic", "--prefill-chunk", chunk)
    d = _prefill(capsys, "des", "--prefill-chunk", chunk, "--memory-model", "ideal")
    assert d["ttft_s"] == pytest.approx(a["ttft_s"], rel=1e-9)
    assert d["prefill_energy_j"] == pytest.approx(a["prefill_energy_j"], rel=1e-4)
    assert d["work"]["prefill"]["bytes_by_tier"]["dram"] == pytest.approx(a["work"]["prefill"]["bytes_by_tier"]["dram"],
                                                                        rel=1e-9)
    # the banked DRAM model (the DES default) adds a first-access latency (tRCD + tCL) when a
    # pass starts on an idle channel: tens of ns a pass, against ~40 ms passes
    banked = _prefill(capsys, "des", "--prefill-chunk", chunk)
    passes = -(-2048 // (int(chunk) // 2))
    assert 0 < banked["ttft_s"] - a["ttft_s"] < passes * 1e-6


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


def test_the_des_refuses_a_prefill_of_too_many_passes(capsys: pytest.CaptureFixture[str]) -> None:
    # 1.5M prompt tokens one a pass: 1.5M prefill steps, beyond the DES's 1M-step budget
    code, _, err = run_cli(capsys, "simulate", "--hw", "agx-orin-64gb", "--model", "qwen3-0.6b", "--prompt", "1500000",
                           "--gen", "8", "--prefill-chunk", "1", "--engine", "des", "--kv-bits", "4")
    assert code == 2 and "1500000 prefill passes" in err and "--engine analytic" in err
