from pathlib import Path

from slmsim.specdoc import render

ROOT = Path(__file__).parents[1]


def test_spec_format_doc_is_current() -> None:
    assert (ROOT / "docs" / "spec-format.md").read_text() == render(), (
        "docs/spec-format.md is stale: run `python -m slmsim.specdoc > docs/spec-format.md`"
    )


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().split("\n\n")[1]
    assert "make demo" in head and "make test" in head
