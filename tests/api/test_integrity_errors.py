"""A node answers stored corruption with ``500 integrity_error`` (problem+json) naming the
table, the key and the block at fault, and never serves the corrupt record.

The node runs; one stored record at a time is altered under it (as a failing disk would), the
route that serves it is asked, and the record is restored: the same route then answers 200 again
(nothing corrupt was cached as good)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest

from govchain.contracts.kv import state_key
from govchain.ledger.blocks import height_key
from govchain.ledger.log import tile_key
from govchain.ledger.state_proof import bucket_of
from govchain.node.node import Node
from govchain.storage.base import KVStore, WriteBatch

JSON = {"content-type": "application/json"}


@pytest.fixture
def chain(client: Any, signer: Any, node: Node) -> list[Any]:
    """Three blocks: 12 puts, 8 puts, then a second version of ``a0``."""
    txs = [signer.put(f"a{i}", {"n": i}) for i in range(12)]
    for batch in (txs[:12], [signer.put(f"b{i}", i) for i in range(8)], [signer.put("a0", 7)]):
        body = orjson.dumps([t.envelope() for t in batch])
        r = client.post(
            "/v1/transactions/batch", content=body, headers=JSON, params={"wait": "true"}
        )
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
    assert node.ledger.height == 3 and node.ledger.log.size == 21
    return txs


@contextmanager
def altered(store: KVStore, table: str, key: bytes, value: bytes) -> Iterator[None]:
    old = store.get(table, key)
    assert old is not None and old != value
    batch = WriteBatch()
    batch.put(table, key, value)
    store.commit(batch)
    try:
        yield
    finally:
        batch = WriteBatch()
        batch.put(table, key, old)
        store.commit(batch)


def at(raw: bytes, marker: bytes, offset: int, new: bytes) -> bytes:
    """``raw`` with the byte ``offset`` bytes after ``marker`` replaced by ``new``."""
    i = raw.index(marker) + len(marker) + offset
    assert raw[i : i + 1] != new
    return raw[:i] + new + raw[i + 1 :]


def assert_integrity_error(r: Any, table: str, key: bytes, height: int | None) -> dict[str, Any]:
    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = r.json()
    assert doc["code"] == "integrity_error" and doc["type"] == "/problems/integrity_error"
    assert (doc["table"], doc["key"], doc["height"]) == (table, key.hex(), height), doc
    return doc


def test_a_flipped_hex_digit_of_a_checkpoint_signature_is_not_served(
    client: Any, node: Node, chain: list[Any]
) -> None:
    store = node.ledger.store
    key = height_key(3)
    raw = store.get("checkpoints", key) or b""
    digit = raw[raw.index(b'"signature":"') + 13 + 5 : raw.index(b'"signature":"') + 13 + 6]
    bad = at(raw, b'"signature":"', 5, b"0" if digit != b"0" else b"1")
    with altered(store, "checkpoints", key, bad):
        for url in ("/v1/checkpoints/3", "/v1/checkpoints/latest", "/v1/kv/a1"):
            doc = assert_integrity_error(client.get(url), "checkpoints", key, 3)
            assert "does not verify" in doc["detail"]
        receipt = client.get(f"/v1/transactions/{chain[0].tx_id.hex()}/receipt")
        assert_integrity_error(receipt, "checkpoints", key, 3)
    assert client.get("/v1/checkpoints/3").json()["signatures"]  # intact again: served


def test_a_flipped_byte_of_a_checkpoints_json_is_an_integrity_error_not_422(
    client: Any, node: Node, chain: list[Any]
) -> None:
    store = node.ledger.store
    key = height_key(2)
    raw = store.get("checkpoints", key) or b""
    for bad in (at(raw, b'"checkpoint":{"', 2, b"X"), at(raw, b'"log_size":', 0, b"9")):
        with altered(store, "checkpoints", key, bad):
            assert_integrity_error(client.get("/v1/checkpoints/2"), "checkpoints", key, 2)
    assert client.get("/v1/checkpoints/2").status_code == 200


def test_a_flipped_header_byte_is_not_served(client: Any, node: Node, chain: list[Any]) -> None:
    store = node.ledger.store
    key = height_key(2)
    raw = store.get("blocks", key) or b""
    with altered(store, "blocks", key, at(raw, b'"timestamp_ms":', 3, b"7")):
        doc = assert_integrity_error(client.get("/v1/blocks/2"), "blocks", key, 2)
        assert "proposer signature" in doc["detail"]
    assert client.get("/v1/blocks/2").status_code == 200


def test_a_flipped_log_entry_is_not_served(client: Any, node: Node, chain: list[Any]) -> None:
    store = node.ledger.store
    key = (4).to_bytes(8, "big")
    raw = store.get("entries", key) or b""
    tx_id = chain[4].tx_id.hex()
    with altered(store, "entries", key, raw.replace(b'"n":4', b'"n":5')):
        assert_integrity_error(client.get("/v1/blocks/1?entries=true"), "entries", key, 1)
        assert_integrity_error(client.get(f"/v1/transactions/{tx_id}"), "entries", key, 1)
        assert_integrity_error(client.get(f"/v1/transactions/{tx_id}/receipt"), "entries", key, 1)
    assert client.get(f"/v1/transactions/{tx_id}").json()["log_index"] == 4


def test_a_flipped_transaction_index_is_not_served(
    client: Any, node: Node, chain: list[Any]
) -> None:
    store = node.ledger.store
    tx_id = chain[6].tx_id
    raw = store.get("txindex", tx_id) or b""
    # The log index (last 8 bytes) points at another transaction of the same block.
    bad = raw[:-1] + bytes([raw[-1] ^ 1])
    with altered(store, "txindex", tx_id, bad):
        doc = assert_integrity_error(
            client.get(f"/v1/transactions/{tx_id.hex()}"), "txindex", tx_id, 1
        )
        assert "points to log entry 7" in doc["detail"]
    assert client.get(f"/v1/transactions/{tx_id.hex()}").json()["log_index"] == 6


def test_a_flipped_log_tile_node_is_not_served(client: Any, node: Node, chain: list[Any]) -> None:
    store = node.ledger.store
    # Node 1 of level 1 (over leaves 2 and 3) is on the inclusion path of leaf 0 and in the
    # consistency proof from size 1; the startup check would not read it.
    key = tile_key(1, 0)
    raw = store.get("log", key) or b""
    bad = raw[:32] + bytes([raw[32] ^ 0x80]) + raw[33:]
    with altered(store, "log", key, bad):
        doc = assert_integrity_error(client.get("/v1/log/inclusion?index=0&size=20"), "log", key, 1)
        assert "node 1 of level 1" in doc["detail"] and doc["level"] == 1 and doc["index"] == 1
        assert_integrity_error(client.get("/v1/log/consistency?from=1&to=21"), "log", key, 1)
        assert_integrity_error(
            client.get(f"/v1/transactions/{chain[0].tx_id.hex()}/receipt"), "log", key, 1
        )
    assert client.get("/v1/log/inclusion?index=0&size=20").status_code == 200


def test_a_flipped_leaf_hash_names_the_leaf_not_its_parent(
    client: Any, node: Node, chain: list[Any]
) -> None:
    store = node.ledger.store
    key = tile_key(0, 0)
    raw = store.get("log", key) or b""
    bad = raw[: 13 * 32] + bytes([raw[13 * 32] ^ 1]) + raw[13 * 32 + 1 :]  # leaf 13 (block 2)
    with altered(store, "log", key, bad):
        doc = assert_integrity_error(client.get("/v1/log/inclusion?index=13"), "log", key, 2)
        assert (doc["level"], doc["index"]) == (0, 13)
        # Its entry is intact: reading it names the tile, not the entry.
        assert_integrity_error(client.get("/v1/blocks/2?entries=true"), "log", key, 2)


def test_a_flipped_state_value_is_not_served(client: Any, node: Node, chain: list[Any]) -> None:
    store = node.ledger.store
    skey = state_key("a5")
    raw = store.get("state", skey) or b""
    with altered(store, "state", skey, raw.replace(b'"n":5', b'"n":6')):
        assert_integrity_error(client.get("/v1/kv/a5"), "state", skey, 1)
    assert client.get("/v1/kv/a5").json()["value"] == {"n": 5}


def test_a_flipped_state_bucket_is_not_served(client: Any, node: Node, chain: list[Any]) -> None:
    store = node.ledger.store
    skey = state_key("b3")
    bucket = bucket_of(node.ledger.h(skey), node.ledger.state.n_buckets)
    key = bucket.to_bytes(4, "big")
    raw = store.get("buckets", key) or b""
    with altered(store, "buckets", key, bytes([raw[0] ^ 1]) + raw[1:]):
        doc = assert_integrity_error(client.get("/v1/kv/b3"), "buckets", key, 2)
        assert f"state bucket {bucket}" in doc["detail"]
    assert client.get("/v1/kv/b3").json()["value"] == 3


def test_a_flipped_history_record_is_not_served(client: Any, node: Node, chain: list[Any]) -> None:
    store = node.ledger.store
    skey = state_key("a0")
    # The first version of a0: block 1, first write of the block.
    hkey = (1).to_bytes(8, "big") + (0).to_bytes(4, "big")
    raw = store.get("history", hkey) or b""
    assert raw.endswith(b'{"n":0}')
    # Its height field (bytes 9..16 of the record) says block 3.
    bad = raw[:16] + b"\x03" + raw[17:]
    with altered(store, "history", hkey, bad):
        doc = assert_integrity_error(
            client.get(f"/v1/state/{skey.decode()}/history"), "history", hkey, 1
        )
        assert "height 3" in doc["detail"]
    versions = client.get(f"/v1/state/{skey.decode()}/history").json()["versions"]
    assert [v["height"] for v in versions] == [3, 1]


def test_the_problem_catalogue_describes_integrity_errors(client: Any) -> None:
    doc = client.get("/problems/integrity_error").json()
    assert doc["status"] == 500 and doc["code"] == "integrity_error"
