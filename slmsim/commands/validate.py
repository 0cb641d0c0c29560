"""`slmsim validate`: predicted vs measured rates on real devices."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from slmsim.commands._common import EXIT_BAD_INPUT, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="predict measured rows (calibration data or your CSV) and report the error")
    v.add_argument("--csv", action="append", type=Path, metavar="FILE",
                   help="predict this CSV (columns of slmsim/data/calibration-decode-2.csv: device, model, stack, "
                        "weight_format, prompt_tokens, gen_tokens, batch, decode_tokens_per_s, prefill_tokens_per_s, "
                        "power_w, source; other columns ignored; an empty cell = not measured); repeatable")
    v.add_argument("--calibration", action="store_true", help="all calibration rows (both calibration files)")
    v.add_argument("--json", action="store_true",
                   help="without --csv: one object {slmsim_version, rows: [{device, model, stack, weight_format, metric "
                        "(always decode), measured, predicted, error_pct, reason, set, average_power_w}]}; with --csv: one "
                        "object per (row, measured metric) {device, model, stack, weight_format, metric, measured, "
                        "predicted, error_pct} (predicted null and a reason when the row cannot run)")
    v.add_argument("--heldout", action="store_true",
                   help="also the held-out rows (never used by a fit: Orin Nano Super from NVIDIA's table)")
    v.add_argument("--refit", action="store_true", help="refit the class constants and show in-sample / leave-one-out errors")
    v.add_argument("--cim", action="store_true",
                   help="published SRAM CIM macros instead: predicted vs published TOPS/W and TOPS/mm^2 (--json: "
                        "{macro, metric, measured, predicted, error_pct, source}); with --refit, the fitted cell energy")
    v.add_argument("--macro", action="append", metavar="FILE|DIR|NAME",
                   help="with --cim: predict these macros instead of the bundled set: a macro YAML file (the format "
                        "of docs/validation.md, 'Your own macro'), a directory of them, or a bundled macro's name; "
                        "repeatable. They are predicted with the shipped constants, never fitted (--refit fits on "
                        "them and says so)")
    v.set_defaults(func=_cmd_validate)


def _progress(total: int):  # noqa: ANN202 - tqdm wrapper or identity
    """A progress bar on a terminal only (never in pipes, files or --json captured output)."""
    if not sys.stderr.isatty():
        return lambda it: it
    from tqdm import tqdm

    return lambda it: tqdm(it, total=total, desc="predicting", unit="row", file=sys.stderr, leave=False)


def _cmd_validate(args: argparse.Namespace) -> int:
    if args.macro and not args.cim:
        from slmsim.core.errors import Problem, SpecError

        raise SpecError([Problem(file="<command line>", path="--macro", message="--macro is for CIM macros",
                                 value=args.macro[0], expected="--cim beside it",
                                 hint="slmsim validate --cim --macro my-macro.yaml")])
    if args.cim:
        from slmsim.validation_cim import print_report, resolve_macros

        return print_report(as_json=args.json, refit=args.refit,
                            macros=resolve_macros(args.macro) if args.macro else None)
    from slmsim.validation import CALIBRATION_FILES, read_csv, rows

    if args.csv or args.calibration:
        selected = []
        for f in args.csv or []:
            got = read_csv(f)
            if not any(r.measured_metrics() for r in got):
                from slmsim.core.errors import Problem, SpecError

                raise SpecError([Problem(file=str(f), path="", message="no row has a measured figure",
                                         expected="rows with decode_tokens_per_s, prefill_tokens_per_s or power_w",
                                         hint="an empty cell means not measured; a header alone predicts nothing")])
            selected += got
        if args.calibration:
            selected += [r for f in CALIBRATION_FILES for r in rows(f)]
        return _cmd_csv(args, selected)
    return _cmd_first_file(args)


def _cmd_csv(args: argparse.Namespace, selected: list) -> int:  # noqa: ANN001
    from slmsim.validation import summarise, validate

    results = validate(selected, progress=_progress(len(selected)))
    records = [m for r in results for m in r.metrics()]
    # nothing predicted: the figures are printed, but a script must not read it as a success
    code = EXIT_OK if any(m["predicted"] is not None for m in records) else EXIT_BAD_INPUT
    if code != EXIT_OK:
        print(f"slmsim validate: none of the {len(selected)} row(s) could be predicted (each one's reason is "
              "listed)", file=sys.stderr)
    if args.json:
        print(json.dumps(records, indent=2))
        return code
    from slmsim.commands.tables import Table, emit

    table = Table("predicted vs measured", ["device", "model", "stack", "format", "metric", "measured", "predicted",
                                            "error", "note"], align="lllllrrrl")
    for m in records:
        ran = m["predicted"] is not None
        table.add(m["device"], m["model"], m["stack"], m["weight_format"], m["metric"], f"{m['measured']:.2f}",
                  f"{m['predicted']:.2f}" if ran else "-", f"{m['error_pct']:+.1f}%" if ran else "",
                  "" if ran else f"not run: {m['reason']}")
    lines: list[str] = []
    for s in summarise(results):
        worst = s.worst
        tail = (f"; worst {worst['device']} / {worst['model']} {worst['error_pct']:+.1f}%" if worst else "")
        skipped = f"; {s.not_run} not run" if s.not_run else ""
        mape = f"{s.mape:.1f}%" if not math.isnan(s.mape) else "-"
        lines.append(f"{s.metric}: mean absolute error {mape} over {s.n} rows{tail}{skipped}")
    emit([table, *lines])
    return code


def _cmd_first_file(args: argparse.Namespace) -> int:
    from slmsim.validation import power_band, rows, validate

    results = [("calibration", r) for r in validate(rows())]
    if args.heldout:
        results += [("heldout", r) for r in validate(rows("heldout-decode.csv"))]
    if args.json:
        from slmsim.core.version import __version__

        print(json.dumps({"slmsim_version": __version__, "rows": [
            {"device": r.row.device, "model": r.row.model, "stack": r.row.stack,
             "weight_format": r.row.weight_format, "metric": "decode", "measured": r.row.measured,
             "predicted": r.predicted if r.prediction else None,
             "error_pct": r.error_pct if r.prediction else None, "reason": r.reason,
             "set": kind, "average_power_w": r.power_w if r.prediction else None}
            for kind, r in results]}, indent=2))
        return EXIT_OK
    from slmsim.commands.tables import Table, emit

    table = Table("decode tokens/s, predicted vs measured", ["set", "device", "model", "stack", "format", "measured",
                                                             "predicted", "error", "power", "note"],
                  align="lllllrrrrl", note="power: the run's average (idle + active + dynamic), not peak wall power")
    for kind, r in results:
        ran = r.prediction is not None
        table.add(kind, r.row.device, r.row.model, r.row.stack, r.row.weight_format, f"{r.row.measured:.2f}",
                  f"{r.predicted:.2f}" if ran else "-", f"{r.error_pct:+.1f}%" if ran else "",
                  f"{r.power_w:.1f} W" if ran else "", "" if ran else f"not run: {r.reason}")
    lines: list[str] = []
    for kind in dict.fromkeys(k for k, _ in results):
        done = [r for k, r in results if k == kind and r.prediction is not None]
        errs = np.array([abs(r.error_pct) for r in done])
        worst = max(done, key=lambda r: abs(r.error_pct))
        lines.append(f"{kind}: mean absolute error {errs.mean():.1f}% over {len(errs)} rows; worst "
                     f"{worst.row.device} / {worst.row.model} {worst.error_pct:+.1f}%")
    for band in power_band():
        lines.append(f"measured board power during decode on {band['device']}: {band['board_power_w_low']}-"
                     f"{band['board_power_w_high']} W ({band['source']})")
    emit([table, *lines])
    if args.refit:
        from slmsim.commands.tables import progress
        from slmsim.refit import refit_all, report_lines
        from slmsim.validation import calibration_rows

        every = calibration_rows()

        def step(what: str) -> None:
            bar.describe(what)
            bar.advance()

        with progress("refitting class constants", 1 + len({r.device for r in every})) as bar:
            fits = refit_all(every, on_step=step)
        print("\n".join(report_lines(fits)))
    return EXIT_OK
