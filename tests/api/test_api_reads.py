"""Reading blocks, state with proofs, checkpoints, log proofs and health over HTTP, and
checking every proof the way an independent client would."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from govchain.api.deps import get_node
from govchain.api.views import present_value
from govchain.crypto import get_suite
from govchain.ledger import merkle
from govchain.ledger.blocks import BlockHeader
from govchain.ledger.checkpoints import SignedCheckpoint, verify_checkpoint
from govchain.ledger.encoding import canonical_bytes
from govchain.ledger.state_proof import StateProof, verify_state_proof

JSON = {"content-type": "application/json"}


def commit(client: Any, *txs: Any) -> None:
    body = orjson.dumps([t.envelope() for t in txs])
    r = client.post("/v1/transactions/batch", content=body, headers=JSON)
    assert r.status_code == 200 and r.json()["rejected"] == 0, r.text


def check_state(doc: dict[str, Any], key: bytes, genesis: Any) -> bytes | None:
    """Verify a state answer like a client: quorum checkpoint, then the proof to its root."""
    suite = get_suite(genesis.suite)
    assert doc["key_hex"] == key.hex()
    signed = SignedCheckpoint.from_json(doc["checkpoint"])
    verify_checkpoint(suite, genesis, signed)
    value = None
    if doc["exists"]:
        v = doc["value"]
        value = canonical_bytes(v) if doc["value_encoding"] == "json" else bytes.fromhex(v)
    verify_state_proof(
        suite.hash,
        signed.checkpoint.state_root,
        key,
        value,
        StateProof.from_json(doc["proof"]),
        genesis.params.state_buckets,
    )
    return value


def test_blocks_latest_and_by_height(client, signer, network, node) -> None:
    assert client.get("/v1/blocks/latest").status_code == 404
    first = [signer.put(f"a{i}", i) for i in range(3)]
    commit(client, *first)
    second = signer.put("b", "二")
    commit(client, second)
    genesis = network.genesis()
    suite = get_suite(genesis.suite)

    latest = client.get("/v1/blocks/latest").json()
    assert latest["height"] == node.ledger.height
    assert latest["tx_ids"] == [second.tx_id.hex()]
    assert "entries" not in latest
    header = BlockHeader.from_json(latest["header"])
    assert header.hash(suite.hash).hex() == latest["block_hash"]
    proposer_key = genesis.department(header.proposer).node_key
    assert suite.verify(proposer_key, header.signing_message(), bytes.fromhex(latest["signature"]))

    ids = []
    for h in range(1, latest["height"] + 1):
        b = client.get(f"/v1/blocks/{h}", params={"entries": "true"}).json()
        assert b["height"] == h
        assert [e["tx_id"] for e in b["entries"]] == b["tx_ids"]
        for e in b["entries"]:
            assert e["receipt"]["status"] == "ok"
            assert e["tx"]["body"]["signer"] == "tax/admin"
        ids += b["tx_ids"]
    assert ids == [t.tx_id.hex() for t in [*first, second]]
    assert client.get(f"/v1/blocks/{latest['height'] + 1}").status_code == 404
    assert client.get("/v1/blocks/0").status_code == 422


def test_state_value_and_absence_are_proven_against_the_checkpoint(client, signer, network):
    genesis = network.genesis()
    commit(client, signer.put("permit/1", {"holder": "某某公司", "fee_fen": 1200}))
    doc = client.get("/v1/state/c/kv/permit/1").json()
    assert doc["exists"] and doc["value"] == {"holder": "某某公司", "fee_fen": 1200}
    assert doc["value_encoding"] == "json" and doc["version"] == 1 and doc["height"] == 1
    assert check_state(doc, b"c/kv/permit/1", genesis) is not None

    kv = client.get("/v1/kv/permit/1").json()
    assert kv == doc

    missing = client.get("/v1/kv/never-written").json()
    assert not missing["exists"] and missing["version"] is None
    assert check_state(missing, b"c/kv/never-written", genesis) is None

    # A proof is only good for what it proves: another value does not verify.
    doc["value"] = {"holder": "某某公司", "fee_fen": 1}
    with pytest.raises(Exception, match="proof"):
        check_state(doc, b"c/kv/permit/1", genesis)


def test_deleted_key_history_and_hex_keys(client, signer, network) -> None:
    genesis = network.genesis()
    commit(client, signer.put("k", 1))
    commit(client, signer.put("k", 2))
    commit(client, signer.tx("kv", "delete", {"key": "k"}))
    doc = client.get("/v1/kv/k").json()
    assert not doc["exists"] and doc["version"] == 3
    assert check_state(doc, b"c/kv/k", genesis) is None

    hist = client.get("/v1/state/c/kv/k/history").json()
    assert [(v["version"], v["exists"], v["value"]) for v in hist["versions"]] == [
        (3, False, None),
        (2, True, 2),
        (1, True, 1),
    ]
    assert len(client.get("/v1/state/c/kv/k/history", params={"limit": 1}).json()["versions"]) == 1

    by_hex = client.get("/v1/state/" + b"c/kv/k".hex(), params={"encoding": "hex"}).json()
    assert by_hex["key_hex"] == b"c/kv/k".hex() and by_hex["version"] == 3
    member = client.get("/v1/state/sys/member/tax/admin").json()
    assert member["exists"] and member["value"]["id"] == "tax/admin"
    assert client.get("/v1/state/zz", params={"encoding": "hex"}).status_code == 422


def test_present_value_shows_non_canonical_bytes_as_hex() -> None:
    assert present_value(b'{"a":1}') == ({"a": 1}, "json")
    assert present_value(b'{ "a": 1 }') == ("7b202261223a2031207d", "hex")
    assert present_value(b"1.5") == ("312e35", "hex")
    assert present_value(b"\xff") == ("ff", "hex")
    assert present_value(None) == (None, None)


def test_checkpoints_carry_a_quorum(client, signer, network) -> None:
    assert client.get("/v1/checkpoints/latest").status_code == 404
    commit(client, signer.put("x", 1))
    commit(client, signer.put("y", 2))
    genesis = network.genesis()
    suite = get_suite(genesis.suite)
    latest = client.get("/v1/checkpoints/latest").json()
    signed = SignedCheckpoint.from_json(latest)
    assert signed.checkpoint.height == 2
    assert len(verify_checkpoint(suite, genesis, signed, required=4)) == 4
    one = SignedCheckpoint.from_json(client.get("/v1/checkpoints/1").json())
    assert one.checkpoint.height == 1 and one.checkpoint.log_size == 1
    assert client.get("/v1/checkpoints/3").status_code == 404


def test_consistency_and_inclusion_proofs_verify(client, signer, network, node) -> None:
    suite = get_suite(network.genesis().suite)
    commit(client, *[signer.put(f"c{i}", i) for i in range(3)])
    old = client.get("/v1/checkpoints/latest").json()["checkpoint"]
    commit(client, *[signer.put(f"d{i}", i) for i in range(5)])
    new = client.get("/v1/checkpoints/latest").json()["checkpoint"]

    doc = client.get("/v1/log/consistency", params={"from": 3, "to": 8}).json()
    assert (doc["from"], doc["to"]) == (3, 8)
    assert doc["from_root"] == old["log_root"] and doc["to_root"] == new["log_root"]
    merkle.verify_consistency(
        suite.hash,
        3,
        8,
        [bytes.fromhex(p) for p in doc["proof"]],
        bytes.fromhex(old["log_root"]),
        bytes.fromhex(new["log_root"]),
    )
    assert client.get("/v1/log/consistency", params={"from": 3}).json()["to"] == 8

    inc = client.get("/v1/log/inclusion", params={"index": 4, "size": 8}).json()
    entry = node.ledger.entry_bytes(4)
    assert inc["leaf_hash"] == merkle.leaf_hash(suite.hash, entry).hex()
    merkle.verify_inclusion(
        suite.hash,
        4,
        8,
        bytes.fromhex(inc["leaf_hash"]),
        [bytes.fromhex(p) for p in inc["proof"]],
        bytes.fromhex(new["log_root"]),
    )
    bad = client.get("/v1/log/consistency", params={"from": 5, "to": 4})
    assert bad.status_code == 422 and bad.json()["code"] == "schema_violation"
    beyond = client.get("/v1/log/consistency", params={"from": 1, "to": 99})
    assert beyond.status_code == 404
    assert client.get("/v1/log/inclusion", params={"index": 8}).status_code == 404


def test_health_and_healthz(client, signer) -> None:
    commit(client, signer.put("h", 1))
    for path in ("/v1/health", "/healthz"):
        r = client.get(path)
        assert r.status_code == 200
        doc = r.json()
        assert doc["status"] == "ok" and doc["height"] == 1 and doc["committer_running"]


def test_health_is_503_when_the_node_failed(app, client, node) -> None:
    class FailedNode:
        def health(self) -> dict[str, Any]:
            return {**node.health(), "status": "failed", "error": {"code": "integrity_error"}}

    app.dependency_overrides[get_node] = FailedNode
    r = client.get("/v1/health")
    assert r.status_code == 503
    assert r.json()["status"] == "failed"


def test_openapi_and_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/v1/transactions",
        "/v1/transactions/batch",
        "/v1/transactions/{tx_id}",
        "/v1/transactions/{tx_id}/receipt",
        "/v1/blocks/latest",
        "/v1/blocks/{height}",
        "/v1/state/{key}",
        "/v1/kv/{key}",
        "/v1/checkpoints/latest",
        "/v1/log/consistency",
        "/v1/log/inclusion",
        "/v1/health",
    ):
        assert p in paths, p
    body = paths["/v1/transactions"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["body", "signature"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


def test_docs_are_served_without_a_cdn(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/docs-static/swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text.replace(
        "https://swagger.io", ""
    )
    js = client.get("/docs-static/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/openapi.json").json()["info"]["title"] == "govchain node API"
