"""Durable identity records on the node's own store (table ``extra``, prefix ``identity/``).

Users' personal data (identity numbers, names, password hashes, TOTP keys) and the access log
stay on the department node that holds them and never go on the shared ledger; the ledger only
sees pseudonymous user ids in the ``actor`` field of transactions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import orjson

from govchain.storage.base import KVStore, WriteBatch

TABLE = "extra"
"""Storage table of the identity records."""
PREFIX = b"identity/"
"""Key prefix of every identity record."""


class RecordStore:
    """JSON records under ``identity/`` in a ``KVStore``; every write is durable when it
    returns (one ``commit`` per call)."""

    def __init__(self, store: KVStore) -> None:
        self._store = store
        self.lock = threading.RLock()
        """Serialises read-modify-write sequences of the identity services."""

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the record at ``key`` or ``None``."""
        raw = self._store.get(TABLE, PREFIX + key.encode())
        if raw is None:
            return None
        obj: dict[str, Any] = orjson.loads(raw)
        return obj

    def get_raw(self, key: str) -> bytes | None:
        """Return the stored bytes at ``key`` or ``None``."""
        return self._store.get(TABLE, PREFIX + key.encode())

    def write(self, puts: dict[str, Any], deletes: tuple[str, ...] = ()) -> None:
        """Write records (JSON values, or bytes as they are) and delete keys, atomically."""
        batch = WriteBatch()
        for key, value in puts.items():
            data = value if isinstance(value, bytes) else orjson.dumps(value)
            batch.put(TABLE, PREFIX + key.encode(), data)
        for key in deletes:
            batch.delete(TABLE, PREFIX + key.encode())
        self._store.commit(batch)

    def scan(self, prefix: str, *, reverse: bool = False) -> Iterator[tuple[str, bytes]]:
        """Iterate ``(key, raw value)`` of the records whose key starts with ``prefix``."""
        start = PREFIX + prefix.encode()
        end = start[:-1] + bytes([start[-1] + 1]) if start else None
        n = len(PREFIX)
        for k, v in self._store.scan(TABLE, start, end, reverse=reverse):
            yield k[n:].decode(), v
