"""Batches: one RFC 6962 Merkle tree over many document digests, so a department notarises
10,000 records in one transaction and each document still gets its own inclusion proof.

Leaves are the raw 32-byte digests (leaf hash ``H(0x00 || digest)``), in the order given; the
root is what the ``notarise_batch`` call records. Proofs are the RFC 6962 ``PATH`` and verify with
``govchain.ledger.merkle.verify_inclusion``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from govchain.errors import ProofError
from govchain.ledger import merkle
from govchain.ledger.merkle import HashFn


@dataclass(frozen=True, slots=True)
class BatchProof:
    """Where one document sits in a batch."""

    root: str
    """Batch root (hex), as recorded on-chain."""
    index: int
    """Position of the document in the batch."""
    size: int
    """Number of documents in the batch."""
    path: tuple[str, ...]
    """Inclusion proof (hex hashes, leaf to root)."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (kept in the document's receipt file)."""
        return {"root": self.root, "index": self.index, "size": self.size, "path": list(self.path)}

    @staticmethod
    def from_json(obj: Any) -> BatchProof:
        """Parse the JSON form (``ProofError`` if malformed)."""
        try:
            root, index, size, path = obj["root"], obj["index"], obj["size"], obj["path"]
            if type(index) is not int or type(size) is not int or type(root) is not str:
                raise TypeError
            return BatchProof(root, index, size, tuple(str(p) for p in path))
        except (KeyError, TypeError):
            raise ProofError("batch proof must have root, index, size and path") from None

    def root_for(self, h: HashFn, digest: str) -> bytes:
        """Return the root the proof implies for ``digest`` (``ProofError`` if malformed)."""
        try:
            path = [bytes.fromhex(p) for p in self.path]
            leaf = merkle.leaf_hash(h, bytes.fromhex(digest))
        except ValueError:
            raise ProofError("batch proof holds non-hex hashes") from None
        return merkle.root_from_inclusion_proof(h, self.index, self.size, leaf, path)


def build_batch(h: HashFn, digests: Sequence[str]) -> tuple[str, list[BatchProof]]:
    """Return the batch root and every document's proof (O(n) hashing)."""
    if not digests:
        raise ProofError("a batch needs at least one document")
    leaves = [merkle.leaf_hash(h, bytes.fromhex(d)) for d in digests]
    memo: dict[tuple[int, int], bytes] = {}

    def root(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        found = memo.get((lo, hi))
        if found is None:
            k = _split(hi - lo)
            found = merkle.node_hash(h, root(lo, lo + k), root(lo + k, hi))
            memo[(lo, hi)] = found
        return found

    paths: list[list[bytes]] = [[] for _ in leaves]
    # RFC 6962 PATH(m, D[lo:hi]): the sibling subtree's root follows the path inside the half.
    stack = [(0, len(leaves))]
    while stack:
        lo, hi = stack.pop()
        if hi - lo == 1:
            continue
        k = _split(hi - lo)
        left, right = root(lo, lo + k), root(lo + k, hi)
        for i in range(lo, lo + k):
            paths[i].append(right)
        for i in range(lo + k, hi):
            paths[i].append(left)
        stack.append((lo, lo + k))
        stack.append((lo + k, hi))
    top = root(0, len(leaves)).hex()
    size = len(leaves)
    return top, [
        BatchProof(top, i, size, tuple(p.hex() for p in reversed(path)))
        for i, path in enumerate(paths)
    ]


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (RFC 6962's split point)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k
