"""Contracts and the notarisation service over HTTP: definitions, views, the static check, the
notary routes and the content store; bad input is a 4xx problem, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from identity_helpers import PASSWORD, bearer, tokens_for

from conftest import ApiClient, Signer
from govchain.contracts.packages import code_hash
from govchain.ledger.genesis import Params
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.sdk import find_app

JSON = {"content-type": "application/json"}
"""Headers of a JSON body."""

LOOPING = """
from govchain.sdk import Contract, entry, view


class Spin(Contract):
    @entry
    def noop(self) -> int:
        return 0

    @view
    def forever(self) -> int:
        n = 0
        while True:
            n = n + 1

    @view
    def broken(self) -> int:
        return 1 // 0
"""


@pytest.fixture
def network(tmp_path: Path) -> NetworkDir:
    """Like the shared fixture, with transactions large enough for a contract package."""
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="api-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


def submit(
    node: Node,
    signer: Signer,
    contract: str,
    method: str,
    args: dict[str, Any],
    member: str = "market/admin",
) -> Any:
    tx = signer.tx(contract, method, args, member=member)
    node.submit([tx.encode()], wait=True)
    return node.ledger.receipt_bundle(tx.tx_id)["entry"]["receipt"]


def deploy(node: Node, signer: Signer, name: str, files: dict[str, str]) -> None:
    assert (
        submit(node, signer, "lifecycle", "install", {"name": name, "version": 1, "files": files})[
            "status"
        ]
        == "ok"
    )
    digest = code_hash(node.suite.hash, files)
    for dept in ("market", "tax", "hrss"):
        r = submit(
            node,
            signer,
            "lifecycle",
            "approve",
            {"name": name, "version": 1, "code_hash": digest},
            f"{dept}/admin",
        )
        assert r["status"] == "ok", r
    assert (
        submit(node, signer, "lifecycle", "commit", {"name": name, "version": 1})["status"] == "ok"
    )


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = response.json()
    assert doc["code"] == code, doc
    return doc


def test_contracts_listing_definition_and_views(
    client: ApiClient, node: Node, signer: Signer
) -> None:
    files = find_app("notary").contract_files()
    deploy(node, signer, "notary", files)
    listing = client.get("/v1/contracts").json()
    assert "lifecycle" in listing["builtin"] and "kv" in listing["builtin"]
    assert [d["name"] for d in listing["committed"]] == ["notary"]
    one = client.get("/v1/contracts/notary").json()
    assert one["definition"]["code_hash"] == code_hash(node.suite.hash, files)
    assert {m["name"] for m in one["methods"]} == {
        "notarise",
        "notarise_batch",
        "revoke",
        "record",
        "batch",
    }
    assert client.get("/v1/contracts/lifecycle").json()["builtin"] is True
    problem(client.get("/v1/contracts/nothing"), 404, "unknown_contract")

    r = client.post("/v1/contracts/notary/views/record", content=b'{"digest": "00"}', headers=JSON)
    assert r.status_code == 200 and r.json()["result"] is None
    problem(
        client.post("/v1/contracts/notary/views/record", content=b'{"digest": 5}', headers=JSON),
        422,
        "bad_arguments",
    )
    problem(
        client.post("/v1/contracts/notary/views/record", content=b"[1]", headers=JSON),
        422,
        "schema_violation",
    )
    problem(
        client.post("/v1/contracts/notary/views/record", content=b"{", headers=JSON),
        400,
        "malformed_encoding",
    )
    problem(
        client.post("/v1/contracts/notary/views/revoke", content=b"{}", headers=JSON),
        404,
        "unknown_method",
    )


def test_views_are_bounded_and_contract_bugs_are_4xx(
    client: ApiClient, node: Node, signer: Signer
) -> None:
    deploy(node, signer, "spin", {"contract.py": LOOPING})
    problem(
        client.post("/v1/contracts/spin/views/forever", content=b"{}", headers=JSON),
        422,
        "budget_exhausted",
    )
    doc = problem(
        client.post("/v1/contracts/spin/views/broken", content=b"{}", headers=JSON),
        409,
        "contract_error",
    )
    assert "ZeroDivisionError" in doc["detail"]


def test_static_check_endpoint(client: ApiClient) -> None:
    files = {"contract.py": "import socket\n\nclass C:\n    x = ().__class__\n"}
    r = client.post(
        "/v1/contracts/check", content=orjson.dumps({"files": files}), headers=JSON
    ).json()
    assert r["ok"] is False
    assert r["findings"][0] == {
        "file": "contract.py",
        "line": 1,
        "reason": "import socket: the network is out of reach",
    }
    assert r["findings"][1]["line"] == 4 and ".__class__" in r["findings"][1]["reason"]
    ok = client.post(
        "/v1/contracts/check",
        content=orjson.dumps({"files": find_app("notary").contract_files()}),
        headers=JSON,
    )
    assert ok.json() == {"ok": True, "findings": []}
    problem(
        client.post("/v1/contracts/check", content=b'{"files": {"../x.py": ""}}', headers=JSON),
        422,
        "bad_arguments",
    )


def test_notary_routes_and_content_store(
    client: ApiClient, node: Node, signer: Signer, app: FastAPI
) -> None:
    deploy(node, signer, "notary", find_app("notary").contract_files())
    data = "完税证明 2026-0001".encode()
    digest = node.suite.hash(data).hex()
    before = client.post("/v1/apps/notary/verify", content=data).json()
    assert before["notarised"] is False and before["digest"] == digest

    problem(
        client.request("PUT", f"/v1/apps/notary/documents/{'00' * 32}", content=data),
        400,
        "root_mismatch",
    )
    problem(
        client.request("PUT", "/v1/apps/notary/documents/zz", content=data), 422, "schema_violation"
    )
    stored = client.request("PUT", f"/v1/apps/notary/documents/{digest}", content=data)
    assert stored.json() == {"digest": digest, "size": len(data)}
    # Reading a file back is for department staff: a digest on the ledger does not open it.
    problem(client.get(f"/v1/apps/notary/documents/{digest}"), 401, "unauthenticated")
    identity = app.state.identity
    identity.users.create_staff("tax/clerk1", "税务专员", "tax", "officer", PASSWORD)
    identity.users.create_citizen("11010519491231002X", "张三", PASSWORD)
    officer = bearer(tokens_for(identity, "tax/clerk1"))
    citizen = bearer(tokens_for(identity, "11010519491231002X"))
    problem(client.get(f"/v1/apps/notary/documents/{digest}", headers=citizen), 403, "forbidden")
    assert client.get(f"/v1/apps/notary/documents/{digest}", headers=officer).content == data
    problem(client.get(f"/v1/apps/notary/documents/{'11' * 32}", headers=officer), 404, "not_found")

    r = submit(node, signer, "notary", "notarise", {"digest": digest, "stored": True}, "tax/admin")
    assert r["status"] == "ok", r
    after = client.post("/v1/apps/notary/verify", content=data).json()
    assert after["notarised"] is True and after["status"] == "valid" and after["stored"] is True
    assert after["record"]["dept"] == "tax"
    record = client.get(f"/v1/apps/notary/records/{digest}").json()
    assert record["record"]["digest"] == digest
    problem(client.get(f"/v1/apps/notary/records/{'22' * 32}"), 404, "not_found")
    problem(client.get("/v1/apps/notary/records/xyz"), 422, "schema_violation")


def test_apps_listing(client: ApiClient, node: Node, signer: Signer) -> None:
    before = {a["name"]: a for a in client.get("/v1/apps").json()["apps"]}
    assert before["notary"]["contract"] is None
    assert before["notary"]["routes"] == "/v1/apps/notary"
    deploy(node, signer, "notary", find_app("notary").contract_files())
    after = {a["name"]: a for a in client.get("/v1/apps").json()["apps"]}
    assert after["notary"]["contract"]["version"] == 1
