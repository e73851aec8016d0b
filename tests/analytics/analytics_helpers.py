"""Helpers of the analytics tests: a service-style extractor over the kv contract and a
committer of signed kv puts."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import anyio.from_thread
import httpx

from govchain.analytics.extract import Extractor, TxFacts
from govchain.crypto import get_suite
from govchain.ledger.transactions import build_transaction
from govchain.node.network import NetworkDir
from govchain.node.node import Node


def _kv_rows(f: TxFacts) -> Iterable[tuple[Any, ...]]:
    value = f.args.get("value")
    if isinstance(value, int):
        yield (f.height, f.position, f.args["key"], value, f.department)


KV_PUTS = Extractor(
    table="kv_puts",
    ddl="CREATE TABLE kv_puts (height BIGINT, position INTEGER, key VARCHAR, value BIGINT, "
    "department VARCHAR)",
    contract="kv",
    methods=frozenset({"put"}),
    rows=_kv_rows,
)
"""A service-style extractor over the kv contract (integer values only)."""


class Committer:
    """Commits kv puts signed by the demo departments' admins, one block per call."""

    def __init__(self, net: NetworkDir, node: Node) -> None:
        self.net = net
        self.node = node
        self.genesis = net.genesis()
        self.suite = get_suite(self.genesis.suite)
        self._nonces: dict[str, Iterator[int]] = {}

    def block(self, puts: list[tuple[str, str, Any]]) -> int:
        """Commit ``(member, key, value)`` puts as one block; return its height."""
        txs = []
        for member, key, value in puts:
            nonce = next(self._nonces.setdefault(member, itertools.count(1)))
            private = self.net.member_key(member).keypair.private
            txs.append(
                build_transaction(
                    chain=self.genesis.chain_id,
                    signer=member,
                    nonce=nonce,
                    contract="kv",
                    method="put",
                    args={"key": key, "value": value},
                    actor=member,
                    sign=lambda m, p=private: self.suite.sign(p, m),
                    hash_fn=self.suite.hash,
                )
            )
        return self.node.commit(txs).header.header.height


class AsgiClient:
    """Calls an ASGI app from synchronous tests through an anyio blocking portal."""

    def __init__(self, app: Any) -> None:
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._http.get, url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._http.post, url, **kwargs))

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._portal_cm.__exit__(None, None, None)
