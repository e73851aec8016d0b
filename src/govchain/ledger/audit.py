"""Auditing a node's stored chain.

* ``verify_chain`` re-verifies everything from genesis: every header's link and proposer
  signature, every transaction's signature, and — by re-executing each block into a scratch
  ledger — its transaction root, log entries, log root and state root; finally the audited
  node's current state against the recomputed one. It names the first bad block.
* ``check_integrity`` is the fast check a node runs before it starts: header chain and
  signatures, every stored log entry against the log's leaf hashes, each header's log root, and
  the state root. A node refuses to start when it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from govchain.errors import GovchainError, IntegrityError
from govchain.ledger.blocks import SignedHeader, height_key
from govchain.ledger.chain import Ledger
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction, parse_envelope
from govchain.types import Height

Progress = Callable[[int, int], None]
"""``progress(done, total)`` callback, called after each block."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Outcome of an audit."""

    ok: bool
    """Whether every check passed."""
    height: Height
    """Height of the audited chain's head."""
    transactions: int
    """Number of transactions checked."""
    bad_height: Height | None
    """First bad block, if any."""
    error: str | None
    """What was wrong, if anything."""


def _load_block(ledger: Ledger, height: Height) -> tuple[SignedHeader, list[bytes]]:
    raw = ledger.store.get("blocks", height_key(height))
    if raw is None:
        raise IntegrityError(f"block {height} is missing", height=height)
    try:
        signed = SignedHeader.decode(raw)
    except IntegrityError as exc:
        raise IntegrityError(f"block {height}: {exc.message}", height=height) from None
    entries = ledger.entries_of(signed.header)
    if len(entries) != signed.header.tx_count:
        raise IntegrityError(
            f"block {height}: {len(entries)} log entries stored, header counts "
            f"{signed.header.tx_count}",
            height=height,
        )
    return signed, entries


def _parse_entries(
    height: Height, entries: list[bytes], h: Callable[[bytes], bytes]
) -> list[Transaction]:
    txs: list[Transaction] = []
    for i, e in enumerate(entries):
        try:
            entry = LogEntry.decode(e)
            txs.append(parse_envelope(entry.tx, h))
        except GovchainError as exc:
            raise IntegrityError(
                f"block {height}: log entry {i} is corrupt ({exc.message})", height=height
            ) from None
    return txs


def verify_chain(audited: Ledger, scratch: Ledger, progress: Progress | None = None) -> AuditReport:
    """Re-verify ``audited`` from genesis by replaying it into the empty ``scratch`` ledger
    (same genesis, its own store)."""
    if scratch.height != 0:
        raise ValueError("scratch ledger must be empty")
    top = audited.height
    suite = audited.suite
    count = 0
    height = 0
    try:
        for height in range(1, top + 1):
            signed, entries = _load_block(audited, height)
            txs = _parse_entries(height, entries, suite.hash)
            scratch.apply_block(signed, txs, expected_entries=entries)
            count += len(txs)
            if progress is not None:
                progress(height, top)
        height = top
        if audited.state.root != scratch.state.root:
            raise IntegrityError(
                f"stored state root {audited.state.root.hex()} differs from the recomputed "
                f"{scratch.state.root.hex()}",
                height=top,
            )
        mine = audited.store.scan("state")
        theirs = scratch.store.scan("state")
        for (k1, v1), (k2, v2) in zip(mine, theirs, strict=False):
            if k1 != k2 or v1 != v2:
                raise IntegrityError(
                    f"stored state differs from the recomputed state at key {k1!r}", height=top
                )
    except IntegrityError as exc:
        bad_h = exc.fields.get("height", height)
        return AuditReport(False, top, count, bad_h, exc.message)
    return AuditReport(True, top, count, None, None)


def check_integrity(ledger: Ledger, progress: Progress | None = None) -> int:
    """Fast startup check of stored data; return the number of entries checked or raise
    ``IntegrityError`` naming the first bad block."""
    h = ledger.h
    prev = ledger.genesis_hash
    # Genesis departments and those that joined since (a department that left keeps its
    # earlier blocks valid).
    keys = {d.id: d.node_key for d in ledger.genesis.departments} | ledger.membership().keys()
    suite = ledger.suite
    log = ledger.log
    top = ledger.height
    checked = 0
    last_state_root = None
    for height in range(1, top + 1):
        signed, entries = _load_block(ledger, height)
        hd = signed.header
        if hd.height != height or hd.prev_hash != prev:
            raise IntegrityError(
                f"block {height}: header does not link to its parent", height=height
            )
        key = keys.get(hd.proposer)
        if key is None or not suite.verify(key, hd.signing_message(), signed.signature):
            raise IntegrityError(
                f"block {height}: proposer signature does not verify", height=height
            )
        first = hd.first_log_index
        for i, e in enumerate(entries):
            if h(b"\x00" + e) != log.leaf_hash_at(first + i):
                raise IntegrityError(
                    f"block {height}: log entry {i} (log index {first + i}) does not match the "
                    "transaction log",
                    height=height,
                )
        if log.root_at(hd.log_size) != hd.log_root:
            raise IntegrityError(
                f"block {height}: log root does not match the header", height=height
            )
        prev = hd.hash(h)
        checked += len(entries)
        last_state_root = hd.state_root
        if progress is not None:
            progress(height, top)
    if last_state_root is not None and ledger.state.root != last_state_root:
        raise IntegrityError(
            f"block {top}: stored state root {ledger.state.root.hex()} does not match the "
            f"header's {last_state_root.hex()}",
            height=top,
        )
    if top and log.size != ledger.header(top).header.log_size:
        raise IntegrityError(f"block {top}: log size does not match the head", height=top)
    return checked
