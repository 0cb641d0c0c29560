"""`slmsim validate`: predicted vs measured decode rates on real devices."""

from __future__ import annotations

import argparse
import json

import numpy as np

from slmsim.commands._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="predict every measured row of the calibration data and report the error")
    v.add_argument("--json", action="store_true", help="a list of {device, model, measured, predicted, error_pct}")
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

    results = [("calibration", r) for r in validate(rows())]
    if args.heldout:
        results += [("heldout", r) for r in validate(rows("heldout-decode.csv"))]
    if args.json:
        print(json.dumps([{"device": r.row.device, "model": r.row.model, "stack": r.row.stack,
                           "measured": r.row.measured, "predicted": r.predicted, "error_pct": r.error_pct,
                           "set": kind, "average_power_w": r.power_w} for kind, r in results], indent=2))
        return EXIT_OK
    print(f"{'set':<12}{'device':<20}{'model':<16}{'bits':>4}{'measured':>10}{'predicted':>11}{'error':>9}{'power':>9}")
    for kind, r in results:
        print(f"{kind:<12}{r.row.device:<20}{r.row.model:<16}{r.row.weight_bits:>4}{r.row.measured:>10.2f}"
              f"{r.predicted:>11.2f}{r.error_pct:>+8.1f}%{r.power_w:>8.1f}W")
    for kind in dict.fromkeys(k for k, _ in results):
        errs = np.array([abs(r.error_pct) for k, r in results if k == kind])
        worst = max((r for k, r in results if k == kind), key=lambda r: abs(r.error_pct))
        print(f"{kind}: mean absolute error {errs.mean():.1f}% over {len(errs)} rows; worst "
              f"{worst.row.device} / {worst.row.model} {worst.error_pct:+.1f}%")
    for band in power_band():
        print(f"measured board power during decode on {band['device']}: {band['board_power_w_low']}-"
              f"{band['board_power_w_high']} W ({band['source']})")
    if args.refit:
        for name, cls in CLASSES.items():
            fit = fit_class(name)
            values = ", ".join(f"{p} = {v:.4g}" for p, v in zip(cls.params, fit.values))
            print(f"\nclass {name} ({cls.why}): {values}")
            print(f"  in-sample errors %: {np.round(fit.in_sample_pct, 1).tolist()}")
            print(f"  leave-one-out errors %: {np.round(fit.leave_one_out_pct, 1).tolist()}")
    return EXIT_OK
