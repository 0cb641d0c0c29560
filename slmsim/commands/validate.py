"""`slmsim validate`: predicted vs measured decode rates on real devices."""

from __future__ import annotations

import argparse
import json

import numpy as np

from slmsim.commands._common import EXIT_OK
from slmsim.commands.tables import q


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="predict every measured row of the calibration data and report the error")
    v.add_argument("--json", action="store_true", help="one object: slmsim_version and rows, a list of {device, model, measured, predicted, error_pct}")
    v.add_argument("--heldout", action="store_true",
                   help="also the held-out rows (never used by a fit: Orin Nano Super from NVIDIA's table)")
    v.add_argument("--refit", action="store_true", help="refit the class constants and show in-sample / leave-one-out errors")
    v.add_argument("--cim", action="store_true",
                   help="published SRAM CIM macros instead: predicted vs published TOPS/W and TOPS/mm^2 (--json: "
                        "{macro, metric, measured, predicted, error_pct, source}); with --refit, the fitted cell energy")
    v.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    if args.cim:
        from slmsim.validation_cim import print_report

        return print_report(as_json=args.json, refit=args.refit)
    from slmsim.validation import CLASSES, fit_class, power_band, rows, validate

    from slmsim.commands.tables import Table, emit, progress

    results = [("calibration", r) for r in validate(rows())]
    if args.heldout:
        results += [("heldout", r) for r in validate(rows("heldout-decode.csv"))]
    if args.json:
        from slmsim.core.version import __version__

        print(json.dumps({"slmsim_version": __version__, "rows": [
            {"device": r.row.device, "model": r.row.model, "stack": r.row.stack, "measured": r.row.measured,
             "predicted": r.predicted, "error_pct": r.error_pct, "set": kind, "average_power_w": r.power_w}
            for kind, r in results]}, indent=2))
        return EXIT_OK
    t = Table("Decode tokens/s: predicted vs measured", ("set", "device", "model", "bits", "measured", "predicted",
                                                          "error", "power"), align="lllrrrrr")
    for kind, r in results:
        t.add(kind, r.row.device, r.row.model, r.row.weight_bits, f"{r.row.measured:.2f}", f"{r.predicted:.2f}",
              f"{r.error_pct:+.1f}%", q(r.power_w, "W"))
    lines: list[str] = []
    for kind in dict.fromkeys(k for k, _ in results):
        errs = np.array([abs(r.error_pct) for k, r in results if k == kind])
        worst = max((r for k, r in results if k == kind), key=lambda r: abs(r.error_pct))
        lines.append(f"{kind}: mean absolute error {errs.mean():.1f}% over {len(errs)} rows; worst "
                     f"{worst.row.device} / {worst.row.model} {worst.error_pct:+.1f}%")
    for band in power_band():
        lines.append(f"measured board power during decode on {band['device']}: {band['board_power_w_low']}-"
                     f"{band['board_power_w_high']} W ({band['source']})")
    emit([t, *lines])
    if args.refit:
        fits = {}
        with progress("refitting class constants", len(CLASSES)) as bar:
            for name in CLASSES:
                bar.describe(f"refitting {name}")
                fits[name] = fit_class(name)
                bar.advance()
        for name, cls in CLASSES.items():
            fit = fits[name]
            values = ", ".join(f"{p} = {v:.4g}" for p, v in zip(cls.params, fit.values))
            print(f"\nclass {name} ({cls.why}): {values}")
            print(f"  in-sample errors %: {np.round(fit.in_sample_pct, 1).tolist()}")
            print(f"  leave-one-out errors %: {np.round(fit.leave_one_out_pct, 1).tolist()}")
    return EXIT_OK
