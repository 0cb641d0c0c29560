"""`slmsim presets` (`slmsim check` is in check.py)."""

from __future__ import annotations

import argparse
import json

from slmsim.commands._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser("presets", help="list hardware, model and software-stack presets and weight formats")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_presets)



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
        from slmsim.core.version import __version__

        print(json.dumps({"slmsim_version": __version__, "hardware": hw, "models": models, "stacks": stacks, "weight_formats": formats}, indent=2))
        return EXIT_OK
    from slmsim.commands.tables import Table, emit, n

    h = Table("Hardware presets", ("name", "description"), align="ll")
    for name, desc in hw.items():
        h.add(name, desc)
    m = Table("Model presets", ("name", "kind", "parameters", "active"), align="llrr")
    for name, info in models.items():
        m.add(name, info["kind"], f"{n(info['params_b'], 3)} B", f"{n(info['active_params_b'], 3)} B")
    st = Table("Software stacks (--stack)", ("name", "runs on", "formats"), align="lll")
    for name, info in stacks.items():
        alias = f" (also {', '.join(info['aliases'])})" if info["aliases"] else ""
        st.add(name + alias, "/".join(info["runs_on"]), ", ".join(info["formats"]))
    fm = Table("Weight formats (--weight-format; bits per weight incl. block scales and zero points)",
               ("name", "bits/weight", "description"), align="lrl")
    for name, info in formats.items():
        fm.add(name, f"{info['bits_per_weight']:.4g}" + (" base, mixed by tensor" if info["mixture"] else ""),
               info["description"])
    emit([h, m, st, fm, "(`slmsim check NAME` shows every value of a preset with its source)"])
    return EXIT_OK

