"""A Bloom filter over the key hashes of live state keys: "certainly absent" without a store read.

Contracts often look up keys that do not exist (a notarisation checks that its document is not
notarised yet): in LMDB such a lookup walks the B-tree to a leaf page, a few microseconds with
page faults on a large state. The state already holds every live key's hash (in its buckets, see
``ledger/state.py``), and those hashes are uniformly distributed, so they serve directly as the
filter's hash functions: no hashing of its own.

The filter answers ``kh in f`` with no false "absent" (every added hash is found) and few false
"present" (about 0.3 % at ``BITS_PER_KEY`` bits per key and three probes). It is local to one
process and never stored: the node rebuilds it from the buckets when it opens the state.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

BITS_PER_KEY = 16
"""Filter bits per key it is sized for (three probes: ~0.3 % false "present")."""
MIN_BITS = 1 << 20
"""Smallest filter (128 KiB): small states never need to grow."""

_PROBES = struct.Struct("<QQQ").unpack_from
"""The three probes: the hash's first three little-endian 64-bit words."""
_PROBE_BYTES = 24


class KeyFilter:
    """Bloom filter of 32-byte key hashes (three probes taken from the hash's own bytes)."""

    __slots__ = ("_bits", "_mask", "capacity", "count")

    def __init__(self, expected: int = 0) -> None:
        bits = max(MIN_BITS, 1 << (max(expected, 1) * BITS_PER_KEY - 1).bit_length())
        self._bits = bytearray(bits >> 3)
        self._mask = bits - 1
        self.capacity = bits // BITS_PER_KEY
        """How many keys the filter is sized for; beyond that, build a bigger one."""
        self.count = 0
        """How many hashes were added (with repeats)."""

    def add(self, key_hash: bytes) -> None:
        """Add a key hash (at least 24 bytes, uniformly distributed)."""
        self.add_many((key_hash,))

    def add_many(self, key_hashes: Iterable[bytes]) -> None:
        """Add key hashes (each at least 24 bytes, uniformly distributed)."""
        bits, mask, probes = self._bits, self._mask, _PROBES
        n = 0
        for key_hash in key_hashes:
            a, b, c = probes(key_hash)
            a &= mask
            b &= mask
            c &= mask
            bits[a >> 3] |= 1 << (a & 7)
            bits[b >> 3] |= 1 << (b & 7)
            bits[c >> 3] |= 1 << (c & 7)
            n += 1
        self.count += n

    def __contains__(self, key_hash: object) -> bool:
        """Return False only if ``key_hash`` was certainly never added."""
        if not isinstance(key_hash, bytes) or len(key_hash) < _PROBE_BYTES:
            return False
        bits, mask = self._bits, self._mask
        a, b, c = _PROBES(key_hash)
        a &= mask
        b &= mask
        c &= mask
        return bool(
            bits[a >> 3] & (1 << (a & 7))
            and bits[b >> 3] & (1 << (b & 7))
            and bits[c >> 3] & (1 << (c & 7))
        )

    def full(self) -> bool:
        """Return whether more keys were added than the filter is sized for."""
        return self.count > self.capacity
