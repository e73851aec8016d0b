"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs (pure functions).

Leaves are hashed as ``H(0x00 || data)`` and interior nodes as ``H(0x01 || left || right)``;
``H`` is the network suite's hash (SHA-256 for ``intl``, SM3 for ``gm``).
"""

from __future__ import annotations

from collections.abc import Callable

HashFn = Callable[[bytes], bytes]
"""A 32-byte hash function such as ``CryptoSuite.hash``."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(h: HashFn, data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash of ``data``."""
    return h(LEAF_PREFIX + data)


def node_hash(h: HashFn, left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash of two children."""
    return h(NODE_PREFIX + left + right)
