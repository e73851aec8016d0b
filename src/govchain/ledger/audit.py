"""Auditing a node's stored chain.

* ``verify_chain`` re-verifies everything from genesis: every header's link and proposer
  signature, every transaction's signature, and — by re-executing each block into a scratch
  ledger — its transaction root, log entries, log root and state root; then every table of the
  audited store against the replayed one (``store_audit.py``). It names each record at fault by
  table, key and block.
* ``check_integrity`` is the fast check a node runs before it starts: header chain and
  signatures, every stored log entry against the log's leaf hashes, each header's log root, and
  the state root. A node refuses to start when it fails.
"""

from __future__ import annotations

from govchain.errors import IntegrityError
from govchain.ledger.blocks import SignedHeader, height_key
from govchain.ledger.chain import Ledger
from govchain.ledger.integrity import decode_header, signed_by
from govchain.ledger.store_audit import AuditReport, Fault, Progress, audit_store
from govchain.types import Height

__all__ = ["AuditReport", "Fault", "Progress", "check_integrity", "verify_chain"]


def _load_block(ledger: Ledger, height: Height) -> tuple[SignedHeader, list[bytes]]:
    key = height_key(height)
    raw = ledger.store.get("blocks", key)
    if raw is None:
        raise IntegrityError(
            f"block {height} is missing", table="blocks", key=key.hex(), height=height
        )
    signed = decode_header(raw, height)
    hd = signed.header
    # The entries as stored: this check compares them with the log itself.
    entries = [
        v
        for _, v in ledger.store.scan(
            "entries", hd.first_log_index.to_bytes(8, "big"), hd.log_size.to_bytes(8, "big")
        )
    ]
    if len(entries) != signed.header.tx_count:
        raise IntegrityError(
            f"block {height}: {len(entries)} log entries stored, header counts "
            f"{signed.header.tx_count}",
            table="entries",
            key=hd.first_log_index.to_bytes(8, "big").hex(),
            height=height,
        )
    return signed, entries


def verify_chain(audited: Ledger, scratch: Ledger, progress: Progress | None = None) -> AuditReport:
    """Re-verify ``audited`` from genesis by replaying it into the empty ``scratch`` ledger
    (same genesis, its own store), then check every table of its store against the replayed
    chain (``store_audit.audit_store``)."""
    return audit_store(audited.store, scratch, progress)


def check_integrity(ledger: Ledger, progress: Progress | None = None) -> int:
    """Fast startup check of stored data; return the number of entries checked or raise
    ``IntegrityError`` naming the first bad block."""
    h = ledger.h
    prev = ledger.genesis_hash
    # Every department that was ever a member (one that left keeps its earlier blocks valid).
    keys = ledger.department_keys()
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
        if not signed_by(suite, keys, hd.proposer, hd.signing_message(), signed.signature):
            raise IntegrityError(
                f"block {height}: proposer signature does not verify",
                table="blocks",
                key=height_key(height).hex(),
                height=height,
            )
        first = hd.first_log_index
        leaves = log.leaf_hashes(first, hd.log_size)
        for i, (e, leaf) in enumerate(zip(entries, leaves, strict=True)):
            if h(b"\x00" + e) != leaf:
                fault = ledger.entry_fault(first + i)
                raise IntegrityError(
                    f"block {height}: log entry {i} (log index {first + i}) does not match the "
                    "transaction log",
                    **fault.fields,
                )
        if log.root_at(hd.log_size) != hd.log_root:
            raise log.fault(
                f"the log root in the header of block {height}", hd.log_size, hd.log_root
            )
        prev = hd.hash(h)
        checked += len(entries)
        last_state_root = hd.state_root
        if progress is not None:
            progress(height, top)
    if last_state_root is not None and ledger.state.root != last_state_root:
        raise IntegrityError(
            f"block {top}: stored state root {ledger.state.root.hex()} does not match the "
            f"header's {last_state_root.hex()} (a state bucket is corrupt: `govchain verify` "
            "names it)",
            table="buckets",
            height=top,
        )
    if top and log.size != ledger.header(top).header.log_size:
        raise IntegrityError(f"block {top}: log size does not match the head", height=top)
    return checked
