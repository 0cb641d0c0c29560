"""Fuzzing every kind of input file (issue 17, Build 7): no uncaught exception, no nonsense result.

Each target mutates a valid input (a preset, a scenario, a space, a config.json, a request
trace) with random, mostly hostile edits and runs the CLI on it in-process. The outcome must
be a clean result (exit 0, strict JSON, finite non-negative figures, TTFT > 0) or a clean
refusal (exit 2 with a message). The random choices come from hypothesis (`st.randoms`), so
a failure shrinks to a small case and replays. Budget: the "ci" profile in conftest.py.
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from mutate import TARGETS, classify  # noqa: E402


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzzed_input_is_handled(target: str) -> None:
    @given(rng=st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            argv = TARGETS[target](rng, Path(tmp))
            outcome = classify(argv)
            assert outcome.kind in ("ok", "refused"), f"{outcome.kind}: {outcome.detail}\nargv: {argv}\n" + \
                "\n".join(p.name + ":\n" + p.read_text(errors="replace")[:3000]
                          for p in Path(tmp).rglob("*") if p.is_file())

    check()


def test_mutations_are_reproducible() -> None:
    """The benchmark's counts depend on it: one seed, one sequence of inputs."""
    from mutate import SPACE, mutate

    a = [mutate(SPACE, random.Random(7)) for _ in range(3)]
    b = [mutate(SPACE, random.Random(7)) for _ in range(3)]
    assert repr(a) == repr(b)
