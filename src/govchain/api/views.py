"""Ledger records as JSON documents: what the read endpoints return.

Plain functions over the node; they know nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from govchain.errors import GovchainError, MalformedEncoding, NotFound, SchemaViolation
from govchain.ledger.chain import Ledger
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.ledger.receipts import LogEntry
from govchain.ledger.state import VersionedValue
from govchain.node.admission import Outcome
from govchain.node.node import Node


def parse_tx_id(text: str) -> bytes:
    """Parse a transaction id from hex (``SchemaViolation`` unless it is 32 bytes of hex)."""
    if len(text) != 64:
        raise SchemaViolation("tx_id must be 64 hex characters", field="tx_id")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise SchemaViolation("tx_id must be 64 hex characters", field="tx_id") from None


def parse_key(text: str, encoding: str) -> bytes:
    """Return the bytes of a state key given as UTF-8 text or as hex."""
    if encoding == "hex":
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise SchemaViolation("key is not valid hex", field="key") from None
    return text.encode()


def present_value(raw: bytes | None) -> tuple[Any, str | None]:
    """Return ``(value, encoding)``: decoded JSON if ``raw`` is canonical JSON (so a client can
    re-encode it to the exact bytes the proof commits to), else hex."""
    if raw is None:
        return None, None
    try:
        value = decode(raw)
    except MalformedEncoding:
        return raw.hex(), "hex"
    if canonical_unchecked(value) != raw:
        return raw.hex(), "hex"
    return value, "json"


# --- transactions -----------------------------------------------------------------------------


def committed_transaction(ledger: Ledger, tx_id: bytes, *, with_tx: bool) -> dict[str, Any]:
    """Return a committed transaction's location and receipt (``NotFound`` if not committed)."""
    loc = ledger.locate(tx_id)
    entry = LogEntry.decode(ledger.entry_bytes(loc.log_index))
    out: dict[str, Any] = {
        "tx_id": tx_id.hex(),
        "status": "committed",
        "height": loc.height,
        "index": loc.index,
        "log_index": loc.log_index,
        "receipt": entry.receipt.to_json(),
    }
    if with_tx:
        out["tx"] = entry.tx
    return out


def transaction_status(node: Node, tx_id: bytes) -> dict[str, Any]:
    """Return a transaction as committed or pending; ``NotFound`` if the node does not know it."""
    try:
        return committed_transaction(node.ledger, tx_id, with_tx=True)
    except NotFound:
        pass
    if node.is_pending(tx_id):
        return {"tx_id": tx_id.hex(), "status": "pending"}
    # It may have been committed (and left the pending set) since the first look.
    try:
        return committed_transaction(node.ledger, tx_id, with_tx=True)
    except NotFound:
        raise NotFound(f"transaction {tx_id.hex()} is unknown", tx_id=tx_id.hex()) from None


def batch_results(
    outcomes: Sequence[Outcome],
    status: str,
    describe: Callable[[GovchainError], dict[str, Any]],
) -> dict[str, Any]:
    """Return the per-item results of a batch submission in input order (``describe`` turns
    a rejection into its error document)."""
    results: list[dict[str, Any]] = []
    append = results.append
    rejected = 0
    for o in outcomes:
        if isinstance(o, GovchainError):
            rejected += 1
            append({"error": describe(o)})
        else:
            append({"tx_id": o.tx_id.hex(), "status": status})
    return {"accepted": len(outcomes) - rejected, "rejected": rejected, "results": results}


# --- blocks -----------------------------------------------------------------------------------


def block(ledger: Ledger, height: int, *, entries: bool) -> dict[str, Any]:
    """Return a block: header, proposer signature, hash, tx ids and optionally its entries."""
    signed = ledger.header(height)
    hd = signed.header
    h = ledger.h
    decoded = [orjson.loads(e) for e in ledger.entries_of(hd)]
    tx_ids = [h(canonical_unchecked(d["tx"]["body"])).hex() for d in decoded]
    out: dict[str, Any] = {
        "height": hd.height,
        "block_hash": hd.hash(h).hex(),
        "header": hd.to_json(),
        "signature": signed.signature.hex(),
        "tx_ids": tx_ids,
    }
    if entries:
        first = hd.first_log_index
        out["entries"] = [
            {"log_index": first + i, "tx_id": tid, "tx": d["tx"], "receipt": d["receipt"]}
            for i, (tid, d) in enumerate(zip(tx_ids, decoded, strict=True))
        ]
    return out


def latest_height(ledger: Ledger) -> int:
    """Return the head height (``NotFound`` before the first block)."""
    height = ledger.height
    if height == 0:
        raise NotFound("no block has been committed yet")
    return height


# --- state ------------------------------------------------------------------------------------


def _version(v: VersionedValue) -> dict[str, Any]:
    value, encoding = present_value(v.value)
    return {
        "version": v.version,
        "height": v.height,
        "tx_index": v.tx_index,
        "tx_id": v.tx_id.hex(),
        "exists": v.value is not None,
        "value": value,
        "value_encoding": encoding,
    }


def state(node: Node, key: bytes, key_text: str) -> dict[str, Any]:
    """Return a key's current value with its proof and the checkpoint it is proven against."""
    current, proof, cp = node.state_with_proof(key)
    value, encoding = present_value(None if current is None else current.value)
    return {
        "key": key_text,
        "key_hex": key.hex(),
        "exists": current is not None and current.value is not None,
        "value": value,
        "value_encoding": encoding,
        "version": None if current is None else current.version,
        "height": None if current is None else current.height,
        "tx_id": None if current is None else current.tx_id.hex(),
        "proof": proof.to_json(),
        "checkpoint": None if cp is None else cp.to_json(),
        "membership": [] if cp is None else node.membership_links(cp.checkpoint.height),
    }


def state_history(node: Node, key: bytes, key_text: str, limit: int) -> dict[str, Any]:
    """Return up to ``limit`` versions of a key, newest first."""
    versions = node.ledger.state.history(key, limit)
    return {"key": key_text, "key_hex": key.hex(), "versions": [_version(v) for v in versions]}


# --- log --------------------------------------------------------------------------------------


def consistency(node: Node, size1: int, size2: int | None) -> dict[str, Any]:
    """Return the consistency proof between two log sizes (default ``size2``: current)."""
    log = node.ledger.log
    to = log.size if size2 is None else size2
    proof = node.consistency_proof(size1, to)
    return {
        "from": size1,
        "to": to,
        "from_root": log.root_at(size1).hex(),
        "to_root": log.root_at(to).hex(),
        "proof": [p.hex() for p in proof],
    }


def inclusion(node: Node, index: int, size: int | None) -> dict[str, Any]:
    """Return the inclusion proof of leaf ``index`` in the log of ``size`` (default: current)."""
    log = node.ledger.log
    n = log.size if size is None else size
    proof = log.inclusion_proof(index, n)
    return {
        "index": index,
        "size": n,
        "leaf_hash": log.leaf_hash_at(index).hex(),
        "root": log.root_at(n).hex(),
        "proof": [p.hex() for p in proof],
    }
