"""The key filter of the state: never a false "absent", few false "present", and the state's
``get_value`` through it equals a plain model while the state grows past the filter's size."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.ledger import keyfilter
from govchain.ledger.keyfilter import KeyFilter
from govchain.ledger.state import StateWrite, WorldState
from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=300))
def test_every_added_hash_is_found(hashes: list[bytes]) -> None:
    f = KeyFilter(len(hashes))
    for kh in hashes:
        f.add(kh)
    assert all(kh in f for kh in hashes)


def test_false_present_is_rare() -> None:
    f = KeyFilter(20_000)
    for i in range(20_000):
        f.add(h(b"in%d" % i))
    false = sum(h(b"out%d" % i) in f for i in range(20_000))
    assert false < 20_000 * 0.01  # sized for ~0.3 %
    assert b"short" not in f and None not in f


def test_state_answers_through_a_growing_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyfilter, "MIN_BITS", 64)  # room for 4 keys: grows many times
    store = MemoryStore()
    ws = WorldState(store, h, 16)
    model: dict[bytes, bytes] = {}
    for height in range(1, 21):
        writes = []
        for i in range(15):
            key = b"k%d" % ((height * 15 + i) % 200)
            value = None if i % 7 == 3 else os.urandom(8)
            writes.append(StateWrite(key, value, i, b"tx"))
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        batch = WriteBatch()
        ws.stage(batch, writes, height)
        store.commit(batch)
        ws.commit_staged()
        for n in range(220):
            key = b"k%d" % n
            assert ws.get_value(key) == model.get(key), key
    reopened = WorldState(store, h, 16)
    assert all(reopened.get_value(b"k%d" % n) == model.get(b"k%d" % n) for n in range(220))
