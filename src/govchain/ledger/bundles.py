"""Offline verification of a receipt bundle with nothing but the network's genesis.

A bundle (``govchain-receipt/1``) holds a log entry (the transaction and its receipt), its
index in the transaction log, the inclusion proof, and a signed checkpoint. It is valid when:

1. the checkpoint is for this chain and carries a quorum of department signatures (> 2/3),
   checked against the node keys of the departments in force at its height: genesis's, changed
   by each membership change the bundle proves (``membership``, oldest first). A change made by
   block ``h`` is proved by its transaction's log entry (status ok, a
   ``network.membership_changed`` event from the ``network`` system contract listing the new
   departments with their node keys), included in the log of the checkpoint at ``h``, which a
   quorum of the departments in force *before* the change signed;
2. the entry's leaf hash is included at ``log_index`` in the log of ``checkpoint.log_size``
   entries whose root is ``checkpoint.log_root``;
3. the transaction inside is well-formed, for this chain, has the stated id, and — when its
   signer is a genesis member — its signature verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govchain.crypto.suite import CryptoSuite
from govchain.errors import GovchainError, ProofError
from govchain.ledger import merkle
from govchain.ledger.checkpoints import (
    SignedCheckpoint,
    verify_checkpoint,
    verify_checkpoint_along,
)
from govchain.ledger.encoding import canonical_bytes
from govchain.ledger.genesis import Department, Genesis
from govchain.ledger.membership import MEMBERSHIP_CHANGED_EVENT, NETWORK_CONTRACT, Membership
from govchain.ledger.receipts import BUNDLE_FORMAT, LogEntry, unhex_list
from govchain.ledger.transactions import parse_envelope
from govchain.types import DeptId, Height


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    """What a valid bundle proves."""

    tx_id: str
    """Transaction id (hex)."""
    height: Height
    """Block height of the transaction."""
    log_index: int
    """Index in the transaction log."""
    status: str
    """Receipt status (``ok``, ``failed``, ``rejected``)."""
    result: Any
    """Receipt result."""
    signer: str
    """Member that signed the transaction."""
    actor: str
    """Person who acted."""
    case: str
    """Case id."""
    checkpoint_height: Height
    """Height of the checkpoint the proof is anchored to."""
    checkpoint_signers: tuple[DeptId, ...]
    """Departments whose checkpoint signatures verified."""
    signature_checked: bool
    """Whether the transaction signature was checked (signer key known from genesis)."""
    entry: LogEntry
    """The verified log entry."""
    departments: tuple[Department, ...] = ()
    """The departments in force at the checkpoint (genesis's unless the bundle proved
    membership changes)."""


def verify_bundle(bundle: Any, genesis: Genesis, suite: CryptoSuite) -> VerifiedReceipt:
    """Verify a decoded receipt bundle; raise ``ProofError`` (or a subclass) naming the defect."""
    if type(bundle) is not dict:
        raise ProofError("receipt must be a JSON object")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise ProofError(f"receipt format must be {BUNDLE_FORMAT!r}")
    if bundle.get("chain_id") != genesis.chain_id:
        raise ProofError(
            f"receipt is for chain {bundle.get('chain_id')!r}, genesis is {genesis.chain_id!r}"
        )
    try:
        signed = SignedCheckpoint.from_json(bundle.get("checkpoint"))
    except GovchainError as exc:
        raise ProofError(f"receipt checkpoint is malformed: {exc.message}") from None
    cp = signed.checkpoint

    entry_data, entry, log_index = _entry(bundle, "receipt")
    try:
        tx = parse_envelope(entry.tx, suite.hash)
    except GovchainError as exc:
        raise ProofError(f"transaction in receipt is malformed: {exc.message}") from None
    if tx.chain != genesis.chain_id:
        raise ProofError("transaction in receipt is for another chain")
    if bundle.get("tx_id") != tx.tx_id.hex():
        raise ProofError(
            f"receipt names tx {bundle.get('tx_id')!r} but the entry holds {tx.tx_id.hex()}"
        )
    # The transaction signature is checked together with the checkpoint's quorum, on every
    # core: with SM2 (~250 µs a signature) that is what keeps a receipt under a millisecond.
    key = next((m.public_key for m in genesis.members if m.id == tx.signer), None)
    others = [] if key is None else [(key, tx.signing_message(), tx.signature)]
    departments = follow_membership(bundle.get("membership", []), genesis, suite, cp.height)
    signers, tx_ok = verify_checkpoint_along(suite, genesis, signed, others, departments)
    if others and not tx_ok[0]:
        raise ProofError(f"transaction signature does not verify under {tx.signer!r}")
    checked = bool(others)
    _check_included(suite, bundle, entry_data, log_index, signed)

    return VerifiedReceipt(
        tx_id=tx.tx_id.hex(),
        height=entry.height,
        log_index=log_index,
        status=entry.receipt.status,
        result=entry.receipt.result,
        signer=tx.signer,
        actor=tx.actor,
        case=tx.case,
        checkpoint_height=cp.height,
        checkpoint_signers=tuple(signers),
        signature_checked=checked,
        entry=entry,
        departments=tuple(departments),
    )


def _entry(part: dict[str, Any], what: str) -> tuple[bytes, LogEntry, int]:
    """Parse the log entry and log index of a receipt or of a proved membership change."""
    log_index = part.get("log_index")
    if type(log_index) is not int:
        raise ProofError(f"{what} log_index must be an integer")
    try:
        entry_data = canonical_bytes(part.get("entry"))
        return entry_data, LogEntry.decode(entry_data), log_index
    except GovchainError as exc:
        raise ProofError(f"{what} entry is malformed: {exc.message}") from None


def _check_included(
    suite: CryptoSuite,
    part: dict[str, Any],
    entry_data: bytes,
    log_index: int,
    signed: SignedCheckpoint,
) -> None:
    """Check the part's inclusion proof of the entry in the checkpoint's log."""
    cp = signed.checkpoint
    merkle.verify_inclusion(
        suite.hash,
        log_index,
        cp.log_size,
        merkle.leaf_hash(suite.hash, entry_data),
        unhex_list(part.get("inclusion_proof"), "inclusion_proof"),
        cp.log_root,
    )


def follow_membership(
    links: Any, genesis: Genesis, suite: CryptoSuite, below: Height
) -> tuple[Department, ...]:
    """Verify the membership changes a bundle proves (all below height ``below``) from genesis
    on; return the departments in force after the last one. ``ProofError`` names the defect."""
    if type(links) is not list:
        raise ProofError("receipt membership must be a list of proved changes")
    departments = genesis.departments
    last = 0
    for n, link in enumerate(links):
        what = f"membership change {n + 1}"
        if type(link) is not dict:
            raise ProofError(f"{what} must be a JSON object")
        try:
            signed = SignedCheckpoint.from_json(link.get("checkpoint"))
        except GovchainError as exc:
            raise ProofError(f"{what} checkpoint is malformed: {exc.message}") from None
        cp = signed.checkpoint
        if not last < cp.height < below:
            raise ProofError(
                f"{what} is at height {cp.height}; changes must be in order, below the "
                f"receipt's checkpoint at {below}"
            )
        verify_checkpoint(suite, genesis, signed, departments=departments)
        entry_data, entry, log_index = _entry(link, what)
        _check_included(suite, link, entry_data, log_index, signed)
        if entry.height != cp.height:
            raise ProofError(f"{what}: its entry is of block {entry.height}, not {cp.height}")
        try:
            tx = parse_envelope(entry.tx, suite.hash)
        except GovchainError as exc:
            raise ProofError(f"{what}: its transaction is malformed: {exc.message}") from None
        if tx.chain != genesis.chain_id or tx.contract != NETWORK_CONTRACT:
            raise ProofError(f"{what}: not a call of this chain's network contract")
        events = [
            e
            for e in entry.receipt.events
            if entry.receipt.status == "ok" and e.get("type") == MEMBERSHIP_CHANGED_EVENT
        ]
        if len(events) != 1:
            raise ProofError(f"{what}: the transaction changed no membership")
        data = events[0].get("data")
        try:
            departments = Membership.from_json(
                data.get("membership") if type(data) is dict else None
            ).departments
        except GovchainError as exc:
            raise ProofError(f"{what}: {exc.message}") from None
        last = cp.height
    return departments
