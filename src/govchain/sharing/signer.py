"""The transactions a node signs for the departments it serves: their member keys, a dense
nonce sequence per member, and submission in nonce order."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.crypto.suite import KeyPair
from govchain.errors import GovchainError, NotFound
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.sharing.errors import error_of
from govchain.sharing.view import LedgerPort
from govchain.types import DeptId, MemberId


@dataclass(frozen=True, slots=True)
class DeptCredentials:
    """The keys a node holds for one department it serves."""

    dept: DeptId
    """Department."""
    member: MemberId
    """Member whose key signs the node's sharing transactions."""
    member_private: bytes
    """Its private signing key."""
    agreement: KeyPair
    """The department's agreement key pair."""


@dataclass(frozen=True, slots=True)
class NodeCall:
    """A transaction the node will sign for a department it serves."""

    cred: DeptCredentials
    """Department (and member key) it is signed for."""
    contract: str
    """Contract called."""
    method: str
    """Entry point."""
    args: Mapping[str, Any]
    """Arguments."""
    actor: str
    """Person acting (the transaction's ``actor``)."""
    case: str
    """Case id."""
    purpose: str
    """Declared purpose."""


class NodeSigner:
    """Signs, submits and awaits the node's own data-sharing transactions."""

    def __init__(self, port: LedgerPort, credentials: Mapping[DeptId, DeptCredentials]) -> None:
        self.port = port
        self.suite = port.suite
        self.credentials = dict(credentials)
        self._nonce_lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._last_nonce: dict[str, int] = {}
        self._started_us = time.time_ns() // 1000

    def _nonce(self, member: str) -> int:
        # Consecutive numbers from the start-up time in microseconds: above every nonce of an
        # earlier run (which could not sign one transaction per microsecond), and dense, so
        # transactions of concurrent requests that reach ordering out of order stay within
        # the replay window.
        with self._nonce_lock:
            n = self._last_nonce.get(member, self._started_us) + 1
            self._last_nonce[member] = n
            return n

    def call(
        self,
        dept: DeptId,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        *,
        actor: str,
        case: str = "",
        purpose: str = "",
    ) -> NodeCall:
        """Describe a transaction to sign for ``dept`` (``NotFound`` if not served here)."""
        return NodeCall(self.local(dept), contract, method, args, actor, case, purpose)

    def sign(self, call: NodeCall) -> Transaction:
        """Sign a call with its department's member key and the next nonce."""
        cred = call.cred
        suite = self.suite
        return build_transaction(
            chain=self.port.chain_id,
            signer=cred.member,
            nonce=self._nonce(cred.member),
            contract=call.contract,
            method=call.method,
            args=call.args,
            actor=call.actor,
            case=call.case,
            purpose=call.purpose,
            sign=lambda m: suite.sign(cred.member_private, m),
            hash_fn=suite.hash,
        )

    def commit(self, calls: Sequence[NodeCall]) -> list[tuple[Transaction, dict[str, Any]]]:
        """Sign, submit and wait for the node's transactions. Nonces are drawn and the
        transactions admitted under one lock, so they reach ordering in nonce order however
        many requests run at once (the replay window only tolerates a little disorder)."""
        with self._submit_lock:
            txs = [self.sign(c) for c in calls]
            admitted = self.port.submit(txs)
        return list(zip(txs, self.port.receipts(txs, admitted), strict=True))

    def commit_one(self, call: NodeCall) -> tuple[Transaction, Any]:
        """Commit one call; return the transaction and its result, or raise its error."""
        ((tx, receipt),) = self.commit([call])
        if receipt["status"] != "ok":
            raise error_of(receipt["error"] or {})
        return tx, receipt["result"]

    def submit_logs(
        self, groups: Sequence[tuple[DeptId, list[dict[str, Any]]]]
    ) -> list[tuple[Transaction, GovchainError | None]]:
        """Sign one read-log transaction per ``(owner, entries)`` and admit them in order."""
        calls = [
            self.call(
                owner, "sharing.reads", "log", {"entries": entries}, actor=self.local(owner).member
            )
            for owner, entries in groups
        ]
        with self._submit_lock:
            txs = [self.sign(c) for c in calls]
            admitted = self.port.submit(txs)
        return list(zip(txs, admitted, strict=True))

    def local(self, dept: DeptId) -> DeptCredentials:
        """Return the credentials of a served department (``NotFound`` for any other)."""
        cred = self.credentials.get(dept)
        if cred is None:
            raise NotFound(
                f"department {dept!r} is not served by this node; send the request to its node",
                dept=dept,
            )
        return cred
