"""Load software-stack presets and the weight-format library (like `hw_models.load`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from slmsim.core.errors import Problem, SpecError
from slmsim.core.yamlio import Provenance, RawSpec, lift_provenance, read_yaml, resolve, validate
from slmsim.stacks.spec import FormatLibrary, StackSpec

PRESET_DIR = Path(__file__).parent / "presets"
FORMATS_FILE = Path(__file__).parent / "formats.yaml"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path | None:
    path = PRESET_DIR / f"{name}.yaml"
    return path if path.is_file() else None


@dataclass(frozen=True)
class LoadedStack:
    spec: StackSpec
    provenance: dict[str, Provenance]
    file: str


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


def load_stack(ref: str | Path) -> LoadedStack:
    raw = resolve(ref, presets=preset_path, preset_names=preset_names, what="stack")
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
    return LoadedStack(spec=spec, provenance=raw.provenance, file=raw.file)
