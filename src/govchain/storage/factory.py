"""Choosing a storage backend from configuration."""

from __future__ import annotations

import os

from govchain.errors import SchemaViolation
from govchain.storage.base import KVStore
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore

WRITER_ENV = "GOVCHAIN_LMDB_WRITER"
"""Where a node's commits are written: ``inline`` (default: by the committing thread itself) or
``process`` (``storage/lmdb_writer.py``). The writer process spares the committer the GIL waits
of python-lmdb's puts beside busy threads (a block's commit 91 -> 40 ms in
``bench/store_bench.py``) but costs ~13 µs of CPU per transaction in another process: on this
2-core machine, where CPU is the limit, inline was as fast in-process and faster over HTTP and
in the 4-node network (``docs/performance.md``). Machines with idle cores can choose
``process``."""


def node_writer_process() -> bool:
    """Return whether a node's store writes through a writer process (``WRITER_ENV``)."""
    mode = os.environ.get(WRITER_ENV, "inline")
    if mode not in ("process", "inline"):
        raise SchemaViolation(
            f"{WRITER_ENV} must be 'process' or 'inline', not {mode!r}", setting=WRITER_ENV
        )
    return mode == "process"


def open_store(path: str | None, *, readonly: bool = False, node: bool = False) -> KVStore:
    """Open the LMDB store in directory ``path``, or a fresh ``MemoryStore`` if ``path`` is None.

    ``readonly`` opens an existing LMDB store for offline tools; it has no meaning in memory.
    ``node`` is for a node's ledger: with ``GOVCHAIN_LMDB_WRITER=process`` its commits are
    written by a writer process of their own (``storage/lmdb_writer.py``).
    """
    if path is None:
        if readonly:
            raise ValueError("a read-only store needs a path")
        return MemoryStore()
    writer = node and not readonly and node_writer_process()
    return LmdbStore(path, readonly=readonly, writer_process=writer)
