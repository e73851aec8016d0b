"""Fixtures of the duplication review's node tests: one embedded in-memory node for the
session with the ``projects`` contract committed through the lifecycle, and the review desk
that signs for its departments (the API tests are in ``tests/apps/test_projects_api.py``:
services may not import the API layer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from govchain.apps.projects.service import ProjectDesk
from govchain.apps.projects.tests.nodes import deploy, make_network
from govchain.node.casedesk import open_casedesk
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.node.node import Node


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkDir:
    return make_network(tmp_path_factory.mktemp("projects") / "net")


@pytest.fixture(scope="session")
def node(network: NetworkDir) -> Iterator[Node]:
    n = open_embedded(network.root, in_memory=True)
    n.start()
    try:
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture(scope="session")
def desk(node: Node, network: NetworkDir) -> ProjectDesk:
    casedesk = open_casedesk(node, network.root)
    deploy(casedesk)
    return ProjectDesk(node, casedesk, timeout_s=30.0)
