"""Stored records checked against what the chain commits to, before a node serves them.

A node reads headers, checkpoints, log entries and proofs from its store long after it wrote
them; a flipped bit on disk must be answered as ``IntegrityError`` naming the table, the key and
the height at fault, never served. The commitments each record is checked against:

==============  ==================================================================================
blocks          the proposer's signature (under its department's node key) and canonical form
checkpoints     its header (block hash, state root, log size and root), canonical form, and
                every department signature under that department's node key
entries         the leaf hash of the transaction log at its index
txindex         the entry it points to: same height, index in block and transaction id
==============  ==================================================================================

The transaction log's tiles are checked by ``MerkleLog`` against its committed head, and state
answers by ``WorldState``. ``govchain verify`` (``ledger/store_audit.py``) checks every table
completely, by replaying the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from govchain.crypto.suite import CryptoSuite
from govchain.errors import GovchainError, IntegrityError
from govchain.ledger.blocks import SignedHeader, height_key
from govchain.ledger.checkpoints import Checkpoint, SignedCheckpoint
from govchain.ledger.encoding import canonical_unchecked, decode, decode_unchecked
from govchain.ledger.genesis import Genesis
from govchain.ledger.membership import Membership
from govchain.types import DeptId, Height

DepartmentKeys = Mapping[DeptId, tuple[bytes, ...]]
"""Per department, every node key it has had (genesis's, then each membership's)."""

T = TypeVar("T")


class CheckedCache(Generic[T]):
    """Records whose stored bytes passed their checks, per height, with those bytes: a read
    that finds the same bytes again needs no new check. Holds at most ``limit`` heights (the
    oldest inserted go first); safe to use from several threads."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: dict[int, tuple[bytes, T]] = {}
        self._lock = threading.Lock()

    def get(self, height: int, raw: bytes) -> T | None:
        """Return the checked record of ``height`` if it was checked with exactly ``raw``."""
        hit = self._items.get(height)
        return hit[1] if hit is not None and hit[0] == raw else None

    def put(self, height: int, raw: bytes, value: T) -> None:
        """Remember that ``raw`` at ``height`` was checked and parses to ``value``."""
        with self._lock:
            self._items.pop(height, None)
            self._items[height] = (raw, value)
            while len(self._items) > self._limit:
                del self._items[next(iter(self._items))]


def stored_fault(message: str, table: str, key: bytes, height: Height | None) -> IntegrityError:
    """Return the error of a stored record that is corrupt: ``table``, ``key`` (hex) and the
    ``height`` of the block it belongs to travel as typed fields."""
    return IntegrityError(message, table=table, key=key.hex(), height=height)


def department_keys(
    genesis: Genesis, memberships: Iterable[bytes]
) -> dict[DeptId, tuple[bytes, ...]]:
    """Return the node keys of every department that was ever a member: genesis's departments
    and those of each stored membership (``sys/departments`` versions, any order). A stored
    signature by a department that later left still verifies under its old key."""
    keys: dict[DeptId, list[bytes]] = {}
    lists = [genesis.departments, *(Membership.decode(raw).departments for raw in memberships)]
    for departments in lists:
        for d in departments:
            known = keys.setdefault(d.id, [])
            if d.node_key not in known:
                known.append(d.node_key)
    return {d: tuple(k) for d, k in keys.items()}


def signed_by(
    suite: CryptoSuite, keys: DepartmentKeys, dept: DeptId, message: bytes, signature: bytes
) -> bool:
    """Return whether ``signature`` of ``message`` verifies under one of ``dept``'s node keys."""
    return any(suite.verify(k, message, signature) for k in keys.get(dept, ()))


def decode_header(raw: bytes, height: Height) -> SignedHeader:
    """Parse the stored header of ``height``; ``IntegrityError`` naming it if it is corrupt or
    is the header of another height."""
    key = height_key(height)
    try:
        signed = SignedHeader.decode(raw)
    except IntegrityError as exc:
        raise stored_fault(f"block {height}: {exc.message}", "blocks", key, height) from None
    if signed.header.height != height:
        raise stored_fault(
            f"block {height}: the stored header says height {signed.header.height}",
            "blocks",
            key,
            height,
        )
    return signed


def check_header(
    suite: CryptoSuite, keys: DepartmentKeys, chain_id: str, raw: bytes, height: Height
) -> SignedHeader:
    """Parse and check the stored header of ``height``: its chain, canonical form and its
    proposer's signature. Raises ``IntegrityError`` naming table, key and height."""
    signed = decode_header(raw, height)
    hd = signed.header
    key = height_key(height)
    if hd.chain != chain_id:
        raise stored_fault(f"block {height}: chain {hd.chain!r} is wrong", "blocks", key, height)
    if signed.encode() != raw:
        raise stored_fault(
            f"block {height}: the stored header is not in its canonical form", "blocks", key, height
        )
    if not signed_by(suite, keys, hd.proposer, hd.signing_message(), signed.signature):
        raise stored_fault(
            f"block {height}: the proposer signature ({hd.proposer}) does not verify",
            "blocks",
            key,
            height,
        )
    return signed


def parse_checkpoint(raw: bytes, height: Height) -> SignedCheckpoint:
    """Parse the stored checkpoint of ``height``; ``IntegrityError`` naming it if it is not a
    signed checkpoint in canonical form."""
    key = height_key(height)
    try:
        signed = SignedCheckpoint.from_json(decode(raw))
    except GovchainError as exc:
        raise stored_fault(
            f"block {height}: the stored checkpoint is corrupt ({exc.message})",
            "checkpoints",
            key,
            height,
        ) from None
    if canonical_unchecked(signed.to_json()) != raw:
        raise stored_fault(
            f"block {height}: the stored checkpoint is not in its canonical form",
            "checkpoints",
            key,
            height,
        )
    return signed


def expected_checkpoint(
    chain_id: str, header: SignedHeader, h: Callable[[bytes], bytes]
) -> Checkpoint:
    """Return the checkpoint a block's header commits to."""
    hd = header.header
    return Checkpoint(
        chain=chain_id,
        height=hd.height,
        block_hash=hd.hash(h),
        state_root=hd.state_root,
        log_size=hd.log_size,
        log_root=hd.log_root,
    )


def checkpoint_fault(stored: Checkpoint, expected: Checkpoint) -> str | None:
    """Return what differs between a stored checkpoint and the one its block commits to."""
    if stored == expected:
        return None
    mine, theirs = stored.to_json(), expected.to_json()
    fields = ", ".join(
        f"{k} {mine[k]!r} (expected {theirs[k]!r})" for k in mine if mine[k] != theirs[k]
    )
    return f"the stored checkpoint differs from its block: {fields}"


def signature_faults(signed: SignedCheckpoint, keys: DepartmentKeys) -> list[str]:
    """Return what is wrong with a checkpoint's signature list without verifying a signature:
    a department signing twice, or one that was never a member."""
    out: list[str] = []
    seen: set[DeptId] = set()
    for dept, _ in signed.signatures:
        if dept in seen:
            out.append(f"department {dept!r} signed twice")
        elif dept not in keys:
            out.append(f"signed by {dept!r}, which has never been a department of this network")
        seen.add(dept)
    return out


def check_checkpoint(
    suite: CryptoSuite,
    keys: DepartmentKeys,
    raw: bytes,
    header: SignedHeader,
    chain_id: str,
) -> SignedCheckpoint:
    """Parse and check the stored checkpoint of ``header``'s block: canonical form, the same
    statement as the header, and every department signature. Raises ``IntegrityError`` naming
    table, key and height."""
    height = header.header.height
    key = height_key(height)
    signed = parse_checkpoint(raw, height)
    problem = checkpoint_fault(signed.checkpoint, expected_checkpoint(chain_id, header, suite.hash))
    problems = [problem] if problem is not None else []
    problems += signature_faults(signed, keys)
    if not problems:
        msg = signed.checkpoint.signing_message()
        problems = [
            f"the signature of {dept!r} does not verify"
            for dept, sig in signed.signatures
            if not signed_by(suite, keys, dept, msg, sig)
        ]
    if problems:
        raise stored_fault(
            f"block {height}: checkpoint: {'; '.join(problems)}", "checkpoints", key, height
        )
    return signed


def check_located(
    h: Callable[[bytes], bytes],
    tx_id: bytes,
    height: Height,
    index: int,
    entry: bytes,
    log_index: int,
) -> None:
    """Check that the log entry a ``txindex`` record points to (already checked against the
    log's leaf, so parsed without the canonical-value walk) is that transaction's, at that
    height and index in its block. Raises ``IntegrityError`` naming the ``txindex`` record."""
    try:
        parsed = decode_unchecked(entry)
        found = h(canonical_unchecked(parsed["tx"]["body"]))
        at = (parsed["height"], parsed["index"])
    except (GovchainError, KeyError, TypeError) as exc:
        message = exc.message if isinstance(exc, GovchainError) else repr(exc)
        raise stored_fault(
            f"block {height}: log entry {log_index} is corrupt ({message})",
            "entries",
            log_index.to_bytes(8, "big"),
            height,
        ) from None
    if (*at, found) != (height, index, tx_id):
        raise stored_fault(
            f"the index of transaction {tx_id.hex()} points to log entry {log_index} (block "
            f"{height}, index {index}), which holds transaction {found.hex()} of block "
            f"{at[0]}, index {at[1]}",
            "txindex",
            tx_id,
            at[0] if found == tx_id else height,
        )
