"""Suspicious but valid inputs: warnings, not silence (issue 15, item 4).

`input_warnings()` looks at what the user asked for before anything runs and returns one
sentence per suspicious choice: what is odd, the figures, and what to change. The simulation
still runs (the input is valid); `simulate` prints the sentences under the table and lists
them under `warnings` in `--json`, beside the mapping's own `Plan.warnings`.
"""

from __future__ import annotations

from typing import Any


_SERVING_FLAGS = (("--rate", "rate", None), ("--requests", "requests", 16), ("--batching", "batching", "continuous"),
                  ("--max-batch", "max_batch", 16), ("--kv-policy", "kv_policy", "wait"),
                  ("--channel-priority", "channel_priority", False), ("--requests-csv", "requests_csv", None),
                  ("--schedule", "schedule", None), ("--step-tokens", "step_tokens", None),
                  ("--concurrency", "concurrency", None))


def ignored_flag_warnings(args: Any) -> list[str]:
    """Flags given that the run does not use (serving flags without --arrivals, the DES's
    memory model with the analytic engine): said, not silently dropped."""
    out: list[str] = []
    if not getattr(args, "arrivals", None):
        given = [flag for flag, attr, default in _SERVING_FLAGS if getattr(args, attr, default) != default]
        if given:
            out.append(f"{', '.join(given)} only {'apply' if len(given) > 1 else 'applies'} with --arrivals (the "
                       "serving simulation): ignored here")
    elif getattr(args, "arrivals", None) == "closed" and getattr(args, "rate", None) is not None:
        out.append("--rate is ignored with --arrivals closed: a closed loop sends the next request when one ends "
                   "(--concurrency sets how many are in flight)")
    if getattr(args, "engine", "analytic") == "analytic" and not getattr(args, "arrivals", None) \
            and getattr(args, "memory_model", "banked") != "banked":
        out.append("--memory-model applies to the DES only (the analytic engine is the ideal memory model): ignored")
    if getattr(args, "stack", None):
        given = [flag for flag, attr in _STACK_SETS if getattr(args, attr, None) is not None]
        if given:
            out.append(f"{', '.join(given)} ignored with --stack: the stack's weight format sets the weight and "
                       "activation precision and its block scales (choose one with --weight-format; "
                       "`slmsim presets` lists them)")
    return out


# precision flags a stack's weight format overrides (mapping.stack.stack_scenario); --kv-bits is kept
# unless the format's compiled asset fixes the KV precision (stack_kv_warnings)
_STACK_SETS = (("--weight-bits", "weight_bits"), ("--act-bits", "act_bits"), ("--group-size", "group_size"))


def stack_kv_warnings(args: Any, stack_info: dict | None) -> list[str]:
    """--kv-bits against a format whose compiled asset fixes the KV precision (known once the stack
    is resolved: `_stack.plan`'s info)."""
    fixed = (stack_info or {}).get("kv_cache_bits")
    given = getattr(args, "kv_bits", None)
    if fixed is None or given is None or given == fixed:
        return []
    assert stack_info is not None
    return [f"--kv-bits {given} ignored: {stack_info['name']}'s {stack_info['weight_format']} asset stores the KV "
            f"cache in {fixed} bits (the stack's formats.{stack_info['weight_format']}.kv_cache_bits)"]


def input_warnings(*, model: Any, scenario: Any, draft: Any = None, serving: bool = False,
                   batch_flag: int | None = None, engine: str = "analytic") -> list[str]:
    """Warnings about a model x scenario: lengths past the model's context, settings that do nothing."""
    out: list[str] = []
    limit = model.max_position_embeddings
    longest = scenario.prompt_tokens + scenario.gen_tokens
    if limit is not None and longest > limit:
        out.append(f"prompt {scenario.prompt_tokens} + generate {scenario.gen_tokens} = {longest} tokens exceeds "
                   f"{model.name}'s max_position_embeddings ({limit:,}): the model was not trained for positions "
                   f"past {limit:,}; the figures extrapolate the cost only (shorten --prompt/--gen)")
    if limit is not None and scenario.static_kv_tokens is not None and scenario.static_kv_tokens > limit:
        out.append(f"static_kv_tokens {scenario.static_kv_tokens} exceeds {model.name}'s max_position_embeddings "
                   f"({limit:,})")
    if scenario.gen_tokens == 1:
        out.append("generate 1 token: prefill yields it, so there is no decode step (TPOT and decode rates are n/a)")
    if scenario.moe is not None and model.moe is None:
        out.append(f"the scenario sets MoE routing / an expert cache, but {model.name} is dense: they have no effect")
    if model.moe is not None and scenario.moe is not None and scenario.moe.expert_cache is not None:
        cache = scenario.moe.expert_cache
        if cache.experts_per_layer >= model.moe.num_experts:
            out.append(f"expert cache of {cache.experts_per_layer} experts per layer holds all "
                       f"{model.moe.num_experts} experts of {model.name}: every access hits once the cache is warm (the "
                       "analytic hit rate is 1; the DES starts cold, so each expert's first access per layer misses "
                       "and its measured rate is below 1 on short runs)")
    routing = getattr(scenario.moe, "routing", None)
    if (engine == "analytic" and not serving and model.moe is not None and scenario.moe is not None
            and scenario.moe.expert_cache is not None and getattr(routing, "model", None) == "temporal"
            and routing.reuse > 0):
        out.append(f"temporal routing (reuse {routing.reuse:g}) with an expert cache: the analytic engine draws each "
                   f"token's experts from the base routing ({routing.base.model}) independently, so its hit rate "
                   "misses the reuse that keeps the cache warm and is too low; the DES replays the reuse "
                   "(--engine des)")
    if draft is not None and draft.total_params() >= model.total_params():
        out.append(f"the draft model {draft.name} ({draft.total_params() / 1e9:.2f} B parameters) is not smaller "
                   f"than the target {model.name} ({model.total_params() / 1e9:.2f} B): speculation cannot pay off")
    # a family pads its embedding rows differently (Qwen2.5-0.5B 151,936, -7B 152,064, one tokenizer):
    # only a difference of more than 2% says the tokenizers differ
    if draft is not None and abs(draft.vocab_size - model.vocab_size) > 0.02 * model.vocab_size:
        out.append(f"the draft model {draft.name} has a vocabulary of {draft.vocab_size:,} tokens, the target "
                   f"{model.name} {model.vocab_size:,}: speculative decoding verifies the draft's tokens, so both "
                   "need one tokenizer; the acceptance rate given is used as if they shared it")
    dec = scenario.decoding
    if dec.strategy == "self_speculative" and model.moe is not None and dec.draft_top_k > model.moe.top_k:
        out.append(f"draft_top_k {dec.draft_top_k} is above {model.name}'s top_k {model.moe.top_k}: the draft uses "
                   f"{model.moe.top_k} experts per token (it reads at most what a full pass reads)")
    group = scenario.precision.weight_group_size
    if group is not None and scenario.precision.weight_bits < 16 and group > model.hidden_size:
        out.append(f"weight_group_size {group} is wider than hidden_size {model.hidden_size}: a group cannot span "
                   "rows; use 0 (per-channel) or a divisor of the hidden size")
    if serving and batch_flag is not None and batch_flag > 1:
        out.append(f"--batch {batch_flag} is ignored with --arrivals: the serving scheduler batches up to --max-batch")
    return out


def power_cap_warnings(hw: Any, out: dict[str, Any]) -> list[str]:
    """The run's power against the devices' stated caps (`max_power`, a TDP or a power mode):
    slmsim does not throttle, so a run above the cap is faster than the device allows. Checked
    for the whole run and for each phase (prefill, decode: energy / time), so a phase above the
    cap is not averaged away by a cooler one. Only when every device states a cap (the caps are
    then summed: memories draw within them, as a Jetson power mode caps the module)."""
    caps = {name: getattr(dev, "max_power_w", None) for name, dev in hw.devices.items()}
    if not caps or any(c is None for c in caps.values()):
        return []
    total = sum(caps.values())
    draws: list[tuple[str, float]] = []
    if out.get("average_power_w") is not None:
        draws.append(("average power", out["average_power_w"]))
    for phase in ("prefill", "decode"):
        e, t = out.get(f"{phase}_energy_j"), out.get(f"{phase}_time_s")
        if e is not None and t and t > 0:
            draws.append((f"{phase} power", e / t))
    over = [(what, w) for what, w in draws if w > total * (1 + 1e-9)]
    if not over:
        return []
    names = " + ".join(f"{n} {c:g} W" for n, c in caps.items())
    said = ", ".join(f"{what} {w:.3g} W" for what, w in over)
    return [f"{said} exceeds max_power ({names}): the device would throttle to stay "
            "under its cap, which slmsim does not model, so the times are optimistic (raise max_power to the power "
            "mode measured, or read the figures as uncapped)"]


def overload_warnings(out: dict[str, Any]) -> list[str]:
    """An open request stream the devices could not keep up with (`serving.offered_load` > 1:
    the arrival rate asks more of the busiest device than its work per request allows, even
    with the largest batch that fits sharing every step). The DES simulates the transient
    exactly, but the queue grows through the run, so waiting times, TTFT and end-to-end latency
    grow with the number of requests and describe no steady state (mean TTFT
    14.0 s at 500 requests and 57.0 s at 2,000 at load 1.51, docs/engines.md)."""
    load = (out.get("serving") or {}).get("offered_load")
    if load is None or load <= 1.0:
        return []
    s = out["serving"]
    return [f"offered load {load:.2f} > 1: the {s['requests']} requests arrived {load:.2f}x faster than the busiest "
            "device can serve them even with the largest batch that fits, so the queue grew through the run; TTFT, "
            "waiting and end-to-end latency grow with --requests and have no steady state (lower --rate, raise "
            "--max-batch, or read them as this many requests' transient); throughput is the capacity, not the offered rate"]
