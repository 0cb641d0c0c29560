"""`slmsim check NAME|PATH`: validate a preset or a file and show every number with its origin.

What the input is comes from its content, not its name: a hardware spec has `devices` /
`memories` (or `extends:` a hardware preset), a model spec has `family` / `hidden_size`
(or `extends:` a model preset), a software-stack spec has `runs_on` / `kernels` / `costs`
(or `extends:` a stack preset), a space file has `base` and `parameters`, a scenario has only
scenario keys (`prompt_tokens`, `precision`, `decoding`, ...), a published CIM macro (the file
`validate --cim --macro` reads) has `macro`, `published` and `precision`, a `.json` file or a folder
holding `config.json` is a Hugging Face config. A bare name is a hardware, model or stack
preset (or a stack's alias, such as `ollama`).

For specs it lists every YAML path with the value as written, the SI value the simulator
uses (with its unit), and the `source:` or `assumption:` behind it; a value without either
is flagged, and so is an override (a value a file sets over what it `extends:`) without one.
Hardware also gets its silicon area; models their total and active parameters.
"""

from __future__ import annotations

import argparse
import difflib
import json
import typing
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from slmsim.commands._common import EXIT_OK
from slmsim.commands.tables import Block, Table, emit, n, q
from slmsim.core.errors import Problem, SpecError

HARDWARE_KEYS = {"devices", "memories", "placement", "links"}
MODEL_KEYS = {"family", "hidden_size", "num_layers", "num_attention_heads", "vocab_size", "intermediate_size"}
SPACE_KEYS = {"base", "parameters"}
STACK_KEYS = {"runs_on", "kernels", "costs"}
CIM_MACRO_KEYS = {"macro", "published", "precision"}  # a published CIM macro (`validate --cim --macro`)


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("check", help="validate a preset or a hardware/model/scenario/space file; list every "
                                     "value with its unit and source",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("target", metavar="NAME|PATH", help="a hardware, model or stack preset name, or a file")
    c.add_argument("--json", action="store_true", help="one JSON object: kind, summary, values, unsourced")
    c.set_defaults(func=_cmd_check)


@dataclass(frozen=True)
class Value:
    path: str
    written: Any  # as in the YAML (after `extends:` merging)
    si: float | None  # the SI float the simulator uses, for quantities
    unit: str  # SI unit of `si` ("" for plain numbers and text)
    source: str | None
    assumption: str | None
    origin: str | None  # the file the value (or its provenance) comes from
    override: bool  # set by the checked file over a value of what it extends
    number: bool  # a number or a quantity: these need a source or an assumption (names and kinds do not)

    @property
    def unsourced(self) -> bool:
        return self.number and not (self.source or self.assumption)


# ----------------------------------------------------------------------------- what is it


def kind_of(target: str) -> tuple[str, Path | None]:
    """('hardware' | 'model' | 'stack' | 'scenario' | 'space' | 'cim_macro' | 'hf_config', path or None for a
    preset)."""
    from slmsim.core.yamlio import read_yaml
    from slmsim.hw_models.load import preset_names as hw_names
    from slmsim.resources import example_path
    from slmsim.stacks.load import stack_names_and_aliases
    from slmsim.workloads.load import preset_names as model_names

    path = Path(target)
    if not path.exists() and not target.endswith((".yaml", ".yml", ".json")) and "/" not in target:
        if target in hw_names():
            return "hardware", None
        if target in model_names():
            return "model", None
        stacks = sorted(stack_names_and_aliases())
        if target in stacks:
            return "stack", None
        bundled = example_path(target)
        if bundled is not None:
            return _kind_of_tree(read_yaml(bundled), bundled), bundled
        names = hw_names() + model_names() + stacks
        close = difflib.get_close_matches(target, names, n=3, cutoff=0.5)
        raise SpecError([Problem(file=target, path="", message=f"no preset named {target!r} and no such file",
                                 value=target, expected=f"a hardware preset ({', '.join(hw_names())}), a model "
                                 f"preset ({', '.join(model_names())}), a stack ({', '.join(stacks)}) or a path",
                                 hint=(f"did you mean {', '.join(repr(c) for c in close)}?" if close
                                       else "`slmsim presets` lists the presets"))])
    if path.suffix == ".json" or (path.is_dir() and (path / "config.json").is_file()):
        return "hf_config", path
    if not path.exists():
        raise SpecError([Problem(file=target, path="", message="file not found",
                                 hint="give a preset name (`slmsim presets`) or an existing file")])
    data = read_yaml(path)
    return _kind_of_tree(data, path), path


def _kind_of_tree(data: Any, path: Path, depth: int = 0) -> str:
    from slmsim.hw_models.load import preset_names as hw_names
    from slmsim.stacks.load import preset_names as stack_names
    from slmsim.workloads.load import preset_names as model_names
    from slmsim.workloads.scenario import Scenario

    if not isinstance(data, dict):
        from slmsim.core.yamlio import not_a_mapping

        raise SpecError([not_a_mapping(data, file=str(path))])
    keys = set(data)
    if SPACE_KEYS <= keys or ("base" in keys and {"objectives", "workloads"} & keys):
        return "space"
    if HARDWARE_KEYS & keys:
        return "hardware"
    if MODEL_KEYS & keys:
        return "model"
    if STACK_KEYS & keys:
        return "stack"
    if CIM_MACRO_KEYS <= keys:
        return "cim_macro"
    scenario_keys = {f.alias or name for name, f in Scenario.model_fields.items()}
    if keys and keys <= scenario_keys:
        return "scenario"
    parent = data.get("extends")
    if isinstance(parent, str):
        if depth >= 16:
            return "hardware"  # an `extends:` cycle: the hardware loader reports it with the chain
        if parent in hw_names():
            return "hardware"
        if parent in model_names():
            return "model"
        if parent in stack_names():
            return "stack"
        ppath = path.parent / parent
        if ppath.is_file():
            from slmsim.core.yamlio import read_yaml

            return _kind_of_tree(read_yaml(ppath), ppath, depth + 1)
        if not ppath.exists() and not parent.endswith((".yaml", ".yml")) and "/" not in parent:
            # an unknown preset name: the kind whose presets it is closest to (its loader then
            # says "did you mean ...")
            import difflib

            kinds = {n: "hardware" for n in hw_names()} | {n: "model" for n in model_names()} \
                | {n: "stack" for n in stack_names()}
            close = difflib.get_close_matches(parent, list(kinds), n=1, cutoff=0.5)
            if close:
                return kinds[close[0]]
        return "hardware"  # a cycle or a missing parent: the hardware loader says which, with the chain
    raise SpecError([Problem(file=str(path), path="", message="not a hardware, model, stack, scenario, space or CIM macro file",
                             value=", ".join(sorted(keys)) or "(empty)",
                             expected="hardware: devices/memories; model: family/hidden_size; stack: runs_on/kernels/"
                                      "costs; space: base/parameters; scenario: prompt_tokens/precision/decoding; "
                                      "published CIM macro: macro/published/precision; or `extends:` a preset",
                             hint="`slmsim schema hardware|model|scenario|space|cim-macro` prints each format; "
                                  "stacks/presets/*.yaml are examples of stack files")])


# ----------------------------------------------------------------------------- values


def _leaves(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(tree, Mapping) and tree:
        for k, v in tree.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, tree


def _provenance_for(path: str, prov: Mapping[str, Any]) -> Any:
    while True:
        if path in prov:
            return prov[path]
        if "." not in path:
            return None
        path = path.rsplit(".", 1)[0]


def _own_tree(path: Path | None) -> tuple[dict[str, Any], bool]:
    """What the checked file itself writes (provenance lifted), and whether it `extends:`."""
    if path is None:
        return {}, False
    from slmsim.core.yamlio import lift_provenance, read_yaml

    data = dict(read_yaml(path) or {})
    extends = data.pop("extends", None) is not None
    plain, _ = lift_provenance(data, origin=str(path))
    return plain, extends


def values_of(model_cls: Any, tree: Mapping[str, Any], prov: Mapping[str, Any], *,
              own: Mapping[str, Any], extends: bool, default_source: str | None = None) -> list[Value]:
    """Every leaf of `tree` with its SI value and provenance; `default_source` covers numbers
    without a wrapper (a model preset's `source:` covers the whole file)."""
    from slmsim.core.quantity import QuantityDim
    from slmsim.core.units import UnitParseError, parse_quantity
    from slmsim.core.yamlio import field_info_at
    from slmsim.dse.hwtree import annotated_metadata, si_unit

    own_paths = {p for p, _ in _leaves(own)}
    out = []
    for path, written in _leaves(tree):
        if not path:
            continue
        info = field_info_at(model_cls, path.split("."), tree)
        meta = list(info.metadata) if info is not None else []
        if info is None and "." in path:  # a value of a map field (matrix_throughput.int8)
            parent = field_info_at(model_cls, path.split(".")[:-1], tree)
            if parent is not None and typing.get_origin(parent.annotation) is dict:
                value_type = typing.get_args(parent.annotation)[1]
                meta = list(typing.get_args(value_type)[1:]) if typing.get_origin(value_type) is typing.Annotated else []
        if info is not None and not any(isinstance(m, QuantityDim) for m in meta):
            meta += annotated_metadata(info.annotation)  # an optional quantity: `Power | None`
        dims = [m for m in meta if isinstance(m, QuantityDim)]
        si, unit = None, ""
        if dims and written is not None:
            try:
                si, unit = parse_quantity(written, dims[0].dim), si_unit(dims[0].dim)
            except UnitParseError:  # validation already passed; a wrapper-less number in an SI context
                si = None
        pv = _provenance_for(path, prov)
        number = si is not None or (isinstance(written, (int, float)) and not isinstance(written, bool)) or (
            isinstance(written, list) and all(isinstance(x, (int, float)) for x in written) and bool(written))
        source = getattr(pv, "source", None)
        if pv is None and default_source and not (extends and path in own_paths):
            source = default_source
        out.append(Value(path=path, written=written, si=si, unit=unit, source=source,
                         assumption=getattr(pv, "assumption", None), origin=getattr(pv, "origin_file", None),
                         override=extends and path in own_paths, number=number))
    return out


# ----------------------------------------------------------------------------- command


def _cmd_check(args: argparse.Namespace) -> int:
    kind, path = kind_of(args.target)
    report = {"hardware": _check_hardware, "model": _check_model, "stack": _check_stack, "hf_config": _check_hf_config,
              "scenario": _check_scenario, "space": _check_space, "cim_macro": _check_cim_macro}[kind](args.target, path)
    if args.json:
        from slmsim.core.version import __version__

        print(json.dumps({"slmsim_version": __version__, **report["json"]}, indent=2, default=str))
    else:
        emit(report["blocks"])
    return EXIT_OK


def _values_blocks(values: list[Value], *, title: str) -> list[Block]:
    t = Table(title, ("YAML path", "value", "SI value", "source / assumption"), align="llrl")
    for v in values:
        why = (f"source: {v.source}" if v.source else f"assumption: {v.assumption}" if v.assumption
               else "" if not v.number else "UNSOURCED override" if v.override else "no source or assumption")
        si = f"{v.si:.4g} {v.unit}" if v.si is not None else ""
        t.add(v.path, _short(v.written), si, _short(why, 90))
    blocks: list[Block] = [t]
    unsourced = [v for v in values if v.unsourced]
    overrides = [v for v in unsourced if v.override]
    numbers = sum(v.number for v in values)
    blocks.append(f"  {numbers - len(unsourced)} of {numbers} numbers carry a source or an assumption"
                  + (f"; {len(unsourced)} do not" if unsourced else ""))
    if overrides:
        blocks.append(f"  warning: {len(overrides)} override(s) without a source or assumption: "
                      + ", ".join(v.path for v in overrides)
                      + " (write them as {value: ..., source: \"...\"} or {value: ..., assumption: \"...\"})")
    return blocks


def _served_as(sv: Any) -> str:
    """One line for a workload's request stream (dse.space.ServingSpec), or '-' for one batch."""
    if sv is None:
        return "-"
    arrivals = {"poisson": f"{sv.requests} Poisson at {sv.rate:g}/s", "closed": f"{sv.requests}, {sv.concurrency} out",
                "fixed": f"{sv.requests} at t=0"}[sv.arrivals]
    sched = f"mixed {sv.step_tokens or 'chunk'}" if sv.schedule == "mixed" else "prefill-first"
    return f"{arrivals}, max batch {sv.max_batch}, {sched}, KV {sv.kv_policy}, {sv.statistic}"


def _short(x: Any, width: int = 40) -> str:
    s = json.dumps(x) if isinstance(x, (list, dict, bool)) or x is None else str(x)
    return s if len(s) <= width else s[: width - 1] + "…"


def _values_json(values: list[Value]) -> dict[str, Any]:
    return {"values": [{**asdict(v), "unsourced": v.unsourced} for v in values],
            "unsourced": [v.path for v in values if v.unsourced],
            "unsourced_overrides": [v.path for v in values if v.unsourced and v.override]}


def _check_hardware(target: str, path: Path | None) -> dict[str, Any]:
    from slmsim.dse.candidate import system_area_mm2
    from slmsim.hw_models.load import load_hardware
    from slmsim.hw_models.spec import HardwareSpec

    hw = load_hardware(path if path is not None else target)
    spec = hw.spec
    own, extends = _own_tree(path)
    values = values_of(HardwareSpec, hw.raw, hw.provenance, own=own, extends=extends)
    area, unknown = system_area_mm2(spec)
    head: list[Block] = [f"{target}: OK, hardware '{spec.name}' ({' -> '.join(hw.chain)})",
                         f"  {spec.description}" if spec.description else ""]
    t = Table("Devices and memories", ("name", "kind", "figures"), align="lll")
    for name, dev in spec.devices.items():
        facts = []
        if hasattr(dev, "macro_count"):
            facts.append(f"{dev.macro_count} macros, {n(dev.area_mm2)} mm²")
        elif getattr(dev, "area_mm2", None):
            facts.append(f"{n(dev.area_mm2)} mm²")
        t.add(name, dev.kind, ", ".join(facts))
    for name, tier in spec.memories.items():
        t.add(name, tier.kind, f"peak {q(tier.peak_bandwidth_bytes_per_s, 'bytes/s')}, capacity "
                               f"{q(tier.capacity_bytes, 'bytes')}")
    area_line = (f"  area: {n(area)} mm² (devices and on-chip memory tiers)" if area is not None else
                 f"  area: unknown ({', '.join(unknown)} state no area)")
    blocks = [b for b in head if b] + [t, area_line, ""] + _values_blocks(values, title="Values")
    return {"blocks": blocks,
            "json": {"kind": "hardware", "name": spec.name, "chain": list(hw.chain), "area_mm2": area,
                     "area_unknown_devices": unknown, **_values_json(values)}}


def _model_summary(target: str, m: Any, chain: str) -> tuple[list[Block], dict[str, Any]]:
    kind = "encoder-decoder" if m.encoder_decoder else ("MoE" if m.moe else "dense")
    lines: list[Block] = [f"{target}: OK, model {m.name} ({m.family.value}, {kind}){chain}",
                          f"  parameters: {n(m.total_params() / 1e9, 4)} B total, {n(m.active_params() / 1e9, 4)} B "
                          "active per token",
                          f"  KV cache: {q(m.kv_bytes_per_token(16), 'bytes')} per token at 16 bits",
                          f"  context: {m.max_position_embeddings:,} positions" if m.max_position_embeddings
                          else "  context: max_position_embeddings not given"]
    if m.moe is not None:
        lines.append(f"  experts: {m.moe.num_experts} per layer, top-{m.moe.top_k}")
    if m.sliding_window is not None:
        lines.append(f"  sliding window: {m.sliding_window.layers} of {m.num_layers} layers attend over the last "
                     f"{m.sliding_window.tokens:,} tokens (their KV cache stops growing past the window)")
    return lines, {"name": m.name, "family": m.family.value, "architecture": kind,
                   "total_params": m.total_params(), "active_params": m.active_params(),
                   "max_position_embeddings": m.max_position_embeddings,
                   "sliding_window": m.sliding_window.model_dump() if m.sliding_window is not None else None}


def _check_model(target: str, path: Path | None) -> dict[str, Any]:
    from slmsim.core.yamlio import resolve, validate
    from slmsim.workloads.load import preset_names, preset_path
    from slmsim.workloads.model import ModelSpec

    raw = resolve(path if path is not None else target, presets=preset_path, preset_names=preset_names,
                  what="model")
    m = validate(ModelSpec, raw)
    own, extends = _own_tree(path)
    values = values_of(ModelSpec, raw.data, raw.provenance, own=own, extends=extends,
                       default_source=f"{m.source} (the spec's `source:`)" if m.source else None)
    lines, summary = _model_summary(target, m, f" ({' -> '.join(raw.chain)})")
    return {"blocks": lines + [""] + _values_blocks(values, title="Values"),
            "json": {"kind": "model", "chain": list(raw.chain), **summary, **_values_json(values)}}


def _check_stack(target: str, path: Path | None) -> dict[str, Any]:
    from slmsim.stacks.load import load_stack, stack_names_and_aliases
    from slmsim.stacks.spec import StackSpec

    loaded = load_stack(path if path is not None else stack_names_and_aliases()[target])  # validated
    spec, raw = loaded.spec, loaded.raw
    own, extends = _own_tree(path)
    values = values_of(StackSpec, raw.data, raw.provenance, own=own, extends=extends)
    window = (f"{spec.static_context_window_tokens:,} tokens" if spec.static_context_window_tokens
              else "none (attends over the tokens so far)")
    lines: list[Block] = [f"{target}: OK, stack '{spec.name}' ({' -> '.join(raw.chain)})",
                          f"  {spec.description}",
                          f"  runs on: {', '.join(spec.runs_on)}; formats: {', '.join(spec.formats)}",
                          f"  cost classes: {', '.join(spec.costs)}; static context window: {window}",
                          *[f"  does not run on {c}: {why}" for c, why in spec.not_on_device_classes.items()], ""]
    return {"blocks": lines + _values_blocks(values, title="Values"),
            "json": {"kind": "stack", "name": spec.name, "chain": list(raw.chain), "runs_on": list(spec.runs_on),
                     "formats": list(spec.formats), "cost_classes": list(spec.costs),
                     "not_on_device_classes": dict(spec.not_on_device_classes), **_values_json(values)}}


def _check_hf_config(target: str, path: Path | None) -> dict[str, Any]:
    from slmsim.workloads.load import load_model

    assert path is not None
    m = load_model(path)
    lines, summary = _model_summary(target, m, " from a Hugging Face config.json")
    t = Table("Fields read", ("field", "value"), align="ll")
    for k, v in m.model_dump(mode="json", exclude_none=True).items():
        if not isinstance(v, dict):
            t.add(k, _short(v, 60))
    return {"blocks": lines + ["", t], "json": {"kind": "hf_config", **summary}}


def _check_scenario(target: str, path: Path | None) -> dict[str, Any]:
    import pydantic

    from slmsim.core.yamlio import lift_provenance, problems_from, read_yaml
    from slmsim.workloads.scenario import Scenario

    assert path is not None
    plain, prov = lift_provenance(read_yaml(path) or {}, origin=str(path))
    try:
        sc = Scenario.model_validate(plain)
    except pydantic.ValidationError as exc:
        raise SpecError(problems_from(exc, model=Scenario, data=plain, file=str(path))) from None
    values = values_of(Scenario, plain, prov, own={}, extends=False)
    p = sc.precision
    lines: list[Block] = [f"{target}: OK, scenario: prompt {sc.prompt_tokens}, generate {sc.gen_tokens}, "
                          f"batch {sc.batch}, W{p.weight_bits} A{p.activation_bits} KV{p.kv_bits}, "
                          f"decoding {sc.decoding.strategy}",
                          "  (flags given to `slmsim simulate --scenario` override these values)", ""]
    return {"blocks": lines + _values_blocks(values, title="Values"),
            "json": {"kind": "scenario", "scenario": sc.model_dump(mode="json"), **_values_json(values)}}


def _check_cim_macro(target: str, path: Path | None) -> dict[str, Any]:
    from slmsim.published_macro import PublishedMacroSpec, read_published_macro
    from slmsim.validation_cim import outside_the_adc_survey, predicted_tops_per_w

    assert path is not None
    pm, plain, prov = read_published_macro(path)  # every check of `validate --cim --macro`
    # the file's `source:` covers its numbers (as a model preset's does); per-value wrappers override it
    values = [v for v in values_of(PublishedMacroSpec, plain, prov, own={}, extends=False, default_source=pm.source)
              if v.path.split(".")[0] not in ("name", "paper", "source", "parameter_sources")]  # text, shown apart
    sources = Table("Parameter sources", ("parameter", "source"), align="ll")
    for key, text in (plain.get("parameter_sources") or {}).items():
        sources.add(key, _short(str(text), 110))
    pred = predicted_tops_per_w(pm)
    outside = outside_the_adc_survey(pm)
    lines: list[Block] = [
        f"{target}: OK, published CIM macro '{pm.name}': {pm.macro.style.value}, {pm.node_m * 1e9:.0f} nm, "
        f"{pm.vdd_v:.3g} V, {pm.input_bits}b x {pm.weight_bits}b",
        f"  published {pm.tops_per_w:.4g} TOPS/W, predicted {pred:.4g} ({100 * (pred / pm.tops_per_w - 1):+.1f}%)"
        + (f"; outside the model: {outside}" if outside else ""),
        f"  paper: {_short(pm.paper, 110)}",
        f"  (`slmsim validate --cim --macro {path}` gives the energy by part and TOPS/mm^2)", ""]
    return {"blocks": lines + _values_blocks(values, title="Values") + ([sources] if sources.rows else []),
            "json": {"kind": "cim_macro", "name": pm.name, "published_tops_per_w": pm.tops_per_w,
                     "predicted_tops_per_w": pred, "excluded": outside, **_values_json(values)}}


def _check_space(target: str, path: Path | None) -> dict[str, Any]:
    from slmsim.dse.space import load_space

    assert path is not None
    loaded = load_space(path)
    sp = loaded.space
    grid = sp.grid_size()
    t = Table("Parameters", ("YAML path", "kind", "values", "unit"), align="llll")
    for prm in sp.params:
        d = prm.to_dict()
        unit = d.get("unit") or ""
        vals = (", ".join(str(c) for c in d["choices"]) if d["kind"] == "categorical"
                else f"{q(d['low'], unit, 4)} .. {q(d['high'], unit, 4)}"
                + (f" step {q(d['step'], unit, 4)}" if d.get("step") else "") + (" (log)" if d.get("log") else ""))
        t.add(prm.path, d["kind"], _short(vals, 60), d.get("unit") or "")
    served = any(wl.serving is not None for wl in sp.workloads)
    w = Table("Workloads", ("name", "model", "prompt", "gen", "batch", "W/A/KV bits", *(("served as",) if served else ())))
    for wl in sp.workloads:
        row = [wl.name, wl.model, wl.prompt, wl.gen, wl.batch, f"{wl.weight_bits}/{wl.act_bits}/{wl.kv_bits}"]
        if served:
            row.append(_served_as(wl.serving))
        w.add(*row)
    objs = ", ".join(f"{o.direction.value} {o.metric.value}" for o in sp.objectives)
    cons = ", ".join(c.text for c in sp.constraints) or "none"
    blocks: list[Block] = [f"{target}: OK, space '{sp.name}' over base {sp.base}",
                           f"  {len(sp.params)} parameters, {len(sp.workloads)} workloads ({sp.aggregate.value}); "
                           + (f"grid of {grid:,} points" if grid else "continuous (no finite grid)"),
                           f"  objectives: {objs}", f"  constraints: {cons}",
                           f"  baselines: {', '.join(sp.baselines)}", "", t, w]
    return {"blocks": blocks, "json": {"kind": "space", "space": sp.to_dict(), "grid_size": grid}}
