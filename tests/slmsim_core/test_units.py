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


# --- the pint-free table (slmsim.core.units_table, issue 18 item 5) ----------------------

def test_the_table_is_what_pint_gives() -> None:
    """Every factor of the table equals pint's for that unit and dimension (regenerated from
    pint here), and pint accepts every listed unit for its dimension: a stale or hand-edited
    entry fails. Regenerate with `python -m slmsim.core.units_table`."""
    from slmsim.core.units_table import FACTORS, generate

    assert generate() == FACTORS
    assert sum(len(u) for u in FACTORS.values()) >= 100


@pytest.mark.parametrize("text", ["68 GB/s", "0.88 pJ/bit", "1e-3 mJ/op", "+2.5e2 MHz", "8 GiB", "0.5 mm^2",
                                  "6.4 Gbps", "1e30 GB/s", "1e-300 GB/s", "-3 W", "0 Hz", "9e999 GB/s", "5 us",
                                  ".5 nm", "312 TFLOPS", "0.8 V", "1e19 B"])
def test_table_and_pint_paths_agree_exactly(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same float, or the same error message and hint, with and without the table."""
    from slmsim.core import units

    def outcome() -> list[object]:
        got = []
        for dim in Dim:
            try:
                got.append(parse_quantity(text, dim))
            except UnitParseError as exc:
                got.append((str(exc), exc.expected, exc.hint))
        return got

    fast = outcome()
    monkeypatch.setattr(units, "FACTORS", {})
    assert outcome() == fast


def test_loading_every_shipped_spec_needs_no_pint() -> None:
    """The presets use only units of the table, so loading them never imports pint."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from pathlib import Path\n"
            "import slmsim.hw_models, slmsim.stacks, slmsim.workloads\n"
            "from slmsim.hw_models.load import load_hardware\n"
            "from slmsim.stacks.load import load_stack\n"
            "from slmsim.workloads.load import load_model\n"
            "n = 0\n"
            "for pkg, load in ((slmsim.hw_models, load_hardware), (slmsim.stacks, load_stack),\n"
            "                  (slmsim.workloads, load_model)):\n"
            "    for p in sorted(Path(pkg.__file__).parent.joinpath('presets').glob('*.yaml')):\n"
            "        load(p.stem)\n"
            "        n += 1\n"
            "assert n >= 40, n\n"
            "print('pint' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
