"""A mixed step (decodes + prefill chunks in one step, `StepMapper.mixed`): what it computes and
moves, derived by hand for llama-3.2-1b on AGX Orin (16 layers, 32 query heads of 64, 8 KV
heads, hidden 2048; the default precision: 4-bit weights with an fp16 scale per 32, 4.5 bits
in memory; 16-bit KV)."""

from __future__ import annotations

import numpy as np
import pytest

from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.workloads.graph import OpKind, Phase, merge_steps
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Scenario

HW, MODEL = load_hardware("agx-orin-64gb").spec, load_model("llama-3.2-1b")
KV_PER_TOKEN = 16 * 2 * 8 * 64 * 2  # layers x (K, V) x KV heads x head dim x 2 B = 32,768 B
EMBED_ROW = 2048 * 4.5 / 8  # one looked-up embedding row: 1,152 B


def mapper(**kw: object):  # noqa: ANN202
    return make_plan(HW, MODEL, Scenario(prompt_tokens=1024, gen_tokens=64, batch=1, **kw)).mapper


def test_model_figures_the_hand_derivations_use() -> None:
    assert (MODEL.num_layers, MODEL.num_attention_heads, MODEL.head_dim, MODEL.num_kv_heads) == (16, 32, 64, 8)
    assert mapper().kv_bytes_per_token() == KV_PER_TOKEN
    assert mapper().precision.weight_bits_in_memory == 4.5


def test_a_mixed_step_reads_the_weights_once_and_adds_the_chunks_work() -> None:
    """4 sequences decoding at a total context of 6,000 tokens, with a 256-token chunk of a
    prompt whose first 512 tokens are prefilled: FLOPs add up exactly; DRAM bytes are the decode
    step's plus what only the chunk moves: its K/V read back (512 earlier + its own 256 tokens)
    and written (256), and its 256 embedding rows; the weights are not read a second time."""
    m = mapper()
    dec = m.decode(4)
    chunk = m.prefill(1024, 1, tokens_per_seq=256, logits=False)
    mixed = m.mixed(4, ((256, 512, False),))
    ctx = 6000.0
    assert mixed.phase == "mixed" and mixed.batch == 4
    assert float(mixed.flops_total(ctx, 1)) == pytest.approx(
        float(dec.flops_total(ctx, 1)) + float(chunk.flops_total(512.0, 1)), rel=1e-12)
    extra = (512 + 256) * KV_PER_TOKEN + 256 * KV_PER_TOKEN + 256 * EMBED_ROW
    assert extra == 33_849_344
    assert mixed.tier_bytes_total(ctx, 1)["dram"] == pytest.approx(dec.tier_bytes_total(ctx, 1)["dram"] + extra,
                                                                    rel=1e-12)
    # one step for both costs more than either part and less than the two run one after the other
    t = {name: float(s.step_times_s(np.array([c]))[0])
         for name, s, c in (("dec", dec, ctx), ("chunk", chunk, 512.0), ("mixed", mixed, ctx))}
    assert max(t["dec"], t["chunk"]) < t["mixed"] < t["dec"] + t["chunk"]


def test_the_chunks_attention_is_its_queries_against_its_own_context() -> None:
    """Per layer, 4 x 32 heads x 64 = 8,192 FLOPs per (query, key) pair; a 256-token chunk after
    512 prompt tokens scores 256 x 257 / 2 causal pairs among its tokens + 256 x 512 against the
    earlier ones = 163,968 pairs, a constant of the step; the decode rows keep their per-context
    term (8,192 FLOPs per context token, 4 sequences)."""
    wl = mapper().workload
    dec = wl(Phase.DECODE, batch=4, prompt=1024)
    chunk = wl(Phase.PREFILL, batch=1, prompt=768, tokens_per_seq=256, logits=False)
    merged = merge_steps(dec, ((chunk, 512),), model=MODEL.name)
    (attn,) = [op for op in merged.ops if op.kind is OpKind.ATTENTION]
    assert attn.flops == 163_968 * 8_192
    assert attn.flops_per_ctx == 8_192
    assert attn.kv_read_bytes_per_ctx == KV_PER_TOKEN / 16  # per layer
    assert attn.kv_read_bytes == (512 + 256) * KV_PER_TOKEN / 16
    assert attn.kv_write_bytes == (4 + 256) * KV_PER_TOKEN / 16


def test_logits_for_the_decode_rows_and_the_prompts_that_end() -> None:
    m = mapper()
    dec = m.workload(Phase.DECODE, batch=3, prompt=1024)
    ends = m.workload(Phase.PREFILL, batch=1, prompt=100, tokens_per_seq=100, logits=True)
    cont = m.workload(Phase.PREFILL, batch=1, prompt=300, tokens_per_seq=200, logits=False)
    ops = {op.name: op for op in merge_steps(dec, ((ends, 0), (cont, 100)), model=MODEL.name).ops}
    # three decode rows and the prompt that ends; the continuing chunk has no logits
    assert ops["lm_head"].m == 3 + 1
    assert ops["lm_head"].flops == 2 * 4 * 2048 * MODEL.vocab_size
    assert ops["embedding"].m == 3 + 100 + 200 and ops["embedding"].weight_params == (3 + 100 + 200) * 2048
    # dense weights: the same matrix for every part, read once
    assert ops["ffn_up"].weight_params == {op.name: op for op in dec.ops}["ffn_up"].weight_params
    assert ops["ffn_up"].m == 303


def test_without_chunks_it_is_the_decode_step_and_without_decodes_a_prefill_step() -> None:
    m = mapper()
    assert m.mixed(5, ()) is m.decode(5)
    two = m.mixed(0, ((100, 0, True), (60, 40, False)))
    assert two.phase == "prefill"
    assert float(two.flops_total(0.0, 1)) == pytest.approx(
        float(m.prefill(100, 1).flops_total(0.0, 1))
        + float(m.prefill(100, 1, tokens_per_seq=60, logits=False).flops_total(40.0, 1)), rel=1e-12)
    with pytest.raises(ValueError, match="needs a decode batch"):
        merge_steps(None, (), model=MODEL.name)


def test_an_moe_mixed_step_reads_the_experts_of_all_its_tokens_once() -> None:
    """qwen3-30b-a3b, 128 experts, top 8: a step of 2 decodes + a 254-token chunk is mapped at
    the expected distinct experts of 256 tokens (rounded to the 0.25 quantum), read once; the
    expert FLOPs are those of 256 x 8 token-expert pairs."""
    model = load_model("qwen3-30b-a3b")
    m = make_plan(HW, model, Scenario(prompt_tokens=512, gen_tokens=16, batch=1)).mapper
    d = round(m.expected_distinct(256) * 4) / 4
    assert 120 < d <= 128
    dec = m.workload(Phase.DECODE, batch=2, prompt=512, distinct=d)
    chunk = m.workload(Phase.PREFILL, batch=1, prompt=254, tokens_per_seq=254, distinct=d)
    up = {op.name: op for op in dec.ops}["experts_up"]
    merged = {op.name: op for op in merge_steps(dec, ((chunk, 0),), model=model.name).ops}["experts_up"]
    assert merged.weight_params == up.weight_params == d * up.k * up.n  # read once
    assert merged.flops == pytest.approx(2 * 256 * 8 * up.k * up.n, rel=1e-12)
    step = m.mixed(2, ((254, 0, True),))
    assert step.phase == "mixed"
    (tier, moved), = {op.name: op for op in step.ops}["experts_up"].tier_bytes
    # per layer: the distinct experts' up-projections, once, at the experts' bits in memory
    assert (tier, moved.const) == ("dram", pytest.approx(merged.weight_bytes, rel=1e-12))
    assert merged.weight_bytes == d * up.k * up.n * m.precision.expert_bits_in_memory / 8
