"""Weights of a model by weight group, and the bytes they take at a precision.

The groups are the ones the op graph reads as one op (`WeightGroup`): a mixed weight format
(an f16 LM head and embedding beside 4-bit linears) stores each group at its own bits, so the
memory a model needs is the sum over the groups, not one average times the parameter count.
"""

from __future__ import annotations

from slmsim.workloads.model import Ffn, ModelSpec
from slmsim.workloads.scenario import Precision, WeightGroup


def group_params(model: ModelSpec) -> dict[WeightGroup, int]:
    """Weights per group over the whole model (every expert, the encoder, cross-attention);
    a tied embedding is counted once, as the LM head. The groups add up to `total_params()`."""
    out = {g: 0 for g in WeightGroup}
    h = model.hidden_size
    attn = model.attention_params()
    o = (model.num_attention_heads * model.mla.v_head_dim if model.mla is not None else model.q_dim) * h

    def attention(blocks: int) -> None:
        out[WeightGroup.QKV] += blocks * (attn - o)
        out[WeightGroup.O_PROJ] += blocks * o

    def ffn(blocks: int, inter: int) -> None:
        up = (2 if model.ffn is Ffn.GATED else 1) * h * inter
        out[WeightGroup.FFN_UP] += blocks * up
        out[WeightGroup.FFN_DOWN] += blocks * h * inter

    ed = model.encoder_decoder
    attention(model.num_layers * (2 if ed is not None else 1))  # + cross-attention in each decoder layer
    if ed is not None:
        attention(ed.num_encoder_layers)
        ffn(ed.num_encoder_layers, model.intermediate_size)
    if model.moe is None:
        ffn(model.num_layers, model.intermediate_size)
    else:
        m = model.moe
        ffn(m.first_dense_layers, m.dense_intermediate_size or model.intermediate_size)
        layers = model.moe_layers()
        out[WeightGroup.EXPERTS] += layers * m.num_experts * model.expert_params()
        out[WeightGroup.ROUTER] += layers * model.router_params()
        if m.num_shared_experts:
            ffn(layers, m.num_shared_experts * m.shared_expert_intermediate_size)
    out[WeightGroup.LM_HEAD] += model.lm_head_params()
    if not model.tie_word_embeddings:
        out[WeightGroup.EMBEDDING] += model.embedding_params()
    return out


def weight_bytes(model: ModelSpec, precision: Precision) -> float:
    """Every weight of the model in memory, each group at its own bits (scales included)."""
    return sum(n * precision.bits_for(g) for g, n in group_params(model).items()) / 8.0
