"""Exact event timelines of the fair-shared bandwidth channel."""

from __future__ import annotations

import pytest
import simpy

from slmsim.simulator.channel import BandwidthChannel


def timeline(transfers: list[tuple[float, float]], bw: float = 100.0) -> list[tuple[int, float]]:
    """(start time, bytes) per transfer -> (index, finish time) in finishing order."""
    env = simpy.Environment()
    ch = BandwidthChannel(env, "mem", bw)
    done: list[tuple[int, float]] = []

    def one(i: int, start: float, nbytes: float):
        yield env.timeout(start)
        yield ch.transfer(nbytes)
        done.append((i, env.now))

    for i, (start, nbytes) in enumerate(transfers):
        env.process(one(i, start, nbytes))
    env.run()
    return done


def test_lone_transfer_takes_bytes_over_bandwidth() -> None:
    assert timeline([(0.0, 250.0)]) == [(0, 2.5)]


def test_two_equal_transfers_share_fairly() -> None:
    assert timeline([(0.0, 100.0), (0.0, 100.0)]) == [(0, 2.0), (1, 2.0)]


def test_late_arrival_slows_the_first() -> None:
    # 0..1 s: A alone moves 100 B; then A and B share 50 B/s each; A's last 100 B take 2 s
    done = dict(timeline([(0.0, 200.0), (1.0, 300.0)]))
    assert done[0] == pytest.approx(3.0)
    # B: 100 B by t=3, then alone for 200 B at 100 B/s
    assert done[1] == pytest.approx(5.0)


def test_small_transfer_finishes_first() -> None:
    done = timeline([(0.0, 1000.0), (0.0, 10.0)])
    assert done[0][0] == 1
    assert done[0][1] == pytest.approx(0.2)
    assert done[1][1] == pytest.approx(10.1)


def test_busy_time_and_bytes_are_counted() -> None:
    env = simpy.Environment()
    ch = BandwidthChannel(env, "mem", 10.0)

    def p():
        yield env.timeout(1.0)
        yield ch.transfer(20.0)

    env.process(p())
    env.run()
    ch._advance()
    assert ch.bytes_moved == 20.0
    assert ch.busy_time_s == pytest.approx(2.0)


def test_huge_transfers_do_not_stall_on_rounding() -> None:
    # bytes and bandwidth of a real decode step: must finish, at the right time
    assert timeline([(0.0, 1.807e9)], bw=54.4e9)[0][1] == pytest.approx(1.807e9 / 54.4e9)


def test_strict_priority_lets_the_urgent_transfer_through() -> None:
    env = simpy.Environment()
    ch = BandwidthChannel(env, "mem", 100.0, priority=True)
    done: dict[str, float] = {}

    def go(name: str, start: float, nbytes: float, prio: int):
        yield env.timeout(start)
        yield ch.transfer(nbytes, priority=prio)
        done[name] = env.now

    env.process(go("bulk", 0.0, 300.0, 0))
    env.process(go("urgent", 1.0, 100.0, 1))
    env.run()
    assert done["urgent"] == pytest.approx(2.0)  # alone at full bandwidth from t=1
    assert done["bulk"] == pytest.approx(4.0)  # paused during [1, 2]
