"""The enterprise policy service's description (discovered by ``govchain.sdk.discover_apps``)."""

from __future__ import annotations

from typing import Any

from govchain.sdk import App


def seed_demo(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """The demo policies and facts (imported here: only ``govchain demo`` needs them)."""
    from govchain.apps.policies.demo import seed

    return seed(node, app_state, network_dir)


def follow_ledger(app_state: Any) -> None:
    """Start the policy desk's follower when the node serves (matches re-run on each change)."""
    from govchain.apps.policies.service import desk_for

    desk_for(app_state)


APP = App(
    name="policies",
    title="惠企政策 / Enterprise support policies",
    description=(
        "Support policies for enterprises written as rules over attested facts (industry, "
        "size, staff, revenue, tax, R&D share, credit rating, high-tech status ...): each "
        "enterprise sees the policies it qualifies for or nearly qualifies for, with the "
        "clause that fails, by how much, and where each fact came from. Policies are "
        "published by approval; those granted without an application (免申即享) are decided "
        "on-chain with the attestations relied on, and the enterprise may decline."
    ),
    contract_file="contract.py",
    services_dir="services",
    seed=seed_demo,
    on_serve=follow_ledger,
)
