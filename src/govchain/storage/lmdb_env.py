"""What the LMDB store and its writer process share: how the environment is opened, and how a
batch is checked, sorted and applied inside one write transaction."""

from __future__ import annotations

import bisect
from typing import cast

import lmdb

from govchain.errors import IntegrityError, TooLarge
from govchain.storage.base import TABLES

MAX_KEY_SIZE = 511
"""Longest key LMDB accepts (its default ``MDB_MAXKEYSIZE``)."""

Puts = list[tuple[bytes, bytes]]
SortedOps = list[tuple[str, Puts, list[bytes]]]
"""Per table: its name, sorted puts and sorted deletes."""


def open_environment(path: str, *, readonly: bool, map_size: int) -> lmdb.Environment:
    """Open (or, unless ``readonly``, create) the environment in directory ``path``."""
    return lmdb.Environment(
        path,
        map_size=map_size,
        subdir=True,
        readonly=readonly,
        create=not readonly,
        sync=True,
        metasync=True,
        # writemap would expose the file to stray writes through the map (LMDB's own caveat)
        # and its msync ordering is not what the kill -9 test exercises: off.
        writemap=False,
        max_dbs=len(TABLES) + 8,
        max_readers=512,
        lock=True,
        # The node reads state and buckets at random: readahead would pull neighbouring pages
        # into the map (and into RSS) that are never used.
        readahead=False,
    )


def open_tables(env: lmdb.Environment, *, readonly: bool) -> dict[str, lmdb._Database]:
    """Open every table (creating them unless ``readonly``); ``lmdb.NotFoundError`` if a
    read-only environment lacks one."""
    if readonly:
        return {t: env.open_db(t.encode(), create=False) for t in TABLES}
    with env.begin(write=True) as txn:
        return {t: env.open_db(t.encode(), txn=txn) for t in TABLES}


def check_keys(table: str, ops: dict[bytes, bytes | None], max_key: int) -> None:
    """Raise ``TooLarge`` for an empty or over-long key of ``table``."""
    key_lengths = list(map(len, ops))
    if min(key_lengths) == 0 or max(key_lengths) > max_key:
        raise TooLarge(
            f"keys must be 1 to {max_key} bytes (table {table!r})", limit=max_key, table=table
        )


def sorted_plan(
    ops_by_table: dict[str, dict[bytes, bytes | None]], max_key: int = MAX_KEY_SIZE
) -> tuple[SortedOps, int, int]:
    """Check and sort a batch; return its per-table operations, their count and bytes."""
    plan: SortedOps = []
    n_ops = n_bytes = 0
    for table, ops in ops_by_table.items():
        if table not in TABLES:
            raise KeyError(f"unknown table {table!r}")
        if not ops:
            continue
        check_keys(table, ops, max_key)
        items = sorted(ops.items())
        if None in ops.values():
            puts = [(k, v) for k, v in items if v is not None]
            deletes = [k for k, v in items if v is None]
        else:  # the common case: one pass fewer over every op of the block
            puts, deletes = cast(Puts, items), []
        plan.append((table, puts, deletes))
        n_ops += len(ops)
        n_bytes += sum(map(len, ops)) + sum([len(v) for _, v in puts])
    return plan, n_ops, n_bytes


def apply_sorted(
    txn: lmdb.Transaction[bytes], db: lmdb._Database, puts: Puts, deletes: list[bytes]
) -> None:
    """Apply one table's sorted puts and deletes inside the write transaction ``txn``."""
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


def grow_for(env: lmdb.Environment, page_size: int, n_ops: int, n_bytes: int) -> int | None:
    """Return a map size with room for a batch (copy-on-write can dirty a page per op, plus
    the data), or ``None`` if the current one will do."""
    info = env.info()
    need = (info["last_pgno"] + 1 + 2 * n_ops) * page_size + 2 * n_bytes
    size = info["map_size"]
    if need <= size:
        return None
    while need > size:
        size *= 2
    return size
