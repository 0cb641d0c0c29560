"""A memory channel whose bandwidth is shared fairly by the transfers in flight.

Processor sharing: n concurrent transfers each progress at bandwidth / n. Every arrival
or completion re-plans the next completion, so the order of events is deterministic
(ties resolve in arrival order) and a lone transfer takes exactly bytes / bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy


@dataclass
class _Transfer:
    remaining_bytes: float
    total_bytes: float
    done: simpy.Event
    seq: int


@dataclass
class BandwidthChannel:
    env: simpy.Environment
    name: str
    bandwidth_bytes_per_s: float
    busy_time_s: float = 0.0
    bytes_moved: float = 0.0
    _active: list[_Transfer] = field(default_factory=list)
    _last_s: float = 0.0
    _wakeup: simpy.Event | None = None
    _planned: _Transfer | None = None
    _seq: int = 0

    def transfer(self, nbytes: float) -> simpy.Event:
        done = self.env.event()
        if nbytes <= 0:
            done.succeed()
            return done
        self._advance()
        self._seq += 1
        self._active.append(_Transfer(remaining_bytes=nbytes, total_bytes=nbytes, done=done, seq=self._seq))
        self.bytes_moved += nbytes
        self._replan()
        return done

    def _advance(self) -> None:
        """Progress every active transfer to now."""
        now = self.env.now
        dt = now - self._last_s
        if dt > 0 and self._active:
            share = self.bandwidth_bytes_per_s / len(self._active) * dt
            for t in self._active:
                t.remaining_bytes -= share
            self.busy_time_s += dt
        self._last_s = now

    def _replan(self) -> None:
        if not self._active:
            return
        rate = self.bandwidth_bytes_per_s / len(self._active)
        first = min(self._active, key=lambda t: (t.remaining_bytes, t.seq))
        delay = max(first.remaining_bytes, 0.0) / rate
        wake = self.env.timeout(delay)
        self._wakeup = wake
        self._planned = first
        wake.callbacks.append(lambda _ev, w=wake: self._on_wake(w))

    def _on_wake(self, wake: simpy.Event) -> None:
        if wake is not self._wakeup:
            return  # superseded by a later arrival
        self._advance()
        # the planned transfer is done by construction; float rounding must not keep it
        # alive (a re-plan with a sub-ulp delay would never advance the clock)
        finished = [t for t in self._active
                    if t is self._planned or t.remaining_bytes <= 1e-9 * t.total_bytes]
        finished.sort(key=lambda t: t.seq)
        for t in finished:
            self._active.remove(t)
            t.done.succeed()
        self._replan()
