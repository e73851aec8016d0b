"""World state: current values with version history, and a bucketed state root.

Each key (1 to ``MAX_KEY_SIZE`` bytes) has a current ``VersionedValue``; every write, deletes
included, is a new version (1, 2, 3, ...) kept in history. Tables of ``storage.base.TABLES``:

- ``state``: storage key -> record of the current version (deleted keys keep a tombstone so that
  versions continue), followed by that version's 12-byte history key. The storage key is the
  key itself, or for keys longer than ``_INLINE_KEY`` bytes ``key[:_INLINE_KEY] + H(key)`` with
  the full key inside the record, because LMDB keys end at 511 bytes. Key order is kept (see
  ``iter_range``).
- ``history``: ``height (8 bytes) || index of the write in its block (4 bytes)`` -> record of
  that version. Append-only (a block's keys sort after every earlier block's); a key's versions
  form a chain through each record's pointer to the history key of the previous version.
- ``buckets``: bucket number (4 bytes) -> the bucket's sorted 64-byte entries, concatenated.
- ``meta``: ``state/n_buckets`` records the genesis bucket count and ``state/format`` the layout
  of these tables (2: chained history), both checked on every open.

A record is ``_RECORD`` (flags, version, height, tx index, tx id length), the tx id, for versions
after the first the previous version's history key (12 bytes), for long-key state records the
key (2-byte length + bytes), then the value bytes.

State root: key ``k`` lives in bucket ``int.from_bytes(H(k)[:4], "big") % n_buckets`` as the
entry ``H(k) || H(value)``. A bucket's digest is ``leaf_hash(sorted entries concatenated)``
(``leaf_hash(b"")`` when empty) and the root is the perfect binary Merkle tree (``node_hash``)
over the ``n_buckets`` digests. All ``2 * n_buckets`` tree hashes live in memory (heap order:
node ``i`` has children ``2i`` and ``2i + 1``, bucket ``b`` is node ``n_buckets + b``); a block
rehashes only the buckets it touches and their paths.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from govchain.errors import (
    IntegrityError,
    ProofError,
    SchemaViolation,
    TooLarge,
    Unavailable,
)
from govchain.ledger.keyfilter import KeyFilter
from govchain.ledger.merkle import LEAF_PREFIX, NODE_PREFIX, HashFn, leaf_hash, node_hash
from govchain.ledger.state_proof import (
    ENTRY_SIZE,
    StateProof,
    bucket_of,
    check_n_buckets,
    state_root_from_proof,
)
from govchain.storage.base import KVStore, WriteBatch

MAX_KEY_SIZE = 1024
"""Longest state key in bytes."""

"""Size of a bucket entry: ``H(key) || H(value)``."""

DEFAULT_BUCKETS = 2**16
"""Default number of state buckets (fixed at genesis)."""

_INLINE_KEY = 448  # 2 + 448 + 32 + 8 = 490 bytes: the longest history key fits LMDB's 511
_RECORD = struct.Struct(">BQQIH")
_VERSION = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_LIVE = 1  # the record holds a value (else it is a deletion)
_HAS_KEY = 2  # the full key follows the tx id and pointer (long keys in the state table)
_HAS_PREV = 4  # the previous version's history key follows the tx id
_PTR = 12  # size of a history key: height (8) + write index (4)
_N_BUCKETS_META = b"state/n_buckets"
_FORMAT_META = b"state/format"
_FORMAT = (2).to_bytes(4, "big")  # 2: append-only history chained by back-pointers
_PROVE_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class VersionedValue:
    """One version of a key."""

    value: bytes | None
    """The value, or ``None`` if this version deleted the key."""
    version: int
    """Per-key version number: 1 for the first write, then 2, 3, ..."""
    height: int
    """Height of the block that wrote this version."""
    tx_index: int
    """Index of the writing transaction in its block."""
    tx_id: bytes
    """Id of the writing transaction."""


@dataclass(frozen=True, slots=True)
class StateWrite:
    """One write of a block, as produced by execution."""

    key: bytes
    """The key (1 to ``MAX_KEY_SIZE`` bytes)."""
    value: bytes | None
    """The new value, or ``None`` to delete the key."""
    tx_index: int
    """Index of the writing transaction in its block."""
    tx_id: bytes
    """Id of the writing transaction (at most 65535 bytes)."""


def _check_key(key: bytes) -> None:
    if not key:
        raise SchemaViolation("state keys must not be empty")
    if len(key) > MAX_KEY_SIZE:
        raise TooLarge(f"state key of {len(key)} bytes", limit=MAX_KEY_SIZE, size=len(key))


def _decode(record: bytes) -> tuple[VersionedValue, bytes | None]:
    """Decode a record into its version and, for long-key state records, the full key."""
    vv, _, full_key = _parse(record)
    return vv, full_key


def _parse(record: bytes) -> tuple[VersionedValue, bytes | None, bytes | None]:
    """Decode a record into its version, the previous version's history key (or ``None``) and,
    for long-key state records, the full key."""
    try:
        flags, version, height, tx_index, n_tx = _RECORD.unpack_from(record)
        pos = _RECORD.size + n_tx
        tx_id = record[_RECORD.size : pos]
        prev = full_key = None
        if flags & _HAS_PREV:
            prev = record[pos : pos + _PTR]
            pos += _PTR
        if flags & _HAS_KEY:
            (n_key,) = _U16.unpack_from(record, pos)
            full_key = record[pos + 2 : pos + 2 + n_key]
            pos += 2 + n_key
    except struct.error:
        raise IntegrityError("truncated state record") from None
    if flags & ~(_LIVE | _HAS_KEY | _HAS_PREV) or pos > len(record):
        raise IntegrityError("malformed state record")
    value = record[pos:] if flags & _LIVE else None
    return VersionedValue(value, version, height, tx_index, tx_id), prev, full_key


def _state_record(stored: bytes) -> bytes:
    """Return the record part of a ``state`` table value (without its history key)."""
    if len(stored) < _RECORD.size + _PTR:
        raise IntegrityError("truncated state record")
    return stored[:-_PTR]


def _embed_key(record: bytes, key: bytes) -> bytes:
    """Return a state record with the full ``key`` inserted after the tx id."""
    (n_tx,) = _U16.unpack_from(record, _RECORD.size - 2)
    cut = _RECORD.size + n_tx + (_PTR if record[0] & _HAS_PREV else 0)
    return bytes([record[0] | _HAS_KEY]) + record[1:cut] + _U16.pack(len(key)) + key + record[cut:]


def _history_fault(
    vv: VersionedValue, prev: bytes | None, height: int, newer: VersionedValue | None
) -> str | None:
    """What is wrong with a history record stored under a key of ``height`` (``newer``: the
    next version of the same key), if anything."""
    if vv.height != height:
        return f"it says height {vv.height}"
    if newer is not None and (vv.version != newer.version - 1 or vv.height > newer.height):
        return f"it is version {vv.version} at height {vv.height}, before version {newer.version}"
    if (vv.version > 1) != (prev is not None):
        return f"version {vv.version} {'lacks' if prev is None else 'has'} a previous version"
    return None


def _update_bucket(
    blob: bytes, items: list[tuple[bytes, bytes | None, bool]], bucket: int
) -> bytes:
    """Apply ``(key hash, new entry or None, was live)`` changes to a bucket's sorted entries."""
    for key_hash, entry, was_live in items:
        # Entries sort by key hash first: binary search on the blob itself (64-byte strides,
        # hence the shifts) is cheaper than splitting it into a list.
        lo, hi = 0, len(blob) >> 6
        while lo < hi:
            mid = (lo + hi) >> 1
            if blob[mid << 6 : (mid << 6) + 32] < key_hash:
                lo = mid + 1
            else:
                hi = mid
        pos = lo << 6
        found = blob[pos : pos + 32] == key_hash
        if found != was_live:
            raise IntegrityError("state bucket disagrees with the state table", bucket=bucket)
        blob = blob[:pos] + (entry or b"") + blob[pos + ENTRY_SIZE if found else pos :]
    return blob


@dataclass(frozen=True, slots=True)
class _Staged:
    """A staged block's effect on the in-memory tree."""

    tree: list[bytes]
    """The whole tree after the block (a copy; the committed one is untouched)."""
    live_delta: int
    """Change in the number of live keys."""
    added: list[bytes]
    """Hashes of the keys the block wrote a value to (for the key filter)."""


class WorldState:
    """Current state, history and state root over a ``KVStore``.

    One writer: ``stage`` / ``commit_staged`` / ``discard_staged`` come from one thread. Reads
    (``get``, ``history``, ``iter_range``, ``prove``, ``root``) may come from other threads; they
    see committed data only.
    """

    def __init__(self, store: KVStore, h: HashFn, n_buckets: int = DEFAULT_BUCKETS) -> None:
        """Open the state in ``store``; rebuilds the digest tree from the ``buckets`` table."""
        check_n_buckets(n_buckets)
        self._store = store
        self._h = h
        self._n = n_buckets
        recorded = store.get("meta", _N_BUCKETS_META)
        if recorded is not None and int.from_bytes(recorded, "big") != n_buckets:
            raise IntegrityError(
                f"state was created with {int.from_bytes(recorded, 'big')} buckets, "
                f"opened with {n_buckets}"
            )
        self._n_recorded = recorded is not None
        if self._n_recorded and store.get("meta", _FORMAT_META) != _FORMAT:
            raise IntegrityError("state was written in another table layout (state/format)")
        # A store may offer one-transaction bulk reads (LmdbStore does); stage() does ~2 reads
        # per written key, so this matters on the commit path.
        bulk = getattr(store, "get_many", None)
        self._get_many: Callable[[str, Sequence[bytes]], list[bytes | None]] = (
            bulk if callable(bulk) else lambda table, keys: [store.get(table, k) for k in keys]
        )
        self._staged: _Staged | None = None
        self._tree, self._live = self._build_tree()
        self._filter = self._build_filter()

    def _build_tree(self) -> tuple[list[bytes], int]:
        n, h = self._n, self._h
        empty = leaf_hash(h, b"")
        tree = [empty] * (2 * n)
        live = 0
        for bkey, blob in self._store.scan("buckets"):
            b = int.from_bytes(bkey, "big")
            if len(bkey) != 4 or b >= n or not blob or len(blob) % ENTRY_SIZE:
                raise IntegrityError("malformed state bucket", bucket=bkey.hex())
            tree[n + b] = leaf_hash(h, blob)
            live += len(blob) // ENTRY_SIZE
        # Empty subtrees of one level are all the same object, hashed once.
        zero, lo = empty, n
        while lo > 1:
            up = node_hash(h, zero, zero)
            for i in range(lo // 2, lo):
                left, right = tree[2 * i], tree[2 * i + 1]
                tree[i] = up if left is zero and right is zero else node_hash(h, left, right)
            zero, lo = up, lo // 2
        return tree, live

    def _build_filter(self) -> KeyFilter:
        """The key filter of every live key, from the stored buckets (see ``keyfilter.py``)."""
        f = KeyFilter(2 * self._live)
        for _, blob in self._store.scan("buckets"):
            # the key hash half of each entry
            f.add_many(blob[i : i + ENTRY_SIZE // 2] for i in range(0, len(blob), ENTRY_SIZE))
        return f

    @property
    def root(self) -> bytes:
        """The committed state root."""
        return self._tree[1]

    @property
    def n_buckets(self) -> int:
        """Number of buckets (fixed at genesis)."""
        return self._n

    def count(self) -> int:
        """Return the number of live (not deleted) keys."""
        return self._live

    def _skey(self, key: bytes, key_hash: bytes | None = None) -> bytes:
        if len(key) <= _INLINE_KEY:
            return key
        return key[:_INLINE_KEY] + (self._h(key) if key_hash is None else key_hash)

    def get(self, key: bytes) -> VersionedValue | None:
        """Return the committed current version of ``key`` (a deletion has ``value`` None), or
        ``None`` if it was never written."""
        _check_key(key)
        skey = self._skey(key)
        record = self._store.get("state", skey)
        if record is None:
            return None
        try:
            vv, full_key = _decode(_state_record(record))
        except IntegrityError as exc:
            raise IntegrityError(exc.message, table="state", key=skey.hex(), height=None) from None
        if full_key is not None and full_key != key:
            raise IntegrityError(
                "state record holds another key", table="state", key=skey.hex(), height=vv.height
            )
        return vv

    def get_value(self, key: bytes) -> bytes | None:
        """Return the committed current value of ``key``, or ``None`` if it has none (never
        written, or deleted). A key the filter has never seen live is answered without a read."""
        _check_key(key)
        if self._h(key) not in self._filter:
            return None
        vv = self.get(key)
        return None if vv is None else vv.value

    def history(self, key: bytes, limit: int = 100) -> list[VersionedValue]:
        """Return up to ``limit`` versions of ``key``, newest first."""
        _check_key(key)
        if limit <= 0:
            return []
        stored = self._store.get("state", self._skey(key))
        if stored is None:
            return []
        skey = self._skey(key)
        hkey: bytes | None = stored[-_PTR:]
        try:
            current, prev, full_key = _parse(_state_record(stored))
        except IntegrityError as exc:
            raise IntegrityError(exc.message, table="state", key=skey.hex(), height=None) from None
        if full_key is not None and full_key != key:
            raise IntegrityError(
                "state record holds another key", table="state", key=skey.hex(), height=None
            )
        out: list[VersionedValue] = []
        # History records are immutable once committed: follow the chain back from the state
        # record's version (records are read one by one; history is not on a hot path). Each
        # must be where its chain says and one version older than the last: a corrupt record
        # is refused here rather than served.
        expected: tuple[VersionedValue, bytes | None] | None = (current, prev)
        while hkey is not None and len(out) < limit:
            found = self._store.get("history", hkey)
            height = int.from_bytes(hkey[:8], "big")
            if found is None:
                raise IntegrityError(
                    f"block {height}: the history of a state key is broken (a version is missing)",
                    table="history",
                    key=hkey.hex(),
                    height=height,
                )
            try:
                vv, nxt, _ = _parse(found)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"block {height}: history record is corrupt: {exc.message}",
                    table="history",
                    key=hkey.hex(),
                    height=height,
                ) from None
            fault = _history_fault(vv, nxt, height, out[-1] if out else None)
            if fault is None and expected is not None and expected != (vv, nxt):
                # The state record and its newest history record disagree: the one whose value
                # the state root does not commit to is the corrupt one.
                if not self._committed_to(key, current):
                    raise IntegrityError(
                        f"block {current.height}: the state record of a key is corrupt (its "
                        "value is not the one the state root commits to)",
                        table="state",
                        key=skey.hex(),
                        height=current.height,
                    )
                fault = "it differs from the key's current state record"
            if fault is not None:
                raise IntegrityError(
                    f"block {height}: history record is corrupt: {fault}",
                    table="history",
                    key=hkey.hex(),
                    height=height,
                )
            expected = None
            out.append(vv)
            hkey = nxt
        return out

    def _committed_to(self, key: bytes, version: VersionedValue) -> bool:
        """Whether the stored bucket of ``key`` holds exactly ``version``'s value (or, for a
        deletion, no entry for the key)."""
        key_hash = self._h(key)
        blob = self._store.get("buckets", bucket_of(key_hash, self._n).to_bytes(4, "big")) or b""
        entries = {
            blob[i : i + 32]: blob[i + 32 : i + ENTRY_SIZE] for i in range(0, len(blob), ENTRY_SIZE)
        }
        found = entries.get(key_hash)
        return found is None if version.value is None else found == self._h(version.value)

    def check_answer(
        self, key: bytes, current: VersionedValue | None, proof: StateProof, root: bytes
    ) -> None:
        """Check a state answer (the current version of ``key`` and its proof, read from the
        store) before it is served: the proof must show that value and lead to ``root`` (the
        checkpoint's). ``IntegrityError`` naming the state record or the bucket at fault."""
        value = None if current is None else current.value
        try:
            calculated = state_root_from_proof(self._h, key, value, proof, self._n)
        except ProofError:
            # The proof's bucket was checked against the state tree as it was read, so it is
            # the state record whose value the tree does not commit to.
            height = None if current is None else current.height
            raise IntegrityError(
                f"block {height}: the stored value of this key is corrupt (the state root "
                "commits to another)",
                table="state",
                key=self._skey(key).hex(),
                height=height,
            ) from None
        if calculated != root:
            raise self._bucket_fault(proof.bucket, "does not lead to the signed state root")

    def _bucket_fault(self, bucket: int, what: str) -> IntegrityError:
        """The error of a stored bucket that does not hash to the state tree it belongs to,
        naming the last block that wrote a key of it."""
        height = self.bucket_height(bucket)
        return IntegrityError(
            f"block {height}: state bucket {bucket} {what}",
            table="buckets",
            key=bucket.to_bytes(4, "big").hex(),
            height=height,
        )

    def bucket_height(self, bucket: int) -> int | None:
        """Return the last block that wrote a key of ``bucket`` (``None``: none did): a pass
        over the state table, made only to name a corrupt bucket."""
        last: int | None = None
        for skey, stored in self._store.scan("state"):
            try:
                _, full_key = _decode(_state_record(stored))
            except IntegrityError:
                continue  # a corrupt record is reported by its own check
            if bucket_of(self._h(skey if full_key is None else full_key), self._n) == bucket:
                height = int.from_bytes(stored[-_PTR:][:8], "big")
                last = height if last is None else max(last, height)
        return last

    def iter_range(self, prefix: bytes = b"") -> Iterator[tuple[bytes, VersionedValue]]:
        """Iterate the committed live keys starting with ``prefix`` in key order."""
        head = prefix[:_INLINE_KEY]
        end = _successor(head)
        group: list[tuple[bytes, VersionedValue]] = []
        for skey, record in self._store.scan("state", head, end):
            vv, full_key = _decode(_state_record(record))
            key = skey if full_key is None else full_key
            if len(skey) > _INLINE_KEY:
                # Long keys sharing their head are stored in hash order: sort each such run.
                if group and group[0][0][:_INLINE_KEY] != skey[:_INLINE_KEY]:
                    yield from sorted(group, key=lambda kv: kv[0])
                    group = []
                if vv.value is not None and key.startswith(prefix):
                    group.append((key, vv))
                continue
            if group:
                yield from sorted(group, key=lambda kv: kv[0])
                group = []
            if vv.value is not None and key.startswith(prefix):
                yield key, vv
        yield from sorted(group, key=lambda kv: kv[0])

    def stage(self, batch: WriteBatch, writes: Sequence[StateWrite], height: int) -> bytes:
        """Add a block's ``writes`` (in execution order) to ``batch``; return the new root.

        The committed root changes only at ``commit_staged`` (after the store committed the
        batch) or never, after ``discard_staged``. If this raises, ``batch`` is unusable.
        """
        if self._staged is not None:
            raise RuntimeError("a block is already staged: commit or discard it first")
        if any(batch.ops.get(t) for t in ("state", "history", "buckets")):
            raise RuntimeError("the batch already holds state writes")
        h = self._h
        # This is the commit hot path: per-key data lives in parallel lists indexed by the
        # key's first appearance, and the store is read in bulk.
        wkeys = [w.key for w in writes]
        keys = list(dict.fromkeys(wkeys))
        if len(keys) == len(wkeys):
            slots: Iterable[int] = range(len(keys))  # each key written once (the usual case)
        else:
            index = {k: i for i, k in enumerate(keys)}
            slots = [index[k] for k in wkeys]
        if keys and (min(map(len, keys)) == 0 or max(map(len, keys)) > MAX_KEY_SIZE):
            for key in keys:
                _check_key(key)
        hashes = [h(k) for k in keys]
        skeys = [
            k if len(k) <= _INLINE_KEY else k[:_INLINE_KEY] + kh
            for k, kh in zip(keys, hashes, strict=True)
        ]
        currents = self._get_many("state", skeys)
        unpack_version = _VERSION.unpack_from
        versions = [0 if c is None else unpack_version(c, 1)[0] for c in currents]
        # The history key of each key's latest version (the back-pointer of its next one).
        prevs = [None if c is None else c[-_PTR:] for c in currents]
        records = [b""] * len(keys)
        values: list[bytes | None] = [None] * len(keys)
        history = batch.ops.setdefault("history", {})
        pack = _RECORD.pack
        try:
            base = height.to_bytes(8, "big")
            for n_write, (w, i) in enumerate(zip(writes, slots, strict=True)):
                version = versions[i] = versions[i] + 1
                tx_id, value, prev = w.tx_id, w.value, prevs[i]
                flags = _LIVE if value is not None else 0
                if prev is None:
                    record = pack(flags, version, height, w.tx_index, len(tx_id)) + tx_id
                else:
                    flags |= _HAS_PREV
                    record = pack(flags, version, height, w.tx_index, len(tx_id)) + tx_id + prev
                if value is not None:
                    record += value
                hkey = prevs[i] = base + n_write.to_bytes(4, "big")
                history[hkey] = record
                records[i], values[i] = record, value
        except (struct.error, OverflowError):
            raise SchemaViolation(
                "height and tx_index must be unsigned (64 and 32 bits), tx_id at most 65535 bytes"
            ) from None
        state = batch.ops.setdefault("state", {})
        changes: dict[int, list[tuple[bytes, bytes | None, bool]]] = {}
        mask, live_delta = self._n - 1, 0
        added: list[bytes] = []
        for key, skey, record, value, key_hash, current, hkey in zip(
            keys, skeys, records, values, hashes, currents, prevs, strict=True
        ):
            # Long keys carry the full key in the state record (their storage key is lossy).
            if len(key) > _INLINE_KEY:
                record = _embed_key(record, key)
            state[skey] = record + cast(bytes, hkey)
            live = current is not None and current[0] & _LIVE != 0
            if value is None:
                if not live:
                    continue  # absent before and after: the bucket is unchanged
                entry = None
                live_delta -= 1
            else:
                entry = key_hash + h(value)
                added.append(key_hash)
                if not live:
                    live_delta += 1
            b = int.from_bytes(key_hash[:4], "big") & mask
            item = (key_hash, entry, live)
            group = changes.get(b)
            if group is None:
                changes[b] = [item]
            else:
                group.append(item)
        tree = self._tree.copy()
        self._stage_buckets(batch, changes, tree)
        if not self._n_recorded:
            batch.put("meta", _N_BUCKETS_META, self._n.to_bytes(8, "big"))
            batch.put("meta", _FORMAT_META, _FORMAT)
        self._staged = _Staged(tree, live_delta, added)
        return tree[1]

    def _stage_buckets(
        self,
        batch: WriteBatch,
        changes: dict[int, list[tuple[bytes, bytes | None, bool]]],
        tree: list[bytes],
    ) -> None:
        """Rewrite the changed buckets into ``batch`` and rehash their paths in ``tree``."""
        h, n = self._h, self._n
        buckets = batch.ops.setdefault("buckets", {})
        bkeys = [b.to_bytes(4, "big") for b in changes]
        # leaf_hash / node_hash inlined: this loop hashes ~6 times per written key.
        leaf, node = LEAF_PREFIX, NODE_PREFIX
        for (b, items), bkey, blob in zip(
            changes.items(), bkeys, self._get_many("buckets", bkeys), strict=True
        ):
            blob = _update_bucket(blob or b"", items, b)
            buckets[bkey] = blob or None
            tree[n + b] = h(leaf + blob)
        level = {(n + b) >> 1 for b in changes}
        level.discard(0)  # with one bucket, its digest is the root
        # Rehash each touched interior node once, level by level up to the root.
        while level:
            for i in level:
                j = i << 1
                tree[i] = h(node + tree[j] + tree[j | 1])
            level = {i >> 1 for i in level} if 1 not in level else set()

    def commit_staged(self) -> None:
        """Make the staged block's root the committed one (call after the store commit)."""
        staged = self._staged
        if staged is None:
            raise RuntimeError("nothing is staged")
        # One reference swap: readers see the old tree or the new one, never a mix.
        self._tree = staged.tree
        self._live += staged.live_delta
        self._n_recorded = True
        self._staged = None
        self._filter.add_many(staged.added)
        if self._filter.full():
            self._filter = self._build_filter()  # grown state: a bigger filter, from the store

    def discard_staged(self) -> None:
        """Forget the staged block (its batch must not be committed); no-op if none."""
        self._staged = None

    def prove(self, key: bytes) -> StateProof:
        """Return a proof of the committed value (or absence) of ``key`` against ``root``."""
        _check_key(key)
        n, h = self._n, self._h
        b = bucket_of(h(key), n)
        bkey = b.to_bytes(4, "big")
        for _ in range(_PROVE_ATTEMPTS):
            tree = self._tree
            blob = self._store.get("buckets", bkey) or b""
            # Between the store commit and commit_staged the store runs ahead of the tree.
            if leaf_hash(h, blob) == tree[n + b]:
                break
            if self._staged is None and self._tree is tree:
                # No block was staged or committed since the tree was read: the stored bucket
                # itself is not what the state root commits to.
                raise self._bucket_fault(b, "does not hash to its digest in the state root")
            time.sleep(0.002)
        else:
            raise Unavailable("state is being committed; retry")
        path = []
        i = n + b
        while i > 1:
            path.append(tree[i ^ 1])
            i >>= 1
        entries = tuple(blob[i : i + ENTRY_SIZE] for i in range(0, len(blob), ENTRY_SIZE))
        return StateProof(b, entries, tuple(path))


def _successor(prefix: bytes) -> bytes | None:
    """Return the smallest byte string above every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
