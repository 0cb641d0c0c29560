"""The `slmsim` command line: wires the stages; only the CLI and reports write files.

Each command group lives in `slmsim/commands/<name>.py` with a `register(subparsers)`;
add a module to `COMMANDS` to add commands. Exit codes: 0 success; 2 bad input (a
`SpecError`: file, field, value, expectation, hint) or an infeasible design; 1 is left to bugs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from slmsim.commands._common import EXIT_BAD_INPUT
from slmsim.core.errors import SpecError

COMMANDS = ("simulate", "specs", "check", "schema", "examples", "validate", "explore", "serve", "report", "casestudy")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except SpecError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    from slmsim import __version__

    p = argparse.ArgumentParser(prog="slmsim", description="Simulate and explore hardware for small language models.")
    p.add_argument("--version", action="version", version=f"slmsim {__version__}")
    sub = p.add_subparsers(dest="command")
    for name in COMMANDS:
        importlib.import_module(f"slmsim.commands.{name}").register(sub)
    return p


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
