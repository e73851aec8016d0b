"""The duplication review service's description (discovered by ``govchain.sdk.discover_apps``)."""

from __future__ import annotations

from typing import Any

from govchain.sdk import App


def seed_demo(node: Any, app_state: Any, network_dir: Any) -> list[str]:
    """The demo registry (imported here: only ``govchain demo`` needs the evaluation set)."""
    from govchain.apps.projects.demo import seed

    return seed(node, app_state, network_dir)


APP = App(
    name="projects",
    title="项目重复性审查 / IT project duplication review",
    description=(
        "Before a province approves a new government IT project, the application is compared "
        "with the registry of systems in use, projects in development and other pending "
        "applications: the most similar entries, ranked, with the functions that match, the "
        "data resources both use, the departments and the budgets, and a recommendation to "
        "reuse, join, merge or build on the common platform. A reviewer of another department "
        "confirms or changes it with a reason; the registry's changes, the decision and the "
        "evidence it rests on are transactions."
    ),
    contract_file="contract.py",
    seed=seed_demo,
)
