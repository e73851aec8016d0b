"""The fund supervision service's description (discovered by ``govchain.sdk.discover_apps``)."""

from __future__ import annotations

from typing import Any

from govchain.sdk import App


def seed_demo(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """The demo projects (imported here: only ``govchain demo`` needs the generator)."""
    from govchain.apps.funds.demo import seed

    return seed(node, app_state, network_dir)


APP = App(
    name="funds",
    title="重点项目和公益资金监管 / Key projects and public-welfare funds",
    description=(
        "Key government projects and public-welfare funds are tracked on the ledger: each "
        "project's owner department, budget, payees and milestones, every disbursement in "
        "fen, and the evidence of each milestone (site photos, acceptance reports) notarised "
        "by hash. Rules and an isolation forest read the analytics index and raise flags "
        "(a payment without its milestone's evidence, one payee across unrelated projects, "
        "amounts out of line with peers, irregular payments), each recorded with the inputs "
        "that raised it and handled as a case the supervising department opens itself: the "
        "project's department explains it, the supervising department confirms or dismisses it."
    ),
    contract_file="contract.py",
    services_dir="services",
    seed=seed_demo,
)
