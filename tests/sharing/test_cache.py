"""The state cache of the owner node's read path: read-through, forgets exactly what each
committed block wrote, never keeps a value read while a block committed, and always answers
what the committed state holds (a stateful comparison with the store it caches)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from govchain.sharing.cache import StateCache

KEYS = st.sampled_from([b"c/sharing/res/a", b"c/sharing/grant/g1", b"m/tax/admin", b"absent"])
VALUES = st.one_of(st.none(), st.binary(min_size=1, max_size=8))


def test_reads_through_and_forgets_what_a_block_wrote() -> None:
    store = {b"k1": b"v1", b"k2": b"v2"}
    loads: list[bytes] = []

    def load(key: bytes) -> bytes | None:
        loads.append(key)
        return store.get(key)

    cache = StateCache(load)
    assert cache.get(b"k1") == b"v1" and cache.get(b"k1") == b"v1"
    assert cache.get(b"none") is None and cache.get(b"none") is None
    assert loads == [b"k1", b"none"]  # absent keys are remembered too
    store[b"k1"] = b"v1'"
    store[b"none"] = b"now"
    cache.committed([b"k1", b"none"])
    assert cache.get(b"k1") == b"v1'" and cache.get(b"none") == b"now"
    assert cache.get(b"k2") == b"v2"
    assert loads == [b"k1", b"none", b"k1", b"none", b"k2"]


def test_a_value_read_while_a_block_commits_is_not_kept() -> None:
    store = {b"grant": b"active"}
    racing = [True]
    cache: StateCache

    def load(key: bytes) -> bytes | None:
        value = store.get(key)
        if racing.pop() if racing else False:
            # The revocation commits after this read saw the old value, and is announced
            # before the reader stores what it read.
            store[b"grant"] = b"revoked"
            cache.committed([b"grant"])
        return value

    cache = StateCache(load)
    assert cache.get(b"grant") == b"active"  # what it read, as if read a moment earlier ...
    assert len(cache) == 0  # ... but not kept
    assert cache.get(b"grant") == b"revoked"
    assert len(cache) == 1


def test_a_full_cache_starts_again() -> None:
    cache = StateCache(lambda k: k, max_entries=3)
    for k in (b"a", b"b", b"c", b"d"):
        assert cache.get(k) == k
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0


class CacheMatchesTheStore(RuleBasedStateMachine):
    """Blocks write keys (and are announced), readers read: the cache answers like the store."""

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[bytes, bytes | None] = {}
        self.cache = StateCache(self.store.get, max_entries=3)

    @rule(writes=st.dictionaries(KEYS, VALUES, max_size=3))
    def commit_block(self, writes: dict[bytes, bytes | None]) -> None:
        self.store.update(writes)
        self.cache.committed(writes)

    @rule(key=KEYS)
    def read(self, key: bytes) -> None:
        assert self.cache.get(key) == self.store.get(key)

    @invariant()
    def every_key_reads_as_stored(self) -> None:
        for key in (b"c/sharing/res/a", b"m/tax/admin"):
            assert self.cache.get(key) == self.store.get(key)


TestCacheMatchesTheStore = CacheMatchesTheStore.TestCase
TestCacheMatchesTheStore.settings = settings(max_examples=60, stateful_step_count=30)
