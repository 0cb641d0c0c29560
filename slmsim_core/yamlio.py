"""Reading spec YAML: strict parsing, `extends:`, provenance, pydantic errors as `SpecError`.

A spec file is read once. Along the way we
- refuse duplicate keys (PyYAML keeps the last silently),
- resolve `extends:` (a preset name or a path relative to the file) with deep merge,
  detecting cycles,
- lift provenance wrappers `{value: X, source: "...", assumption: "..."}` out of the tree
  into a `{dotted.path: Provenance}` map so the typed spec sees plain values,
- turn every pydantic validation error into a `Problem` with file, YAML path (aliases,
  discriminator tags removed), value, expectation and hint.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml

from slmsim.core.errors import Problem, SpecError

PROVENANCE_KEYS = frozenset({"value", "source", "assumption", "note"})
DISCRIMINATORS = ("kind", "strategy", "model")  # keys our discriminated unions switch on


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a number came from: a citation, or an assumption stated as one."""

    source: str | None = None
    assumption: str | None = None
    origin_file: str | None = None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, *, display: str | None = None) -> Any:
    """Parse one YAML file strictly; a malformed file is a `SpecError` with line and column."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(file=shown, path="", message="file not found",
                                 hint="check the path, or use a preset name (`slmsim presets`)")]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(file=shown, path="", message=f"cannot read file: {exc}")]) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(
            file=shown, path="", message=f"malformed YAML{where}: {problem}",
            hint="check indentation and that every 'key: value' has a space after the colon",
        )]) from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in `override` replaces the base value.

    A provenance wrapper in either side counts as a leaf, so overriding a sourced preset
    number with a plain value replaces it (and its provenance) entirely.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and not is_wrapper(old) and not is_wrapper(value):
            out[key] = deep_merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in a nested mapping, creating the missing levels."""
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def is_wrapper(node: object) -> bool:
    return (
        isinstance(node, dict)
        and "value" in node
        and set(node) <= PROVENANCE_KEYS
        and ("source" in node or "assumption" in node)
    )


def lift_provenance(node: Any, *, origin: str, path: str = "") -> tuple[Any, dict[str, Provenance]]:
    """Replace provenance wrappers by their values; return the plain tree and the map."""
    prov: dict[str, Provenance] = {}
    if is_wrapper(node):
        prov[path] = Provenance(source=node.get("source"), assumption=node.get("assumption"), origin_file=origin)
        inner, sub = lift_provenance(node["value"], origin=origin, path=path)
        prov.update(sub)
        return inner, prov
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            out[key], sub = lift_provenance(value, origin=origin, path=child)
            prov.update(sub)
        return out, prov
    if isinstance(node, list):
        items = []
        for i, value in enumerate(node):
            v, sub = lift_provenance(value, origin=origin, path=f"{path}[{i}]")
            items.append(v)
            prov.update(sub)
        return items, prov
    return node, prov


@dataclass(frozen=True, slots=True)
class RawSpec:
    """A spec tree after `extends:` and provenance lifting, before typing."""

    data: dict[str, Any]
    provenance: dict[str, Provenance]
    file: str  # what to call the file in messages
    chain: tuple[str, ...]  # the `extends:` chain, most derived first


PresetLookup = Callable[[str], Path | None]


def resolve(
    ref: str | Path,
    *,
    presets: PresetLookup,
    preset_names: Callable[[], list[str]],
    what: str,
    _stack: tuple[str, ...] = (),
) -> RawSpec:
    """Load a preset name or a YAML path, following `extends:`."""
    path, shown = _locate(ref, presets=presets, preset_names=preset_names, what=what)
    key = str(path.resolve())
    if key in _stack:
        cycle = " -> ".join([*(_short(s) for s in _stack[_stack.index(key):]), _short(key)])
        raise SpecError([Problem(
            file=shown, path="extends", message=f"`extends:` cycle: {cycle}",
            value=ref if isinstance(ref, str) else str(ref),
            expected="a chain of `extends:` that ends in a file without one",
            hint="remove one of the `extends:` lines in the cycle",
        )])
    data = read_yaml(path, display=shown)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError([Problem(file=shown, path="", message="expected a mapping at the top level",
                                 value=type(data).__name__, expected="key: value pairs")])
    parent_ref = data.pop("extends", None)
    plain, prov = lift_provenance(data, origin=shown)
    if parent_ref is None:
        return RawSpec(data=plain, provenance=prov, file=shown, chain=(shown,))
    if not isinstance(parent_ref, str):
        raise SpecError([Problem(file=shown, path="extends", message="`extends:` must name a preset or a file",
                                 value=parent_ref, expected="a preset name or a relative path")])
    parent_target: str | Path = parent_ref
    if parent_ref.endswith((".yaml", ".yml")) or "/" in parent_ref:
        parent_target = (path.parent / parent_ref)
    parent = resolve(parent_target, presets=presets, preset_names=preset_names, what=what,
                     _stack=(*_stack, key))
    merged = deep_merge(parent.data, plain)
    # provenance of a key the child overrides is dropped with the value (see deep_merge)
    kept = {p: v for p, v in parent.provenance.items() if _survives(p, plain)}
    kept.update(prov)
    return RawSpec(data=merged, provenance=kept, file=shown, chain=(shown, *parent.chain))


def _survives(path: str, child: dict[str, Any]) -> bool:
    node: Any = child
    for part in path.replace("[", ".[").split("."):
        if not isinstance(node, dict) or part not in node:
            return True
        node = node[part]
    return False


def _short(key: str) -> str:
    return Path(key).name


def _locate(ref: str | Path, *, presets: PresetLookup, preset_names: Callable[[], list[str]],
            what: str) -> tuple[Path, str]:
    if isinstance(ref, Path):
        return ref, str(ref)
    as_path = Path(ref)
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or as_path.exists():
        return as_path, ref
    found = presets(ref)
    if found is not None:
        return found, f"preset:{ref}"
    names = preset_names()
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise SpecError([Problem(
        file=ref, path="", message=f"unknown {what} preset {ref!r} (and no such file)",
        value=ref, expected=f"one of: {', '.join(names)}",
        hint=hint + "or give a path to a YAML file",
    )])


# ----------------------------------------------------------------------------- typing


M = typing.TypeVar("M", bound=pydantic.BaseModel)


def validate(model: type[M], raw: RawSpec, *, context: dict[str, Any] | None = None) -> M:
    """Type a raw tree; every validation problem becomes one `Problem` in one `SpecError`."""
    try:
        return model.model_validate(raw.data, context=context)
    except pydantic.ValidationError as exc:
        raise SpecError(problems_from(exc, model=model, data=raw.data, file=raw.file)) from None


def problems_from(exc: pydantic.ValidationError, *, model: type[pydantic.BaseModel], data: Any,
                  file: str) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        path_parts = _user_path(err["loc"], data)
        path = _dotted(path_parts)
        etype = err["type"]
        ctx = err.get("ctx") or {}
        value = err.get("input")
        expected = ctx.get("expected")
        hint = ctx.get("hint")
        message = err["msg"]
        if ctx.get("path"):  # a model-level check naming the field it is about
            path = str(ctx["path"])
        if etype == "missing":
            message = f"missing required field '{path_parts[-1]}'"
            value = None
            field_info = _field_at(model, path_parts, data)
            expected = expected or (f"{field_info}" if field_info else "a value")
            hint = hint or f"add '{path_parts[-1]}:' under '{_dotted(path_parts[:-1]) or 'the top level'}'"
        elif etype == "extra_forbidden":
            name = str(path_parts[-1])
            allowed = _allowed_at(model, path_parts[:-1], data)
            message = f"unknown field '{name}'"
            expected = f"one of: {', '.join(sorted(allowed))}" if allowed else "no extra fields"
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "remove it, or check the spelling and indentation"
        elif etype in ("union_tag_invalid", "union_tag_not_found"):
            tags = ctx.get("expected_tags", "")
            message = "unknown or missing 'kind'" if etype == "union_tag_not_found" else f"unknown kind {ctx.get('tag')!r}"
            expected = f"kind: one of {tags}"
            close = difflib.get_close_matches(str(ctx.get("tag", "")), [t.strip(" '") for t in str(tags).split(",")], n=1)
            hint = f"did you mean '{close[0]}'?" if close else "set 'kind:' to one of the listed values"
            if etype == "union_tag_invalid":
                path = _dotted([*path_parts, "kind"])
        elif etype in ("enum", "literal_error"):
            options = [o.strip(" '") for o in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
            close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.5)
            message = f"{value!r} is not a valid choice"
            expected = f"one of: {', '.join(options)}"
            hint = f"did you mean '{close[0]}'?" if close else None
        elif etype.startswith("value_error"):
            message = message.removeprefix("Value error, ")
        if isinstance(value, dict):
            value = None  # a whole sub-tree is not a useful "value"
        problems.append(Problem(file=file, path=path, message=message, value=value, expected=expected, hint=hint))
    return problems


def _dotted(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def _user_path(loc: tuple[Any, ...], data: Any) -> list[Any]:
    """Drop pydantic's discriminator tags (and validator names) from a location."""
    parts: list[Any] = []
    node = data
    for element in loc:
        if isinstance(node, dict) and element not in node and element in {node.get(k) for k in DISCRIMINATORS}:
            continue  # a discriminated-union tag pydantic inserts
        if isinstance(element, str) and element.startswith(("function-", "tagged-union[")):
            continue
        parts.append(element)
        if isinstance(node, dict):
            node = node.get(element)
        elif isinstance(node, list) and isinstance(element, int) and element < len(node):
            node = node[element]
        else:
            node = None
    return parts


def _unwrap(tp: Any, value: Any) -> Any:
    """Strip Annotated/Optional; pick the union member matching the value's `kind`."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            pick = None
            for m in members:
                if not (isinstance(m, type) and issubclass(m, pydantic.BaseModel)) or not isinstance(value, dict):
                    continue
                for key in DISCRIMINATORS:
                    f = m.model_fields.get(key)
                    if (f is not None and typing.get_origin(f.annotation) is Literal
                            and value.get(key) in typing.get_args(f.annotation)):
                        pick = m
            tp = pick or members[0]
            continue
        return tp


def _model_class_at(model: type[pydantic.BaseModel], parts: list[Any], data: Any) -> Any:
    tp: Any = model
    node = data
    for part in parts:
        tp = _unwrap(tp, node)
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            field = _field_by_alias(tp, part)
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, Mapping):
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        else:
            return None
        node = node.get(part) if isinstance(node, dict) else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    return _unwrap(tp, node)


def _field_by_alias(model: type[pydantic.BaseModel], name: Any) -> pydantic.fields.FieldInfo | None:
    for fname, f in model.model_fields.items():
        if (f.alias or fname) == name or fname == name:
            return f
    return None


def _allowed_at(model: type[pydantic.BaseModel], parts: list[Any], data: Any) -> list[str]:
    tp = _model_class_at(model, parts, data)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def field_info_at(model: type[pydantic.BaseModel], parts: list[Any], data: Any) -> pydantic.fields.FieldInfo | None:
    """The pydantic field a YAML path (aliases, no discriminator tags) points at, or None.

    `data` is the raw tree, used to pick the member of a discriminated union by its `kind`.
    A path into a `dict` value (e.g. `devices.cim`) has no FieldInfo of its own: None.
    """
    parent = _model_class_at(model, list(parts[:-1]), data)
    if isinstance(parent, type) and issubclass(parent, pydantic.BaseModel):
        return _field_by_alias(parent, parts[-1])
    return None


def _field_at(model: type[pydantic.BaseModel], parts: list[Any], data: Any) -> str | None:
    """The description of the field at `parts`, for the 'expected' line of a missing field."""
    f = field_info_at(model, parts, data)
    return f.description if f is not None and f.description else None
