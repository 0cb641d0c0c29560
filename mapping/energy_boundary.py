"""Energy boundaries: which joules a figure counts (issue 14).

Every joule a run charges is spent in one *layer*: the chip (compute, on-chip memory, NoC,
CIM macros, the chip's leakage and clocks), the memory outside it (off-chip or stacked DRAM
traffic, its background and refresh power) or the rest of the board (board idle power,
device-to-device links). A boundary is a set of layers, nested:

    chip  ⊆  chip+memory  ⊆  board

so chip <= chip+memory <= board for every run, and `board` is everything the engines charge
(the figures slmsim always reported). docs/architecture.md lists the mapping of every
`Component`; `tests/simulator/test_energy_boundary.py` checks it covers all of them.

Dynamic energy is classified by its `Component`. `Component.STATIC` (always-on and active
power x time) is split by source: each always-on source (a device's leakage/static or idle
power, a memory tier's background power) by `always_on_layer`, a processor's active power
(clocks up while kernels run) to the chip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from slmsim.mapping.cost import Component


class Layer(StrEnum):
    CHIP = "chip"
    MEMORY = "memory"
    BOARD = "board"


class EnergyBoundary(StrEnum):
    CHIP = "chip"
    CHIP_MEMORY = "chip+memory"
    BOARD = "board"

    @property
    def layers(self) -> tuple[Layer, ...]:
        return _LAYERS[self]


_LAYERS: dict[EnergyBoundary, tuple[Layer, ...]] = {
    EnergyBoundary.CHIP: (Layer.CHIP,),
    EnergyBoundary.CHIP_MEMORY: (Layer.CHIP, Layer.MEMORY),
    EnergyBoundary.BOARD: (Layer.CHIP, Layer.MEMORY, Layer.BOARD),
}

# The layer of every dynamic-energy component (STATIC is split by source, see below).
COMPONENT_LAYER: dict[Component, Layer] = {
    Component.CIM_ARRAY: Layer.CHIP,
    Component.CIM_READOUT: Layer.CHIP,
    Component.CIM_WEIGHT_WRITE: Layer.CHIP,
    Component.BUFFER: Layer.CHIP,
    Component.NOC: Layer.CHIP,
    Component.VECTOR_UNIT: Layer.CHIP,
    Component.GPU_COMPUTE: Layer.CHIP,
    Component.NPU_COMPUTE: Layer.CHIP,
    Component.CPU_COMPUTE: Layer.CHIP,
    Component.SRAM: Layer.CHIP,  # an on-chip SRAM tier's traffic
    Component.DRAM: Layer.MEMORY,  # off-chip DRAM traffic (LPDDR, GDDR, HBM)
    Component.HB_DRAM: Layer.MEMORY,  # stacked (hybrid-bonded) DRAM traffic: outside the logic die
    Component.LINK: Layer.BOARD,  # device-to-device transfers across the board
}

ACTIVE_POWER_LAYER = Layer.CHIP  # a processor's power above idle while it runs kernels


def tier_layer(component: Component) -> Layer:
    """Background power of a memory tier lands where its traffic does (SRAM: chip)."""
    return COMPONENT_LAYER[component]


def add_dynamic(layers: dict[str, float], energy: Mapping[Component, float]) -> None:
    """Add dynamic energy by component to `layers` (layer -> J). STATIC is not allowed here."""
    for comp, j in energy.items():
        comp = Component(comp)
        if comp is Component.STATIC:
            raise ValueError("static energy is split by source: use add_static")
        key = COMPONENT_LAYER[comp].value
        layers[key] = layers.get(key, 0.0) + j


def add_static(layers: dict[str, float], always_on_power_w: Mapping[str, float], always_on_layer: Mapping[str, Layer],
               always_on_s: float, active: Iterable[tuple[float, float]] = ()) -> None:
    """Add always-on power x `always_on_s` per source and (active power W, seconds) pairs."""
    for name, w in always_on_power_w.items():
        key = always_on_layer.get(name, Layer.BOARD).value
        layers[key] = layers.get(key, 0.0) + w * always_on_s
    act = sum(w * s for w, s in active)
    if act:
        key = ACTIVE_POWER_LAYER.value
        layers[key] = layers.get(key, 0.0) + act


def scaled(layers: Mapping[str, float], factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in layers.items()}


def within(layers: Mapping[str, float], boundary: EnergyBoundary | str) -> float:
    """Energy of `layers` (layer -> J) inside `boundary`."""
    b = EnergyBoundary(boundary)
    return sum(layers.get(layer.value, 0.0) for layer in b.layers)


def parse_boundary(text: str) -> EnergyBoundary:
    """`chip`, `chip+memory` (also `chip-memory`, `chip_memory`) or `board`."""
    t = str(text).strip().lower().replace("-", "+").replace("_", "+")
    return EnergyBoundary(t)
