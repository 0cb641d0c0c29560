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
from typing import NoReturn

from slmsim.commands._common import EXIT_BAD_INPUT
from slmsim.core.errors import SpecError

COMMANDS = ("simulate", "specs", "check", "schema", "examples", "validate", "explore", "serve", "report", "casestudy")

# Each subcommand and the module that registers it, in registration order. A run names its
# command first (`slmsim simulate ...`), so only that module is imported: a command module
# imports what it runs at the top, and importing all of them was a third of a `simulate`
# start-up. tests/cli/test_lazy_commands.py checks this table against the modules.
SUBCOMMANDS = (("simulate", "simulate"), ("presets", "specs"), ("check", "check"), ("schema", "schema"),
               ("examples", "examples"), ("validate", "validate"), ("explore", "explore"), ("sweep", "explore"),
               ("worker", "explore"), ("serve-storage", "serve"), ("report", "report"), ("case-study", "casestudy"))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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


class _Parser(argparse.ArgumentParser):
    """argparse's own errors (a flag's value of the wrong type, a missing argument) in the
    format of every other input error, without argparse's usage dump (30 lines for simulate)."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        import re

        from slmsim.core.errors import Problem

        m = re.match(r"argument ([^:]+): (.*)", message, re.DOTALL)
        flag, what = (m.group(1).split("/")[-1], m.group(2)) if m else ("", message)
        value = re.search(r"value: '(.*)'$", what)
        hint = f"`{self.prog} --help` lists every flag and what it takes"
        choice = re.match(r"invalid choice: '(.*)' \(choose from (.*)\)$", what, re.DOTALL)
        options = re.findall(r"'([^']*)'", choice.group(2)) if choice else []
        if choice:
            import difflib

            close = difflib.get_close_matches(choice.group(1), options, n=1)
            hint = f"did you mean '{close[0]}'? " + hint if close else hint
        expected = None
        kind = re.match(r"invalid (int|float) value", what)
        if kind:
            expected = "a whole number" if kind.group(1) == "int" else "a number"
            action = next((a for a in self._actions if flag in a.option_strings), None)
            if action is not None and action.metavar:
                expected += f" ({action.metavar})"
        elif choice:
            expected = "one of: " + ", ".join(options)
        shown = value.group(1) if value else choice.group(1) if choice else None
        problem = Problem(file="<command line>", path=flag, message=what, value=shown, expected=expected, hint=hint)
        print(problem.render(), file=sys.stderr)
        self.exit(EXIT_BAD_INPUT)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. With `argv` naming a command first, only that command's module is
    imported; the other commands get bare placeholders (same names, same order, so usage
    lines and errors read the same). Without, every command is registered (`slmsim --help`)."""
    from slmsim import __version__

    p = _Parser(prog="slmsim", description="Simulate and explore hardware for small language models.")
    p.add_argument("--version", action="version", version=f"slmsim {__version__}")
    sub = p.add_subparsers(dest="command")
    chosen = dict(SUBCOMMANDS).get(argv[0]) if argv else None
    if chosen is None:
        for name in COMMANDS:
            importlib.import_module(f"slmsim.commands.{name}").register(sub)
        return p
    done = False
    for name, module in SUBCOMMANDS:
        if module == chosen:
            if not done:
                importlib.import_module(f"slmsim.commands.{module}").register(sub)
                done = True
        else:
            sub.add_parser(name)
    return p


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
