"""The `slmsim` command line: wires the stages; only the CLI and reports write files.

Exit codes: 0 success; 2 bad input (a `SpecError`: file, field, value, expectation,
hint) or an infeasible design (the workload cannot run on it); 1 is left to bugs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic

from slmsim_core.errors import Infeasible, Problem, SpecError

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except SpecError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slmsim", description="Simulate and explore hardware for small language models.")
    sub = p.add_subparsers(dest="command")

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
    s.set_defaults(func=_cmd_simulate)

    pr = sub.add_parser("presets", help="list hardware and model presets")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_presets)

    c = sub.add_parser("check", help="validate a hardware or model spec file and summarise it")
    c.add_argument("path")
    c.set_defaults(func=_cmd_check)
    return p


# ----------------------------------------------------------------------------- simulate

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
    result = run(plan, engine=args.engine, seed=scenario.seed)
    out = result.to_dict()
    out = {"hardware": hw.spec.name, "model": model.name,
           "scenario": scenario.model_dump(mode="json"), **out}
    if args.json:
        print(json.dumps(out, indent=2, default=_json_default))
    else:
        print(_table(out))
    return EXIT_OK


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
            print(f"    {k}: {_fmt_bytes(v) if inf.unit == 'bytes' else f'{v:.4g}'}", file=sys.stderr)


def _fmt_bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3f} {unit}"
    return f"{n:.0f} B"


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.2f} us"


def _table(d: dict[str, Any]) -> str:
    sc = d["scenario"]
    prec = sc["precision"]
    lines = [
        f"slmsim: {d['model']} on {d['hardware']} ({d['engine']} engine)",
        f"  prompt {sc['prompt_tokens']}, generate {sc['gen_tokens']}, batch {sc['batch']}, "
        f"W{prec['weight_bits']} A{prec['activation_bits']} KV{prec['kv_bits']}",
        "",
        f"  TTFT                 {_fmt_time(d['ttft_s'])}",
        f"  TPOT                 {_fmt_time(d['tpot_s'])}",
        f"  decode tokens/s      {d['decode_tokens_per_s']:.2f}" if d["decode_tokens_per_s"] else "  decode tokens/s      n/a",
        f"  tokens/J             {d['tokens_per_j']:.3f}",
        f"  energy               {d['energy_j']:.4g} J  (average power {d['average_power_w']:.3g} W)",
        "",
        "  energy by component:",
    ]
    total = d["energy_j"] or 1.0
    for k, v in sorted(d["energy_breakdown_j"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {k:<22} {v:10.4g} J  {100 * v / total:5.1f}%")
    lines.append("")
    lines.append("  decode latency by op class:")
    dec = d["latency_breakdown_s"].get("decode", {})
    dtotal = sum(dec.values()) or 1.0
    for k, v in sorted(dec.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {k:<22} {_fmt_time(v):>12}  {100 * v / dtotal:5.1f}%")
    lines.append("")
    lines.append("  memory footprint:")
    for k, v in d["memory_footprint_bytes"].items():
        lines.append(f"    {k:<22} {_fmt_bytes(v):>12}")
    modes = ", ".join(f"{k}: {v}" for k, v in d.get("weight_mode", {}).items())
    lines.append(f"  weights: {modes}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- presets / check


def _cmd_presets(args: argparse.Namespace) -> int:
    from hw_models.load import load_hardware, preset_names as hw_names
    from workloads.load import load_model, preset_names as model_names

    hw = {n: load_hardware(n).spec.description for n in hw_names()}
    models = {}
    for n in model_names():
        m = load_model(n)
        kind = "encoder-decoder" if m.encoder_decoder else ("MoE" if m.moe else "dense")
        models[n] = {"kind": kind, "params_b": round(m.total_params() / 1e9, 3),
                     "active_params_b": round(m.active_params() / 1e9, 3)}
    if args.json:
        print(json.dumps({"hardware": hw, "models": models}, indent=2))
        return EXIT_OK
    print("hardware presets:")
    for n, desc in hw.items():
        print(f"  {n:<20} {desc}")
    print("\nmodel presets:")
    for n, info in models.items():
        print(f"  {n:<22} {info['kind']:<16} {info['params_b']:>8.2f} B params, {info['active_params_b']:.2f} B active")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from hw_models.load import load_hardware
    from slmsim_core.yamlio import read_yaml
    from workloads.load import load_model

    path = Path(args.path)
    if path.suffix == ".json" or path.is_dir():
        m = load_model(path)
        print(f"{args.path}: OK, model {m.name} ({m.family.value}), {m.total_params() / 1e9:.3f} B parameters")
        return EXIT_OK
    data = read_yaml(path)
    if isinstance(data, dict) and ({"devices", "memories"} & set(data) or "extends" in data and "family" not in data):
        hw = load_hardware(path)
        spec = hw.spec
        print(f"{args.path}: OK, hardware '{spec.name}' ({' -> '.join(hw.chain)})")
        for name, dev in spec.devices.items():
            print(f"  device {name}: {dev.kind}")
        for name, tier in spec.memories.items():
            print(f"  memory {name}: {tier.kind}, peak {tier.peak_bandwidth_bytes_per_s / 1e9:.4g} GB/s, "
                  f"capacity {_fmt_bytes(tier.capacity_bytes)}")
        unsourced = [p for p, v in hw.provenance.items() if not (v.source or v.assumption)]
        print(f"  {len(hw.provenance)} numbers carry a source or an assumption" +
              (f"; {len(unsourced)} do not" if unsourced else ""))
        return EXIT_OK
    m = load_model(path)
    print(f"{args.path}: OK, model {m.name} ({m.family.value}), {m.total_params() / 1e9:.3f} B parameters")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
