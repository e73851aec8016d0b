"""Consistent file copies of a store: an online copy of an LMDB environment, and hashed copies of
plain files, for backups.

``copy_environment`` opens the environment read-only from this process and has LMDB copy it
(``mdb_env_copy2``). LMDB copies under one read transaction: the copy is the store as of one
commit, whole, while the node that owns it keeps committing (MVCC; a compacting copy takes no
writer lock at all, a plain copy holds it only while it reads the meta pages). Nothing is
written to the source except LMDB's reader slot in its ``lock.mdb``, as any reader's.

Files are hashed with SHA-256 whatever the network's suite: the digests are for operators'
tools (``sha256sum``), not for the ledger.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import lmdb

from govchain.errors import IntegrityError, NotFound
from govchain.storage.base import TABLES
from govchain.storage.lmdb import DEFAULT_MAP_SIZE
from govchain.storage.lmdb_env import open_environment, open_tables

DATA_FILE = "data.mdb"
"""Name of an LMDB environment's data file (its directory holds it and ``lock.mdb``)."""

_CHUNK = 1 << 20
_RESIZE_RETRIES = 8


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The size and SHA-256 of one file."""

    size: int
    """Length in bytes."""
    sha256: str
    """SHA-256 of the content, 64 lower-case hex characters."""


def copy_environment(source: Path, dest: Path, *, compact: bool = True) -> None:
    """Copy the LMDB store in directory ``source`` into ``dest`` (an existing, empty directory)
    as of one commit, beside a node that keeps writing to it; the copy is durable on return.

    ``compact`` leaves out free pages (a smaller copy, more CPU; LMDB refuses it for an
    environment that leaked pages, which a plain copy still copies). ``NotFound`` if there is
    no store at ``source``, ``IntegrityError`` if it is not a govchain store or LMDB fails."""
    if not (source / DATA_FILE).is_file():
        raise NotFound(f"no store at {source} (no {DATA_FILE})", path=str(source))
    try:
        # Address space only (LMDB maps at least what the file's meta page says): room for the
        # node to grow the file before the copy starts without a remap.
        env = open_environment(str(source), readonly=True, map_size=DEFAULT_MAP_SIZE)
    except lmdb.Error as exc:
        raise IntegrityError(
            f"cannot open the store at {source}: {exc}", path=str(source)
        ) from None
    try:
        try:
            open_tables(env, readonly=True)
        except lmdb.NotFoundError:
            raise IntegrityError(
                f"{source} is not a govchain store (a table is missing)", path=str(source)
            ) from None
        for _ in range(_RESIZE_RETRIES):
            try:
                env.copy(str(dest), compact=compact)
                break
            except lmdb.MapResizedError:
                # The node grew its map since we opened: adopt the new size, copy again.
                (dest / DATA_FILE).unlink(missing_ok=True)
                env.set_mapsize(0)
            except lmdb.Error as exc:
                raise IntegrityError(
                    f"LMDB could not copy the store at {source}: {exc}", path=str(source)
                ) from None
        else:
            raise IntegrityError(f"the store at {source} kept growing during the copy")
    finally:
        env.close()
    fsync_path(dest / DATA_FILE)
    fsync_path(dest)


def read_every_record(path: Path) -> dict[str, int]:
    """Read every key and value of every table of the store in ``path`` in one read transaction
    (so that LMDB walks every page in use) and return the records per table; ``IntegrityError``
    naming the table if LMDB finds the file damaged or a table is missing."""
    table = "-"
    try:
        env = open_environment(str(path), readonly=True, map_size=DEFAULT_MAP_SIZE)
    except lmdb.Error as exc:
        raise IntegrityError(
            f"{path} is not a readable LMDB store: {exc}", path=str(path)
        ) from None
    try:
        dbs = open_tables(env, readonly=True)
        counts: dict[str, int] = {}
        with env.begin() as txn:
            for table in TABLES:
                # Iterating copies every value out of the map: overflow pages are read too.
                counts[table] = sum(1 for _ in txn.cursor(dbs[table]))
        return counts
    except lmdb.NotFoundError:
        raise IntegrityError(f"{path} is not a govchain store (a table is missing)") from None
    except lmdb.Error as exc:
        raise IntegrityError(
            f"LMDB cannot read table {table!r} of {path}: {exc}", table=table, path=str(path)
        ) from None
    finally:
        env.close()


def fsync_path(path: Path) -> None:
    """Flush a file or a directory (its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def digest_file(path: Path) -> FileDigest:
    """Return the size and SHA-256 of the file at ``path``."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return FileDigest(size, h.hexdigest())


def copy_file(source: Path, dest: Path) -> FileDigest:
    """Copy ``source`` to the new file ``dest`` (parents created) durably; return the digest of
    the bytes written (hashed as they are copied, so what is checked is what was written)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    with source.open("rb") as src, dest.open("xb") as out:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
            h.update(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return FileDigest(size, h.hexdigest())


def list_files(root: Path) -> list[str]:
    """Return the paths of every regular file under ``root``, relative and ``/``-separated, in
    sorted order (``[]`` if ``root`` does not exist)."""
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def fsync_tree(root: Path) -> None:
    """Flush every directory under ``root`` (and ``root``) so that new entries are durable."""
    for dirpath, _, _ in os.walk(root):
        fsync_path(Path(dirpath))
