"""What `slmsim simulate` adds to a result, and its table (rendered by `tables.emit`).

`figures()` adds to the result dict what the hardware says about it: the version that made
it, silicon area, and every memory tier's used bytes against its capacity (serving runs get
the weights and the peak KV cache in their footprint). `blocks()` turns the dict into tables
whose labels say what each figure aggregates: per output token, per decode step, over the
whole run, mean over requests.
"""

from __future__ import annotations

from typing import Any

from slmsim.commands.tables import Block, Table, n, pct, q
from slmsim.workloads.scenario import Precision


def figures(out: dict[str, Any], *, hw: Any, plan: Any) -> dict[str, Any]:
    """Area and memory used vs capacity, from the hardware spec and the plan (no simulation)."""
    from slmsim.core.version import __version__
    from slmsim.dse.candidate import system_area_mm2

    area, unknown = system_area_mm2(hw)
    fp = dict(out["memory_footprint_bytes"])
    plan_fp = plan.memory_footprint_bytes
    serving = "serving" in out
    if serving:  # the serving engine reports KV figures only: weights and activations come from the plan
        fp = {"weights": plan_fp["weights"], "activations": plan_fp["activations"], **fp}
    tiers: dict[str, dict[str, Any]] = {}
    kv_tier = plan.mapper.kv_tier(plan.mapper.decode_device) if plan.mapper is not None else None
    for name, tier in hw.memories.items():
        used = plan_fp.get(f"tier.{name}")
        if used is None:
            continue
        if serving and name == kv_tier and "kv_cache_peak" in fp:
            used = used - plan_fp["kv_cache"] + fp["kv_cache_peak"]  # the plan's KV is one batch at full length
            fp[f"tier.{name}"] = used
        tiers[name] = {"kind": tier.kind, "used_bytes": used, "capacity_bytes": tier.capacity_bytes}
    window = getattr(plan.mapper.model, "sliding_window", None) if plan.mapper is not None else None
    extra = {"sliding_window": {"tokens": window.tokens, "layers": window.layers,
                                "of_layers": plan.mapper.model.num_layers,
                                "windowed_kv_cache": plan.mapper.scenario.windowed_kv_cache}} if window else {}
    return {"slmsim_version": __version__, "area_mm2": area, "area_unknown_devices": unknown,
            "memory_footprint_bytes": fp, "memory_tiers": tiers, **extra}


def _per(value: float | None, count: float | None) -> float | None:
    if value is None or not count:
        return None
    return value / count


BOUNDARY_MEANING = {"chip": "compute, on-chip memory, NoC, CIM macros, chip leakage",
                    "chip+memory": "+ DRAM / stacked-DRAM traffic and background",
                    "board": "+ board idle power and links: everything charged"}


def boundary_table(by: dict[str, dict[str, Any]], used: str) -> Table:
    """The chosen energy boundary's decode figures first, the other two beside it."""
    order = [used] + [b for b in by if b != used]
    t = Table(f"Energy by boundary (decode phase; headline boundary: {used})",
              ("boundary", "energy per token", "tokens/J", "what it counts"), align="lrrl",
              note="docs/architecture.md lists which energy components each boundary holds")
    for b in order:
        f = by[b]
        t.add(b + (" (used)" if b == used else ""), q(f.get("energy_per_decode_token_j"), "J"),
              n(f.get("decode_tokens_per_j")), BOUNDARY_MEANING.get(b, ""))
    return t


def _mixed_weights(prec: dict[str, Any]) -> str:
    """The weight groups stored at other bits than the rest (a W4A16 checkpoint's f16 LM head)."""
    try:
        p = Precision.model_validate(prec)
    except ValueError:  # a JSON of another version: say nothing rather than guess
        return ""
    base, own = p.weight_bits_in_memory, dict(p.own_group_bits())
    experts = p.expert_bits_per_weight
    if experts is not None and abs(experts - base) > 1e-9:  # routed experts stored otherwise (Q4_K_M's Q6_K down)
        own["experts"] = experts
    if not own:
        return ""
    return f" ({base:.3g} bits/weight; " + ", ".join(f"{g} {b:.3g}" for g, b in own.items()) + ")"


def blocks(d: dict[str, Any]) -> list[Block]:
    sc = d["scenario"]
    prec = sc["precision"]
    sv = d.get("serving")
    dec = sc.get("decoding", {}).get("strategy", "autoregressive")
    wb = f"W{prec['weight_bits']}" + _mixed_weights(prec)
    out: list[Block] = [f"slmsim {d.get('slmsim_version', '')}: {d['model']} on {d['hardware']} "
                        f"({d['engine']} engine)"]
    if sv:
        out.append(f"  serving {sv['requests']} requests, mean decode batch {n(sv['mean_decode_batch'])}; "
                   f"{wb} A{prec['activation_bits']} KV{prec['kv_bits']}, decoding {dec}")
    else:
        chunk = sc.get("prefill_chunk_tokens")
        out.append(f"  prompt {sc['prompt_tokens']} tokens, generate {sc['gen_tokens']}, batch {sc['batch']}; "
                   f"{wb} A{prec['activation_bits']} KV{prec['kv_bits']}, decoding {dec}"
                   + (f"; prefill in passes of {chunk} tokens" if chunk else ""))
    sw = d.get("sliding_window")
    if sw:
        out.append(f"  sliding window: {sw['layers']} of {sw['of_layers']} layers attend over the last {sw['tokens']:,} "
                   f"tokens; their KV cache " + ("holds the window only" if sw["windowed_kv_cache"]
                                                 else "holds the whole context (windowed_kv_cache: false)"))
    out.append("")
    generated = d.get("generated_tokens") or 0
    steps = (d["decode_time_s"] / d["tpot_s"]) if d.get("tpot_s") else None
    t = Table("Performance", ("figure", "value", "what it counts"), align="lrl")
    if sv:
        t.add("TTFT", q(d["ttft_s"], "s"), "time to first token, mean over requests (queueing included)")
        t.add("decode step", q(d["tpot_s"], "s"), "per decode step of the batch, mean over the run")
        t.add("decode throughput", f"{n(d['decode_tokens_per_s'])} tokens/s",
              f"all sequences, while decoding (mean batch {n(sv['mean_decode_batch'])})")
    else:
        t.add("TTFT", q(d["ttft_s"], "s"), "time to first token (prefill of the whole batch)")
        t.add("TPOT", q(d["tpot_s"], "s"), "time per output token, per sequence")
        t.add("decode throughput", f"{n(d['decode_tokens_per_s'])} tokens/s",
              f"all {sc['batch']} sequence(s) together" if sc["batch"] > 1 else "one sequence")
    t.add("total time", q(d["total_time_s"], "s"), "the whole run" if not sv else "makespan of the request stream")
    t.add("energy", q(d["energy_j"], "J"), f"the whole run, {generated} tokens generated")
    t.add("energy per token", q(_per(d["energy_j"], generated), "J"), "whole run / tokens generated")
    if d.get("idle_energy_j"):
        t.add("idle energy", q(d["idle_energy_j"], "J"),
              "always-on power while no request is in the system: in the whole run, in neither phase")
    dtpj = d.get("decode_tokens_per_j")
    t.add("decode energy per token", q(1.0 / dtpj if dtpj else None, "J"), "decode phase only, per output token")
    t.add("tokens/J", n(d["tokens_per_j"]), "tokens generated per joule of the whole run (every joule: board)")
    used = d.get("energy_boundary") if isinstance(d.get("energy_boundary"), str) else "board"
    within = (d.get("energy_by_boundary") or {}).get(used) or {}
    if used != "board" and within:  # --energy-boundary: the chosen boundary's figure beside the whole run's
        t.add(f"decode tokens/J within {used}", n(within.get("decode_tokens_per_j")),
              f"decode phase, counting {BOUNDARY_MEANING.get(used, used)} only")
    t.add("average power", q(d["average_power_w"], "W"), "energy / total time")
    out.append(t)
    if d.get("energy_by_boundary"):
        used = d.get("energy_boundary") if isinstance(d.get("energy_boundary"), str) else "board"
        out.append(boundary_table(d["energy_by_boundary"], used))

    if dec != "autoregressive" or (d.get("tokens_per_target_pass") or 1.0) != 1.0:
        t = Table("Decoding", ("figure", "value", "what it counts"), align="lrl")
        t.add("strategy", dec, "")
        t.add("tokens per target pass", n(d.get("tokens_per_target_pass")), "accepted tokens per verify pass")
        for key, label in (("draft_time_s", "draft time per token"), ("verify_time_s", "verify time per token")):
            if d.get(key):  # a strategy without a draft has no draft time
                t.add(label, q(_per(d[key], steps), "s"), "per output token, per sequence")
        if dec == "multipath" and d.get("total_tokens_spent") is not None:
            t.add("tokens computed", n(d["total_tokens_spent"]), f"over all paths, for {generated} kept")
        out.append(t)
    if d.get("distinct_experts_per_step") is not None:
        moe = (sc.get("moe") or {})
        t = Table("Mixture of experts", ("figure", "value", "what it counts"), align="lrl")
        t.add("routing", ((moe.get("routing") or {}).get("model")) or "uniform", "")
        t.add("distinct experts per step", n(d["distinct_experts_per_step"]), "per MoE layer, per target pass")
        hit = d.get("expert_cache_hit_rate")
        t.add("expert cache hit rate", "no cache" if hit is None else f"{100 * hit:.1f}%",
              "expert reads served by the cache tier")
        out.append(t)
    if sv:
        t = Table(f"Serving: {sv['completed']} of {sv['requests']} requests completed ({sv['rejected']} rejected)",
                  ("per request", "mean", "p50", "p90", "p99"),
                  note=f"makespan {q(sv['makespan_s'], 's')}, {n(sv['throughput_tokens_per_s'])} tokens/s over the "
                       f"makespan, mean decode batch {n(sv['mean_decode_batch'])}, KV budget "
                       f"{q(sv.get('kv_budget_bytes'), 'bytes')}"
                       + (f"; schedule mixed: {sv['step_tokens']} tokens per step, {sv['mixed_steps']} mixed steps"
                          if sv.get("schedule") == "mixed" else "")
                       + (f"; paged KV: {sv['preemptions']} preemptions, {sv['recomputed_tokens']} tokens prefilled "
                          "again" if sv.get("kv_policy") == "paged" else ""))
        for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT (per token)"), ("itl_s", "inter-token gap"),
                           ("e2e_s", "end to end")):
            if key in sv:
                t.add(label, *(q(sv[key][c], "s") for c in ("mean", "p50", "p90", "p99")))
        out.append(t)

    total = d["energy_j"] or 1.0
    t = Table("Energy by component (whole run)", ("component", "energy", "per token", "share"))
    for k, v in sorted(d["energy_breakdown_j"].items(), key=lambda kv: -kv[1]):
        t.add(k, q(v, "J"), q(_per(v, generated), "J"), pct(v, total))
    out.append(t)

    lat = d["latency_breakdown_s"].get("decode", {})
    mixed = (sv or {}).get("mixed_steps") or 0
    if mixed:  # the table is of the decode-only steps; the mixed ones also carry prefill chunks
        steps = (sv or {}).get("decode_only_steps") or 0
    if lat and steps:
        dtotal = sum(lat.values()) or 1.0
        label = "per decode step" if sv else "per output token"
        if mixed:
            tail = (f"; {mixed} mixed steps (decodes + prefill chunks) are apart, in latency_breakdown_s.mixed "
                    "(--json)")
        elif abs(dtotal - d["decode_time_s"]) <= 1e-9 * max(dtotal, 1e-30):
            tail = ""
        else:
            tail = " (ops of different units overlap, so this exceeds TPOT)"
        t = Table(f"Decode latency by op class ({label})", ("op class", "time", "share"),
                  note=f"{n(steps)} {'decode-only' if mixed else 'decode'} steps; the op classes add to "
                       f"{q(dtotal / steps, 's')} {label}" + tail)
        for k, v in sorted(lat.items(), key=lambda kv: -kv[1]):
            t.add(k, q(v / steps, "s"), pct(v, dtotal))
        out.append(t)

    tiers = d.get("memory_tiers") or {}
    fp = d["memory_footprint_bytes"]
    t = Table("Memory", ("tier", "kind", "used", "capacity", "used %"), align="llrrr",
              note="; ".join(f"{k.replace('_', ' ')} {q(v, 'bytes')}" for k, v in fp.items()
                             if not k.startswith("tier.")))
    for name, tr in tiers.items():
        t.add(name, tr["kind"], q(tr["used_bytes"], "bytes"), q(tr["capacity_bytes"], "bytes"),
              pct(tr["used_bytes"], tr["capacity_bytes"]))
    out.append(t)
    area = d.get("area_mm2")
    facts = [f"  area: {n(area)} mm² (devices and on-chip memory tiers)" if area is not None else
             f"  area: unknown (no area stated for: {', '.join(d.get('area_unknown_devices') or ['?'])})"]
    modes = ", ".join(f"{k}: {v}" for k, v in d.get("weight_mode", {}).items())
    facts.append(f"  weights: {modes}")
    for dev, p in d.get("pipeline", {}).items():
        facts.append(f"  pipeline on {dev}: {p['stages']} stages, bottleneck {q(p['bottleneck_s'], 's')} per stage, "
                     f"balance {p['balance']:.3f}")
    out += facts
    if "decode_ops" in d:
        out.append("")
        t = Table(f"Decode step mapping at {d['decode_ops']['context_tokens']:.0f} context tokens (all layers of each op)",
                  ("op", "unit", "layers", "time", "bytes", "energy", "detail"), align="llrrrrl")
        for op in d["decode_ops"]["ops"]:
            detail = ", ".join(f"{k} {n(v, 4)}" for k, v in op["detail"].items())
            t.add(op["name"], op["unit"], op["layers"], q(op["time_s"], "s"),
                  q(sum(op["bytes_by_tier"].values()), "bytes"), q(sum(op["energy_j"].values()), "J"), detail)
        out.append(t)
    if d.get("warnings"):
        out.append("")
        out += [f"  warning: {w}" for w in d["warnings"]]
    return out
