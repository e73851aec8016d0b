"""In-memory ``KVStore`` for fast tests: the durable backends' semantics, minus durability."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator

from govchain.errors import Unavailable
from govchain.storage.base import TABLES, WriteBatch


class MemoryStore:
    """A ``KVStore`` kept in dictionaries; commits are atomic under a lock."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[bytes, bytes]] = {t: {} for t in TABLES}
        self._sorted: dict[str, list[bytes] | None] = {t: None for t in TABLES}
        self._lock = threading.Lock()
        self._closed = False

    def _table(self, table: str) -> dict[bytes, bytes]:
        if self._closed:
            raise Unavailable("store is closed")
        try:
            return self._tables[table]
        except KeyError:
            raise KeyError(f"unknown table {table!r}") from None

    def get(self, table: str, key: bytes) -> bytes | None:
        """Return the committed value of ``key`` in ``table``, or ``None``."""
        return self._table(table).get(key)

    def scan(
        self,
        table: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` with ``start <= key < end`` in key order."""
        with self._lock:
            data = self._table(table)
            keys = self._sorted[table]
            if keys is None:
                keys = sorted(data)
                self._sorted[table] = keys
            lo = bisect.bisect_left(keys, start)
            hi = len(keys) if end is None else bisect.bisect_left(keys, end)
            snapshot = [(k, data[k]) for k in keys[lo:hi]]
        if reverse:
            snapshot.reverse()
        return iter(snapshot)

    def commit(self, batch: WriteBatch) -> None:
        """Apply ``batch`` atomically."""
        with self._lock:
            for table in batch.ops:
                self._table(table)
            for table, ops in batch.ops.items():
                data = self._tables[table]
                for key, value in ops.items():
                    if value is None:
                        data.pop(key, None)
                    else:
                        data[key] = value
                self._sorted[table] = None

    def close(self) -> None:
        """Mark the store closed."""
        self._closed = True
