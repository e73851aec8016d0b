"""Wiring data sharing to a running node: the ``LedgerPort`` adapter and the credentials a
node holds for the departments it serves (from the network directory)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from govchain.errors import GovchainError, Unavailable
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.sharing.cache import StateCache
from govchain.sharing.keyfiles import SHARING_MEMBER, ensure_agreement_key
from govchain.sharing.service import SharingService
from govchain.sharing.signer import DeptCredentials

FALLBACK_MEMBER = "admin"
"""Member that signs for a department whose network directory predates the ``sharing``
service member (it then shares the admin's nonce sequence)."""


class _Slot:
    """Where the block listener leaves one awaited transaction's receipt."""

    __slots__ = ("done", "receipt")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.receipt: dict[str, Any] | None = None


class NodePort:
    """The ``LedgerPort`` of a ``Node``: committed state, submit-and-wait, the node's clock."""

    def __init__(self, node: Node, timeout_s: float = 30.0) -> None:
        self._node = node
        self._timeout = timeout_s
        self.chain_id = node.genesis.chain_id
        self.suite = node.suite
        self.max_tx_bytes = node.genesis.params.max_tx_bytes
        # Receipts of the transactions this port submitted, taken from each committed block
        # as it is committed (cheaper than decoding the stored log entry afterwards).
        self._watched: dict[bytes, _Slot] = {}
        self._watch_lock = threading.Lock()
        state = node.ledger.state
        self._cache = StateCache(state.get_value)
        # First among the listeners: the cache forgets what a block wrote before the other
        # listeners (the API's commit waits, this port's own callers) hear of the block.
        node.listeners.insert(0, self._on_block)

    def _on_block(self, block: CommittedBlock) -> None:
        self._cache.committed(w.key for w in block.result.writes)
        watched = self._watched
        if not watched:
            return
        with self._watch_lock:
            for tx_id, receipt in zip(block.tx_ids, block.result.receipts, strict=True):
                slot = watched.get(tx_id)
                if slot is not None:
                    slot.receipt = receipt.to_json()
                    slot.done.set()

    def read_state(self, key: bytes) -> bytes | None:
        """Return the committed value of a state key (cached until a block writes it)."""
        return self._cache.get(key)

    def scan_state(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` pairs under ``prefix``."""
        for key, vv in self._node.ledger.state.iter_range(prefix):
            if vv.value is not None:
                yield key, vv.value

    def submit(self, txs: Sequence[Transaction]) -> list[GovchainError | None]:
        """Admit transactions without waiting; per transaction ``None`` or the refusal."""
        with self._watch_lock:
            for t in txs:
                self._watched[t.tx_id] = _Slot()
        try:
            outcomes = self._node.submit([t.encode() for t in txs], raw=True, wait=False)
        except BaseException:
            self._forget(txs)
            raise
        refused = [o if isinstance(o, GovchainError) else None for o in outcomes]
        self._forget([t for t, r in zip(txs, refused, strict=True) if r is not None])
        return refused

    def _forget(self, txs: Sequence[Transaction]) -> list[_Slot | None]:
        with self._watch_lock:
            return [self._watched.pop(t.tx_id, None) for t in txs]

    def receipts(
        self, txs: Sequence[Transaction], admitted: Sequence[GovchainError | None]
    ) -> list[dict[str, Any]]:
        """Wait until the admitted transactions are durable; return their receipts."""
        node = self._node
        with self._watch_lock:
            slots = [self._watched.get(t.tx_id) for t in txs]
        deadline = time.monotonic() + self._timeout
        for slot, err in zip(slots, admitted, strict=True):
            if err is not None or slot is None:
                continue
            # Woken by the block listener; the node's failure ends the wait at once.
            while not slot.done.wait(0.2):
                if node.failure is not None:
                    self._forget(txs)
                    raise Unavailable(f"the node stopped committing: {node.failure.message}")
                if time.monotonic() > deadline:
                    self._forget(txs)
                    raise Unavailable(
                        f"transactions were not committed within {self._timeout} s",
                        tx_ids=[t.tx_id.hex() for t in txs],
                    )
        ledger = node.ledger
        self._forget(txs)
        out: list[dict[str, Any]] = []
        for t, err, slot in zip(txs, admitted, slots, strict=True):
            if err is not None:
                out.append(
                    {"status": "rejected", "error": {"code": err.code, "message": err.message}}
                )
            elif slot is not None and slot.receipt is not None:
                out.append(slot.receipt)
            else:  # not submitted through this port: read it back from the log
                loc = ledger.locate(t.tx_id)
                out.append(LogEntry.decode(ledger.entry_bytes(loc.log_index)).receipt.to_json())
        return out

    def commit(self, txs: Sequence[Transaction]) -> list[dict[str, Any]]:
        """Submit, wait until durable, return each receipt (admission errors as rejected)."""
        return self.receipts(txs, self.submit(txs))

    def now_ms(self) -> int:
        """Return the clock the node stamps blocks with."""
        return self._node._clock_ms()


def open_sharing(node: Node, network: Path | str) -> SharingService:
    """Return the sharing service of a node.

    It serves every department whose ``sharing`` (or, for older directories, ``admin``) member
    key is in the network directory (the embedded node: all of them); agreement key files
    missing from an older network directory are created."""
    net = NetworkDir(network)
    genesis = node.genesis
    creds: dict[str, DeptCredentials] = {}
    for dept in genesis.departments:
        member = f"{dept.id}/{SHARING_MEMBER}"
        if not net.member_key_path(member).exists():
            member = f"{dept.id}/{FALLBACK_MEMBER}"
            if not net.member_key_path(member).exists():
                continue
        creds[dept.id] = DeptCredentials(
            dept=dept.id,
            member=member,
            member_private=net.member_key(member).keypair.private,
            agreement=ensure_agreement_key(net.root, dept.id, genesis.suite),
        )
    service = SharingService(NodePort(node), node.ledger.store, creds)
    service.shred_erased()
    node.on_close.append(service.close)
    return service
