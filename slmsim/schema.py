"""JSON Schemas of the five input formats, generated from the pydantic spec classes.

    slmsim schema hardware > hardware.schema.json

pydantic gives the schema of the typed spec; three things make it the schema of the YAML a
user writes (docs/spec-format.md, "Editor support"):

- a quantity is a string with a unit (`"68 GB/s"`), not the SI float it becomes
  (`QuantityDim.__get_pydantic_json_schema__` in slmsim_core/quantity.py);
- any value may be a provenance wrapper `{value: X, source: "..."}` / `{value: X,
  assumption: "..."}` (`_allow_provenance`);
- a hardware or model file with `extends:` overrides only what it names, so nothing is
  required in it and a device without `kind:` keeps the kind of what it extends
  (`_with_extends`: an `if extends then <partial> else <full>` schema).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pydantic

KINDS = ("hardware", "model", "scenario", "space", "cim-macro")
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
PROVENANCE = {"type": "object", "additionalProperties": False, "required": ["value"],
              "anyOf": [{"required": ["source"]}, {"required": ["assumption"]}],
              "properties": {"source": {"type": "string", "description": "where the number comes from (a citation)"},
                             "assumption": {"type": "string", "description": "the reasoning behind an assumed number"},
                             "note": {"type": "string"}}}


def model_class(kind: str) -> type[pydantic.BaseModel]:
    if kind == "hardware":
        from slmsim.hw_models.spec import HardwareSpec

        return HardwareSpec
    if kind == "model":
        from slmsim.workloads.model import ModelSpec

        return ModelSpec
    if kind == "scenario":
        from slmsim.workloads.scenario import Scenario

        return Scenario
    if kind == "space":
        from slmsim.dse.space import _SpaceRaw

        return _SpaceRaw
    if kind == "cim-macro":
        from slmsim.published_macro import PublishedMacroSpec

        return PublishedMacroSpec
    raise KeyError(kind)


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a `kind` file as written in YAML."""
    cls = model_class(kind)
    s = cls.model_json_schema(by_alias=True, mode="validation")
    if kind == "space":
        _space_details(s)  # the space model keeps its entries loose; dse/space_check.py reads them
    else:
        _allow_provenance(s)  # space files carry no provenance wrappers
    if kind in ("hardware", "model"):
        s = _with_extends(s)
    if kind == "cim-macro":
        from slmsim.published_macro import PREDICTED_MACRO_FIELDS

        props = s["$defs"]["CimMacro"]["properties"]  # this schema's own copy: the predicted fields are refused
        for name in PREDICTED_MACRO_FIELDS:
            props.pop(name, None)
    title = {"hardware": "slmsim hardware spec", "model": "slmsim model spec", "scenario": "slmsim scenario",
             "space": "slmsim design space", "cim-macro": "slmsim published CIM macro (validate --cim --macro)"}[kind]
    return {"$schema": SCHEMA_DIALECT, "title": title, **{k: v for k, v in s.items() if k != "title"}}


def dumps(kind: str) -> str:
    return json.dumps(schema(kind), indent=2, sort_keys=False) + "\n"


def _is_object(node: dict[str, Any], defs: dict[str, Any]) -> bool:
    """A mapping (or a reference to one): a place to recurse into, not a leaf to wrap."""
    for alt in [node, *node.get("anyOf", []), *node.get("oneOf", [])]:
        ref = alt.get("$ref")
        target = defs.get(ref.rsplit("/", 1)[-1], {}) if ref else alt
        if target.get("type") == "object" or "oneOf" in target or "properties" in target:
            return True
    return False


_META = ("title", "description", "default", "examples")


def _wrap(prop: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in prop.items() if k not in _META}
    meta = {k: prop[k] for k in _META if k in prop}
    wrapper = copy.deepcopy(PROVENANCE)
    wrapper["properties"] = {"value": inner, **wrapper["properties"]}
    return {**meta, "anyOf": [inner, wrapper]}


def _allow_provenance(s: dict[str, Any]) -> None:
    defs = s.get("$defs", {})

    def visit(obj: Any) -> None:
        if isinstance(obj, list):
            for x in obj:
                visit(x)
            return
        if not isinstance(obj, dict):
            return
        for name, prop in list((obj.get("properties") or {}).items()):
            if name in ("kind", "strategy", "model") and "const" in prop:
                continue  # discriminators are never wrapped
            if _is_object(prop, defs):
                visit(prop)
            else:
                obj["properties"][name] = _wrap(prop)
        extra = obj.get("additionalProperties")
        if isinstance(extra, dict) and extra:  # the values of a map (matrix_throughput: {int8: ...})
            if _is_object(extra, defs):
                visit(extra)
            else:
                obj["additionalProperties"] = _wrap(extra)
        for key in ("anyOf", "oneOf", "allOf"):
            visit(obj.get(key))

    for node in [s, *defs.values()]:
        visit(node)


def _space_details(s: dict[str, Any]) -> None:
    from slmsim.dse.space import _ParamRaw, _WorkloadRaw

    defs = s.setdefault("$defs", {})
    param = _ParamRaw.model_json_schema()
    param["description"] = ("values of one YAML path of the base spec: `choices` (a list, or a map label -> "
                            "value or sub-tree), or a range `low`/`high` (with units where the field has one), "
                            "optionally `log` and `step`")
    workload = _WorkloadRaw.model_json_schema()
    workload["description"] = "a model preset, file or config.json with its scenario (defaults: workload_defaults)"
    defs.update(workload.pop("$defs", {}))  # the serving block's definition, referenced as #/$defs/_ServingRaw
    defs["Parameter"], defs["Workload"] = param, workload
    props = s["properties"]
    props["parameters"]["additionalProperties"] = {"$ref": "#/$defs/Parameter"}
    props["workloads"]["items"] = {"anyOf": [{"type": "string", "description": "a model preset or file"},
                                             {"$ref": "#/$defs/Workload"}]}
    props["workload_defaults"] = {**props["workload_defaults"], "additionalProperties": False,
                                  "properties": workload["properties"]}
    props["objectives"]["items"] = {"anyOf": [
        {"type": "string", "description": "a metric, in its natural direction (docs/dse.md)"},
        {"type": "object", "additionalProperties": False, "required": ["metric"],
         "properties": {"metric": {"type": "string"}, "direction": {"enum": ["minimize", "maximize"]}}}]}
    props["constraints"]["items"] = {"type": "string", "description": "e.g. 'area <= 150 mm^2'"}


def _partial(node: Any) -> Any:
    """Nothing required, references to the partial definitions, unions by anyOf."""
    if isinstance(node, list):
        return [_partial(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "required" and isinstance(v, list) and v != ["value"] and not (len(v) == 1 and v[0] in
                                                                               ("source", "assumption")):
            continue
        if k == "discriminator":
            continue
        if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
            out[k] = v + "__partial"
        elif k == "oneOf":
            out["anyOf"] = _partial(v)
        else:
            out[k] = _partial(v)
    return out


def _with_extends(s: dict[str, Any]) -> dict[str, Any]:
    defs = s.pop("$defs", {})
    extends = {"type": "string", "description": "a preset name or a path (relative to this file) whose values "
                                                "this file overrides; mappings merge key by key"}
    full = copy.deepcopy(s)
    full["properties"] = {"extends": extends, **full.get("properties", {})}
    part = _partial(copy.deepcopy(full))
    all_defs = {**defs, **{f"{k}__partial": _partial(copy.deepcopy(v)) for k, v in defs.items()}}
    head = {k: full[k] for k in ("description",) if k in full}
    return {**head, "$defs": all_defs, "type": "object",
            "if": {"required": ["extends"]}, "then": part, "else": full}
