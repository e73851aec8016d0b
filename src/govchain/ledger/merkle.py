"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs (pure functions).

Leaves are hashed as ``H(0x00 || data)`` and interior nodes as ``H(0x01 || left || right)``;
``H`` is the network suite's hash (SHA-256 for ``intl``, SM3 for ``gm``).

Verification is compute-then-compare, in the shape of transparency-dev/merkle ``proof/verify.go``:
``root_from_*`` computes the root(s) a proof implies, ``verify_*`` compares them with the trusted
ones and raises ``RootMismatch``. A proof of the wrong length for its (index, size) is a
``ProofError`` before any hashing. The ``reference_*`` generators follow the RFC's recursive
``PATH`` / ``PROOF`` definitions literally; they are slow and exist as the oracle for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from govchain.errors import ProofError, RootMismatch

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


def root_of(h: HashFn, leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 Merkle Tree Hash (MTH) of a list of leaf hashes.

    The empty tree's root is ``h(b"")``. Pairing left to right level by level and carrying an odd
    last node up unchanged gives exactly the RFC's "split at the largest power of two" tree.
    """
    if not leaf_hashes:
        return h(b"")
    level = list(leaf_hashes)
    while len(level) > 1:
        parents = [h(NODE_PREFIX + a + b) for a, b in zip(level[::2], level[1::2], strict=False)]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split the proof for leaf ``index`` of a tree of ``size`` into (inner, border) lengths.

    ``inner`` levels lie below the node where the paths to ``index`` and to ``size - 1`` fork;
    above it, the proof has one left sibling per set bit of ``index`` (the "border").
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(h: HashFn, seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, p in enumerate(proof):
        seed = h(NODE_PREFIX + seed + p) if (index >> i) & 1 == 0 else h(NODE_PREFIX + p + seed)
    return seed


def _chain_inner_right(h: HashFn, seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # Only left siblings belong to the older tree; right siblings were appended later.
    for i, p in enumerate(proof):
        if (index >> i) & 1:
            seed = h(NODE_PREFIX + p + seed)
    return seed


def _chain_border_right(h: HashFn, seed: bytes, proof: Sequence[bytes]) -> bytes:
    for p in proof:
        seed = h(NODE_PREFIX + p + seed)
    return seed


def root_from_inclusion_proof(
    h: HashFn, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root implied by ``proof`` that leaf ``index`` with ``leaf_hash`` is in a tree
    of ``size`` leaves; raise ``ProofError`` if the index or the proof length is impossible."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for index {index} in size {size} has {len(proof)} hashes,"
            f" expected {inner + border}"
        )
    res = _chain_inner(h, leaf_hash, proof[:inner], index)
    return _chain_border_right(h, res, proof[inner:])


def verify_inclusion(
    h: HashFn, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``index`` with ``leaf_hash`` is in the tree of ``size`` with ``root``;
    raise ``ProofError`` or ``RootMismatch`` if not."""
    calculated = root_from_inclusion_proof(h, index, size, leaf_hash, proof)
    if calculated != root:
        raise RootMismatch("inclusion proof", root, calculated)


def root_from_consistency_proof(
    h: HashFn, size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> tuple[bytes, bytes]:
    """Return ``(root1, root2)`` as calculated from a consistency proof between sizes
    ``0 < size1 <= size2``, given the trusted older root ``root1``.

    The first value must equal the trusted ``root1`` and the second the newer root for the proof
    to hold; ``verify_consistency`` does both comparisons. Raise ``ProofError`` for impossible
    sizes or a proof of the wrong length. A proof from the empty tree (``size1 == 0``) is always
    empty and implies no root, so it is rejected here and handled by ``verify_consistency``.
    """
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof computes roots for sizes {size1} -> {size2}")
    if size1 == size2:
        if proof:
            raise ProofError(f"consistency proof for equal sizes {size1} must be empty")
        return root1, root1
    if not proof:
        raise ProofError(f"consistency proof for sizes {size1} -> {size2} is empty")
    inner, border = _decompose(size1 - 1, size2)
    # The lowest `shift` levels under leaf size1 - 1 are one perfect subtree of the old tree.
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    if size1 == 1 << shift:
        # The old tree is itself that perfect subtree, so the proof omits it: seed with root1.
        seed, rest = root1, proof
    else:
        seed, rest = proof[0], proof[1:]
    if len(rest) != inner + border:
        raise ProofError(
            f"consistency proof for sizes {size1} -> {size2} has {len(proof)} hashes,"
            f" expected {len(proof) - len(rest) + inner + border}"
        )
    mask = (size1 - 1) >> shift
    calc1 = _chain_border_right(h, _chain_inner_right(h, seed, rest[:inner], mask), rest[inner:])
    calc2 = _chain_border_right(h, _chain_inner(h, seed, rest[:inner], mask), rest[inner:])
    return calc1, calc2


def verify_consistency(
    h: HashFn, size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with
    ``root1`` (RFC 9162 section 2.1.4.2); raise ``ProofError`` or ``RootMismatch`` if not."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"consistency sizes must satisfy 0 <= {size1} <= {size2}")
    if size1 == 0:
        # Every tree extends the empty tree; RFC 9162 defines no proof for it.
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    calc1, calc2 = root_from_consistency_proof(h, size1, size2, proof, root1)
    if calc1 != root1:
        raise RootMismatch("consistency proof (old root)", root1, calc1)
    if calc2 != root2:
        raise RootMismatch("consistency proof (new root)", root2, calc2)


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def reference_inclusion_proof(h: HashFn, leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return ``PATH(index, D[n])`` of RFC 9162 section 2.1.3.1, by the literal recursion.

    Slow (it rehashes whole subtrees); the oracle for tests, not for production use.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ProofError(f"leaf index {index} is outside a tree of size {n}")
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if index < k:
        return [*reference_inclusion_proof(h, leaf_hashes[:k], index), root_of(h, leaf_hashes[k:])]
    return [*reference_inclusion_proof(h, leaf_hashes[k:], index - k), root_of(h, leaf_hashes[:k])]


def _reference_subproof(
    h: HashFn, m: int, leaf_hashes: Sequence[bytes], complete: bool
) -> list[bytes]:
    n = len(leaf_hashes)
    if m == n:
        return [] if complete else [root_of(h, leaf_hashes)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_reference_subproof(h, m, leaf_hashes[:k], complete), root_of(h, leaf_hashes[k:])]
    return [*_reference_subproof(h, m - k, leaf_hashes[k:], False), root_of(h, leaf_hashes[:k])]


def reference_consistency_proof(h: HashFn, leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """Return ``PROOF(size1, D[n])`` of RFC 9162 section 2.1.4.1, by the literal recursion
    (empty for ``size1`` 0 or ``n``). Slow; the oracle for tests, not for production use."""
    n = len(leaf_hashes)
    if not 0 <= size1 <= n:
        raise ProofError(f"consistency size {size1} is outside 0..{n}")
    if size1 == 0:
        return []
    return _reference_subproof(h, size1, leaf_hashes, True)
