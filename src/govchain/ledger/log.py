"""The transaction log: an append-only RFC 9162 Merkle tree over leaf hashes, kept in a ``KVStore``.

Storage layout (table ``"log"``):

- ``level (1 byte) || row (8 bytes big-endian)`` -> the hashes of nodes ``256 * row ..`` of that
  level, concatenated. Level 0 holds the leaf hashes; the node ``(level, index)`` is the root of
  the perfect subtree over leaves ``[index << level, (index + 1) << level)``. Only perfect
  subtrees are stored: once complete they never change, so a tile row only ever grows, and the
  partial last row of a level is rewritten as it grows.
- ``b"size"`` -> the committed number of leaves (8 bytes big-endian).

Any tree size up to the current one is made of perfect subtrees, so every historical root and
every proof is a few tile reads plus hashing along the right edge. In memory the log keeps only
the last tile row of each level (at most 256 hashes per level, so O(log n) rows): its last hash
is the right-edge "frontier" node of that level, which makes append and root O(log n) with no
reads, and it is what the partial row is rewritten from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from govchain.errors import IntegrityError, NotFound, SchemaViolation
from govchain.ledger.merkle import NODE_PREFIX, HashFn
from govchain.storage.base import KVStore, WriteBatch

TABLE = "log"
"""The storage table that holds the log's tiles and size."""

SIZE_KEY = b"size"
"""Key of the committed log size (8 bytes big-endian)."""

TILE_WIDTH = 256
"""Node hashes per tile row."""


def tile_key(level: int, row: int) -> bytes:
    """Return the storage key of tile row ``row`` of tree level ``level``."""
    return bytes((level,)) + row.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class LogHead:
    """A committed (or staged) state of the log."""

    size: int
    """Number of leaves."""
    root: bytes
    """RFC 9162 Merkle tree hash of those leaves."""


def _check_count(name: str, value: object) -> int:
    # bool is an int subclass, but True as a tree size is a caller bug, not a size of 1.
    if type(value) is not int or value < 0:
        raise SchemaViolation(f"{name} must be a non-negative integer, got {value!r}", field=name)
    return value


class _TileReader:
    """Reads perfect-subtree nodes for one proof call, caching the tile rows it fetched.

    Lives for one call only: rows are immutable for the sizes a proof uses, but a cache kept
    across commits would also have to track the growing partial rows.
    """

    __slots__ = ("_hs", "_rows", "_store")

    def __init__(self, store: KVStore, hs: int) -> None:
        self._store = store
        self._hs = hs
        self._rows: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of perfect subtree ``(level, index)``; it must be committed."""
        row, col = divmod(index, TILE_WIDTH)
        data = self._rows.get((level, row))
        if data is None:
            data = self._store.get(TABLE, tile_key(level, row))
            if data is None:
                raise IntegrityError(f"log tile ({level}, {row}) is missing", level=level, row=row)
            self._rows[(level, row)] = data
        out = data[col * self._hs : (col + 1) * self._hs]
        if len(out) != self._hs:
            raise IntegrityError(f"log tile ({level}, {row}) is too short", level=level, row=row)
        return out


class MerkleLog:
    """The append-only transaction log over ``store`` (table ``"log"``), hashing with ``h``.

    Appends go through ``stage`` -> (caller commits the batch) -> ``commit_staged`` or
    ``discard_staged``; the in-memory head only moves once the store holds the new tiles.
    Proof and root methods read committed tiles only and may run while a stage is pending.
    """

    def __init__(self, store: KVStore, h: HashFn) -> None:
        """Open the log in ``store``, rebuilding the right edge from the stored size and tiles."""
        self._store = store
        self._h = h
        self._empty_root = h(b"")
        self._hs = len(self._empty_root)
        raw = store.get(TABLE, SIZE_KEY)
        size = 0 if raw is None else int.from_bytes(raw, "big")
        last_rows: list[bytes] = []
        for level in range(size.bit_length()):
            count = size >> level
            row, col = divmod(count - 1, TILE_WIDTH)
            data = store.get(TABLE, tile_key(level, row))
            if data is None or len(data) != (col + 1) * self._hs:
                raise IntegrityError(
                    f"log tile ({level}, {row}) does not match the stored log size {size}",
                    level=level,
                    row=row,
                    size=size,
                )
            last_rows.append(data)
        self._last_rows = last_rows
        self._head = LogHead(size, self._frontier_root(size, last_rows))
        self._staged: tuple[LogHead, list[bytes]] | None = None

    @property
    def size(self) -> int:
        """Number of leaves in the committed head."""
        return self._head.size

    @property
    def root(self) -> bytes:
        """Root hash of the committed head."""
        return self._head.root

    @property
    def head(self) -> LogHead:
        """The committed head (size and root read together)."""
        return self._head

    def _frontier_root(self, size: int, last_rows: Sequence[bytes]) -> bytes:
        # Each set bit of size is one perfect subtree; the smaller ones sit to the right.
        hs = self._hs
        root: bytes | None = None
        for level in range(size.bit_length()):
            if (size >> level) & 1:
                node = last_rows[level][-hs:]
                root = node if root is None else self._h(NODE_PREFIX + node + root)
        return self._empty_root if root is None else root

    # --- appending ------------------------------------------------------------------------

    def stage(self, batch: WriteBatch, leaf_hashes: Sequence[bytes]) -> LogHead:
        """Append ``leaf_hashes``: put the new tiles and size into ``batch`` and return the head
        the log will have once the caller commits ``batch`` and calls ``commit_staged``.

        Raise ``RuntimeError`` if a stage is already pending and ``SchemaViolation`` if a leaf
        hash has the wrong length (nothing is staged then).
        """
        if self._staged is not None:
            raise RuntimeError("MerkleLog.stage called twice without commit_staged/discard_staged")
        hs = self._hs
        if leaf_hashes and set(map(len, leaf_hashes)) != {hs}:
            raise SchemaViolation(f"every leaf hash must be {hs} bytes", field="leaf_hashes")
        h = self._h
        old_size = self._head.size
        new_size = old_size + len(leaf_hashes)
        row_bytes = TILE_WIDTH * hs
        old_rows = self._last_rows
        new_rows = list(old_rows)
        writes: dict[bytes, bytes] = {}
        nodes = list(leaf_hashes)
        level = 0
        while nodes:
            count = old_size >> level
            blob = b"".join(nodes)
            row, col = divmod(count, TILE_WIDTH)
            pos = 0
            if col:
                pos = (TILE_WIDTH - col) * hs
                data = old_rows[level] + blob[:pos]
                writes[tile_key(level, row)] = data
                new_rows[level] = data
                row += 1
            while pos < len(blob):
                data = blob[pos : pos + row_bytes]
                writes[tile_key(level, row)] = data
                if level < len(new_rows):
                    new_rows[level] = data
                else:
                    new_rows.append(data)
                row += 1
                pos += row_bytes
            if count & 1:
                # The old last node of this level is the left child of the first new parent.
                nodes.insert(0, old_rows[level][-hs:])
            nodes = [h(NODE_PREFIX + a + b) for a, b in zip(nodes[::2], nodes[1::2], strict=False)]
            level += 1
        head = LogHead(new_size, self._frontier_root(new_size, new_rows))
        for key, value in writes.items():
            batch.put(TABLE, key, value)
        batch.put(TABLE, SIZE_KEY, new_size.to_bytes(8, "big"))
        self._staged = (head, new_rows)
        return head

    def commit_staged(self) -> LogHead:
        """Make the staged head current; call only after the store committed the batch."""
        if self._staged is None:
            raise RuntimeError("MerkleLog.commit_staged called with nothing staged")
        head, rows = self._staged
        self._last_rows = rows
        # One attribute assignment, so concurrent readers see the old or the new head, whole.
        self._head = head
        self._staged = None
        return head

    def discard_staged(self) -> None:
        """Forget the staged append (the batch was not committed); a no-op if none is pending."""
        self._staged = None

    # --- reading --------------------------------------------------------------------------

    def _check_size(self, name: str, size: int | None, head: LogHead) -> int:
        if size is None:
            return head.size
        size = _check_count(name, size)
        if size > head.size:
            raise NotFound(
                f"{name} {size} is beyond the log size {head.size}", field=name, log_size=head.size
            )
        return size

    def leaf_hash_at(self, index: int) -> bytes:
        """Return the leaf hash at ``index``; raise ``NotFound`` past the end of the log."""
        head = self._head
        index = _check_count("index", index)
        if index >= head.size:
            raise NotFound(f"no leaf {index} in a log of size {head.size}", index=index)
        return _TileReader(self._store, self._hs).node(0, index)

    def _range_root(self, reader: _TileReader, begin: int, end: int) -> bytes:
        """Root of leaves ``[begin, end)`` where ``begin`` is aligned to a power of two larger
        than ``end - begin``: the right edge of the tree of size ``end``."""
        h = self._h
        root: bytes | None = None
        # Perfect subtrees of decreasing size from `begin`; fold them right to left.
        for level in range((end - begin).bit_length()):
            if (end >> level) & 1:
                node = reader.node(level, (end >> level) - 1)
                root = node if root is None else h(NODE_PREFIX + node + root)
        assert root is not None, "empty range"
        return root

    def root_at(self, size: int) -> bytes:
        """Return the root of the log's first ``size`` leaves; ``NotFound`` if beyond the log."""
        head = self._head
        size = self._check_size("size", size, head)
        if size == head.size:
            return head.root
        if size == 0:
            return self._empty_root
        return self._range_root(_TileReader(self._store, self._hs), 0, size)

    def _path(self, reader: _TileReader, leaf: int, size: int, level: int) -> list[bytes]:
        """Siblings on the path from node ``(level, leaf >> level)`` to the root of the tree of
        ``size``, in the order ``merkle.root_from_inclusion_proof`` consumes them."""
        proof: list[bytes] = []
        fork = (leaf ^ (size - 1)).bit_length()
        for lv in range(level, fork):
            sibling = (leaf >> lv) ^ 1
            if (sibling + 1) << lv <= size:
                proof.append(reader.node(lv, sibling))
            else:
                # Only the sibling just below the fork can be cut off by the right edge.
                proof.append(self._range_root(reader, sibling << lv, size))
        for lv in range(max(fork, level), size.bit_length()):
            if (leaf >> lv) & 1:
                proof.append(reader.node(lv, (leaf >> lv) - 1))
        return proof

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves
        (default: the committed size); ``NotFound`` if the leaf or size is beyond the log."""
        head = self._head
        size = self._check_size("size", size, head)
        index = _check_count("index", index)
        if index >= size:
            raise NotFound(f"no leaf {index} in a tree of size {size}", index=index, size=size)
        return self._path(_TileReader(self._store, self._hs), index, size, 0)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the RFC 9162 consistency proof from the tree of ``size1`` leaves to the tree of
        ``size2`` (default: the committed size); empty if ``size1`` is 0 or equals ``size2``.

        Raise ``SchemaViolation`` if ``size1 > size2`` and ``NotFound`` if a size is beyond the log.
        """
        head = self._head
        size2 = self._check_size("size2", size2, head)
        size1 = _check_count("size1", size1)
        if size1 > size2:
            raise SchemaViolation(
                f"size1 {size1} is larger than size2 {size2}", field="size1", size2=size2
            )
        if size1 == 0 or size1 == size2:
            return []
        reader = _TileReader(self._store, self._hs)
        # The perfect subtree that ends the old tree seeds the proof (RFC 9162 SUBPROOF), and is
        # left out when it is the whole old tree, since the verifier then has it as root1.
        shift = (size1 & -size1).bit_length() - 1
        proof = [] if size1 == 1 << shift else [reader.node(shift, (size1 >> shift) - 1)]
        proof += self._path(reader, size1 - 1, size2, shift)
        return proof
