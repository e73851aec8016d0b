"""Fixtures of the analytics tests: a network in ``tmp_path``, an in-memory embedded node and a
committer of signed kv transactions through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from analytics_helpers import Committer

from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node


@pytest.fixture
def network(tmp_path: Path) -> NetworkDir:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="analytics-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5, max_tx_bytes=4096),
    )
    return NetworkDir(root)


@pytest.fixture
def node(network: NetworkDir) -> Iterator[Node]:
    """An embedded in-memory node that is not started: tests commit blocks directly."""
    n = open_embedded(network.root, in_memory=True)
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def committer(network: NetworkDir, node: Node) -> Committer:
    return Committer(network, node)
