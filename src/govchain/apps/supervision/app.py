"""The supervision service's description (discovered by ``govchain.sdk.discover_apps``)."""

from __future__ import annotations

import os
from typing import Any

from govchain.sdk import App


def seed_demo(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """The demo facts, an inspection plan and its draw, and the alerts they raise (imported
    here: only ``govchain demo`` needs the generator). 10,000 enterprises, or
    ``$GOVCHAIN_DEMO_SUPERVISION`` (tests seed fewer)."""
    from govchain.apps.supervision.demo import seed
    from govchain.apps.supervision.demodata import COUNT

    count = os.environ.get("GOVCHAIN_DEMO_SUPERVISION", "")
    return seed(node, app_state, int(count) if count.isdigit() else COUNT)


APP = App(
    name="supervision",
    title="监管与决策 / Supervision and decisions",
    description=(
        "Departments report the enterprise facts they hold (tax, social insurance, complaints, "
        "penalties, the abnormal-operation list, inspections) in signed batches. Every "
        "enterprise gets a risk score that lists the facts and weights behind it; random "
        "inspections (双随机、一公开) draw targets and inspectors with a seed from a block that "
        "did not exist when the plan was fixed, so anyone recomputes the draw from the ledger; "
        "indicators with thresholds as data raise alerts, recorded with their inputs and sent "
        "to the departments concerned."
    ),
    seed=seed_demo,
)
