"""The access log: append, per-user history, and verification that catches any tampering."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.errors import IntegrityError, SchemaViolation
from govchain.identity.accesslog import AccessLog, verify_entries
from govchain.identity.records import PREFIX, TABLE, RecordStore
from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore


def make() -> tuple[MemoryStore, AccessLog]:
    store = MemoryStore()
    return store, AccessLog(RecordStore(store), clock=lambda: 1_800_000_000.0)


def test_append_history_verify() -> None:
    _, log = make()
    log.append("citizen/a", "login", {"client": "portal"})
    log.append("citizen/b", "login_failed", {"client": "portal"})
    log.append("citizen/a", "page_viewed", {"page": "/services/permits"})
    log.append("citizen/a", "service_started", {"service": "permits"})
    assert log.verify() == {"size": 4, "head": log.head()[1], "verified": True}
    hist = log.history("citizen/a")
    assert [e.event for e in hist] == ["service_started", "page_viewed", "login"]
    assert [e.event for e in log.history("citizen/b")] == ["login_failed"]
    assert log.history("citizen/c") == []
    with pytest.raises(SchemaViolation):
        log.append("citizen/a", "deleted_everything")


def _rewrite(store: MemoryStore, seq: int, **change: object) -> None:
    key = PREFIX + f"alog/e/{seq:016d}".encode()
    obj = orjson.loads(store.get(TABLE, key) or b"")
    obj.update(change)
    batch = WriteBatch()
    batch.put(TABLE, key, orjson.dumps(obj))
    store.commit(batch)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 8), data=st.data())
def test_any_tampering_is_detected(n: int, data: st.DataObject) -> None:
    store, log = make()
    for i in range(n):
        log.append(f"citizen/{i % 3}", "page_viewed", {"page": f"/p/{i}"})
    seq = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["detail", "user", "delete_last", "truncate"]))
    if kind == "detail":
        _rewrite(store, seq, detail={"page": "/elsewhere"})
    elif kind == "user":
        _rewrite(store, seq, user="citizen/x")
    else:
        batch = WriteBatch()
        batch.delete(TABLE, PREFIX + f"alog/e/{n - 1:016d}".encode())
        store.commit(batch)
    with pytest.raises(IntegrityError):
        log.verify()


def test_verify_entries_reports_reordering() -> None:
    _, log = make()
    for i in range(3):
        log.append("u", "login", {"n": i})
    size, head = log.head()
    entries = log.entries()
    assert verify_entries(entries, size, head) == head
    with pytest.raises(IntegrityError):
        verify_entries([entries[1], entries[0], entries[2]], size, head)
