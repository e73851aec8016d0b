"""Wiring data sharing to a running node: the ``LedgerPort`` adapter and the credentials a
node holds for the departments it serves (from the network directory)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from govchain.errors import GovchainError, Unavailable
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
        self.max_tx_bytes = node.genesis.params.max_tx_bytes

    def read_state(self, key: bytes) -> bytes | None:
        """Return the committed value of a state key."""
        vv = self._node.ledger.state.get(key)
        return None if vv is None else vv.value

    def scan_state(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` pairs under ``prefix``."""
        for key, vv in self._node.ledger.state.iter_range(prefix):
            if vv.value is not None:
                yield key, vv.value

    def submit(self, txs: Sequence[Transaction]) -> list[GovchainError | None]:
        """Admit transactions without waiting; per transaction ``None`` or the refusal."""
        outcomes = self._node.submit([t.encode() for t in txs], raw=True, wait=False)
        return [o if isinstance(o, GovchainError) else None for o in outcomes]

    def receipts(
        self, txs: Sequence[Transaction], admitted: Sequence[GovchainError | None]
    ) -> list[dict[str, Any]]:
        """Wait until the admitted transactions are durable; return their receipts."""
        ids = [t.tx_id for t, err in zip(txs, admitted, strict=True) if err is None]
        if ids and not self._node.wait_committed(ids, self._timeout):
            raise Unavailable(
                f"transactions were not committed within {self._timeout} s",
                tx_ids=[i.hex() for i in ids],
            )
        ledger = self._node.ledger
        out: list[dict[str, Any]] = []
        for t, err in zip(txs, admitted, strict=True):
            if err is not None:
                out.append(
                    {"status": "rejected", "error": {"code": err.code, "message": err.message}}
                )
                continue
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
    return service
