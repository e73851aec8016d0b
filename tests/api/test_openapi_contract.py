"""The OpenAPI description states what every operation answers (issue 17, item 7): its problem
documents (400/401/403/404/409/413/415/422), its real parameter constraints, and the
description agrees with behaviour where a schema alone cannot say it (``from ≤ to``, an empty
document to verify, the methods a path takes)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from test_auth_declared import _declarations, all_routes

from conftest import ApiClient, Signer
from govchain.api.auth import PUBLIC, SIGNED, USER, Access
from govchain.api.openapi import NO_CONTROLS
from govchain.api.params import TX_ID

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemPublic"}
JSON = {"content-type": "application/json"}

# Answers that are deliberately not problem documents: OAuth clients read RFC 6749's own error
# object at the token endpoint, a browser gets the login page again, health is a body anyway.
NOT_PROBLEMS = {
    ("post", "/oidc/token", "400"),
    ("post", "/oidc/token", "401"),
    ("post", "/oidc/authorize", "401"),
    ("post", "/oidc/authorize", "429"),
    ("get", "/v1/health", "503"),
}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def _accesses(app: FastAPI) -> dict[tuple[str, str], Access]:
    out = {}
    for route, path, extra in all_routes(app):
        if isinstance(route, APIRoute) and route.include_in_schema:
            (access,) = set(
                _declarations(route.dependant) + [d for d in extra if isinstance(d, Access)]
            )
            template = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
            out.update({(m.lower(), template): access for m in route.methods})
    return out


@pytest.fixture
def doc(app: FastAPI) -> dict[str, Any]:
    described: dict[str, Any] = app.openapi()
    return described


def test_every_error_answer_is_a_problem_document(doc: dict[str, Any]) -> None:
    wrong = []
    for method, path, op in _operations(doc):
        for status, answer in op["responses"].items():
            if int(status) < 400 or (method, path, status) in NOT_PROBLEMS:
                continue
            if answer.get("content") != {PROBLEM: {"schema": PROBLEM_SCHEMA}}:
                wrong.append(f"{method.upper()} {path} {status}: {answer.get('content')}")
    assert not wrong, "\n".join(wrong)
    # FastAPI's own validation error body is never sent (api.problems answers 422 itself).
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ProblemPublic" in doc["components"]["schemas"]


def test_access_checks_are_documented(app: FastAPI, doc: dict[str, Any]) -> None:
    accesses = _accesses(app)
    assert len(accesses) == len(_operations(doc)) > 100
    wrong = []
    for method, path, op in _operations(doc):
        access = accesses[(method, path)]
        answers = op["responses"]
        if access.checks_token:
            if op.get("security") != [{"bearer": []}] or "401" not in answers:
                wrong.append(f"{method.upper()} {path}: no bearer security or 401")
            if access is not USER and "403" not in answers:
                wrong.append(f"{method.upper()} {path}: {access.name} without 403")
        elif "security" in op or ("401" in answers and (method, path, "401") not in NOT_PROBLEMS):
            # The login and token endpoints authenticate users and clients themselves.
            wrong.append(f"{method.upper()} {path}: {access.name} documents a login")
        assert access.description in op["description"], (method, path)
    assert not wrong, "\n".join(wrong)
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {accesses[k] for k in accesses} >= {PUBLIC, SIGNED, USER}


def test_inputs_document_their_refusals(doc: dict[str, Any]) -> None:
    wrong = []
    for method, path, op in _operations(doc):
        answers = op["responses"]
        params = op.get("parameters", [])
        body = op.get("requestBody", {}).get("content", {})
        needed = set()
        if path.startswith(("/v1/", "/oidc/", "/problems/", "/.well-known/")):
            needed.add("400")  # a URL that is not UTF-8, a control character in the path
        if params or body:
            needed.add("422")
        if any(p["in"] == "path" for p in params):
            needed.add("404")
        if body and set(body) == {"application/json"}:
            needed.add("415")
        elif "415" in answers:
            wrong.append(f"{method.upper()} {path}: 415 for a body of any type")
        missing = needed - set(answers)
        if missing:
            wrong.append(f"{method.upper()} {path}: {sorted(missing)}")
        for p in params:
            schema = p["schema"]
            if p["in"] == "path" and schema.get("type") == "string" and "pattern" not in schema:
                wrong.append(f"{method.upper()} {path}: {p['name']} has no pattern")
    assert not wrong, "\n".join(wrong)


def test_ledger_writes_and_bodies_document_what_they_refuse(doc: dict[str, Any]) -> None:
    answers = {(m, p): set(op["responses"]) for m, p, op in _operations(doc)}
    assert {"400", "409", "413", "415", "422", "503"} <= answers[("post", "/v1/transactions")]
    assert {"403", "404", "409", "503"} <= answers[("post", "/v1/enterprises/{uscc}/agents")]
    assert {"404", "413", "422"} <= answers[("post", "/v1/apps/notary/verify")]
    assert {"400", "403", "409", "422", "500"} <= answers[("post", "/v1/sharing/reads")]


def test_path_parameters_state_their_shape(doc: dict[str, Any]) -> None:
    def pattern(path: str, name: str, method: str = "get") -> str:
        (param,) = [p for p in doc["paths"][path][method]["parameters"] if p["name"] == name]
        found: str = param["schema"]["pattern"]
        return found

    assert pattern("/v1/transactions/{tx_id}", "tx_id") == TX_ID == "^[0-9a-fA-F]{64}$"
    assert pattern("/v1/transactions/{tx_id}/receipt", "tx_id") == TX_ID
    assert pattern("/v1/apps/notary/records/{digest}", "digest") == "^[0-9a-f]{64}$"
    assert pattern("/v1/enterprises/{uscc}", "uscc").startswith("^[0-9A-HJ-NPQRTUWXY]{2}")
    assert pattern("/v1/sharing/catalogue/{resource}", "resource").startswith("^[a-z]")
    assert pattern("/v1/cases/{number}", "number") == NO_CONTROLS


@pytest.mark.parametrize(
    ("tx_id", "status"),
    [("ab" * 32, 404), ("AB" * 32, 404), ("xy" * 32, 422), ("ab" * 31, 422), ("ab" * 33, 422)],
)
def test_transaction_ids_are_checked_as_described(
    client: ApiClient, tx_id: str, status: int
) -> None:
    for url in (f"/v1/transactions/{tx_id}", f"/v1/transactions/{tx_id}/receipt"):
        r = client.get(url)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == PROBLEM


def test_from_must_not_exceed_to(client: ApiClient, signer: Signer, doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v1/log/consistency"]["get"]
    size1 = next(p for p in op["parameters"] if p["name"] == "from")
    assert "from ≤ to" in size1["description"]
    assert "`from` is greater than `to`" in op["responses"]["422"]["description"]
    for i in range(2):
        r = client.post("/v1/transactions", content=signer.put(f"k{i}", i).encode(), headers=JSON)
        assert r.status_code == 200, r.text
    assert client.get("/v1/log/consistency", params={"from": 1, "to": 2}).status_code == 200
    assert client.get("/v1/log/consistency", params={"from": 2, "to": 2}).status_code == 200
    r = client.get("/v1/log/consistency", params={"from": 2, "to": 1})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "schema_violation"


@pytest.mark.parametrize(
    "headers", [{}, {"content-type": "application/octet-stream"}, {"content-length": "0"}]
)
def test_verifying_nothing_is_refused(client: ApiClient, headers: dict[str, str]) -> None:
    r = client.post("/v1/apps/notary/verify", content=b"", headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "schema_violation"


def test_verifying_a_document_answers(client: ApiClient, app: FastAPI) -> None:
    r = client.post("/v1/apps/notary/verify", content=b"%PDF-1.7 a document")
    # The test network has not deployed the notary contract: a 404 naming it, never a 500.
    assert r.status_code in (200, 404), r.text
    if r.status_code == 404:
        assert r.json()["code"] == "unknown_contract"


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("OPTIONS", "/oidc/authorize", "GET, POST"),  # two routes serve one path
        ("GET", "/v1/transactions/batch", "POST"),  # not a transaction called "batch"
        ("GET", "/v1/contracts/check", "POST"),
        ("DELETE", "/v1/blocks/latest", "GET"),
        ("PATCH", "/v1/transactions/" + "ab" * 32, "GET"),
    ],
)
def test_a_method_the_path_does_not_take_is_405_with_allow(
    client: ApiClient, doc: dict[str, Any], method: str, url: str, allow: str
) -> None:
    r = client.request(method, url)
    assert r.status_code == 405, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["allow"] == allow
    path = url if url in doc["paths"] else "/v1/transactions/{tx_id}"
    assert sorted(m.upper() for m in doc["paths"][path]) == allow.split(", ")


def test_every_documented_415_is_answered(
    app: FastAPI, client: ApiClient, doc: dict[str, Any]
) -> None:
    accesses = _accesses(app)
    checked = 0
    for method, path, op in _operations(doc):
        if "415" not in op["responses"] or accesses[(method, path)].checks_token:
            continue  # routes behind a login refuse the caller first (tests/api/test_guards.py)
        url = re.sub(r"\{\w+\}", "tax", path)
        r = client.request(method, url, content=b"{}", headers={"content-type": "text/plain"})
        assert r.status_code == 415, (method, url, r.text)
        assert r.json()["code"] == "unsupported_media_type"
        checked += 1
    assert checked >= 10
