"""Fixtures of the data-sharing tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sharing_world import ARREARS, LICENCE, World, make_network

from govchain.node.network import NetworkDir


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkDir:
    return make_network(Path(tmp_path_factory.mktemp("sharing")) / "net")


@pytest.fixture
def world(network: NetworkDir) -> Iterator[World]:
    w = World(network)
    try:
        w.register(ARREARS, "tax")
        w.register(LICENCE, "market")
        yield w
    finally:
        w.close()
