"""Map a scenario onto a hardware system: one `MappedStep` per phase, or `Infeasible`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from slmsim.hw_models.cim import CimAccelerator, CimMacro
from slmsim.hw_models.memory import HybridBondedDramTier, SramTier
from slmsim.hw_models.processor import _Processor
from slmsim.hw_models.spec import HardwareSpec, Placement
from slmsim.mapping import elastic, memo
from slmsim.mapping.cim import (
    group_cap,
    group_warnings,
    grouped_accelerator,
    macro_tiles_needed,
    map_on_cim,
    matmul_unit_values,
    periphery_warnings,
    vector_rate_ops_per_s,
    vector_unit_values,
)
from slmsim.mapping.cost import Affine, Component, MappedOp, MappedStep
from slmsim.mapping.energy_boundary import Layer, tier_layer
from slmsim.mapping.pipeline import (
    Partition,
    StagePipeline,
    build_stage_pipeline,
    linear_partition,
    unrolled_op_costs,
)
from slmsim.mapping.placement import WeightSources
from slmsim.mapping.processor import map_on_processor, math_precision
from slmsim.mapping.processor import unit_values as processor_unit_values
from slmsim.core.errors import Infeasible
from slmsim.workloads.decoding import (
    Autoregressive,
    LexicalUnit,
    Multipath,
    SelfSpeculative,
    Speculative,
    tree_nodes,
)
from slmsim.workloads import graph
from slmsim.workloads.graph import OpKind, Phase, Workload, all_weight_ops, build_step
from slmsim.workloads.model import ModelSpec
from slmsim.workloads.routing import Routing, Uniform, analytic_hit_rate, expected_distinct
from slmsim.workloads.scenario import Precision, Scenario, WeightGroup
from slmsim.workloads.weights import weight_bytes


# The DES maps each step with the distinct experts and cache hit rate it sampled; steps are
# cached by these values rounded to a quantum, and the rounded value is what is mapped.
# assumption: a quantum, not physics. Error per step <= half a quantum: 0.125 experts per MoE
# layer (<= 1.6% of the expert bytes of a one-token top-8 step) and 0.025 of the expert
# bytes moved between cache and weight tier; tests/simulator/test_quantisation.py checks
# that the DES result moves by < 0.5% against a 64x finer quantum.
DISTINCT_EXPERTS_QUANTUM = 0.25
HIT_RATE_QUANTUM = 0.05


def _quantised(value: float | None, quantum: float) -> float | None:
    """`value` on its cache-key grid (None stays None)."""
    return None if value is None else round(value / quantum) * quantum


class WeightMode:
    STATIONARY = "weight_stationary"
    STREAMING = "weight_streaming"
    PROCESSOR = "from_memory"


@dataclass(frozen=True)
class Plan:
    """Everything an engine needs; no spec objects, only mapped costs and powers."""

    hardware: str
    model: str
    prompt_tokens: int
    gen_tokens: int
    batch: int
    prefill: MappedStep  # the whole prompt, or the first pass shape of a chunked prefill
    decode: MappedStep
    always_on_power_w: dict[str, float]  # idle / leakage / memory background, per device or tier
    active_power_w: dict[str, float]  # extra power of a device while it runs ops
    memory_footprint_bytes: dict[str, float]
    weight_mode: dict[str, str]
    device_peak_ops_per_s: dict[str, float]  # matrix peak at the scenario's precision (rooflines)
    # (step, total context of each run) per prefill pass shape (`StepMapper.prefill_passes`)
    prefill_passes: tuple[tuple[MappedStep, np.ndarray], ...] = field(compare=False)
    pipeline: dict[str, Partition] = field(default_factory=dict)  # balanced decode stages per CIM device
    mapper: "StepMapper | None" = field(default=None, repr=False, compare=False)  # more steps on demand (serving)
    # what a user should know about this mapping (a missing tier, a suspicious input); printed
    # in the table and as `warnings` in --json. Each is one sentence: what, and what to change.
    warnings: tuple[str, ...] = ()


def _tier_component(tier: object) -> Component:
    if isinstance(tier, HybridBondedDramTier):
        return Component.HB_DRAM
    if isinstance(tier, SramTier):
        return Component.SRAM
    return Component.DRAM


class StepMapper:
    """Maps steps of one (hardware, model, precision) on demand, each shape once.

    `prefill(prompt_tokens, batch)` and `decode(batch, prompt_tokens)` return cached
    `MappedStep`s; the serving engine asks for whatever batch sizes and prompt lengths it
    meets. Where weights live (stationary or streamed) is decided once, from all weights.
    """

    def __init__(self, hw: HardwareSpec, model: ModelSpec, scenario: Scenario, *,
                 draft_model: ModelSpec | None = None,
                 step_hook: "Callable[[MappedStep], MappedStep] | None" = None) -> None:
        self.hw = hw
        self.step_hook = step_hook  # rewrites each mapped step (a software stack's kernel costs: mapping.stack)
        self.model = model
        self.scenario = scenario
        self.draft: StepMapper | None = None
        dec = scenario.decoding
        if isinstance(dec, Speculative):
            if draft_model is None:
                raise ValueError("speculative decoding needs the draft model (make_plan(..., draft_model=...))")
            device = dec.draft_device or hw.device_for("decode")
            if device not in hw.devices:
                raise ValueError(f"draft_device {device!r} is not a device of {hw.name}")
            draft_hw = hw.model_copy(update={"placement": Placement(prefill=device, decode=device)})
            draft_scen = scenario.model_copy(update={"decoding": Autoregressive(), "moe": None})
            self.draft = StepMapper(draft_hw, draft_model, draft_scen, step_hook=step_hook)
        self.precision = scenario.precision
        self.prefill_device = hw.device_for("prefill")
        self.decode_device = hw.device_for("decode")
        self._cache: dict[tuple, MappedStep] = {}
        self._workloads: dict[tuple, Workload] = {}  # each step's workload built once (make_plan reuses prefill's)
        self._workload_keys: dict[int, tuple] = {}  # id(workload) -> its value key (mapping.memo.WORKLOADS)
        self._extra: dict[str, StagePipeline] = {}
        self.infeasible: Infeasible | None = None
        self.modes: dict[str, str] = {}
        for name, dev in hw.devices.items():
            if isinstance(dev, CimAccelerator) and self.infeasible is None and scenario.precision.is_mixed:
                # macro columns hold one weight precision: tiling, slices and reload all use weight_bits
                group, bits = max(scenario.precision.own_group_bits().items(), key=lambda gb: gb[1])
                self.infeasible = Infeasible(
                    reason=f"device '{name}' is a CIM macro array, whose columns hold one weight precision "
                           f"(weight_bits {scenario.precision.weight_bits}); precision.tensor_bits.{group} asks "
                           f"{bits:g} bits per weight", demanded=bits, bound=float(scenario.precision.weight_bits),
                    unit="bits per weight", hint="leave precision.tensor_bits out on CIM hardware")
            if isinstance(dev, CimAccelerator):
                try:
                    needed = _macro_tiles_needed(model, scenario, dev)
                except ValueError as exc:
                    self.infeasible = Infeasible(
                        reason=f"device '{name}': {exc}", demanded=scenario.precision.weight_bits,
                        bound=dev.macro.cols * dev.macro.cell_bits, unit="bits per weight",
                        hint="use fewer weight bits or a macro with more columns / bits per cell")
                    needed = 0.0
                self.modes[name] = WeightMode.STATIONARY if needed <= dev.macro_count else WeightMode.STREAMING
            else:
                self.modes[name] = WeightMode.PROCESSOR
        self.always_on_power_w: dict[str, float] = {}
        self.active_power_w: dict[str, float] = {}
        # where each always-on source sits (mapping.energy_boundary): a CIM die's static and
        # leakage on the chip, a processor's idle power the board's (board/device idle) unless
        # its spec says it is the die's own (`idle_power_on: chip`),
        # a memory tier's background where its traffic is charged
        self.always_on_layer: dict[str, Layer] = {}
        for name, dev in hw.devices.items():
            if isinstance(dev, CimAccelerator):
                self.always_on_power_w[name] = dev.static_power_w + dev.macro_count * effective_macro(dev).leakage_power_w
                self.active_power_w[name] = 0.0
                self.always_on_layer[name] = Layer.CHIP
            else:
                self.always_on_power_w[name] = dev.idle_power_w
                self.active_power_w[name] = dev.active_power_w
                self.always_on_layer[name] = Layer(dev.idle_power_on)
        for tname, tier in hw.memories.items():
            self.always_on_power_w[tname] = tier.background_power_w
            self.always_on_layer[tname] = tier_layer(_tier_component(tier))

    # --- the steps ----------------------------------------------------------------------

    def prefill(self, prompt_tokens: int, batch: int, *, tokens_per_seq: int | None = None,
                logits: bool = True, window_overcount_pairs: float = 0.0) -> MappedStep:
        """The whole prompt in one pass, or (`tokens_per_seq`) one pass of a chunked prefill
        (`window_overcount_pairs`: what its sliding-window layers' capped context term
        overcounts at its offset, `graph.chunk_window_overcount_pairs`)."""
        return self._step("prefill", Phase.PREFILL, self.prefill_device, batch=batch,
                          tokens_per_seq=prompt_tokens if tokens_per_seq is None else tokens_per_seq,
                          prompt=prompt_tokens, logits=logits, window_overcount_pairs=window_overcount_pairs)

    def prefill_pass_shapes(self, prompt_tokens: int, batch: int) -> tuple[tuple[int, bool, int, int], ...]:
        """How prefill runs, per pass shape: (tokens per sequence w, logits?, offset of its first
        pass, passes); pass j of a shape starts after offset + j x w tokens of each sequence.

        Without `prefill_chunk_tokens` (or with one the batch's prompts fit in), one pass of the
        whole prompt. Otherwise every sequence of the batch advances by w = max(1, chunk //
        batch) tokens a pass (the pass holds batch x w <= chunk tokens, vLLM's and llama.cpp's
        token budget shared by the batch), the last pass the remainder and the logits; pass i
        attends to the i x w tokens before it. An encoder-decoder's encoder sees the whole
        prompt at once (bidirectional): one pass (an assumption stated in docs/mapping.md).

        A fixed-shape runtime (a compiled window, `static_kv_tokens`, with its prompt
        processor's pass, `prefill_chunk_tokens`) pads every pass to the compiled shape: the
        remainder pass, or a prompt shorter than one pass, costs a whole pass of w tokens
        (quic/ai-hub-models `_shared/llm/generator.py` `prepare_inputs` pads each slice to
        `sequence_length`)."""
        chunk = self.scenario.prefill_chunk_tokens
        fixed = self.scenario.static_kv_tokens is not None
        if chunk is None or self.model.encoder_decoder is not None or (not fixed and chunk >= batch * prompt_tokens):
            return ((prompt_tokens, True, 0, 1),)
        w = max(1, chunk // batch)
        passes = math.ceil(prompt_tokens / w)
        last = w if fixed else prompt_tokens - (passes - 1) * w
        out: list[tuple[int, bool, int, int]] = []
        if passes > 1:
            out.append((w, False, 0, passes - 1))
        out.append((last, True, (passes - 1) * w, 1))
        return tuple(out)

    def prefill_pass_count(self, prompt_tokens: int, batch: int) -> int:
        return sum(n for *_, n in self.prefill_pass_shapes(prompt_tokens, batch))

    def prefill_pass_workloads(self) -> tuple[Workload, ...]:
        """The op graphs of the scenario's prefill passes, with the distinct experts their steps use."""
        sc = self.scenario
        out = []
        for tps, logits, _, _ in self.prefill_pass_shapes(sc.prompt_tokens, sc.batch):
            d = self.expected_distinct(sc.batch * tps) if self.model.moe is not None else None
            out.append(self.workload(Phase.PREFILL, batch=sc.batch, prompt=sc.prompt_tokens, tokens_per_seq=tps,
                                     distinct=d, logits=logits))
        return tuple(out)

    def prefill_passes(self, prompt_tokens: int, batch: int) -> tuple[tuple[MappedStep, np.ndarray], ...]:
        """(mapped step, total context of each of its runs) per pass shape (`prefill_pass_shapes`):
        the batch's context at pass i is batch x its offset. Both engines run these.

        With sliding-window layers, a shape's passes are split where the pairs their capped
        context term overcounts change (zero while offset + w <= W, S(w) once offset >= W, at
        most one pass between): each part is a step whose constant FLOPs take its overcount
        off, so every pass's attention FLOPs are exact (docs/decoding.md, sliding windows)."""
        _, window = self.model.local_attention()
        shapes = self.prefill_pass_shapes(prompt_tokens, batch)
        if math.isinf(window):  # no sliding window: one step per shape (the hot path of a DSE)
            return tuple((self.prefill(prompt_tokens, batch, tokens_per_seq=tps, logits=logits),
                          batch * (start + tps * np.arange(n, dtype=float))) for tps, logits, start, n in shapes)
        out: list[tuple[MappedStep, np.ndarray]] = []
        for tps, logits, start, n in shapes:
            offsets = start + tps * np.arange(n, dtype=float)
            over = np.array([graph.chunk_window_overcount_pairs(o, tps, window) for o in offsets])
            cuts = [0, *(np.flatnonzero(np.diff(over)) + 1).tolist(), n]
            for a, b in zip(cuts[:-1], cuts[1:]):
                out.append((self.prefill(prompt_tokens, batch, tokens_per_seq=tps, logits=logits,
                                         window_overcount_pairs=float(over[a])), batch * offsets[a:b]))
        return tuple(out)

    def decode(self, batch: int, prompt_tokens: int | None = None, *, distinct: float | None = None,
               hit: float | None = None) -> MappedStep:
        """A decode step of `batch` sequences, one token each (autoregressive, multipath)."""
        return self.verify(batch, 1, prompt_tokens, distinct=distinct, hit=hit)

    def verify(self, batch: int, width: int, prompt_tokens: int | None = None, *, distinct: float | None = None,
               hit: float | None = None) -> MappedStep:
        """A target pass over `width` tokens per sequence (speculative verification)."""
        return self._step("decode", Phase.DECODE, self.decode_device, batch=batch, tokens_per_seq=width,
                          prompt=self._prompt(prompt_tokens), distinct=distinct, hit=hit)

    def self_draft(self, batch: int, prompt_tokens: int | None = None, *, distinct: float | None = None,
                   width: int = 1) -> MappedStep:
        """Self-speculative draft step: fewer experts (hot, cached ones), MSB slices only; `width`
        tokens per sequence (a token tree's frontier)."""
        return self._step("draft", Phase.DECODE, self.decode_device, batch=batch, tokens_per_seq=width,
                          prompt=self._prompt(prompt_tokens), distinct=distinct, draft=True)

    def mixed(self, batch: int, chunks: tuple[tuple[int, int, bool], ...]) -> MappedStep:
        """A mixed step (`graph.merge_steps`): `batch` sequences decode one token each while
        prefill `chunks` of other sequences, (tokens, tokens of that prompt already prefilled,
        whether the chunk ends its prompt), ride in the same step. Runs on the decode device,
        which must also be the prefill device (the caller checks). An MoE step is mapped at the
        expected distinct experts and cache hit rate of all its tokens (the router's law, not
        a sampled draw); a step without chunks is the plain decode step, one without decoding
        sequences (prompts prefilled together) a prefill step."""
        if not chunks:
            return self.decode(batch)
        if self.model.encoder_decoder is not None:
            raise ValueError("mixed steps are for decoder-only models (an encoder-decoder's prompt goes to the encoder)")
        key = ("mixed", batch, chunks)
        if key in self._cache:
            return self._cache[key]
        tokens = batch + sum(w for w, _, _ in chunks)
        distinct = _quantised(self.expected_distinct(tokens) if self.model.moe is not None else None,
                              DISTINCT_EXPERTS_QUANTUM)
        hit = _quantised(self.expected_hit(tokens), HIT_RATE_QUANTUM)
        dec_wl = None
        keys: list[tuple] = []
        if batch:
            dec_wl = self.workload(Phase.DECODE, batch=batch, prompt=self._prompt(None), distinct=distinct)
            keys.append(self._workload_keys[id(dec_wl)])
        parts = []
        for w, offset, last in chunks:
            wl = self.workload(Phase.PREFILL, batch=1, prompt=offset + w, tokens_per_seq=w, distinct=distinct,
                               logits=last)
            parts.append((wl, offset))
            keys.append((self._workload_keys[id(wl)], offset))
        merged = graph.merge_steps(dec_wl, tuple(parts), model=self.model.name)
        step = _map_step(self.hw, merged, self.decode_device, self.precision, self.modes,
                         self.sources(self.decode_device, hit=hit), phase_name="mixed" if batch else "prefill",
                         workload_key=("mixed", *keys))
        if self.step_hook is not None:
            step = self.step_hook(step)
        self._cache[key] = step
        return step

    def _prompt(self, prompt_tokens: int | None) -> int:
        # the prompt length changes a decode step only through cross-attention (encoder-decoder)
        if self.model.encoder_decoder is None or prompt_tokens is None:
            return self.scenario.prompt_tokens
        return prompt_tokens

    def _step(self, kind: str, phase: Phase, device: str, *, batch: int, tokens_per_seq: int, prompt: int,
              distinct: float | None = None, hit: float | None = None, draft: bool = False,
              logits: bool = True, window_overcount_pairs: float = 0.0) -> MappedStep:
        d_key = _quantised(distinct, DISTINCT_EXPERTS_QUANTUM)
        h_key = _quantised(hit, HIT_RATE_QUANTUM)
        key = (kind, batch, tokens_per_seq, prompt, d_key, h_key, logits, window_overcount_pairs)
        if key in self._cache:
            return self._cache[key]
        model, precision = self.model, self.precision
        tokens = batch * tokens_per_seq
        if draft:
            model, precision = self._draft_variant()
        if model.moe is not None and d_key is None:
            d_key = self.expected_distinct(tokens, draft=draft)
        if h_key is None:
            h_key = self.expected_hit(tokens)
        wl = self.workload(phase, batch=batch, prompt=prompt, tokens_per_seq=tokens_per_seq, distinct=d_key,
                           draft=draft, logits=logits, window_overcount_pairs=window_overcount_pairs)
        step = _map_step(self.hw, wl, device, precision, self.modes, self.sources(device, draft=draft, hit=h_key),
                         phase_name=kind, workload_key=self._workload_keys[id(wl)])
        if self.step_hook is not None:
            step = self.step_hook(step)
        self._cache[key] = step
        return step

    def workload(self, phase: Phase, *, batch: int, prompt: int, tokens_per_seq: int | None = None,
                 distinct: float | None = None, draft: bool = False, logits: bool = True,
                 window_overcount_pairs: float = 0.0) -> Workload:
        """The op graph of one step, built once per distinct shape (prefill: the whole prompt
        unless `tokens_per_seq` says one pass of a chunked prefill)."""
        if phase is Phase.DECODE:
            tps: int | None = 1 if tokens_per_seq is None else tokens_per_seq
        else:  # None: the whole prompt (the key a whole-prompt prefill always had)
            tps = None if tokens_per_seq in (None, prompt) else tokens_per_seq
        key = (phase, batch, prompt, tps, distinct, draft, logits, window_overcount_pairs)
        wl = self._workloads.get(key)
        if wl is None:
            model, precision = self._draft_variant() if draft else (self.model, self.precision)
            static = self.scenario.static_kv_tokens
            # a runtime that returns every position's logits computes them in every prefill pass
            every = phase is Phase.PREFILL and self.scenario.prefill_logits == "all"
            logits = logits or every
            # shared by every plan of this model and precision (mapping.memo); the graph's
            # vector-op constants are read at build time (a sensitivity test changes them)
            value_key = (model, precision, phase, batch, prompt, tps, distinct, static, logits, every,
                         window_overcount_pairs, graph.NORM_OPS_PER_ELEMENT, graph.ACTIVATION_OPS_PER_ELEMENT)
            wl = self._workloads[key] = memo.WORKLOADS.get(
                value_key, lambda: build_step(model, precision, phase=phase, batch=batch, prompt_tokens=prompt,
                                              tokens_per_seq=tps, distinct_experts=distinct, static_kv_tokens=static,
                                              logits=logits, all_position_logits=every,
                                              window_overcount_pairs=window_overcount_pairs))
            self._workload_keys[id(wl)] = value_key  # wl is held by self._workloads: its id stays its own
        return wl

    # --- MoE and decoding knowledge ------------------------------------------------------

    def _draft_variant(self) -> tuple[ModelSpec, Precision]:
        dec = self.scenario.decoding
        assert isinstance(dec, SelfSpeculative)
        model = self.model
        if model.moe is not None:
            model = model.model_copy(update={"moe": model.moe.model_copy(update={"top_k": min(dec.draft_top_k,
                                                                                            model.moe.top_k)})})
        bits = dec.draft_bits(self.precision.weight_bits)
        # expert axis only (no expert bit axis): the experts are read whole
        return model, self.precision.draft_slice(bits, experts=dec.expert_bit_axis)

    def routing(self) -> Routing:
        return self.scenario.moe.routing if self.scenario.moe is not None else Uniform()

    def expected_distinct(self, tokens: int, *, draft: bool = False) -> float:
        """Expected distinct experts a step of `tokens` tokens touches (per MoE layer)."""
        moe = self.model.moe
        assert moe is not None
        k = moe.top_k
        if draft:
            dec = self.scenario.decoding
            assert isinstance(dec, SelfSpeculative)
            k = min(dec.draft_top_k, k)
        d = expected_distinct(self.routing(), moe.num_experts, k, tokens)
        cache = self.scenario.moe.expert_cache if self.scenario.moe is not None else None
        if draft and cache is not None:
            d = min(d, float(cache.experts_per_layer))  # the draft runs cached experts only
        return d

    def expected_hit(self, tokens: int) -> float:
        cache = self.scenario.moe.expert_cache if self.scenario.moe is not None else None
        if cache is None or self.model.moe is None:
            return 0.0
        return analytic_hit_rate(cache, self.routing(), self.model.moe.num_experts, self.model.moe.top_k, tokens)

    def sources(self, device: str, *, draft: bool = False, hit: float = 0.0) -> WeightSources:
        dev = self.hw.devices[device]
        main = dev.weight_memory if isinstance(dev, CimAccelerator) else dev.memory
        cache = self.scenario.moe.expert_cache if self.scenario.moe is not None else None
        dec = self.scenario.decoding
        split = isinstance(dec, SelfSpeculative) and dec.msb_tier is not None and dec.lsb_tier is not None
        return WeightSources(
            main=main,
            cache_tier=cache.tier if cache is not None and self.model.moe is not None else None,
            hit=hit,
            msb_tier=dec.msb_tier if split else None,
            lsb_tier=dec.lsb_tier if split else None,
            msb_fraction=elastic.msb_fraction(self.scenario),
            draft=draft and split,
            dense_in_msb=split and self.model.moe is not None,
            expert_msb_fraction=elastic.expert_msb_fraction(self.scenario) if split else None,
            dense_tier=cache.tier if cache is not None and cache.dense_layers and not split and self.model.moe else None,
        )

    def stage_pipeline(self) -> StagePipeline | None:
        """Decode stages of a weight-stationary CIM decode device with pipeline_stages > 1.

        Streaming designs are not pipelined across sequences: their batched GEMMs already
        share each weight load among the batch (see docs/engines.md).
        """
        dev = self.hw.devices[self.decode_device]
        if not (isinstance(dev, CimAccelerator) and dev.pipeline_stages > 1
                and self.modes[self.decode_device] == WeightMode.STATIONARY):
            return None
        if "pipeline" not in self._extra:
            ctx = self.context_tokens(self.scenario.prompt_tokens, self.scenario.gen_tokens / 2.0)
            self._extra["pipeline"] = build_stage_pipeline(self.decode(1), dev.pipeline_stages, ctx,
                                                           vector_s_per_op=1.0 / vector_rate_ops_per_s(dev))
        return self._extra["pipeline"]

    def kv_tier(self, device: str) -> str:
        dev = self.hw.devices[device]
        return dev.kv_tier if isinstance(dev, CimAccelerator) else dev.memory

    def kv_bytes_per_token(self) -> float:
        return self.model.kv_bytes_per_token(self.precision.kv_bits)

    def context_tokens(self, prompt_tokens: int, generated: float) -> float:
        """Self-attention context of a sequence that has `generated` tokens out (1 after prefill)."""
        return self.model.decoder_prefix_tokens(prompt_tokens) + generated

    def step_context(self, seq_ctx: Iterable[float]) -> float:
        """The total context to evaluate a step of these sequences at (each attending to its own
        context). Without a sliding window, their sum. With one, the context x whose cost equals the
        exact per-sequence cost: a step's context terms are a(1 - s) C + a s min(C, B W) for every
        op (s the local layers' share, the same in every attention op), and the sequences need
        (1 - s) sum T_i + s sum min(T_i, W); x solves (1 - s) x + s min(x, B W) = that, which is
        the plain sum when all are within W or all past it."""
        ctxs = [float(c) for c in seq_ctx]
        total = sum(ctxs)
        s, w = self.model.local_attention()
        if not s or not ctxs:
            return total
        cap = len(ctxs) * w
        target = (1.0 - s) * total + s * sum(min(c, w) for c in ctxs)
        if target <= cap:
            return target
        return (target - s * cap) / (1.0 - s)  # s < 1 here: with every layer local the target is <= cap

    def kv_bytes_for(self, prompt_tokens: int, gen_tokens: int) -> float:
        """KV cache one request reserves (the fixed window of a static-shape runtime, or
        prefix + generated tokens, plus an encoder-decoder's cross K/V)."""
        return self.model.kv_bytes_per_sequence(prompt_tokens, gen_tokens, self.precision.kv_bits,
                                                self_tokens=self.scenario.static_kv_tokens,
                                                windowed=self.scenario.windowed_kv_cache)

    def prefill_kv_bytes(self, prompt_tokens: int) -> float:
        """KV cache a prefill leaves behind (what a handover to another device moves)."""
        return self.model.kv_bytes_per_sequence(prompt_tokens, 0, self.precision.kv_bits,
                                                windowed=self.scenario.windowed_kv_cache)

    def kv_budget_bytes(self) -> float:
        """What the decode device's KV tier can give the KV cache (capacity - weights there)."""
        tier = self.kv_tier(self.decode_device)
        weights = 0.0
        for dname in {self.prefill_device, self.decode_device}:
            dev = self.hw.devices[dname]
            wt = dev.weight_memory if isinstance(dev, CimAccelerator) else dev.memory
            if wt == tier and self.modes[dname] != WeightMode.STATIONARY:
                weights = weight_bytes(self.model, self.precision)
        return self.hw.memories[tier].capacity_bytes - weights

    def handover(self) -> tuple[str, float, float, float] | None:
        """(link name, bandwidth, energy per bit, latency) when prefill's KV must move to decode."""
        if self.prefill_device == self.decode_device:
            return None
        if self.kv_tier(self.prefill_device) == self.kv_tier(self.decode_device):
            return None
        found = self.hw.link_between(self.prefill_device, self.decode_device)
        assert found is not None, "hw_models.load.reference_problems requires a link"
        name, link = found
        return name, link.bandwidth_bytes_per_s, link.energy_per_bit_j, link.latency_s


def make_plan(hw: HardwareSpec, model: ModelSpec, scenario: Scenario, *,
              draft_model: ModelSpec | None = None,
              step_hook: "Callable[[MappedStep], MappedStep] | None" = None) -> Plan | Infeasible:
    mapper = StepMapper(hw, model, scenario, draft_model=draft_model, step_hook=step_hook)
    if mapper.infeasible is not None:
        return mapper.infeasible
    footprint, infeasible = _footprint(hw, model, scenario, mapper.modes, mapper.prefill_pass_workloads(), mapper.draft)
    if infeasible is not None:
        return infeasible
    passes = mapper.prefill_passes(scenario.prompt_tokens, scenario.batch)
    prefill = passes[0][0]
    decode = mapper.decode(scenario.batch)
    peaks = {name: _peak_ops_per_s(dev, scenario) for name, dev in hw.devices.items()}
    pipeline = {}
    dev = hw.devices[decode.device]
    stages = mapper.stage_pipeline()
    if stages is not None:
        pipeline[decode.device] = stages.partition
    elif isinstance(dev, CimAccelerator) and dev.pipeline_stages > 1:
        # streaming: the stage split is still reported (where the layers would sit), not pipelined
        mean_ctx = scenario.batch * mapper.context_tokens(scenario.prompt_tokens, scenario.gen_tokens / 2.0)
        times = decode.op_times_s(np.array([mean_ctx]))[:, 0]
        costs, _ = unrolled_op_costs(times, [op.layers for op in decode.ops])
        pipeline[decode.device] = linear_partition(costs, dev.pipeline_stages)
    return Plan(hardware=hw.name, model=model.name, prompt_tokens=scenario.prompt_tokens,
                gen_tokens=scenario.gen_tokens, batch=scenario.batch, prefill=prefill, decode=decode,
                prefill_passes=passes,
                always_on_power_w=mapper.always_on_power_w, active_power_w=mapper.active_power_w,
                memory_footprint_bytes=footprint, weight_mode=mapper.modes, device_peak_ops_per_s=peaks,
                pipeline=pipeline, mapper=mapper,
                warnings=elastic.warnings(model, scenario) + tuple(
                    w for n, d in hw.devices.items() if isinstance(d, CimAccelerator)
                    # the ADC warning of the macro as it runs (its rows cut to the scale group)
                    for w in (*periphery_warnings(grouped_accelerator(d, scenario.precision), n),
                              *group_warnings(d, n, scenario.precision))))


def expert_cache_capacity(hw: HardwareSpec, model: ModelSpec, scenario: Scenario) -> int:
    """Most experts per MoE layer the scenario's expert cache can hold: what its tier has left
    beside everything else placed there (dense layers, KV cache, activations), divided by one
    cached expert's bytes (its MSB slice when the weights are split) times the MoE layers.
    ELMoE-3D sizes its HB expert area so (seed-details.md: "the KV cache takes HB first and
    shrinks the expert area")."""
    moe = scenario.moe
    if model.moe is None or moe is None or moe.expert_cache is None:
        raise ValueError("expert_cache_capacity needs an MoE model and a scenario with moe.expert_cache")
    cache = moe.expert_cache
    empty = scenario.model_copy(update={"moe": moe.model_copy(update={
        "expert_cache": cache.model_copy(update={"experts_per_layer": 0})})})
    mapper = StepMapper(hw, model, empty)
    footprint, infeasible = _footprint(hw, model, empty, mapper.modes, mapper.prefill_pass_workloads())
    if infeasible is not None:
        return 0
    free = hw.memories[cache.tier].capacity_bytes - footprint.get(f"tier.{cache.tier}", 0.0)
    per = elastic.cached_bytes_per_expert(model, scenario) * model.moe_layers()
    return int(max(0, min(model.moe.num_experts, free // per)))


def effective_macro(acc: CimAccelerator, precision: Precision | None = None) -> CimMacro:
    """`acc.effective_macro` (derived on every access), memoised by the fields it reads; with
    `precision`, the macro its weight scale groups leave (`mapping.cim.grouped_accelerator`)."""
    cap = group_cap(acc, precision) if precision is not None else None
    if cap is None:
        return memo.MACROS.get((acc.macro, acc.technology_node_m, acc.supply_voltage_v),
                               lambda: acc.effective_macro)
    return memo.MACROS.get((acc.macro, acc.technology_node_m, acc.supply_voltage_v, cap),
                           lambda: grouped_accelerator(acc, precision).effective_macro)


def _macro_tiles_needed(model: ModelSpec, scenario: Scenario, acc: CimAccelerator) -> float:
    """Macros that hold every weight of the model at once (`mapping.cim.macro_tiles_needed`),
    memoised by what it reads: the model, precision, prompt length and the macro."""
    p, prompt = scenario.precision, scenario.prompt_tokens
    weights = memo.WEIGHT_OPS.get((model, p, prompt), lambda: all_weight_ops(model, p, prompt_tokens=prompt))
    return memo.WEIGHT_OPS.get(("macro_tiles", model, p, prompt, acc.macro),
                               lambda: macro_tiles_needed(weights, acc, p.weight_bits))


def _peak_ops_per_s(dev: object, scenario: Scenario) -> float:
    if isinstance(dev, CimAccelerator):
        p = scenario.precision
        mac = effective_macro(dev, p)
        macs_per_mvm = mac.rows * mac.outputs_per_macro(p.weight_bits)
        return 2.0 * macs_per_mvm * dev.macro_count * mac.clock_hz / mac.cycles_per_mvm(p.activation_bits)
    assert isinstance(dev, _Processor)
    return dev.matrix_peak_ops_per_s(math_precision(scenario.precision))


def prefill_activation_bytes(passes: tuple[Workload, ...], activation_bits: int) -> float:
    """The largest op's input + output activation buffers over the passes of a prefill.

    An op has `m` rows: the pass's tokens (batch x tokens per sequence; routed rows: tokens
    x top-k; the lm_head, in the last pass only: one row per sequence). Without a chunk the
    whole prompt is one pass (`StepMapper.prefill_pass_shapes`).
    assumption: activations at `activation_bits`, the input and the output of the op live at
    once (2 buffers); the attention score matrix is not materialised (flash attention)."""
    return max(op.m * max(op.k, op.n) for wl in passes for op in wl.ops) * activation_bits / 8.0 * 2


def _footprint(hw: HardwareSpec, model: ModelSpec, scenario: Scenario, modes: dict[str, str],
               prefill_passes: tuple[Workload, ...], draft: "StepMapper | None" = None
               ) -> tuple[dict[str, float], Infeasible | None]:
    """Bytes each memory tier must hold: weights, KV cache, activations (and a draft model's)."""
    p = scenario.precision
    weights = weight_bytes(model, p)
    # self-attention K/V of the decoder positions (an encoder-decoder's start token + the
    # generated tokens; a decoder-only model's prompt + generated tokens), plus cross K/V
    prefix = model.decoder_prefix_tokens(scenario.prompt_tokens)
    kv_tokens = scenario.static_kv_tokens or (prefix + scenario.gen_tokens)
    seqs = scenario.batch
    dec = scenario.decoding
    if isinstance(dec, Multipath):
        # paths share the prompt KV (copy-on-write); each keeps its own generated tokens
        kv_tokens = prefix + dec.max_width * scenario.gen_tokens
    elif isinstance(dec, (Speculative, SelfSpeculative, LexicalUnit)):
        kv_tokens += verify_extra(dec)  # candidates written before verification
    kv = seqs * model.kv_bytes_per_sequence(scenario.prompt_tokens, scenario.gen_tokens, p.kv_bits,
                                            self_tokens=kv_tokens, windowed=scenario.windowed_kv_cache)
    acts = prefill_activation_bytes(prefill_passes, p.activation_bits)
    demand: dict[str, dict[str, float]] = {}
    for dname in {hw.device_for("prefill"), hw.device_for("decode")}:
        dev = hw.devices[dname]
        if isinstance(dev, CimAccelerator):
            wt, kt = dev.weight_memory, dev.kv_tier
            on_chip = modes[dname] == WeightMode.STATIONARY
        else:
            wt, kt = dev.memory, dev.kv_tier
            on_chip = False
        d = demand.setdefault(wt, {"weights": 0.0, "kv_cache": 0.0, "activations": 0.0})
        if not on_chip:
            d["weights"] = weights  # one copy per tier even if two devices share it
        else:
            # the macros hold the matmul weights (a tied table as the LM head), but the token
            # lookup reads its rows from the weight tier, so the table is stored there
            table = WeightGroup.LM_HEAD if model.tie_word_embeddings else WeightGroup.EMBEDDING
            d["embedding_table"] = model.embedding_params() * p.bits_for(table) / 8.0
        d["activations"] = max(d["activations"], acts)
        demand.setdefault(kt, {"weights": 0.0, "kv_cache": 0.0, "activations": 0.0})["kv_cache"] = kv
    if draft is not None:
        dweights = weight_bytes(draft.model, p)
        dkv = seqs * draft.model.kv_bytes_per_sequence(scenario.prompt_tokens, scenario.gen_tokens, p.kv_bits,
                                                       windowed=scenario.windowed_kv_cache)
        ddev = draft.hw.devices[draft.decode_device]
        dt = ddev.weight_memory if isinstance(ddev, CimAccelerator) else ddev.memory
        d = demand.setdefault(dt, {"weights": 0.0, "kv_cache": 0.0, "activations": 0.0})
        d["draft_weights"] = dweights
        d["draft_kv_cache"] = dkv
    for tname, parts in elastic.tier_demand(model, scenario).items():  # MSB slices, dense layers, cached experts
        demand.setdefault(tname, {"weights": 0.0, "kv_cache": 0.0, "activations": 0.0}).update(parts)
    footprint = {"weights": weights, "kv_cache": kv, "activations": acts}
    if draft is not None:  # the draft model's own weights and KV, beside the target's
        footprint["draft_weights"] = dweights
        footprint["draft_kv_cache"] = dkv
    for tname, parts in demand.items():
        total = sum(parts.values())
        cap = hw.memories[tname].capacity_bytes
        footprint[f"tier.{tname}"] = total
        if total > cap:
            chunk_hint = ""
            if scenario.prefill_chunk_tokens is None and parts.get("activations", 0.0) >= max(parts.values()):
                chunk_hint = (f"the activations assume one prefill pass over all {scenario.batch * scenario.prompt_tokens:,} "
                              "prompt tokens of the batch; runtimes split prefill into chunks (--prefill-chunk 512, "
                              "llama.cpp's n_ubatch; a --stack sets its own). Or ")
            return footprint, Infeasible(
                reason=f"model {model.name} does not fit memory tier '{tname}'",
                demanded=total, bound=cap, unit="bytes",
                hint=chunk_hint + "use fewer weight bits (--weight-bits), fewer KV bits, a shorter context or smaller batch, "
                     "a smaller model, or a larger memory",
                details={k: v for k, v in parts.items()},
            )
    return footprint, None


def _map_step(hw: HardwareSpec, wl: Workload, dname: str, precision: Precision, modes: dict[str, str],
              sources: WeightSources, *, phase_name: str | None = None, workload_key: tuple | None = None) -> MappedStep:
    """Map every op of a step onto device `dname`.

    Memoised (`mapping.memo`) at two levels, both keyed by values: mapped ops per unit (the
    key of a unit lists every field its mapping function reads, so a plan meeting the same op
    on an equal unit reuses the mapped op), and whole steps per (workload, units, memory tiers)
    when `workload_key` (the workload's value key) is given.
    """
    dev = hw.devices[dname]
    bandwidth: dict[str, float] = {}
    component: dict[str, Component] = {}
    energy_bit: dict[str, float] = {}

    def use_tier(tname: str) -> None:
        tier = hw.memories[tname]
        bandwidth[tname] = tier.achievable_bandwidth_bytes_per_s
        component[tname] = _tier_component(tier)
        energy_bit[tname] = tier.energy_per_bit_j

    cim = isinstance(dev, CimAccelerator)
    if cim:
        noc = f"noc:{dname}"
        bandwidth[noc] = dev.noc.bandwidth_bytes_per_s
        component[noc] = Component.NOC
        energy_bit[noc] = dev.noc.energy_per_bit_j
        for tname in sorted({*sources.tiers(), dev.kv_tier}):
            use_tier(tname)
        stationary = modes[dname] == WeightMode.STATIONARY
        stream_bw = bandwidth[dev.weight_memory]
        wb, ab = precision.weight_bits, precision.activation_bits
        units: tuple[memo.UnitKey, ...] = (
            memo.UnitKey("cim_matmul", dname, stationary, sources, wb, ab, precision.weight_group_size, stream_bw,
                         *matmul_unit_values(dev)),
            memo.UnitKey("cim_vector", dname, sources, *vector_unit_values(dev)))
        overhead = 0.0
    else:
        assert isinstance(dev, _Processor)
        for tname in sorted({*sources.tiers(), dev.kv_tier}):
            use_tier(tname)
        units = (memo.UnitKey("processor", dname, sources, precision, dev.kv_tier,
                              *processor_unit_values(dev, precision)),)
        overhead = dev.step_overhead_s

    def build() -> MappedStep:
        ops: list[MappedOp] = []
        if cim:
            matmuls = memo.OPS.get(units[0], dict)
            vectors = memo.OPS.get(units[1], dict)
            mac = None
            for op in wl.ops:
                unit = matmuls if op.kind is OpKind.MATMUL else vectors
                mapped = unit.get(op)
                if mapped is None:
                    if mac is None:
                        mac = effective_macro(dev, precision)
                    mapped = map_on_cim(op, acc=dev, device_name=dname, stationary=stationary, precision=precision,
                                        noc_tier=noc, stream_bandwidth_bytes_per_s=stream_bw, sources=sources,
                                        macro=mac)
                    if memo.enabled():
                        unit[op] = mapped
                ops.append(mapped)
        else:
            unit = memo.OPS.get(units[0], dict)
            for op in wl.ops:
                mapped = unit.get(op)
                if mapped is None:
                    mapped = map_on_processor(op, device=dev, device_name=dname, sources=sources,
                                              kv_tier=dev.kv_tier, precision=precision)
                    if memo.enabled():
                        unit[op] = mapped
                ops.append(mapped)
            if overhead:
                ops.append(MappedOp(name="runtime", op_class="runtime", device=dname, unit="host", layers=1,
                                    overhead_s=overhead, compute_s=Affine(0.0), tier_bytes=(), energy_j=()))
        return MappedStep(phase=phase_name or wl.phase.value, device=dname, batch=wl.batch,
                          tokens_per_seq=wl.tokens_per_seq, ops=tuple(ops), tier_bandwidth_bytes_per_s=bandwidth,
                          tier_component=component, tier_energy_per_bit_j=energy_bit)

    if workload_key is None:
        return build()
    key = (phase_name, workload_key, units, overhead, tuple(bandwidth.items()), tuple(component.items()),
           tuple(energy_bit.items()))
    return memo.STEPS.get(key, build)


def verify_extra(dec: object) -> int:
    """KV slots a verification pass writes beyond the accepted tokens."""
    if isinstance(dec, (Speculative, SelfSpeculative)):
        return tree_nodes(dec.tree) if dec.tree else dec.draft_len
    if isinstance(dec, LexicalUnit):
        return dec.window
    return 0
