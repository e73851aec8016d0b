"""Receipts: the outcome of each transaction, the log entry that commits to it, and the
self-contained receipt bundle a client keeps and verifies offline with only the genesis file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from govchain.errors import ProofError, SchemaViolation
from govchain.ledger import merkle
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.types import Height

STATUS_OK = "ok"
"""The call succeeded; its writes are in the state."""
STATUS_FAILED = "failed"
"""The call raised; only this transaction was rolled back."""
STATUS_REJECTED = "rejected"
"""The transaction was invalid at execution (e.g. replayed nonce); it changed nothing."""
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_REJECTED)

BUNDLE_FORMAT = "govchain-receipt/1"
"""``format`` field of a receipt bundle file."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one transaction."""

    status: str
    """One of ``STATUSES``."""
    result: Any = None
    """Return value of the call (canonical JSON), ``None`` when it failed."""
    events: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Events emitted by the call, each ``{"type": str, "data": object}``."""
    error: dict[str, Any] | None = None
    """``{"code": str, "message": str}`` when the status is not ok."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "status": self.status,
            "result": self.result,
            "events": list(self.events),
            "error": self.error,
        }

    @staticmethod
    def from_json(obj: Any) -> Receipt:
        """Parse the JSON form."""
        if type(obj) is not dict or obj.get("status") not in STATUSES:
            raise SchemaViolation("malformed receipt")
        events = obj.get("events")
        if type(events) is not list:
            raise SchemaViolation("malformed receipt: events must be a list")
        error = obj.get("error")
        if error is not None and type(error) is not dict:
            raise SchemaViolation("malformed receipt: error must be an object or null")
        return Receipt(
            status=obj["status"], result=obj.get("result"), events=tuple(events), error=error
        )


def entry_bytes(height: Height, index: int, tx_envelope: Any, receipt: Receipt) -> bytes:
    """Return a log entry: the leaf data that commits to a transaction and its outcome."""
    return canonical_unchecked(
        {"height": height, "index": index, "tx": tx_envelope, "receipt": receipt.to_json()}
    )


def tx_entry_bytes(
    height: Height, index: int, body_bytes: bytes, signature: bytes, receipt_json: bytes
) -> bytes:
    """Return the same bytes as ``entry_bytes`` for a transaction whose canonical body is
    already encoded: the body is spliced in rather than decoded and re-encoded (this runs for
    every committed transaction). ``receipt_json`` is the receipt's canonical encoding. Keys
    are in canonical order: height, index, receipt, tx."""
    return b'{"height":%d,"index":%d,"receipt":%b,"tx":{"body":%b,"signature":"%b"}}' % (
        height,
        index,
        receipt_json,
        body_bytes,
        signature.hex().encode(),
    )


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A decoded log entry."""

    height: Height
    """Block height of the transaction."""
    index: int
    """Index of the transaction inside its block."""
    tx: dict[str, Any]
    """The transaction envelope."""
    receipt: Receipt
    """Its outcome."""

    @staticmethod
    def decode(data: bytes) -> LogEntry:
        """Parse stored or received entry bytes."""
        obj = decode(data)
        if type(obj) is not dict or set(obj) != {"height", "index", "tx", "receipt"}:
            raise SchemaViolation("malformed log entry")
        if type(obj["height"]) is not int or type(obj["index"]) is not int:
            raise SchemaViolation("malformed log entry: height and index must be integers")
        if type(obj["tx"]) is not dict:
            raise SchemaViolation("malformed log entry: tx must be an object")
        return LogEntry(
            height=obj["height"],
            index=obj["index"],
            tx=obj["tx"],
            receipt=Receipt.from_json(obj["receipt"]),
        )

    def encode(self) -> bytes:
        """Return the canonical entry bytes (the log leaf data)."""
        return entry_bytes(self.height, self.index, self.tx, self.receipt)


def leaf_of(h: Callable[[bytes], bytes], entry: bytes) -> bytes:
    """Return the log leaf hash of entry bytes."""
    return merkle.leaf_hash(h, entry)


def hex_list(values: Sequence[bytes]) -> list[str]:
    """Return hex strings of byte strings (proof encoding in JSON)."""
    return [v.hex() for v in values]


def unhex_list(values: Any, what: str) -> list[bytes]:
    """Parse a JSON list of hex strings (``ProofError`` on any defect)."""
    if type(values) is not list:
        raise ProofError(f"{what} must be a list of hex strings")
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError):
        raise ProofError(f"{what} must be a list of hex strings") from None
