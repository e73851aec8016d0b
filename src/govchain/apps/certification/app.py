"""Proof-free certification matters (免证明): their description, read by ``discover_apps``."""

from __future__ import annotations

import os
from typing import Any

from govchain.sdk import App


def seed_demo(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """The demo data (imported here: only ``govchain demo`` needs the generator). The number
    of residents is 200, or ``$GOVCHAIN_DEMO_RESIDENTS`` (tests seed fewer)."""
    from govchain.apps.certification.demo import DEFAULT_COUNT
    from govchain.apps.certification.demo import seed_demo as seed

    count = os.environ.get("GOVCHAIN_DEMO_RESIDENTS", "")
    return seed(node, app_state, network_dir, int(count) if count.isdigit() else DEFAULT_COUNT)


APP = App(
    name="certification",
    title="证明事项告知与免证明 / Proof-free certification",
    description=(
        "A citizen applies for a certification matter — a school place for a migrant worker's "
        "child, points-based household registration, housing-purchase eligibility, marriage "
        "registration — and brings no paper: each condition (a valid residence permit, months "
        "of social insurance, fewer than two homes in the city, not married now) is answered "
        "yes or no by the department that holds the fact, with the citizen's consent, and "
        "every answer is listed in the citizen's access receipts."
    ),
    contract_file=None,
    services_dir="services",
    resources_dir="data/resources",
    seed=seed_demo,
)
"""Proof-free certification: four matters answered by the departments' own records."""
