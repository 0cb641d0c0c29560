"""Generate docs/spec-format.md from the spec classes, so the doc cannot drift from the code.

    python -m slmsim.specdoc > docs/spec-format.md
"""

from __future__ import annotations

import typing

import pydantic

from slmsim.hw_models.cim import Buffer, CimAccelerator, CimMacro, Noc, VectorUnit
from slmsim.hw_models.memory import DramTier, DramTiming, HybridBondedDramTier, SramTier
from slmsim.hw_models.processor import GpuDevice, NpuDevice
from slmsim.hw_models.spec import HardwareSpec, Link, Placement
from slmsim.core.quantity import QuantityDim
from slmsim.workloads.model import EncoderDecoderSpec, MlaSpec, ModelSpec, MoeSpec
from slmsim.workloads.scenario import Precision, Scenario

SECTIONS: list[tuple[str, type[pydantic.BaseModel]]] = [
    ("Hardware spec (top level)", HardwareSpec),
    ("placement", Placement),
    ("links", Link),
    ("devices: kind: gpu", GpuDevice),
    ("devices: kind: npu", NpuDevice),
    ("devices: kind: cim_accelerator", CimAccelerator),
    ("cim_accelerator.macro", CimMacro),
    ("cim_accelerator.vector_unit", VectorUnit),
    ("cim_accelerator.tile_buffer / global_buffer", Buffer),
    ("cim_accelerator.noc", Noc),
    ("memories: kind: sram", SramTier),
    ("memories: kind: dram", DramTier),
    ("memories: kind: hybrid_bonded_dram", HybridBondedDramTier),
    ("memories.<dram or hybrid_bonded_dram>.timing", DramTiming),
    ("Model spec (top level)", ModelSpec),
    ("model.moe", MoeSpec),
    ("model.mla", MlaSpec),
    ("model.encoder_decoder", EncoderDecoderSpec),
    ("Scenario", Scenario),
    ("scenario.precision", Precision),
]


def _type_name(tp: object) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        for meta in typing.get_args(tp)[1:]:
            if isinstance(meta, QuantityDim):
                return f"{meta.dim.value} (quantity)"
        return _type_name(typing.get_args(tp)[0])
    if origin in (typing.Union, __import__("types").UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is dict:
        k, v = typing.get_args(tp)
        return f"map {_type_name(k)} -> {_type_name(v)}"
    if origin is typing.Literal:
        return " / ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, type):
        if issubclass(tp, __import__("enum").Enum):
            return " / ".join(e.value for e in tp)
        return {"NoneType": "null", "float": "number", "int": "integer", "str": "text", "bool": "true/false"}.get(
            tp.__name__, tp.__name__)
    return str(tp)


def _row(name: str, field: pydantic.fields.FieldInfo) -> str:
    dims = [m for m in field.metadata if isinstance(m, QuantityDim)]
    kind = f"{dims[0].dim.value} (quantity)" if dims else _type_name(field.annotation)
    required = "yes" if field.is_required() else f"no (default {field.default!r})"
    desc = (field.description or "").replace("|", "\\|")
    default = field.default
    if isinstance(default, pydantic.BaseModel):
        default = "see below"
    required = "yes" if field.is_required() else f"no (default {default!r})"
    return f"| `{field.alias or name}` | {kind} | {required} | {desc} |"


def render() -> str:
    lines = [
        "# Spec format",
        "",
        "Generated from the spec classes by `python -m slmsim.specdoc`; a test keeps it current.",
        "",
        "Quantities are strings with units (`\"68 GB/s\"`, `\"0.88 pJ/bit\"`, `\"625 MHz\"`, `\"8 GiB\"`,",
        "`\"0.5 mm^2\"`), parsed once at load time into SI floats. GB is 1e9 bytes, GiB 2^30; `b` is a",
        "bit and `B` a byte. A bare number where a quantity is expected is an error. Any value may",
        "be written as `{value: X, source: \"...\"}` or `{value: X, assumption: \"...\"}` to record its",
        "provenance (presets do this for every number). A file may start with `extends: NAME_OR_PATH`",
        "and override any field; mappings merge key by key, anything else replaces.",
        "",
    ]
    for title, cls in SECTIONS:
        lines += [f"## {title}", "", (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "), "",
                  "| field | type | required | meaning |", "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            lines.append(_row(name, field))
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
