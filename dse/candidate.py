"""A candidate design: the base tree with the sampled values put in, validated.

The base tree is never modified: each candidate starts from a deep copy. Sub-tree
parameters are applied before leaves, so a leaf parameter inside a sub-tree alternative
refines it (the space loader refuses alternatives that set a key that is also a parameter).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from slmsim.dse.space import Space, set_path
from slmsim.hw_models.cim import CimAccelerator
from slmsim.hw_models.load import LoadedHardware, hardware_from_raw
from slmsim.hw_models.spec import HardwareSpec
from slmsim.core.yamlio import RawSpec


def derive_tree(base_si: Mapping[str, Any], space: Space, sampled: Mapping[str, Any]) -> dict[str, Any]:
    """A new tree: `base_si` with each parameter's value (by path) put in. `base_si` is untouched."""
    tree = copy.deepcopy(dict(base_si))
    for p in sorted(space.params, key=lambda p: (len(p.parts), p.path)):
        set_path(tree, p.parts, p.tree_value(sampled[p.path]), merge=p.subtree)
    return tree


def build_hardware(tree: dict[str, Any], *, label: str) -> LoadedHardware:
    """Validate a candidate tree (quantities as SI floats); `SpecError` if it is not a valid design."""
    return hardware_from_raw(RawSpec(data=tree, provenance={}, file=label, chain=(label,)), si_floats=True)


def system_area_mm2(spec: HardwareSpec) -> tuple[float | None, list[str]]:
    """Silicon area: every device plus on-chip tiers (SRAM, hybrid-bonded DRAM dies).

    Off-chip DRAM packages are not counted. Returns (None, [devices without an area]) when
    a processor does not state its area.
    """
    total = 0.0
    unknown: list[str] = []
    for name, dev in spec.devices.items():
        area = dev.area_mm2 if isinstance(dev, CimAccelerator) else getattr(dev, "area_mm2", None)
        if area is None:
            unknown.append(name)
        else:
            total += float(area)
    for tier in spec.memories.values():
        total += float(getattr(tier, "area_mm2", 0.0) or 0.0)
    return (None, unknown) if unknown else (total, [])
