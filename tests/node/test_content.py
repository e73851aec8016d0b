"""The node's content store: files by hash, on disk (durable rename) or in memory; a file is
refused unless it hashes to the digest it is stored under, and re-hashed on every read."""

from __future__ import annotations

from pathlib import Path

import pytest

from govchain.crypto import get_suite
from govchain.errors import IntegrityError, NotFound, RootMismatch, SchemaViolation, TooLarge
from govchain.node import content
from govchain.node.content import ContentStore


@pytest.fixture(params=["disk", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ContentStore:
    root = tmp_path / "content" if request.param == "disk" else None
    return ContentStore(root, get_suite("gm").hash)


def test_round_trip_and_expected_digest(store: ContentStore) -> None:
    data = "完税证明".encode()
    digest = store.put(data)
    assert digest == get_suite("gm").hash(data).hex()  # SM3 on a gm network
    assert store.has(digest) and store.get(digest) == data
    assert store.put(data, expected=digest) == digest  # idempotent
    with pytest.raises(RootMismatch):
        store.put(b"other", expected=digest)
    with pytest.raises(NotFound):
        store.get("00" * 32)
    with pytest.raises(SchemaViolation):
        store.get("../../etc/passwd")


def test_a_file_altered_on_disk_is_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "c", get_suite("intl").hash)
    digest = store.put(b"licence")
    path = tmp_path / "c" / digest[:2] / digest
    path.write_bytes(b"licence, altered")
    with pytest.raises(IntegrityError, match=f"file {digest} now hashes to"):
        store.get(digest)
    assert not list((tmp_path / "c").rglob(".incoming-*"))


def test_size_limit(monkeypatch: pytest.MonkeyPatch, store: ContentStore) -> None:
    monkeypatch.setattr(content, "MAX_FILE_BYTES", 10)
    with pytest.raises(TooLarge):
        store.put(b"x" * 11)
