"""The plan memos (`mapping.memo`, issue 18 item 1) must never return a stale value.

Each memo is keyed by the values its computation reads. If a key missed a field, a plan of
hardware that differs only in that field would reuse the other hardware's mapped ops or
steps. So: walk every numeric and boolean field of every device and memory tier of a few
hardware specs (nested specs and dicts included), change one at a time, and map + run the
changed hardware right after the base hardware has filled the memos. The result with the
memos on must equal, exactly, the result with every memo off. Scenario and model changes
(precision, prompt, batch, model shape) are walked the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from slmsim.hw_models.load import load_hardware
from slmsim.hw_models.spec import HardwareSpec
from slmsim.mapping import memo
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.load import load_model
from slmsim.workloads.model import ModelSpec
from slmsim.workloads.scenario import Precision, Scenario

SCEN = Scenario(prompt_tokens=48, gen_tokens=12, batch=1, precision=Precision(weight_bits=4, activation_bits=8))
MOE_SCEN = Scenario.model_validate({"prompt_tokens": 48, "gen_tokens": 12, "batch": 1,
                                    "precision": {"weight_bits": 4, "activation_bits": 8},
                                    "moe": {"routing": {"model": "zipf", "s": 0.8},
                                            "expert_cache": {"tier": "hb", "experts_per_layer": 16}}})


def _changed(value: object) -> object | None:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.25 if value else 1e-12
    return None


def variants(spec: BaseModel, path: str = "") -> Iterator[tuple[str, BaseModel]]:
    """`spec` with one numeric or boolean leaf changed, for every such leaf (no validation:
    both memo settings see the same object, whatever it holds)."""
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        here = f"{path}.{name}" if path else name
        if isinstance(value, BaseModel):
            for sub_path, sub in variants(value, here):
                yield sub_path, spec.model_copy(update={name: sub})
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    for sub_path, sub in variants(v, f"{here}[{k}]"):
                        yield sub_path, spec.model_copy(update={name: {**value, k: sub}})
                elif (c := _changed(v)) is not None:
                    yield f"{here}[{k}]", spec.model_copy(update={name: {**value, k: c}})
        elif (c := _changed(value)) is not None:
            yield here, spec.model_copy(update={name: c})


def outcome(hw: HardwareSpec, model: ModelSpec, scen: Scenario, engine: str = "analytic") -> str:
    """The whole result (or the refusal or error) as exact JSON text."""
    try:
        plan = make_plan(hw, model, scen)
        if not hasattr(plan, "mapper"):
            return repr(plan)
        res = run(plan, engine=engine)
    except (ValueError, ZeroDivisionError, AssertionError, OverflowError) as exc:
        return f"{type(exc).__name__}: {exc}"
    d = dataclasses.asdict(res)
    return json.dumps(d, sort_keys=True, default=repr) + repr(plan.decode) + repr(plan.prefill)


def _stationary_edgecim() -> HardwareSpec:
    hw = load_hardware("edgecim").spec
    cim = hw.devices["cim"]
    return hw.model_copy(update={"devices": {"cim": cim.model_copy(update={"tiles": cim.tiles * 64})}})


CASES = {
    "edgecim streaming": (lambda: load_hardware("edgecim").spec, "qwen3-0.6b", SCEN),
    "edgecim stationary": (_stationary_edgecim, "qwen3-0.6b", SCEN),
    "orin-nano gpu": (lambda: load_hardware("orin-nano").spec, "qwen3-0.6b", SCEN),
    "raspberry-pi-5 cpu": (lambda: load_hardware("raspberry-pi-5").spec, "qwen3-0.6b", SCEN),
    "elmoe3d moe + expert cache": (lambda: load_hardware("elmoe3d").spec, "qwen3-30b-a3b", MOE_SCEN),
    "gpu prefill + cim decode": (lambda: load_hardware("tests/fixtures/hetero-shared-dram.yaml").spec,
                                 "qwen3-0.6b", SCEN),
}


def _hardware_variants(hw: HardwareSpec) -> Iterator[tuple[str, HardwareSpec]]:
    for dname, dev in hw.devices.items():
        for path, new in variants(dev):
            yield f"devices[{dname}].{path}", hw.model_copy(update={"devices": {**hw.devices, dname: new}})
    for tname, tier in hw.memories.items():
        for path, new in variants(tier):
            yield f"memories[{tname}].{path}", hw.model_copy(update={"memories": {**hw.memories, tname: new}})


@pytest.mark.parametrize("case", sorted(CASES))
def test_memo_on_equals_memo_off_when_any_hardware_field_changes(case: str) -> None:
    make_hw, model_name, scen = CASES[case]
    base = make_hw()
    model = load_model(model_name)
    memo.clear_all()
    base_out = outcome(base, model, scen)
    with memo.disabled():
        assert outcome(base, model, scen) == base_out
    changed = 0
    checked = 0
    for path, hw in _hardware_variants(base):
        outcome(base, model, scen)  # the base fills the memos, then the changed hardware asks
        on = outcome(hw, model, scen)
        with memo.disabled():
            off = outcome(hw, model, scen)
        assert on == off, f"{case}: changing {path} returned a stale memoised result"
        checked += 1
        changed += on != base_out
    # the walk reaches the fields that matter: many changes move the result
    assert checked >= 20 and changed >= 10, (checked, changed)
    assert memo.OPS.hits > 0 and memo.STEPS.hits > 0  # and the memos were used


def test_memo_on_equals_memo_off_when_model_or_scenario_changes() -> None:
    hw = load_hardware("edgecim").spec
    model = load_model("qwen3-0.6b")
    memo.clear_all()
    cases = [("base", model, SCEN)]
    for field in ("prompt_tokens", "gen_tokens", "batch"):
        cases.append((field, model, SCEN.model_copy(update={field: getattr(SCEN, field) + 3})))
    for path, prec in variants(SCEN.precision):
        cases.append((f"precision.{path}", model, SCEN.model_copy(update={"precision": prec})))
    for path, m in variants(model):  # the name stays: only the values tell the models apart
        cases.append((f"model.{path}", m, SCEN))
    for name, m, s in cases:
        outcome(hw, model, SCEN)
        on = outcome(hw, m, s)
        with memo.disabled():
            off = outcome(hw, m, s)
        assert on == off, f"changing {name} returned a stale memoised result"
    assert len(cases) >= 15


@pytest.mark.parametrize(("module", "name"), [("slmsim.workloads.graph", "NORM_OPS_PER_ELEMENT"),
                                              ("slmsim.workloads.graph", "ACTIVATION_OPS_PER_ELEMENT"),
                                              ("slmsim.mapping.cim", "PSUM_WORD_BYTES")])
def test_memo_on_equals_memo_off_when_a_module_constant_changes(module: str, name: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Constants a sensitivity study changes at run time are part of the keys."""
    import importlib

    hw, model = load_hardware("edgecim").spec, load_model("qwen3-0.6b")
    base = outcome(hw, model, SCEN)
    monkeypatch.setattr(importlib.import_module(module), name, 2 * getattr(importlib.import_module(module), name))
    on = outcome(hw, model, SCEN)
    with memo.disabled():
        off = outcome(hw, model, SCEN)
    assert on == off != base


def test_memo_on_equals_memo_off_in_the_des() -> None:
    """The DES maps further steps on demand (sampled MoE routing): same result either way."""
    hw = load_hardware("elmoe3d").spec
    model = load_model("qwen3-30b-a3b")
    memo.clear_all()
    on = [outcome(hw, model, MOE_SCEN, engine="des") for _ in range(2)]
    with memo.disabled():
        off = outcome(hw, model, MOE_SCEN, engine="des")
    assert on[0] == on[1] == off


def test_memos_are_bounded() -> None:
    m: memo.Memo[int] = memo.Memo("t", 3)
    for i in range(10):
        assert m.get(i, lambda i=i: i * i) == i * i
    assert len(m) == 3 and m.get(9, lambda: -1) == 81 and m.get(0, lambda: -1) == -1
