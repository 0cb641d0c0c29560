"""Load software-stack presets and the weight-format library (like `hw_models.load`)."""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from slmsim.core.errors import Problem, SpecError
from slmsim.core.presets import PresetDir
from slmsim.core.yamlio import (
    Provenance,
    RawSpec,
    lift_provenance,
    read_yaml,
    register_preset_kind,
    resolve,
    set_path,
    validate,
)
from slmsim.stacks.spec import FormatLibrary, StackSpec

PRESET_DIR = Path(__file__).parent / "presets"
FORMATS_FILE = Path(__file__).parent / "formats.yaml"


_PRESETS = PresetDir(PRESET_DIR)
preset_names = _PRESETS.names
preset_path = _PRESETS.path
register_preset_kind("stack", preset_names)


@dataclass(frozen=True)
class LoadedStack:
    spec: StackSpec
    provenance: dict[str, Provenance]
    file: str
    raw: RawSpec  # the resolved tree (after `extends:`) the spec was validated from


@lru_cache(maxsize=1)
def _library() -> tuple[FormatLibrary, dict[str, Provenance]]:
    data = read_yaml(FORMATS_FILE, display="stacks/formats.yaml")
    plain, prov = lift_provenance(data, origin="stacks/formats.yaml")
    lib = validate(FormatLibrary, RawSpec(data=plain, provenance=prov, file="stacks/formats.yaml",
                                          chain=("stacks/formats.yaml",)))
    return lib, prov


def format_library() -> FormatLibrary:
    return _library()[0]


def format_provenance() -> dict[str, Provenance]:
    return _library()[1]


def _alias_path(name: str) -> Path | None:
    found = preset_path(name)
    if found is not None:
        return found
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        data = read_yaml(path) or {}
        if isinstance(data, dict) and name in (data.get("aliases") or []):
            return path
    return None


def load_stack(ref: str | Path) -> LoadedStack:
    """A stack preset by name or alias (`ollama` is llama.cpp, `gpt-fast` is torchao), or a YAML path."""
    raw = resolve(ref, presets=_alias_path, preset_names=preset_names, what="stack")
    spec = validate(StackSpec, raw)
    lib = format_library()
    problems = []
    for name in spec.formats:
        if lib.canonical(name) is None:
            close = difflib.get_close_matches(name, list(lib.formats), n=1)
            problems.append(Problem(
                file=raw.file, path=f"formats.{name}", message=f"unknown weight format {name!r}", value=name,
                expected=f"one of the formats in stacks/formats.yaml: {', '.join(lib.formats)}",
                hint=f"did you mean '{close[0]}'?" if close else "add the format's block layout to stacks/formats.yaml"))
    if problems:
        raise SpecError(problems)
    return LoadedStack(spec=spec, provenance=raw.provenance, file=raw.file, raw=raw)


def stack_names_and_aliases() -> dict[str, str]:
    """Every name a stack answers to (preset name and its aliases) -> preset name."""
    out: dict[str, str] = {}
    for name in preset_names():
        out[name] = name
        for alias in load_stack(name).spec.aliases:
            out[alias] = name
    return out


def stack_with_edits(ref: str, edits: dict[str, Any] | None = None) -> StackSpec:
    """A stack preset with `dotted.path: value` edits applied (what a fit varies)."""
    raw = resolve(ref, presets=preset_path, preset_names=preset_names, what="stack")
    data = copy.deepcopy(raw.data)
    for path, value in (edits or {}).items():
        set_path(data, path, value)
    return validate(StackSpec, RawSpec(data=data, provenance={}, file=raw.file, chain=raw.chain))
