"""`slmsim simulate`: one model on one hardware spec."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pydantic

from slmsim.commands._common import EXIT_BAD_INPUT, EXIT_OK, fmt_bytes, fmt_time
from slmsim_core.errors import Infeasible, Problem, SpecError


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("simulate", help="simulate one model on one hardware spec")
    s.add_argument("--hw", required=True, help="hardware preset name or YAML path")
    s.add_argument("--model", required=True, help="model preset name, model YAML, or Hugging Face config.json")
    s.add_argument("--prompt", type=int, default=128, help="prompt tokens per request (default 128)")
    s.add_argument("--gen", type=int, default=128, help="generated tokens per request (default 128)")
    s.add_argument("--batch", type=int, default=1, help="requests decoded together (default 1)")
    s.add_argument("--weight-bits", type=int, default=4, help="bits per weight (default 4)")
    s.add_argument("--kv-bits", type=int, default=16, help="bits per KV-cache element (default 16)")
    s.add_argument("--act-bits", type=int, default=16, help="bits per activation (default 16)")
    s.add_argument("--group-size", type=int, default=32,
                   help="weights sharing one fp16 scale (default 32; 0 = per-channel)")
    s.add_argument("--engine", choices=["analytic", "des"], default="analytic")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    s.add_argument("--trace", metavar="PATH", type=Path,
                   help="write a Chrome/Perfetto trace of the DES (prefill + first decode steps) to PATH")
    s.add_argument("--trace-steps", type=int, default=8, help="decode steps in the trace (default 8)")
    s.add_argument("--report", metavar="PATH", type=Path, help="write a self-contained HTML design report to PATH")
    g = s.add_argument_group("serving (discrete-event engine)")
    g.add_argument("--arrivals", choices=["fixed", "poisson", "trace"],
                   help="serve a request stream: fixed (all at t=0), poisson (--rate), or trace (--requests-csv)")
    g.add_argument("--rate", type=float, help="Poisson arrival rate, requests per second")
    g.add_argument("--requests", type=int, default=16, help="number of requests (fixed, poisson; default 16)")
    g.add_argument("--requests-csv", type=Path, help="CSV with columns arrival_s,prompt_tokens,gen_tokens")
    g.add_argument("--batching", choices=["continuous", "static"], default="continuous")
    g.add_argument("--max-batch", type=int, default=16, help="most requests decoded together (default 16)")
    g.add_argument("--kv-policy", choices=["wait", "reject"], default="wait",
                   help="when the KV cache is full: queue the request (wait) or drop it (reject)")
    g.add_argument("--channel-priority", action="store_true",
                   help="decode transfers pre-empt others on shared memory channels (default: fair sharing)")
    s.add_argument("--ops", action="store_true",
                   help="also report the mapping of every decode op (unit, bytes per tier, time, energy, tiles)")
    s.set_defaults(func=_cmd_simulate)


_FLAG_OF = {"prompt_tokens": "--prompt", "gen_tokens": "--gen", "batch": "--batch", "weight_bits": "--weight-bits",
            "kv_bits": "--kv-bits", "activation_bits": "--act-bits", "weight_group_size": "--group-size"}


def _scenario(args: argparse.Namespace) -> Any:
    from workloads.scenario import Scenario

    data = {"prompt_tokens": args.prompt, "gen_tokens": args.gen, "batch": args.batch, "seed": args.seed}
    prec = {"weight_bits": args.weight_bits, "kv_bits": args.kv_bits, "activation_bits": args.act_bits,
            "weight_group_size": args.group_size or None}
    try:
        return Scenario.model_validate({**data, "precision": prec})
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            field = str(err["loc"][-1])
            problems.append(Problem(file="<command line>", path=_FLAG_OF.get(field, field), message=err["msg"],
                                    value=err.get("input"), expected=err["msg"].replace("Input should be", "a value"),
                                    hint=f"see `slmsim simulate --help` for {_FLAG_OF.get(field, field)}"))
        raise SpecError(problems) from None


def _cmd_simulate(args: argparse.Namespace) -> int:
    from hw_models.load import load_hardware
    from mapping.plan import make_plan
    from simulator.engines import run
    from workloads.load import load_model

    problems: list[Problem] = []
    hw = model = scenario = None
    for what, loader in (("hw", lambda: load_hardware(args.hw)), ("model", lambda: load_model(args.model)),
                         ("scenario", lambda: _scenario(args))):
        try:
            value = loader()
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if what == "hw":
            hw = value
        elif what == "model":
            model = value
        else:
            scenario = value
    if problems:
        raise SpecError(problems)
    assert hw is not None and model is not None and scenario is not None
    plan = make_plan(hw.spec, model, scenario)
    if isinstance(plan, Infeasible):
        _print_infeasible(plan, as_json=args.json)
        return EXIT_BAD_INPUT
    if args.arrivals:
        result = _serve(args, plan, scenario)
    else:
        result = run(plan, engine=args.engine, seed=scenario.seed)
    trace = None
    if args.trace or args.report:
        # the trace always comes from the DES (it is the engine that has events)
        if args.arrivals:
            trace = _serve(args, plan, scenario, trace_steps=max(args.trace_steps, 1)).extra["trace"]
        else:
            traced = run(plan, engine="des", seed=scenario.seed, trace_steps=max(args.trace_steps, 1))
            trace = traced.extra["trace"]
    out = result.to_dict()
    out = {"hardware": hw.spec.name, "model": model.name,
           "scenario": scenario.model_dump(mode="json"), **out}
    if args.ops:
        from dataclasses import asdict

        from mapping.report import op_reports

        mid_ctx = scenario.batch * (scenario.prompt_tokens + scenario.gen_tokens / 2.0)
        out["decode_ops"] = {"context_tokens": mid_ctx,
                             "ops": [asdict(r) for r in op_reports(plan.decode, mid_ctx)]}
    if args.trace:
        from simulator.trace import to_chrome_trace

        _write_new(args.trace, json.dumps(to_chrome_trace(trace or [])))
    if args.report:
        from reports.design import write_design_report

        write_design_report(result=out, plan=plan, trace=trace or [], out_path=args.report,
                            title=f"{model.name} on {hw.spec.name}")
    if args.json:
        print(json.dumps(out, indent=2, default=_json_default))
    else:
        print(_table(out))
        for label, path in (("trace", args.trace), ("report", args.report)):
            if path:
                print(f"  {label} written to {path}")
    return EXIT_OK


def _serve(args: argparse.Namespace, plan: Any, scenario: Any, *, trace_steps: int = 0) -> Any:
    import numpy as np

    from simulator.serving import Batching, KvPolicy, ServingPolicy, run_serving
    from workloads.requests import fixed_requests, poisson_requests, requests_from_csv

    problems = []
    if args.engine == "analytic" and "--engine" in sys.argv:
        problems.append(Problem(file="<command line>", path="--engine", message="request streams need the DES",
                                value="analytic", expected="--engine des (the default with --arrivals)",
                                hint="drop --engine analytic"))
    if args.arrivals == "poisson" and not (args.rate and args.rate > 0):
        problems.append(Problem(file="<command line>", path="--rate", message="Poisson arrivals need a rate > 0",
                                value=args.rate, expected="requests per second, e.g. --rate 2"))
    if args.arrivals == "trace" and args.requests_csv is None:
        problems.append(Problem(file="<command line>", path="--requests-csv", message="--arrivals trace needs a CSV",
                                expected="a path", hint="columns arrival_s,prompt_tokens,gen_tokens"))
    for flag, value in (("--requests", args.requests), ("--max-batch", args.max_batch)):
        if value < 1:
            problems.append(Problem(file="<command line>", path=flag, message="must be at least 1", value=value,
                                    expected="a whole number >= 1"))
    if problems:
        raise SpecError(problems)
    if args.arrivals == "fixed":
        reqs = fixed_requests(args.requests, prompt_tokens=scenario.prompt_tokens, gen_tokens=scenario.gen_tokens)
    elif args.arrivals == "poisson":
        reqs = poisson_requests(args.requests, rate_per_s=args.rate, prompt_tokens=scenario.prompt_tokens,
                                gen_tokens=scenario.gen_tokens, rng=np.random.default_rng(scenario.seed))
    else:
        reqs = requests_from_csv(args.requests_csv)
    policy = ServingPolicy(batching=Batching(args.batching), max_batch=args.max_batch,
                           kv_policy=KvPolicy(args.kv_policy), channel_priority=args.channel_priority)
    return run_serving(plan.mapper, reqs, policy, trace_steps=trace_steps, seed=scenario.seed)


def _write_new(path: Path, text: str) -> None:
    """Write an output file; a directory in the way is an input error, not a traceback."""
    if path.is_dir():
        raise SpecError([Problem(file=str(path), path="", message="is a directory, expected a file path for output",
                                 hint="give a file name, e.g. out/trace.json")])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _json_default(x: object) -> object:
    if isinstance(x, float) and math.isnan(x):
        return None
    return str(x)


def _print_infeasible(inf: Infeasible, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"infeasible": {"reason": inf.reason, "demanded": inf.demanded, "bound": inf.bound,
                                         "unit": inf.unit, "hint": inf.hint, "details": inf.details}}, indent=2))
    else:
        print(inf.render(), file=sys.stderr)
        for k, v in inf.details.items():
            print(f"    {k}: {fmt_bytes(v) if inf.unit == 'bytes' else f'{v:.4g}'}", file=sys.stderr)


def _table(d: dict[str, Any]) -> str:
    sc = d["scenario"]
    prec = sc["precision"]
    lines = [
        f"slmsim: {d['model']} on {d['hardware']} ({d['engine']} engine)",
        f"  prompt {sc['prompt_tokens']}, generate {sc['gen_tokens']}, batch {sc['batch']}, "
        f"W{prec['weight_bits']} A{prec['activation_bits']} KV{prec['kv_bits']}",
        "",
        f"  TTFT                 {fmt_time(d['ttft_s'])}",
        f"  TPOT                 {fmt_time(d['tpot_s'])}",
        f"  decode tokens/s      {d['decode_tokens_per_s']:.2f}" if d["decode_tokens_per_s"] else "  decode tokens/s      n/a",
        f"  tokens/J             {d['tokens_per_j']:.3f}",
        f"  energy               {d['energy_j']:.4g} J  (average power {d['average_power_w']:.3g} W)",
    ]
    sv = d.get("serving")
    if sv:
        lines[3] = f"  TTFT (mean)          {fmt_time(d['ttft_s'])}"
        lines[4] = f"  decode step (mean)   {fmt_time(d['tpot_s'])}"
        lines[5] = f"  decode tokens/s      {d['decode_tokens_per_s']:.2f}  (while decoding)"
        lines += ["", f"  serving: {sv['completed']} of {sv['requests']} requests completed"
                      f" ({sv['rejected']} rejected), makespan {fmt_time(sv['makespan_s'])}, "
                      f"{sv['throughput_tokens_per_s'] or 0:.1f} tokens/s overall, "
                      f"mean decode batch {sv['mean_decode_batch'] or 0:.2f}",
                  f"    {'per request':<12}{'mean':>12}{'p50':>12}{'p90':>12}{'p99':>12}"]
        for key in ("ttft_s", "tpot_s", "e2e_s"):
            row = sv[key]
            lines.append(f"    {key[:-2].upper():<12}" + "".join(f"{fmt_time(row[c]):>12}" for c in ("mean", "p50", "p90", "p99")))
    lines += ["", "  energy by component:"]
    total = d["energy_j"] or 1.0
    for k, v in sorted(d["energy_breakdown_j"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {k:<22} {v:10.4g} J  {100 * v / total:5.1f}%")
    lines.append("")
    lines.append("  decode latency by op class:")
    dec = d["latency_breakdown_s"].get("decode", {})
    dtotal = sum(dec.values()) or 1.0
    for k, v in sorted(dec.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {k:<22} {fmt_time(v):>12}  {100 * v / dtotal:5.1f}%")
    lines.append("")
    lines.append("  memory footprint:")
    for k, v in d["memory_footprint_bytes"].items():
        lines.append(f"    {k:<22} {fmt_bytes(v):>12}")
    modes = ", ".join(f"{k}: {v}" for k, v in d.get("weight_mode", {}).items())
    lines.append(f"  weights: {modes}")
    for dev, p in d.get("pipeline", {}).items():
        lines.append(f"  pipeline on {dev}: {p['stages']} stages, bottleneck {fmt_time(p['bottleneck_s'])}, "
                     f"balance {p['balance']:.3f}")
    if "decode_ops" in d:
        lines += ["", f"  decode step mapping at {d['decode_ops']['context_tokens']:.0f} context tokens "
                      "(all layers of each op):",
                  f"    {'op':<16}{'unit':<13}{'layers':>6}{'time':>12}{'bytes':>12}{'energy':>12}  detail"]
        for op in d["decode_ops"]["ops"]:
            detail = ", ".join(f"{k} {v:.4g}" for k, v in op["detail"].items())
            lines.append(f"    {op['name']:<16}{op['unit']:<13}{op['layers']:>6}{fmt_time(op['time_s']):>12}"
                         f"{fmt_bytes(sum(op['bytes_by_tier'].values())):>12}{sum(op['energy_j'].values()):>11.3g}J"
                         f"  {detail}")
    return "\n".join(lines)


