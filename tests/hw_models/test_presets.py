"""Every hardware preset loads, and every number in it carries a source or a stated assumption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from slmsim.hw_models.load import PRESET_DIR, load_hardware, preset_names
from slmsim.core.yamlio import is_wrapper

EXPECTED = {"orin-nano", "orin-nano-super", "agx-orin-64gb", "sa8255p", "snapdragon-8-elite", "a100-80gb",
            "h100-sxm", "edgecim", "elmoe3d",
            # issue 14: ELMoE-3D's 4 GB configuration and its baselines
            "elmoe3d-4gb", "elmoe3d-xpu", "elmoe3d-4gb-xpu", "elmoe3d-hb-xpu",
            # issue 12: devices people compare a proposed chip against
            "raspberry-pi-5", "ryzen-ai-5-340", "apple-m1", "apple-m1-max", "apple-m1-ultra", "apple-m2-max",
            "apple-m3-ultra", "apple-m4", "jetson-agx-thor", "jetson-thor-t4000", "orin-nx-16gb",
            "snapdragon-x-elite", "snapdragon-8-gen3", "snapdragon-8-elite-gen5", "h100-pcie"}
# keys whose values are names or choices, not figures
NOT_FIGURES = {"name", "description", "kind", "technology", "style", "memory", "weight_memory", "kv_memory",
               "extends", "double_buffer", "prefill", "decode", "device_class", "core", "dot_product_isa"}


def test_preset_names_are_exactly_the_required_ones() -> None:
    assert set(preset_names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_loads(name: str) -> None:
    hw = load_hardware(name)
    assert hw.spec.name == name
    assert hw.spec.description


def _unsourced(node: Any, path: str) -> list[str]:
    if is_wrapper(node):
        return []
    if isinstance(node, dict):
        out = []
        for k, v in node.items():
            if k in NOT_FIGURES:
                continue
            out += _unsourced(v, f"{path}.{k}" if path else str(k))
        return out
    return [path]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_preset_number_has_a_source_or_assumption(name: str) -> None:
    data = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())
    assert _unsourced(data, "") == []
    for path, prov in load_hardware(name).provenance.items():
        assert (prov.source or prov.assumption or "").strip(), path


def test_extends_overrides_and_keeps_provenance() -> None:
    base = load_hardware("orin-nano")
    sup = load_hardware("orin-nano-super")
    assert sup.chain == ("preset:orin-nano-super", "preset:orin-nano")
    assert sup.spec.memories["dram"].peak_bandwidth_bytes_per_s == 102e9
    assert base.spec.memories["dram"].peak_bandwidth_bytes_per_s == 68e9
    assert sup.spec.memories["dram"].capacity_bytes == base.spec.memories["dram"].capacity_bytes
    assert "102 GB/s" in (sup.provenance["memories.dram.bandwidth"].source or "")
    assert sup.provenance["memories.dram.capacity"] == base.provenance["memories.dram.capacity"]


def test_user_spec_extends_a_preset(tmp_path: Path) -> None:
    mine = tmp_path / "my-orin.yaml"
    mine.write_text("extends: orin-nano\nname: my-orin\nmemories:\n  dram:\n    bandwidth: 100 GB/s\n")
    hw = load_hardware(mine)
    assert hw.spec.name == "my-orin"
    assert hw.spec.memories["dram"].bandwidth_bytes_per_s == 100e9
    assert "memories.dram.bandwidth" not in hw.provenance  # overridden: the preset's source no longer applies


def test_specs_are_frozen() -> None:
    hw = load_hardware("orin-nano").spec
    with pytest.raises(Exception):
        hw.name = "x"  # type: ignore[misc]


def test_hybrid_bonded_bandwidth_follows_from_the_bonds() -> None:
    hb = load_hardware("elmoe3d").spec.memories["hb"]
    # 32 banks (one per PE) x 1024 pins x 0.4 Gb/s: ELMoE-3D's 1638.4 GB/s (8 GB configuration)
    assert hb.peak_bandwidth_bytes_per_s == pytest.approx(32 * 1024 * 0.4e9 / 8)
    assert hb.peak_bandwidth_bytes_per_s == pytest.approx(1638.4e9)


CPUS = ["raspberry-pi-5", "ryzen-ai-5-340", "snapdragon-x-elite"]


@pytest.mark.parametrize("name", CPUS)
def test_cpu_peaks_follow_from_cores_simd_and_clock(name: str) -> None:
    """A CPU preset's stated int8 and fp32 peaks are what its cores, SIMD width, pipes and ISA give."""
    from slmsim.hw_models.processor import CpuDevice, MathPrecision

    cpu = next(d for d in load_hardware(name).spec.devices.values() if isinstance(d, CpuDevice))
    assert cpu.matrix_throughput[MathPrecision.INT8] == pytest.approx(cpu.derived_int8_ops_per_s(), rel=2e-3)
    assert cpu.vector_throughput_ops_per_s == pytest.approx(cpu.derived_fp32_flops(), rel=2e-3)


def test_raspberry_pi_5_by_hand() -> None:
    # 4 Cortex-A76 x 2 NEON pipes x 4 lanes x 8 ops (SDOT) x 2.4 GHz; LPDDR4X-4267 x 32 bit / 8
    spec = load_hardware("raspberry-pi-5").spec
    cpu = spec.devices["cpu"]
    assert cpu.derived_int8_ops_per_s() == pytest.approx(4 * 2 * 4 * 8 * 2.4e9)
    assert spec.memories["dram"].peak_bandwidth_bytes_per_s == pytest.approx(4267e6 * 32 / 8, rel=1e-3)


@pytest.mark.parametrize("name", ["orin-nano", "agx-orin-64gb", "orin-nx-16gb", "jetson-agx-thor", "a100-80gb",
                                  "snapdragon-8-elite", "apple-m1-max"])
def test_accelerators_state_a_host_cpu_and_a_class(name: str) -> None:
    dev = next(iter(load_hardware(name).spec.devices.values()))
    assert dev.device_class and dev.host_cpu is not None and dev.host_cpu.clock_hz > 0


def _gpu_presets() -> list[str]:
    return [n for n in preset_names() if any(d.kind == "gpu" for d in load_hardware(n).spec.devices.values())]


@pytest.mark.parametrize("name", _gpu_presets())
def test_every_gpu_preset_states_its_host_cpu(name: str) -> None:
    """The GPU stacks' launch cost runs on the host CPU: a GPU preset without one refuses vllm,
    llama.cpp, tensorrt-llm and mlc (h100-sxm did, audit of 2026-12-04)."""
    for dev in load_hardware(name).spec.devices.values():
        if dev.kind == "gpu":
            assert dev.host_cpu is not None and dev.host_cpu.clock_hz > 0, name


def test_gddr6_is_a_memory_technology() -> None:
    from slmsim.hw_models.memory import DramTechnology

    assert {"gddr6", "gddr6x"} <= {t.value for t in DramTechnology}
