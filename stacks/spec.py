"""A software stack as a spec: its weight formats, its kernels and what each kernel costs.

A *weight format* is a memory layout: bytes per block of weights, block scales and zero
points included (ggml's `block_q4_0` is 18 bytes per 32 weights: 4.5 bits per weight). A
format may be a *mixture* (llama.cpp's Q4_K_M keeps some tensors in Q6_K); the bits a model
reads then depend on the model's shapes, which `mapping.stack` works out.

A *stack* says which formats it runs (with its own dequantisation cost per format), how many
kernels each layer becomes (fusion), its attention and MoE kernels, any static context
window, and per device class a few kernel-cost constants:

- `host_launch_cycles`: CPU cycles to launch one kernel (A78-equivalent; scaled by the host
  CPU's clock x relative IPC). Zero work per kernel when the stack replays a graph
  (`graph: true`): the host then pays `host_launch_cycles` once per step.
- `device_kernel_cycles`: device-clock cycles of a kernel's fixed part (grid launch, ramp,
  tail, sync), scaled by the device clock.
- `step_host_cycles`: host cycles per step outside the kernels (sampling, scheduler).
- achieved-bandwidth efficiencies per kernel kind (dense GEMV, grouped MoE GEMM, attention)
  relative to the memory tier's streaming bandwidth;
- `matrix_efficiency`: the achieved fraction of the matrix peak of its GEMMs (prefill);
- `decode_attention_efficiency`: where decode attention (one query row per sequence) runs
  compute-bound on the vector unit, the fraction of its peak it reaches (None: attention
  runs at the matrix peak, memory-bound in decode); `decode_attention_overlap`: how much of
  the shorter of that compute and the op's KV stream hides under the longer (1: max, 0: sum);
- `formats`: per format that is another kernel kind on the class (Genie w4 vs w4a16),
  its GEMV and matrix efficiencies.

`family_formats` says which format a stack runs instead when it has no kernel of the one
asked for on a model family (MLC has no FasterTransformer path for Gemma). The fitted values
come from `slmsim.refit` (docs/validation.md).

Nothing below `mapping` imports this package; `mapping.stack` combines a stack with a
hardware spec, a model and a scenario.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import difflib

from pydantic import BaseModel, ConfigDict, Field, model_validator

from slmsim.core.errors import Problem, SpecError

SPEC = ConfigDict(frozen=True, extra="forbid")


class TensorClass(StrEnum):
    """Weight tensors a mixed format treats differently (llama.cpp's names)."""

    ATTN_Q = "attn_q"
    ATTN_K = "attn_k"
    ATTN_V = "attn_v"
    ATTN_QKV = "attn_qkv"  # q, k and v in one tensor, as llama.cpp stores phi3's (its attn_v rules take it)
    ATTN_OUTPUT = "attn_output"
    FFN_GATE = "ffn_gate"
    FFN_UP = "ffn_up"
    FFN_DOWN = "ffn_down"
    OUTPUT = "output"  # lm_head (the embedding when tied)
    TOKEN_EMBD = "token_embd"  # the token embedding table of an untied model
    EXPERTS = "experts"  # routed-expert FFN weights of MoE layers
    FFN_DOWN_EXPS = "ffn_down_exps"  # the down projections among `experts` (a mixture target only)
    ROUTER = "router"  # MoE router (gate) weights


class BlockLayout(BaseModel):
    """A quantisation block as stored: `bytes` hold `weights` weights with their scales/zeros."""

    model_config = SPEC

    weights: int = Field(gt=0, description="weights per block")
    bytes: float = Field(gt=0, description="bytes per block, scales and zero points included")


class MixturePart(BaseModel):
    """Tensors of a mixed format kept in another format."""

    model_config = SPEC

    tensors: tuple[TensorClass, ...] = Field(min_length=1)
    layers: Literal["all", "use_more_bits"] = Field(
        "all", description="which layers: all, or llama.cpp's use_more_bits() selection (first and last eighth, "
                           "every third between)")
    format: str = Field(description="name of the format those tensors use")
    experts: int | None = Field(
        None, ge=1, description="applies only to a model with this many routed experts per layer (llama.cpp's "
                                "n_expert == 8 rules); none: every model")


class WeightFormat(BaseModel):
    model_config = SPEC

    description: str = Field(description="what the format is (layout, scales, who uses it)")
    weight_bits: int = Field(ge=1, le=32, description="bits of each quantised value (the math precision)")
    block: BlockLayout = Field(description="the block as stored: weights per block and the bytes of each part")
    activation_bits: int = Field(16, ge=4, le=32, description="activation precision of the kernels")
    mixture: tuple[MixturePart, ...] = Field(
        (), description="per-tensor formats of a mixed format (llama.cpp's Q4_K_M tensor rules); empty: uniform")
    aliases: tuple[str, ...] = Field((), description="other names of the format (e.g. Q4_K_M for q4_k_m)")
    only: tuple[TensorClass, ...] = Field(
        (), description="tensors the format applies to; the rest stay in `rest_format` (gpt-oss: experts only)")
    rest_format: str | None = Field(None, description="format of the tensors `only` leaves out (e.g. bf16)")
    row_fallback: str | None = Field(
        None, description="format a tensor takes when its rows (ggml's ne[0], the matmul's input width) are not a "
                          "multiple of the block's weights (llama.cpp: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, "
                          "Q3_K -> IQ4_NL); F16 when the fallback's block does not divide them either; "
                          "None: the rows are taken as padded to whole blocks")
    float_math: Literal["fp8", "fp4"] | None = Field(
        None, description="the values are fp8 / fp4 floats: a matrix engine that states no peak for that precision "
                          "(matrix_throughput) cannot take them natively, so a stack's zero dequantisation cost "
                          "for the format is then an optimistic assumption, said as a warning")

    @property
    def bits_per_weight(self) -> float:
        """Bits per weight of the base layout (a mixture's average depends on the model)."""
        return self.block.bytes * 8.0 / self.block.weights

    @model_validator(mode="after")
    def _check(self) -> "WeightFormat":
        if self.only and self.rest_format is None:
            raise ValueError("`only` needs `rest_format` (the format of the other tensors)")
        return self


class FormatUse(BaseModel):
    """A format as one stack runs it: the stack's kernel decides the dequantisation work."""

    model_config = SPEC

    dequant_ops_per_weight: float = Field(
        ge=0, description="vector ops to unpack one weight to the math precision (0: the engine takes it natively)")
    kv_cache_bits: int | None = Field(
        None, ge=1, le=32, description="bits per KV-cache element the compiled asset fixes for this format "
                                       "(Genie w4a16: 8); None: the scenario's kv_bits (--kv-bits)")


class KernelsPerLayer(BaseModel):
    """Kernels one decode step launches, per layer (fusion) and per step."""

    model_config = SPEC

    attention_block: float = Field(gt=0, description="norm, QKV, rotary, KV write, attention, output projection")
    ffn_block: float = Field(gt=0, description="norm, gate/up, activation, down, residual")
    moe_block: float = Field(gt=0, description="norm, router, top-k, gather/scatter, grouped expert GEMMs")
    head: float = Field(gt=0, description="per step: embedding, final norm, lm_head, sampling")


class FormatKernel(BaseModel):
    """What one format's kernels achieve on one device class, where it is another kernel kind.

    A stack may run formats through different kernels on the same device: Qualcomm's `w4a16`
    (int16 activations x int4 weights on HMX) and `w4` (fp activations, weights unpacked to
    fp16), MLC's CUTLASS FasterTransformer GEMV (`q4f16_ft`) and its TVM-generated group-quant
    GEMV (`q4f16_1`), llama.cpp Metal's f16 and q4_0 mat-vec kernels.
    """

    model_config = SPEC

    gemv_efficiency: float = Field(
        1.0, ge=1e-3, le=1, description="achieved / streaming bandwidth of this format's GEMV, relative to dense_gemv_efficiency")
    matrix_efficiency: float | None = Field(
        None, ge=1e-3, le=1, description="achieved fraction of the matrix peak of this format's GEMMs (None: the class's)")
    dequant_ops_per_weight: float | None = Field(
        None, ge=0, le=1000,
        description="vector ops this class's kernels spend to unpack one weight, in units of the device's vector "
                    "peak, where they differ from the stack-wide figure of the format (llama.cpp's Metal kernels "
                    "convert each weight to a float; its CPU kernels feed int8 dot products); None: the stack's")


class KernelCosts(BaseModel):
    """Kernel-cost constants of one (device class x stack)."""

    model_config = SPEC

    graph: bool = Field(description="kernels replayed from a captured graph (CUDA graphs, compiled QNN graph)")
    host_launch_cycles: float = Field(ge=0, le=2e5, description="host cycles per kernel launch (per graph if graph)")
    device_kernel_cycles: float = Field(ge=0, le=1e5, description="device-clock cycles of a kernel's fixed part")
    step_host_cycles: float = Field(0.0, ge=0, le=2e7, description="host cycles per step outside the kernels")
    dense_gemv_efficiency: float = Field(1.0, ge=1e-3, le=1, description="achieved / streaming bandwidth, dense GEMV")
    moe_gemm_efficiency: float = Field(1.0, ge=1e-3, le=1, description="achieved / streaming bandwidth, grouped MoE GEMM")
    attention_efficiency: float = Field(1.0, ge=1e-3, le=1, description="achieved / streaming bandwidth, attention")
    matrix_efficiency: float | None = Field(
        None, ge=1e-3, le=1,
        description="achieved fraction of the matrix peak of the stack's GEMMs (prefill); None: the device's compute_efficiency")
    decode_attention_efficiency: float | None = Field(
        None, ge=1e-3, le=1,
        description="decode steps (one query row per sequence): attention's FLOPs take at least FLOPs / (vector peak x "
                    "this) seconds; None: only the matrix peak and the KV bytes bound it")
    decode_attention_overlap: float = Field(
        1.0, ge=0, le=1,
        description="with decode_attention_efficiency: the share of the shorter of (vector compute, KV stream) that "
                    "hides under the longer; 1: time = max(compute, KV), 0: compute + KV (no prefetch overlap)")
    dequant_token_tile: int | None = Field(
        None, gt=0, le=4096,
        description="token rows of the output tile of the stack's mixed-input GEMMs on this class: each weight is "
                    "dequantised once per tile of this many tokens (ggml-metal kernel_mul_mm: 32), so a GEMM of n "
                    "token rows (a prefill pass, a large decode batch) pays ceil(n / tile) x the format's "
                    "dequantisation; None: once per GEMM")
    formats: dict[str, FormatKernel] = Field(
        default_factory=dict, description="format -> its kernel's efficiencies where it is another kernel kind")

    def format_kernel(self, name: str) -> FormatKernel:
        return self.formats.get(name, FormatKernel())


class ChunkByMemory(BaseModel):
    """A prefill chunk (token budget per step) for devices with at least this much memory."""

    model_config = SPEC

    min_memory_gib: float = Field(gt=0, description="the device's memory (its memory tier's capacity), GiB, at least")
    tokens: int = Field(gt=0, description="tokens per prefill pass (per step) on such a device")
    except_devices: tuple[str, ...] = Field(
        (), description="substrings of hardware names the rule does not apply to (vLLM: a100)")


class StackSpec(BaseModel):
    model_config = SPEC

    name: str = Field(description="the stack's preset name (what --stack takes)")
    description: str = Field(description="what the stack is and how it runs a model")
    version: str = Field(description="the version whose behaviour this spec describes")
    aliases: tuple[str, ...] = Field((), description="other names of the stack (e.g. ollama for llama.cpp)")
    runs_on: tuple[Literal["gpu", "npu", "cpu"], ...] = Field(
        min_length=1, description="device kinds the stack runs on, preferred first")
    not_on_device_classes: dict[str, str] = Field(
        default_factory=dict, description="device class -> why the stack cannot run there (a CUDA-only stack on "
                                          "apple-gpu), refused instead of taking the `default` costs")
    formats: dict[str, FormatUse] = Field(min_length=1, description="weight formats it runs (names in formats.yaml)")
    kernels: KernelsPerLayer = Field(description="kernels launched per layer and per step (its fusion)")
    attention_kernel: str = Field(description="what its decode attention is (e.g. paged FlashAttention)")
    moe_kernel: str = Field(description="what its MoE kernel is (e.g. fused grouped GEMM)")
    static_context_window_tokens: int | None = Field(
        None, gt=0, description="compiled context window attended over every step (None: the tokens so far)")
    prefill_logits: Literal["last", "all"] = Field(
        "last", description="LM-head rows of a prefill pass: `last` (each prompt's last token) or `all` (every "
                            "position of every pass: a compiled prompt processor returning the whole logits tensor)")
    context_window_by_model: dict[str, int] = Field(
        default_factory=dict, description="model preset -> compiled window, where a model's asset differs")
    prefill_chunk_tokens: int | None = Field(
        None, gt=0, description="tokens one prefill forward pass holds (llama.cpp n_ubatch, vLLM "
                                "max_num_batched_tokens): prefill runs in passes of it (None: the whole prompt in one)")
    prefill_chunk_by_model: dict[str, int] = Field(
        default_factory=dict, description="model preset -> prefill tokens per pass, where a model's asset differs")
    prefill_chunk_by_memory: tuple[ChunkByMemory, ...] = Field(
        (), description="rules that replace prefill_chunk_tokens on devices with more memory (the last that applies "
                        "wins; a per-model value wins over them)")
    serving_schedule: Literal["prefill-first", "mixed"] = Field(
        "prefill-first", description="how a server of this stack steps a request stream (simulate --schedule): "
                                     "mixed = decodes and prefill chunks in one step under the prefill chunk budget")
    family_formats: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="model family -> {format asked for: format the stack runs instead} where the stack has no kernel "
                    "of that format for the family (MLC has no FasterTransformer quantisation for gemma2)")
    costs: dict[str, KernelCosts] = Field(
        min_length=1, description="device class -> kernel-cost constants; 'default' for any other class")
    default_costs_from: str | None = Field(
        None, description="a class of `costs` whose constants a device of any other class takes (instead of a "
                          "`default` entry: the fitted figures are carried, not copied)")

    @model_validator(mode="after")
    def _default_source(self) -> StackSpec:
        if self.default_costs_from is not None:
            if self.default_costs_from not in self.costs:
                raise ValueError(f"default_costs_from: {self.default_costs_from!r} is not a class of `costs` "
                                 f"({', '.join(self.costs)})")
            if "default" in self.costs:
                raise ValueError("give either costs.default or default_costs_from, not both")
        return self

    def costs_for(self, device_class: str | None) -> tuple[str, KernelCosts] | None:
        """(class whose constants apply, constants): the device's own class, else `default`, else the
        class named by `default_costs_from`; None when the stack states none of these."""
        if device_class is not None and device_class in self.costs:
            return device_class, self.costs[device_class]
        if "default" in self.costs:
            return "default", self.costs["default"]
        if self.default_costs_from is not None:
            return self.default_costs_from, self.costs[self.default_costs_from]
        return None

    def context_window(self, model: str) -> int | None:
        return self.context_window_by_model.get(model, self.static_context_window_tokens)

    def prefill_chunk(self, model: str, *, device_memory_bytes: float | None = None, hardware: str = "") -> int | None:
        """Tokens per prefill pass for `model`; on a device with `device_memory_bytes` of memory
        the `prefill_chunk_by_memory` rules apply (a per-model value wins)."""
        if model in self.prefill_chunk_by_model:
            return self.prefill_chunk_by_model[model]
        chunk = self.prefill_chunk_tokens
        if device_memory_bytes is not None:
            for rule in self.prefill_chunk_by_memory:
                if device_memory_bytes >= rule.min_memory_gib * 2**30 and \
                        not any(x.lower() in hardware.lower() for x in rule.except_devices):
                    chunk = rule.tokens
        return chunk


class FormatLibrary(BaseModel):
    """Every weight format by name (stacks/formats.yaml)."""

    model_config = SPEC

    formats: dict[str, WeightFormat]

    def canonical(self, name: str) -> str | None:
        if name in self.formats:
            return name
        for key, fmt in self.formats.items():
            if name in fmt.aliases:
                return key
        return None

    @model_validator(mode="after")
    def _check(self) -> "FormatLibrary":
        for key, fmt in self.formats.items():
            for part in fmt.mixture:
                if part.format not in self.formats:
                    raise ValueError(f"format {key!r}: mixture names unknown format {part.format!r}")
            if fmt.rest_format is not None and fmt.rest_format not in self.formats:
                raise ValueError(f"format {key!r}: rest_format names unknown format {fmt.rest_format!r}")
            if fmt.row_fallback is not None and fmt.row_fallback not in self.formats:
                raise ValueError(f"format {key!r}: row_fallback names unknown format {fmt.row_fallback!r}")
        return self

    def resolve(self, stack: StackSpec, name: str, *, file: str = "<command line>",
                path: str = "--weight-format") -> tuple[str, WeightFormat, FormatUse]:
        """Canonical name, layout and the stack's kernel for a format; a `SpecError` if it does not run it."""
        canon = self.canonical(name)
        use = next((u for n, u in stack.formats.items() if self.canonical(n) == canon), None) if canon else None
        if canon is None or use is None:
            known = sorted(stack.formats)
            close = difflib.get_close_matches(name, known, n=1)
            raise SpecError([Problem(
                file=file, path=path, value=name,
                message=(f"unknown weight format {name!r}" if canon is None
                         else f"stack '{stack.name}' does not run weight format {name!r}"),
                expected=f"one of the formats of {stack.name}: {', '.join(known)}",
                hint=(f"did you mean '{close[0]}'? " if close else "") + "`slmsim presets` lists stacks and formats")])
        return canon, self.formats[canon], use
