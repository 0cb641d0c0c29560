"""`simulate --stack NAME --weight-format FMT`: plan through a software-stack preset (mapping.stack)."""

from __future__ import annotations

import argparse
from typing import Any

from slmsim.core.errors import Problem, SpecError


def add_stack_flags(s: argparse.ArgumentParser) -> None:
    st = s.add_argument_group("software stack (stacks/presets; `slmsim presets` lists them)")
    st.add_argument("--stack", help="software stack preset (mlc, llama.cpp / ollama, vllm, tensorrt-llm, "
                                    "tensorrt-edge-llm, genie, torchao / gpt-fast) or a stack YAML")
    st.add_argument("--weight-format", help="weight format the stack runs (e.g. q4_k_m, w4a16-g128); sets bytes per "
                                            "weight incl. block scales (default: the stack's first format)")


def plan(args: argparse.Namespace, hw: Any, model: Any, scenario: Any, draft: Any) -> tuple[Any, dict | None, Any]:
    """The plan (through the stack when --stack is given), what the stack resolved to, and the scenario as run
    (the stack's format sets the precision; its static window the KV length)."""
    from slmsim.mapping.plan import make_plan

    stack_ref = getattr(args, "stack", None)
    fmt = getattr(args, "weight_format", None)
    if stack_ref is None:
        if fmt is not None:
            raise SpecError([Problem(file="<command line>", path="--weight-format", value=fmt,
                                     message="a weight format belongs to a software stack",
                                     hint="add --stack NAME (`slmsim presets` lists stacks and their formats), "
                                          "or use --weight-bits / --group-size")])
        return make_plan(hw, model, scenario, draft_model=draft), None, scenario
    from slmsim.mapping.stack import kernel_time_s, make_stack_plan, stack_scenario, step_host_s
    from slmsim.stacks.load import format_library, load_stack

    stack = load_stack(stack_ref).spec
    fmt = fmt or next(iter(stack.formats))
    result, choice = make_stack_plan(hw, model, scenario, stack, fmt, format_library(), draft_model=draft)
    dev = hw.devices[choice.device]
    ran = stack_scenario(scenario, choice, model, hw)
    info = {"name": stack.name, "weight_format": choice.format_name, "device": choice.device,
            "cost_class": choice.cost_class, "bits_per_weight": choice.bits_per_weight,
            "expert_bits_per_weight": choice.expert_bits_per_weight,
            "tensor_bits_per_weight": {g: b for g, b in choice.tensor_bits if b is not None},
            "dequant_ops_per_weight": choice.dequant_ops_per_weight,
            "dequant_token_tile": choice.costs.dequant_token_tile,
            "kernel_time_s": kernel_time_s(choice, dev), "step_host_s": step_host_s(choice, dev),
            "static_context_window_tokens": stack.context_window(model.name),
            "prefill_logits": ran.prefill_logits,
            "kv_cache_bits": choice.kv_cache_bits,
            "serving_schedule": stack.serving_schedule, "warnings": list(choice.warnings)}
    return result, info, ran
