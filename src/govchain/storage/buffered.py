"""A ``KVStore`` over another one that can hold a run of commits in memory and write them to
the inner store as one batch.

Outside ``deferred()`` every call goes straight to the inner store. Inside it, ``commit``
merges the batch into an in-memory overlay (later puts and deletes of a key replace earlier
ones) and every read sees the overlay over the inner store, so the ledger above behaves exactly
as if each block were committed; ``flush`` (at the latest when ``deferred()`` ends, also on an
exception) writes the whole overlay in **one** inner commit, atomically and durably.

What it is for: a node catching up applies blocks that are already durable at a quorum of
other departments and acknowledges nothing to anyone while it does, so it may make many blocks
durable with one LMDB transaction (two fsyncs) instead of one each. A crash in between loses
only blocks it had not yet written and fetches them again; the inner store holds a consistent
prefix of the chain at every moment (each flush is one transaction).

Threads: one writer (``commit``, ``flush``); readers on other threads (a peer fetching blocks,
the health endpoint) see the overlay too, read under the same lock the writer merges under.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
from collections.abc import Iterator, Sequence

from govchain.storage.base import KVStore, WriteBatch

_ABSENT = object()


class BufferedStore:
    """A ``KVStore`` that can defer commits (``deferred``) and write them together."""

    def __init__(self, inner: KVStore) -> None:
        self.inner = inner
        """The store every flush writes to."""
        self._overlay: dict[str, dict[bytes, bytes | None]] = {}
        self._deferring = 0
        self._lock = threading.Lock()
        self.flushes = 0
        """Number of inner commits ``flush`` made (for tests and benchmarks)."""
        self.commits = 0
        """Number of commits (each one block or checkpoint update) made through this store."""
        inner_many = getattr(inner, "get_many", None)
        self._inner_many = inner_many if callable(inner_many) else None

    # --- reads ----------------------------------------------------------------------------

    def get(self, table: str, key: bytes) -> bytes | None:
        """Return the value of ``key`` in ``table`` (overlay first), or ``None``."""
        overlay = self._overlay
        if overlay:
            t = overlay.get(table)
            if t is not None:
                v = t.get(key, _ABSENT)
                if v is not _ABSENT:
                    return v  # type: ignore[return-value]
        return self.inner.get(table, key)

    def get_many(self, table: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """Return the values of ``keys`` in ``table`` (``None`` where absent)."""
        t = self._overlay.get(table) if self._overlay else None
        if not t:
            return self._read_many(table, keys)
        out: list[bytes | None] = []
        missing: list[int] = []
        for i, k in enumerate(keys):
            v = t.get(k, _ABSENT)
            if v is _ABSENT:
                missing.append(i)
                out.append(None)
            else:
                out.append(v)  # type: ignore[arg-type]
        if missing:
            found = self._read_many(table, [keys[i] for i in missing])
            for i, v in zip(missing, found, strict=True):
                out[i] = v
        return out

    def _read_many(self, table: str, keys: Sequence[bytes]) -> list[bytes | None]:
        if self._inner_many is not None:
            result: list[bytes | None] = self._inner_many(table, keys)
            return result
        return [self.inner.get(table, k) for k in keys]

    def scan(
        self,
        table: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Iterate ``(key, value)`` with ``start <= key < end`` in key order, overlay merged
        over the inner store (the overlay's part is a snapshot taken now)."""
        with self._lock:
            t = self._overlay.get(table)
            mine = (
                sorted((k, v) for k, v in t.items() if k >= start and (end is None or k < end))
                if t
                else []
            )
        inner = self.inner.scan(table, start, end, reverse=reverse)
        if not mine:
            return inner
        if reverse:
            mine.reverse()
        return _merge(mine, inner, reverse)

    # --- writes ---------------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> None:
        """Write ``batch`` durably now, or, inside ``deferred()``, into the overlay."""
        self.commits += 1
        if not self._deferring:
            self.inner.commit(batch)
            return
        with self._lock:
            overlay = self._overlay
            for table, ops in batch.ops.items():
                t = overlay.get(table)
                if t is None:
                    overlay[table] = dict(ops)
                else:
                    t.update(ops)

    def pending(self) -> int:
        """Return the number of keys the overlay holds (0: everything is in the inner store)."""
        return sum(len(t) for t in self._overlay.values())

    def flush(self) -> None:
        """Write the overlay to the inner store in one commit (durable when this returns)."""
        if not self._overlay:
            return
        with self._lock:
            batch = WriteBatch({table: dict(ops) for table, ops in self._overlay.items()})
        self.inner.commit(batch)
        with self._lock:
            # Readers see the overlay until the inner store holds the same values.
            self._overlay = {}
        self.flushes += 1

    @contextlib.contextmanager
    def deferred(self) -> Iterator[BufferedStore]:
        """Defer commits until the block ends (or ``flush``); everything is flushed at the end,
        also when the block raises (what was committed so far was complete and valid)."""
        self._deferring += 1
        try:
            yield self
        finally:
            self._deferring -= 1
            if not self._deferring:
                self.flush()

    def close(self) -> None:
        """Flush, then close the inner store."""
        try:
            self.flush()
        finally:
            self.inner.close()


def _merge(
    mine: list[tuple[bytes, bytes | None]],
    inner: Iterator[tuple[bytes, bytes]],
    reverse: bool,
) -> Iterator[tuple[bytes, bytes]]:
    """Merge sorted overlay items (``None``: deleted) over sorted inner items."""
    # Overlay items sort before inner items of the same key (rank 0), so they win.
    tagged_mine = ((k, 0, v) for k, v in mine)
    tagged_inner = ((k, 1, v) for k, v in inner)
    if reverse:
        merged = heapq.merge(tagged_mine, tagged_inner, key=lambda x: (x[0], -x[1]), reverse=True)
    else:
        merged = heapq.merge(tagged_mine, tagged_inner, key=lambda x: (x[0], x[1]))
    last: bytes | None = None
    for k, _, v in merged:
        if k == last:
            continue
        last = k
        if v is not None:
            yield k, v
