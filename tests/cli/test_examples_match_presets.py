"""An example that copies a preset's device must not drift from it when a refit moves a constant.

examples/hetero-orin-edgecim.yaml restates the orin-nano GPU and its LPDDR5 (a spec cannot
take one device from another preset); before this test the copy kept the pre-refit 34.1 us,
6.88 ops/weight and 0.845 while the preset said 39.17 us, 7.548 and 0.8791."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmsim.hw_models.load import load_hardware

ROOT = Path(__file__).resolve().parents[2]

FIELDS = ("clock", "matrix_throughput", "vector_throughput", "compute_efficiency", "kernel_overhead",
          "dequant_ops_per_weight", "idle_power", "active_power", "energy_per_op")
MEMORY_FIELDS = ("technology", "capacity", "bandwidth", "achievable_fraction", "energy_per_bit")


def _field(obj: object, name: str) -> object:
    fields = type(obj).model_fields
    attr = next((n for n, f in fields.items() if (f.alias or n) == name), name)
    return getattr(obj, attr)


@pytest.mark.parametrize("field", FIELDS)
def test_hetero_example_gpu_is_the_orin_nano_gpu(field: str) -> None:
    example = load_hardware(str(ROOT / "examples" / "hetero-orin-edgecim.yaml")).spec
    preset = load_hardware("orin-nano").spec
    assert _field(example.devices["gpu"], field) == _field(preset.devices["gpu"], field)


@pytest.mark.parametrize("field", MEMORY_FIELDS)
def test_hetero_example_gpu_memory_is_the_orin_nano_memory(field: str) -> None:
    example = load_hardware(str(ROOT / "examples" / "hetero-orin-edgecim.yaml")).spec
    preset = load_hardware("orin-nano").spec
    assert _field(example.memories["gpu_dram"], field) == _field(preset.memories["dram"], field)
