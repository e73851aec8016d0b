"""Fixtures of the API tests: a network in ``tmp_path``, an in-memory embedded node, a signer
and a synchronous client of the ASGI application (httpx ``ASGITransport``, no sockets)."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.crypto import get_suite
from govchain.ledger.genesis import Genesis, Params
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node

CHAIN = "api-test"


class ApiClient:
    """Calls an ASGI app from synchronous tests through an anyio blocking portal."""

    def __init__(self, app: FastAPI) -> None:
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._http.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def post_many(self, url: str, bodies: list[bytes]) -> list[httpx.Response]:
        """POST every JSON body concurrently (one event loop, like many clients at once)."""
        json = {"content-type": "application/json"}

        async def all_of() -> list[httpx.Response]:
            posts = (self._http.post(url, content=b, headers=json) for b in bodies)
            return list(await asyncio.gather(*posts))

        return self._portal.call(all_of)

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._portal_cm.__exit__(None, None, None)


class Signer:
    """Builds signed transactions of the test network (fresh increasing nonces)."""

    def __init__(self, net: NetworkDir, genesis: Genesis) -> None:
        self.net = net
        self.genesis = genesis
        self.suite = get_suite(genesis.suite)
        self._nonces = itertools.count(1)

    def tx(
        self,
        contract: str = "kv",
        method: str = "put",
        args: dict[str, Any] | None = None,
        *,
        member: str = "tax/admin",
        key_of: str | None = None,
        nonce: int | None = None,
        chain: str | None = None,
    ) -> Transaction:
        """Return a transaction signed by ``key_of`` (default: ``member`` itself)."""
        private = self.net.member_key(key_of or member).keypair.private
        return build_transaction(
            chain=chain or self.genesis.chain_id,
            signer=member,
            nonce=next(self._nonces) if nonce is None else nonce,
            contract=contract,
            method=method,
            args={"key": "k", "value": 1} if args is None else args,
            actor=member,
            sign=lambda msg: self.suite.sign(private, msg),
            hash_fn=self.suite.hash,
        )

    def put(self, key: str, value: Any, **kw: Any) -> Transaction:
        return self.tx("kv", "put", {"key": key, "value": value}, **kw)


@pytest.fixture
def network(tmp_path: Path) -> NetworkDir:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id=CHAIN,
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        # Few state buckets keep node start-up fast; small blocks cut quickly.
        params=Params(state_buckets=256, block_max_ms=5, max_tx_bytes=4096),
    )
    return NetworkDir(root)


@pytest.fixture
def node(network: NetworkDir) -> Iterator[Node]:
    n = open_embedded(network.root, in_memory=True)
    n.start()
    try:
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture
def settings(network: NetworkDir) -> ApiSettings:
    return ApiSettings(network_dir=network.root, wait_timeout_s=20.0)


@pytest.fixture
def app(node: Node, settings: ApiSettings) -> FastAPI:
    return create_app(node, settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[ApiClient]:
    c = ApiClient(app)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def client_for() -> Iterator[Callable[[FastAPI], ApiClient]]:
    """Make clients of other apps (closed at teardown)."""
    made: list[ApiClient] = []

    def make(app: FastAPI) -> ApiClient:
        made.append(ApiClient(app))
        return made[-1]

    try:
        yield make
    finally:
        for c in made:
            c.close()


@pytest.fixture
def signer(network: NetworkDir) -> Signer:
    return Signer(network, network.genesis())
