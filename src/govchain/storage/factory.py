"""Choosing a storage backend from configuration."""

from __future__ import annotations

from govchain.storage.base import KVStore
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore


def open_store(path: str | None, *, readonly: bool = False, node: bool = False) -> KVStore:
    """Open the LMDB store in directory ``path``, or a fresh ``MemoryStore`` if ``path`` is None.

    ``readonly`` opens an existing LMDB store for offline tools; it has no meaning in memory.
    ``node`` is for a node's ledger: its commits are written by a writer process of their own
    (``storage/lmdb_writer.py``).
    """
    if path is None:
        if readonly:
            raise ValueError("a read-only store needs a path")
        return MemoryStore()
    return LmdbStore(path, readonly=readonly, writer_process=node and not readonly)
