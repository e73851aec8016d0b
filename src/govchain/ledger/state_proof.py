"""State proofs: that a key has a value (or none) under a state root — pure functions.

The layout they check is the bucketed tree of ``ledger/state.py``: key ``k`` lives in bucket
``int.from_bytes(H(k)[:4], "big") % n_buckets`` as the 64-byte entry ``H(k) || H(value)``; a
bucket's digest is ``leaf_hash`` of its sorted entries and the root is the perfect binary tree
(``node_hash``) over all bucket digests. A proof is the bucket's entries plus the sibling path.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govchain.errors import ProofError, RootMismatch, SchemaViolation
from govchain.ledger.merkle import HashFn, leaf_hash, node_hash

ENTRY_SIZE = 64
"""Bytes of one bucket entry: ``H(key) || H(value)``."""


@dataclass(frozen=True, slots=True)
class StateProof:
    """Proof that a key has a value (or none) under a state root."""

    bucket: int
    """Bucket number of the key."""
    entries: tuple[bytes, ...]
    """The bucket's 64-byte entries ``H(key) || H(value)``, strictly ascending."""
    path: tuple[bytes, ...]
    """Sibling hashes from the bucket's digest up to the root (``log2(n_buckets)`` of them)."""

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-friendly form (byte strings as lowercase hex)."""
        return {
            "bucket": self.bucket,
            "entries": [e.hex() for e in self.entries],
            "path": [p.hex() for p in self.path],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> StateProof:
        """Parse the form of ``to_json``; raises ``SchemaViolation`` if it is malformed."""
        if not isinstance(obj, Mapping) or set(obj) != {"bucket", "entries", "path"}:
            raise SchemaViolation("a state proof has exactly bucket, entries and path")
        bucket = obj["bucket"]
        if type(bucket) is not int or not 0 <= bucket < 2**32:
            raise SchemaViolation("state proof bucket must be an integer in [0, 2^32)")
        return cls(bucket, _hex_list(obj["entries"], "entries"), _hex_list(obj["path"], "path"))


def _hex_list(items: Any, name: str) -> tuple[bytes, ...]:
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise SchemaViolation(f"state proof {name} must be a list of hex strings")
    try:
        return tuple(bytes.fromhex(x) for x in items)
    except ValueError:
        raise SchemaViolation(f"state proof {name} holds a string that is not hex") from None


def bucket_of(key_hash: bytes, n_buckets: int) -> int:
    """Return the bucket of a key from its hash ``H(key)``."""
    return int.from_bytes(key_hash[:4], "big") % n_buckets


def check_n_buckets(n_buckets: int) -> int:
    """Return the tree depth ``log2(n_buckets)``; raise unless it is a power of two <= 2^32."""
    if type(n_buckets) is not int or n_buckets < 1 or n_buckets & (n_buckets - 1):
        raise ValueError(f"n_buckets must be a power of two, not {n_buckets!r}")
    depth = n_buckets.bit_length() - 1
    if depth > 32:
        raise ValueError("n_buckets must be at most 2^32")
    return depth


def state_root_from_proof(
    h: HashFn, key: bytes, value: bytes | None, proof: StateProof, n_buckets: int
) -> bytes:
    """Return the root implied by ``proof`` for ``key`` having ``value`` (``None``: absent).

    Raises ``ProofError`` if the proof is malformed or contradicts the claim on its own.
    """
    depth = check_n_buckets(n_buckets)
    key_hash = h(key)
    if proof.bucket != bucket_of(key_hash, n_buckets):
        raise ProofError("state proof is for another bucket", bucket=proof.bucket)
    if len(proof.path) != depth:
        raise ProofError(f"state proof path has {len(proof.path)} hashes, expected {depth}")
    entries = proof.entries
    for i, e in enumerate(entries):
        if len(e) != ENTRY_SIZE:
            raise ProofError("state proof entry is not 64 bytes", index=i)
        if i and entries[i - 1] >= e:
            raise ProofError("state proof entries are not strictly ascending", index=i)
        if bucket_of(e, n_buckets) != proof.bucket:
            raise ProofError("state proof entry belongs to another bucket", index=i)
    pos = bisect.bisect_left(entries, key_hash)
    found = pos < len(entries) and entries[pos].startswith(key_hash)
    if value is None:
        if found:
            raise ProofError("state proof shows the key as present")
    elif not found or entries[pos] != key_hash + h(value):
        raise ProofError("state proof does not show the key with this value")
    node = leaf_hash(h, b"".join(entries))
    index = proof.bucket
    for sibling in proof.path:
        if len(sibling) != len(node):
            raise ProofError("state proof path hash has the wrong length")
        node = node_hash(h, sibling, node) if index & 1 else node_hash(h, node, sibling)
        index >>= 1
    return node


def verify_state_proof(
    h: HashFn, root: bytes, key: bytes, value: bytes | None, proof: StateProof, n_buckets: int
) -> None:
    """Check that under ``root`` the current value of ``key`` is ``value`` (``None``: absent).

    Raises ``ProofError``, or ``RootMismatch`` if the proof is well formed but leads elsewhere.
    """
    calculated = state_root_from_proof(h, key, value, proof, n_buckets)
    if calculated != root:
        raise RootMismatch("state proof", root, calculated)
