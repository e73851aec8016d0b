"""``BufferedStore``: deferred commits read like committed ones and reach the inner store
together, atomically; a Hypothesis state machine compares it with a ``MemoryStore`` that
receives every batch at once (the reference)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from govchain.storage.base import KVStore, WriteBatch
from govchain.storage.buffered import BufferedStore
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore

keys = st.binary(min_size=1, max_size=3)
values = st.none() | st.binary(max_size=4)
tables = st.sampled_from(["state", "entries"])


def batch_of(ops: list[tuple[str, bytes, bytes | None]]) -> WriteBatch:
    batch = WriteBatch()
    for table, key, value in ops:
        if value is None:
            batch.delete(table, key)
        else:
            batch.put(table, key, value)
    return batch


class BufferedMatchesReference(RuleBasedStateMachine):
    """Random batches, some deferred, random flushes: every read equals the reference's."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = MemoryStore()
        self.store = BufferedStore(self.inner)
        self.reference = MemoryStore()
        self.deferral: contextlib.ExitStack | None = None

    @rule(ops=st.lists(st.tuples(tables, keys, values), max_size=6))
    def commit(self, ops: list[tuple[str, bytes, bytes | None]]) -> None:
        self.store.commit(batch_of(ops))
        self.reference.commit(batch_of(ops))

    @precondition(lambda self: self.deferral is None)
    @rule()
    def defer(self) -> None:
        self.deferral = contextlib.ExitStack()
        self.deferral.enter_context(self.store.deferred())

    @precondition(lambda self: self.deferral is not None)
    @rule()
    def end_deferral(self) -> None:
        assert self.deferral is not None
        self.deferral.close()
        self.deferral = None
        assert self.store.pending() == 0

    @rule()
    def flush(self) -> None:
        self.store.flush()
        assert self.store.pending() == 0
        assert dump(self.store.inner) == dump(self.reference)

    @rule(table=tables, key=keys)
    def get(self, table: str, key: bytes) -> None:
        assert self.store.get(table, key) == self.reference.get(table, key)

    @rule(table=tables, ks=st.lists(keys, max_size=5))
    def get_many(self, table: str, ks: list[bytes]) -> None:
        assert self.store.get_many(table, ks) == [self.reference.get(table, k) for k in ks]

    @rule(table=tables, start=st.binary(max_size=2), end=st.none() | st.binary(max_size=2))
    def scan(self, table: str, start: bytes, end: bytes | None) -> None:
        for reverse in (False, True):
            mine = list(self.store.scan(table, start, end, reverse=reverse))
            ref = list(self.reference.scan(table, start, end, reverse=reverse))
            assert mine == ref

    @invariant()
    def inner_untouched_while_deferring(self) -> None:
        # Outside a deferral nothing waits in memory.
        if self.deferral is None:
            assert self.store.pending() == 0


def dump(store: KVStore) -> dict[str, list[tuple[bytes, bytes]]]:
    return {t: list(store.scan(t)) for t in ("state", "entries")}


class BufferedOverLmdbMatchesReference(BufferedMatchesReference):
    """The same over LMDB, each scan crossing read-transaction chunks of two items."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.mkdtemp(prefix="buffered-")
        self.store = BufferedStore(LmdbStore(self._dir, scan_chunk=2))

    def teardown(self) -> None:
        if self.deferral is not None:
            self.deferral.close()
        self.store.close()
        shutil.rmtree(self._dir, ignore_errors=True)


TestBufferedMatchesReference = BufferedMatchesReference.TestCase
TestBufferedMatchesReference.settings = settings(max_examples=60, stateful_step_count=30)
TestBufferedOverLmdbMatchesReference = BufferedOverLmdbMatchesReference.TestCase
TestBufferedOverLmdbMatchesReference.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None
)


@pytest.fixture
def lmdb_store(tmp_path: Path) -> Iterator[BufferedStore]:
    store = BufferedStore(LmdbStore(tmp_path / "db"))
    yield store
    store.close()


def test_deferred_commits_reach_the_inner_store_in_one_commit(lmdb_store: BufferedStore) -> None:
    inner = lmdb_store.inner
    with lmdb_store.deferred():
        for i in range(10):
            lmdb_store.commit(batch_of([("entries", bytes([i]), b"v%d" % i)]))
        assert lmdb_store.get("entries", b"\x05") == b"v5"
        assert inner.get("entries", b"\x05") is None  # not written yet
    assert lmdb_store.flushes == 1
    assert [k for k, _ in inner.scan("entries")] == [bytes([i]) for i in range(10)]


def test_an_exception_inside_a_deferral_still_writes_what_was_committed(
    lmdb_store: BufferedStore,
) -> None:
    with pytest.raises(RuntimeError), lmdb_store.deferred():
        lmdb_store.commit(batch_of([("entries", b"a", b"1")]))
        raise RuntimeError("a later block failed its checks")
    assert lmdb_store.inner.get("entries", b"a") == b"1"


def test_outside_a_deferral_every_commit_is_written_at_once(lmdb_store: BufferedStore) -> None:
    lmdb_store.commit(batch_of([("entries", b"a", b"1")]))
    assert lmdb_store.inner.get("entries", b"a") == b"1"
    assert lmdb_store.pending() == 0


def test_a_delete_in_the_overlay_hides_the_inner_value(lmdb_store: BufferedStore) -> None:
    lmdb_store.commit(batch_of([("state", b"k", b"old"), ("state", b"l", b"keep")]))
    with lmdb_store.deferred():
        lmdb_store.commit(batch_of([("state", b"k", None)]))
        assert lmdb_store.get("state", b"k") is None
        assert lmdb_store.get_many("state", [b"k", b"l"]) == [None, b"keep"]
        assert list(lmdb_store.scan("state")) == [(b"l", b"keep")]
    assert lmdb_store.inner.get("state", b"k") is None
