"""Load a hardware spec from a preset name or a YAML path."""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmsim.hw_models.cim import CimAccelerator
from slmsim.hw_models.spec import HardwareSpec
from slmsim.core.errors import Problem, SpecError
from slmsim.core.presets import PresetDir
from slmsim.core.quantity import SI_FLOATS_OK
from slmsim.core.yamlio import Provenance, RawSpec, register_preset_kind, resolve, set_path, validate

PRESET_DIR = Path(__file__).parent / "presets"


_PRESETS = PresetDir(PRESET_DIR)
preset_names = _PRESETS.names
preset_path = _PRESETS.path
register_preset_kind("hardware", preset_names)


@dataclass(frozen=True)
class LoadedHardware:
    spec: HardwareSpec
    provenance: dict[str, Provenance]
    file: str
    chain: tuple[str, ...]
    raw: dict[str, Any]  # the merged plain tree (what a DSE candidate is derived from)


def resolve_hardware(ref: str | Path) -> RawSpec:
    return resolve(ref, presets=preset_path, preset_names=preset_names, what="hardware")


def load_hardware(ref: str | Path) -> LoadedHardware:
    raw = resolve_hardware(ref)
    return hardware_from_raw(raw)


def hardware_from_raw(raw: RawSpec, *, si_floats: bool = False) -> LoadedHardware:
    context = {SI_FLOATS_OK: True} if si_floats else None
    spec = validate(HardwareSpec, raw, context=context)
    problems = reference_problems(spec, raw.file)
    if problems:
        raise SpecError(problems)
    return LoadedHardware(spec=spec, provenance=raw.provenance, file=raw.file, chain=raw.chain, raw=raw.data)


def _kv_tier(spec: HardwareSpec, device: str) -> str:
    return spec.devices[device].kv_tier


def hardware_with_edits(ref: str | Path, edits: dict[str, Any] | None = None) -> HardwareSpec:
    """A preset or file with `dotted.path: value` edits applied (SI floats for quantities)."""
    raw = resolve_hardware(ref)
    data = copy.deepcopy(raw.data)
    for path, value in (edits or {}).items():
        set_path(data, path, value)
    return hardware_from_raw(RawSpec(data=data, provenance={}, file=raw.file, chain=raw.chain), si_floats=True).spec


def reference_problems(spec: HardwareSpec, file: str) -> list[Problem]:
    """Names that must point at something that exists."""
    problems: list[Problem] = []
    tiers = list(spec.memories)

    def check_tier(path: str, name: str | None) -> None:
        if name is not None and name not in spec.memories:
            close = difflib.get_close_matches(name, tiers, n=1)
            problems.append(Problem(
                file=file, path=path, message=f"no memory tier named {name!r}", value=name,
                expected=f"one of the tiers under 'memories:': {', '.join(tiers)}",
                hint=f"did you mean '{close[0]}'?" if close else "add the tier under 'memories:'",
            ))

    for dname, device in spec.devices.items():
        if isinstance(device, CimAccelerator):
            check_tier(f"devices.{dname}.weight_memory", device.weight_memory)
            check_tier(f"devices.{dname}.kv_memory", device.kv_memory)
        else:
            check_tier(f"devices.{dname}.memory", device.memory)
            check_tier(f"devices.{dname}.kv_memory", device.kv_memory)
    for lname, link in spec.links.items():
        for i, dname in enumerate(link.between):
            if dname not in spec.devices:
                problems.append(Problem(
                    file=file, path=f"links.{lname}.between[{i}]", message=f"no device named {dname!r}", value=dname,
                    expected=f"one of the devices: {', '.join(spec.devices)}", hint="name a device under 'devices:'",
                ))
    pre, dec = spec.device_for("prefill"), spec.device_for("decode")
    if pre != dec and pre in spec.devices and dec in spec.devices:
        if _kv_tier(spec, pre) != _kv_tier(spec, dec) and spec.link_between(pre, dec) is None:
            problems.append(Problem(
                file=file, path="links", message=f"prefill on '{pre}' and decode on '{dec}' keep the KV cache in "
                f"different memories, but no link connects them",
                expected=f"a link with between: [{pre}, {dec}]",
                hint="add e.g. links: {pcie: {between: [" + f"{pre}, {dec}" + "], bandwidth: '16 GB/s', energy_per_bit: '5 pJ/bit'}}",
            ))
    for phase in ("prefill", "decode"):
        name = getattr(spec.placement, phase)
        if name is not None and name not in spec.devices:
            problems.append(Problem(
                file=file, path=f"placement.{phase}", message=f"no device named {name!r}", value=name,
                expected=f"one of the devices: {', '.join(spec.devices)}",
                hint="name a device listed under 'devices:'",
            ))
    return problems
