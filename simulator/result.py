"""`SimResult`: what a run produced. Extensive figures are stored; rates are derived.

Results add (`a + b`): times, energies, tokens and requests sum, so an aggregate over
workloads or requests reports consistent rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from slmsim.mapping.energy_boundary import EnergyBoundary, within


def _merge(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


@dataclass(frozen=True)
class SimResult:
    engine: str
    requests: int
    prefill_time_s: float  # wall time of prefill steps
    ttft_sum_s: float  # time to first token, summed over requests
    decode_time_s: float  # wall time of decode steps
    decode_steps: float  # token positions decoded per sequence (rounds when one token per round)
    decode_tokens: int  # tokens produced by decode steps (batch x steps)
    generated_tokens: int  # all output tokens incl. the one prefill yields
    prefill_energy_j: float
    decode_energy_j: float
    energy_breakdown_j: dict[str, float]
    latency_breakdown_s: dict[str, dict[str, float]]  # phase -> op class -> seconds
    busy_time_s: dict[str, float]  # resource -> seconds busy
    memory_footprint_bytes: dict[str, float]
    weight_mode: dict[str, str] = field(default_factory=dict)
    makespan_s: float | None = None  # wall time when phases overlap (serving); None: prefill + decode
    extra: dict[str, Any] = field(default_factory=dict)
    # phase ("prefill", "decode") -> energy layer ("chip", "memory", "board") -> J; the same
    # joules as prefill_energy_j / decode_energy_j, split by where they are spent
    # (mapping.energy_boundary). Empty for results built by hand: every boundary is then the whole.
    energy_layers_j: dict[str, dict[str, float]] = field(default_factory=dict)
    # always-on power while no request is in the system (a request stream's gaps, before the
    # first arrival): in energy_j, in neither phase; its layers are energy_layers_j["idle"]
    idle_energy_j: float = 0.0

    # Derived ------------------------------------------------------------------------

    @property
    def total_time_s(self) -> float:
        if self.makespan_s is not None:
            return self.makespan_s
        return self.prefill_time_s + self.decode_time_s

    @property
    def ttft_s(self) -> float:
        return self.ttft_sum_s / self.requests

    @property
    def tpot_s(self) -> float:
        return self.decode_time_s / self.decode_steps if self.decode_steps else math.nan

    @property
    def decode_tokens_per_s(self) -> float:
        return self.decode_tokens / self.decode_time_s if self.decode_time_s > 0 else math.nan

    @property
    def energy_j(self) -> float:
        return self.prefill_energy_j + self.decode_energy_j + self.idle_energy_j

    @property
    def tokens_per_j(self) -> float:
        """Generated tokens per joule of the whole run (prefill included)."""
        return self.generated_tokens / self.energy_j if self.energy_j > 0 else math.nan

    @property
    def decode_tokens_per_j(self) -> float:
        return self.decode_tokens / self.decode_energy_j if self.decode_energy_j > 0 else math.nan

    @property
    def energy_per_decode_token_j(self) -> float:
        return self.decode_energy_j / self.decode_tokens if self.decode_tokens else math.nan

    # Energy boundaries (chip <= chip+memory <= board; board is everything charged) ---------

    def phase_energy_within_j(self, phase: str, boundary: EnergyBoundary | str) -> float:
        """Energy of `phase` ("prefill", "decode", "idle" or "all") inside `boundary`."""
        b = EnergyBoundary(boundary)
        phases = ("prefill", "decode", "idle") if phase == "all" else (phase,)
        if not self.energy_layers_j or b is EnergyBoundary.BOARD:
            whole = {"prefill": self.prefill_energy_j, "decode": self.decode_energy_j, "idle": self.idle_energy_j}
            return sum(whole[p] for p in phases)
        return sum(within(self.energy_layers_j.get(p, {}), b) for p in phases)

    def decode_tokens_per_j_within(self, boundary: EnergyBoundary | str) -> float:
        e = self.phase_energy_within_j("decode", boundary)
        return self.decode_tokens / e if e > 0 else math.nan

    def tokens_per_j_within(self, boundary: EnergyBoundary | str) -> float:
        e = self.phase_energy_within_j("all", boundary)
        return self.generated_tokens / e if e > 0 else math.nan

    def boundaries(self) -> dict[str, dict[str, float]]:
        """Every boundary's headline energy figures (the `--json` `energy_by_boundary`)."""
        out = {}
        for b in EnergyBoundary:
            dec = self.phase_energy_within_j("decode", b)
            out[b.value] = {"energy_j": self.phase_energy_within_j("all", b), "decode_energy_j": dec,
                            "energy_per_decode_token_j": dec / self.decode_tokens if self.decode_tokens else math.nan,
                            "decode_tokens_per_j": self.decode_tokens_per_j_within(b),
                            "tokens_per_j": self.tokens_per_j_within(b)}
        return out

    @property
    def utilisation(self) -> dict[str, float]:
        total = self.total_time_s
        return {k: (v / total if total > 0 else 0.0) for k, v in self.busy_time_s.items()}

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.total_time_s if self.total_time_s > 0 else math.nan

    def __add__(self, other: "SimResult") -> "SimResult":
        lat = {p: _merge(self.latency_breakdown_s.get(p, {}), other.latency_breakdown_s.get(p, {}))
               for p in dict.fromkeys([*self.latency_breakdown_s, *other.latency_breakdown_s])}
        return SimResult(
            engine=self.engine if self.engine == other.engine else f"{self.engine}+{other.engine}",
            requests=self.requests + other.requests,
            prefill_time_s=self.prefill_time_s + other.prefill_time_s,
            ttft_sum_s=self.ttft_sum_s + other.ttft_sum_s,
            decode_time_s=self.decode_time_s + other.decode_time_s,
            decode_steps=self.decode_steps + other.decode_steps,
            decode_tokens=self.decode_tokens + other.decode_tokens,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            prefill_energy_j=self.prefill_energy_j + other.prefill_energy_j,
            decode_energy_j=self.decode_energy_j + other.decode_energy_j,
            idle_energy_j=self.idle_energy_j + other.idle_energy_j,
            energy_breakdown_j=_merge(self.energy_breakdown_j, other.energy_breakdown_j),
            energy_layers_j=({p: _merge(self.energy_layers_j.get(p, {}), other.energy_layers_j.get(p, {}))
                              for p in dict.fromkeys([*self.energy_layers_j, *other.energy_layers_j])}
                             if self.energy_layers_j and other.energy_layers_j else {}),
            latency_breakdown_s=lat,
            busy_time_s=_merge(self.busy_time_s, other.busy_time_s),
            makespan_s=(None if self.makespan_s is None and other.makespan_s is None
                        else self.total_time_s + other.total_time_s),
            memory_footprint_bytes={k: max(self.memory_footprint_bytes.get(k, 0.0), other.memory_footprint_bytes.get(k, 0.0))
                                    for k in dict.fromkeys([*self.memory_footprint_bytes, *other.memory_footprint_bytes])},
        )

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if isinstance(x, float) and math.isnan(x) else x

        return {
            "engine": self.engine,
            "ttft_s": num(self.ttft_s),
            "tpot_s": num(self.tpot_s),
            "decode_tokens_per_s": num(self.decode_tokens_per_s),
            "tokens_per_j": num(self.tokens_per_j),
            "decode_tokens_per_j": num(self.decode_tokens_per_j),
            "energy_j": self.energy_j,
            "prefill_energy_j": self.prefill_energy_j,
            "decode_energy_j": self.decode_energy_j,
            "idle_energy_j": self.idle_energy_j,
            "average_power_w": num(self.average_power_w),
            "total_time_s": self.total_time_s,
            "prefill_time_s": self.prefill_time_s,
            "decode_time_s": self.decode_time_s,
            "generated_tokens": self.generated_tokens,
            "energy_breakdown_j": dict(sorted(self.energy_breakdown_j.items())),
            "energy_layers_j": {p: dict(sorted(v.items())) for p, v in sorted(self.energy_layers_j.items())},
            "energy_by_boundary": {b: {k: num(v) for k, v in d.items()} for b, d in self.boundaries().items()},
            "latency_breakdown_s": {p: dict(sorted(v.items())) for p, v in sorted(self.latency_breakdown_s.items())},
            "utilisation": dict(sorted(self.utilisation.items())),
            "memory_footprint_bytes": dict(sorted(self.memory_footprint_bytes.items())),
            "weight_mode": self.weight_mode,
            **self.extra,
        }


_NON_NEGATIVE = ("_s", "_j", "_w", "_bytes", "_per_s", "_per_j", "tokens", "steps", "requests")


def impossible_figures(d: Any, *, limit: int = 20) -> list[str]:
    """Figures in a result dict that cannot be right: NaN or inf anywhere, negative times/energies.

    `None` stands for "n/a" (e.g. TPOT with no decode step) and is fine. A key ending in a
    unit (`_s`, `_j`, `_w`, `_bytes`, a rate) marks its value, and every value below it, as
    one that must be >= 0. The CLI calls this before printing: an impossible figure is an
    internal error, never a number.
    """
    bad: list[str] = []
    stack: list[tuple[str, Any, bool]] = [("", d, False)]
    while stack and len(bad) < limit:
        path, node, nonneg = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                key = str(k)
                stack.append((f"{path}.{key}" if path else key, v, nonneg or key.endswith(_NON_NEGATIVE)))
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{path}[{i}]", v, nonneg) for i, v in enumerate(node))
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, (int, float)):
            if isinstance(node, float) and not math.isfinite(node):
                bad.append(f"{path} = {node}")
            elif nonneg and node < 0:
                bad.append(f"{path} = {node:.6g} (negative)")
    return bad
