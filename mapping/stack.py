"""Combine (hardware, model, software stack, scenario) into a plan.

A stack reaches the cost in four places, all decided here so nothing below mapping knows
a stack exists:

1. **Device**: the first device of the hardware whose kind the stack runs on (`runs_on`).
2. **Format**: the one asked for, unless the stack has no kernel of it for the model's family
   (`family_formats`: MLC runs Gemma's q4f16_ft request as q4f16_1).
   **Bytes per weight**: the weight format's block layout (scales and zero points included),
   averaged over the model's tensors when the format is a mixture (llama.cpp Q4_K_M) or
   covers only some tensors (gpt-oss: MXFP4 experts, bf16 elsewhere). Any static context
   window of the stack becomes the scenario's `static_kv_tokens` (decode steps and prefill
   passes score it whole), its prefill chunk (tokens per prefill pass) the scenario's
   `prefill_chunk_tokens` unless one was given, and its `prefill_logits` the scenario's
   unless one was given.
3. **Dequantisation**: the stack's kernel for that format states the vector ops per weight
   (a device class's own kernels may state their own: `costs.<class>.formats.<fmt>`), and a
   class whose GEMMs tile the tokens its `dequant_token_tile`: the ops recur per token tile.
4. **Kernel costs** (a step hook on every mapped step): each layer becomes the stack's number
   of kernels per block; one kernel costs `host_launch_cycles / host rate` (none when the
   stack replays a graph) + `device_kernel_cycles / device clock`; a step adds its host
   work. Achieved bandwidth by kernel kind (dense GEMV, grouped MoE GEMM, attention) is a
   floor on each kernel's busy time: bytes / (tier bandwidth x efficiency); a format that is
   another kernel kind on the class scales the dense GEMV efficiency (`costs.<class>.formats`).
   The stack's prefill matrix efficiency (per class, or per format) replaces the device's
   `compute_efficiency` where it states one.
"""

from __future__ import annotations

import math

from collections.abc import Callable
from dataclasses import dataclass, replace

from slmsim.core.errors import Infeasible, Problem, SpecError
from slmsim.hw_models.processor import CpuDevice, MathPrecision, _Processor
from slmsim.hw_models.spec import HardwareSpec, Placement
from slmsim.mapping.cost import Affine, MappedOp, MappedStep
from slmsim.mapping.plan import Plan, make_plan
from slmsim.stacks.spec import FormatLibrary, KernelCosts, StackSpec, TensorClass, WeightFormat
from slmsim.workloads.model import Family, Ffn, ModelSpec
from slmsim.workloads.scenario import Scenario, TensorBits, WeightGroup
from slmsim.workloads.weights import group_params


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama.cpp src/llama-quant.cpp: first and last eighth of the layers, every third between."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


# Families whose checkpoints hold q, k and v as one tensor, which llama.cpp keeps as attn_qkv
# (gguf-py tensor_mapping.py: MODEL_TENSOR.ATTN_QKV <- "model.layers.{bid}.self_attn.qkv_proj" # phi3).
FUSED_QKV = frozenset({Family.PHI3})


def tensor_params(model: ModelSpec) -> dict[TensorClass, float]:
    """Weights per tensor class (llama.cpp's names) over the whole model: the weight groups of
    `workloads.weights.group_params` (encoder and cross-attention included) with q / k / v split by
    their widths (biases pro rata; MLA's projections all count as attn_q) and a gated FFN's up group
    into gate and up; an untied embedding is `token_embd`, a tied one the LM head (`output`)."""
    g = group_params(model)
    out: dict[TensorClass, float] = {c: 0.0 for c in TensorClass}
    if model.family in FUSED_QKV:
        out[TensorClass.ATTN_QKV] = float(g[WeightGroup.QKV])
    elif model.mla is None:
        per_width = g[WeightGroup.QKV] / (model.q_dim + 2 * model.kv_dim)
        out[TensorClass.ATTN_Q] = per_width * model.q_dim
        out[TensorClass.ATTN_K] = out[TensorClass.ATTN_V] = per_width * model.kv_dim
    else:
        out[TensorClass.ATTN_Q] = float(g[WeightGroup.QKV])
    out[TensorClass.ATTN_OUTPUT] = float(g[WeightGroup.O_PROJ])
    if model.ffn is Ffn.GATED:
        out[TensorClass.FFN_GATE] = out[TensorClass.FFN_UP] = g[WeightGroup.FFN_UP] / 2.0
    else:
        out[TensorClass.FFN_UP] = float(g[WeightGroup.FFN_UP])
    out[TensorClass.FFN_DOWN] = float(g[WeightGroup.FFN_DOWN])
    out[TensorClass.EXPERTS] = float(g[WeightGroup.EXPERTS])
    out[TensorClass.ROUTER] = float(g[WeightGroup.ROUTER])
    out[TensorClass.OUTPUT] = float(g[WeightGroup.LM_HEAD])
    out[TensorClass.TOKEN_EMBD] = float(g[WeightGroup.EMBEDDING])
    return out


# The tensors a decode step reads whole: the average bits per weight a stack reports is theirs
# (the embedding table is looked up a row at a time).
STEP_TENSORS = frozenset(TensorClass) - {TensorClass.TOKEN_EMBD}

# Which tensor classes make up each weight group of the op graph.
GROUP_TENSORS: dict[WeightGroup, frozenset[TensorClass]] = {
    WeightGroup.EMBEDDING: frozenset({TensorClass.TOKEN_EMBD}),
    WeightGroup.QKV: frozenset({TensorClass.ATTN_Q, TensorClass.ATTN_K, TensorClass.ATTN_V, TensorClass.ATTN_QKV}),
    WeightGroup.O_PROJ: frozenset({TensorClass.ATTN_OUTPUT}),
    WeightGroup.FFN_UP: frozenset({TensorClass.FFN_GATE, TensorClass.FFN_UP}),
    WeightGroup.FFN_DOWN: frozenset({TensorClass.FFN_DOWN}),
    WeightGroup.ROUTER: frozenset({TensorClass.ROUTER}),
    WeightGroup.EXPERTS: frozenset({TensorClass.EXPERTS}),
    WeightGroup.LM_HEAD: frozenset({TensorClass.OUTPUT}),
}


def group_bits(fmt_name: str, model: ModelSpec, lib: FormatLibrary) -> dict[WeightGroup, float]:
    """Bits per weight of each weight group under a format on a model: a mixture's tensor rules
    averaged over the tensors (and layers) of the group (Q4_K_M's attn_v in Q6_K on the
    use_more_bits layers makes qkv_proj's bits the parameter-weighted mean of q, k and v)."""
    return {g: format_bits_per_weight(fmt_name, model, lib, classes) for g, classes in GROUP_TENSORS.items()}


def tensor_rows(model: ModelSpec, cls: TensorClass, params: float) -> tuple[tuple[float, int], ...]:
    """A tensor class's `params` weights split by row length, ggml's ne[0] (the matmul's input
    width): (weights, row) parts. The output projection's rows are the attention width; ffn_down's
    the FFN width (a MoE model's dense layers and its shared experts, one tensor of
    num_shared x width in llama.cpp, apart); every other class's the hidden size (MLA's
    projections too: an assumption, their low ranks are the hidden size or a multiple of 256 in
    the presets). Routed experts are split by the caller (`format_bits_per_weight`)."""
    h = model.hidden_size
    if cls is TensorClass.ATTN_OUTPUT:
        return ((params, model.num_attention_heads * model.mla.v_head_dim if model.mla is not None else model.q_dim),)
    if cls is TensorClass.FFN_DOWN:
        m = model.moe
        dense = (m.dense_intermediate_size or model.intermediate_size) if m is not None else model.intermediate_size
        if m is None or not m.num_shared_experts:
            return ((params, dense),)
        width = m.num_shared_experts * m.shared_expert_intermediate_size
        shared = float(model.moe_layers() * width * h)
        return ((params - shared, dense), (shared, width))
    return ((params, h),)


def stored_bits(fmt: WeightFormat, row: int, lib: FormatLibrary) -> float:
    """Bits per weight a tensor with rows of `row` weights takes in a format's base type: llama.cpp
    stores it in the type's `row_fallback` when the block does not divide its rows (Q4_K -> Q5_0,
    ...), and in F16 when the fallback's does not either (llama-quant.cpp llama_tensor_get_type)."""
    if fmt.row_fallback is None or row % fmt.block.weights == 0:
        return fmt.bits_per_weight
    fb = lib.formats[fmt.row_fallback]
    return fb.bits_per_weight if row % fb.block.weights == 0 else lib.formats["f16"].bits_per_weight


def format_bits_per_weight(fmt_name: str, model: ModelSpec, lib: FormatLibrary,
                           classes: frozenset[TensorClass] | None = None) -> float:
    """Average bits per weight of a format on a model over the tensor `classes` (None: the tensors a
    decode step reads, `STEP_TENSORS`), mixtures and partial formats included; the base layout's
    bits when the classes hold no weights (a tied model's token_embd)."""
    fmt = lib.formats[fmt_name]
    classes = STEP_TENSORS if classes is None else classes
    params = {c: p for c, p in tensor_params(model).items() if c in classes}
    n = model.num_layers
    share_more = sum(use_more_bits(i, n) for i in range(n)) / n
    total = sum(params.values())
    if not total:
        return fmt.bits_per_weight
    bits = 0.0
    for cls, p in params.items():
        if not p:
            continue
        if fmt.only and cls not in fmt.only:
            assert fmt.rest_format is not None
            bits += p * format_bits_per_weight(fmt.rest_format, model, lib, frozenset({cls}))
            continue
        if cls is TensorClass.EXPERTS:
            # the experts' down projections (rows: the expert width) apart from gate and up
            # (rows: the hidden size); where the format has rules for them (llama.cpp names them
            # ffn_down_exps, which its "ffn_down" rules match) those count over the MoE layers
            assert model.moe is not None
            down = p * _expert_down_share(model)
            own = any(TensorClass.FFN_DOWN_EXPS in part.tensors for part in fmt.mixture)
            bits += down * _class_bits(fmt, TensorClass.FFN_DOWN_EXPS if own else cls, model, lib,
                                       _moe_share_more(model) if own else share_more,
                                       model.moe.expert_intermediate_size)
            bits += (p - down) * _class_bits(fmt, cls, model, lib, share_more, model.hidden_size)
        else:
            bits += sum(q * _class_bits(fmt, cls, model, lib, share_more, row) for q, row in tensor_rows(model, cls, p))
    return bits / total


def _class_bits(fmt: WeightFormat, cls: TensorClass, model: ModelSpec, lib: FormatLibrary, share_more: float,
                row: int) -> float:
    """Bits per weight of one tensor class (rows of `row` weights) under a format: the last
    mixture part naming the class that applies to the model (llama.cpp's later rules override
    earlier ones), on all layers or on the `share_more` of them that use_more_bits() picks; the
    base layout otherwise; each type in its row fallback where its block does not divide the
    rows (`stored_bits`)."""
    experts = model.moe.num_experts if model.moe is not None else None
    other = None
    for part in fmt.mixture:
        if cls in part.tensors and (part.experts is None or part.experts == experts):
            other = part
    b = stored_bits(fmt, row, lib)
    if other is None:
        return b
    ob = stored_bits(lib.formats[other.format], row, lib)
    frac = 1.0 if other.layers == "all" or cls is TensorClass.OUTPUT else share_more
    return frac * ob + (1 - frac) * b


def _expert_down_share(model: ModelSpec) -> float:
    """The down projection's share of one routed expert's weights: 1/3 gated, 1/2 plain."""
    return 1.0 / 3.0 if model.ffn is Ffn.GATED else 0.5


def _moe_share_more(model: ModelSpec) -> float:
    """use_more_bits() over the MoE layers' indices (llama.cpp parses the layer from the tensor
    name, blk.N, against all layers): the dense-first layers are not among them."""
    assert model.moe is not None
    n, first = model.num_layers, model.moe.first_dense_layers
    return sum(use_more_bits(i, n) for i in range(first, n)) / (n - first)


def moe_bits_split(fmt_name: str, model: ModelSpec, lib: FormatLibrary) -> tuple[float, float] | None:
    """(bits per non-expert weight, bits per routed-expert weight) of a MoE model, None for a dense one.

    A decode step reads only top_k of the experts, so a mixture's 16-bit LM head (or bf16 attention
    around MXFP4 experts) must not be averaged into the experts' bits: the average over the whole
    model would move most of the head's bytes into experts that the step does not read."""
    if model.moe is None:
        return None
    experts = frozenset({TensorClass.EXPERTS})
    rest = STEP_TENSORS - experts
    return format_bits_per_weight(fmt_name, model, lib, rest), format_bits_per_weight(fmt_name, model, lib, experts)


@dataclass(frozen=True)
class StackChoice:
    """A stack resolved for one (hardware, model): device, format and the constants it uses."""

    stack: StackSpec
    format_name: str
    fmt: WeightFormat
    device: str
    cost_class: str
    costs: KernelCosts
    bits_per_weight: float
    dequant_ops_per_weight: float
    expert_bits_per_weight: float | None = None  # MoE: bits per routed-expert weight (bits_per_weight: the rest)
    tensor_bits: TensorBits = TensorBits()  # bits of the weight groups the format stores otherwise than its base
    kv_cache_bits: int | None = None  # KV precision the compiled asset fixes (None: the scenario's)
    warnings: tuple[str, ...] = ()  # what the choice assumes that the device does not bear out

    @property
    def gemv_efficiency(self) -> float:
        """Achieved / streaming bandwidth of this format's dense GEMV kernels on this class."""
        return self.costs.dense_gemv_efficiency * self.costs.format_kernel(self.format_name).gemv_efficiency

    @property
    def matrix_efficiency(self) -> float | None:
        """Achieved fraction of the matrix peak of this format's GEMMs on this class (None: the device's)."""
        own = self.costs.format_kernel(self.format_name).matrix_efficiency
        return own if own is not None else self.costs.matrix_efficiency


def choose(hw: HardwareSpec, model: ModelSpec, stack: StackSpec, weight_format: str,
           formats: FormatLibrary) -> StackChoice:
    """Resolve the stack on this hardware; a `SpecError` says what does not fit together."""
    asked = formats.canonical(weight_format) or weight_format
    instead = stack.family_formats.get(model.family.value, {})
    canon, fmt, use = formats.resolve(stack, instead.get(asked, weight_format))
    device = next((name for kind in stack.runs_on for name, dev in hw.devices.items() if dev.kind == kind), None)
    if device is None:
        kinds = sorted({d.kind for d in hw.devices.values()})
        raise SpecError([Problem(
            file="<command line>", path="--stack", value=stack.name,
            message=f"stack '{stack.name}' runs on {', '.join(stack.runs_on)}; hardware '{hw.name}' has {', '.join(kinds)}",
            hint="choose a stack that runs on this hardware (`slmsim presets` lists them)")])
    dev = hw.devices[device]
    if not isinstance(dev, _Processor):
        raise SpecError([Problem(file="<command line>", path="--stack", value=stack.name,
                                 message=f"device '{device}' is a {dev.kind}: software stacks model GPUs, NPUs, CPUs")])
    why = stack.not_on_device_classes.get(dev.device_class or "")
    if why is not None:
        able = [s for s in ("mlc", "llama.cpp") if s != stack.name]
        raise SpecError([Problem(
            file="<command line>", path="--stack", value=stack.name,
            message=f"stack '{stack.name}' does not run on device class {dev.device_class!r} "
                    f"(hardware '{hw.name}', device '{device}'): {why}",
            hint=f"a stack that runs there, e.g. {' or '.join(able)} (`slmsim presets` lists stacks)")])
    found = stack.costs_for(dev.device_class)
    if found is None:
        raise SpecError([Problem(
            file="<command line>", path="--stack", value=stack.name,
            message=f"stack '{stack.name}' states no kernel costs for device class {dev.device_class!r} and no default",
            hint=f"add costs.{dev.device_class} to the stack's preset")])
    cls, costs = found
    problems = []
    if (costs.host_launch_cycles or costs.step_host_cycles) and _host_rate(dev) is None:
        problems.append(Problem(
            file=hw.name, path=f"devices.{device}.host_cpu", message="missing: the stack's launch cost runs on the host CPU",
            expected="host_cpu: {core, cores, clock, relative_ipc}", hint="add the host CPU of the device's datasheet"))
    if costs.device_kernel_cycles and dev.clock_hz is None:
        problems.append(Problem(
            file=hw.name, path=f"devices.{device}.clock", message="missing: the stack's per-kernel device cycles need the clock",
            expected="a frequency, e.g. '1.3 GHz'"))
    if problems:
        raise SpecError(problems)
    split = moe_bits_split(canon, model, formats)
    # the groups the model has whose bits differ from the base layout's (the rest use bits_per_weight)
    present = {g for g, n in group_params(model).items() if n}
    tensor_bits = TensorBits(**{g.value: b for g, b in group_bits(canon, model, formats).items()
                                if g in present and g is not WeightGroup.EXPERTS
                                and abs(b - fmt.bits_per_weight) > 1e-9})
    own = costs.format_kernel(canon).dequant_ops_per_weight  # this class's kernels, where they differ
    dequant = use.dequant_ops_per_weight if own is None else own
    notes = _native_float_warnings(stack, canon, fmt, dequant, hw.name, device, dev)
    return StackChoice(stack=stack, format_name=canon, fmt=fmt, device=device, cost_class=cls, costs=costs,
                       bits_per_weight=format_bits_per_weight(canon, model, formats) if split is None else split[0],
                       dequant_ops_per_weight=dequant,
                       expert_bits_per_weight=None if split is None else split[1],
                       kv_cache_bits=use.kv_cache_bits, tensor_bits=tensor_bits, warnings=notes)


def _native_float_warnings(stack: StackSpec, canon: str, fmt: WeightFormat, dequant_ops: float, hw_name: str,
                           device: str, dev: _Processor) -> tuple[str, ...]:
    """A float format (fp8, fp4) the stack runs at no dequantisation cost, on an engine that states
    no peak for it (an Ampere GPU: FP8 and FP4 tensor cores came with Ada/Hopper and Blackwell)."""
    if fmt.float_math is None or dequant_ops > 0:
        return ()
    if MathPrecision(fmt.float_math) in dev.matrix_throughput:
        return ()
    has = ", ".join(str(p) for p in dev.matrix_throughput) or "none"
    return (f"{stack.name} runs {canon} ({fmt.float_math} values) at no dequantisation cost, an assumption of "
            f"{fmt.float_math} tensor cores; device '{device}' of '{hw_name}' states no {fmt.float_math} matrix peak "
            f"(matrix_throughput: {has}), so a real kernel converts the weights first (a dequantising kernel "
            "such as Marlin), a cost not counted here: times bound by compute are optimistic",)


def _host_rate(dev: _Processor) -> float | None:
    if isinstance(dev, CpuDevice):
        return dev.launch_rate_hz
    return dev.host_cpu.launch_rate_hz if dev.host_cpu is not None else None


def stack_scenario(scenario: Scenario, choice: StackChoice, model: ModelSpec,
                   hw: HardwareSpec | None = None) -> Scenario:
    # the base layout's bits, and every weight group stored otherwise at its own (mapping.stack.group_bits)
    update = {"weight_bits": choice.fmt.weight_bits, "activation_bits": choice.fmt.activation_bits,
              "bits_per_weight": choice.fmt.bits_per_weight, "expert_bits_per_weight": choice.expert_bits_per_weight,
              "tensor_bits": choice.tensor_bits}
    if choice.kv_cache_bits is not None:  # the compiled asset's KV precision (Genie w4a16: 8 bits)
        update["kv_bits"] = choice.kv_cache_bits
    prec = scenario.precision.model_copy(update=update)
    window = choice.stack.context_window(model.name)
    memory = None
    if hw is not None:
        dev = hw.devices[choice.device]
        tier = hw.memories.get(getattr(dev, "memory", ""))
        memory = tier.capacity_bytes if tier is not None else None
    chunk = scenario.prefill_chunk_tokens or choice.stack.prefill_chunk(  # a chunk given wins
        model.name, device_memory_bytes=memory, hardware=hw.name if hw is not None else "")
    return scenario.model_copy(update={"precision": prec, "static_kv_tokens": window, "prefill_chunk_tokens": chunk,
                                       "prefill_logits": scenario.prefill_logits or choice.stack.prefill_logits})


def stack_hardware(hw: HardwareSpec, choice: StackChoice) -> HardwareSpec:
    """The stack's device runs both phases, with the stack's dequantisation work; the hook sets kernel costs."""
    dev = hw.devices[choice.device]
    update = {"dequant_ops_per_weight": choice.dequant_ops_per_weight, "dequant_token_tile": choice.costs.dequant_token_tile,
              "kernel_overhead_s": 0.0, "step_overhead_s": 0.0}
    if choice.matrix_efficiency is not None:
        update["compute_efficiency"] = choice.matrix_efficiency
    dev = dev.model_copy(update=update)
    return hw.model_copy(update={"devices": {**hw.devices, choice.device: dev},
                                 "placement": Placement(prefill=choice.device, decode=choice.device)})


_HEAD = {"embedding", "final_norm", "lm_head"}


def _block(op: MappedOp, has_router: bool) -> str:
    name, cls = op.name, op.op_class
    if name in _HEAD:
        return "head"
    if cls in ("router", "experts", "shared_experts") or name.startswith("experts_"):
        return "moe"
    if name == "ffn_norm" and has_router:
        return "moe"
    if cls in ("qkv_proj", "attention", "o_proj", "cross_attention") or name.endswith(("attn_norm", "cross_norm")):
        return "attention"
    return "ffn"


def kernel_time_s(choice: StackChoice, dev: _Processor) -> float:
    """One kernel: host launch (unless replayed from a graph) + the device's fixed cycles."""
    c = choice.costs
    host = 0.0 if c.graph or not c.host_launch_cycles else c.host_launch_cycles / (_host_rate(dev) or 1.0)
    device = c.device_kernel_cycles / dev.clock_hz if c.device_kernel_cycles and dev.clock_hz else 0.0
    return host + device


def step_host_s(choice: StackChoice, dev: _Processor) -> float:
    c = choice.costs
    cycles = c.step_host_cycles + (c.host_launch_cycles if c.graph else 0.0)
    return cycles / _host_rate(dev) if cycles else 0.0  # type: ignore[operator]


def kernel_cost_hook(choice: StackChoice, hw: HardwareSpec) -> Callable[[MappedStep], MappedStep]:
    dev = hw.devices[choice.device]
    assert isinstance(dev, _Processor)
    t_kernel = kernel_time_s(choice, dev)
    t_step = step_host_s(choice, dev)
    k = choice.stack.kernels
    per_block = {"attention": k.attention_block, "ffn": k.ffn_block, "moe": k.moe_block, "head": k.head}
    c = choice.costs
    eff = {"dense": choice.gemv_efficiency, "moe": c.moe_gemm_efficiency, "attention": c.attention_efficiency}
    # decode attention on the vector unit (a compute floor; None: the matrix peak and the KV bytes bound it)
    attn_vector_ops_per_s = (dev.vector_throughput_ops_per_s * c.decode_attention_efficiency
                             if c.decode_attention_efficiency is not None else None)

    def hook(step: MappedStep) -> MappedStep:
        if step.device != choice.device:
            return step
        has_router = any(op.op_class == "router" for op in step.ops)
        ops = [op for op in step.ops if op.op_class != "runtime"]
        groups: dict[tuple[str, int], int] = {}
        for op in ops:
            key = (_block(op, has_router), op.layers if _block(op, has_router) != "head" else 1)
            groups[key] = groups.get(key, 0) + 1
        out = []
        for op in ops:
            block = _block(op, has_router)
            n = groups[(block, op.layers if block != "head" else 1)]
            overhead = per_block[block] * t_kernel / n
            kind = "attention" if op.name.endswith("attention") else "moe" if op.op_class == "experts" else "dense"
            compute = _floor(op, step, eff[kind])
            if kind == "attention" and attn_vector_ops_per_s and step.phase == "decode" and step.tokens_per_seq == 1:
                compute = _vector_attention(op, step, compute, attn_vector_ops_per_s, c.decode_attention_overlap,
                                            eff["attention"])
            out.append(replace(op, overhead_s=overhead, compute_s=compute))
        if t_step:
            out.append(MappedOp(name="runtime", op_class="runtime", device=step.device, unit="host", layers=1,
                                overhead_s=t_step, compute_s=Affine(0.0), tier_bytes=(), energy_j=()))
        return MappedStep(phase=step.phase, device=step.device, batch=step.batch, tokens_per_seq=step.tokens_per_seq,
                          ops=tuple(out), tier_bandwidth_bytes_per_s=step.tier_bandwidth_bytes_per_s,
                          tier_component=step.tier_component, tier_energy_per_bit_j=step.tier_energy_per_bit_j)

    return hook


def _vector_attention(op: MappedOp, step: MappedStep, compute: Affine, vector_ops_per_s: float,
                      overlap: float, efficiency: float) -> Affine:
    """Decode attention on the vector unit: its FLOPs at `vector_ops_per_s` and its KV stream at the
    tiers' bandwidth x the stack's attention `efficiency`, the shorter of the two hidden under the
    longer by the share `overlap` (1: max(compute, KV); 0: compute + KV). Each part of the affine
    cost (constant, per context token) is combined on its own. The result is at least the KV
    time, so the op's max(compute, memory) takes it as is."""
    def mem(part: str) -> float:
        return sum(getattr(aff, part) / (step.tier_bandwidth_bytes_per_s[tier] * efficiency) for tier, aff in op.tier_bytes)

    def part(floor: float, vec: float, mem: float) -> float:
        return max(floor, vec, mem) + (1.0 - overlap) * min(vec, mem)

    # the sliding-window part (windowed) is combined like the per-token part: it is the same
    # cost per context token, capped at the window
    return Affine(*(part(getattr(compute, k), getattr(op.flops, k) / vector_ops_per_s, mem(k))
                    for k in ("const", "per_ctx", "windowed")), window=op.window)


def _floor(op: MappedOp, step: MappedStep, efficiency: float) -> Affine:
    """Busy time at least bytes / (bandwidth x efficiency) for a kernel that reaches only that share."""
    if efficiency >= 1.0 or not op.tier_bytes:
        return op.compute_s
    const, per_ctx, windowed = op.compute_s.const, op.compute_s.per_ctx, op.compute_s.windowed
    for tier, aff in op.tier_bytes:
        bw = step.tier_bandwidth_bytes_per_s[tier] * efficiency
        const = max(const, aff.const / bw)
        per_ctx = max(per_ctx, aff.per_ctx / bw)
        windowed = max(windowed, aff.windowed / bw)
    return Affine(const, per_ctx, windowed, op.window if windowed else math.inf)


def make_stack_plan(hw: HardwareSpec, model: ModelSpec, scenario: Scenario, stack: StackSpec, weight_format: str,
                    formats: FormatLibrary, *,
                    draft_model: ModelSpec | None = None) -> tuple[Plan | Infeasible, StackChoice]:
    """The plan of `model` on `hw` run by `stack` in `weight_format` (SpecError if they do not fit together)."""
    choice = choose(hw, model, stack, weight_format, formats)
    hw2 = stack_hardware(hw, choice)
    scen = stack_scenario(scenario, choice, model, hw)
    if scen.static_kv_tokens is not None and scen.static_kv_tokens < scen.prompt_tokens + scen.gen_tokens:
        return Infeasible(
            reason=f"stack '{stack.name}' compiles {model.name} for a {scen.static_kv_tokens}-token context window",
            demanded=float(scen.prompt_tokens + scen.gen_tokens), bound=float(scen.static_kv_tokens), unit="tokens",
            hint="use a shorter prompt + generation"), choice
    plan = make_plan(hw2, model, scen, draft_model=draft_model, step_hook=kernel_cost_hook(choice, hw2))
    return plan, choice
