"""Reading a space file and checking every rule, reporting all problems at once.

`dse.space.load_space` is the entry point; this module turns the raw YAML into the
resolved `Space` (units parsed, paths checked against the base spec, defaults filled).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic

from slmsim.mapping.energy_boundary import EnergyBoundary, parse_boundary
from slmsim.dse.hwtree import (
    LeafKind,
    close_path,
    get_at,
    is_schema_field,
    leaf_at,
    si_unit,
    to_si,
    walk,
)
from slmsim.dse.metrics import METRICS, Direction, Metric
from slmsim.dse.space import (
    Constraint,
    LoadedSpace,
    Objective,
    Param,
    ServingSpec,
    Space,
    WorkloadSpec,
    _ParamRaw,
    _set,
    _SpaceRaw,
    _WorkloadRaw,
)
from slmsim.hw_models.load import hardware_from_raw, resolve_hardware
from slmsim.core.errors import Problem, SpecError, unheld
from slmsim.core.units import UnitParseError, parse_quantity
from slmsim.core.yamlio import RawSpec, not_a_mapping, problems_from, read_yaml
from slmsim.workloads.load import load_model
from slmsim.workloads.model import ModelSpec


def check_space(path: Path) -> LoadedSpace:
    shown = str(path)
    data = read_yaml(path, display=shown)
    if not isinstance(data, dict):
        raise SpecError([not_a_mapping(data, file=shown, expected="base:, parameters:, workloads:, objectives:",
                                       hint="see docs/dse.md for the space format")])
    try:
        raw = _SpaceRaw.model_validate(data)
    except pydantic.ValidationError as exc:
        raise SpecError(problems_from(exc, model=_SpaceRaw, data=data, file=shown)) from None
    return _Resolver(raw, file=shown, folder=path.parent).resolve()


_PROCESSOR_KINDS = ("gpu", "npu", "cpu")
# fields the evaluation of a trial never reads (a DSE workload runs without a software stack,
# whose kernel costs are the only reader of a processor's clock)
_INERT_PROCESSOR = {
    "max_power": "a processor's max_power only feeds simulate's throttling warning (slmsim does not cap power); "
                 "constrain the power metric instead (constraints: [\"power <= 15 W\"])",
    "technology_node": "a processor's technology_node is informative (its figures are given, not scaled)",
    "clock": "a processor's clock is read only by a software stack's per-cycle kernel costs, and DSE workloads "
             "run without a stack; vary matrix_throughput / vector_throughput instead",
}
_INERT_MEMORY = {"technology": "a memory's technology is informative (the figures come from its fields)"}


def _inert(parts: tuple[str, ...], base_tree: Mapping[str, Any]) -> str | None:
    """Why a parameter at `parts` cannot change any metric, or None."""
    if len(parts) != 3:
        return None
    owner = base_tree.get(parts[0], {}).get(parts[1]) if isinstance(base_tree.get(parts[0]), Mapping) else None
    if not isinstance(owner, Mapping):
        return None
    if parts[0] == "devices" and owner.get("kind") in _PROCESSOR_KINDS:
        return _INERT_PROCESSOR.get(parts[2])
    if parts[0] == "memories":
        return _INERT_MEMORY.get(parts[2])
    return None


def _ref_relative(ref: str, folder: Path) -> str:
    """A spec reference: preset names stay; paths are relative to the space file."""
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref:
        return str((folder / ref).resolve())
    return ref


# METRIC OP VALUE, strictly: one comparison, then a value that starts like a number
# ("area <<= 40 mm^2" used to read as "<= 40"). The value itself is parsed by parse_quantity.
_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][\w]*)\s*([<>=!]+)\s*([^<>=!]*?)\s*$")
_OPS = ("<=", ">=", "=<", "=>")  # inclusive bounds only: a strict < or > is refused, not read as <= / >=


class _Resolver:
    def __init__(self, raw: _SpaceRaw, *, file: str, folder: Path) -> None:
        self.raw = raw
        self.file = file
        self.folder = folder
        self.problems: list[Problem] = []
        self.unheld = 0  # problems a loader's error counted beyond its bounded list

    def problem(self, path: str, message: str, *, value: Any = None, expected: str | None = None,
                hint: str | None = None) -> None:
        self.problems.append(Problem(file=self.file, path=path, message=message, value=value,
                                     expected=expected, hint=hint))

    def resolve(self) -> LoadedSpace:
        raw = self.raw
        base_ref = _ref_relative(raw.base, self.folder)
        base_raw: RawSpec | None = None
        try:
            base_raw = resolve_hardware(base_ref)
            hardware_from_raw(base_raw)
        except SpecError as exc:
            self.unheld += unheld(exc)
            for p in exc.problems:
                if p.path == "" and "preset" in p.message:
                    self.problem("base", p.message, value=raw.base, expected=p.expected, hint=p.hint)
                else:
                    self.problems.append(p)
            base_raw = None
        base_tree = base_raw.data if base_raw is not None else {}
        base_si = to_si(base_tree, (), base_tree) if base_raw is not None else {}
        params = self._params(base_tree, base_si) if base_raw is not None else ()
        workloads, models = self._workloads()
        objectives = self._objectives()
        constraints = self._constraints()
        baselines = self._baselines()
        boundary = self._boundary(raw.energy_boundary)
        reference = self._reference(objectives)
        if base_raw is not None:
            self._check_area(base_si, objectives, constraints)
        if self.problems:
            raise SpecError(self.problems, total=len(self.problems) + self.unheld)
        space = Space(
            file=self.file, name=raw.name or Path(self.file).stem, description=raw.description, base=base_ref,
            params=params, workloads=workloads, aggregate=raw.aggregate, objectives=objectives,
            constraints=constraints, baselines=baselines, reference=reference, energy_boundary=boundary,
        )
        return LoadedSpace(space=space, base_tree=copy.deepcopy(base_tree), base_si=base_si, models=models)

    def _boundary(self, text: str) -> EnergyBoundary:
        try:
            return parse_boundary(text)
        except ValueError:
            self.problem("energy_boundary", "unknown energy boundary", value=text,
                         expected="chip, chip+memory or board", hint="docs/architecture.md says what each counts")
            return EnergyBoundary.BOARD

    # -- parameters ---------------------------------------------------------------------

    def _params(self, base_tree: dict[str, Any], base_si: dict[str, Any]) -> tuple[Param, ...]:
        out: list[Param] = []
        for path, spec in self.raw.parameters.items():
            where = f"parameters[{path}]"
            if not isinstance(spec, Mapping):
                self.problem(where, "a parameter needs `choices:` or `low:`/`high:`", value=spec,
                             expected="{choices: [...]} or {low: ..., high: ..., log: false, step: null}",
                             hint=f"e.g. {path}: {{choices: [{spec!r}, ...]}}" if spec is not None else None)
                continue
            try:
                ps = _ParamRaw.model_validate(spec)
            except pydantic.ValidationError as exc:
                for p in problems_from(exc, model=_ParamRaw, data=spec, file=self.file):
                    self.problems.append(Problem(file=p.file, path=f"{where}.{p.path}" if p.path else where,
                                                 message=p.message, value=p.value, expected=p.expected, hint=p.hint))
                continue
            param = self._param(path, ps, where, base_tree, base_si)
            if param is not None:
                out.append(param)
        self._check_overlaps(out)
        return tuple(out)

    def _param(self, path: str, ps: _ParamRaw, where: str, base_tree: dict[str, Any],
               base_si: dict[str, Any]) -> Param | None:
        parts = tuple(path.split("."))
        exists, current = get_at(base_tree, parts)
        named = base_tree.get(parts[0]) if parts[0] in ("devices", "memories") else None
        if not exists and isinstance(named, Mapping) and len(parts) > 2 and parts[1] not in named:
            # a field of a device or memory the base spec does not have: every trial would be
            # an invalid design ("missing 'kind:'"), so say it now
            close = difflib.get_close_matches(parts[1], list(named), n=1)
            kind = "device" if parts[0] == "devices" else "memory"
            self.problem(where, f"no {kind} '{parts[1]}' in the base spec", value=path,
                         expected=f"one of its {parts[0]}: " + ", ".join(named),
                         hint=f"did you mean '{parts[0]}.{close[0]}.{'.'.join(parts[2:])}'?" if close else
                         f"add the {kind} to the base spec, or choose it whole with `{parts[0]}.{parts[1]}: "
                         "{choices: ...}`")
            return None
        if not exists and not is_schema_field(parts, base_tree):
            close = close_path(path, base_tree)
            self.problem(where, f"no field '{path}' in the base spec", value=path,
                         expected="a dotted path into the base spec, e.g. " + _examples(base_tree),
                         hint=f"did you mean '{close}'?" if close else
                         "run `slmsim check <base>` and look at the spec's keys; paths use YAML names")
            return None
        inert = _inert(parts, base_tree)
        if inert is not None:
            self.problem(where, f"'{path}' changes no metric: {inert}", value=path,
                         hint="vary a field the simulation uses (`slmsim check <base>` lists the spec's fields), "
                              "or drop this parameter: every trial would repeat the same design")
            return None
        subtree = isinstance(current, Mapping)
        leaf = None if subtree else leaf_at(parts, base_tree)
        if not subtree and leaf is None:
            self.problem(where, f"'{path}' is not a value a parameter can set", value=path,
                         expected="a number, quantity, enum or a sub-tree of the spec")
            return None
        has_range = ps.low is not None or ps.high is not None
        if ps.choices is not None and has_range:
            self.problem(where, "give either `choices:` or `low:`/`high:`, not both", hint="remove one of them")
            return None
        if ps.choices is None and not has_range:
            self.problem(where, "a parameter needs `choices:` or `low:` and `high:`",
                         expected="{choices: [...]} or {low: ..., high: ...}")
            return None
        if ps.choices is not None:
            return self._choices(path, parts, ps, where, leaf, subtree, base_tree, base_si)
        if subtree:
            self.problem(where, f"'{path}' is a sub-tree of the spec; a range needs a single value",
                         expected="choices: named alternatives (mappings merged into the sub-tree)",
                         hint=f"use a leaf such as '{path}.{next(iter(current))}'" if current else None)
            return None
        assert leaf is not None
        return self._range(path, parts, ps, where, leaf, base_si)

    def _range(self, path: str, parts: tuple[str, ...], ps: _ParamRaw, where: str, leaf: Any,
               base_si: dict[str, Any]) -> Param | None:
        if ps.low is None or ps.high is None:
            missing = "low" if ps.low is None else "high"
            self.problem(f"{where}.{missing}", f"a range needs both `low:` and `high:`; `{missing}:` is missing")
            return None
        if leaf.kind in (LeafKind.BOOL, LeafKind.ENUM, LeafKind.STR):
            what = {LeafKind.BOOL: "true/false", LeafKind.ENUM: "one of " + ", ".join(leaf.options),
                    LeafKind.STR: "a name"}[leaf.kind]
            self.problem(where, f"'{path}' takes {what}; a range needs a number",
                         hint=f"use choices: [...]{' e.g. [' + ', '.join(leaf.options[:3]) + ']' if leaf.options else ''}")
            return None
        vals: dict[str, float | None] = {}
        for key in ("low", "high", "step"):
            v = getattr(ps, key)
            if v is None:
                vals[key] = None
                continue
            vals[key] = self._number(f"{where}.{key}", v, leaf)
        low, high, step = vals["low"], vals["high"], vals["step"]
        if low is None or high is None or (ps.step is not None and step is None):
            return None
        ok = True
        if low >= high:
            self.problem(where, "empty range: `low` must be below `high`", value={"low": ps.low, "high": ps.high},
                         expected="low < high",
                         hint="swap them, or to fix the value set it in the base spec (or use choices: [one value])")
            ok = False
        if ps.log and low <= 0:
            self.problem(f"{where}.low", "a log range needs `low` above zero", value=ps.low)
            ok = False
        if step is not None:
            if step <= 0:
                self.problem(f"{where}.step", "`step` must be above zero", value=ps.step)
                ok = False
            elif ps.log and (leaf.kind is not LeafKind.INT or step != 1):
                self.problem(where, "`log: true` and `step` cannot be combined (Optuna samples either on a log "
                             "scale or on a grid)", hint="drop `step`, or drop `log`")
                ok = False
            elif ok:
                n = (high - low) / step
                if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
                    top = low + math.floor(n) * step
                    self.problem(where, "`high - low` is not a whole number of steps", value=ps.step,
                                 expected="a step that divides the range",
                                 hint=f"set high to {_fmt_like(top, ps.high, leaf)} or change the step")
                    ok = False
        if not ok:
            return None
        for key, v, raw_v in (("low", low, ps.low), ("high", high, ps.high)):
            self._check_value(f"{where}.{key}", parts, v, raw_v, base_si)
        if leaf.kind is LeafKind.INT:
            return Param(path=path, kind="int", unit=None, low=int(low), high=int(high),
                         step=int(step) if step is not None else None, log=ps.log)
        unit = si_unit(leaf.dim) if leaf.kind is LeafKind.QUANTITY else None
        return Param(path=path, kind="float", unit=unit, low=float(low), high=float(high),
                     step=float(step) if step is not None else None, log=ps.log)

    def _number(self, where: str, value: Any, leaf: Any) -> float | None:
        if leaf.kind is LeafKind.QUANTITY:
            try:
                return parse_quantity(value, leaf.dim)
            except UnitParseError as exc:
                self.problem(where, str(exc), value=value, expected=exc.expected, hint=exc.hint)
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(where, f"expected a number, got {type(value).__name__}", value=value,
                         expected="an integer" if leaf.kind is LeafKind.INT else "a number",
                         hint="this field has no unit; write a bare number" if isinstance(value, str) else None)
            return None
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond float range
            finite = False
        if not finite:
            self.problem(where, f"{value!r} is not a finite number", value=value, expected="a finite number")
            return None
        if leaf.kind is LeafKind.INT and not float(value).is_integer():
            self.problem(where, f"{value!r} is not an integer", value=value, expected="an integer")
            return None
        return int(value) if leaf.kind is LeafKind.INT else float(value)

    def _check_value(self, where: str, parts: tuple[str, ...], value: Any, shown: Any,
                     base_si: dict[str, Any], *, below: bool = False) -> None:
        """Put one value into the base and validate: report problems at (or under) its path."""
        tree = copy.deepcopy(base_si)
        _set(tree, parts, value, merge=below)
        try:
            hardware_from_raw(RawSpec(data=tree, provenance={}, file=self.file, chain=(self.file,)), si_floats=True)
        except SpecError as exc:
            prefix = ".".join(parts)
            for p in exc.problems:
                if below:
                    if not p.path.startswith(prefix + "."):
                        continue  # cross-field checks may be met by other parameters
                    sub = p.path[len(prefix) + 1:]
                    self.problem(f"{where}.{sub}", p.message, value=p.value, expected=p.expected, hint=p.hint)
                elif p.path == prefix:
                    self.problem(where, p.message, value=shown, expected=p.expected, hint=p.hint)

    def _choices(self, path: str, parts: tuple[str, ...], ps: _ParamRaw, where: str, leaf: Any, subtree: bool,
                 base_tree: dict[str, Any], base_si: dict[str, Any]) -> Param | None:
        choices = ps.choices
        assert choices is not None
        if ps.log or ps.step is not None:
            self.problem(where, "`log:` and `step:` apply to ranges, not to choices", hint="remove them")
        if len(choices) == 0:
            self.problem(f"{where}.choices", "no choices given", expected="at least one value")
            return None
        named = isinstance(choices, Mapping)
        items = list(choices.items()) if named else list(enumerate(choices))
        labels: list[Any] = []
        values: list[Any] = []
        for key, value in items:
            cw = f"{where}.choices.{key}" if named else f"{where}.choices[{key}]"
            if subtree:
                if not isinstance(value, Mapping):
                    self.problem(cw, f"'{path}' is a sub-tree; each choice must be a mapping merged into it",
                                 value=value, expected="e.g. {technology: lpddr5x, bandwidth: '273 GB/s'}",
                                 hint=f"to vary one value, use a leaf path such as '{path}.<field>'")
                    continue
                bad = self._check_subtree_keys(cw, parts, value, base_tree)
                if bad:
                    continue
                merged = copy.deepcopy(base_tree)
                _set(merged, parts, copy.deepcopy(dict(value)), merge=True)
                si_value = to_si(dict(value), parts, merged)
                self._check_value(cw, parts, si_value, value, base_si, below=True)
                labels.append(str(key) if named else f"alt{key + 1}")
                values.append(si_value)
                continue
            if isinstance(value, Mapping) or isinstance(value, list):
                self.problem(cw, f"'{path}' takes a single value, not a {type(value).__name__}", value=value)
                continue
            v = self._choice_value(cw, value, leaf)
            if v is None:
                continue
            self._check_value(cw, parts, v, value, base_si)
            labels.append(str(key) if named else v)
            values.append(v)
        if len(labels) != len(items):
            return None
        dup = [lab for i, lab in enumerate(labels) if lab in labels[:i]]
        if dup:
            self.problem(f"{where}.choices", f"duplicate choice {dup[0]!r}", value=dup[0],
                         hint="each choice must differ (after unit conversion)")
            return None
        unit = si_unit(leaf.dim) if leaf is not None and leaf.kind is LeafKind.QUANTITY else None
        return Param(path=path, kind="categorical", unit=unit, labels=tuple(labels), values=tuple(values),
                     subtree=subtree)

    def _choice_value(self, where: str, value: Any, leaf: Any) -> Any:
        if leaf.kind is LeafKind.QUANTITY:
            return self._number(where, value, leaf)
        if leaf.kind in (LeafKind.INT, LeafKind.FLOAT):
            return self._number(where, value, leaf)
        if leaf.kind is LeafKind.BOOL:
            if not isinstance(value, bool):
                self.problem(where, f"expected true or false, got {value!r}", value=value)
                return None
            return value
        if leaf.kind is LeafKind.ENUM:
            if str(value) not in leaf.options:
                close = difflib.get_close_matches(str(value), leaf.options, n=1)
                self.problem(where, f"{value!r} is not a valid choice", value=value,
                             expected="one of: " + ", ".join(leaf.options),
                             hint=f"did you mean '{close[0]}'?" if close else None)
                return None
            return str(value)
        return value if isinstance(value, str) else str(value)

    def _check_subtree_keys(self, where: str, parts: tuple[str, ...], value: Mapping[str, Any],
                            base_tree: dict[str, Any]) -> bool:
        merged = copy.deepcopy(base_tree)
        _set(merged, parts, copy.deepcopy(dict(value)), merge=True)
        bad = False
        for sub, _ in _leaves(value):
            full = (*parts, *sub)
            if not is_schema_field(full, merged) and not get_at(base_tree, full)[0]:
                ok_prefix = False
                for i in range(len(sub) - 1, 0, -1):  # a new key under a dict field (e.g. a new precision)
                    if is_schema_field((*parts, *sub[:i]), merged):
                        ok_prefix = leaf_at(full, merged) is not None
                        break
                if ok_prefix:
                    continue
                ok_parent, node = get_at(merged, full[:-1])
                options = [str(k) for k in _schema_keys(full[:-1], merged)] or (
                    [str(k) for k in node] if ok_parent and isinstance(node, Mapping) else [])
                close = difflib.get_close_matches(sub[-1], options, n=1, cutoff=0.6)
                self.problem(f"{where}.{'.'.join(sub)}", f"unknown field '{sub[-1]}' under '{'.'.join(full[:-1])}'",
                             value=sub[-1], expected=f"one of: {', '.join(sorted(options))}" if options else None,
                             hint=f"did you mean '{close[0]}'?" if close else None)
                bad = True
        return bad

    def _check_overlaps(self, params: list[Param]) -> None:
        paths = {p.path for p in params}
        for p in params:
            if not p.subtree:
                continue
            for label, value in zip(p.labels, p.values, strict=True):
                for sub, _ in _leaves(value):
                    for k in range(1, len(sub) + 1):
                        inner = ".".join((*p.parts, *sub[:k]))
                        if inner in paths:
                            self.problem(f"parameters[{p.path}].choices.{label}",
                                         f"sets '{inner}', which is also a parameter",
                                         hint=f"remove '{'.'.join(sub)}' from the choice, or the parameter '{inner}'")

    # -- workloads ----------------------------------------------------------------------

    def _workloads(self) -> tuple[tuple[WorkloadSpec, ...], dict[str, ModelSpec]]:
        defaults = dict(self.raw.workload_defaults)
        bad_default = set(defaults) - set(_WorkloadRaw.model_fields) | ({"model", "name"} & set(defaults))
        for k in sorted(bad_default):
            close = difflib.get_close_matches(k, list(_WorkloadRaw.model_fields), n=1)
            self.problem(f"workload_defaults.{k}", f"unknown workload field '{k}'" if k not in ("model", "name")
                         else f"'{k}' cannot have a default", value=k,
                         expected="prompt, gen, batch, weight_bits, act_bits, kv_bits, group_size, prefill_chunk, "
                                  "serving",
                         hint=f"did you mean '{close[0]}'?" if close and k not in ("model", "name") else None)
        defaults = {k: v for k, v in defaults.items() if k not in bad_default}
        specs: list[tuple[int, _WorkloadRaw]] = []
        for i, entry in enumerate(self.raw.workloads):
            where = f"workloads[{i}]"
            data = {"model": entry} if isinstance(entry, str) else entry
            if not isinstance(data, Mapping):
                self.problem(where, "a workload is a model name or a mapping", value=entry,
                             expected="e.g. qwen3-4b or {model: qwen3-4b, batch: 4}")
                continue
            merged = {**defaults, **data}
            try:
                specs.append((i, _WorkloadRaw.model_validate(merged)))
            except pydantic.ValidationError as exc:
                for p in problems_from(exc, model=_WorkloadRaw, data=merged, file=self.file):
                    in_defaults = p.path in defaults and p.path not in data
                    self.problems.append(Problem(
                        file=p.file, path=f"workload_defaults.{p.path}" if in_defaults else f"{where}.{p.path}",
                        message=p.message, value=p.value, expected=p.expected, hint=p.hint))
        models: dict[str, ModelSpec] = {}
        out: list[WorkloadSpec] = []
        default_names = [Path(w.model).stem if "/" in w.model or w.model.endswith((".yaml", ".json")) else w.model
                         for _, w in specs]
        for (i, w), default_name in zip(specs, default_names, strict=True):
            where = f"workloads[{i}]"
            name = w.name or default_name
            if w.name is None and default_names.count(default_name) > 1:
                name = f"{default_name}@p{w.prompt}g{w.gen}b{w.batch}w{w.weight_bits}a{w.act_bits}kv{w.kv_bits}"
            if ":" in name:
                self.problem(f"{where}.name", "a workload name cannot contain ':' (it separates columns)", value=name)
                continue
            if name in models or any(o.name == name for o in out):
                self.problem(f"{where}.name", f"duplicate workload name {name!r}", value=name,
                             hint="give each workload a distinct `name:`")
                continue
            ref = _ref_relative(w.model, self.folder)
            try:
                model = load_model(ref)
            except SpecError as exc:
                self.unheld += unheld(exc)
                for p in exc.problems:
                    if p.path == "" and p.file == ref:
                        self.problem(f"{where}.model", p.message, value=w.model, expected=p.expected, hint=p.hint)
                    else:
                        self.problems.append(p)
                continue
            serving = self._serving(f"{where}.serving", w, model) if w.serving is not None else None
            if w.serving is not None and serving is None:
                continue
            spec = WorkloadSpec(name=name, model=ref, prompt=w.prompt, gen=w.gen, batch=w.batch,
                                weight_bits=w.weight_bits, act_bits=w.act_bits, kv_bits=w.kv_bits,
                                group_size=w.group_size or None, prefill_chunk=w.prefill_chunk, serving=serving)
            try:
                spec.scenario()
            except pydantic.ValidationError as exc:
                for err in exc.errors(include_url=False):
                    self.problem(where, f"invalid scenario: {err['msg']}", value=err.get("input"))
                continue
            models[name] = model
            out.append(spec)
        return tuple(out), models

    def _serving(self, where: str, w: Any, model: ModelSpec) -> ServingSpec | None:
        """A workload's `serving:` block, checked (every problem reported, None if any)."""
        sv = w.serving
        before = len(self.problems)
        if sv.arrivals == "poisson" and sv.rate is None:
            self.problem(f"{where}.rate", "Poisson arrivals need a rate", expected="requests per second > 0",
                         hint="e.g. rate: 2")
        if sv.arrivals == "closed" and sv.concurrency is None:
            self.problem(f"{where}.concurrency", "a closed-loop client needs a concurrency",
                         expected="a whole number >= 1", hint="e.g. concurrency: 8")
        if sv.rate is not None and sv.arrivals != "poisson":
            self.problem(f"{where}.rate", "applies to arrivals: poisson only", value=sv.rate)
        if sv.concurrency is not None and sv.arrivals != "closed":
            self.problem(f"{where}.concurrency", "applies to arrivals: closed only", value=sv.concurrency)
        if sv.schedule == "mixed" and sv.step_tokens is None and w.prefill_chunk is None:
            self.problem(f"{where}.step_tokens", "the mixed schedule needs a token budget per step", expected=
                         "a whole number >= 1", hint="set serving.step_tokens, or the workload's prefill_chunk")
        if sv.step_tokens is not None and sv.schedule != "mixed":
            self.problem(f"{where}.step_tokens", "applies to schedule: mixed only", value=sv.step_tokens)
        if model.encoder_decoder is not None and (sv.schedule == "mixed" or sv.kv_policy == "paged"):
            self.problem(where, f"{model.name} is an encoder-decoder: mixed steps and paged KV are not modelled for it",
                         value=model.name, hint="schedule: prefill-first, kv_policy: wait")
        from slmsim.core.limits import MAX_DES_TOKENS

        if sv.requests * w.gen > MAX_DES_TOKENS:
            self.problem(f"{where}.requests", f"{sv.requests} requests x {w.gen} tokens is more than the DES steps "
                         f"through in a trial ({MAX_DES_TOKENS:,} tokens)", value=sv.requests,
                         hint="fewer requests or a shorter gen")
        if len(self.problems) > before:
            return None
        return ServingSpec(**sv.model_dump())

    # -- objectives, constraints, reference, baselines ----------------------------------

    def _metric(self, where: str, name: Any) -> Metric | None:
        try:
            return Metric(str(name))
        except ValueError:
            by_column = {info.column: m for m, info in METRICS.items()}
            if str(name) in by_column:
                return by_column[str(name)]
            close = difflib.get_close_matches(str(name), [m.value for m in Metric], n=1, cutoff=0.5)
            self.problem(where, f"unknown metric {name!r}", value=name,
                         expected="one of: " + ", ".join(m.value for m in Metric),
                         hint=f"did you mean '{close[0]}'?" if close else "see docs/dse.md for what each metric means")
            return None

    def _objectives(self) -> tuple[Objective, ...]:
        out: list[Objective] = []
        for i, entry in enumerate(self.raw.objectives):
            where = f"objectives[{i}]"
            if isinstance(entry, str):
                entry = {"metric": entry}
            if not isinstance(entry, Mapping) or "metric" not in entry or set(entry) - {"metric", "direction"}:
                extra = sorted(set(entry) - {"metric", "direction"}) if isinstance(entry, Mapping) else []
                self.problem(where, f"unknown key '{extra[0]}'" if extra else "an objective needs a metric",
                             value=entry if not isinstance(entry, Mapping) else None,
                             expected="a metric name, or {metric: ..., direction: minimize|maximize}")
                continue
            metric = self._metric(f"{where}.metric", entry["metric"])
            if metric is None:
                continue
            direction = METRICS[metric].natural
            if entry.get("direction") is not None:
                try:
                    direction = Direction(str(entry["direction"]))
                except ValueError:
                    self.problem(f"{where}.direction", f"{entry['direction']!r} is not a direction",
                                 value=entry["direction"], expected="minimize or maximize")
                    continue
            if any(o.metric is metric for o in out):
                self.problem(where, f"metric '{metric.value}' is already an objective", value=metric.value)
                continue
            out.append(Objective(metric=metric, direction=direction))
        return tuple(out)

    def _bound(self, where: str, metric: Metric, value: Any) -> float | None:
        info = METRICS[metric]
        if info.dim is not None:
            try:
                return parse_quantity(value, info.dim)
            except UnitParseError as exc:
                self.problem(where, f"{metric.value}: {exc}", value=value, expected=exc.expected, hint=exc.hint)
                return None
        text = str(value).strip()
        for unit in (info.unit, info.unit.replace("tokens", "token")):
            text = text.removesuffix(unit).strip()
        try:
            if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,3})?", text):
                raise ValueError(text)
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        except ValueError:
            self.problem(where, f"{metric.value} takes a plain number ({info.unit})", value=value,
                         expected=f"e.g. 20 ({info.unit})")
            return None

    def _constraints(self) -> tuple[Constraint, ...]:
        out: list[Constraint] = []
        for i, entry in enumerate(self.raw.constraints):
            where = f"constraints[{i}]"
            if isinstance(entry, str) and entry.strip().lower() in ("fits", "fit", "model must fit", "models fit"):
                continue  # always enforced: a workload that cannot be mapped has no metrics
            if isinstance(entry, str):
                m = _CONSTRAINT_RE.match(entry)
                if not m:
                    self.problem(where, "cannot read this constraint", value=entry,
                                 expected="'METRIC <= VALUE' or 'METRIC >= VALUE', e.g. 'area <= 80 mm^2'",
                                 hint="or a mapping {metric: area, max: '80 mm^2'}")
                    continue
                name, op, value = m.groups()
                if op in ("<", ">"):
                    self.problem(where, f"{op!r} is a strict bound; slmsim's bounds are inclusive (a design "
                                        "exactly at the bound is feasible)", value=entry,
                                 expected=f"'{name} {op}= VALUE'",
                                 hint=f"write {op}= (and a bound just inside yours, if equality must fail)")
                    continue
                if op not in _OPS:
                    self.problem(where, f"{op!r} is not a comparison", value=entry,
                                 expected="'METRIC <= VALUE' or 'METRIC >= VALUE', e.g. 'area <= 80 mm^2'",
                                 hint="use <= or >= once")
                    continue
                sense = "max" if "<" in op else "min"
                text = entry
            elif isinstance(entry, Mapping) and "metric" in entry and (("max" in entry) != ("min" in entry)) \
                    and not set(entry) - {"metric", "max", "min"}:
                name = entry["metric"]
                sense = "max" if "max" in entry else "min"
                value = entry[sense]
                text = f"{name} {'<=' if sense == 'max' else '>='} {value}"
            else:
                self.problem(where, "cannot read this constraint", value=entry,
                             expected="'area <= 80 mm^2', or {metric: area, max: '80 mm^2'} (one of max/min)")
                continue
            metric = self._metric(where, name)
            if metric is None:
                continue
            bound = self._bound(where, metric, value)
            if bound is None:
                continue
            if sense == "max" and bound <= 0:  # every metric is above zero: no design could be feasible
                self.problem(where, f"can never be met: {name} is above zero for every design", value=entry,
                             expected=f"a bound above zero, e.g. '{name} <= ...' with a positive value",
                             hint="or remove the constraint")
                continue
            out.append(Constraint(metric=metric, sense=sense, bound=bound, text=text))
        return tuple(out)

    def _reference(self, objectives: tuple[Objective, ...]) -> tuple[float, ...] | None:
        ref = self.raw.reference
        if ref is None:
            return None
        values: dict[Metric, float] = {}
        for name, value in ref.items():
            metric = self._metric(f"reference.{name}", name)
            if metric is None:
                continue
            if not any(o.metric is metric for o in objectives):
                self.problem(f"reference.{name}", f"'{name}' is not an objective", value=name,
                             expected="one value per objective: " + ", ".join(o.metric.value for o in objectives))
                continue
            b = self._bound(f"reference.{name}", metric, value)
            if b is not None:
                if b <= 0:
                    self.problem(f"reference.{name}", "a reference value must be above zero", value=value)
                    continue
                values[metric] = b
        missing = [o.metric.value for o in objectives if o.metric not in values]
        if missing and len(values) == len(ref):
            self.problem("reference", f"no reference for {', '.join(missing)}", value=None,
                         expected="one value per objective", hint="add them, or remove `reference:` to derive it "
                         "from the base design")
        if missing:
            return None
        return tuple(values[o.metric] for o in objectives)

    def _baselines(self) -> tuple[str, ...]:
        out: list[str] = []
        for i, ref in enumerate(self.raw.baselines):
            resolved = _ref_relative(ref, self.folder)
            try:
                hardware_from_raw(resolve_hardware(resolved))
            except SpecError as exc:
                self.unheld += unheld(exc)
                for p in exc.problems:
                    if p.path == "" and "preset" in p.message:
                        self.problem(f"baselines[{i}]", p.message, value=ref, expected=p.expected, hint=p.hint)
                    else:
                        self.problems.append(p)
                continue
            out.append(resolved)
        return tuple(out)

    def _check_area(self, base_si: dict[str, Any], objectives: tuple[Objective, ...],
                    constraints: tuple[Constraint, ...]) -> None:
        from slmsim.dse.candidate import system_area_mm2

        uses = [f"objectives[{i}]" for i, o in enumerate(objectives) if o.metric is Metric.AREA]
        uses += [f"constraints[{i}]" for i, c in enumerate(constraints) if c.metric is Metric.AREA]
        if not uses:
            return
        try:
            hw = hardware_from_raw(RawSpec(data=base_si, provenance={}, file=self.file, chain=(self.file,)),
                                   si_floats=True)
        except SpecError:
            return
        area, unknown = system_area_mm2(hw.spec)
        if area is None:
            for where in uses:
                self.problem(where, f"the base spec does not state the area of {', '.join(unknown)}",
                             expected="an `area:` on every device of the base spec",
                             hint=f"add e.g. `area: 200 mm^2` under devices.{unknown[0]} in the base spec, "
                                  "or drop the area objective/constraint")


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in tree.items():
        path = (*prefix, str(k))
        if isinstance(v, Mapping) and v:
            out.extend(_leaves(v, path))
        else:
            out.append((path, v))
    return out


def _schema_keys(parts: Sequence[str], data: Mapping[str, Any]) -> list[str]:
    from slmsim.hw_models.spec import HardwareSpec
    from slmsim.core.yamlio import _allowed_at

    try:
        return list(_allowed_at(HardwareSpec, list(parts), data))
    except Exception:  # noqa: BLE001 - only a hint
        return []


def _examples(tree: Mapping[str, Any]) -> str:
    paths = [".".join(p) for p, v in walk(tree)
             if not isinstance(v, (Mapping, bool)) and (isinstance(v, (int, float)) or any(c.isdigit() for c in str(v)))
             and len(p) >= 3][:2]
    return ", ".join(f"'{p}'" for p in paths) or "'memories.dram.bandwidth'"


def _fmt_like(value: float, original: Any, leaf: Any) -> str:
    if leaf.kind is LeafKind.QUANTITY and isinstance(original, str):
        m = re.match(r"^\s*[-+]?[\d.eE+-]+\s*(.*)$", original)
        unit = m.group(1) if m else ""
        try:
            scale = parse_quantity(f"1 {unit}", leaf.dim)
            return f"'{value / scale:g} {unit}'"
        except UnitParseError:
            pass
    return f"{value:g}"
