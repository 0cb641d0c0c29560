"""`slmsim presets` (`slmsim check` is in check.py)."""

from __future__ import annotations

import argparse
import json

from slmsim.commands._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser("presets", help="list hardware and model presets")
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
    if args.json:
        from slmsim.core.version import __version__

        print(json.dumps({"slmsim_version": __version__, "hardware": hw, "models": models}, indent=2))
        return EXIT_OK
    from slmsim.commands.tables import Table, emit, n

    h = Table("Hardware presets", ("name", "description"), align="ll")
    for name, desc in hw.items():
        h.add(name, desc)
    m = Table("Model presets", ("name", "kind", "parameters", "active"), align="llrr")
    for name, info in models.items():
        m.add(name, info["kind"], f"{n(info['params_b'], 3)} B", f"{n(info['active_params_b'], 3)} B")
    emit([h, m, "(`slmsim check NAME` shows every value of a preset with its source)"])
    return EXIT_OK

