"""The DES maps MoE steps at quantised distinct-expert counts and hit rates (mapping/plan.py
DISTINCT_EXPERTS_QUANTUM 0.25, HIT_RATE_QUANTUM 0.05): a cache-key quantum, not physics.

Per step the error is at most half a quantum (0.125 experts per layer, 0.025 of the expert
bytes between tiers). Over a run it averages out: against a 64x finer quantum the DES moves
by < 0.5% (measured on olmoe-1b-7b / elmoe3d: tokens/s +0.008% to +0.33%, energy -0.007%
to -0.28%), the largest at batch 4 with self-speculation, where distinct experts vary most.
"""

from __future__ import annotations

import pytest

import slmsim.mapping.plan as plan_mod
from slmsim.hw_models.load import load_hardware
from slmsim.mapping.plan import make_plan
from slmsim.simulator.engines import run
from slmsim.workloads.decoding import Autoregressive, SelfSpeculative
from slmsim.workloads.load import load_model
from slmsim.workloads.routing import ExpertCache, MoeScenario, Zipf
from slmsim.workloads.scenario import Precision, Scenario

HW, MODEL = load_hardware("elmoe3d").spec, load_model("olmoe-1b-7b")
MOE = MoeScenario(routing=Zipf(s=0.8), expert_cache=ExpertCache(tier="hb", experts_per_layer=16))
ELASTIC = SelfSpeculative(draft_len=4, acceptance=0.8, draft_top_k=2, draft_weight_bits=4, msb_tier="hb",
                          lsb_tier="lpddr")


@pytest.mark.parametrize("dec", [Autoregressive(), ELASTIC], ids=["autoregressive", "self_speculative"])
@pytest.mark.parametrize("batch", [1, 4])
def test_quantum_moves_the_des_by_under_half_a_percent(dec: object, batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    scen = Scenario(prompt_tokens=64, gen_tokens=128, batch=batch, moe=MOE, decoding=dec,
                    precision=Precision(weight_bits=8, activation_bits=8))

    def des() -> tuple[float, float, int]:
        p = make_plan(HW, MODEL, scen)
        r = run(p, engine="des", seed=3)
        return r.decode_tokens_per_s, r.energy_j, len(p.mapper._cache)

    coarse = des()
    monkeypatch.setattr(plan_mod, "DISTINCT_EXPERTS_QUANTUM", plan_mod.DISTINCT_EXPERTS_QUANTUM / 64)
    monkeypatch.setattr(plan_mod, "HIT_RATE_QUANTUM", plan_mod.HIT_RATE_QUANTUM / 64)
    fine = des()
    assert fine[2] > coarse[2]  # the finer quantum really mapped more distinct steps
    assert fine[0] == pytest.approx(coarse[0], rel=0.005)
    assert fine[1] == pytest.approx(coarse[1], rel=0.005)
