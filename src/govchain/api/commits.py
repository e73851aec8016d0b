"""Awaiting the commit of a transaction without holding a worker thread.

``Node.submit(wait=True)`` blocks its calling thread until the block is durable. Worker threads
are a small shared pool (they also run every read endpoint), so single-transaction submissions
wait here instead: the node calls ``CommitWatch`` from its committer thread after each durable
block, and the watch wakes the waiting coroutines on their event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from govchain.api.views import committed_transaction
from govchain.errors import CallFailed, GovchainError, Unavailable
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.transactions import Transaction
from govchain.node.node import Node

_POLL_S = 0.5  # how often a waiter checks whether the node has failed


class CommitWatch:
    """Wakes coroutines waiting for transactions of committed blocks."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._waiting: dict[bytes, list[asyncio.Future[None]]] = {}
        self._lock = threading.Lock()
        node.listeners.append(self._on_block)

    def _on_block(self, block: CommittedBlock) -> None:
        """Committer thread: the block is durable; wake its waiters."""
        if not self._waiting:
            return
        with self._lock:
            waiting = self._waiting
            woken = [f for tid in block.tx_ids if tid in waiting for f in waiting.pop(tid)]
        for fut in woken:
            # RuntimeError: the loop is closed, so nobody waits any more.
            with contextlib.suppress(RuntimeError):
                fut.get_loop().call_soon_threadsafe(_resolve, fut)

    async def wait(self, tx_id: bytes, timeout: float) -> None:
        """Return once ``tx_id`` is durably committed; ``Unavailable`` on timeout or failure."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.setdefault(tx_id, []).append(fut)
        try:
            # It may have committed before the future was registered.
            if self._node.ledger.is_committed(tx_id):
                return
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                failure = self._node.failure
                if failure is not None:
                    raise Unavailable(f"the node stopped committing: {failure.message}")
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise Unavailable(
                        f"transaction was accepted but not committed within {timeout} s; "
                        "query its status later",
                        tx_ids=[tx_id.hex()],
                    )
                try:
                    await asyncio.wait_for(asyncio.shield(fut), min(left, _POLL_S))
                    return
                except TimeoutError:
                    continue
        finally:
            self._forget(tx_id, fut)

    def _forget(self, tx_id: bytes, fut: asyncio.Future[None]) -> None:
        with self._lock:
            futures = self._waiting.get(tx_id)
            if futures is not None and fut in futures:
                futures.remove(fut)
                if not futures:
                    del self._waiting[tx_id]
        fut.cancel()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def commit_transactions(node: Node, txs: list[Transaction], timeout: float) -> dict[str, Any]:
    """Submit signed transactions, wait until durable, and return the last one's location and
    receipt; a refused admission is raised, a failed receipt is ``CallFailed`` with its code."""
    outcomes = node.submit([t.envelope() for t in txs], raw=False, wait=True, timeout=timeout)
    for o in outcomes:
        if isinstance(o, GovchainError):
            raise o
    doc = committed_transaction(node.ledger, txs[-1].tx_id, with_tx=False)
    receipt = doc["receipt"]
    if receipt["status"] != "ok":
        err = receipt.get("error") or {}
        raise CallFailed(
            f"the transaction was committed but failed: {err.get('message', '')}",
            tx_id=doc["tx_id"],
            receipt_code=err.get("code"),
        )
    return doc
