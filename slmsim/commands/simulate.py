"""`slmsim simulate`: one model on one hardware spec."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pydantic

from slmsim.commands._common import EXIT_BAD_INPUT, EXIT_OK, fmt_bytes
from slmsim.commands.flags import (
    EXIT_INTERNAL,
    des_work_problems,
    flag_problems,
    refuse_impossible,
    scenario_shape_problems,
)
from slmsim.commands._stack import add_stack_flags
from slmsim.commands._stack import plan as stack_plan
from slmsim.core.errors import Infeasible, Problem, SpecError, unheld


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("simulate", help="simulate one model on one hardware spec")
    s.add_argument("--hw", required=True, help="hardware preset name or YAML path")
    s.add_argument("--model", required=True, help="model preset name, model YAML, or Hugging Face config.json")
    s.add_argument("--scenario", type=Path, metavar="PATH",
                   help="a scenario YAML (lengths, batch, precision, decoding, moe); flags given override it")
    s.add_argument("--prompt", type=int, help="prompt tokens per request (default 128)")
    s.add_argument("--gen", type=int, help="generated tokens per request (default 128)")
    s.add_argument("--batch", type=int, help="requests decoded together (default 1)")
    s.add_argument("--prefill-chunk", type=int, metavar="TOKENS",
                   help="tokens one prefill pass holds: prefill runs in passes of it (llama.cpp n_ubatch 512; "
                        "default: the stack's, else the batch's whole prompt in one pass)")
    s.add_argument("--weight-bits", type=int, help="bits per weight (default 4)")
    s.add_argument("--kv-bits", type=int, help="bits per KV-cache element (default 16)")
    s.add_argument("--act-bits", type=int, help="bits per activation (default 16)")
    s.add_argument("--group-size", type=int, help="weights sharing one fp16 scale (default 32; 0 = per-channel)")
    d = s.add_argument_group("decoding strategy (docs/decoding.md)")
    d.add_argument("--decoding", choices=["autoregressive", "speculative", "self_speculative", "lexical_unit",
                                          "multipath"])
    d.add_argument("--draft", help="speculative: draft model (preset or file)")
    d.add_argument("--draft-device", help="speculative: device running the draft (default: the decode device)")
    d.add_argument("--draft-len", type=int, help="tokens drafted per target pass (default 4)")
    d.add_argument("--acceptance", type=float, help="per-token acceptance rate (default 0.7; self-speculative 0.8; "
                   "lexical-unit: instead of --tokens-per-step)")
    d.add_argument("--tree", help="speculative: token-tree branching per depth, e.g. 4,2,1")
    d.add_argument("--draft-top-k", type=int, help="self-speculative: experts per token in the draft (default 2)")
    d.add_argument("--draft-bits", type=int, help="self-speculative: MSB bits the draft reads, below --weight-bits (default: half the weight bits)")
    d.add_argument("--batch-threshold", type=int, help="self-speculative: no speculation above this batch (8)")
    d.add_argument("--msb-tier", help="self-speculative: memory tier of the MSB slices")
    d.add_argument("--lsb-tier", help="self-speculative: memory tier of the LSB slices")
    d.add_argument("--window", type=int, help="lexical-unit: tokens verified per step (default 4)")
    d.add_argument("--tokens-per-step", type=float, help="lexical-unit: mean tokens accepted per step (1.4)")
    d.add_argument("--initial-width", type=int, help="multipath: paths forked from the prompt (default 4)")
    d.add_argument("--max-width", type=int, help="multipath: most live paths (default 8)")
    mo = s.add_argument_group("mixture of experts")
    mo.add_argument("--routing", choices=["uniform", "zipf", "temporal"], help="routing model (default uniform)")
    mo.add_argument("--zipf-s", type=float, help="zipf skew (default 1.0)")
    mo.add_argument("--reuse", type=float, help="temporal: probability a token reuses its previous experts")
    mo.add_argument("--expert-cache", type=int, metavar="N", help="experts per layer cached in --cache-tier")
    mo.add_argument("--cache-tier", help="memory tier of the expert cache")
    mo.add_argument("--cache-policy", choices=["lru", "lfu"], help="expert cache policy (default lru)")
    add_stack_flags(s)
    s.add_argument("--engine", choices=["analytic", "des"], default="analytic")
    s.add_argument("--memory-model", choices=["banked", "ideal"], default="banked",
                   help="DES memory: banked (channels, banks, rows, refresh; default) or ideal (the analytic engine's)")
    s.add_argument("--seed", type=int, help="seeds the run's random numbers (default 0)")
    s.add_argument("--samples", type=int, metavar="N",
                   help="DES: N runs with seeds derived from --seed; stochastic figures get 95%% intervals")
    s.add_argument("--energy-boundary", choices=["chip", "chip+memory", "board"], default="board",
                   help="the headline energy boundary for the decode energy per token and tokens/J: chip (compute, "
                        "on-chip memory, NoC, CIM, chip leakage), chip+memory (+ DRAM traffic and background), board "
                        "(+ board idle, links; everything charged; the default). The table adds a 'decode tokens/J "
                        "within B' row and marks B '(used)' under Energy by boundary; --json gives "
                        "decode_tokens_per_j_within_boundary and energy_per_decode_token_within_boundary_j. "
                        "energy_j, tokens_per_j and average power are always the whole run, every joule "
                        "(docs/architecture.md)")
    s.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    s.add_argument("--trace", metavar="PATH", type=Path,
                   help="write a Chrome/Perfetto trace of the DES (prefill + first decode steps) to PATH")
    s.add_argument("--trace-steps", type=int, default=8, help="decode steps in the trace (default 8)")
    s.add_argument("--report", metavar="PATH", type=Path, help="write a self-contained HTML design report to PATH")
    g = s.add_argument_group("serving (discrete-event engine)")
    g.add_argument("--arrivals", choices=["fixed", "poisson", "trace", "closed"],
                   help="serve a request stream: fixed (all at t=0), poisson (--rate), trace (--requests-csv), or "
                        "closed (a client keeping --concurrency requests out, as vllm bench serve --max-concurrency)")
    g.add_argument("--concurrency", type=int, metavar="N",
                   help="--arrivals closed: requests out at once (the next is sent when one ends)")
    g.add_argument("--rate", type=float, help="Poisson arrival rate, requests per second")
    g.add_argument("--requests", type=int, default=16, help="number of requests (fixed, poisson; default 16)")
    g.add_argument("--requests-csv", type=Path, help="CSV with columns arrival_s,prompt_tokens,gen_tokens")
    g.add_argument("--batching", choices=["continuous", "static"], default="continuous")
    g.add_argument("--max-batch", type=int, default=16, help="most requests decoded together (default 16)")
    g.add_argument("--kv-policy", choices=["wait", "reject", "paged"], default="wait",
                   help="wait / reject: reserve each request's whole KV (prompt + generated) at admission, and "
                        "queue (wait) or drop (reject) what does not fit; paged: vLLM's blocks of 16 tokens as "
                        "sequences grow, the newest preempted and prefilled again when blocks run out")
    g.add_argument("--schedule", choices=["prefill-first", "mixed"],
                   help="one device, continuous batching: prefill-first (a new prompt's whole prefill runs "
                        "between decode steps; the default) or mixed (every step carries the running decodes and "
                        "prefill chunks up to --step-tokens, vLLM V1's scheduler; the default with --stack vllm)")
    g.add_argument("--step-tokens", type=int, metavar="N",
                   help="mixed schedule: tokens one step carries, decodes first (vLLM's max_num_batched_tokens; "
                        "default the prefill chunk of the scenario or stack)")
    g.add_argument("--channel-priority", action="store_true",
                   help="decode transfers pre-empt others on shared memory channels (default: fair sharing)")
    s.add_argument("--ops", action="store_true",
                   help="also report the mapping of every decode op (unit, bytes per tier, time, energy, tiles)")
    s.set_defaults(func=_cmd_simulate)


# dotted scenario path <- flag (None values are not set)
_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("prompt_tokens", "prompt", "--prompt"), ("gen_tokens", "gen", "--gen"), ("batch", "batch", "--batch"),
    ("prefill_chunk_tokens", "prefill_chunk", "--prefill-chunk"), ("seed", "seed", "--seed"),
    ("precision.weight_bits", "weight_bits", "--weight-bits"), ("precision.kv_bits", "kv_bits", "--kv-bits"),
    ("precision.activation_bits", "act_bits", "--act-bits"),
    ("precision.weight_group_size", "group_size", "--group-size"),
    ("decoding.strategy", "decoding", "--decoding"), ("decoding.draft", "draft", "--draft"),
    ("decoding.draft_device", "draft_device", "--draft-device"), ("decoding.draft_len", "draft_len", "--draft-len"),
    ("decoding.acceptance", "acceptance", "--acceptance"), ("decoding.tree", "tree", "--tree"),
    ("decoding.draft_top_k", "draft_top_k", "--draft-top-k"),
    ("decoding.draft_weight_bits", "draft_bits", "--draft-bits"),
    ("decoding.batch_threshold", "batch_threshold", "--batch-threshold"),
    ("decoding.msb_tier", "msb_tier", "--msb-tier"), ("decoding.lsb_tier", "lsb_tier", "--lsb-tier"),
    ("decoding.window", "window", "--window"), ("decoding.tokens_per_step", "tokens_per_step", "--tokens-per-step"),
    ("decoding.initial_width", "initial_width", "--initial-width"), ("decoding.max_width", "max_width", "--max-width"),
    ("moe.routing.model", "routing", "--routing"), ("moe.routing.s", "zipf_s", "--zipf-s"),
    ("moe.routing.reuse", "reuse", "--reuse"),
    ("moe.expert_cache.experts_per_layer", "expert_cache", "--expert-cache"),
    ("moe.expert_cache.tier", "cache_tier", "--cache-tier"),
    ("moe.expert_cache.policy", "cache_policy", "--cache-policy"),
)


def _scenario(args: argparse.Namespace) -> Any:
    """Defaults < the --scenario file < flags given on the command line."""
    from slmsim.core.yamlio import lift_provenance, problems_from, read_yaml, set_path, type_problems
    from slmsim.workloads.scenario import Scenario

    data: dict[str, Any] = {}
    file = "<command line>"
    if args.scenario is not None:
        from slmsim.resources import example_path

        args.scenario = example_path(str(args.scenario)) or args.scenario  # or a bundled one: decoding/spec-orin
        file = str(args.scenario)
        loaded = read_yaml(args.scenario) or {}
        if not isinstance(loaded, dict):
            raise SpecError(scenario_shape_problems(loaded, file))
        data, _ = lift_provenance(loaded, origin=file)
        shape = scenario_shape_problems(data, file)
        if shape:
            raise SpecError(shape)
        if data.get("moe", {}) is None:
            del data["moe"]  # `moe: null` is "no MoE section"
    flagged: dict[str, str] = {}
    if args.decoding is not None and (data.get("decoding") or {}).get("strategy") != args.decoding:
        data["decoding"] = {}  # another strategy: its parameters start from the defaults
    if args.routing is not None and ((data.get("moe") or {}).get("routing") or {}).get("model") != args.routing:
        data.setdefault("moe", {})["routing"] = {}
    for dotted, attr, flag in _FLAGS:
        value = getattr(args, attr)
        if value is None:
            continue
        if attr == "group_size":
            if value < 0:  # 0 is a word here (per-channel), so the scenario's "> 0" would mislead
                raise SpecError([Problem(file="<command line>", path="--group-size", message="a negative group size",
                                         value=value, expected="a whole number >= 0 (0 = per-channel scales)",
                                         hint="--group-size 32 (one fp16 scale per 32 weights) or 0")])
            value = value or None
        if attr == "tree":
            try:
                value = [int(x) for x in str(value).split(",")]
            except ValueError:
                raise SpecError([Problem(file="<command line>", path="--tree", message="not a list of integers",
                                         value=value, expected="branching per depth, e.g. 4,2,1")]) from None
        set_path(data, dotted, value)
        flagged[dotted] = flag
    if "decoding" in data and "strategy" not in data["decoding"]:
        data["decoding"]["strategy"] = "autoregressive" if not flagged else _infer_strategy(data["decoding"])
    if "moe" in data and "routing" in data["moe"] and "model" not in data["moe"]["routing"]:
        data["moe"]["routing"]["model"] = "zipf" if "s" in data["moe"]["routing"] else "temporal"
    strict = type_problems(Scenario, data, file=file)  # true/false for a number
    try:
        scenario = Scenario.model_validate(data)
        if strict:
            raise SpecError(strict)
        return scenario
    except pydantic.ValidationError as exc:
        problems = problems_from(exc, model=Scenario, data=data, file=file) + strict
        out = []
        for pr in problems:
            flag = flagged.get(pr.path) or next((f for d, f in flagged.items() if pr.path.startswith(d + ".")), None)
            if flag is None and pr.path.startswith("decoding") and "decoding.strategy" in flagged:
                flag = flagged["decoding.strategy"]
            if flag is not None or file == "<command line>":
                out.append(Problem(file="<command line>", path=flag or pr.path, message=pr.message, value=pr.value,
                                   expected=pr.expected,
                                   hint=pr.hint or f"see `slmsim simulate --help` for {flag or pr.path}"))
            else:
                out.append(pr)
        raise SpecError(out) from None


def _infer_strategy(dec: dict[str, Any]) -> str:
    """A strategy parameter given without --decoding names its strategy."""
    if "draft" in dec or "tree" in dec:
        return "speculative"
    if {"draft_top_k", "draft_weight_bits", "batch_threshold", "msb_tier", "lsb_tier"} & set(dec):
        return "self_speculative"
    if {"window", "tokens_per_step"} & set(dec):
        return "lexical_unit"
    if {"initial_width", "max_width"} & set(dec):
        return "multipath"
    return "speculative"


def _cmd_simulate(args: argparse.Namespace) -> int:
    from slmsim.hw_models.load import load_hardware
    from slmsim.simulator.engines import run
    from slmsim.workloads.load import load_model

    problems: list[Problem] = flag_problems(args)
    from slmsim.commands._common import output_problems

    def our_report(path: Path) -> "bool | Problem":
        from slmsim.reports.html import replace_problem  # plotly: imported only when a report exists

        return replace_problem(path, "--report") or True  # said before the run, not only when the report is written

    def our_trace(path: Path) -> "bool | Problem":
        from slmsim.core.outputs import edited_problem
        from slmsim.simulator.trace import edited, written_by_slmsim

        if not written_by_slmsim(path):
            return False
        return edited_problem(path, "--trace", "trace") if edited(path) else True

    problems += output_problems([("--trace", args.trace, our_trace), ("--report", args.report, our_report)],
                                [args.hw, args.model, args.scenario, args.requests_csv, getattr(args, "draft", None)])
    bad_flags = {p.path for p in problems}
    unheld_count = 0  # problems counted by a loader's error but beyond its bounded list
    hw = model = scenario = None
    for what, loader in (("hw", lambda: load_hardware(args.hw)), ("model", lambda: load_model(args.model)),
                         ("scenario", lambda: _scenario(args))):
        try:
            value = loader()
        except SpecError as exc:
            problems.extend(p for p in exc.problems if p.path not in bad_flags)
            unheld_count += unheld(exc)
            continue
        if what == "hw":
            hw = value
        elif what == "model":
            model = value
        else:
            scenario = value
    draft = None
    if scenario is not None and scenario.decoding.strategy == "speculative":
        try:
            draft = load_model(scenario.decoding.draft)
        except SpecError as exc:
            problems.extend(Problem(file=p.file, path=p.path or "decoding.draft", message=p.message, value=p.value,
                                    expected=p.expected, hint=p.hint) for p in exc.problems)
            unheld_count += unheld(exc)
    if hw is not None and scenario is not None:
        problems.extend(_scenario_reference_problems(hw.spec, scenario, args))
    from slmsim.commands.samples import samples_problems

    problems.extend(samples_problems(args))
    if problems:
        raise SpecError(problems, total=len(problems) + unheld_count)
    assert hw is not None and model is not None and scenario is not None
    from slmsim.commands.warnings import (ignored_flag_warnings, input_warnings, overload_warnings, power_cap_warnings,
                                          stack_kv_warnings)

    warns = input_warnings(model=model, scenario=scenario, draft=draft, serving=bool(args.arrivals),
                           batch_flag=args.batch, engine=args.engine) + ignored_flag_warnings(args)
    plan, stack_info, scenario = stack_plan(args, hw.spec, model, scenario, draft)  # --stack: via the stack preset
    warns += (stack_info or {}).pop("warnings", []) + stack_kv_warnings(args, stack_info)  # the choice's own first
    schedule_from_stack = getattr(args, "schedule", None) is None and bool(stack_info)
    if getattr(args, "schedule", None) is None:  # not given: the stack's server schedule, else prefill-first
        args.schedule = (stack_info or {}).get("serving_schedule") or "prefill-first"
    unmodelled = (_mixed_problems(args, plan)[0] if args.arrivals and args.schedule == "mixed" and schedule_from_stack
                  and not isinstance(plan, Infeasible) else [])
    if unmodelled:
        # the stack's mixed steps are not modelled for this run: prefill-first, said (a flag would be refused)
        why = unmodelled[0].message
        args.schedule = "prefill-first"
        warns.append(f"{stack_info['name']} serves in mixed steps, which are not modelled here ({why}): the stream "
                     "is simulated prefill-first (--schedule prefill-first)")
    if isinstance(plan, Infeasible):
        _print_infeasible(plan, as_json=args.json, warnings=warns)
        return EXIT_BAD_INPUT
    if not args.arrivals and (args.engine == "des" or args.trace or args.report):
        passes = plan.mapper.prefill_pass_count(scenario.prompt_tokens, scenario.batch)
        des_problems = des_work_problems(scenario.gen_tokens, what="--gen", prefill_passes=passes,
                                         runs=1 + (args.samples or 0))
        if des_problems:
            raise SpecError(des_problems)
    from slmsim.commands.tables import progress

    with progress(f"simulating {model.name} on {hw.spec.name}", None):
        if args.arrivals:
            result = _serve(args, plan, scenario)
        else:
            result = run(plan, engine=args.engine, seed=scenario.seed, memory_model=args.memory_model)
    trace = None
    if args.trace or args.report:
        # the trace always comes from the DES (it is the engine that has events)
        if args.arrivals:
            trace = _serve(args, plan, scenario, trace_steps=max(args.trace_steps, 1)).extra["trace"]
        else:
            traced = run(plan, engine="des", seed=scenario.seed, trace_steps=max(args.trace_steps, 1),
                         memory_model=args.memory_model)
            trace = traced.extra["trace"]
    out = result.to_dict()
    out = {"hardware": hw.spec.name, "model": model.name,
           "scenario": scenario.model_dump(mode="json"), **out,
           "warnings": list(plan.warnings)}
    from slmsim.commands.simtable import figures

    out.update(figures(out, hw=hw.spec, plan=plan))
    out["energy_boundary"] = args.energy_boundary  # the headline boundary; all three in energy_by_boundary
    chosen = out["energy_by_boundary"][args.energy_boundary]
    out["energy_per_decode_token_within_boundary_j"] = chosen["energy_per_decode_token_j"]
    out["decode_tokens_per_j_within_boundary"] = chosen["decode_tokens_per_j"]
    out["warnings"] += warns + power_cap_warnings(hw.spec, out) + overload_warnings(out)
    if args.samples is not None:
        from slmsim.commands.samples import sampled_output

        def run_one(seed: int) -> dict:
            sc = scenario.model_copy(update={"seed": seed})
            return (_serve(args, plan, sc) if args.arrivals else run(plan, engine="des", seed=seed)).to_dict()

        out = sampled_output(out, run_one, seed=scenario.seed, n=args.samples)
    if stack_info is not None:
        out["stack"] = stack_info
    if args.ops:
        from dataclasses import asdict

        from slmsim.mapping.report import op_reports

        mid_ctx = scenario.batch * plan.mapper.context_tokens(scenario.prompt_tokens, scenario.gen_tokens / 2.0)
        out["decode_ops"] = {"context_tokens": mid_ctx,
                             "ops": [asdict(r) for r in op_reports(plan.decode, mid_ctx)]}
    if args.trace:
        from slmsim.simulator.trace import trace_text

        _write_new(args.trace, trace_text(trace or []))
    if args.report:
        from slmsim.reports.design import write_design_report

        write_design_report(result=out, plan=plan, trace=trace or [], out_path=args.report,
                            title=f"{model.name} on {hw.spec.name}", hardware=hw.spec)
    if refuse_impossible(out):
        return EXIT_INTERNAL
    if args.json:
        print(json.dumps(out, indent=2, default=_json_default, allow_nan=False))
    elif args.samples is not None:
        from slmsim.commands.samples import table_view

        from slmsim.commands.simtable import blocks
        from slmsim.commands.tables import emit

        view, lines = table_view(out)
        emit(blocks(view) + lines)
    else:
        from slmsim.commands.simtable import blocks
        from slmsim.commands.tables import emit

        emit(blocks(out) + [f"  {label} written to {path}" for label, path in
                            (("trace", args.trace), ("report", args.report)) if path])
    return EXIT_OK


def _serve(args: argparse.Namespace, plan: Any, scenario: Any, *, trace_steps: int = 0) -> Any:
    from slmsim.simulator.memory_system import MemoryModel
    from slmsim.simulator.serving import Batching, KvPolicy, Schedule, ServingPolicy, run_serving
    from slmsim.workloads.requests import arrival_rng, fixed_requests, poisson_requests, requests_from_csv

    problems = []
    if args.engine == "analytic" and "--engine" in sys.argv:
        problems.append(Problem(file="<command line>", path="--engine", message="request streams need the DES",
                                value="analytic", expected="--engine des (the default with --arrivals)",
                                hint="drop --engine analytic"))
    if args.arrivals == "poisson" and not (args.rate and args.rate > 0):
        problems.append(Problem(file="<command line>", path="--rate", message="Poisson arrivals need a rate > 0",
                                value=args.rate, expected="requests per second, e.g. --rate 2",
                                hint="add --rate R (mean requests per second), or --arrivals closed --concurrency N "
                                     "to keep N requests in flight"))
    if args.arrivals == "trace" and args.requests_csv is None:
        problems.append(Problem(file="<command line>", path="--requests-csv", message="--arrivals trace needs a CSV",
                                expected="a path", hint="columns arrival_s,prompt_tokens,gen_tokens"))
    for flag, value in (("--requests", args.requests), ("--max-batch", args.max_batch)):
        if value < 1:
            problems.append(Problem(file="<command line>", path=flag, message="must be at least 1", value=value,
                                    expected="a whole number >= 1"))
    step_tokens = None
    if args.schedule == "mixed":
        mixed_problems, step_tokens = _mixed_problems(args, plan)
        problems += mixed_problems
    elif args.step_tokens is not None:
        problems.append(Problem(file="<command line>", path="--step-tokens", message="applies to --schedule mixed only",
                                value=args.step_tokens, expected="--schedule mixed, or no --step-tokens",
                                hint="add --schedule mixed"))
    if args.kv_policy == "paged":
        problems += _paged_problems(args, plan)
    if problems:
        raise SpecError(problems)
    if args.arrivals == "closed" and args.concurrency is None:
        problems.append(Problem(file="<command line>", path="--concurrency", message="a closed-loop client needs a "
                                "concurrency", expected="a whole number >= 1", hint="e.g. --concurrency 8"))
    if args.concurrency is not None and args.arrivals != "closed":
        problems.append(Problem(file="<command line>", path="--concurrency", message="applies to --arrivals closed "
                                "only", value=args.concurrency, expected="--arrivals closed, or no --concurrency",
                                hint="add --arrivals closed"))
    if problems:
        raise SpecError(problems)
    if args.arrivals in ("fixed", "closed"):
        reqs = fixed_requests(args.requests, prompt_tokens=scenario.prompt_tokens, gen_tokens=scenario.gen_tokens)
    elif args.arrivals == "poisson":
        reqs = poisson_requests(args.requests, rate_per_s=args.rate, prompt_tokens=scenario.prompt_tokens,
                                gen_tokens=scenario.gen_tokens, rng=arrival_rng(scenario.seed))
    else:
        reqs = requests_from_csv(args.requests_csv)
    # at most every request prefilled alone: its passes at batch 1
    passes = sum(plan.mapper.prefill_pass_count(r.prompt_tokens, 1) for r in reqs)
    des_problems = des_work_problems(sum(r.gen_tokens for r in reqs), what="the request stream",
                                     prefill_passes=passes, runs=1 + (getattr(args, "samples", None) or 0))
    if des_problems:
        raise SpecError(des_problems)
    policy = ServingPolicy(batching=Batching(args.batching), max_batch=args.max_batch,
                           kv_policy=KvPolicy(args.kv_policy), channel_priority=args.channel_priority,
                           memory_model=MemoryModel(args.memory_model), schedule=Schedule(args.schedule),
                           step_tokens=step_tokens, concurrency=args.concurrency if args.arrivals == "closed" else None)
    return run_serving(plan.mapper, reqs, policy, trace_steps=trace_steps, seed=scenario.seed)


def _flag_problem(path: str, message: str, value: Any, expected: str, hint: str) -> Problem:
    return Problem(file="<command line>", path=path, message=message, value=value, expected=expected, hint=hint)


def _paged_problems(args: argparse.Namespace, plan: Any) -> list[Problem]:
    """What `--kv-policy paged` needs (simulator.serving.KvPolicy.PAGED)."""
    m = plan.mapper
    sc = m.scenario
    out = []
    problem = _flag_problem

    if args.batching != "continuous":
        out.append(problem("--batching", "paged KV preempts and resumes sequences inside a running batch, which "
                           "static batching does not do", args.batching, "continuous", "drop --batching static"))
    if m.prefill_device != m.decode_device:
        out.append(problem("--kv-policy", f"{m.hw.name} prefills and decodes on different devices; paged KV is "
                           "modelled for one device", "paged", "one device for both phases", "use --kv-policy wait"))
    if sc.decoding.strategy != "autoregressive":
        out.append(problem("--decoding", "paged KV is modelled for autoregressive decoding only (one K/V slot per "
                           "sequence and step)", sc.decoding.strategy, "autoregressive", "use --kv-policy wait"))
    if m.model.encoder_decoder is not None:
        out.append(problem("--model", f"{m.model.name} is an encoder-decoder (its cross K/V is fixed at prefill)",
                           m.model.name, "a decoder-only model", "use --kv-policy wait"))
    if sc.static_kv_tokens is not None:
        out.append(problem("--kv-policy", f"this run compiles a static {sc.static_kv_tokens}-token KV window: "
                           "nothing grows to page", "paged", "a runtime without a static window",
                           "use --kv-policy wait"))
    return out


def _mixed_problems(args: argparse.Namespace, plan: Any) -> tuple[list[Problem], int | None]:
    """What `--schedule mixed` needs (simulator.serving.Schedule), and the step's token budget."""
    m = plan.mapper
    sc = m.scenario
    problem = _flag_problem
    out = []
    if args.batching != "continuous":
        out.append(problem("--batching", "--schedule mixed batches continuously", args.batching, "continuous",
                           "drop --batching static, or use --schedule prefill-first"))
    if m.prefill_device != m.decode_device:
        out.append(problem("--schedule", f"{m.hw.name} prefills on {m.prefill_device} and decodes on "
                           f"{m.decode_device}: there is no step to mix", "mixed", "one device for both phases",
                           "drop --schedule mixed (split devices already overlap the phases)"))
    if sc.decoding.strategy != "autoregressive":
        out.append(problem("--decoding", "mixed steps are modelled for autoregressive decoding only",
                           sc.decoding.strategy, "autoregressive", "use --schedule prefill-first with this strategy"))
    if m.model.encoder_decoder is not None:
        out.append(problem("--model", f"{m.model.name} is an encoder-decoder: its prompt goes to the encoder in one "
                           "pass, not in chunks", m.model.name, "a decoder-only model", "use --schedule prefill-first"))
    if sc.moe is not None and sc.moe.expert_cache is not None and m.model.moe is not None:
        out.append(problem("--expert-cache", "mixed steps are mapped at the expected experts of their tokens, which "
                           "would leave the simulated expert cache behind", sc.moe.expert_cache.experts_per_layer,
                           "no expert cache", "drop the expert cache, or use --schedule prefill-first"))
    if sc.decoding.strategy == "autoregressive" and m.stage_pipeline() is not None:
        out.append(problem("--schedule", f"{m.hw.name} runs decode as a pipeline of stages; mixed steps are not "
                           "modelled there", "mixed", "a device without stage pipelining",
                           "use --schedule prefill-first"))
    tokens = args.step_tokens if args.step_tokens is not None else sc.prefill_chunk_tokens
    if tokens is None:
        out.append(problem("--step-tokens", "the mixed schedule needs a token budget per step, and neither "
                           "--step-tokens nor a prefill chunk (--prefill-chunk, or the stack's) gives one", None,
                           "a whole number >= 1", "e.g. --step-tokens 2048 (vLLM's max_num_batched_tokens for its "
                           "OpenAI server on GPUs under 70 GB), or --stack vllm, which sets it"))
    return out, tokens


def _write_new(path: Path, text: str) -> None:
    """Write an output file; a directory in the way is an input error, not a traceback."""
    if path.is_dir():
        raise SpecError([Problem(file=str(path), path="", message="is a directory, expected a file path for output",
                                 hint="give a file name, e.g. out/trace.json")])
    from slmsim.core.outputs import write_problem

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")  # moved into place: a reader never sees half a trace
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        raise SpecError([write_problem(path, "--trace", exc)]) from None


def _scenario_reference_problems(hw: Any, scenario: Any, args: argparse.Namespace) -> list[Problem]:
    """Tier and device names in the scenario must exist in the hardware."""
    problems = []
    flag_of = {dotted: (flag, attr) for dotted, attr, flag in _FLAGS}
    names: list[tuple[str, str | None, dict]] = []
    dec = scenario.decoding
    if dec.strategy == "speculative":
        names.append(("decoding.draft_device", dec.draft_device, hw.devices))
    if dec.strategy == "self_speculative":
        names += [("decoding.msb_tier", dec.msb_tier, hw.memories), ("decoding.lsb_tier", dec.lsb_tier, hw.memories)]
    if scenario.moe is not None and scenario.moe.expert_cache is not None:
        names.append(("moe.expert_cache.tier", scenario.moe.expert_cache.tier, hw.memories))
    def where(path: str) -> tuple[str, str]:
        flag, attr = flag_of[path]
        from_flag = getattr(args, attr) is not None or args.scenario is None
        return ("<command line>", flag) if from_flag else (str(args.scenario), path)

    for path, name, valid in names:
        if name is not None and name not in valid:
            file, at = where(path)
            problems.append(Problem(file=file, path=at, message=f"{hw.name} has no {name!r}", value=name,
                                    expected=f"one of: {', '.join(valid)}", hint="name one of the hardware's own"))
    miss = _cache_miss_tier(hw, scenario)
    if miss is not None and miss == scenario.moe.expert_cache.tier:
        file, at = where("moe.expert_cache.tier")
        others = [t for t in hw.memories if t != miss]
        problems.append(Problem(
            file=file, path=at, value=miss, message=f"the expert cache is in {miss!r}, the tier its misses read "
            "the experts from: a hit saves nothing and every miss also writes the cache",
            expected="a faster tier than the weights' own" + (f": one of {', '.join(others)}" if others else ""),
            hint="leave the cache out to model experts read from the weight tier"))
    return problems


def _cache_miss_tier(hw: Any, scenario: Any) -> str | None:
    """The tier a missed expert is read from (mapping.placement.WeightSources.reads): the LSB tier
    when the bit slices are split and the cache holds MSB slices, else the decode device's weight tier."""
    if scenario.moe is None or scenario.moe.expert_cache is None:
        return None
    dec = scenario.decoding
    if dec.strategy == "self_speculative" and dec.msb_tier is not None and dec.lsb_tier is not None \
            and scenario.moe.expert_cache.tier == dec.msb_tier:
        return dec.lsb_tier
    dev = hw.devices.get(hw.device_for("decode"))
    return getattr(dev, "weight_memory", None) or getattr(dev, "memory", None)


def _json_default(x: object) -> object:
    if isinstance(x, float) and math.isnan(x):
        return None
    return str(x)


def _print_infeasible(inf: Infeasible, *, as_json: bool, warnings: list[str]) -> None:
    if as_json:
        from slmsim.core.version import __version__

        print(json.dumps({"slmsim_version": __version__,
                          "infeasible": {"reason": inf.reason, "demanded": inf.demanded, "bound": inf.bound,
                                         "unit": inf.unit, "hint": inf.hint, "details": inf.details},
                          "warnings": warnings}, indent=2))
    else:
        print(inf.render(), file=sys.stderr)
        for k, v in inf.details.items():
            print(f"    {k}: {fmt_bytes(v) if inf.unit == 'bytes' else f'{v:.4g}'}", file=sys.stderr)
        for w in warnings:
            print(f"  warning: {w}", file=sys.stderr)

