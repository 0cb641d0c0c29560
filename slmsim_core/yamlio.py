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
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml

from slmsim.core.errors import Problem, SpecError, kind_of
from slmsim.core.limits import (
    MAX_DEPTH,
    MAX_EXTENDS_DEPTH,
    MAX_ITEMS,
    MAX_JSON_FILE_BYTES,
    MAX_NODES,
    MAX_SPEC_INT,
    MAX_YAML_FILE_BYTES,
    read_text_limited,
)

PROVENANCE_KEYS = frozenset({"value", "source", "assumption", "note"})
DISCRIMINATORS = ("kind", "strategy", "model")  # keys our discriminated unions switch on


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a number came from: a citation, or an assumption stated as one."""

    source: str | None = None
    assumption: str | None = None
    origin_file: str | None = None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys and bounds depth and collection sizes.

    The composer recurses once per nesting level, so depth is checked before it can reach
    Python's recursion limit; items are counted as they are composed.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:  # type: ignore[override]
        if parent is not None and isinstance(parent.value, list) and len(parent.value) >= MAX_ITEMS:
            raise _LimitError(f"more than {MAX_ITEMS} items in one mapping or list", self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _LimitError(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _LimitError(yaml.YAMLError):
    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark,
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the tree once every alias is expanded, counted without expanding (memoised, iterative).

    An alias is the same node object reused, so a "billion laughs" file of 100 nodes has a
    size of 10^9 here and is refused before anything copies it.
    """
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done:
            total = 1 + sum(size[id(c)] for c in children)
            size[id(node)] = min(total, MAX_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)]


def read_yaml(path: Path, *, display: str | None = None) -> Any:
    """Parse one YAML file strictly and within the limits of `slmsim.core.limits`.

    A malformed or over-limit file is a `SpecError` with line and column.
    """
    shown = display or str(path)
    text = read_text_limited(path, shown=shown, limit=MAX_YAML_FILE_BYTES, what="YAML file")
    return parse_yaml_text(text, shown=shown)


def parse_yaml_text(text: str, *, shown: str) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise _LimitError(f"more than {MAX_NODES} values once its aliases (*name) are expanded "
                              "(an alias bomb?)", node.start_mark)
        return loader.construct_document(node)
    except _LimitError as exc:
        where = f" at line {exc.mark.line + 1}, column {exc.mark.column + 1}" if exc.mark is not None else ""
        raise SpecError([Problem(
            file=shown, path="", message=f"YAML over the limits{where}: {exc.message}",
            expected=f"at most {MAX_DEPTH} levels, {MAX_ITEMS} items per mapping or list, "
                     f"{MAX_NODES} values with aliases expanded",
            hint="see docs/input-limits.md; split the file or write the repeated parts out",
        )]) from None
    except RecursionError:
        raise SpecError([Problem(file=shown, path="", message="YAML nested too deeply",
                                 expected=f"at most {MAX_DEPTH} levels", hint="see docs/input-limits.md")]) from None
    except ValueError as exc:  # Python's int(): a number of more than 4300 digits
        what = "an integer of more than 4,300 digits" if "digits" in str(exc) else str(exc)[:200]
        raise SpecError([Problem(file=shown, path="", message=f"a value cannot be read: {what}",
                                 expected=f"integers of at most {MAX_SPEC_INT:,}", hint="see docs/input-limits.md")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(
            file=shown, path="", message=f"malformed YAML{where}: {problem}",
            hint=_yaml_hint(str(problem)),
        )]) from None
    finally:
        loader.dispose()


def _yaml_hint(problem: str) -> str:
    """What to do about one YAML parse error: merge keys and tags get their own hint."""
    if "tag:yaml.org,2002:merge" in problem:
        return ("YAML merge keys (`<<: *name`) are not read: use `extends: FILE-OR-PRESET` to inherit a spec "
                "(docs/spec-format.md), or write the keys out")
    if "constructor for the tag" in problem:
        return "YAML tags (`!name`, `!!type`) are not read: write the value as plain YAML"
    return "check indentation and that every 'key: value' has a space after the colon"


def _no_duplicates(shown: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _JsonProblem(f"duplicate key {key!r}", "keep one of them (JSON readers silently keep the last)")
            out[key] = value
        return out

    return hook


class _JsonProblem(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _bounded_int(text: str) -> int:
    """An integer of a JSON file; one beyond MAX_SPEC_INT is refused before Python parses it
    (int() refuses more than 4300 digits with a traceback, and is slow long before)."""
    if len(text.lstrip("-")) > len(str(MAX_SPEC_INT)):
        raise _JsonProblem(f"an integer of {len(text.lstrip('-'))} digits", f"integers are at most {MAX_SPEC_INT:,}")
    return int(text)


def _refuse_constant(name: str) -> Any:
    raise _JsonProblem(f"{name} is not a number (and not valid JSON)", "write a finite number")


def read_json(path: Path, *, display: str | None = None) -> Any:
    """Parse one JSON file strictly: duplicate keys, NaN and Infinity refused, depth bounded."""
    shown = display or str(path)
    text = read_text_limited(path, shown=shown, limit=MAX_JSON_FILE_BYTES, what="JSON file")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates(shown), parse_constant=_refuse_constant,
                          parse_int=_bounded_int)
    except _JsonProblem as exc:
        raise SpecError([Problem(file=shown, path="", message=exc.message, hint=exc.hint)]) from None
    except json.JSONDecodeError as exc:
        raise SpecError([Problem(file=shown, path="",
                                 message=f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]) from None
    except RecursionError:
        raise SpecError([Problem(file=shown, path="", message="JSON nested too deeply",
                                 expected=f"at most {MAX_DEPTH} levels", hint="see docs/input-limits.md")]) from None
    if _json_depth(data) > MAX_DEPTH:
        raise SpecError([Problem(file=shown, path="", message=f"JSON nested more than {MAX_DEPTH} levels deep",
                                 expected=f"at most {MAX_DEPTH} levels", hint="see docs/input-limits.md")])
    return data


def _json_depth(data: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in node)
    return deepest


def not_a_mapping(data: Any, *, file: str, expected: str = "key: value pairs", hint: str | None = None) -> Problem:
    """The problem of a file whose top level is not `key: value` pairs, saying what it is instead
    (an empty file, a list, a string), not a Python type name."""
    if data is None:
        return Problem(file=file, path="", message="the file is empty (or holds only comments)", expected=expected,
                       hint=hint or "write the spec's fields as `key: value` lines; `slmsim examples` lists "
                                    "files to start from")
    if isinstance(data, list):
        found, value = f"a list of {len(data)} item{'s' if len(data) != 1 else ''}", None
    else:
        found, value = kind_of(data), data
    return Problem(file=file, path="", message=f"expected a mapping at the top level, found {found}", value=value,
                   expected=expected, hint=hint or "a top-level `- item` list or a bare value is not a spec")


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
    if len(_stack) >= MAX_EXTENDS_DEPTH:
        raise SpecError([Problem(
            file=shown, path="extends", message=f"`extends:` chain longer than {MAX_EXTENDS_DEPTH} files "
            f"(from {_short(_stack[0])}, {MAX_EXTENDS_DEPTH} files down, to this one)",
            value=ref if isinstance(ref, str) else str(ref),
            expected=f"at most {MAX_EXTENDS_DEPTH} files from the spec to the preset it starts from",
            hint="flatten part of the chain into one file (see docs/input-limits.md)",
        )])
    data = read_yaml(path, display=shown)
    if not isinstance(data, dict):  # an empty file too: it names no field, so "the file is empty" says more
        raise SpecError([not_a_mapping(data, file=shown)])
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
    try:
        parent = resolve(parent_target, presets=presets, preset_names=preset_names, what=what,
                         _stack=(*_stack, key))
    except SpecError as exc:
        raise _from_extends(exc, parent_ref, shown) from None
    merged = deep_merge(parent.data, plain)
    # provenance of a key the child overrides is dropped with the value (see deep_merge)
    kept = {p: v for p, v in parent.provenance.items() if _survives(p, plain)}
    kept.update(prov)
    return RawSpec(data=merged, provenance=kept, file=shown, chain=(shown, *parent.chain))


def _from_extends(exc: SpecError, parent_ref: str, shown: str) -> SpecError:
    """An unknown `extends:` target reported where it is written: this file's `extends` field
    (the lookup itself only knows the name)."""
    if len(exc.problems) == 1 and exc.problems[0].path == "" and exc.problems[0].file == parent_ref:
        p = exc.problems[0]
        return SpecError([Problem(file=shown, path="extends", message=f"`extends:` names an {p.message}",
                                  value=p.value, expected=p.expected, hint=p.hint)])
    return exc


# preset names of every kind whose loader registered them (`register_preset_kind`): an unknown
# name that is a preset of another kind is said to be one (a model file given as --hw)
_PRESET_KINDS: dict[str, Callable[[], list[str]]] = {}
KIND_FLAGS = {"hardware": "--hw", "model": "--model", "stack": "--stack"}


def register_preset_kind(what: str, names: Callable[[], list[str]]) -> None:
    _PRESET_KINDS[what] = names


def _other_kind(ref: str, what: str) -> str | None:
    for kind, names in _PRESET_KINDS.items():
        if kind != what:
            try:
                if ref in names():
                    return kind
            except OSError:
                continue
    return None


def _survives(path: str, child: dict[str, Any]) -> bool:
    node: Any = child
    for part in path.replace("[", ".[").split("."):
        if not isinstance(node, dict) or part not in node:
            return True
        node = node[part]
    return False


def _short(key: str) -> str:
    return Path(key).name


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the filesystem, a NUL byte: not a file
        return False


def _locate(ref: str | Path, *, presets: PresetLookup, preset_names: Callable[[], list[str]],
            what: str) -> tuple[Path, str]:
    if isinstance(ref, Path):
        return ref, str(ref)
    as_path = Path(ref)
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or _exists(as_path):
        return as_path, ref
    try:
        found = presets(ref)
    except (OSError, ValueError):  # a name too long for the filesystem, a NUL byte: no such preset
        found = None
    if found is not None:
        return found, f"preset:{ref}"
    names = preset_names()
    other = _other_kind(ref, what)
    if other is not None:
        flag = KIND_FLAGS.get(other)
        raise SpecError([Problem(
            file=ref, path="", message=f"unknown {what} preset {ref!r}: it is a {other} preset",
            value=ref, expected=f"a {what} preset or file",
            hint=f"a {other} spec goes where a {other} is asked for" + (f" ({flag})" if flag else "")
            + f"; a {what} file extends a {what} preset",
        )])
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
    strict = type_problems(model, raw.data, file=raw.file)
    if any(p.message.startswith(HUGE_INT) for p in strict):  # validators must never see them (float overflow)
        raise SpecError(strict)
    try:
        typed = model.model_validate(raw.data, context=context)
    except pydantic.ValidationError as exc:
        # a cross-field check computed on a coerced true/false is noise next to the type problem
        found = problems_from(exc, model=model, data=raw.data, file=raw.file, skip_value_errors=bool(strict))
        seen = {p.path for p in found}
        raise SpecError([*found, *(p for p in strict if p.path not in seen)], total=exc.error_count()) from None
    if strict:
        raise SpecError(strict)
    return typed


HUGE_INT = "integer too large for any count"


def type_problems(model: type[pydantic.BaseModel], data: Any, *, file: str) -> list[Problem]:
    """What pydantic's lax mode lets through but a spec must not: `true`/`false` for a number
    (`head_dim: true` would otherwise be read as 1; quantity fields refuse bools themselves), and an
    integer beyond 2^64 (`rows: 10**400` would overflow the first float it meets).
    """
    out: list[Problem] = []
    stack: list[tuple[Any, Any, list[Any]]] = [(model, data, [])]
    while stack:
        tp, node, parts = stack.pop()
        tp = _unwrap(tp, node)
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            if not isinstance(node, dict):
                continue
            for key, value in node.items():
                f = _field_by_alias(tp, key)
                if f is None:
                    continue
                kind = _number_kind(f)
                if kind is not None and isinstance(value, bool):
                    out.append(Problem(file=file, path=_dotted([*parts, key]),
                                       message=f"{str(value).lower()} is not {'an integer' if kind is int else 'a number'}",
                                       value=value, expected="an integer" if kind is int else "a number",
                                       hint="write the number itself (true/false are not read as 1/0)"))
                elif kind is not None and isinstance(value, int) and abs(value) > MAX_SPEC_INT:
                    digits = str(abs(value))
                    out.append(Problem(file=file, path=_dotted([*parts, key]),
                                       message=f"{HUGE_INT} ({len(digits)} digits)",
                                       value=f"{'-' if value < 0 else ''}{digits[:8]}...",
                                       expected="at most 2^64 = 18446744073709551616 in magnitude",
                                       hint="no count in a spec comes near it (docs/input-limits.md); check for a typo"))
                else:
                    stack.append((f.annotation, value, [*parts, key]))
        elif typing.get_origin(tp) in (dict, Mapping) and isinstance(node, dict):
            args = typing.get_args(tp)
            stack.extend((args[1], v, [*parts, k]) for k, v in node.items()) if len(args) == 2 else None
        elif typing.get_origin(tp) in (list, tuple) and isinstance(node, list):
            args = typing.get_args(tp)
            stack.extend((args[0], v, [*parts, i]) for i, v in enumerate(node)) if args else None
    return out


def _number_kind(f: pydantic.fields.FieldInfo) -> type | None:
    """int or float when the field is a plain number (optionally None), else None."""
    if any(type(m).__name__ == "QuantityDim" for m in f.metadata):
        return None
    tp = f.annotation
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    members = [a for a in typing.get_args(tp) if a is not type(None)] \
        if typing.get_origin(tp) in (typing.Union, types.UnionType) else [tp]
    if members and all(m in (int, float) for m in members):
        return int if int in members and float not in members else float
    return None


def problems_from(exc: pydantic.ValidationError, *, model: type[pydantic.BaseModel], data: Any,
                  file: str, skip_value_errors: bool = False) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        if skip_value_errors and err["type"].startswith("value_error"):
            continue
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
        elif ctx.get("field"):  # the same, relative to where the checked model sits
            path = _dotted([*path_parts, str(ctx["field"])])
        if (ctx.get("path") or ctx.get("field")) and "value" in ctx:
            value = ctx["value"]  # its value (the input of a model-level check is the whole mapping)
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
            disc = str(ctx.get("discriminator", "'kind'")).strip("'\"") or "kind"
            tags = _union_tags(model, path_parts, data, disc) or [
                t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip(" '")]
            listed = ", ".join(tags) if tags else "(see docs/spec-format.md)"
            if etype == "union_tag_not_found":
                message = f"missing '{disc}:'"
                expected = f"{disc}: one of {listed}"
                hint = f"add '{disc}:' with one of the listed values"
                value = None
            else:
                tag = ctx.get("tag")
                message = f"unknown {disc} {tag!r}"
                expected = f"{disc}: one of {listed}"
                close = difflib.get_close_matches(str(tag), tags, n=1) if tag not in (None, "") else []
                hint = f"did you mean '{close[0]}'?" if close else f"set '{disc}:' to one of the listed values"
                value = tag
                path = _dotted([*path_parts, disc])
        elif etype in ("enum", "literal_error"):
            options = [o.strip(" '") for o in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
            close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.5)
            message = f"{value!r} is not a valid choice"
            expected = f"one of: {', '.join(options)}"
            hint = f"did you mean '{close[0]}'?" if close else None
        elif etype.startswith("value_error"):
            message = message.removeprefix("Value error, ")
        elif etype in _BOUND_WORDS and not expected:
            key, word = _BOUND_WORDS[etype]
            expected = f"a value {word} {ctx.get(key)}"
        elif etype in ("finite_number", "int_from_float", "int_parsing", "int_type", "float_type", "float_parsing") \
                and not expected:
            expected = "a finite number" if etype.startswith(("finite", "float")) else "a whole number"
        elif etype in _TYPE_WORDS:  # pydantic's wording names Python types ("a valid tuple", "instance of X")
            message, expected = _TYPE_WORDS[etype]
        if isinstance(value, dict) and set(value) >= {"value"} and not isinstance(value["value"], (dict, list)):
            value = value["value"]  # a {value:, source:} wrapper: the number is what is wrong
        elif isinstance(value, dict):
            value = None  # a whole sub-tree is not a useful "value"
        problems.append(Problem(file=file, path=path, message=message, value=value, expected=expected, hint=hint))
    return problems


_LIST_WORDS = ("must be a list", "a YAML list, e.g. [a, b] or one '- item' per line")
_MAPPING_WORDS = ("must be a mapping", "'key: value' lines indented under this field")
_BOOL_WORDS = ("must be true or false", "true or false")
_SET_WORDS = ("must be a list", "a YAML list of distinct items")
_TYPE_WORDS = {
    "tuple_type": _LIST_WORDS, "list_type": _LIST_WORDS,
    "set_type": _SET_WORDS, "frozen_set_type": _SET_WORDS,
    "dict_type": _MAPPING_WORDS, "model_type": _MAPPING_WORDS, "model_attributes_type": _MAPPING_WORDS,
    "string_type": ("must be text", "a string (quote it when it looks like a number: '1.0')"),
    "bool_type": _BOOL_WORDS, "bool_parsing": _BOOL_WORDS,
}

_BOUND_WORDS = {"greater_than_equal": ("ge", ">="), "greater_than": ("gt", ">"),
                "less_than_equal": ("le", "<="), "less_than": ("lt", "<")}


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
        if isinstance(node, dict) and element not in node and any(
                element == node.get(k) for k in DISCRIMINATORS if isinstance(node.get(k), str)):
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


def _union_tags(model: type[pydantic.BaseModel], parts: list[Any], data: Any, disc: str) -> list[str]:
    """The values the discriminator `disc` may take for the union at `parts`."""
    try:
        tp = _model_class_at(model, parts, data, unwrap_last=False)
    except Exception:  # noqa: BLE001 - a best-effort hint, never a crash
        return []
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    tags: list[str] = []
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for m in typing.get_args(tp):
            if isinstance(m, type) and issubclass(m, pydantic.BaseModel):
                f = m.model_fields.get(disc)
                if f is not None and typing.get_origin(f.annotation) is Literal:
                    tags += [str(a) for a in typing.get_args(f.annotation)]
    return tags


def _model_class_at(model: type[pydantic.BaseModel], parts: list[Any], data: Any, *,
                    unwrap_last: bool = True) -> Any:
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
    return _unwrap(tp, node) if unwrap_last else tp


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
