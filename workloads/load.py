"""Load a model spec from a preset name, a YAML file or a Hugging Face `config.json`."""

from __future__ import annotations

from pathlib import Path

from slmsim.core.errors import Problem, SpecError
from slmsim.core.presets import PresetDir
from slmsim.core.yamlio import Provenance, RawSpec, read_json, register_preset_kind, resolve, validate
from slmsim.workloads.model import ModelSpec

PRESET_DIR = Path(__file__).parent / "presets"


_PRESETS = PresetDir(PRESET_DIR)
preset_names = _PRESETS.names
preset_path = _PRESETS.path
register_preset_kind("model", preset_names)


def load_model(ref: str | Path) -> ModelSpec:
    """A preset name, a model YAML, a `config.json`, or a folder holding one."""
    path = Path(ref)
    if _is_config_dir(path):
        path = path / "config.json"
    if path.suffix == ".json":
        return _from_config_json(path)
    raw = resolve(ref, presets=preset_path, preset_names=preset_names, what="model")
    return validate(ModelSpec, raw)


def _is_config_dir(path: Path) -> bool:
    try:
        return path.is_dir() and (path / "config.json").is_file()
    except (OSError, ValueError):  # a name too long for the filesystem, a NUL byte
        return False


def _from_config_json(path: Path) -> ModelSpec:
    shown = str(path)
    data = read_json(path, display=shown)  # bounded: size, depth, duplicate keys, NaN (slmsim.core.limits)
    if not isinstance(data, dict):
        raise SpecError([Problem(file=shown, path="", message="expected a JSON object")])
    name = path.parent.name or path.stem
    from slmsim.workloads.hf_config import raw_from_hf_config  # config.json only: not on every start

    tree = raw_from_hf_config(data, file=shown, name=name)
    try:
        return validate(ModelSpec, RawSpec(data=tree, provenance={"": Provenance(source=shown)}, file=shown, chain=(shown,)))
    except SpecError as err:
        kept = _without_derived_head_dim(list(err.problems), data)
        raise SpecError(kept, total=err.total - (len(err.problems) - len(kept))) from None


def _without_derived_head_dim(problems: list[Problem], data: dict) -> list[Problem]:
    """Drop the head_dim problem that only echoes a bad hidden_size or num_attention_heads.

    A config without head_dim gets it as hidden_size / num_attention_heads; when either of
    those is the bad value, the user should see that one, not a head_dim they never wrote.
    """
    if data.get("head_dim") is not None:
        return problems
    roots = {"hidden_size", "num_attention_heads"}
    if not any(p.path in roots for p in problems):
        return problems
    kept = [p for p in problems if p.path != "head_dim"]
    return kept or problems
