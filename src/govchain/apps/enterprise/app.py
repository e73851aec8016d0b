"""The enterprise life cycle (企业全生命周期): its description, read by ``discover_apps``."""

from __future__ import annotations

import os
from typing import Any

from govchain.sdk import App


def seed_demo(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """The demo data (imported here: only ``govchain demo`` needs the generator). The number
    of enterprises is 1,000, or ``$GOVCHAIN_DEMO_ENTERPRISES`` (tests seed fewer)."""
    from govchain.apps.enterprise.demo import DEFAULT_COUNT
    from govchain.apps.enterprise.demo import seed_demo as seed

    count = os.environ.get("GOVCHAIN_DEMO_ENTERPRISES", "")
    return seed(node, app_state, network_dir, int(count) if count.isdigit() else DEFAULT_COUNT)


APP = App(
    name="enterprise",
    title="企业开办、许可与注销 / Enterprise life cycle",
    description=(
        "An enterprise is registered in one application (name check, USCC, business licence, "
        "tax and social insurance), navigated to the permits its industry needs and granted "
        "them, and deregistered in one application that every department clears from its own "
        "data. The services are definitions run by the case engine; the enterprise and licence "
        "registries are what other services read."
    ),
    contract_file=None,
    services_dir="services",
    resources_dir="data/resources",
    seed=seed_demo,
)
