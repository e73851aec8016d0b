"""The transaction log's tiles as stored (table ``"log"``): their keys, a reader of the nodes
they hold, and the search for a stored node that is not what the tree says.

- ``level (1 byte) || row (8 bytes big-endian)`` -> the hashes of nodes ``256 * row ..`` of that
  level, concatenated. Level 0 holds the leaf hashes; the node ``(level, index)`` is the root of
  the perfect subtree over leaves ``[index << level, (index + 1) << level)``.
- ``b"size"`` -> the committed number of leaves (8 bytes big-endian).

A stored node at level 1 or above is the hash of its two children; the search (``find_bad_node``)
checks that of every node, and names the lowest one that fails: there, either the node or (at
level 1 only) one of its leaves was changed, which ``node_is_wrong`` and ``bad_leaf`` tell apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from govchain.errors import IntegrityError
from govchain.ledger.merkle import NODE_PREFIX, HashFn
from govchain.storage.base import KVStore

TABLE = "log"
"""The storage table that holds the log's tiles and size."""

SIZE_KEY = b"size"
"""Key of the committed log size (8 bytes big-endian)."""

TILE_WIDTH = 256
"""Node hashes per tile row."""


def tile_key(level: int, row: int) -> bytes:
    """Return the storage key of tile row ``row`` of tree level ``level``."""
    return bytes((level,)) + row.to_bytes(8, "big")


LeafOf = Callable[[int], bytes | None]
"""The leaf hash a log index should have, from the stored log entry (``None``: unknown)."""


class TileReader:
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
                raise IntegrityError(
                    f"log tile ({level}, {row}) is missing",
                    table=TABLE,
                    key=tile_key(level, row).hex(),
                    level=level,
                    row=row,
                )
            self._rows[(level, row)] = data
        out = data[col * self._hs : (col + 1) * self._hs]
        if len(out) != self._hs:
            raise IntegrityError(
                f"log tile ({level}, {row}) is too short",
                table=TABLE,
                key=tile_key(level, row).hex(),
                level=level,
                row=row,
            )
        return out


def frontier_root(h: HashFn, size: int, last_rows: Sequence[bytes]) -> bytes:
    """Return the root of a tree of ``size`` leaves from the last tile row of each level: each
    set bit of ``size`` is one perfect subtree, the smaller ones to the right."""
    hs = len(h(b""))
    root: bytes | None = None
    for level in range(size.bit_length()):
        if (size >> level) & 1:
            node = last_rows[level][-hs:]
            root = node if root is None else h(NODE_PREFIX + node + root)
    return h(b"") if root is None else root


def find_bad_node(store: KVStore, h: HashFn, size: int) -> tuple[int, int, str | None] | None:
    """Return ``(level, index, reason)`` of the lowest stored node of the tree of ``size`` that
    is malformed (``reason``) or, above the leaves, not the hash of its two children (``None``);
    ``None`` if every node is. A full pass over the tiles (``size`` hashes), made only once a
    check has failed."""
    hs = len(h(b""))
    below: dict[int, bytes] = {}
    for level in range(size.bit_length()):
        count = size >> level
        rows: dict[int, bytes] = {}
        for row in range(-(-count // TILE_WIDTH)):
            data = store.get(TABLE, tile_key(level, row))
            want = min(TILE_WIDTH, count - row * TILE_WIDTH) * hs
            if data is None or len(data) < want:
                return level, row * TILE_WIDTH, "is missing (the tile is too short)"
            rows[row] = data
            if level == 0:
                continue
            children = below.get(2 * row, b"") + below.get(2 * row + 1, b"")
            for col in range(want // hs):
                pair = children[2 * col * hs : (2 * col + 2) * hs]
                if data[col * hs : (col + 1) * hs] != h(NODE_PREFIX + pair):
                    return level, row * TILE_WIDTH + col, None
        below = rows
    return None


def node_is_wrong(
    store: KVStore, h: HashFn, level: int, index: int, size: int, root: bytes
) -> bool:
    """Return whether node ``(level, index)`` of the tree of ``size`` leaves and ``root`` (the
    committed one), which disagrees with its children, is itself wrong rather than a child: its
    parent disagrees with it, or, where it has no parent yet, the right edge misses ``root``."""
    reader = TileReader(store, len(h(b"")))
    parent = index >> 1
    if (parent + 1) << (level + 1) <= size:
        left, right = reader.node(level, parent << 1), reader.node(level, (parent << 1) | 1)
        return reader.node(level + 1, parent) != h(NODE_PREFIX + left + right)
    last_rows = [
        store.get(TABLE, tile_key(lv, ((size >> lv) - 1) // TILE_WIDTH)) or b""
        for lv in range(size.bit_length())
    ]
    return frontier_root(h, size, last_rows) != root


def bad_leaf(
    store: KVStore, hs: int, parent: int, leaf_of: LeafOf | None
) -> tuple[int, int, str | None]:
    """Return ``(0, index, reason)`` of the leaf under the (right) level-1 node ``parent`` that
    is not its log entry's leaf hash; the left one, saying so, if the entries cannot tell."""
    reader = TileReader(store, hs)
    for index in (parent << 1, (parent << 1) | 1):
        expected = None if leaf_of is None else leaf_of(index)
        if expected is not None and reader.node(0, index) != expected:
            return 0, index, None
    return 0, parent << 1, "or its neighbour is not the leaf hash of its log entry"
