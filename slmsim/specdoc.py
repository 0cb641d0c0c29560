"""Generate docs/spec-format.md from the spec classes, so the doc cannot drift from the code.

    python -m slmsim.specdoc > docs/spec-format.md

The meaning of each field is its pydantic `Field(description=...)`, the same text
`slmsim schema` puts into the JSON Schema an editor shows; a field without one is an error
here (`undescribed()`; a test keeps the list empty).
"""

from __future__ import annotations

import inspect
import typing

import pydantic

from slmsim.hw_models.cim import Buffer, CimAccelerator, CimMacro, Noc, VectorUnit
from slmsim.hw_models.memory import DramTier, DramTiming, HybridBondedDramTier, SramTier
from slmsim.hw_models.processor import CpuDevice, GpuDevice, HostCpu, NpuDevice
from slmsim.hw_models.spec import HardwareSpec, Link, Placement
from slmsim.core.quantity import QuantityDim
from slmsim.published_macro import PublishedMacroSpec, MacroConditions, MacroPrecision, PublishedFigures
from slmsim.workloads.decoding import Autoregressive, LexicalUnit, Multipath, SelfSpeculative, Speculative
from slmsim.stacks.spec import (BlockLayout, ChunkByMemory, FormatUse, KernelCosts, KernelsPerLayer, StackSpec,
                                WeightFormat)
from slmsim.workloads.model import EncoderDecoderSpec, MlaSpec, ModelSpec, MoeSpec, SlidingWindow
from slmsim.workloads.routing import ExpertCache, MoeScenario, Temporal, Trace, Uniform, Zipf
from slmsim.workloads.scenario import Precision, Scenario, TensorBits

SECTIONS: list[tuple[str, type[pydantic.BaseModel]]] = [
    ("Hardware spec (top level)", HardwareSpec),
    ("placement", Placement),
    ("links", Link),
    ("devices: kind: gpu", GpuDevice),
    ("devices: kind: npu", NpuDevice),
    ("devices: kind: cpu", CpuDevice),
    ("gpu / npu host_cpu", HostCpu),
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
    ("model.sliding_window", SlidingWindow),
    ("Scenario", Scenario),
    ("scenario.precision", Precision),
    ("scenario.precision.tensor_bits", TensorBits),
    ("scenario.decoding: strategy: autoregressive", Autoregressive),
    ("scenario.decoding: strategy: speculative", Speculative),
    ("scenario.decoding: strategy: self_speculative", SelfSpeculative),
    ("scenario.decoding: strategy: lexical_unit", LexicalUnit),
    ("scenario.decoding: strategy: multipath", Multipath),
    ("scenario.moe", MoeScenario),
    ("scenario.moe.routing: model: uniform", Uniform),
    ("scenario.moe.routing: model: zipf", Zipf),
    ("scenario.moe.routing: model: temporal", Temporal),
    ("scenario.moe.routing: model: trace", Trace),
    ("scenario.moe.expert_cache", ExpertCache),
    ("Software stack (stacks/presets/*.yaml)", StackSpec),
    ("stack.formats.<name>", FormatUse),
    ("stack.prefill_chunk_by_memory[]", ChunkByMemory),
    ("stack.kernels", KernelsPerLayer),
    ("stack.costs.<device class>", KernelCosts),
    ("Weight format (stacks/formats.yaml formats.<name>)", WeightFormat),
    ("format.block", BlockLayout),
    ("Published CIM macro (validate --cim --macro FILE; hw_models/macros/*.yaml)", PublishedMacroSpec),
    ("cim macro file: precision", MacroPrecision),
    ("cim macro file: conditions", MacroConditions),
    ("cim macro file: published", PublishedFigures),
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
    if origin is tuple and len(typing.get_args(tp)) == 2 and typing.get_args(tp)[1] is Ellipsis:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is typing.Literal:
        return " / ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, type):
        if issubclass(tp, __import__("enum").Enum):
            return " / ".join(e.value for e in tp)
        return {"NoneType": "null", "float": "number", "int": "integer", "str": "text", "bool": "true/false"}.get(
            tp.__name__, tp.__name__)
    return str(tp)


def _discriminator(field: pydantic.fields.FieldInfo) -> str | None:
    """`kind: gpu`-style tags: a one-value Literal explains itself."""
    if typing.get_origin(field.annotation) is typing.Literal and len(typing.get_args(field.annotation)) == 1:
        return f"selects this form (`{typing.get_args(field.annotation)[0]}`)"
    return None


def description(field: pydantic.fields.FieldInfo) -> str:
    return field.description or _discriminator(field) or ""


def _default(field: pydantic.fields.FieldInfo) -> str:
    if field.is_required():
        return "yes"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, pydantic.BaseModel):
        return "no (see below)"
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):  # an enum member
        value = value.value
    if value is None:
        return "no"
    return f"no (default `{value!r}`)" if not isinstance(value, dict) or value else "no (default: none)"


def _row(name: str, field: pydantic.fields.FieldInfo) -> str:
    dims = [m for m in field.metadata if isinstance(m, QuantityDim)]
    kind = f"{dims[0].dim.value} (quantity)" if dims else _type_name(field.annotation)
    desc = description(field).replace("|", "\\|")
    kind = kind.replace("|", "\\|")
    return f"| `{field.alias or name}` | {kind} | {_default(field)} | {desc} |"


def undescribed() -> list[str]:
    """Fields of the documented classes without a description (should be none)."""
    return [f"{cls.__name__}.{name}" for _, cls in SECTIONS for name, f in cls.model_fields.items()
            if not description(f)]


EDITOR = """## Editor support (JSON Schema)

`slmsim schema hardware|model|scenario|space|cim-macro` prints the JSON Schema of each format,
generated from the same classes as this page (field descriptions included). Quantities
appear as strings with a unit, any value may be a `{value:, source:}` or `{value:,
assumption:}` wrapper, and a file with `extends:` needs only the fields it overrides.

With the YAML language server (the Red Hat YAML extension of VS Code, or any editor that
runs `yaml-language-server`), save the schema and name it on the first line of the file:

```bash
slmsim schema hardware --out schemas/hardware.schema.json
slmsim schema space --out schemas/space.schema.json
```

```yaml
# yaml-language-server: $schema=schemas/hardware.schema.json
extends: orin-nano
memories:
  dram:
    bandwidth: {value: 136 GB/s, assumption: "a faster LPDDR5X part"}
```

or map files to schemas once in VS Code's `settings.json`:

```json
{
  "yaml.schemas": {
    "./schemas/hardware.schema.json": ["hw/*.yaml"],
    "./schemas/model.schema.json": ["models/*.yaml"],
    "./schemas/scenario.schema.json": ["scenarios/*.yaml"],
    "./schemas/space.schema.json": ["space-*.yaml"]
  }
}
```

The editor then completes field names, shows these descriptions on hover and marks unknown
fields, bare numbers where a unit is needed and wrong kinds. `slmsim check FILE` remains the
authority (it also checks units, tier and device names, and lists every value's source).
"""


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
        "Limits on files, nesting, aliases, quantities and sizes: [input-limits.md](input-limits.md).",
        "",
    ]
    for title, cls in SECTIONS:
        lines += [f"## {title}", "", " ".join(inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].split()), "",
                  "| field | type | required | meaning |", "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            lines.append(_row(name, field))
        lines.append("")
    lines.append(EDITOR)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
