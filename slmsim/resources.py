"""Files installed with slmsim (examples, case-study inputs), read through importlib.resources.

`examples/` in the repository installs as the package `slmsim.examples` (pyproject's
package-dir), so the same code finds the files in a source checkout, an editable install and
a wheel. Commands that take a file also take a bundled example by name
(`slmsim explore space-demo`, `slmsim check space-edgecim`).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

PACKAGE = "slmsim.examples"


def example(name: str) -> Traversable:
    """A bundled example file: `example("space-edgecim.yaml")`, `example("decoding/spec-orin.yaml")`."""
    node = files(PACKAGE)
    for part in name.split("/"):
        node = node.joinpath(part)
    if not node.is_file():
        raise FileNotFoundError(f"slmsim ships no example {name!r}")
    return node


def example_names() -> list[str]:
    """Bundled YAML examples, relative names (`space-demo.yaml`, `decoding/spec-orin.yaml`)."""
    out: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir() and not child.name.startswith(("_", ".")):
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".yaml"):
                out.append(prefix + child.name)

    walk(files(PACKAGE), "")
    return out


def example_path(ref: str) -> Path | None:
    """The installed file of a bundled example named `ref` (with or without `.yaml`), when
    `ref` is not an existing path; None otherwise. Installed packages are plain files on disk
    (slmsim is not zip-safe: presets are read by path), so a Path is returned."""
    if Path(ref).exists():
        return None
    name = ref if ref.endswith(".yaml") else f"{ref}.yaml"
    for candidate in (name, name.removeprefix("examples/")):
        if candidate in example_names():
            return Path(str(example(candidate)))
    return None
