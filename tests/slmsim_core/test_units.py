from __future__ import annotations

import pytest

from slmsim.core.units import Dim, UnitParseError, parse_quantity


@pytest.mark.parametrize(("text", "dim", "si"), [
    ("68 GB/s", Dim.BANDWIDTH, 68e9),
    ("1 GiB/s", Dim.BANDWIDTH, 2**30),
    ("0.4 Gb/s", Dim.BIT_RATE, 0.4e9),
    ("6.4 Gbps", Dim.BIT_RATE, 6.4e9),
    ("0.88 pJ/bit", Dim.ENERGY_PER_BIT, 0.88e-12),
    ("7 pJ/B", Dim.ENERGY_PER_BIT, 7e-12 / 8),
    ("625 MHz", Dim.FREQUENCY, 625e6),
    ("8 GiB", Dim.CAPACITY, 8 * 2**30),
    ("8 GB", Dim.CAPACITY, 8e9),
    ("16 Mb", Dim.CAPACITY, 2e6),
    ("4 KB", Dim.CAPACITY, 4e3),
    ("0.5 mm^2", Dim.AREA, 0.5),
    ("5000 um^2", Dim.AREA, 0.005),
    ("3 um", Dim.LENGTH, 3e-6),
    ("7 W", Dim.POWER, 7.0),
    ("10 uW", Dim.POWER, 1e-5),
    ("5 us", Dim.TIME, 5e-6),
    ("20 TOPS", Dim.THROUGHPUT, 20e12),
    ("312 TFLOPS", Dim.THROUGHPUT, 312e12),
    ("0.5 pJ/op", Dim.ENERGY_PER_OP, 0.5e-12),
])
def test_parses_to_si(text: str, dim: Dim, si: float) -> None:
    assert parse_quantity(text, dim) == pytest.approx(si, rel=1e-12)


def test_bits_and_bytes_never_mix() -> None:
    assert parse_quantity("8 Gb", Dim.CAPACITY) == pytest.approx(parse_quantity("1 GB", Dim.CAPACITY))


@pytest.mark.parametrize(("text", "dim", "message", "hint"), [
    ("68 GHz", Dim.BANDWIDTH, "is a frequency, not a bandwidth", "did you mean '68 GB/s'?"),
    ("68 GB", Dim.BANDWIDTH, "is a capacity, not a bandwidth", "did you mean '68 GB/s'?"),
    ("68", Dim.BANDWIDTH, "has no unit", "did you mean '68 GB/s'?"),
    ("68 GBs", Dim.BANDWIDTH, "cannot parse", "did you mean '68 GB/s'?"),
    ("fast", Dim.BANDWIDTH, "cannot parse", "e.g. '68 GB/s'"),
])
def test_errors_say_what_and_hint(text: str, dim: Dim, message: str, hint: str) -> None:
    with pytest.raises(UnitParseError) as exc:
        parse_quantity(text, dim)
    assert message in str(exc.value)
    assert exc.value.hint is not None and hint in exc.value.hint
    assert exc.value.expected.startswith(f"a {dim.value} with a unit")


def test_bare_numbers_are_refused() -> None:
    with pytest.raises(UnitParseError, match="has no unit"):
        parse_quantity(68, Dim.BANDWIDTH)
