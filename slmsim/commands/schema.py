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
                                                            "file that is not a schema slmsim wrote)")
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
    if out.exists() or out.is_symlink():
        if not out.is_file():
            raise SpecError([Problem(file=str(out), path="", message="exists and is not a regular file (a device, "
                                     "a pipe or a dangling link); not written", hint="give a new file name")])
        with out.open("rb") as fh:  # the head only: the file may be huge
            head = fh.read(400).decode("utf-8", errors="replace")
        if not _ours(head):
            raise SpecError([Problem(file=str(out), path="", message="exists and is not a schema slmsim wrote "
                                     "(its first lines hold no \"$schema\" with a \"title\": \"slmsim ...\"); "
                                     "not overwritten",
                                     hint="give a new file name, or delete the file first if it is yours to lose")])
        if _edited(out):
            raise SpecError([Problem(file=str(out), path="", message="is a schema slmsim wrote, changed since (it no "
                                     "longer matches the digest in its \"$comment\"); not overwritten",
                                     hint="give a new file name, or move your edited copy away")])
    from slmsim.core.outputs import under_a_file, write_problem

    blocked = under_a_file(out, "--out")
    if blocked is not None:
        raise SpecError([blocked])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_stamped(text))
    except OSError as exc:
        raise SpecError([write_problem(out, "--out", exc)]) from None
    print(f"{args.kind} schema written to {out}")
    return EXIT_OK


def _ours(head: str) -> bool:
    """The first lines of a file `slmsim schema --out` wrote: a JSON Schema titled 'slmsim ...'."""
    import re

    return '"$schema"' in head and re.search(r'"title":\s*"slmsim [^"]*"', head) is not None


_DIGEST = '"$comment": "slmsim-content-sha256:{}"'


def _stamped(text: str) -> str:
    """The schema with a first key `$comment` holding the SHA-256 of the file (its own value
    blanked), so a later `--out` can tell an edited copy from the one slmsim wrote."""
    import json

    from slmsim.core.outputs import DIGEST_BLANK, with_digest

    data = {"$comment": f"slmsim-content-sha256:{DIGEST_BLANK}", **json.loads(text)}
    return with_digest(json.dumps(data, indent=2, sort_keys=False) + "\n", _DIGEST)


def _edited(path: Path) -> bool:
    """A schema slmsim wrote whose content no longer matches the digest in its `$comment` (one
    without, written before it was added, cannot tell and counts as unedited)."""
    from slmsim.core.outputs import digest_changed

    try:
        if path.stat().st_size > 64 << 20:
            return True  # not a schema slmsim wrote as it is: far too large
    except OSError:
        return False
    return digest_changed(path, _DIGEST, head=1024)
