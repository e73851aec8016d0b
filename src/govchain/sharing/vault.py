"""The owner node's record vault: records encrypted at rest in the node's own store.

Tables and keys (``KVStore`` table ``extra``, prefix ``sharing/``):

=========================================================  ================================
``sharing/ct/<resource>\\0<record>``                       sealed record (nonce||ct||tag)
``sharing/dk/<resource>\\0<record>``                       its data key, wrapped for the owner
``sharing/subject/<resource>\\0<subject ref>\\0<record>``  index: a subject's records
=========================================================  ================================

The ledger holds the hash of each sealed record, so any copy of the ciphertext can be checked.
Erasure deletes the wrapped data key (crypto-shredding): the ciphertext and every copy of it
stay, unreadable, and the ledger keeps the proof that the record existed and was erased.

The hot read path keeps three things in memory, each with exact invalidation (the vault is the
only writer of its table): the subject index (updated by ``put``), ciphertexts that matched
their ledger hash (kept with that hash, so a record stored again under another hash is read
again), and unwrapped data keys. ``shred`` drops a record's entries and marks it shredded, so
that a read racing with the erasure cannot put its key back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import IntegrityError, NotFound
from govchain.ledger.encoding import canonical_unchecked
from govchain.sharing import envelope
from govchain.sharing.errors import RecordErased
from govchain.storage.base import KVStore, WriteBatch
from govchain.types import DeptId

TABLE = "extra"
"""Store table the vault lives in."""
CIPHERTEXT = b"sharing/ct/"
DATA_KEY = b"sharing/dk/"
SUBJECT = b"sharing/subject/"
KEY_CACHE_SIZE = 65_536
"""Unwrapped data keys kept in memory (dropped at once when a record is erased)."""
SEALED_CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of verified ciphertexts kept in memory."""
SUBJECT_CACHE_SIZE = 65_536
"""Subjects whose record lists are kept in memory."""


def _loc(resource: str, record: str) -> bytes:
    return resource.encode() + b"\x00" + record.encode()


class Vault:
    """Encrypted records of the departments whose agreement keys this node holds."""

    def __init__(self, store: KVStore, suite: CryptoSuite, keys: Mapping[DeptId, KeyPair]) -> None:
        self._store = store
        self._suite = suite
        self._keks = {
            dept: envelope.kek(suite, kp.private, kp.public, dept, dept)
            for dept, kp in keys.items()
        }
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._sealed: OrderedDict[bytes, tuple[str, bytes]] = OrderedDict()
        self._sealed_bytes = 0
        self._subjects: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()
        self._shredded: set[bytes] = set()
        self._generation = 0  # bumped by every put and shred (see ``records_of``)

    def _kek(self, owner: DeptId) -> bytes:
        kek = self._keks.get(owner)
        if kek is None:
            raise NotFound(f"this node holds no agreement key of department {owner!r}")
        return kek

    def put(
        self, owner: DeptId, resource: str, record: str, subject_ref: str, data: Mapping[str, Any]
    ) -> bytes:
        """Encrypt and store a record durably under a fresh data key; return the sealed bytes
        (whose hash goes on-chain)."""
        suite = self._suite
        data_key = envelope.new_data_key(suite)
        sealed = envelope.seal(
            suite, data_key, canonical_unchecked(dict(data)), envelope.record_aad(resource, record)
        )
        wrapped = envelope.seal(
            suite,
            self._kek(owner),
            data_key,
            envelope.data_key_aad(owner, owner, resource, record),
        )
        loc = _loc(resource, record)
        batch = WriteBatch()
        batch.put(TABLE, CIPHERTEXT + loc, sealed)
        batch.put(TABLE, DATA_KEY + loc, wrapped)
        batch.put(TABLE, SUBJECT + _loc(resource, subject_ref) + b"\x00" + record.encode(), b"")
        self._store.commit(batch)
        with self._lock:
            self._generation += 1
            self._subjects.pop(_loc(resource, subject_ref), None)
            self._drop_sealed(loc)
            self._cache.pop(loc, None)
            self._shredded.discard(loc)
        return sealed

    def _drop_sealed(self, loc: bytes) -> None:
        old = self._sealed.pop(loc, None)
        if old is not None:
            self._sealed_bytes -= len(old[1])

    def sealed(self, resource: str, record: str) -> bytes:
        """Return a record's stored ciphertext (``NotFound`` if this node has none)."""
        raw = self._store.get(TABLE, CIPHERTEXT + _loc(resource, record))
        if raw is None:
            raise NotFound(f"this node stores no record {record!r} of {resource!r}")
        return raw

    def verified(
        self, resource: str, record: str, expected_hash: str, hash_hex: Callable[[bytes], str]
    ) -> bytes:
        """Return a record's stored ciphertext after checking that it hashes (``hash_hex``) to
        ``expected_hash``, the hash the ledger holds; ``IntegrityError`` if it does not. A
        ciphertext that matched is kept in memory with that hash and not read again."""
        loc = _loc(resource, record)
        known = self._sealed.get(loc)
        if known is not None and known[0] == expected_hash:
            return known[1]
        generation = self._generation
        sealed = self.sealed(resource, record)
        if hash_hex(sealed) != expected_hash:
            raise IntegrityError(
                f"stored ciphertext of record {record!r} differs from its hash on the ledger",
                record=record,
            )
        with self._lock:
            if self._generation == generation and loc not in self._shredded:
                self._drop_sealed(loc)
                self._sealed[loc] = (expected_hash, sealed)
                self._sealed_bytes += len(sealed)
                while self._sealed_bytes > SEALED_CACHE_BYTES:
                    _, (_, old) = self._sealed.popitem(last=False)
                    self._sealed_bytes -= len(old)
        return sealed

    def records_of(self, resource: str, subject_ref: str) -> list[str]:
        """Return the ids of a subject's records of ``resource`` stored here."""
        where = _loc(resource, subject_ref)
        known = self._subjects.get(where)
        if known is not None:
            return list(known)
        generation = self._generation
        prefix = SUBJECT + where + b"\x00"
        end = prefix[:-1] + b"\x01"
        ids = [k[len(prefix) :].decode() for k, _ in self._store.scan(TABLE, prefix, end)]
        with self._lock:
            if self._generation == generation:  # no put since the scan began
                self._subjects[where] = tuple(ids)
                if len(self._subjects) > SUBJECT_CACHE_SIZE:
                    self._subjects.popitem(last=False)
        return ids

    def open(self, owner: DeptId, resource: str, record: str, sealed: bytes) -> dict[str, Any]:
        """Decrypt a record; ``RecordErased`` if its data key is gone, ``IntegrityError`` if the
        ciphertext or the wrapped key was altered."""
        loc = _loc(resource, record)
        data_key = self._cache.get(loc)
        if data_key is None:
            generation = self._generation
            wrapped = self._store.get(TABLE, DATA_KEY + loc)
            if wrapped is None:
                raise RecordErased(f"record {record!r} of {resource!r} was erased", record=record)
            data_key = envelope.open_sealed(
                self._suite,
                self._kek(owner),
                wrapped,
                envelope.data_key_aad(owner, owner, resource, record),
            )
            with self._lock:
                if self._generation == generation and loc not in self._shredded:
                    self._cache[loc] = data_key
                    if len(self._cache) > KEY_CACHE_SIZE:
                        self._cache.popitem(last=False)
        plain = envelope.open_sealed(
            self._suite, data_key, sealed, envelope.record_aad(resource, record)
        )
        try:
            obj: dict[str, Any] = orjson.loads(plain)
        except orjson.JSONDecodeError as exc:  # authenticated yet not ours: a bug, not input
            raise IntegrityError(f"record {record!r} decrypts to invalid JSON") from exc
        return obj

    def shred(self, resource: str, record: str) -> bool:
        """Destroy a record's data key (durably); return whether there was one."""
        loc = _loc(resource, record)
        with self._lock:
            self._generation += 1
            self._shredded.add(loc)
            self._cache.pop(loc, None)
            self._drop_sealed(loc)
        existed = self._store.get(TABLE, DATA_KEY + loc) is not None
        batch = WriteBatch()
        batch.delete(TABLE, DATA_KEY + loc)
        self._store.commit(batch)
        with self._lock:
            self._generation += 1
            self._cache.pop(loc, None)
        return existed
