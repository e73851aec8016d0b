"""The duplication review's demo data: the evaluation set in the demo registry, kept by the data
bureau, the member departments' own applications filed by themselves, and three decisions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.projects.demo import DECIDED, REVIEWER, seed
from govchain.apps.projects.evaluation import load_evaluation
from govchain.apps.projects.service import ProjectDesk, desk_for
from govchain.cli.apps import deploy_in_process
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, DEMO_SERVICE_DEPARTMENTS, init_network

DEPARTMENTS = [*DEMO_DEPARTMENTS, *DEMO_SERVICE_DEPARTMENTS]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, list[str]]]:
    root = tmp_path_factory.mktemp("projects-demo") / "net"
    init_network(
        root,
        chain_id="projects-demo",
        suite_name="intl",
        departments=DEPARTMENTS,
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        app = create_app(node, ApiSettings(network_dir=root, wait_timeout_s=30.0))
        deploy_in_process(node, root)
        lines = seed(node, app.state, root)
        yield app.state, root, lines
    finally:
        node.close()


def desk(seeded: tuple[Any, Path, list[str]]) -> ProjectDesk:
    return desk_for(seeded[0])


def test_the_registry_holds_the_whole_evaluation_set(seeded: tuple[Any, Path, list[str]]) -> None:
    dataset = load_evaluation()
    listed = desk(seeded).entries(limit=1000)
    assert listed["total"] == len(dataset["registry"]) + len(dataset["applications"])
    members = {d for d, _ in DEPARTMENTS}
    for entry in listed["entries"]:
        full = desk(seeded).entry(entry["id"])
        own = entry["department"] in members and entry["status"] in ("pending", "reviewed")
        assert full["keeper"] == (entry["department"] if own else REVIEWER), entry["id"]


def test_three_applications_are_decided_by_the_data_bureau_one_overruled(
    seeded: tuple[Any, Path, list[str]],
) -> None:
    reviewed = desk(seeded).entries(status="reviewed", limit=100)["entries"]
    assert len(reviewed) == DECIDED
    decisions = [desk(seeded).decision(e["id"]) for e in reviewed]
    assert {d["dept"] for d in decisions} == {REVIEWER}
    assert all(d["actor"] == f"{REVIEWER}/approver" or d["actor"] for d in decisions)
    assert sum(d["changed"] for d in decisions) == 1
    assert all(d["evidence"]["application"] == d["application"] for d in decisions)
    lines = seeded[2]
    assert sum("decided" in line for line in lines) == DECIDED


def test_a_second_run_changes_nothing(seeded: tuple[Any, Path, list[str]]) -> None:
    state, root, _ = seeded
    before = desk(seeded).entries(limit=1)["height"]
    lines = seed(state.node, state, root)
    assert lines == [
        f"duplication review: the registry already holds {desk(seeded).entries()['total']} "
        "entries; nothing seeded"
    ]
    assert desk(seeded).entries(limit=1)["height"] == before
