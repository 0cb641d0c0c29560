"""`slmsim <command>` imports only that command's module (issue 18 item 5); the parser must
read the same as the full one: same commands in the same order, same options."""

from __future__ import annotations

import argparse

import pytest

from slmsim import cli


def _sub(p: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))


def test_the_table_names_every_command_in_registration_order() -> None:
    full = cli.build_parser()
    assert list(_sub(full).choices) == [name for name, _ in cli.SUBCOMMANDS]
    assert {module for _, module in cli.SUBCOMMANDS} == set(cli.COMMANDS)


@pytest.mark.parametrize("command", [name for name, _ in cli.SUBCOMMANDS])
def test_a_lazy_parser_reads_like_the_full_one(command: str) -> None:
    full, lazy = cli.build_parser(), cli.build_parser([command])
    assert lazy.format_usage() == full.format_usage()
    assert list(_sub(lazy).choices) == list(_sub(full).choices)
    assert _sub(lazy).choices[command].format_help() == _sub(full).choices[command].format_help()


def test_an_unknown_command_gets_the_full_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["simulat"])
    assert exc.value.code == 2
    assert "invalid choice: 'simulat'" in capsys.readouterr().err
