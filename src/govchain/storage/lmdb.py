"""LMDB ``KVStore``: one environment per directory, one named sub-database per table.

Durability: the environment is opened with ``sync`` and ``metasync`` on and ``writemap`` off, so
``commit`` returns only after LMDB has flushed the batch's data pages and then the meta page that
makes them visible (a crash before the meta page lands leaves the previous state intact). One
batch is one write transaction, so readers and a restarted process see all of it or none of it.

Keys are 1 to ``MAX_KEY_SIZE`` bytes (LMDB's compiled-in limit); longer keys raise ``TooLarge``.

Threads: the environment is shared, transactions are not. Every ``get`` and every chunk of a
``scan`` runs in its own short read transaction, so an abandoned scan iterator pins nothing. The
cost is that a scan longer than ``scan_chunk`` items is a snapshot per chunk, not as a whole.

Map size: LMDB needs a fixed upper bound on the file size (it only reserves address space).
Before each commit the bound is doubled as often as needed to leave room for the batch; a commit
that still hits it (``MapFullError``) is aborted, the bound doubled and the whole batch retried.
python-lmdb invalidates every open transaction of the process when the map is resized, and
aborts a write transaction only when no other operation is in flight, so readers hold a shared
guard that resizes and write aborts take exclusively.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from typing import cast

import lmdb

from govchain.errors import Forbidden, IntegrityError, NotFound, TooLarge, Unavailable
from govchain.storage.base import TABLES, WriteBatch

MAX_KEY_SIZE = 511
"""Longest key LMDB accepts (its default ``MDB_MAXKEYSIZE``)."""

DEFAULT_MAP_SIZE = 1 << 30
"""Initial map size in bytes; it only reserves address space, the file grows as used."""


class _ResizeGuard:
    """Many transactions at once, or one map resize (LMDB forbids resizing under them)."""

    __slots__ = ("_cond", "_lock", "_readers", "_resizing")

    def __init__(self) -> None:
        # The fast paths use the bare lock (C calls); the condition is for the rare waits.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._readers = 0
        self._resizing = False

    def acquire_shared(self) -> None:
        self._lock.acquire()
        try:
            while self._resizing:
                self._cond.wait()
            self._readers += 1
        finally:
            self._lock.release()

    def release_shared(self) -> None:
        self._lock.acquire()
        try:
            self._readers -= 1
            if self._resizing and not self._readers:
                self._cond.notify_all()
        finally:
            self._lock.release()

    def acquire_exclusive(self) -> None:
        with self._cond:
            while self._resizing:
                self._cond.wait()
            # Claim first so that no new reader enters while the current ones drain.
            self._resizing = True
            while self._readers:
                self._cond.wait()

    def release_exclusive(self) -> None:
        with self._cond:
            self._resizing = False
            self._cond.notify_all()


class LmdbStore:
    """A durable ``KVStore`` in one LMDB environment (a directory)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        map_size: int = DEFAULT_MAP_SIZE,
        scan_chunk: int = 1024,
    ) -> None:
        """Open (or, unless ``readonly``, create) the store in directory ``path``.

        ``readonly`` is for offline tools: it may run beside a live node and never writes.
        ``scan_chunk`` is how many items one read transaction of ``scan`` materialises.
        """
        if scan_chunk < 1:
            raise ValueError("scan_chunk must be positive")
        self._path = os.fspath(path)
        self._readonly = readonly
        self._chunk = scan_chunk
        self._guard = _ResizeGuard()
        self._write_lock = threading.Lock()
        self._closed = False
        if readonly and not os.path.isdir(self._path):
            raise NotFound(f"no store at {self._path}", path=self._path)
        self._env = lmdb.Environment(
            self._path,
            map_size=map_size,
            subdir=True,
            readonly=readonly,
            create=not readonly,
            sync=True,
            metasync=True,
            # writemap would expose the file to stray writes through the map (LMDB's own
            # caveat) and its msync ordering is not what the kill -9 test exercises: off.
            writemap=False,
            max_dbs=len(TABLES) + 8,
            max_readers=512,
            lock=True,
            # The node reads state and buckets at random: readahead would pull neighbouring
            # pages into the map (and into RSS) that are never used.
            readahead=False,
        )
        self._max_key = self._env.max_key_size()
        self._page_size = self._env.stat()["psize"]
        try:
            if readonly:
                self._dbs = {t: self._env.open_db(t.encode(), create=False) for t in TABLES}
            else:
                with self._env.begin(write=True) as txn:
                    self._dbs = {t: self._env.open_db(t.encode(), txn=txn) for t in TABLES}
        except lmdb.NotFoundError:
            self._env.close()
            raise IntegrityError(
                f"{self._path} is not a govchain store (a table is missing)", path=self._path
            ) from None

    # --- helpers --------------------------------------------------------------------------

    def _db(self, table: str) -> lmdb._Database:
        if self._closed:
            raise Unavailable("store is closed")
        try:
            return self._dbs[table]
        except KeyError:
            raise KeyError(f"unknown table {table!r}") from None

    def _begin_read(self) -> lmdb.Transaction[bytes]:
        """Begin a read transaction; the caller holds the shared guard."""
        while True:
            try:
                return self._env.begin()
            except lmdb.MapResizedError:
                # Another process grew the map beyond ours: adopt its size, then retry.
                self._guard.release_shared()
                try:
                    self._adopt_map_size(0)
                finally:
                    self._guard.acquire_shared()

    def _adopt_map_size(self, size: int) -> None:
        self._guard.acquire_exclusive()
        try:
            if self._closed:
                raise Unavailable("store is closed")
            self._env.set_mapsize(size)
        finally:
            self._guard.release_exclusive()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[lmdb.Transaction[bytes]]:
        """A read transaction under the shared guard (no map resize while it is open)."""
        self._guard.acquire_shared()
        try:
            if self._closed:
                raise Unavailable("store is closed")
            txn = self._begin_read()
            try:
                yield txn
            finally:
                txn.abort()
        finally:
            self._guard.release_shared()

    # --- KVStore --------------------------------------------------------------------------

    def get(self, table: str, key: bytes) -> bytes | None:
        """Return the committed value of ``key`` in ``table``, or ``None``."""
        db = self._db(table)
        if not key or len(key) > self._max_key:
            return None  # no such key can have been stored
        with self._reading() as txn:
            return txn.get(key, db=db)

    def get_many(self, table: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """Return the committed values of ``keys`` in ``table`` (``None`` where absent), read
        in one transaction: a consistent snapshot, and much cheaper per key than ``get``."""
        db = self._db(table)
        mx = self._max_key
        with self._reading() as txn:
            get = txn.get
            return [get(k, None, db) if 0 < len(k) <= mx else None for k in keys]

    def scan(
        self,
        table: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Iterate committed ``(key, value)`` with ``start <= key < end`` in key order.

        Items are read ``scan_chunk`` at a time, each chunk in its own read transaction.
        """
        db = self._db(table)  # fail now, not at the first next()
        return self._scan(db, start, end, reverse)

    def _scan(
        self, db: lmdb._Database, start: bytes, end: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        lo, hi, after = start, end, False
        while True:
            chunk = self._read_chunk(db, lo, hi, reverse, after)
            yield from chunk
            if len(chunk) < self._chunk:
                return
            # Resume just past the last key yielded, in a fresh transaction.
            if reverse:
                hi = chunk[-1][0]
            else:
                lo, after = chunk[-1][0], True

    def _read_chunk(
        self, db: lmdb._Database, start: bytes, end: bytes | None, reverse: bool, after: bool
    ) -> list[tuple[bytes, bytes]]:
        """Read up to ``scan_chunk`` items of ``[start, end)`` in one read transaction
        (``(start, end)`` if ``after``)."""
        out: list[tuple[bytes, bytes]] = []
        limit = self._chunk
        with self._reading() as txn:
            cur = txn.cursor(db)
            if reverse:
                if not self._seek_last_below(cur, end):
                    return out
                for k, v in cur.iterprev():
                    if k < start or len(out) >= limit:
                        break
                    out.append((k, v))
                return out
            # Stored keys are never longer than the limit, so a longer start only needs
            # its head for positioning (and the comparison below for the rest).
            if not (cur.set_range(start[: self._max_key]) if start else cur.first()):
                return out
            for k, v in cur.iternext():
                if end is not None and k >= end:
                    break
                if k < start or (after and k == start):
                    continue
                out.append((k, v))
                if len(out) >= limit:
                    break
            return out

    def _seek_last_below(self, cur: lmdb.Cursor[bytes], end: bytes | None) -> bool:
        """Position ``cur`` on the last key ``< end`` (any key if ``end`` is None)."""
        if end is None:
            return cur.last()
        if not end:
            return False
        if not cur.set_range(end[: self._max_key]):
            return cur.last()
        # Only a truncated probe can land on a key below ``end`` (the probe itself).
        return True if cur.key() < end else cur.prev()

    def commit(self, batch: WriteBatch) -> None:
        """Apply ``batch`` in one write transaction; return once it is durable.

        Raises ``KeyError`` for an unknown table and ``TooLarge`` for an empty or over-long key;
        in both cases nothing of the batch is applied.
        """
        if self._readonly:
            raise Forbidden("store was opened read-only", path=self._path)
        plan = []
        n_bytes = 0
        for table, ops in batch.ops.items():
            db = self._db(table)
            if not ops:
                continue
            key_lengths = list(map(len, ops))
            if min(key_lengths) == 0 or max(key_lengths) > self._max_key:
                raise TooLarge(
                    f"keys must be 1 to {self._max_key} bytes (table {table!r})",
                    limit=self._max_key,
                    table=table,
                )
            items = sorted(ops.items())
            if None in ops.values():
                puts = [(k, v) for k, v in items if v is not None]
                deletes = [k for k, v in items if v is None]
            else:  # the common case: one pass fewer over every op of the block
                puts, deletes = cast(list[tuple[bytes, bytes]], items), []
            plan.append((db, puts, deletes))
            n_bytes += sum(key_lengths) + sum([len(v) for _, v in puts])
        n_ops = len(batch)
        with self._write_lock:
            while True:
                if self._closed:
                    raise Unavailable("store is closed")
                self._ensure_headroom(n_ops, n_bytes)
                try:
                    txn = self._env.begin(write=True)
                except lmdb.MapResizedError:
                    self._adopt_map_size(0)
                    continue
                try:
                    for db, puts, deletes in plan:
                        self._apply(txn, db, puts, deletes)
                except BaseException as e:
                    self._abort_write(txn, grow=isinstance(e, lmdb.MapFullError))
                    if isinstance(e, lmdb.MapFullError):
                        continue  # retry the whole batch in the larger map
                    raise
                try:
                    txn.commit()
                except lmdb.MapFullError:
                    # LMDB has already discarded the transaction.
                    self._adopt_map_size(self._env.info()["map_size"] * 2)
                    continue
                return

    def _abort_write(self, txn: lmdb.Transaction[bytes], *, grow: bool) -> None:
        """Abort a write transaction, then double the map if ``grow``.

        python-lmdb 3.0 aborts a write transaction only once no other operation is in flight,
        which never happens while two threads keep reading: drain our readers first.
        """
        self._guard.acquire_exclusive()
        try:
            txn.abort()
            if grow:
                self._env.set_mapsize(self._env.info()["map_size"] * 2)
        finally:
            self._guard.release_exclusive()

    def _ensure_headroom(self, n_ops: int, n_bytes: int) -> None:
        """Grow the map before a commit that might not fit, so ``MapFullError`` (and its
        costly abort) stays rare. Copy-on-write can dirty a page per op, plus the data."""
        info = self._env.info()
        need = (info["last_pgno"] + 1 + 2 * n_ops) * self._page_size + 2 * n_bytes
        size = info["map_size"]
        if need > size:
            while need > size:
                size *= 2
            self._adopt_map_size(size)

    @staticmethod
    def _apply(
        txn: lmdb.Transaction[bytes],
        db: lmdb._Database,
        puts: list[tuple[bytes, bytes]],
        deletes: list[bytes],
    ) -> None:
        """Apply one table's sorted puts and deletes inside ``txn``."""
        cur = txn.cursor(db)
        for k in deletes:
            txn.delete(k, db=db)
        if not puts:
            return
        # Keys beyond the table's current last key can be appended without a tree search.
        split = bisect.bisect_right(puts, cur.key(), key=lambda kv: kv[0]) if cur.last() else 0
        if split:
            consumed, _ = cur.putmulti(puts[:split])
            if consumed != split:
                raise IntegrityError("LMDB did not take every put of a batch")
        if split < len(puts):
            tail = puts[split:]
            consumed, added = cur.putmulti(tail, append=True)
            if consumed != len(tail) or added != len(tail):
                raise IntegrityError("LMDB refused an append of a batch")

    def close(self) -> None:
        """Close the environment; further calls raise ``Unavailable``."""
        self._guard.acquire_exclusive()
        try:
            if not self._closed:
                self._closed = True
                self._env.close()
        finally:
            self._guard.release_exclusive()
