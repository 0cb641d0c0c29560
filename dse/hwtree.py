"""The hardware tree a design-space parameter points into: paths, field kinds, SI values.

A candidate is the base spec's plain YAML tree with some leaves or sub-trees replaced. To
make thousands of candidates cheap to validate, the base tree is converted once to SI
floats (`to_si`): the spec then validates with `si_floats=True` in microseconds instead of
parsing every unit string again.
"""

from __future__ import annotations

import copy
import difflib
import enum
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from slmsim.hw_models.spec import HardwareSpec
from slmsim.core.quantity import QuantityDim
from slmsim.core.units import Dim, UnitParseError, parse_quantity
from slmsim.core.yamlio import field_info_at

# SI unit of the float a quantity of each dimension is stored in (study.json "unit")
SI_UNIT: dict[Dim, str] = {
    Dim.BANDWIDTH: "B/s",
    Dim.ENERGY: "J",
    Dim.ENERGY_PER_BIT: "J/bit",
    Dim.ENERGY_PER_OP: "J/op",
    Dim.FREQUENCY: "Hz",
    Dim.CAPACITY: "B",
    Dim.AREA: "mm^2",
    Dim.LENGTH: "m",
    Dim.POWER: "W",
    Dim.TIME: "s",
    Dim.THROUGHPUT: "op/s",
    Dim.BIT_RATE: "bit/s",
    Dim.VOLTAGE: "V",
    Dim.CAPACITANCE: "F",
}


def si_unit(dim: Dim) -> str:
    return SI_UNIT.get(dim, dim.value)


class LeafKind(enum.Enum):
    QUANTITY = "quantity"  # a float with a unit ("68 GB/s")
    INT = "int"
    FLOAT = "float"  # a plain number (fractions)
    BOOL = "bool"
    ENUM = "enum"
    STR = "str"


@dataclass(frozen=True)
class Leaf:
    kind: LeafKind
    dim: Dim | None = None
    options: tuple[str, ...] = ()  # the values of an enum


def annotated_metadata(tp: Any) -> list[Any]:
    """The Annotated metadata of a field's type, through Optional (`Power | None`)."""
    return _strip(tp)[1]


def _strip(tp: Any) -> tuple[Any, list[Any]]:
    """Remove Optional/Annotated; return the bare type and the Annotated metadata seen."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            args = typing.get_args(tp)
            meta.extend(args[1:])
            tp = args[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp, meta
            tp = members[0]
        else:
            return tp, meta


def _leaf_of(annotation: Any, metadata: Sequence[Any]) -> Leaf | None:
    tp, meta = _strip(annotation)
    for m in [*metadata, *meta]:
        if isinstance(m, QuantityDim):
            return Leaf(LeafKind.QUANTITY, dim=m.dim)
    if tp is bool:
        return Leaf(LeafKind.BOOL)
    if tp is int:
        return Leaf(LeafKind.INT)
    if tp is float:
        return Leaf(LeafKind.FLOAT)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return Leaf(LeafKind.ENUM, options=tuple(str(e.value) for e in tp))
    if tp is str:
        return Leaf(LeafKind.STR)
    if typing.get_origin(tp) is typing.Literal:
        return Leaf(LeafKind.ENUM, options=tuple(str(a) for a in typing.get_args(tp)))
    return None


def leaf_at(parts: Sequence[str], data: Mapping[str, Any]) -> Leaf | None:
    """What kind of value the hardware schema expects at `parts`, or None (not a leaf)."""
    field = field_info_at(HardwareSpec, list(parts), data)
    if field is not None:
        tp, _ = _strip(field.annotation)
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            return None
        if typing.get_origin(tp) in (dict, list, tuple):
            return None
        return _leaf_of(field.annotation, field.metadata)
    if len(parts) >= 2:  # a value inside a dict field, e.g. matrix_throughput.int8
        parent = field_info_at(HardwareSpec, list(parts[:-1]), data)
        if parent is not None:
            tp, _ = _strip(parent.annotation)
            if typing.get_origin(tp) is dict:
                key_tp, value_tp = typing.get_args(tp)
                key_tp, _ = _strip(key_tp)
                if isinstance(key_tp, type) and issubclass(key_tp, enum.Enum):
                    if parts[-1] not in {str(e.value) for e in key_tp}:
                        return None
                return _leaf_of(value_tp, ())
    return None


def is_schema_field(parts: Sequence[str], data: Mapping[str, Any]) -> bool:
    return field_info_at(HardwareSpec, list(parts), data) is not None or leaf_at(parts, data) is not None


def get_at(tree: Mapping[str, Any], parts: Sequence[str]) -> tuple[bool, Any]:
    node: Any = tree
    for p in parts:
        if not isinstance(node, Mapping) or p not in node:
            return False, None
        node = node[p]
    return True, node


def walk(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) in a tree, internal nodes included, depth first."""
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            path = (*prefix, str(k))
            yield path, v
            yield from walk(v, path)


def all_paths(tree: Mapping[str, Any]) -> list[str]:
    return [".".join(p) for p, _ in walk(tree)]


def close_path(path: str, tree: Mapping[str, Any]) -> str | None:
    """The existing path nearest to a misspelt one (for 'did you mean')."""
    candidates = all_paths(tree)
    close = difflib.get_close_matches(path, candidates, n=1, cutoff=0.75)
    if close:
        return close[0]
    # a typo in the last part only: compare against the siblings
    parts = path.split(".")
    ok, parent = get_at(tree, parts[:-1])
    if ok and isinstance(parent, Mapping):
        near = difflib.get_close_matches(parts[-1], [str(k) for k in parent], n=1, cutoff=0.6)
        if near:
            return ".".join([*parts[:-1], near[0]])
    return None


def to_si(node: Any, parts: tuple[str, ...], root: Mapping[str, Any]) -> Any:
    """Convert every quantity string in `node` (found at `parts` of `root`) to its SI float.

    Strings that do not parse are left as they are: validation then reports them with the
    usual message.
    """
    if isinstance(node, Mapping):
        return {k: to_si(v, (*parts, str(k)), root) for k, v in node.items()}
    if isinstance(node, str):
        leaf = leaf_at(parts, root)
        if leaf is not None and leaf.kind is LeafKind.QUANTITY and leaf.dim is not None:
            try:
                return parse_quantity(node, leaf.dim)
            except UnitParseError:
                return node
    return copy.deepcopy(node)
