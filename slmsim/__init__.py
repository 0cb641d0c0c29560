"""slmsim: simulator and design-space explorer for hardware that runs small language models at the edge."""

from slmsim.core.version import __version__

__all__ = ["__version__"]
