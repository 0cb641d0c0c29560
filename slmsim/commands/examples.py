"""`slmsim examples [--copy DIR]`: the example files installed with slmsim.

Lists the bundled space and scenario files (package data, `slmsim.resources`) with the first
line of their comment; `--copy DIR` writes them into DIR to edit, never over an existing file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slmsim.commands._common import EXIT_OK
from slmsim.core.errors import Problem, SpecError


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("examples", help="list the bundled example files (spaces, scenarios), or copy them",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    e.add_argument("--copy", type=Path, metavar="DIR", help="copy every example into DIR (existing files are kept)")
    e.set_defaults(func=_cmd_examples)


def _summary(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#") and line.strip("# ").strip():
            return line.strip("# ").strip()
        if line.strip() and not line.startswith("#"):
            break
    return ""


def _cmd_examples(args: argparse.Namespace) -> int:
    from slmsim.commands.tables import Table, emit
    from slmsim.resources import example, example_names

    names = example_names()
    if args.copy is None:
        t = Table("Bundled examples", ("name", "about"), align="ll")
        for name in names:
            t.add(name.removesuffix(".yaml"), _summary(example(name).read_text()))
        emit([t, "use a name where a file is expected (`slmsim explore space-demo`), or copy them: "
                 "`slmsim examples --copy DIR`"])
        return EXIT_OK
    dest: Path = args.copy
    if dest.exists() and not dest.is_dir():
        raise SpecError([Problem(file=str(dest), path="", message="exists and is not a folder",
                                 hint="give a folder for --copy")])
    from slmsim.core.outputs import under_a_file, write_problem

    blocked = under_a_file(dest, "--copy")
    if blocked is not None:
        raise SpecError([blocked])
    written, kept = [], []
    for name in names:
        target = dest / name
        if target.exists() or target.is_symlink():  # a dangling link is kept too: never written through
            kept.append(name)
            continue
        blocked = under_a_file(target, "--copy")  # e.g. DIR/decoding is a file: say so, not "File exists"
        if blocked is not None:
            raise SpecError([blocked])
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as f:  # exclusive: never over a file that appeared meanwhile
                f.write(example(name).read_bytes())
        except OSError as exc:
            raise SpecError([write_problem(target, "--copy", exc)]) from None
        written.append(name)
    print(f"copied {len(written)} examples into {dest}" + (f"; kept {len(kept)} existing: {', '.join(kept)}"
                                                          if kept else ""))
    return EXIT_OK
