"""Fixtures of fund supervision's node tests: one embedded in-memory node for the session with
the ``funds`` contract committed through the lifecycle, its analytics follower, and the desk
that signs for its departments (loaded with the demo data once, by the ``loaded`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from govchain.analytics.follow import follower_for
from govchain.apps.funds.demo import load_operations
from govchain.apps.funds.generator import DemoSet, generate
from govchain.apps.funds.service import FundsDesk
from govchain.apps.funds.tests.nodes import DEPARTMENTS, deploy, make_network
from govchain.node.casedesk import open_casedesk
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir
from govchain.node.node import Node


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkDir:
    return make_network(tmp_path_factory.mktemp("funds") / "net")


@pytest.fixture(scope="session")
def node(network: NetworkDir) -> Iterator[Node]:
    n = open_embedded(network.root, in_memory=True)
    n.start()
    try:
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture(scope="session")
def notices() -> list[tuple[str, str]]:
    """``(recipient, kind)`` of every notice the desk posted."""
    return []


@pytest.fixture(scope="session")
def desk(node: Node, network: NetworkDir, notices: list[tuple[str, str]]) -> FundsDesk:
    casedesk = open_casedesk(node, network.root)
    deploy(casedesk)
    return FundsDesk(
        node,
        casedesk,
        lambda: follower_for(node),
        lambda recipient, kind, *_: notices.append((recipient, kind)),
        timeout_s=60.0,
    )


@pytest.fixture(scope="session")
def demo() -> DemoSet:
    return generate()


@pytest.fixture(scope="session")
def loaded(desk: FundsDesk, demo: DemoSet) -> FundsDesk:
    """The desk after every demo call is committed."""
    members = {d for d, _ in DEPARTMENTS}
    assert load_operations(desk, demo.operations, members) == len(demo.operations)
    return desk
