"""MLA (DeepSeek-V2-Lite) FLOPs by hand, in both of MLA's computing forms.

vLLM's MLA backend (vllm/v1/attention/backends/mla/common.py; DeepSeek-V2, arXiv 2405.04434)
runs prefill in the compute-friendly form (kv_b up-projects every prompt token's latent to
k_nope and v; multi-head attention with 192-wide scores and 128-wide values) and decode in
the absorbed form (W_UK applied to q_nope, W_UV to the latent output; scores over the
512 latent + 64 rope key, values from the 512 latent). Either way each projection weight is
used once per token.
"""

from __future__ import annotations

from slmsim.workloads.graph import Phase, build_step
from slmsim.workloads.load import load_model
from slmsim.workloads.scenario import Precision

H, HEADS, NOPE, ROPE, V, LKV = 2048, 16, 128, 64, 128, 512  # deepseek-v2-lite config.json, q_lora_rank null
Q = H * HEADS * (NOPE + ROPE)  # 6,291,456
KV_A = H * (LKV + ROPE)  # 1,179,648
KV_B = LKV * HEADS * (NOPE + V)  # 2,097,152: W_UK and W_UV
QKV_FLOPS_PER_TOKEN = 2 * (Q + KV_A + KV_B)  # 19,136,512 per layer


def _ops(phase: Phase, prompt: int) -> dict:
    wl = build_step(load_model("deepseek-v2-lite"), Precision(), phase=phase, batch=1, prompt_tokens=prompt)
    return {op.name: op for op in wl.ops}


def test_decode_counts_the_absorbed_w_uk_and_w_uv_products() -> None:
    ops = _ops(Phase.DECODE, 32)
    assert ops["qkv_proj"].flops == QKV_FLOPS_PER_TOKEN == 19_136_512
    # before: 2 x 2048 x (3072 + 576) = 14,942,208, the kv_b products (2 x 2,097,152 x 2) missing
    att = ops["attention"]
    assert att.flops == 0 and att.flops_per_ctx == 2 * HEADS * (LKV + ROPE) + 2 * HEADS * LKV == 34_816
    assert att.kv_read_bytes_per_ctx == (LKV + ROPE) * 2  # the latent + rope key at 16 bits


def test_prefill_uses_the_compute_friendly_form() -> None:
    p = 64
    ops = _ops(Phase.PREFILL, p)
    assert ops["qkv_proj"].flops == p * QKV_FLOPS_PER_TOKEN
    pairs = p * (p + 1) / 2  # causal
    assert ops["attention"].flops == pairs * (2 * HEADS * (NOPE + ROPE) + 2 * HEADS * V) == 2080 * 10_240
