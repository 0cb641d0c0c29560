"""`slmsim presets` and `slmsim check`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from slmsim.commands._common import EXIT_OK, fmt_bytes


def register(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser("presets", help="list hardware, model and software-stack presets and weight formats")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_presets)

    c = sub.add_parser("check", help="validate a hardware or model spec file and summarise it")
    c.add_argument("path")
    c.set_defaults(func=_cmd_check)



def _cmd_presets(args: argparse.Namespace) -> int:
    from slmsim.hw_models.load import load_hardware
    from slmsim.hw_models.load import preset_names as hw_names
    from slmsim.workloads.load import load_model
    from slmsim.workloads.load import preset_names as model_names

    hw = {n: load_hardware(n).spec.description for n in hw_names()}
    models = {}
    for n in model_names():
        m = load_model(n)
        kind = "encoder-decoder" if m.encoder_decoder else ("MoE" if m.moe else "dense")
        models[n] = {"kind": kind, "params_b": round(m.total_params() / 1e9, 3),
                     "active_params_b": round(m.active_params() / 1e9, 3)}
    from slmsim.stacks.load import format_library, load_stack
    from slmsim.stacks.load import preset_names as stack_names

    lib = format_library()
    stacks = {}
    for n in stack_names():
        st = load_stack(n).spec
        stacks[n] = {"description": st.description, "aliases": list(st.aliases), "runs_on": list(st.runs_on),
                     "formats": list(st.formats), "device_classes": list(st.costs)}
    formats = {n: {"description": f.description, "bits_per_weight": f.bits_per_weight,
                   "mixture": bool(f.mixture or f.only), "aliases": list(f.aliases)} for n, f in lib.formats.items()}
    if args.json:
        print(json.dumps({"hardware": hw, "models": models, "stacks": stacks, "weight_formats": formats}, indent=2))
        return EXIT_OK
    print("hardware presets:")
    for n, desc in hw.items():
        print(f"  {n:<20} {desc}")
    print("\nmodel presets:")
    for n, info in models.items():
        print(f"  {n:<22} {info['kind']:<16} {info['params_b']:>8.2f} B params, {info['active_params_b']:.2f} B active")
    print("\nsoftware stacks (--stack):")
    for n, info in stacks.items():
        alias = f" (also {', '.join(info['aliases'])})" if info["aliases"] else ""
        print(f"  {n + alias:<28} on {'/'.join(info['runs_on']):<8} formats: {', '.join(info['formats'])}")
    print("\nweight formats (--weight-format; bits per weight incl. block scales and zero points):")
    for n, info in formats.items():
        bits = f"{info['bits_per_weight']:.4g}" + (" base, mixed by tensor" if info["mixture"] else "")
        print(f"  {n:<26} {bits:<24} {info['description']}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from slmsim.hw_models.load import load_hardware
    from slmsim.core.yamlio import read_yaml
    from slmsim.workloads.load import load_model

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
                  f"capacity {fmt_bytes(tier.capacity_bytes)}")
        unsourced = [p for p, v in hw.provenance.items() if not (v.source or v.assumption)]
        print(f"  {len(hw.provenance)} numbers carry a source or an assumption" +
              (f"; {len(unsourced)} do not" if unsourced else ""))
        return EXIT_OK
    m = load_model(path)
    print(f"{args.path}: OK, model {m.name} ({m.family.value}), {m.total_params() / 1e9:.3f} B parameters")
    return EXIT_OK


