"""Hash-chained blocks: the header that commits to a block's transactions and their results.

A block's transactions and receipts are stored as log entries (``ledger.receipts``); the header
commits to them through ``tx_root`` (the order of transaction ids, fixed before execution) and
through ``log_root``/``log_size`` and ``state_root`` (the results, after execution).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.errors import IntegrityError, SchemaViolation
from govchain.ledger import merkle
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.types import DeptId, Hash32, Height

BLOCK_DOMAIN = b"govchain/block/v1\x00"
"""Prefix of every signed block-header message."""


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The header of one block."""

    chain: str
    """Chain id."""
    height: Height
    """Height of this block (the first block is 1)."""
    prev_hash: Hash32
    """Hash of the previous header; for height 1 the genesis hash."""
    timestamp_ms: int
    """Proposer's clock when the block was cut (milliseconds since the Unix epoch)."""
    proposer: DeptId
    """Department whose node proposed (and signed) the block."""
    tx_count: int
    """Number of transactions in the block."""
    tx_root: Hash32
    """RFC 6962 Merkle root whose leaf hashes are the block's transaction ids, in order."""
    state_root: Hash32
    """State root after executing the block."""
    log_size: int
    """Size of the transaction log after the block."""
    log_root: Hash32
    """Root of the transaction log after the block."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (hashes in hex)."""
        return {
            "chain": self.chain,
            "height": self.height,
            "prev_hash": self.prev_hash.hex(),
            "timestamp_ms": self.timestamp_ms,
            "proposer": self.proposer,
            "tx_count": self.tx_count,
            "tx_root": self.tx_root.hex(),
            "state_root": self.state_root.hex(),
            "log_size": self.log_size,
            "log_root": self.log_root.hex(),
        }

    @staticmethod
    def from_json(obj: Any) -> BlockHeader:
        """Parse the JSON form (``SchemaViolation`` on any defect)."""
        try:
            return BlockHeader(
                chain=_typed(obj["chain"], str),
                height=_typed(obj["height"], int),
                prev_hash=Hash32(bytes.fromhex(_typed(obj["prev_hash"], str))),
                timestamp_ms=_typed(obj["timestamp_ms"], int),
                proposer=_typed(obj["proposer"], str),
                tx_count=_typed(obj["tx_count"], int),
                tx_root=Hash32(bytes.fromhex(_typed(obj["tx_root"], str))),
                state_root=Hash32(bytes.fromhex(_typed(obj["state_root"], str))),
                log_size=_typed(obj["log_size"], int),
                log_root=Hash32(bytes.fromhex(_typed(obj["log_root"], str))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaViolation(f"malformed block header: {exc!r}") from None

    def canonical(self) -> bytes:
        """Return the canonical bytes of the header."""
        return canonical_unchecked(self.to_json())

    def hash(self, h: Callable[[bytes], bytes]) -> Hash32:
        """Return the block hash: the network hash of the canonical header."""
        return Hash32(h(self.canonical()))

    def signing_message(self) -> bytes:
        """Return the bytes the proposer signs."""
        return BLOCK_DOMAIN + self.canonical()

    @property
    def first_log_index(self) -> int:
        """Log index of the block's first transaction."""
        return self.log_size - self.tx_count


def _typed(value: Any, typ: type) -> Any:
    if type(value) is not typ:
        raise TypeError(f"expected {typ.__name__}, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class SignedHeader:
    """A block header with its proposer's signature."""

    header: BlockHeader
    """The header."""
    signature: bytes
    """Proposer's node-key signature of ``header.signing_message()``."""

    def encode(self) -> bytes:
        """Return the stored form."""
        return canonical_unchecked(
            {"header": self.header.to_json(), "signature": self.signature.hex()}
        )

    @staticmethod
    def decode(data: bytes) -> SignedHeader:
        """Parse the stored form (``IntegrityError`` if it is not a valid record)."""
        try:
            obj = decode(data)
            return SignedHeader(
                header=BlockHeader.from_json(obj["header"]),
                signature=bytes.fromhex(obj["signature"]),
            )
        except Exception as exc:
            raise IntegrityError(f"stored block header is corrupt: {exc}") from None


def tx_root(h: Callable[[bytes], bytes], tx_ids: Sequence[bytes]) -> Hash32:
    """Return the RFC 6962 root of the tree whose leaf hashes are the transaction ids.

    An id is already the hash of canonical JSON (which starts with ``{``), so it cannot collide
    with an interior node's ``0x01``-prefixed input; hashing it again would add nothing."""
    return Hash32(merkle.root_of(h, tx_ids))


def height_key(height: Height) -> bytes:
    """Return the storage key of a height (8-byte big-endian, so keys sort by height)."""
    return height.to_bytes(8, "big")
