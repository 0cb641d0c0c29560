"""A folder of `<name>.yaml` presets: hardware, models and software stacks share this lookup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PresetDir:
    folder: Path

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.yaml"))

    def path(self, name: str) -> Path | None:
        path = self.folder / f"{name}.yaml"
        return path if path.is_file() else None
