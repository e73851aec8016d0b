"""The storage port: a small ordered key/value store with named tables and atomic batches.

Every ledger write of one block (the block, its receipts, state changes and log entries) goes
into one ``WriteBatch`` and is committed by one ``KVStore.commit`` call, which returns only after
the batch is durable. Readers never see half a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

TABLES: tuple[str, ...] = (
    "meta",  # node metadata: chain id, head height, log size ...
    "blocks",  # height (8-byte big-endian) -> encoded block header + signature
    "entries",  # log index (8-byte big-endian) -> log entry (transaction + receipt)
    "txindex",  # tx id -> location (height, index in block, log index)
    "log",  # Merkle log hash tiles
    "state",  # current world state: key -> encoded versioned value
    "history",  # height + write index (append-only) -> a state version, chained to the previous
    "buckets",  # state bucket contents for the state root
    "checkpoints",  # height (8-byte big-endian) -> signed checkpoint
    "extra",  # room for later subsystems (contracts, identity, sharing)
)
"""Names of the tables every backend provides."""


@dataclass(slots=True)
class WriteBatch:
    """Puts and deletes to apply atomically; ``None`` as a value means delete."""

    ops: dict[str, dict[bytes, bytes | None]] = field(default_factory=dict)
    """Per table, key -> new value (or ``None`` to delete). Later puts replace earlier ones."""

    def put(self, table: str, key: bytes, value: bytes) -> None:
        """Stage ``key = value`` in ``table``."""
        self.ops.setdefault(table, {})[key] = value

    def delete(self, table: str, key: bytes) -> None:
        """Stage deletion of ``key`` from ``table``."""
        self.ops.setdefault(table, {})[key] = None

    def staged(self, table: str, key: bytes) -> tuple[bool, bytes | None]:
        """Return ``(True, value)`` if ``key`` is staged (value ``None`` = delete), else
        ``(False, None)``."""
        t = self.ops.get(table)
        if t is None or key not in t:
            return False, None
        return True, t[key]

    def __len__(self) -> int:
        return sum(len(t) for t in self.ops.values())


class KVStore(Protocol):
    """An ordered key/value store with the tables of ``TABLES``."""

    def get(self, table: str, key: bytes) -> bytes | None:
        """Return the committed value of ``key`` in ``table``, or ``None``."""
        ...

    def scan(
        self,
        table: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` with ``start <= key < end`` in key order."""
        ...

    def commit(self, batch: WriteBatch) -> None:
        """Apply ``batch`` atomically; return only once it is durable."""
        ...

    def close(self) -> None:
        """Release the store; further calls are errors."""
        ...
