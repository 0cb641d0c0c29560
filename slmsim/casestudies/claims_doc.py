"""The claims table of docs/case-studies.md, generated from `slmsim case-study claims`.

    python -m slmsim.casestudies.claims_doc [DOC]          # rewrite the table in DOC (default docs/case-studies.md)
    python -m slmsim.casestudies.claims_doc --check [DOC]  # exit 1 if DOC's table differs from a fresh run

The table sits between the two marker lines below; everything else in the doc is prose.
tests/casestudies/test_claims.py checks that the doc's table is what a run produces, so a
preset change that moves a figure fails the test until the table is regenerated (one
command after a merge).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BEGIN = "<!-- claims-table:begin (generated: python -m slmsim.casestudies.claims_doc) -->"
END = "<!-- claims-table:end -->"


def _num(x: Any) -> str:
    if x is None:
        return "-"
    x = float(x)
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def table(claims: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| claim | paper | slmsim | unit | difference | verdict | boundary |", "|---|---|---|---|---|---|---|"]
    for c in claims:
        d = c.get("diff_pct")
        lines.append(f"| {c['claim']} | {_num(c['paper'])} | {_num(c['slmsim'])} | {c['unit']} | "
                     f"{'n/a' if d is None else f'{float(d):+.1f}%'} | {c['verdict']} | {c.get('boundary') or '-'} |")
    return "\n".join(lines)


SENSITIVITY_OF = ("edgecim_mean_decode_tokens_per_s", "edgecim_mean_tokens_per_j",
                  "edgecim_vs_orin_nano_energy_efficiency_llama-3.2-1b")


def sensitivity(claims: Sequence[Mapping[str, Any]], names: Sequence[str] = SENSITIVITY_OF) -> str:
    out = []
    for c in claims:
        if c["claim"] not in names:
            continue
        out += [f"Sensitivity of **{c['claim']}** (paper {_num(c['paper'])} {c['unit']}):", "",
                "| unknown | value | slmsim | difference |", "|---|---|---|---|"]
        for r in c["sensitivity"]:
            d = None if r["slmsim"] is None else 100.0 * (float(r["slmsim"]) - c["paper"]) / c["paper"]
            out.append(f"| {r['unknown']} | {r['value']} | {_num(r['slmsim'])} | "
                       f"{'n/a' if d is None else f'{d:+.1f}%'} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def baselines(rows: Sequence[Mapping[str, Any]]) -> str:
    out = ["EdgeCIM's baselines as stated configurations (examples/edgecim-baselines.yaml):", "",
           "| hardware | configuration | model | tokens/s | tokens/J | EdgeCIM speedup | EdgeCIM energy gain |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['hardware']} | {r['configuration']} | {r['model']} | {_num(r['tokens_per_s'])} | "
                   f"{_num(r['tokens_per_j'])} | {_num(r['speedup'])} | {_num(r['energy_gain'])} |")
    return "\n".join(out)


def body(summary: Mapping[str, Any]) -> str:
    """The generated part of the doc from a summary.json of `case-study claims`."""
    return "\n\n".join([table(summary["claims"]), sensitivity(summary["claims"]),
                         baselines(summary["edgecim_baselines"])])


def generated(boundary: str = "board") -> str:
    from slmsim.casestudies.claims import evaluate
    from slmsim.casestudies.common import hardware_with
    from slmsim.casestudies.edgecim import run_rows
    from slmsim.casestudies.edgecim_baselines import baseline_table

    return body({"claims": [c.to_dict() for c in evaluate(boundary)],
                 "edgecim_baselines": baseline_table(run_rows(hardware_with("edgecim"), boundary=boundary))})


def replace_section(doc: str, body: str) -> str:
    if BEGIN not in doc or END not in doc:
        raise ValueError("the doc has no claims-table markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"


def section(doc: str) -> str:
    return doc.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: list[str]) -> int:
    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return 0
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0] if paths else "docs/case-studies.md")
    doc = path.read_text() if path.is_file() else ""
    if BEGIN not in doc:
        print(f"{path}: not a file holding the claims table (between {BEGIN!r} and {END!r})", file=sys.stderr)
        return 2
    body = generated()
    if check:
        same = section(doc) == body
        print("claims table is current" if same else f"claims table in {path} differs from a run: regenerate it")
        return 0 if same else 1
    path.write_text(replace_section(doc, body))
    print(f"wrote the claims table into {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
