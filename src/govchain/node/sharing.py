"""Wiring data sharing to a running node: the ``LedgerPort`` adapter and the credentials a
node holds for the departments it serves (from the network directory)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from govchain.errors import GovchainError
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.sharing.keyfiles import SHARING_MEMBER, ensure_agreement_key
from govchain.sharing.service import DeptCredentials, SharingService

FALLBACK_MEMBER = "admin"
"""Member that signs for a department whose network directory predates the ``sharing``
service member (it then shares the admin's nonce sequence)."""


class NodePort:
    """The ``LedgerPort`` of a ``Node``: committed state, submit-and-wait, the node's clock."""

    def __init__(self, node: Node, timeout_s: float = 30.0) -> None:
        self._node = node
        self._timeout = timeout_s
        self.chain_id = node.genesis.chain_id
        self.suite = node.suite

    def read_state(self, key: bytes) -> bytes | None:
        """Return the committed value of a state key."""
        vv = self._node.ledger.state.get(key)
        return None if vv is None else vv.value

    def scan_state(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` pairs under ``prefix``."""
        for key, vv in self._node.ledger.state.iter_range(prefix):
            if vv.value is not None:
                yield key, vv.value

    def commit(self, txs: Sequence[Transaction]) -> list[dict[str, Any]]:
        """Submit, wait until durable, return each receipt (admission errors as rejected)."""
        outcomes = self._node.submit(
            [t.encode() for t in txs], raw=True, wait=True, timeout=self._timeout
        )
        ledger = self._node.ledger
        out: list[dict[str, Any]] = []
        for o in outcomes:
            if isinstance(o, GovchainError):
                out.append({"status": "rejected", "error": {"code": o.code, "message": o.message}})
                continue
            loc = ledger.locate(o.tx_id)
            out.append(LogEntry.decode(ledger.entry_bytes(loc.log_index)).receipt.to_json())
        return out

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
    return service
