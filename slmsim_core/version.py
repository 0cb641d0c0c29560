"""The version of slmsim, written once here (pyproject reads it) and importable from every layer.

It lives at the bottom of the import order so that outputs written below the CLI (study.json
from dse/, report footers from reports/) can record it without importing the CLI.
"""

from __future__ import annotations

__version__ = "0.1.0"
