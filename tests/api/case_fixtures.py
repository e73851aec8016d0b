"""Fixtures of the case tests over HTTP: a network of the demo departments with the enterprise
services published, its embedded node, the API application and a client of it. A test module
imports the fixtures it uses (``from case_fixtures import api, app, net, node``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.cli.apps import publish_definitions
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.sdk import find_app


@pytest.fixture
def net(tmp_path: Path) -> NetworkDir:
    """The network directory (the four demo departments, small state, short blocks)."""
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="cases-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


@pytest.fixture
def node(net: NetworkDir) -> Iterator[Node]:
    """Its embedded node (in memory) with the enterprise services published."""
    n = open_embedded(net.root, in_memory=True)
    n.start()
    try:
        app = find_app("enterprise")
        publish_definitions(n, net.root, app.definitions(), app.resources())
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture
def app(node: Node, net: NetworkDir) -> FastAPI:
    """The node's API application."""
    return create_app(node, ApiSettings(network_dir=net.root, wait_timeout_s=20.0))


@pytest.fixture
def api(app: FastAPI, client_for: Callable[[FastAPI], Any]) -> Any:
    """A client of it."""
    return client_for(app)
