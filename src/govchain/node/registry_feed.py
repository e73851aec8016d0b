"""The registration authority's node keeps its catalogue resource ``market.enterprise_register``
in step with the on-chain enterprise registry.

Other departments' services ask questions of the register the way they ask any department's
data: by attestation ("is this enterprise active?"), answered from the owner's vault. Each
change of an enterprise (registered, imported, a new status) is published as a new record
``<uscc>-<n>`` (``n``: the number of entries in its on-chain history), and the record it replaces
is erased, so that a predicate over the subject's live records sees exactly the current state.

A worker thread does the publishing, fed from committed blocks' registry events; at start it
catches up with every enterprise whose current record is missing, so nothing is lost across a
restart (the ledger is the only state).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from govchain.errors import GovchainError
from govchain.ledger.chain import CommittedBlock
from govchain.node.node import Node
from govchain.procedures import layout
from govchain.procedures.registry_contract import REGISTRATION_AUTHORITY
from govchain.sharing.layout import record_key
from govchain.sharing.requests import build_request
from govchain.sharing.service import SharingService

log = logging.getLogger("govchain.registry_feed")

RESOURCE = f"{REGISTRATION_AUTHORITY}.enterprise_register"
"""The catalogue resource the register is mirrored into."""
PURPOSE = "企业登记信息同步"
BATCH = 64
"""Enterprises published together."""
WORKERS = 8
"""Concurrent publications (each waits for its block)."""
_EVENTS = frozenset(
    {
        "registry.enterprise_registered",
        "registry.enterprise_imported",
        "registry.enterprise_status",
    }
)
_STOP = ""


def _date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000 + 8 * 3600))


class RegistryFeed:
    """Publishes the register's changes into the authority's vault (see the module)."""

    def __init__(self, node: Node, sharing: SharingService) -> None:
        self._node = node
        self._sharing = sharing
        self._queue: queue.Queue[str] = queue.Queue()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="registry-feed")
        self._stopping = False
        self.published = 0
        node.listeners.append(self._on_block)
        self._thread = threading.Thread(target=self._run, name="registry-feed", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker (what is queued is published again after the next start)."""
        self._stopping = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _on_block(self, block: CommittedBlock) -> None:
        for receipt in block.result.receipts:
            for event in receipt.events:
                if event["type"] in _EVENTS:
                    self._queue.put(event["data"]["uscc"])

    def _sharing_resource(self) -> Any:
        from govchain.sharing.layout import resource_key

        return self._node.ledger.state.get_value(resource_key(RESOURCE))

    def _run(self) -> None:
        try:
            self._catch_up()
        except GovchainError as exc:
            log.warning("register feed: catching up failed: %s", exc.message)
        while True:
            pending = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(pending) < BATCH:
                    pending.append(self._queue.get_nowait())
            self._sync_all([u for u in dict.fromkeys(pending) if u != _STOP])
            if _STOP in pending:
                return

    def _catch_up(self) -> None:
        if self._sharing_resource() is None:
            return
        found = [
            key[len(layout.ENTERPRISES) :].decode()
            for key, _ in self._node.ledger.state.iter_range(layout.ENTERPRISES)
        ]
        for i in range(0, len(found), BATCH):
            if self._stopping:
                return
            self._sync_all(found[i : i + BATCH])

    def _sync_all(self, usccs: list[str]) -> None:
        """Publish several enterprises' records at once: concurrent submissions share blocks
        (one record per transaction, a few transactions per block)."""

        def one(uscc: str) -> None:
            if self._stopping:
                return
            try:
                self._sync(uscc)
            except GovchainError as exc:
                if not self._stopping:
                    log.warning("register feed: %s not published: %s", uscc, exc.message)

        list(self._pool.map(one, usccs))

    def _sync(self, uscc: str) -> None:
        """Publish the enterprise's current record if it is not there; erase the one before."""
        if self._sharing_resource() is None:
            return  # the resource is not registered (yet): the catch-up at start does it
        raw = self._node.ledger.state.get_value(layout.enterprise_key(uscc))
        if raw is None:
            return
        ent = orjson.loads(raw)
        version = len(ent["history"])
        current = f"{uscc}-{version}"
        if self._node.ledger.state.get_value(record_key(RESOURCE, current)) is None:
            data = {
                "name": ent["name"],
                "status": ent["status"],
                "industry": ent["industry"],
                "established": _date(ent["established_ms"]),
            }
            self._sharing.publish(
                self._request(
                    "publish",
                    {"resource": RESOURCE, "record": current, "subject": uscc, "data": data},
                )
            )
            self.published += 1
        for older in range(version - 1, 0, -1):
            key = record_key(RESOURCE, f"{uscc}-{older}")
            entry = self._node.ledger.state.get_value(key)
            if entry is None or orjson.loads(entry).get("erased") is not None:
                break
            self._sharing.erase(
                self._request(
                    "erase",
                    {
                        "resource": RESOURCE,
                        "record": f"{uscc}-{older}",
                        "reason": f"superseded by {current}",
                    },
                )
            )

    def _request(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        cred = self._sharing.signer.local(REGISTRATION_AUTHORITY)
        suite = self._node.suite
        return build_request(
            chain=self._node.genesis.chain_id,
            kind=kind,
            signer=cred.member,
            actor=cred.member,
            args=args,
            time_ms=self._node.clock_ms(),
            sign=lambda m: suite.sign(cred.member_private, m),
            purpose=PURPOSE,
        ).envelope()


def start_registry_feed(node: Node, sharing: SharingService) -> RegistryFeed | None:
    """Start the feed on a node that serves the registration authority (else ``None``)."""
    if REGISTRATION_AUTHORITY not in sharing.credentials:
        return None
    feed = RegistryFeed(node, sharing)
    node.before_close.append(feed.close)
    return feed
