"""Conversion factors pint gives for common units, so parsing a spec needs no pint.

`FACTORS[dimension][unit text]` is `float(Quantity(1.0, unit text).to(SI unit).magnitude)`
in `slmsim.core.units`' registry: exactly the factor the pint path computes, so a quantity
parses to the same float either way. Units not listed here go through pint.

Generated: `python -m slmsim.core.units_table > slmsim_core/units_table.py` (the candidates
are the units the shipped YAML uses and every prefix of each dimension's base units; a
candidate is kept when pint accepts it for that dimension). tests/slmsim_core/test_units.py
checks every entry against pint and that every unit of the shipped YAML is listed.
"""

from __future__ import annotations

import json

# one JSON string, parsed at import: compiling a dict display of ~300 entries costs more than
# parsing it where bytecode is not cached (PYTHONDONTWRITEBYTECODE)
_JSON = r"""
{
  "bandwidth": {"B/s": 1.0, "GB/s": 1000000000.0, "Gb/s": 125000000.0, "Gbit/s": 125000000.0, "Gbyte/s": 1000000000.0, "GiB/s": 1073741824.0, "Gib/s": 134217728.0, "Gibit/s": 134217728.0, "Gibyte/s": 1073741824.0, "KB/s": 1000.0, "Kb/s": 125.0, "Kbit/s": 125.0, "Kbyte/s": 1000.0, "KiB/s": 1024.0, "Kib/s": 128.0, "Kibit/s": 128.0, "Kibyte/s": 1024.0, "MB/s": 1000000.0, "Mb/s": 125000.0, "Mbit/s": 125000.0, "Mbyte/s": 1000000.0, "MiB/s": 1048576.0, "Mib/s": 131072.0, "Mibit/s": 131072.0, "Mibyte/s": 1048576.0, "PB/s": 1000000000000000.0, "Pb/s": 125000000000000.0, "Pbit/s": 125000000000000.0, "Pbyte/s": 1000000000000000.0, "TB/s": 1000000000000.0, "Tb/s": 125000000000.0, "Tbit/s": 125000000000.0, "Tbyte/s": 1000000000000.0, "TiB/s": 1099511627776.0, "Tib/s": 137438953472.0, "Tibit/s": 137438953472.0, "Tibyte/s": 1099511627776.0, "b/s": 0.125, "bit/s": 0.125, "byte/s": 1.0, "kB/s": 1000.0, "kb/s": 125.0, "kbit/s": 125.0, "kbyte/s": 1000.0},
  "energy": {"J": 1.0, "aJ": 1e-18, "fJ": 1e-15, "kJ": 1000.0, "mJ": 0.001, "nJ": 1e-09, "pJ": 1e-12, "uJ": 1e-06, "µJ": 1e-06, "μJ": 1e-06},
  "energy_per_bit": {"J/B": 0.125, "J/b": 1.0, "J/bit": 1.0, "J/byte": 0.125, "aJ/B": 1.25e-19, "aJ/b": 1e-18, "aJ/bit": 1e-18, "aJ/byte": 1.25e-19, "fJ/B": 1.25e-16, "fJ/b": 1e-15, "fJ/bit": 1e-15, "fJ/byte": 1.25e-16, "mJ/B": 0.000125, "mJ/b": 0.001, "mJ/bit": 0.001, "mJ/byte": 0.000125, "nJ/B": 1.25e-10, "nJ/b": 1e-09, "nJ/bit": 1e-09, "nJ/byte": 1.25e-10, "pJ/B": 1.25e-13, "pJ/b": 1e-12, "pJ/bit": 1e-12, "pJ/byte": 1.25e-13, "uJ/B": 1.25e-07, "uJ/b": 1e-06, "uJ/bit": 1e-06, "uJ/byte": 1.25e-07, "µJ/B": 1.25e-07, "µJ/b": 1e-06, "µJ/bit": 1e-06, "µJ/byte": 1.25e-07, "μJ/B": 1.25e-07, "μJ/b": 1e-06, "μJ/bit": 1e-06, "μJ/byte": 1.25e-07},
  "energy_per_op": {"J/FLOP": 1.0, "J/OP": 1.0, "J/op": 1.0, "J/operation": 1.0, "J/ops": 1.0, "aJ/FLOP": 1e-18, "aJ/OP": 1e-18, "aJ/op": 1e-18, "aJ/operation": 1e-18, "aJ/ops": 1e-18, "fJ/FLOP": 1e-15, "fJ/OP": 1e-15, "fJ/op": 1e-15, "fJ/operation": 1e-15, "fJ/ops": 1e-15, "mJ/FLOP": 0.001, "mJ/OP": 0.001, "mJ/op": 0.001, "mJ/operation": 0.001, "mJ/ops": 0.001, "nJ/FLOP": 1e-09, "nJ/OP": 1e-09, "nJ/op": 1e-09, "nJ/operation": 1e-09, "nJ/ops": 1e-09, "pJ/FLOP": 1e-12, "pJ/OP": 1e-12, "pJ/op": 1e-12, "pJ/operation": 1e-12, "pJ/ops": 1e-12, "uJ/FLOP": 1e-06, "uJ/OP": 1e-06, "uJ/op": 1e-06, "uJ/operation": 1e-06, "uJ/ops": 1e-06, "µJ/FLOP": 1e-06, "µJ/OP": 1e-06, "µJ/op": 1e-06, "µJ/operation": 1e-06, "µJ/ops": 1e-06, "μJ/FLOP": 1e-06, "μJ/OP": 1e-06, "μJ/op": 1e-06, "μJ/operation": 1e-06, "μJ/ops": 1e-06},
  "frequency": {"GHz": 1000000000.0, "Hz": 1.0, "KHz": 1000.0, "MHz": 1000000.0, "PHz": 1000000000000000.0, "THz": 1000000000000.0, "kHz": 1000.0},
  "capacity": {"B": 1.0, "GB": 1000000000.0, "Gb": 125000000.0, "Gbit": 125000000.0, "Gbits": 125000000.0, "Gbyte": 1000000000.0, "Gbytes": 1000000000.0, "GiB": 1073741824.0, "Gib": 134217728.0, "Gibit": 134217728.0, "Gibits": 134217728.0, "Gibyte": 1073741824.0, "Gibytes": 1073741824.0, "KB": 1000.0, "Kb": 125.0, "Kbit": 125.0, "Kbits": 125.0, "Kbyte": 1000.0, "Kbytes": 1000.0, "KiB": 1024.0, "Kib": 128.0, "Kibit": 128.0, "Kibits": 128.0, "Kibyte": 1024.0, "Kibytes": 1024.0, "MB": 1000000.0, "Mb": 125000.0, "Mbit": 125000.0, "Mbits": 125000.0, "Mbyte": 1000000.0, "Mbytes": 1000000.0, "MiB": 1048576.0, "Mib": 131072.0, "Mibit": 131072.0, "Mibits": 131072.0, "Mibyte": 1048576.0, "Mibytes": 1048576.0, "PB": 1000000000000000.0, "Pb": 125000000000000.0, "Pbit": 125000000000000.0, "Pbits": 125000000000000.0, "Pbyte": 1000000000000000.0, "Pbytes": 1000000000000000.0, "TB": 1000000000000.0, "Tb": 125000000000.0, "Tbit": 125000000000.0, "Tbits": 125000000000.0, "Tbyte": 1000000000000.0, "Tbytes": 1000000000000.0, "TiB": 1099511627776.0, "Tib": 137438953472.0, "Tibit": 137438953472.0, "Tibits": 137438953472.0, "Tibyte": 1099511627776.0, "Tibytes": 1099511627776.0, "b": 0.125, "bit": 0.125, "bits": 0.125, "byte": 1.0, "bytes": 1.0, "kB": 1000.0, "kb": 125.0, "kbit": 125.0, "kbits": 125.0, "kbyte": 1000.0, "kbytes": 1000.0},
  "area": {"m**2": 1000000.0, "m^2": 1000000.0, "mm**2": 1.0, "mm^2": 1.0, "nm**2": 1e-12, "nm^2": 1e-12, "um**2": 1e-06, "um^2": 1e-06, "µm**2": 1e-06, "µm^2": 1e-06, "μm**2": 1e-06, "μm^2": 1e-06},
  "length": {"m": 1.0, "mm": 0.001, "nm": 1e-09, "pm": 1e-12, "um": 1e-06, "µm": 1e-06, "μm": 1e-06},
  "power": {"MW": 1000000.0, "W": 1.0, "aW": 1e-18, "fW": 1e-15, "kW": 1000.0, "mW": 0.001, "nW": 1e-09, "pW": 1e-12, "uW": 1e-06, "µW": 1e-06, "μW": 1e-06},
  "time": {"h": 3600.0, "min": 60.0, "ms": 0.001, "ns": 1e-09, "ps": 1e-12, "s": 1.0, "sec": 1.0, "us": 1e-06, "µs": 1e-06, "μs": 1e-06},
  "throughput": {"FLOP/s": 1.0, "FLOPS": 1.0, "GFLOP/s": 1000000000.0, "GFLOPS": 1000000000.0, "GOP/s": 1000000000.0, "GOPS": 1000000000.0, "Gop/s": 1000000000.0, "Gops/s": 1000000000.0, "KFLOP/s": 1000.0, "KFLOPS": 1000.0, "KOP/s": 1000.0, "KOPS": 1000.0, "Kop/s": 1000.0, "Kops/s": 1000.0, "MFLOP/s": 1000000.0, "MFLOPS": 1000000.0, "MOP/s": 1000000.0, "MOPS": 1000000.0, "Mop/s": 1000000.0, "Mops/s": 1000000.0, "OP/s": 1.0, "OPS": 1.0, "PFLOP/s": 1000000000000000.0, "PFLOPS": 1000000000000000.0, "POP/s": 1000000000000000.0, "POPS": 1000000000000000.0, "Pop/s": 1000000000000000.0, "Pops/s": 1000000000000000.0, "TFLOP/s": 1000000000000.0, "TFLOPS": 1000000000000.0, "TOP/s": 1000000000000.0, "TOPS": 1000000000000.0, "Top/s": 1000000000000.0, "Tops/s": 1000000000000.0, "kFLOP/s": 1000.0, "kFLOPS": 1000.0, "kOP/s": 1000.0, "kOPS": 1000.0, "kop/s": 1000.0, "kops/s": 1000.0, "op/s": 1.0, "ops/s": 1.0},
  "bit_rate": {"Gb/s": 1000000000.0, "Gbit/s": 1000000000.0, "Kb/s": 1000.0, "Kbit/s": 1000.0, "Mb/s": 1000000.0, "Mbit/s": 1000000.0, "Pb/s": 1000000000000000.0, "Pbit/s": 1000000000000000.0, "Tb/s": 1000000000000.0, "Tbit/s": 1000000000000.0, "b/s": 1.0, "bit/s": 1.0, "kb/s": 1000.0, "kbit/s": 1000.0},
  "voltage": {"V": 1.0, "kV": 1000.0, "mV": 0.001, "uV": 1e-06}
}
"""
FACTORS: dict[str, dict[str, float]] = json.loads(_JSON)


def _candidates() -> dict[str, set[str]]:
    dec = ["", "k", "K", "M", "G", "T", "P"]
    binary = ["Ki", "Mi", "Gi", "Ti"]
    small = ["a", "f", "p", "n", "u", "µ", "μ", "m", ""]
    out: dict[str, set[str]] = {
        "bandwidth": {f"{p}{b}/s" for p in dec + binary for b in ("B", "b", "bit", "byte")},
        "energy": {f"{p}J" for p in small + ["k"]},
        "energy_per_bit": {f"{p}J/{b}" for p in small for b in ("bit", "b", "B", "byte")},
        "energy_per_op": {f"{p}J/{o}" for p in small for o in ("op", "OP", "ops", "FLOP", "operation")},
        "frequency": {f"{p}Hz" for p in dec},
        "capacity": {f"{p}{b}" for p in dec + binary for b in ("B", "b", "bit", "bits", "byte", "bytes")},
        "area": {f"{p}m{e}" for p in ("m", "u", "µ", "μ", "n", "") for e in ("^2", "**2")},
        "length": {f"{p}m" for p in ("n", "u", "µ", "μ", "m", "", "p")},
        "power": {f"{p}W" for p in small + ["k", "M"]},
        "time": {f"{p}s" for p in ("", "m", "u", "µ", "μ", "n", "p")} | {"sec", "min", "h"},
        "throughput": {f"{p}{u}" for p in dec for u in ("OPS", "FLOPS", "op/s", "ops/s", "OP/s", "FLOP/s")},
        "bit_rate": {f"{p}{b}/s" for p in dec for b in ("b", "bit")},
        "voltage": {f"{p}V" for p in ("", "m", "u", "k")},
    }
    return out


def generate() -> dict[str, dict[str, float]]:
    """The table, from pint (the units of the shipped YAML are added by the caller's test)."""
    from slmsim.core.units import _DIMS, _QUANTITY, Dim, UnitParseError, _normalise, _pint_factor

    table: dict[str, dict[str, float]] = {}
    for dim_value, units in _candidates().items():
        dim = Dim(dim_value)
        for u in sorted(units | set(_DIMS[dim].common_units) | {_DIMS[dim].example.split(" ", 1)[1]}):
            text = _normalise(f"1 {u}")
            m = _QUANTITY.match(text)
            if m is None or m.group(2) != u:  # looked up by the unit text the grammar extracts
                continue
            try:
                factor = _pint_factor(f"1 {u}", text, u, dim, "")
            except UnitParseError:
                continue
            table.setdefault(dim_value, {})[u] = factor
    return {d: dict(sorted(units.items())) for d, units in table.items()}


def _main() -> None:
    import sys
    from pathlib import Path

    here = Path(__file__).read_text()
    head, rest = here.split('_JSON = r"""\n', 1)
    tail = rest.split('\n"""\n', 1)[1]
    rows = [f"  {json.dumps(dim)}: {json.dumps(units, ensure_ascii=False)}" for dim, units in generate().items()]
    sys.stdout.write(head + '_JSON = r"""\n{\n' + ",\n".join(rows) + '\n}\n"""\n' + tail)


if __name__ == "__main__":
    _main()
