"""Hypothesis profiles for the fuzz tests.

"ci" (the default) is derandomized with a fixed, small budget so the suite stays fast and
gives the same cases on every run; `SLMSIM_FUZZ_PROFILE=dev` explores more (and randomly).
No deadline: the suite never times anything (benchmarks/fuzz_specs.py measures the 5 s bound).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=20, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("SLMSIM_FUZZ_PROFILE", "ci"))
