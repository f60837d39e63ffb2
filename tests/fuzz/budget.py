"""How long each fuzz target runs: a bounded number of examples in CI, as many as asked locally.

Every property test in this folder takes its settings from :func:`fuzz`. The counts given there
keep the whole folder near a minute on a two-core machine; ``NOAIGUARD_FUZZ_EXAMPLES=20000``
runs each target that many times instead (see README.md here).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

#: Examples per target, overriding the counts the tests give (unset or 0: those counts).
EXAMPLES_ENVIRONMENT = "NOAIGUARD_FUZZ_EXAMPLES"


def examples(default: int) -> int:
    """``default``, or the count the environment asks for."""
    asked = os.environ.get(EXAMPLES_ENVIRONMENT, "").strip()
    return int(asked) if asked and int(asked) > 0 else default


def fuzz(default: int, **options: Any) -> settings:
    """Settings for one fuzz target run ``default`` times in CI.

    No deadline: the machine is shared with other work, and a slow example is not a failure
    here (a hang is: each target bounds its own input size, and the tests that could block
    wait with a timeout). Inputs are large and built from several draws, so the health checks
    about data size and generation speed do not apply.
    """
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **options,
    )
