"""Stateful property tests: random sequences of API calls checked against a model after every step.

Bounded and derandomized by default so that CI runs are short and reproducible. To hunt for bugs locally,
raise the bounds and let Hypothesis pick new seeds, e.g.

    PROPERTY_EXAMPLES=300 PROPERTY_STEPS=50 PROPERTY_RANDOM=1 .venv/bin/pytest tests/properties
"""

from __future__ import annotations

import os
import re
import uuid

from hypothesis import HealthCheck, settings


def machine_settings(examples: int = 20, steps: int = 25) -> settings:
    return settings(
        max_examples=int(os.environ.get("PROPERTY_EXAMPLES", examples)),
        stateful_step_count=int(os.environ.get("PROPERTY_STEPS", steps)),
        deadline=None,
        derandomize=os.environ.get("PROPERTY_RANDOM", "") not in ("1", "true", "yes"),
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# SPEC §0.4's titles (405: the service's own, for methods a path does not serve).
TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 422: "Failed Validation"}

# Ids in a URL, replaced to name the route in the outcome counts.
ROUTE_IDS = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|(node|product)-\d+")


def canonical(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None
