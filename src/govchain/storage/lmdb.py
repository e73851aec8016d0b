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

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence

import lmdb

from govchain.errors import Forbidden, IntegrityError, NotFound, Unavailable
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb_env import (
    MAX_KEY_SIZE,
    apply_sorted,
    check_keys,
    grow_for,
    open_environment,
    open_tables,
    sorted_plan,
)
from govchain.storage.lmdb_writer import WriterProcess

__all__ = ["DEFAULT_MAP_SIZE", "MAX_KEY_SIZE", "LmdbStore"]

BULK_READ_MIN = 256
"""With a writer process, ``get_many`` of at least this many keys is read by the writer: this
process would wait for the GIL after every single lookup while other threads run Python (see
``lmdb_writer.py``); the writer pays one round trip instead."""

DEFAULT_MAP_SIZE = 1 << 30
"""Initial map size in bytes; it only reserves address space, the file grows as used."""

DAMAGE_ERRORS: tuple[type[lmdb.Error], ...] = (
    lmdb.CorruptedError,
    lmdb.PageNotFoundError,
    lmdb.PanicError,
    lmdb.IncompatibleError,
    lmdb.InvalidError,
    lmdb.BadChecksumError,
)
"""What LMDB raises when its file's own structure is damaged (a flipped page number, page
header or database record): answered as ``IntegrityError`` naming the table, not as a bug."""


def _damaged(path: str, table: str | None, key: bytes | None, exc: lmdb.Error) -> IntegrityError:
    """The ``IntegrityError`` of a damage error of LMDB, naming ``table`` (``None``: the
    environment itself) and, where known, the ``key`` read."""
    fields = {"path": path}
    if table is not None:
        fields["table"] = table
    if key is not None:
        fields["key"] = key.hex()
    where = "" if table is None else f" (reading table {table!r})"
    return IntegrityError(f"the LMDB file of {path} is damaged{where}: {exc}", **fields)


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
        writer_process: bool = False,
    ) -> None:
        """Open (or, unless ``readonly``, create) the store in directory ``path``.

        ``readonly`` is for offline tools: it may run beside a live node and never writes.
        ``scan_chunk`` is how many items one read transaction of ``scan`` materialises.
        ``writer_process`` has commits written by a process of their own (``lmdb_writer.py``:
        a node, whose other threads would otherwise slow every put of a commit down).
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
        try:
            self._env = open_environment(self._path, readonly=readonly, map_size=map_size)
        except DAMAGE_ERRORS as exc:
            raise _damaged(self._path, None, None, exc) from None
        self._max_key = self._env.max_key_size()
        self._page_size = self._env.stat()["psize"]
        try:
            self._dbs = open_tables(self._env, readonly=readonly)
        except DAMAGE_ERRORS as exc:
            self._env.close()
            raise _damaged(self._path, None, None, exc) from None
        except lmdb.NotFoundError:
            self._env.close()
            raise IntegrityError(
                f"{self._path} is not a govchain store (a table is missing)", path=self._path
            ) from None
        self._writer: WriterProcess | None = None
        if writer_process and not readonly:
            try:
                self._writer = WriterProcess(self._path, map_size)
            except BaseException:
                self._env.close()
                raise

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
        try:
            with self._reading() as txn:
                return txn.get(key, db=db)
        except DAMAGE_ERRORS as exc:
            raise _damaged(self._path, table, key, exc) from None

    def get_many(self, table: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """Return the committed values of ``keys`` in ``table`` (``None`` where absent), read
        in one transaction: a consistent snapshot, and much cheaper per key than ``get``."""
        db = self._db(table)
        if self._writer is not None and len(keys) >= BULK_READ_MIN:
            return self._writer.get_many(table, keys)
        mx = self._max_key
        try:
            with self._reading() as txn:
                get = txn.get
                return [get(k, None, db) if 0 < len(k) <= mx else None for k in keys]
        except DAMAGE_ERRORS as exc:
            raise _damaged(self._path, table, None, exc) from None

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
        return self._scan(table, db, start, end, reverse)

    def _scan(
        self, table: str, db: lmdb._Database, start: bytes, end: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        lo, hi, after = start, end, False
        while True:
            try:
                chunk = self._read_chunk(db, lo, hi, reverse, after)
            except DAMAGE_ERRORS as exc:
                raise _damaged(self._path, table, lo if after else None, exc) from None
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
        if self._writer is not None:
            for table, ops in batch.ops.items():
                self._db(table)
                if ops:
                    check_keys(table, ops, self._max_key)
            with self._write_lock:
                if self._closed:
                    raise Unavailable("store is closed")
                self._writer.commit(batch.ops)
            return
        sorted_ops, n_ops, n_bytes = sorted_plan(batch.ops, self._max_key)
        plan = [(self._db(table), puts, deletes) for table, puts, deletes in sorted_ops]
        with self._write_lock:
            while True:
                if self._closed:
                    raise Unavailable("store is closed")
                size = grow_for(self._env, self._page_size, n_ops, n_bytes)
                if size is not None:
                    self._adopt_map_size(size)
                try:
                    txn = self._env.begin(write=True)
                except lmdb.MapResizedError:
                    self._adopt_map_size(0)
                    continue
                try:
                    for db, puts, deletes in plan:
                        apply_sorted(txn, db, puts, deletes)
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

    @property
    def writer_pid(self) -> int | None:
        """Process id of the writer process, if commits go through one."""
        return None if self._writer is None else self._writer.pid

    def close(self) -> None:
        """Close the environment (after the writer process, if any, finished and exited);
        further calls raise ``Unavailable``."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
        self._guard.acquire_exclusive()
        try:
            if not self._closed:
                self._closed = True
                self._env.close()
        finally:
            self._guard.release_exclusive()
