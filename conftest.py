"""Root conftest: hypothesis profiles shared by the whole suite.

Profiles (select with ``--hypothesis-profile=NAME``):
    dev   the default: a few hundred examples per property, fast feedback.
    ci    same example count, derandomized so CI runs are reproducible.
    fuzz  thousands of examples per property, for nightly-style runs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
