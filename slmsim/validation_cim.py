"""`slmsim validate --cim`: published SRAM CIM macros, predicted from their knobs vs published.

Each macro in `hw_models/macros/*.yaml` gives its published structure (rows, columns, cell
bits, rows per operation, cell groups, input bits per cycle, partial-sum columns per weight,
ADC bits, clock, node, supply, macros per chip), the precision and data activity of the measurement, the published TOPS/W
and area, the precision/condition of that figure (`published.figure`) and where every
parameter comes from (`source`, `parameter_sources`). slmsim predicts:

- **TOPS/W** at the published precision, from `hw_models.periphery` only (the spec's
  energies are left `null`): per input-bit step and row group, the cells
  (`rows_per_op x cols x cell_bits` at the fitted `CELL_ENERGY_J`, scaled by node and
  supply), the row DACs of multi-bit analog inputs, and one readout per column (ADC by its
  Walden FoM, or the digital adder tree + shift-add); with cell groups, one weight selection
  per row group (local bit lines precharged). Ops are 2 per MAC. The cell and digital-tree energies are multiplied by the measurement's activity
  (input toggle rate x weight density, the switching they cause); ADC conversions are not.
- **Energy by part** (`energy_breakdown_j`, printed per op beside the published 1000 / TOPS/W):
  cells, charge-domain capacitors, DACs / pulse counters, ADC conversions, adders, cell-group
  selection; the parts sum to the energy the TOPS/W is predicted from.
- **TOPS/mm^2**: throughput at the published clock (2 x rows x outputs x macros / cycles per
  MVM) over the area `hw_models.periphery.macro_area_mm2` predicts from the knobs (cells +
  ADCs / adder trees); "published" is the same throughput over the published area, so this
  row checks the area model only.

One rule, applied to every row, marks rows outside the model (`outside_the_adc_survey`): a
published figure that leaves less energy per conversion than the lowest of any ADC in
Murmann's survey (`ADC_ENERGY_FLOOR_J`). They are predicted and listed, with the reason in
`excluded`, but left out of the fit and of the in-model MAPE (the all-rows MAPE is printed
beside it). One constant is fitted, `CELL_ENERGY_J` (log least squares over the TOPS/W of
the rows inside the model, bounded by `CELL_ENERGY_BOUNDS_J`); `fit_cell_energy` gives
in-sample and leave-one-out errors. The ADCs' Walden figure of merit is the median of
Murmann's survey (`ADC_FOM_J`) and their floor the survey's lowest energy per conversion,
neither fitted. Nothing is tuned per macro.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from slmsim.hw_models import periphery
from slmsim.hw_models.cim import CimStyle
from slmsim.published_macro import PublishedMacro, load_published_macros


@dataclass(frozen=True)
class Row:
    macro: str
    metric: str
    measured: float
    predicted: float
    source: str
    excluded: str | None = None  # why the row is outside the model (outside_the_adc_survey), None: inside

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.measured) / self.measured


def macros_dir() -> Path:
    return Path(str(resources.files("slmsim.hw_models") / "macros"))


def load_macros(directory: Path | None = None) -> list[PublishedMacro]:
    """The bundled published macros (or every macro file in `directory`), each checked in full."""
    return load_published_macros([directory or macros_dir()])


ENERGY_PARTS = ("cells", "charge_caps", "dac", "adc", "adders", "group_select")


def energy_breakdown_j(pm: PublishedMacro, *, cell_energy_28nm_j: float = periphery.CELL_ENERGY_J,
                       adc_fom_j: float = periphery.ADC_FOM_J) -> dict[str, float]:
    """One full MVM of one macro at the published precision and activity, by part (`ENERGY_PARTS`), from the
    periphery models: SRAM cells, charge-domain cell capacitors, row DACs / pulse counters, ADC conversions,
    adders (digital adder trees, or an ADC's shift-add), cell-group selection. The parts sum to
    `energy_per_mvm_j`."""
    m = pm.macro
    analog = m.style is CimStyle.ANALOG
    common = dict(rows_per_op=m.rows_per_op, cols=m.cols, node_m=pm.node_m, vdd_v=pm.vdd_v, cell_bits=m.cell_bits,
                  cell_energy_28nm_j=cell_energy_28nm_j)
    sram = periphery.array_op_energy_j(**common)
    caps = periphery.array_op_energy_j(**common, cell_capacitance_f=m.cell_capacitance_f) - sram
    dacs = m.rows_per_op * periphery.dac_energy_j(m.input_bits_per_cycle, pm.node_m, pm.vdd_v,
                                                  pwm=m.input_encoding == "pwm", dacs_per_row=m.dacs_per_row) \
        if analog else 0.0
    readout = periphery.readout_energy_j(analog=analog, adc_bits=m.adc_bits, rows_per_op=m.rows_per_op,
                                         input_bits_per_cycle=m.input_bits_per_cycle, cell_bits=m.cell_bits,
                                         node_m=pm.node_m, vdd_v=pm.vdd_v, adc_fom_j=adc_fom_j)
    if analog:
        assert m.adc_bits is not None
        adc = periphery.adc_energy_j(m.adc_bits, pm.node_m, pm.vdd_v, fom_j=adc_fom_j)
        adders = readout - adc  # the shift-add after each conversion; conversions happen whatever the data
    else:
        adc, adders = 0.0, readout * pm.activity  # adder trees switch with the products
    row_groups = math.ceil(m.rows / m.rows_per_op)
    steps = row_groups * math.ceil(pm.input_bits / m.input_bits_per_cycle)
    used_cols = pm.outputs * m.slices_per_weight(pm.weight_bits)
    # cell groups: one weight selection (local bit lines precharged) per row group per MVM, whatever the data
    select = row_groups * periphery.group_select_energy_j(rows_per_op=m.rows_per_op, cols=m.cols, cell_bits=m.cell_bits,
                                                          cell_groups=m.cell_groups, node_m=pm.node_m, vdd_v=pm.vdd_v)
    # the cells switch with the data (input toggle x weight density), the DACs with the inputs
    return {"cells": steps * sram * pm.activity, "charge_caps": steps * caps * pm.activity,
            "dac": steps * dacs * pm.input_toggle_rate, "adc": steps * used_cols * adc,
            "adders": steps * used_cols * adders, "group_select": select}


def energy_per_mvm_j(pm: PublishedMacro, *, cell_energy_28nm_j: float = periphery.CELL_ENERGY_J,
                     adc_fom_j: float = periphery.ADC_FOM_J) -> float:
    """One full MVM of one macro at the published precision and activity, from the periphery models."""
    return sum(energy_breakdown_j(pm, cell_energy_28nm_j=cell_energy_28nm_j, adc_fom_j=adc_fom_j).values())


def conversions_per_op(pm: PublishedMacro) -> float:
    """ADC conversions per op (2 per MAC) of a full MVM at the published precision (0 for digital macros)."""
    m = pm.macro
    if m.style is not CimStyle.ANALOG:
        return 0.0
    steps = math.ceil(m.rows / m.rows_per_op) * math.ceil(pm.input_bits / m.input_bits_per_cycle)
    used_cols = pm.outputs * m.slices_per_weight(pm.weight_bits)
    return steps * used_cols / (2.0 * m.rows * pm.outputs)


def published_energy_per_conversion_j(pm: PublishedMacro) -> float:
    """Upper bound on one conversion's energy the published figure allows: all its energy per op over the
    conversions per op (inf for a digital macro)."""
    c = conversions_per_op(pm)
    return math.inf if c == 0 else 1.0 / (pm.tops_per_w * 1e12) / c


def outside_the_adc_survey(pm: PublishedMacro) -> str | None:
    """The physical rule applied to every row: a published figure that leaves less energy per conversion than
    the lowest any ADC of Murmann's survey reached (periphery.ADC_ENERGY_FLOOR_J) has a readout of a kind the
    survey-based ADC model does not describe (e.g. in-array, early-stopping conversions). Such rows are
    predicted and reported but left out of the fit and of the in-model MAPE. None: inside."""
    budget = published_energy_per_conversion_j(pm)
    if budget >= periphery.ADC_ENERGY_FLOOR_J:
        return None
    return (f"published {1e15 / (pm.tops_per_w * 1e12):.3g} fJ/op at {conversions_per_op(pm):.3g} conversions/op "
            f"leaves {budget * 1e15:.3g} fJ per {pm.macro.adc_bits}-bit conversion, below the lowest energy per "
            f"conversion in Murmann's ADC survey ({periphery.ADC_ENERGY_FLOOR_J * 1e15:.0f} fJ)")


def predicted_tops_per_w(pm: PublishedMacro, *, cell_energy_28nm_j: float = periphery.CELL_ENERGY_J,
                         adc_fom_j: float = periphery.ADC_FOM_J) -> float:
    ops = 2.0 * pm.macro.rows * pm.outputs
    return ops / energy_per_mvm_j(pm, cell_energy_28nm_j=cell_energy_28nm_j, adc_fom_j=adc_fom_j) / 1e12


def predicted_area_mm2(pm: PublishedMacro) -> float:
    m = pm.macro
    one = periphery.macro_area_mm2(analog=m.style is CimStyle.ANALOG, adc_bits=m.adc_bits, rows=m.rows, cols=m.cols,
                                   rows_per_op=m.rows_per_op, cols_per_readout=m.cols_per_readout,
                                   input_bits_per_cycle=m.input_bits_per_cycle, cell_bits=m.cell_bits,
                                   node_m=pm.node_m, cell_groups=m.cell_groups,
                                   cell_capacitance_f=m.cell_capacitance_f, pwm=m.input_encoding == "pwm",
                                   dacs_per_row=m.dacs_per_row)
    return pm.macros * one


def rows(macros: list[PublishedMacro] | None = None) -> list[Row]:
    out = []
    for pm in macros if macros is not None else load_macros():
        src = f"{pm.paper}; published figure: {pm.figure}; parameters: {pm.source}"
        out.append(Row(pm.name, "tops_per_w", pm.tops_per_w, predicted_tops_per_w(pm), src,
                       outside_the_adc_survey(pm)))
        tput = pm.throughput_ops_per_s / 1e12
        out.append(Row(pm.name, "tops_per_mm2", tput / pm.area_mm2, tput / predicted_area_mm2(pm),
                       f"{src}; measured = throughput at the published clock / published area"))
    return out


def mape(rs: list[Row], metric: str, *, inside_only: bool = False) -> float:
    return float(np.mean([abs(r.error_pct) for r in rs
                          if r.metric == metric and not (inside_only and r.excluded)]))


@dataclass(frozen=True)
class CellFit:
    cell_energy_28nm_j: float
    in_sample_pct: tuple[float, ...]
    leave_one_out_pct: tuple[float, ...]
    names: tuple[str, ...]


def tops_per_w_log_loss(ms: list[PublishedMacro], cell_j: float, fom_j: float = periphery.ADC_FOM_J) -> float:
    """What both fits minimise: the sum of squared log errors of the predicted TOPS/W."""
    return sum(math.log(predicted_tops_per_w(pm, cell_energy_28nm_j=cell_j, adc_fom_j=fom_j) / pm.tops_per_w) ** 2
               for pm in ms)


def _fit_cell(ms: list[PublishedMacro]) -> tuple[float, float]:
    """The adopted fit: the cell energy alone, the FoM at the survey's median."""
    lo, hi = periphery.CELL_ENERGY_BOUNDS_J
    res = minimize_scalar(lambda log_e: tops_per_w_log_loss(ms, math.exp(log_e)),
                          bounds=(math.log(lo), math.log(hi)), method="bounded", options={"xatol": 1e-6})
    return math.exp(float(res.x)), periphery.ADC_FOM_J


def _fit_cell_fom(ms: list[PublishedMacro]) -> tuple[float, float]:
    """Log least squares over both bounded constants: a coarse log grid (the loss has local minima on the
    bounds, where a simplex from one start can stop), then L-BFGS-B from the grid's best point."""
    from scipy.optimize import minimize

    lo = np.log([periphery.CELL_ENERGY_BOUNDS_J[0], periphery.ADC_FOM_IQR_J[0]])
    hi = np.log([periphery.CELL_ENERGY_BOUNDS_J[1], periphery.ADC_FOM_IQR_J[1]])

    def loss(z: np.ndarray) -> float:
        c, f = np.exp(z)
        return tops_per_w_log_loss(ms, float(c), float(f))

    grid = [np.array([a, b]) for a in np.linspace(lo[0], hi[0], 25) for b in np.linspace(lo[1], hi[1], 13)]
    z0 = min(grid, key=loss)
    res = minimize(loss, z0, method="L-BFGS-B", bounds=list(zip(lo, hi)))
    c, f = np.exp(res.x if res.fun <= loss(z0) else z0)
    return float(c), float(f)


def _fit_with_errors(macros: list[PublishedMacro] | None, fit: Callable[[list[PublishedMacro]], tuple[float, float]]
                     ) -> tuple[tuple[float, float], tuple[float, ...], tuple[float, ...], tuple[str, ...]]:
    """`fit` on the TOPS/W of the macros inside the model (`outside_the_adc_survey` is None): its (cell energy,
    ADC FoM), the in-sample errors and the leave-one-out errors (refit without each macro), in %."""
    ms = [pm for pm in (macros if macros is not None else load_macros()) if outside_the_adc_survey(pm) is None]

    def err(pm: PublishedMacro, params: tuple[float, float]) -> float:
        c, f = params
        return 100.0 * (predicted_tops_per_w(pm, cell_energy_28nm_j=c, adc_fom_j=f) / pm.tops_per_w - 1)

    params = fit(ms)
    ins = tuple(err(pm, params) for pm in ms)
    loo = tuple(err(pm, fit(ms[:i] + ms[i + 1:])) for i, pm in enumerate(ms))
    return params, ins, loo, tuple(pm.name for pm in ms)


def fit_cell_energy(macros: list[PublishedMacro] | None = None) -> CellFit:
    """The one fitted constant, on the TOPS/W of the macros inside the model (`outside_the_adc_survey` is
    None); leave-one-out refits without each of them. Rows outside get no fit figures."""
    (e, _), ins, loo, names = _fit_with_errors(macros, _fit_cell)
    return CellFit(e, ins, loo, names)


# The alternative that `--refit` also reports and that is not adopted (docs/validation.md): the ADC's Walden
# FoM fitted together with the cell energy, bounded by the survey's interquartile range (periphery.ADC_FOM_IQR_J).
@dataclass(frozen=True)
class CellFomFit:
    cell_energy_28nm_j: float
    adc_fom_j: float
    in_sample_pct: tuple[float, ...]
    leave_one_out_pct: tuple[float, ...]
    names: tuple[str, ...]


def fit_cell_energy_and_adc_fom(macros: list[PublishedMacro] | None = None) -> CellFomFit:
    """Two constants instead of one (cell energy and the ADC's Walden FoM within the survey's interquartile
    range), in-sample and leave-one-out, on the macros inside the model. Reported by `--refit`, not adopted."""
    (c, f), ins, loo, names = _fit_with_errors(macros, _fit_cell_fom)
    return CellFomFit(c, f, ins, loo, names)


def _print_errors(names: tuple[str, ...], ins: tuple[float, ...], loo: tuple[float, ...]) -> None:
    width = max(map(len, names), default=0)
    for name, a, b in zip(names, ins, loo):
        print(f"  {name:<{width}}  in-sample {a:+8.1f}%   leave-one-out {b:+8.1f}%")
    print(f"  MAPE in-sample {np.mean(np.abs(ins)):.1f}%, leave-one-out {np.mean(np.abs(loo)):.1f}%")


def _n_macros(n: int) -> str:
    return f"{n} macro{'s' if n != 1 else ''}"


def resolve_macros(refs: list[str]) -> list[PublishedMacro]:
    """`--macro` arguments, in the order given: a macro YAML file, a directory of them, or the name of a bundled
    macro. Every problem of every argument is reported at once."""
    import difflib

    from slmsim.core.errors import Problem, SpecError, unheld

    bundled: dict[str, PublishedMacro] = {}
    unheld_count = 0
    out: list[PublishedMacro] = []
    problems: list[Problem] = []
    for ref in refs:
        path = Path(ref)
        if path.exists() or ref.endswith((".yaml", ".yml")) or "/" in ref:
            try:
                out += load_published_macros([path])
            except SpecError as exc:
                problems += exc.problems
                unheld_count += unheld(exc)
            continue
        bundled = bundled or {pm.name: pm for pm in load_macros()}  # read only when a name is given
        if ref in bundled:
            out.append(bundled[ref])
        else:
            close = difflib.get_close_matches(ref, list(bundled), n=1)
            problems.append(Problem(file="<command line>", path="--macro", message="no such file or bundled macro",
                                    value=ref, expected="a macro YAML file, a directory of them, or one of: "
                                    + ", ".join(bundled),
                                    hint=f"did you mean {close[0]!r}?" if close else
                                    "see docs/validation.md for the file format"))
    dup = sorted({pm.name for pm in out if sum(q.name == pm.name for q in out) > 1})
    if dup:
        problems.append(Problem(file="<command line>", path="--macro", message="the same macro given twice",
                                value=", ".join(dup), expected="each macro once"))
    if problems:
        raise SpecError(problems, total=len(problems) + unheld_count)
    return out


def print_report(*, as_json: bool, refit: bool, macros: list[PublishedMacro] | None = None) -> int:
    """`slmsim validate --cim [--json] [--refit] [--macro ...]`: the bundled macros, or the given ones."""
    import json

    from slmsim.core.errors import Problem, SpecError

    ms = load_macros() if macros is None else macros
    if refit and sum(outside_the_adc_survey(pm) is None for pm in ms) < 2:
        raise SpecError([Problem(file="<command line>", path="--refit", message="a fit with leave-one-out needs at "
                                 "least 2 macros inside the model", value=len(ms),
                                 expected=">= 2 macros whose published figure the ADC model can describe",
                                 hint="add macros, or drop --refit to predict with the shipped constant")])
    rs = rows(ms)
    if as_json:
        print(json.dumps([{"macro": r.macro, "metric": r.metric, "measured": r.measured, "predicted": r.predicted,
                           "error_pct": r.error_pct, "source": r.source, "excluded": r.excluded} for r in rs],
                         indent=2))
        return 0
    from slmsim.commands.tables import Table, emit

    blocks: list[Table | str] = []
    if macros is not None:
        blocks.append(f"{_n_macros(len(ms))} given with --macro, predicted with the shipped constants "
                      "(CELL_ENERGY_J fitted on the bundled macros, not on these)")
    table = Table("published vs predicted", ["macro", "style", "node", "metric", "published", "predicted", "error",
                                             "note"], align="llrlrrrl")
    by_name = {pm.name: pm for pm in ms}
    for r in rs:
        pm = by_name[r.macro]
        table.add(r.macro, pm.macro.style.value, f"{pm.node_m * 1e9:.0f}nm", r.metric, f"{r.measured:.4g}",
                  f"{r.predicted:.4g}", f"{r.error_pct:+.1f}%", "outside the model" if r.excluded else "")
    lines: list[str] = []
    for metric in ("tops_per_w", "tops_per_mm2"):
        worst = max((r for r in rs if r.metric == metric), key=lambda r: abs(r.error_pct))
        lines.append(f"{metric}: MAPE {mape(rs, metric):.1f}% over {_n_macros(sum(r.metric == metric for r in rs))}; "
                     f"worst {worst.macro} {worst.error_pct:+.1f}%")
    inside = [r for r in rs if r.metric == "tops_per_w" and not r.excluded]
    if inside:
        worst = max(inside, key=lambda r: abs(r.error_pct))
        lines.append(f"tops_per_w inside the model: MAPE {mape(rs, 'tops_per_w', inside_only=True):.1f}% over "
                     f"{_n_macros(len(inside))}; worst {worst.macro} {worst.error_pct:+.1f}%")
    else:
        lines.append("tops_per_w inside the model: no macro (every one is outside, below)")
    lines += [f"  outside the model: {r.macro}: {r.excluded}" for r in rs if r.excluded]
    parts_table = Table("energy per op by part, fJ (model) vs 1000 / published TOPS/W",
                        ["macro", *ENERGY_PARTS, "model", "published"])
    for pm in ms:
        ops = 2.0 * pm.macro.rows * pm.outputs
        parts = {k: v / ops * 1e15 for k, v in energy_breakdown_j(pm).items()}
        parts_table.add(pm.name, *(f"{parts[k]:.3g}" for k in ENERGY_PARTS), f"{sum(parts.values()):.3g}",
                        f"{1e3 / pm.tops_per_w:.3g}")
    emit([*blocks, table, *lines, "", parts_table,
          f"fitted: CELL_ENERGY_J = {periphery.CELL_ENERGY_J:.3g} J per cell per input-bit step at 28 nm, 0.9 V; "
          f"cited: ADC_FOM_J = {periphery.ADC_FOM_J:.3g} J per conversion step (median of Murmann's ADC survey, "
          f"range {periphery.ADC_FOM_RANGE_J[0]:.3g}-{periphery.ADC_FOM_RANGE_J[1]:.3g}), ADC_ENERGY_FLOOR_J = "
          f"{periphery.ADC_ENERGY_FLOOR_J:.3g} J per conversion (the survey's energy floor) (hw_models/periphery.py); "
          "everything else is cited or an assumption stated there"])
    if refit:
        fit = fit_cell_energy(ms)
        which = "the bundled" if macros is None else "the given"
        print(f"\nrefit on TOPS/W ({which} macros inside the model): CELL_ENERGY_J = {fit.cell_energy_28nm_j:.4g} J")
        _print_errors(fit.names, fit.in_sample_pct, fit.leave_one_out_pct)
        two = fit_cell_energy_and_adc_fom(ms)
        lo, hi = periphery.ADC_FOM_IQR_J
        print(f"\nnot adopted: the ADC FoM fitted as well (bounds {lo:.3g}-{hi:.3g} J, the survey's interquartile "
              f"range): CELL_ENERGY_J = {two.cell_energy_28nm_j:.4g} J, ADC_FOM_J = {two.adc_fom_j:.4g} J")
        _print_errors(two.names, two.in_sample_pct, two.leave_one_out_pct)
    return 0
