"""The claims table (issue 14): every quantitative, hardware-relevant claim of the seed papers
and the related papers listed with them, beside slmsim's figure for the same conditions.

The registry is data (slmsim/data/claims.yaml: paper figure, unit, kind, conditions, source,
and either the `evaluator` that computes it or what is `missing`). Each evaluator below runs
slmsim for its paper and returns, per claim, slmsim's figure, the assumptions, the physics
reason if it misses and a sensitivity table over the unknowns that move it most. The verdict
is computed from those by `Claim.computed_verdict` (common.py), never written here.

ELMoE-3D's figures come from `slmsim.casestudies.elmoe3d` through `_elmoe3d_adapter` only
(another branch reworks that module; the lead updates the adapter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import yaml

from slmsim.casestudies.common import Claim, hardware_with
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping.plan import make_plan
from slmsim.core.errors import Infeasible
from slmsim.simulator.engines import run
from slmsim.simulator.result import SimResult
from slmsim.workloads.load import load_model
from slmsim.workloads.model import ModelSpec
from slmsim.workloads.scenario import Precision, Scenario

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClaimSpec:
    name: str
    paper: str
    figure: float
    unit: str
    kind: str
    source: str
    conditions: str
    evaluator: str | None = None
    missing: str = ""


def registry() -> list[ClaimSpec]:
    from importlib.resources import files

    data = yaml.safe_load(files("slmsim.data").joinpath("claims.yaml").read_text())
    return [ClaimSpec(name=c["name"], paper=c["paper"], figure=float(c["figure"]), unit=c["unit"], kind=c["kind"],
                      source=c["source"], conditions=c["conditions"], evaluator=c.get("evaluator"),
                      missing=c.get("missing", "")) for c in data["claims"]]


def _run(hw: HardwareSpec, model: ModelSpec | str, scenario: Scenario, *, draft: str | None = None) -> SimResult:
    m = load_model(model) if isinstance(model, str) else model
    plan = make_plan(hw, m, scenario, draft_model=load_model(draft) if draft else None)
    if isinstance(plan, Infeasible):
        raise RuntimeError(f"{m.name} on {hw.name}: {plan.render()}")
    return run(plan, engine="analytic", seed=scenario.seed)


def _rows(unknown: str, pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"unknown": unknown, "value": v, "slmsim": x} for v, x in pairs]


# ----------------------------------------------------------------------------- EdgeCIM


def _edgecim(boundary: str, progress: Progress | None) -> list[Claim]:
    from slmsim.casestudies import edgecim as ec
    from slmsim.casestudies import edgecim_baselines as eb

    if progress:
        progress("claims: EdgeCIM, 12 SLMs on edgecim, orin-nano, sa8255p")
    rows = ec.run_rows(hardware_with("edgecim"), boundary=boundary)
    base = ec.claims(rows)
    sens = ec.sensitivity(progress=(lambda v: progress(f"claims: EdgeCIM sensitivity: {v}")) if progress else None,
                          boundary=boundary)
    why = ec.explanations(sens)
    by_boundary = {b: ec.claims(rows if b == boundary else ec.run_rows(hardware_with("edgecim"), boundary=b))
                   for b in ("chip", "chip+memory", "board")}
    if progress:
        progress("claims: EdgeCIM baselines as stated configurations (stacks, precisions)")
    configs = eb.baseline_table(rows)
    mixed = eb.boundary_pairs()
    solved = _edgecim_solved(boundary, progress)
    out = []
    for c in base:
        table: list[dict[str, Any]] = [{"unknown": str(r["parameter"]), "value": str(r["variant"]),
                                        "slmsim": r.get(c.claim)} for r in sens if r["parameter"] != "-"]
        if c.boundary:  # an energy figure: every boundary beside the one used
            table += _rows("energy boundary", [(b, next(x.slmsim for x in cl if x.claim == c.claim))
                                               for b, cl in by_boundary.items()])
        if c.claim.startswith("edgecim_vs_"):
            key = {"edgecim_vs_orin_nano_throughput_llama-3.2-1b": "speedup",
                   "edgecim_vs_orin_nano_energy_efficiency_llama-3.2-1b": "energy_gain",
                   "edgecim_vs_sa8255p_throughput_llama-3.2-3b": "speedup"}[c.claim]
            dev = "sa8255p" if "sa8255p" in c.claim else "orin-nano"
            table += [{"unknown": "baseline stack and precision", "value": r["configuration"], "slmsim": r[key]}
                      for r in configs if r["hardware"] == dev]
            if key == "energy_gain":
                table += [{"unknown": "boundary pair (edgecim / orin-nano)", "value": r["pair"], "slmsim": r["ratio"]}
                          for r in mixed]
        extra = ""
        if c.claim in solved:
            unknown, value, got, text = solved[c.claim]
            table.append({"unknown": unknown, "value": value, "slmsim": got})
            extra = " " + text
        out.append(replace(c, sensitivity=tuple(table), explanation=why.get(c.claim, "") + extra,
                           assumptions="hw_models/presets/edgecim.yaml (macro, tiles, LPDDR5X 273 GB/s, 5 pJ/bit); "
                                       "scenario in slmsim/casestudies/edgecim.py"))
    return out


def _solve(f: Callable[[float], float], lo: float, hi: float, target: float, *, increasing: bool,
           rtol: float = 2e-3, iters: int = 40) -> tuple[float, float] | None:
    """Bisection for f(x) = target on [lo, hi] (f monotonic); None if the target is outside f's range."""
    flo, fhi = f(lo), f(hi)
    if not (min(flo, fhi) <= target <= max(flo, fhi)):
        return None
    x, v = lo, flo
    for _ in range(iters):
        x = 0.5 * (lo + hi)
        v = f(x)
        if abs(v - target) <= rtol * target:
            break
        if (v < target) == increasing:
            lo = x
        else:
            hi = x
    return x, v


def _edgecim_solved(boundary: str, progress: Progress | None) -> dict[str, tuple[str, str, float, str]]:
    """The value of the one unknown that would reproduce each EdgeCIM mean figure, all else
    as the preset assumes: DRAM bandwidth for tokens/s, DRAM energy per bit for tokens/J."""
    import numpy as np

    from slmsim.casestudies import edgecim as ec

    if progress:
        progress("claims: EdgeCIM, solving for the DRAM bandwidth and energy per bit the paper's means need")

    def mean(edits: dict[str, float], key: str) -> float:
        rows = ec.run_rows(hardware_with("edgecim", edits), baselines=False, boundary=boundary)
        return float(np.mean([getattr(r, key) for r in rows]))

    out: dict[str, tuple[str, str, float, str]] = {}
    bw = _solve(lambda x: mean({"memories.dram.bandwidth": x}, "tokens_per_s"), 100e9, 1000e9, 336.42,
                increasing=True)
    if bw is not None:
        out["edgecim_mean_decode_tokens_per_s"] = (
            "DRAM bandwidth (solved for the paper's figure)", f"{bw[0] / 1e9:.0f} GB/s peak", bw[1],
            f"The paper's mean needs {bw[0] / 1e9:.0f} GB/s of peak DRAM bandwidth at the preset's 0.8 achievable "
            "(solved by bisection), against the assumed 273 GB/s.")
    if boundary != "chip":  # within the chip boundary DRAM energy is not counted: nothing to solve
        e = _solve(lambda x: mean({"memories.dram.energy_per_bit": x}, "tokens_per_j"), 0.0, 8e-12, 173.02,
                   increasing=False)
        out["edgecim_mean_tokens_per_j"] = (
            ("DRAM energy per bit (solved for the paper's figure)", f"{e[0] * 1e12:.3g} pJ/bit", e[1],
             f"Within the {boundary} boundary the paper's 173.02 tokens/J needs the DRAM at {e[0] * 1e12:.3g} pJ/bit "
             "(solved by bisection, everything else as the preset assumes): a hybrid-bonded-class figure, not "
             "LPDDR5X's 5.") if e is not None else
            ("DRAM energy per bit (solved for the paper's figure)", "none in 0-8 pJ/bit", float("nan"),
             "No DRAM energy per bit in 0-8 pJ/bit reaches 173.02 tokens/J within this boundary."))
    return out


# ----------------------------------------------------------------------------- ELMoE-3D


def _elmoe3d_adapter(boundary: str) -> tuple[list[Claim], list[dict[str, Any]], dict[str, str]]:
    """The only place the claims table calls slmsim.casestudies.elmoe3d: (claims, sensitivity
    rows, explanations). ELMoE-3D as reported (8 GB; 4 GB beside it) against its xPU; energy
    gains are decode tokens per joule inside `boundary`."""
    from slmsim.casestudies import elmoe3d as el

    rows = el.run(el.HEADLINE, boundary=boundary)
    rows4 = el.run("4gb", baselines=False, boundary=boundary)
    sens = el.sensitivity(cache={}, boundary=boundary)
    return el.claims(rows, rows4, boundary), sens, el.explanations(rows, sens)


# Which column of the elmoe3d sensitivity rows moves each claim. The sensitivity is run against
# the xPU; naive serving on ELMoE-3D's own die (the `*_vs_naive_moe_mean` names kept from
# issue 11) is within 3% of the xPU figure, so it carries the same table and reason.
_ELMOE_METRIC = {"elmoe3d_speedup_vs_xpu_mean": "speedup_vs_xpu",
                 "elmoe3d_energy_gain_vs_xpu_mean": "energy_gain_vs_xpu",
                 "elmoe3d_speedup_vs_naive_moe_mean": "speedup_vs_xpu",
                 "elmoe3d_energy_gain_vs_naive_moe_mean": "energy_gain_vs_xpu"}


def _elmoe3d(boundary: str, progress: Progress | None) -> list[Claim]:
    if progress:
        progress("claims: ELMoE-3D as reported vs its xPU, 4 models x batch 1-16 (and its sensitivity)")
    claims, sens, why = _elmoe3d_adapter(boundary)
    out = []
    for c in claims:
        metric = _ELMOE_METRIC.get(c.claim)
        if metric is None:
            continue
        table = [{"unknown": str(r["parameter"]), "value": str(r["variant"]), "slmsim": r.get(metric)}
                 for r in sens if r["parameter"] != "-"]
        reason = why.get(c.claim) or why.get(metric.replace("speedup_vs_xpu", "elmoe3d_speedup_vs_xpu_mean")
                                             .replace("energy_gain_vs_xpu", "elmoe3d_energy_gain_vs_xpu_mean"), "")
        if c.claim not in why:
            reason = ("Naive serving on ELMoE-3D's own die is within 3% of the xPU comparison; the sensitivity "
                      "rows are of the xPU comparison. " + reason)
        out.append(replace(c, sensitivity=tuple(table), explanation=reason,
                           boundary=boundary if "energy" in c.claim else "", kind="ratio",
                           conditions=c.note, assumptions="examples/decoding/elmoe3d-{reported,xpu,hb-xpu}.yaml, "
                                                          "hw_models/presets/elmoe3d*.yaml, docs/case-studies.md (ELMoE-3D)"))
    return out


# ----------------------------------------------------------------------------- Return of the Encoder

ROE_HW = ("orin-nano", "snapdragon-8-elite", "raspberry-pi-5")  # GPU, NPU, CPU edge platforms
ROE_PROMPT, ROE_GEN = 512, 128


def decoder_only_twin(encdec: ModelSpec) -> ModelSpec:
    """The decoder-only model of the same width and depth: encoder + decoder layers stacked
    as decoder layers (self-attention only), so parameters match within the cross-attention."""
    assert encdec.encoder_decoder is not None
    layers = encdec.encoder_decoder.num_encoder_layers + encdec.encoder_decoder.num_decoder_layers
    return encdec.model_copy(update={"encoder_decoder": None, "num_layers": layers,
                                     "name": f"{encdec.name}-decoder-only-{layers}l"})


def _encoder_pair(hw: str, prompt: int = ROE_PROMPT, gen: int = ROE_GEN, batch: int = 1,
                  model: str = "flan-t5-base") -> tuple[float, float]:
    """(TTFT ratio enc-dec / decoder-only, decode throughput ratio enc-dec / decoder-only)."""
    ed = load_model(model)
    do = decoder_only_twin(ed)
    sc = Scenario(prompt_tokens=prompt, gen_tokens=gen, batch=batch, precision=Precision(weight_bits=16,
                                                                                          weight_group_size=None))
    spec = hardware_with(hw)
    a, b = _run(spec, ed, sc), _run(spec, do, sc)
    return a.ttft_s / b.ttft_s, a.decode_tokens_per_s / b.decode_tokens_per_s


def _encoder(boundary: str, progress: Progress | None) -> list[Claim]:
    if progress:
        progress("claims: Return of the Encoder, flan-t5-base vs its decoder-only twin")
    per = {hw: _encoder_pair(hw) for hw in ROE_HW}
    ttft = sum(v[0] for v in per.values()) / len(per)
    thr = sum(v[1] for v in per.values()) / len(per)
    sens_t: list[dict[str, Any]] = _rows("device", [(hw, v[0]) for hw, v in per.items()])
    sens_r: list[dict[str, Any]] = _rows("device", [(hw, v[1]) for hw, v in per.items()])
    for p in (128, 2048):
        t, r = _encoder_pair("orin-nano", prompt=p)
        sens_t += _rows("prompt tokens (orin-nano)", [(str(p), t)])
        sens_r += _rows("prompt tokens (orin-nano)", [(str(p), r)])
    for bsz in (8,):
        t, r = _encoder_pair("orin-nano", batch=bsz)
        sens_t += _rows("batch (orin-nano)", [(str(bsz), t)])
        sens_r += _rows("batch (orin-nano)", [(str(bsz), r)])
    t, r = _encoder_pair("orin-nano", model="flan-t5-small")
    sens_t += _rows("model size (orin-nano)", [("flan-t5-small", t)])
    sens_r += _rows("model size (orin-nano)", [("flan-t5-small", r)])
    cond = (f"flan-t5-base (12 + 12 layers) vs a decoder-only twin of 24 layers, FP16, prompt {ROE_PROMPT}, "
            f"generate {ROE_GEN}, batch 1; mean over {', '.join(ROE_HW)}")
    assumptions = ("the paper's models, prompt lengths and devices are not in the abstract: flan-t5-base stands for "
                   "its <= 1B encoder-decoder, the twin stacks the encoder's layers into the decoder")
    return [
        Claim("roe_first_token_latency_vs_decoder_only", 0.53, ttft, "x", "", conditions=cond, kind="ratio",
              assumptions=assumptions, sensitivity=tuple(sens_t),
              explanation="Prefill of the encoder-decoder runs the encoder (half the twin's layers) over the prompt, "
                          "but its decoder still runs its 12 layers over the start token: when prefill is bound by "
                          "fixed per-kernel costs (GPUs and NPUs at short prompts, the sensitivity's 128-token row) "
                          "both models launch as many kernels and the ratio is near 1; only compute-bound prefill "
                          "(a CPU, long prompts, batches) approaches the paper's 0.53."),
        Claim("roe_throughput_vs_decoder_only", 4.7, thr, "x", "", conditions=cond, kind="ratio",
              assumptions=assumptions, sensitivity=tuple(sens_r),
              explanation="Each decode step reads only the decoder's layers (half the twin's) but also the "
                          "untied output head both share and the cross-attention K/V, so a memory-bound decode gains "
                          "about 1.4-1.6x on every device and prompt length tried, far from 4.7x. 4.7x implies a "
                          "decoder-only baseline run differently (no KV cache, or a slower stack); the paper's "
                          "setup is not public."),
    ]


# ----------------------------------------------------------------------------- Lexical Unit Decoding

LUD_HW, LUD_MODEL = "a100-80gb", "llama-2-7b"


def _lud_speedup(tokens_per_step: float = 1.4, window: int = 4, hw: str = LUD_HW, model: str = LUD_MODEL) -> float:
    prec = Precision(weight_bits=16, weight_group_size=None)
    spec = hardware_with(hw)
    ar = _run(spec, model, Scenario(prompt_tokens=128, gen_tokens=256, precision=prec))
    lu = _run(spec, model, Scenario.model_validate(
        {"prompt_tokens": 128, "gen_tokens": 256, "precision": prec.model_dump(),
         "decoding": {"strategy": "lexical_unit", "tokens_per_step": tokens_per_step, "window": window}}))
    return lu.decode_tokens_per_s / ar.decode_tokens_per_s


def _lexical_unit(boundary: str, progress: Progress | None) -> list[Claim]:
    if progress:
        progress("claims: Lexical Unit Decoding on a100-80gb / llama-2-7b")
    head = _lud_speedup()
    sens = (_rows("tokens per step", [(str(t), _lud_speedup(tokens_per_step=t)) for t in (1.3, 1.5)])
            + _rows("window", [(str(w), _lud_speedup(window=w)) for w in (2, 8)])
            + _rows("hardware", [("orin-nano, llama-3.2-1b", _lud_speedup(hw="orin-nano", model="llama-3.2-1b"))]))
    cond = f"{LUD_MODEL} FP16 on {LUD_HW}, batch 1, window 4, 1.4 tokens accepted per step (facts.md: ~1.3-1.5)"
    why = ("Each step verifies a window of 4 positions in one pass; on a memory-bound GPU that costs about one "
           "token's weight reads, so the speedup is the accepted tokens per step less the verification overhead. "
           "The accepted tokens per step is LUD's (a model property, not published per task): it is an input.")
    return [Claim(n, f, head, "x", "", conditions=cond, kind="ratio", sensitivity=tuple(sens), explanation=why,
                  assumptions="the base model and hardware of the paper were not found (seed-details.md); "
                              "tokens per step is the assumed 1.4 for both tasks")
            for n, f in (("lud_speedup_text", 1.33), ("lud_speedup_code", 1.30))]


# ----------------------------------------------------------------------------- Medusa

MEDUSA_NODES, MEDUSA_TOKENS = 64, 2.3  # facts.md: Medusa ~2.3 accepted tokens per step, 64-node tree


def _medusa_speedup(tokens: float = MEDUSA_TOKENS, nodes: int = MEDUSA_NODES, hw: str = "a100-80gb",
                    model: str = "llama-2-7b") -> float:
    """Medusa heads cost a few matrix-vector products (negligible): a verify pass over the
    tree's nodes accepting `tokens` per step, i.e. the lexical-unit step shape with no draft."""
    return _lud_speedup(tokens_per_step=tokens, window=nodes, hw=hw, model=model)


def _medusa(boundary: str, progress: Progress | None) -> list[Claim]:
    if progress:
        progress("claims: Medusa-1 on a100-80gb / llama-2-7b (Vicuna-7B's architecture)")
    head = _medusa_speedup()
    sens = (_rows("accepted tokens per step", [(str(t), _medusa_speedup(tokens=t)) for t in (2.0, 2.6)])
            + _rows("tree nodes verified", [(str(n), _medusa_speedup(nodes=n)) for n in (16, 128)])
            + _rows("hardware", [("orin-nano, llama-3.2-1b", _medusa_speedup(hw="orin-nano", model="llama-3.2-1b"))]))
    return [Claim("medusa1_speedup", 2.2, head, "x", "", kind="ratio", sensitivity=tuple(sens),
                  conditions=f"llama-2-7b FP16 on a100-80gb, batch 1, a {MEDUSA_NODES}-node tree, {MEDUSA_TOKENS} "
                             "tokens accepted per step (facts.md)",
                  assumptions="Medusa heads' own cost neglected (one hidden x vocab-free MLP per head); verification "
                              "as one pass over all tree nodes",
                  explanation="A 64-token verify pass on a memory-bound A100 costs little more than one token, so the "
                              "speedup is close to the accepted tokens per step; on a small model or a slower GPU "
                              "the 64 nodes become compute-bound and eat the gain (sensitivity rows).")]


# ----------------------------------------------------------------------------- MoESD

MOESD_HW, MOESD_MODEL, MOESD_DRAFT = "a100-80gb", "qwen3-30b-a3b", "qwen3-0.6b"


def _moesd_speedup(batch: int = 16, acceptance: float = 0.8, draft_len: int = 3) -> float:
    prec = Precision(weight_bits=16, weight_group_size=None)
    spec = hardware_with(MOESD_HW)
    base = {"prompt_tokens": 128, "gen_tokens": 128, "batch": batch, "precision": prec.model_dump()}
    ar = _run(spec, MOESD_MODEL, Scenario.model_validate(base))
    sd = _run(spec, MOESD_MODEL, Scenario.model_validate(
        {**base, "decoding": {"strategy": "speculative", "draft": MOESD_DRAFT, "draft_len": draft_len,
                              "acceptance": acceptance}}), draft=MOESD_DRAFT)
    return sd.decode_tokens_per_s / ar.decode_tokens_per_s


def _moesd(boundary: str, progress: Progress | None) -> list[Claim]:
    if progress:
        progress("claims: MoESD, speculative decoding of an MoE at medium batch")
    head = _moesd_speedup()
    sens = (_rows("acceptance", [(str(a), _moesd_speedup(acceptance=a)) for a in (0.6, 0.9)])
            + _rows("batch", [(str(b), _moesd_speedup(batch=b)) for b in (4, 32)])
            + _rows("draft length", [(str(g), _moesd_speedup(draft_len=g)) for g in (2, 5)]))
    return [Claim("moesd_speedup_medium_batch", 2.29, head, "x", "", kind="ratio", sensitivity=tuple(sens),
                  conditions=f"{MOESD_MODEL} (stands for Qwen2-57B-A14B, which has no preset) FP16 on {MOESD_HW}, "
                             f"batch 16, draft {MOESD_DRAFT}, 3 drafted tokens, acceptance 0.8",
                  assumptions="substitute model and draft; acceptance 0.8 (facts.md: typical 0.6-0.8); uniform routing",
                  explanation="At medium batch a sparse MoE's verify pass touches few more distinct experts per "
                              "drafted token than one token does, so speculation pays; the gain is set by acceptance "
                              "and by how many distinct experts the batch x (draft + 1) tokens read.")]


# ----------------------------------------------------------------------------- Dolphin

DOLPHIN_HW = "snapdragon-8-elite"
DOLPHIN_CONTEXT, DOLPHIN_MEMORY, DOLPHIN_QUERY, DOLPHIN_GEN = 4096, 64, 64, 128


def _dolphin_ratios(context: int = DOLPHIN_CONTEXT, memory_tokens: int = DOLPHIN_MEMORY,
                    gen: int = DOLPHIN_GEN, boundary: str = "board") -> tuple[float, float]:
    """(energy ratio, latency ratio) of full-context 7B over (0.5B reads the context, 7B reads
    `memory_tokens` embeddings + the query). Latency and energy of the whole request, the energy
    inside `boundary`."""
    spec = hardware_with(DOLPHIN_HW)
    prec = Precision(weight_bits=4)
    full = _run(spec, "qwen2.5-7b", Scenario(prompt_tokens=context + DOLPHIN_QUERY, gen_tokens=gen, precision=prec))
    small = _run(spec, "qwen2.5-0.5b", Scenario(prompt_tokens=context, gen_tokens=2, precision=prec))
    big = _run(spec, "qwen2.5-7b", Scenario(prompt_tokens=memory_tokens + DOLPHIN_QUERY, gen_tokens=gen,
                                            precision=prec))
    # the 0.5B encoder only prefills (its one decode step of gen_tokens=2 is dropped)
    e_d = small.phase_energy_within_j("prefill", boundary) + big.phase_energy_within_j("all", boundary)
    t_d = small.prefill_time_s + big.total_time_s
    return full.phase_energy_within_j("all", boundary) / e_d, full.total_time_s / t_d


def _dolphin(boundary: str, progress: Progress | None) -> list[Claim]:
    if progress:
        progress("claims: Dolphin, 0.5B context decoder + 7B decoder vs full context")
    e, t = _dolphin_ratios(boundary=boundary)
    se: list[dict[str, Any]] = []
    st: list[dict[str, Any]] = []
    for unknown, kw in (("context tokens", [("context", 1024), ("context", 16384)]),
                        ("memory tokens", [("memory_tokens", 16), ("memory_tokens", 256)]),
                        ("generated tokens", [("gen", 32), ("gen", 512)])):
        for k, v in kw:
            a, b = _dolphin_ratios(**{k: v}, boundary=boundary)
            se.append({"unknown": unknown, "value": str(v), "slmsim": a})
            st.append({"unknown": unknown, "value": str(v), "slmsim": b})
    cond = (f"qwen2.5-7b (the 7B decoder) and qwen2.5-0.5b (the context decoder), W4, on {DOLPHIN_HW}; context "
            f"{DOLPHIN_CONTEXT} tokens compressed to {DOLPHIN_MEMORY} embeddings, query {DOLPHIN_QUERY}, "
            f"generate {DOLPHIN_GEN}; whole request")
    why = ("The saving is the 7B prefill of the long context, replaced by a 0.5B prefill; the decode phase is the same "
           "in both arms. The ratio therefore grows with context length and falls with the tokens generated: the "
           "paper's 10x/5x fit long contexts with short answers (sensitivity rows); its lengths are not published.")
    assumptions = "Dolphin's context length, memory-embedding count, answer length and device are not in the abstract"
    return [Claim("dolphin_energy_efficiency", 10.0, e, "x", "", kind="ratio", boundary=boundary, conditions=cond,
                  assumptions=assumptions, sensitivity=tuple(se), explanation=why),
            Claim("dolphin_latency_reduction", 5.0, t, "x", "", kind="ratio", conditions=cond,
                  assumptions=assumptions, sensitivity=tuple(st), explanation=why)]


EVALUATORS: dict[str, Callable[[str, Progress | None], list[Claim]]] = {
    "edgecim": _edgecim, "elmoe3d": _elmoe3d, "encoder": _encoder, "lexical_unit": _lexical_unit,
    "medusa": _medusa, "moesd": _moesd, "dolphin": _dolphin,
}


def evaluate(boundary: str = "board", progress: Progress | None = None) -> list[Claim]:
    """Every registered claim with slmsim's figure and its computed verdict, in registry order."""
    specs = registry()
    computed: dict[str, Claim] = {}
    for name in dict.fromkeys(s.evaluator for s in specs if s.evaluator):
        for c in EVALUATORS[name](boundary, progress):
            computed[c.claim] = c
    out = []
    for s in specs:
        if s.evaluator is None:
            c = Claim(s.name, s.figure, None, s.unit, s.source, conditions=s.conditions, kind=s.kind,
                      missing=s.missing, paper_name=s.paper)
        else:
            if s.name not in computed:
                raise KeyError(f"evaluator {s.evaluator!r} did not compute claim {s.name!r}")
            got = computed[s.name]
            c = replace(got, paper=s.figure, unit=s.unit, source=s.source, kind=s.kind, paper_name=s.paper,
                        conditions=f"paper: {s.conditions}. slmsim: {got.conditions}" if got.conditions else
                        f"paper: {s.conditions}")
        out.append(c.with_verdict())
    return out
