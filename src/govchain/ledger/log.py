"""The transaction log: an append-only RFC 9162 Merkle tree over leaf hashes, kept in a ``KVStore``.

Storage layout (table ``"log"``; ``tiles.py`` reads it, and finds a stored node at fault):

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from govchain.errors import GovchainError, IntegrityError, NotFound, ProofError, SchemaViolation
from govchain.ledger import merkle
from govchain.ledger.merkle import NODE_PREFIX, HashFn
from govchain.ledger.tiles import (
    SIZE_KEY,
    TABLE,
    TILE_WIDTH,
    LeafOf,
    TileReader,
    bad_leaf,
    find_bad_node,
    frontier_root,
    node_is_wrong,
    tile_key,
)
from govchain.storage.base import KVStore, WriteBatch

__all__ = ["SIZE_KEY", "TABLE", "TILE_WIDTH", "LogHead", "MerkleLog", "tile_key"]


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


HeightOf = Callable[[int], int]
"""The height of the block that holds a log index."""


class MerkleLog:
    """The append-only transaction log over ``store`` (table ``"log"``), hashing with ``h``.

    Appends go through ``stage`` -> (caller commits the batch) -> ``commit_staged`` or
    ``discard_staged``; the in-memory head only moves once the store holds the new tiles.
    Proof and root methods read committed tiles only and may run while a stage is pending.

    The ``check_*`` methods check what was read from the tiles against the committed head
    (whose root was computed in memory as the log grew) or a signed root, and raise
    ``IntegrityError`` naming the tile at fault; ``height_of`` and ``leaf_of`` (from the
    ledger) let that error name the block, and tell a corrupt leaf from a corrupt parent.
    """

    def __init__(
        self,
        store: KVStore,
        h: HashFn,
        *,
        height_of: HeightOf | None = None,
        leaf_of: LeafOf | None = None,
    ) -> None:
        """Open the log in ``store``, rebuilding the right edge from the stored size and tiles."""
        self._store = store
        self._h = h
        self._height_of = height_of
        self._leaf_of = leaf_of
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
                    table=TABLE,
                    key=tile_key(level, row).hex(),
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
        return frontier_root(self._h, size, last_rows)

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

    def staged_size(self) -> int | None:
        """Return the size the log will have once the pending stage is committed (``None``: no
        append is pending). A reader that finds data beyond ``size`` in the store is racing a
        commit if this covers it."""
        staged = self._staged
        return None if staged is None else staged[0].size

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
        return TileReader(self._store, self._hs).node(0, index)

    def leaf_hashes(self, begin: int, end: int) -> list[bytes]:
        """Return the leaf hashes ``[begin, end)`` (``NotFound`` past the end of the log)."""
        head = self._head
        if not 0 <= begin <= end or end > head.size:
            raise NotFound(f"no leaves [{begin}, {end}) in a log of size {head.size}")
        hs = self._hs
        out: list[bytes] = []
        for row in range(begin // TILE_WIDTH, -(-end // TILE_WIDTH)):
            base = row * TILE_WIDTH
            lo, hi = max(begin, base) - base, min(end, base + TILE_WIDTH) - base
            data = self._store.get(TABLE, tile_key(0, row))
            if data is None or len(data) < hi * hs:
                raise IntegrityError(
                    f"log tile (0, {row}) is missing or too short",
                    table=TABLE,
                    key=tile_key(0, row).hex(),
                    level=0,
                    row=row,
                )
            out += [data[i * hs : (i + 1) * hs] for i in range(lo, hi)]
        return out

    def _range_root(self, reader: TileReader, begin: int, end: int) -> bytes:
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
        return self._range_root(TileReader(self._store, self._hs), 0, size)

    def _path(self, reader: TileReader, leaf: int, size: int, level: int) -> list[bytes]:
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
        return self._path(TileReader(self._store, self._hs), index, size, 0)

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
        reader = TileReader(self._store, self._hs)
        # The perfect subtree that ends the old tree seeds the proof (RFC 9162 SUBPROOF), and is
        # left out when it is the whole old tree, since the verifier then has it as root1.
        shift = (size1 & -size1).bit_length() - 1
        proof = [] if size1 == 1 << shift else [reader.node(shift, (size1 >> shift) - 1)]
        proof += self._path(reader, size1 - 1, size2, shift)
        return proof

    # --- checking what was read against the committed head ---------------------------------

    def check_root(self, size: int, root: bytes) -> None:
        """Check that ``root`` (read from the tiles) is the root of the first ``size`` leaves,
        by a consistency proof to the committed head; ``IntegrityError`` naming the tile at
        fault if not."""
        head = self._head
        size = self._check_size("size", size, head)
        if size == head.size:
            ok = root == head.root
        elif size == 0:
            ok = root == self._empty_root
        else:
            try:
                merkle.verify_consistency(
                    self._h,
                    size,
                    head.size,
                    self.consistency_proof(size, head.size),
                    root,
                    head.root,
                )
                ok = True
            except ProofError:
                ok = False
        if not ok:
            raise self.fault(f"the root of the log's first {size} entries")

    def check_inclusion(
        self, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
    ) -> None:
        """Check that an inclusion proof read from the tiles leads from ``leaf_hash`` to
        ``root`` (the committed or a signed root); ``IntegrityError`` naming the tile at fault
        if not."""
        try:
            merkle.verify_inclusion(self._h, index, size, leaf_hash, proof, root)
        except ProofError:
            raise self.fault(f"the inclusion proof of log entry {index}", size, root) from None

    def check_consistency(
        self, size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
    ) -> None:
        """Check roots and a consistency proof read from the tiles: each root against the
        committed head, and the proof between them; ``IntegrityError`` naming the tile at
        fault if not."""
        self.check_root(size1, root1)
        self.check_root(size2, root2)
        if 0 < size1 < size2:
            try:
                merkle.verify_consistency(self._h, size1, size2, proof, root1, root2)
            except ProofError:
                raise self.fault(f"the consistency proof from {size1} to {size2}") from None

    def check_leaf(self, index: int) -> None:
        """Check that the stored leaf ``index`` proves into the committed head."""
        head = self._head
        leaf = self.leaf_hash_at(index)
        self.check_inclusion(
            index, head.size, leaf, self.inclusion_proof(index, head.size), head.root
        )

    def fault(
        self, what: str, size: int | None = None, root: bytes | None = None
    ) -> IntegrityError:
        """Return the error for ``what`` (read from the tiles) not leading to the root it must:
        it names the lowest stored node of the tree of ``size`` leaves (default: the committed
        head) that is not the hash of its children (or the leaf that is not its log entry's),
        its tile and the block whose entries completed it. ``root`` is the trusted root of that
        tree (default: the committed one; a signed header's at startup)."""
        head = self._head
        if size is None or root is None:
            size, root = head.size, head.root
        found = find_bad_node(self._store, self._h, size)
        if found is None:
            return IntegrityError(
                f"{what} does not lead to the root it is checked against, yet every stored "
                "tile is consistent: the signed root differs from the log",
                table=TABLE,
                key=SIZE_KEY.hex(),
                log_size=head.size,
            )
        level, index, reason = found
        # At level 1 the node or one of its leaves may be the one changed.
        wrong = level > 1 or reason is not None
        if not wrong and not node_is_wrong(self._store, self._h, 1, index, size, root):
            level, index, reason = bad_leaf(self._store, self._hs, index, self._leaf_of)
        row = index // TILE_WIDTH
        last_leaf = ((index + 1) << level) - 1
        height = self._block_of(min(last_leaf, head.size - 1))
        detail = reason or (
            "is not the leaf hash of its log entry"
            if level == 0
            else "is not the hash of its two children"
        )
        where = f"block {height}: " if height is not None else ""
        return IntegrityError(
            f"{where}{what} does not verify: in log tile ({level}, {row}), node {index} of "
            f"level {level} {detail}",
            table=TABLE,
            key=tile_key(level, row).hex(),
            height=height,
            level=level,
            row=row,
            index=index,
        )

    def _block_of(self, index: int) -> int | None:
        """The height of the block holding leaf ``index``, if the ledger can tell."""
        if self._height_of is None:
            return None
        try:
            return self._height_of(index)
        except GovchainError:
            return None  # a corrupt header is reported by its own check
