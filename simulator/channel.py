"""A memory channel (or link) whose bandwidth is shared by the transfers in flight.

Fair sharing (default), i.e. processor sharing: n concurrent transfers each progress at
bandwidth / n. With `priority=True`, only the transfers of the highest priority in flight
progress (sharing fairly among themselves); lower ones wait. Every arrival or completion
re-plans the next completion, so event order is deterministic (ties resolve in arrival
order) and a lone transfer takes exactly bytes / bandwidth.
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
    priority: int


@dataclass
class BandwidthChannel:
    env: simpy.Environment
    name: str
    bandwidth_bytes_per_s: float
    priority: bool = False
    busy_time_s: float = 0.0
    bytes_moved: float = 0.0
    _active: list[_Transfer] = field(default_factory=list)
    _last_s: float = 0.0
    _wakeup: simpy.Event | None = None
    _planned: _Transfer | None = None
    _seq: int = 0

    def transfer(self, nbytes: float, *, priority: int = 0) -> simpy.Event:
        done = self.env.event()
        if nbytes <= 0:
            done.succeed()
            return done
        self._advance()
        self._seq += 1
        self._active.append(_Transfer(nbytes, nbytes, done, self._seq, priority))
        self.bytes_moved += nbytes
        self._replan()
        return done

    def _progressing(self) -> list[_Transfer]:
        if not self.priority or not self._active:
            return self._active
        top = max(t.priority for t in self._active)
        return [t for t in self._active if t.priority == top]

    def _advance(self) -> None:
        """Progress the transfers that are moving to now."""
        now = self.env.now
        dt = now - self._last_s
        if dt > 0 and self._active:
            moving = self._progressing()
            share = self.bandwidth_bytes_per_s / len(moving) * dt
            for t in moving:
                t.remaining_bytes -= share
            self.busy_time_s += dt
        self._last_s = now

    def _replan(self) -> None:
        if not self._active:
            return
        moving = self._progressing()
        rate = self.bandwidth_bytes_per_s / len(moving)
        first = min(moving, key=lambda t: (t.remaining_bytes, t.seq))
        wake = self.env.timeout(max(first.remaining_bytes, 0.0) / rate)
        self._wakeup = wake
        self._planned = first
        wake.callbacks.append(lambda _ev, w=wake: self._on_wake(w))

    def _on_wake(self, wake: simpy.Event) -> None:
        if wake is not self._wakeup:
            return  # superseded by a later arrival
        self._advance()
        # the planned transfer is done by construction; float rounding must not keep it
        # alive (a re-plan with a sub-ulp delay would never advance the clock)
        finished = [t for t in self._active if t is self._planned or t.remaining_bytes <= 1e-9 * t.total_bytes]
        finished.sort(key=lambda t: t.seq)
        for t in finished:
            self._active.remove(t)
            t.done.succeed()
        self._replan()
