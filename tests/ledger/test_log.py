"""Tests of ``govchain.ledger.log.MerkleLog``: the tiled log against the RFC reference generators.

Reference-vs-fast in the style of transparency-dev/merkle ``testonly/reference_test.go``: every
root and proof the log serves must equal the one from the slow RFC recursion in
``govchain.ledger.merkle`` and verify with the pure verifiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from govchain.errors import IntegrityError, NotFound, ProofError, SchemaViolation
from govchain.ledger.log import SIZE_KEY, TABLE, TILE_WIDTH, LogHead, MerkleLog, tile_key
from govchain.ledger.merkle import (
    leaf_hash,
    reference_consistency_proof,
    reference_inclusion_proof,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from govchain.storage.base import KVStore, WriteBatch
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def make_leaves(start: int, count: int, salt: bytes = b"") -> list[bytes]:
    """Distinct leaf hashes for log positions ``start .. start + count - 1``."""
    return [leaf_hash(sha256, salt + i.to_bytes(8, "big")) for i in range(start, start + count)]


def append(log: MerkleLog, store: KVStore, leaves: list[bytes]) -> LogHead:
    """Stage, commit to the store, then commit the log: the node's commit path."""
    batch = WriteBatch()
    head = log.stage(batch, leaves)
    store.commit(batch)
    assert log.commit_staged() == head
    return head


def check_everything(log: MerkleLog, leaves: list[bytes]) -> None:
    """Every root, leaf, inclusion and consistency proof of every size equals the reference."""
    n = len(leaves)
    assert log.size == n
    roots = [root_of(sha256, leaves[:s]) for s in range(n + 1)]
    assert log.root == roots[n]
    for size in range(n + 1):
        assert log.root_at(size) == roots[size]
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert proof == reference_inclusion_proof(sha256, leaves[:size], index)
            verify_inclusion(sha256, index, size, leaves[index], proof, roots[size])
        for size1 in range(size + 1):
            proof = log.consistency_proof(size1, size)
            assert proof == reference_consistency_proof(sha256, leaves[:size], size1)
            verify_consistency(sha256, size1, size, proof, roots[size1], roots[size])
    for index in range(n):
        assert log.leaf_hash_at(index) == leaves[index]


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 12), max_size=6), st.binary(max_size=4))
def test_small_logs_match_the_reference_for_every_size(batches: list[int], salt: bytes) -> None:
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    leaves: list[bytes] = []
    for k in batches:
        new = make_leaves(len(leaves), k, salt)
        head = append(log, store, new)
        leaves += new
        assert head == LogHead(len(leaves), root_of(sha256, leaves))
    check_everything(log, leaves)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 700), min_size=1, max_size=4), st.data())
def test_logs_across_tile_rows_match_the_reference(batches: list[int], data: st.DataObject) -> None:
    # Up to 2,800 leaves: rows of 256 end on levels 0 to 3, and the partial last rows are
    # rewritten across several stage/commit calls.
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    leaves: list[bytes] = []
    for k in batches:
        leaves += make_leaves(len(leaves), k)
        append(log, store, leaves[len(leaves) - k :])
    n = len(leaves)
    assert log.root == root_of(sha256, leaves)
    for _ in range(4):
        size = data.draw(st.integers(0, n), label="size")
        root = root_of(sha256, leaves[:size])
        assert log.root_at(size) == root
        size1 = data.draw(st.integers(0, size), label="size1")
        proof = log.consistency_proof(size1, size)
        assert proof == reference_consistency_proof(sha256, leaves[:size], size1)
        verify_consistency(sha256, size1, size, proof, log.root_at(size1), root)
        if size:
            index = data.draw(st.integers(0, size - 1), label="index")
            proof = log.inclusion_proof(index, size)
            assert proof == reference_inclusion_proof(sha256, leaves[:size], index)
            verify_inclusion(sha256, index, size, log.leaf_hash_at(index), proof, root)


class LogMachine(RuleBasedStateMachine):
    """Appends, failed appends and reopenings of one log, checked against a plain list."""

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.log = MerkleLog(self.store, sha256)
        self.leaves: list[bytes] = []

    @rule(k=st.integers(0, 300) | st.integers(0, 5))
    def append_block(self, k: int) -> None:
        new = make_leaves(len(self.leaves), k)
        append(self.log, self.store, new)
        self.leaves += new

    @rule(k=st.integers(0, 40))
    def fail_block(self, k: int) -> None:
        # The store commit failed: the batch is dropped and the log must not move.
        before = self.log.head
        batch = WriteBatch()
        staged = self.log.stage(batch, make_leaves(len(self.leaves), k, b"lost"))
        assert staged.size == before.size + k
        self.log.discard_staged()
        assert self.log.head == before

    @rule()
    def reopen(self) -> None:
        self.log = MerkleLog(self.store, sha256)

    @precondition(lambda self: self.leaves)
    @rule(data=st.data())
    def proofs_verify(self, data: st.DataObject) -> None:
        n = len(self.leaves)
        size = data.draw(st.integers(1, n))
        index = data.draw(st.integers(0, size - 1))
        size1 = data.draw(st.integers(0, size))
        root = self.log.root_at(size)
        proof = self.log.inclusion_proof(index, size)
        assert proof == reference_inclusion_proof(sha256, self.leaves[:size], index)
        verify_inclusion(sha256, index, size, self.leaves[index], proof, root)
        proof = self.log.consistency_proof(size1, size)
        verify_consistency(sha256, size1, size, proof, self.log.root_at(size1), root)
        if proof:
            # A flipped bit never passes and never raises anything but ProofError.
            bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
            with pytest.raises(ProofError):
                verify_consistency(sha256, size1, size, bad, self.log.root_at(size1), root)

    @invariant()
    def head_matches_reference(self) -> None:
        assert self.log.size == len(self.leaves)
        assert self.log.root == root_of(sha256, self.leaves)


TestLogMachine = LogMachine.TestCase
TestLogMachine.settings = settings(max_examples=30, stateful_step_count=15, deadline=None)


# --- persistence ------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "lmdb"])
def reopenable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], KVStore]]:
    """A factory that returns the same store's contents on every call (reopening LMDB)."""
    opened: list[KVStore] = []
    if request.param == "memory":
        memory = MemoryStore()
        opened.append(memory)

        def again() -> KVStore:
            return memory
    else:

        def again() -> KVStore:
            for store in opened:
                store.close()
            opened.clear()
            opened.append(LmdbStore(tmp_path / "db"))
            return opened[0]

    yield again
    for store in opened:
        store.close()


def test_reopened_log_serves_the_same_roots_and_proofs(reopenable: Callable[[], KVStore]) -> None:
    store = reopenable()
    log = MerkleLog(store, sha256)
    leaves: list[bytes] = []
    for k in (1, 300, 0, 5, 600):
        leaves += make_leaves(len(leaves), k)
        append(log, store, leaves[len(leaves) - k :])
    sizes = (1, 257, 300, 906)
    expected = (
        log.head,
        [log.root_at(s) for s in sizes],
        [log.inclusion_proof(i, s) for i in (0, 256) for s in sizes if i < s],
        [log.consistency_proof(a, b) for a in sizes for b in sizes if a <= b],
    )

    store = reopenable()
    log = MerkleLog(store, sha256)
    again = (
        log.head,
        [log.root_at(s) for s in sizes],
        [log.inclusion_proof(i, s) for i in (0, 256) for s in sizes if i < s],
        [log.consistency_proof(a, b) for a in sizes for b in sizes if a <= b],
    )
    assert again == expected
    assert log.head == LogHead(906, root_of(sha256, leaves))
    # A reopened log appends where the old one stopped.
    more = make_leaves(len(leaves), 70)
    assert append(log, store, more) == LogHead(976, root_of(sha256, leaves + more))


def test_discard_leaves_log_and_store_unchanged() -> None:
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    append(log, store, make_leaves(0, 10))
    before = (log.head, dict(store.scan(TABLE)))

    batch = WriteBatch()
    staged = log.stage(batch, make_leaves(10, 300))
    assert staged.size == 310
    assert log.head == before[0]  # staging does not move the head
    assert log.inclusion_proof(9) == reference_inclusion_proof(sha256, make_leaves(0, 10), 9)
    log.discard_staged()
    assert (log.head, dict(store.scan(TABLE))) == before
    assert MerkleLog(store, sha256).head == before[0]

    # After the discard a different block can be staged and committed.
    other = make_leaves(10, 3, b"other")
    assert append(log, store, other) == LogHead(13, root_of(sha256, make_leaves(0, 10) + other))


def test_stage_protocol_errors() -> None:
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    with pytest.raises(RuntimeError):
        log.commit_staged()
    log.discard_staged()  # nothing pending: a no-op, so it is safe in cleanup paths
    batch = WriteBatch()
    log.stage(batch, make_leaves(0, 2))
    with pytest.raises(RuntimeError):
        log.stage(WriteBatch(), make_leaves(2, 2))
    log.discard_staged()
    for bad in ([b"short"], [*make_leaves(0, 2), b"x" * 33]):
        batch = WriteBatch()
        with pytest.raises(SchemaViolation):
            log.stage(batch, bad)
        assert len(batch) == 0
    append(log, store, [])  # an empty block still commits the (unchanged) size
    assert log.head == LogHead(0, sha256(b""))


def test_out_of_range_requests_raise_typed_errors() -> None:
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    append(log, store, make_leaves(0, 5))
    not_found: list[Callable[[], object]] = [
        lambda: log.leaf_hash_at(5),
        lambda: log.root_at(6),
        lambda: log.inclusion_proof(5),
        lambda: log.inclusion_proof(3, 3),
        lambda: log.inclusion_proof(0, 6),
        lambda: log.consistency_proof(1, 6),
    ]
    for call in not_found:
        with pytest.raises(NotFound):
            call()
    schema: list[Callable[[], object]] = [
        lambda: log.leaf_hash_at(-1),
        lambda: log.root_at(-1),
        lambda: log.inclusion_proof(-1),
        lambda: log.inclusion_proof(True),
        lambda: log.consistency_proof(4, 3),
        lambda: log.consistency_proof(-1),
    ]
    for call in schema:
        with pytest.raises(SchemaViolation):
            call()
    assert log.consistency_proof(0) == [] and log.consistency_proof(5, 5) == []
    assert log.root_at(0) == sha256(b"")


def test_open_detects_tiles_that_do_not_match_the_size() -> None:
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    append(log, store, make_leaves(0, 10))
    batch = WriteBatch()
    batch.put(TABLE, SIZE_KEY, (11).to_bytes(8, "big"))
    store.commit(batch)
    with pytest.raises(IntegrityError):
        MerkleLog(store, sha256)
    batch = WriteBatch()
    batch.put(TABLE, SIZE_KEY, (10).to_bytes(8, "big"))
    batch.delete(TABLE, tile_key(1, 0))
    store.commit(batch)
    with pytest.raises(IntegrityError):
        MerkleLog(store, sha256)


def test_tile_layout() -> None:
    # Level byte, then the row as 8 bytes big-endian; rows hold TILE_WIDTH hashes.
    assert tile_key(3, 0x0102) == b"\x03" + b"\x00" * 6 + b"\x01\x02"
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    leaves = make_leaves(0, TILE_WIDTH + 3)
    append(log, store, leaves)
    assert store.get(TABLE, tile_key(0, 0)) == b"".join(leaves[:TILE_WIDTH])
    assert store.get(TABLE, tile_key(0, 1)) == b"".join(leaves[TILE_WIDTH:])
    assert store.get(TABLE, tile_key(8, 0)) == log.root_at(TILE_WIDTH)
    assert store.get(TABLE, tile_key(9, 0)) is None
    assert store.get(TABLE, SIZE_KEY) == (TILE_WIDTH + 3).to_bytes(8, "big")


def test_hundred_thousand_leaves() -> None:
    store = MemoryStore()
    log = MerkleLog(store, sha256)
    leaves = make_leaves(0, 100_000)
    for start in range(0, len(leaves), 5_000):
        append(log, store, leaves[start : start + 5_000])
    assert log.root == root_of(sha256, leaves)
    for index, size in [(0, 100_000), (99_999, 100_000), (65_535, 65_537), (12_345, 77_777)]:
        proof = log.inclusion_proof(index, size)
        assert proof == reference_inclusion_proof(sha256, leaves[:size], index)
        verify_inclusion(sha256, index, size, leaves[index], proof, log.root_at(size))
    for size1, size2 in [(1, 100_000), (65_536, 100_000), (54_321, 99_999), (99_999, 100_000)]:
        proof = log.consistency_proof(size1, size2)
        verify_consistency(sha256, size1, size2, proof, log.root_at(size1), log.root_at(size2))
    assert log.consistency_proof(54_321, 65_537) == reference_consistency_proof(
        sha256, leaves[:65_537], 54_321
    )
