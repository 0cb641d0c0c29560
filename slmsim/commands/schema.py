"""`slmsim schema hardware|model|scenario|space`: the JSON Schema of an input format.

Point an editor at it for completion and checking while writing YAML (docs/spec-format.md,
"Editor support"): `slmsim schema hardware > hardware.schema.json`, then put
`# yaml-language-server: $schema=hardware.schema.json` on the first line of the spec.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slmsim.commands._common import EXIT_OK
from slmsim.core.errors import Problem, SpecError


def register(sub: argparse._SubParsersAction) -> None:
    from slmsim.schema import KINDS

    s = sub.add_parser("schema", help="print the JSON Schema of a hardware, model, scenario, space or CIM macro file",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("kind", choices=KINDS)
    s.add_argument("--out", type=Path, metavar="PATH", help="write it to PATH instead of stdout (never over a "
                                                            "file that is not a schema)")
    s.set_defaults(func=_cmd_schema)


def _cmd_schema(args: argparse.Namespace) -> int:
    from slmsim.schema import dumps

    text = dumps(args.kind)
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    out: Path = args.out
    if out.is_dir():
        raise SpecError([Problem(file=str(out), path="", message="is a folder, expected a file path",
                                 hint=f"e.g. --out {out / (args.kind + '.schema.json')}")])
    if out.exists() and '"$schema"' not in out.read_text(errors="replace")[:200]:
        raise SpecError([Problem(file=str(out), path="", message="exists and is not a JSON Schema; not overwritten",
                                 hint="give a new file name")])
    from slmsim.core.outputs import under_a_file, write_problem

    blocked = under_a_file(out, "--out")
    if blocked is not None:
        raise SpecError([blocked])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as exc:
        raise SpecError([write_problem(out, "--out", exc)]) from None
    print(f"{args.kind} schema written to {out}")
    return EXIT_OK
