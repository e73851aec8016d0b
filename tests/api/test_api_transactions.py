"""Submitting transactions over HTTP: one or a batch, waiting or not, and reading them back."""

from __future__ import annotations

import time
from typing import Any

import orjson

from govchain.api.app import create_app
from govchain.crypto import get_suite
from govchain.ledger.bundles import verify_bundle
from govchain.node.embedded import open_embedded

JSON = {"content-type": "application/json"}


def post_tx(client: Any, tx: Any, wait: bool = True) -> Any:
    return client.post("/v1/transactions", content=tx.encode(), params={"wait": wait}, headers=JSON)


def test_submit_and_wait_returns_the_committed_receipt(client, signer, node) -> None:
    tx = signer.put("permit/1", {"holder": "某某餐饮有限公司", "fee_fen": 12000})
    r = post_tx(client, tx)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["tx_id"] == tx.tx_id.hex()
    assert doc["status"] == "committed"
    assert doc["receipt"]["status"] == "ok"
    assert doc["receipt"]["result"] == {"key": "permit/1"}
    assert r.headers["location"] == f"/v1/transactions/{tx.tx_id.hex()}"
    # Acknowledged means durable: the ledger already has it where the answer says.
    loc = node.ledger.locate(tx.tx_id)
    assert (doc["height"], doc["index"], doc["log_index"]) == (loc.height, loc.index, loc.log_index)


def test_get_transaction_and_receipt_bundle_verifies_offline(client, signer, network) -> None:
    first = signer.put("a", 1)
    tx = signer.put("b", [1, 2, 3])
    assert post_tx(client, first).status_code == 200
    assert post_tx(client, tx).status_code == 200

    doc = client.get(f"/v1/transactions/{tx.tx_id.hex()}").json()
    assert doc["status"] == "committed"
    assert doc["tx"] == tx.envelope()
    assert doc["receipt"]["status"] == "ok"

    r = client.get(f"/v1/transactions/{tx.tx_id.hex()}/receipt")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    genesis = network.genesis()
    verified = verify_bundle(r.json(), genesis, get_suite(genesis.suite))
    assert verified.tx_id == tx.tx_id.hex()
    assert verified.result == {"key": "b"}
    assert verified.signature_checked
    assert len(verified.checkpoint_signers) >= genesis.quorum()


def test_submit_without_wait_is_pending_then_committed(client, signer, node) -> None:
    tx = signer.put("later", True)
    r = post_tx(client, tx, wait=False)
    assert r.status_code == 202, r.text
    assert r.json() == {"tx_id": tx.tx_id.hex(), "status": "pending"}
    status = client.get(f"/v1/transactions/{tx.tx_id.hex()}").json()["status"]
    assert status in ("pending", "committed")
    assert node.wait_committed([tx.tx_id], timeout=20)
    assert client.get(f"/v1/transactions/{tx.tx_id.hex()}").json()["status"] == "committed"


def test_failed_call_is_committed_with_a_failed_receipt(client, signer) -> None:
    tx = signer.tx("kv", "put", {"key": "x"})  # value missing: the contract call fails
    r = post_tx(client, tx)
    assert r.status_code == 200, r.text
    receipt = r.json()["receipt"]
    assert receipt["status"] == "failed"
    assert receipt["error"]["code"] == "bad_arguments"


def test_unknown_transaction_is_404_and_bad_id_is_422(client) -> None:
    r = client.get("/v1/transactions/" + "ab" * 32)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"
    assert client.get("/v1/transactions/xyz").status_code == 422
    assert client.get("/v1/transactions/" + "ab" * 32 + "/receipt").status_code == 404


def test_batch_commits_every_item_in_input_order(client, signer, node) -> None:
    txs = [signer.put(f"batch/{i}", i) for i in range(50)]
    body = orjson.dumps([t.envelope() for t in txs])
    r = client.post("/v1/transactions/batch", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["accepted"] == 50 and doc["rejected"] == 0
    assert [x["tx_id"] for x in doc["results"]] == [t.tx_id.hex() for t in txs]
    assert {x["status"] for x in doc["results"]} == {"committed"}
    assert all(node.ledger.is_committed(t.tx_id) for t in txs)
    assert node.ledger.log.size == 50


def test_batch_with_good_and_bad_items_commits_only_the_good(client, signer, node) -> None:
    good1, good2 = signer.put("g1", 1), signer.put("g2", 2)
    bad_sig = signer.put("bad", 0, key_of="market/admin")
    with_float = signer.put("f", 0).envelope()
    with_float["body"]["args"]["value"] = 1.5
    items: list[Any] = [
        good1.envelope(),
        with_float,
        bad_sig.envelope(),
        "not an object",
        good2.envelope(),
        good1.envelope(),  # duplicate of an item of this very batch
    ]
    r = client.post("/v1/transactions/batch", content=orjson.dumps(items), headers=JSON)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["accepted"], doc["rejected"]) == (2, 4)
    res = doc["results"]
    assert res[0] == {"tx_id": good1.tx_id.hex(), "status": "committed"}
    assert res[4] == {"tx_id": good2.tx_id.hex(), "status": "committed"}
    codes = [res[i]["error"]["code"] for i in (1, 2, 3, 5)]
    assert codes == [
        "malformed_encoding",
        "bad_signature",
        "schema_violation",
        "duplicate_transaction",
    ]
    assert res[2]["error"]["status"] == 400 and res[2]["error"]["type"] == "/problems/bad_signature"
    assert node.ledger.is_committed(good1.tx_id) and node.ledger.is_committed(good2.tx_id)
    assert not node.ledger.is_committed(bad_sig.tx_id)
    assert node.ledger.log.size == 2


def test_batch_without_wait_reports_pending(client, signer, node) -> None:
    txs = [signer.put(f"nw/{i}", i) for i in range(20)]
    body = orjson.dumps([t.envelope() for t in txs])
    r = client.post("/v1/transactions/batch", content=body, params={"wait": "false"}, headers=JSON)
    assert r.status_code == 200
    assert {x["status"] for x in r.json()["results"]} == {"pending"}
    assert node.wait_committed([t.tx_id for t in txs], timeout=20)


def test_empty_batch_is_accepted_and_does_nothing(client, node) -> None:
    r = client.post("/v1/transactions/batch", content=b"[]", headers=JSON)
    assert r.status_code == 200
    assert r.json() == {"accepted": 0, "rejected": 0, "results": []}
    time.sleep(0.02)
    assert node.ledger.height == 0


def test_many_concurrent_single_submissions_all_commit(client, signer, node) -> None:
    # More waiting requests than the worker-thread pool (40) has threads: waits must not hold
    # threads, or reads and admissions would queue behind them.
    txs = [signer.put(f"c/{i}", i) for i in range(120)]
    responses = client.post_many("/v1/transactions", [t.encode() for t in txs])
    assert [r.status_code for r in responses] == [200] * 120
    assert {r.json()["tx_id"] for r in responses} == {t.tx_id.hex() for t in txs}
    assert node.ledger.log.size == 120


def test_wait_times_out_with_503_when_nothing_commits(network, settings, signer, client_for):
    node = open_embedded(network.root, in_memory=True)  # never started: nothing commits
    quick = type(settings)(network_dir=settings.network_dir, wait_timeout_s=0.3)
    client = client_for(create_app(node, quick))
    try:
        tx = signer.put("stuck", 1)
        r = post_tx(client, tx)
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        doc = r.json()
        assert doc["code"] == "unavailable" and doc["tx_ids"] == [tx.tx_id.hex()]
        assert client.get(f"/v1/transactions/{tx.tx_id.hex()}").json()["status"] == "pending"
        node.start()
        assert node.wait_committed([tx.tx_id], timeout=20)
        assert client.get(f"/v1/transactions/{tx.tx_id.hex()}").json()["status"] == "committed"
    finally:
        node.stop()
