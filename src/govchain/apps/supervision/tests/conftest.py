"""Fixtures of supervision's node tests: one embedded in-memory node for the session with the
``supervision`` contract committed through the lifecycle, the case desk that signs for its
departments, and the supervision desk over the node's analytics index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.apps.supervision.app import APP
from govchain.apps.supervision.service import SupervisionDesk
from govchain.contracts.packages import code_hash
from govchain.ledger.genesis import Params
from govchain.node.casedesk import CaseDesk, open_casedesk
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir, init_network
from govchain.node.node import Node

DEPARTMENTS = [
    ("market", "市场监督管理局"),
    ("tax", "税务局"),
    ("hrss", "人力资源和社会保障局"),
    ("data", "大数据发展管理局"),
]
"""Departments of the test network."""


def make_network(root: Path) -> NetworkDir:
    """Create the test network directory at ``root``."""
    init_network(
        root,
        chain_id="supervision-test",
        suite_name="intl",
        departments=DEPARTMENTS,
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


def deploy(desk: CaseDesk) -> None:
    """Install, approve (by every department) and commit the service's contract."""
    departments = [d for d, _ in DEPARTMENTS]
    files = APP.contract_files()
    digest = code_hash(desk.node.suite.hash, files)
    name = APP.contract_name
    install = {"name": name, "version": 1, "files": files, "policy": APP.policy}
    calls = [(departments[0], "install", install)]
    calls += [
        (d, "approve", {"name": name, "version": 1, "code_hash": digest}) for d in departments
    ]
    calls += [(departments[0], "commit", {"name": name, "version": 1})]
    for dept, method, args in calls:
        desk.commit_one(desk.sign(dept, "lifecycle", method, args, f"{dept}/admin"), 30)


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkDir:
    return make_network(tmp_path_factory.mktemp("supervision") / "net")


@pytest.fixture(scope="session")
def node(network: NetworkDir) -> Iterator[Node]:
    n = open_embedded(network.root, in_memory=True)
    n.start()
    try:
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture(scope="session")
def casedesk(node: Node, network: NetworkDir) -> CaseDesk:
    desk = open_casedesk(node, network.root)
    deploy(desk)
    return desk


@pytest.fixture(scope="session")
def desk(node: Node, casedesk: CaseDesk) -> SupervisionDesk:
    return SupervisionDesk(node, casedesk, timeout_s=30.0)
