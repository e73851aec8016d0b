"""Every bad request gets the right 4xx ``application/problem+json`` answer and changes
nothing; errors never come back as plain text or HTML."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from govchain.api.deps import get_node, get_settings
from govchain.api.problems import catalogue, problem_of, status_of
from govchain.errors import (
    BadSignature,
    DuplicateTransaction,
    GovchainError,
    IntegrityError,
    RootMismatch,
    Unavailable,
)

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


def snapshot(node: Any) -> tuple[int, int, int]:
    return node.ledger.height, node.ledger.log.size, node.admission.pending_count()


def assert_problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    doc: dict[str, Any] = r.json()
    assert doc["status"] == status and doc["code"] == code
    assert doc["type"] == f"/problems/{code}"
    assert doc["title"] and doc["detail"]
    return doc


def envelope_with(signer: Any, change: Callable[[dict[str, Any]], None]) -> bytes:
    env = copy.deepcopy(signer.put("k", {"n": 1}).envelope())
    change(env)
    return orjson.dumps(env)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(env: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = env
        for p in parents:
            target = target[p]
        target[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(env: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = env
        for p in parents:
            target = target[p]
        del target[last]

    return change


BAD_BODIES: list[tuple[str, Any, int, str]] = [
    ("empty body", b"", 400, "malformed_encoding"),
    ("malformed JSON", b'{"body": ', 400, "malformed_encoding"),
    ("not an object", b"[1, 2]", 422, "schema_violation"),
    ("nonce is a string", _set("body.nonce", "7"), 422, "schema_violation"),
    ("chain is a number", _set("body.chain", 7), 422, "schema_violation"),
    ("args is a list", _set("body.args", []), 422, "schema_violation"),
    ("unknown body field", _set("body.extra", 1), 422, "schema_violation"),
    ("float in args", _set("body.args.value", {"n": 1.5}), 400, "malformed_encoding"),
    ("float nonce", _set("body.nonce", 7.0), 400, "malformed_encoding"),
    ("float version", _set("body.v", 1.0), 422, "schema_violation"),
    ("missing signature", _drop("signature"), 422, "schema_violation"),
    ("signature not hex", _set("signature", "zz"), 422, "schema_violation"),
    ("integer beyond 2^53", _set("body.args.value", 2**60), 400, "malformed_encoding"),
]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [b[1:] for b in BAD_BODIES],
    ids=[b[0] for b in BAD_BODIES],
)
def test_bad_transaction_is_rejected_and_changes_nothing(
    client, signer, node, body, status, code
) -> None:
    raw = body if isinstance(body, bytes) else envelope_with(signer, body)
    before = snapshot(node)
    assert_problem(client.post("/v1/transactions", content=raw, headers=JSON), status, code)
    assert snapshot(node) == before


def test_oversized_transaction_is_413(client, signer, node) -> None:
    tx = signer.put("big", "x" * 5000)  # the test network allows 4096 bytes
    before = snapshot(node)
    doc = assert_problem(
        client.post("/v1/transactions", content=tx.encode(), headers=JSON), 413, "too_large"
    )
    assert doc["limit"] == 4096 and doc["size"] > 4096
    assert snapshot(node) == before


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda s: s.put("k", 1, key_of="market/admin"), 400, "bad_signature"),
        (lambda s: s.put("k", 1, member="tax/nobody", key_of="tax/admin"), 400, "unknown_signer"),
        (lambda s: s.put("k", 1, chain="another-chain"), 400, "wrong_chain"),
    ],
    ids=["bad signature", "unknown signer", "wrong chain id"],
)
def test_unauthentic_transaction_is_rejected(client, signer, node, make, status, code) -> None:
    tx = make(signer)
    before = snapshot(node)
    assert_problem(client.post("/v1/transactions", content=tx.encode(), headers=JSON), status, code)
    assert snapshot(node) == before


def test_replayed_nonce_and_duplicate_are_rejected(client, signer, node) -> None:
    tx = signer.put("once", 1, nonce=500)
    assert client.post("/v1/transactions", content=tx.encode(), headers=JSON).status_code == 200
    before = snapshot(node)
    dup = assert_problem(
        client.post("/v1/transactions", content=tx.encode(), headers=JSON),
        409,
        "duplicate_transaction",
    )
    assert dup["tx_id"] == tx.tx_id.hex()
    replay = signer.put("other", 2, nonce=500)
    assert_problem(
        client.post("/v1/transactions", content=replay.encode(), headers=JSON),
        400,
        "replayed_nonce",
    )
    assert snapshot(node) == before
    assert client.get("/v1/kv/other").json()["exists"] is False


def test_bad_batches(app, client, signer, settings, node) -> None:
    before = snapshot(node)
    post = client.post
    assert_problem(
        post("/v1/transactions/batch", content=b"[{", headers=JSON), 400, "malformed_encoding"
    )
    assert_problem(
        post("/v1/transactions/batch", content=b'{"a": 1}', headers=JSON), 422, "schema_violation"
    )

    small = type(settings)(
        network_dir=settings.network_dir, max_batch_items=3, max_batch_bytes=2048
    )
    app.dependency_overrides[get_settings] = lambda: small
    four = orjson.dumps([signer.put(f"b{i}", i).envelope() for i in range(4)])
    doc = assert_problem(
        post("/v1/transactions/batch", content=four, headers=JSON), 413, "too_large"
    )
    assert doc["limit"] == 3
    # Rejected on Content-Length alone, before the body is read.
    big = orjson.dumps([signer.put(f"c{i}", "x" * 400).envelope() for i in range(3)])
    assert len(big) > 2048
    doc = assert_problem(
        post("/v1/transactions/batch", content=big, headers=JSON), 413, "too_large"
    )
    assert doc["limit"] == 2048
    assert_problem(post("/v1/transactions", content=big, headers=JSON), 413, "too_large")
    assert snapshot(node) == before


def test_unknown_route_method_and_parameters_are_problems(client) -> None:
    doc = assert_problem(client.get("/v2/nothing"), 404, "not_found")
    assert "/v2/nothing" in doc["detail"] and doc["instance"] == "/v2/nothing"
    r = client.request("DELETE", "/v1/health")
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]
    doc = assert_problem(client.get("/v1/log/inclusion"), 422, "schema_violation")
    assert doc["errors"][0]["loc"] == ["query", "index"]
    assert_problem(client.get("/v1/state/k/history", params={"limit": 0}), 422, "schema_violation")
    assert_problem(client.get("/v1/state/" + "k" * 1100), 413, "too_large")


def test_unexpected_errors_are_generic_500_problems(app, client) -> None:
    class Broken:
        def health(self) -> None:
            raise RuntimeError("secret internal detail")

    app.dependency_overrides[get_node] = Broken
    doc = assert_problem(client.get("/v1/health"), 500, "internal_error")
    assert "secret" not in doc["detail"]


def test_unavailable_node_is_503_with_retry_after(app, client, signer) -> None:
    class Busy:
        def submit(self, *args: Any, **kwargs: Any) -> None:
            raise Unavailable("the node stopped committing: disk full")

    app.dependency_overrides[get_node] = Busy
    r = client.post("/v1/transactions", content=signer.put("k", 1).encode(), headers=JSON)
    assert_problem(r, 503, "unavailable")
    assert r.headers["retry-after"] == "1"


def test_problem_mapping_and_catalogue(client) -> None:
    assert status_of(RootMismatch) == 400
    assert status_of(DuplicateTransaction) == 409
    assert status_of(IntegrityError) == 500
    assert status_of(GovchainError) == 500
    doc = problem_of(BadSignature("nope", tx_id="ab", status="ignored"))
    assert doc["status"] == 400 and doc["tx_id"] == "ab" and doc["title"] == "Bad signature"
    codes = catalogue()
    assert codes["bad_arguments"]["status"] == 422  # a contract error, found by walking the tree
    assert client.get("/problems/replayed_nonce").json()["status"] == 400
    assert_problem(client.get("/problems/no_such_code"), 404, "not_found")
