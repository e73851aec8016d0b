"""A network node's peers: its own entry in the ordering service (API and peer addresses, TLS
certificate, under a lease so that it disappears with the node), and catch-up blocks fetched
from the other nodes over mutual TLS."""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any

import orjson

from govchain.errors import GovchainError, Unavailable
from govchain.node.transport import AnswerBuffer, TlsContexts, fetch
from govchain.ordering.etcd import LEASE_TTL_S, BlockLog

log = logging.getLogger("govchain.network")


class Peers:
    """Publishes this node and fetches blocks from the others."""

    def __init__(
        self,
        block_log: BlockLog,
        tls: TlsContexts,
        *,
        api_address: str,
        peer_address: str,
        authorize: Callable[[bytes | None], str],
    ) -> None:
        self.log = block_log
        self.client = block_log.client
        self.dept = block_log.dept
        self.tls = tls
        self.authorize = authorize
        self._entry = orjson.dumps(
            {"api": api_address, "peer": peer_address, "cert": tls.own.cert_pem.decode()}
        ).decode()
        self._lease = 0
        self._turn = 0
        self._local = threading.local()
        """Per fetching thread, the ``AnswerBuffer`` its peers' answers are read into."""

    def register(self) -> None:
        """Publish (or keep alive) this node's entry; ``Unavailable`` if etcd cannot."""
        if self._lease and self.client.lease_keepalive(self._lease) > 0:
            return
        self._lease = self.client.lease_grant(LEASE_TTL_S * 2)
        self.log.register(self._entry, self._lease)

    def unregister(self) -> None:
        """Remove this node's entry (at once, not when its lease expires)."""
        if self._lease:
            with contextlib.suppress(Unavailable):
                self.client.lease_revoke(self._lease)
            self._lease = 0

    def trust_all(self) -> None:
        """Load every published peer certificate into the TLS trust stores. The handshake
        needs them; whether a peer is a member is decided afterwards, from the certificate's
        issuing signature."""
        for raw in self.log.nodes().values():
            try:
                self.tls.trust(orjson.loads(raw)["cert"].encode())
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ssl.SSLError):
                continue

    def _buffer(self) -> AnswerBuffer:
        buffer: AnswerBuffer | None = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = AnswerBuffer()
        return buffer

    def fetch_blocks(self, first: int, limit: int) -> list[Any]:
        """Return up to ``limit`` blocks from height ``first`` (decoded JSON, unverified) from
        a peer that has them, or ``[]``. Successive calls start at successive peers, so that a
        long catch-up spreads its ranges over every peer; a peer that fails or lacks the
        blocks passes the request on to the next."""
        try:
            peers = self.log.nodes()
        except Unavailable:
            return []
        others = sorted(d for d in peers if d != self.dept)
        if not others:
            return []
        start = self._turn % len(others)
        self._turn += 1
        for dept in others[start:] + others[:start]:
            try:
                entry = orjson.loads(peers[dept])
                self.tls.trust(entry["cert"].encode())
                body = fetch(
                    self.tls,
                    f"{entry['peer']}/v1/peer/blocks?from={first}&limit={limit}",
                    self.authorize,
                    buffer=self._buffer(),
                )
                try:
                    items: list[Any] = orjson.loads(body)["blocks"]
                finally:
                    if isinstance(body, memoryview):
                        body.release()  # the buffer is reused by the next fetch
            except (OSError, ssl.SSLError, GovchainError, orjson.JSONDecodeError) as exc:
                log.warning("%s: catch-up from peer %s failed: %s", self.dept, dept, exc)
                continue
            except (KeyError, TypeError, ValueError):
                continue
            if items:
                log.info(
                    "%s: fetched blocks %d-%d from peer %s",
                    self.dept, first, first + len(items) - 1, dept,
                )  # fmt: skip
                return items
        return []
