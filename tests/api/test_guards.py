"""The order in which every route refuses a request (``api.guards``): a URL that is not UTF-8
(400), then the caller's access (401/403), then a body that is not JSON (415), then the input
checks (400/413/422); and integers in paths and queries are bounded (422, never a 500)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identity_helpers import CITIZEN_ID, PASSWORD, bearer, tokens_for
from pydantic import BaseModel
from test_auth_declared import _declarations, all_routes

from conftest import ApiClient, Signer
from govchain.api.auth import PUBLIC, SIGNED, USER, Access, requires
from govchain.identity.service import Identity
from govchain.ledger.encoding import MAX_SAFE_INTEGER
from govchain.node.node import Node

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
"""Headers of a JSON body."""
FIXTURE_CHECKS = [HealthCheck.function_scoped_fixture]
"""The node and client fixtures are only read by these properties: reusing them is safe."""


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM, r.headers
    doc: dict[str, Any] = r.json()
    assert doc["code"] == code, doc
    return doc


# --- URLs: UTF-8 or 400 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/v1/state/%ff%fe",
        "/v1/state/%ff%fe/history",
        "/v1/kv/%ff%fe",
        "/v1/kv/ok%c3",  # a truncated two-byte sequence
        "/v1/state/key?encoding=%ff",
        "/v1/transactions/%ff",
    ],
)
def test_a_url_that_is_not_utf8_is_400(client: ApiClient, url: str) -> None:
    # Decoded with replacement, %ff%fe would read the key "\ufffd\ufffd" (found by the outside
    # test of issue 17: 200 with another key than the one asked for).
    doc = problem(client.get(url), 400, "malformed_encoding")
    assert "UTF-8" in doc["detail"]


def test_utf8_keys_are_read_as_sent(client: ApiClient) -> None:
    r = client.get("/v1/state/%C3%A9")  # é
    assert r.status_code == 200 and r.json()["key_hex"] == "c3a9"
    # U+FFFD itself is a valid key, distinct from the bytes a lossy decoder would replace.
    r = client.get("/v1/state/%EF%BF%BD")
    assert r.status_code == 200 and r.json()["key_hex"] == "efbfbd"
    # Arbitrary bytes are written in hex.
    r = client.get("/v1/state/fffe", params={"encoding": "hex"})
    assert r.status_code == 200 and r.json()["key_hex"] == "fffe"


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_CHECKS)
@given(key=st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"." not in b))
def test_any_key_bytes_are_read_exactly_or_refused(client: ApiClient, key: bytes) -> None:
    r = client.get("/v1/state/" + quote_from_bytes(key, safe=""))
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        problem(r, 400, "malformed_encoding")
        return
    if any(b < 0x20 or b == 0x7F for b in key):
        # Route patterns drop a final line feed: such keys are read with encoding=hex.
        problem(r, 400, "malformed_encoding")
    else:
        assert r.status_code == 200, r.text
        assert r.json()["key_hex"] == key.hex()


# --- integers in paths and queries --------------------------------------------------------------

HUGE = [2**64, 2**64 + 1, 10**30, -(2**64)]
"""Integers that a 64-bit store or encoder cannot take (issue 17: each was a 500)."""


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    "template",
    [
        "/v1/blocks/{}",
        "/v1/checkpoints/{}",
        "/v1/log/inclusion?index={}",
        "/v1/log/inclusion?index=0&size={}",
        "/v1/log/consistency?from={}",
        "/v1/log/consistency?from=0&to={}",
        "/v1/state/k/history?limit={}",
    ],
)
def test_huge_integers_are_422_not_500(client: ApiClient, template: str, value: int) -> None:
    doc = problem(client.get(template.format(value)), 422, "schema_violation")
    assert doc["errors"], doc


def test_the_largest_accepted_integers_are_simply_not_found(
    client: ApiClient, signer: Signer
) -> None:
    r = client.post("/v1/transactions", content=signer.put("k", 1).encode(), headers=JSON)
    assert r.status_code == 200, r.text
    top = MAX_SAFE_INTEGER
    for url in (
        f"/v1/blocks/{top}",
        f"/v1/checkpoints/{top}",
        f"/v1/log/inclusion?index={top}",
        f"/v1/log/inclusion?index=0&size={top}",
        f"/v1/log/consistency?from=0&to={top}",
    ):
        problem(client.get(url), 404, "not_found")
    problem(client.get(f"/v1/blocks/{top + 1}"), 422, "schema_violation")


@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURE_CHECKS)
@given(height=st.integers(min_value=-(2**80), max_value=2**80))
def test_any_height_is_a_block_a_404_or_a_422(client: ApiClient, height: int) -> None:
    r = client.get(f"/v1/blocks/{height}")
    assert r.status_code in (404, 422), r.text  # no block is committed in this test
    assert r.headers["content-type"] == PROBLEM


def test_access_log_start_is_bounded(client: ApiClient, app: FastAPI) -> None:
    identity: Identity = app.state.identity
    identity.users.create_staff("hrss/auditor1", "审计员", "hrss", "auditor", PASSWORD)
    auditor = bearer(tokens_for(identity, "hrss/auditor1"))
    r = client.get(f"/v1/identity/access-log?start={2**64}", headers=auditor)
    problem(r, 422, "schema_violation")
    assert client.get(f"/v1/identity/access-log?start={2**40}", headers=auditor).json() == []


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "integer" else []
    for option in schema.get("anyOf", []):
        found.extend(_integer_schemas(option))
    return found


def test_every_integer_parameter_is_bounded_in_the_description(app: FastAPI) -> None:
    doc = app.openapi()
    seen = 0
    unbounded = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                for schema in _integer_schemas(param.get("schema", {})):
                    seen += 1
                    if "minimum" not in schema or "maximum" not in schema:
                        unbounded.append(f"{method.upper()} {path} {param['name']}")
    assert seen >= 15, "did not find the integer parameters"
    assert not unbounded, unbounded


# --- JSON bodies must say they are JSON ------------------------------------------------------

NOT_JSON: list[dict[str, str]] = [
    {"content-type": "text/plain"},
    {"content-type": "text/plain;charset=UTF-8"},
    {"content-type": "application/x-www-form-urlencoded"},
    {"content-type": "application/json-seq"},
    {},  # no type at all
]


@pytest.mark.parametrize("headers", NOT_JSON)
def test_a_signed_transaction_not_sent_as_json_is_415_and_not_committed(
    client: ApiClient, signer: Signer, node: Node, headers: dict[str, str]
) -> None:
    # Issue 17: sent as text/plain (what a page of another site may post), it was committed.
    tx = signer.put("typed", 1)
    for url in ("/v1/transactions", "/v1/transactions/batch"):
        body = tx.encode() if url.endswith("transactions") else b"[" + tx.encode() + b"]"
        doc = problem(
            client.post(url, content=body, headers=headers), 415, "unsupported_media_type"
        )
        assert doc["content_type"] == headers.get("content-type", "")
    assert client.get(f"/v1/transactions/{tx.tx_id.hex()}").status_code == 404
    assert node.ledger.height == 0


@pytest.mark.parametrize("media", ["application/json", "application/json; charset=utf-8"])
def test_json_and_plus_json_bodies_are_taken(client: ApiClient, signer: Signer, media: str) -> None:
    r = client.post(
        "/v1/transactions", content=signer.put("a", 1).encode(), headers={"content-type": media}
    )
    assert r.status_code == 200, r.text
    plus = {"content-type": "application/vnd.govchain.tx+json"}
    r = client.post("/v1/transactions", content=signer.put("b", 2).encode(), headers=plus)
    assert r.status_code == 200, r.text


def test_every_json_reader_refuses_other_media_types(client: ApiClient, app: FastAPI) -> None:
    plain = {"content-type": "text/plain"}
    for url in (
        "/v1/transactions/batch",
        "/v1/sharing/reads",
        "/v1/sharing/records",
        "/v1/sharing/attestations",
        "/v1/contracts/kv/views/get",
        "/v1/contracts/check",
    ):
        problem(client.post(url, content=b"{}", headers=plain), 415, "unsupported_media_type")
    # Routes whose body FastAPI reads into a model answer the same.
    body = b'{"resident_id": "11010519491231002X", "name": "\\u5f20", "password": "Pass-word-2026"}'
    r = client.post("/v1/identity/register/citizen", content=body, headers=plain)
    problem(r, 415, "unsupported_media_type")
    identity: Identity = app.state.identity
    assert identity.users.find_login(CITIZEN_ID) is None
    # An empty body is not a JSON body of another type (views take no arguments).
    assert client.post("/v1/contracts/kv/views/get", headers=plain).status_code != 415


# --- access first, for every route ------------------------------------------------------------

BAD_BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b"{not json", JSON),  # FastAPI decodes this before any dependency
    (b"\xff\xfe{}", JSON),  # not UTF-8: FastAPI's own 400, also before any dependency
    (b'{"unexpected": 1}', JSON),
    (b"{}", {"content-type": "text/plain"}),
]


def _protected(app: FastAPI) -> list[tuple[str, str, Access]]:
    out = []
    for route, full_path, extra in all_routes(app):
        if not isinstance(route, APIRoute):
            continue
        (access,) = set(
            _declarations(route.dependant) + [d for d in extra if isinstance(d, Access)]
        )
        if access in (PUBLIC, SIGNED):
            continue
        path = full_path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", "tax" if name == "dept" else "x")
        out.extend((method, path, access) for method in sorted(route.methods))
    return out


def test_a_missing_token_is_answered_before_a_bad_body(client: ApiClient, app: FastAPI) -> None:
    # Issue 17: on logged-in routes a malformed body was a 422 before the missing token a 401.
    routes = _protected(app)
    assert len(routes) > 20
    answers = {}
    for method, path, _ in routes:
        for body, headers in BAD_BODIES:
            r = client.request(method, path, content=body, headers=headers)
            answers[f"{method} {path} {body[:9]!r} {headers}"] = r.status_code
    wrong = {k: v for k, v in answers.items() if v != 401}
    assert not wrong, wrong


def test_a_caller_without_the_role_is_403_whatever_the_body(
    client: ApiClient, app: FastAPI
) -> None:
    identity: Identity = app.state.identity
    identity.users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    citizen = bearer(tokens_for(identity, CITIZEN_ID))
    staff_only = [(m, p) for m, p, access in _protected(app) if access.name != "user"]
    assert len(staff_only) > 10
    for method, path in staff_only:
        for body, headers in BAD_BODIES:
            r = client.request(method, path, content=body, headers={**headers, **citizen})
            assert r.status_code == 403, (method, path, body, r.text)


def test_a_logged_in_caller_gets_the_input_error(client: ApiClient, app: FastAPI) -> None:
    identity: Identity = app.state.identity
    identity.users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    citizen = bearer(tokens_for(identity, CITIZEN_ID))
    url = "/v1/identity/me/events"
    problem(
        client.post(url, content=b"{not json", headers={**JSON, **citizen}), 422, "schema_violation"
    )
    r = client.post(url, content=b"{}", headers={"content-type": "text/plain", **citizen})
    problem(r, 415, "unsupported_media_type")
    r = client.post(url, json={"event": "page_viewed", "page": "/home"}, headers=citizen)
    assert r.status_code == 201, r.text


class _Count(BaseModel):
    n: int


def test_access_given_where_a_router_is_included_is_checked_first(
    client: ApiClient, app: FastAPI
) -> None:
    # How create_app mounts a service's routes: the access level is given to include_router.
    router = APIRouter()

    @router.post("/count")
    def count(body: _Count) -> dict[str, int]:
        return {"n": body.n}

    app.include_router(router, prefix="/v1/apps/guard-test", dependencies=[requires(USER)])
    url = "/v1/apps/guard-test/count"
    for body, headers in BAD_BODIES:
        problem(client.post(url, content=body, headers=headers), 401, "unauthenticated")
    identity: Identity = app.state.identity
    identity.users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
    citizen = bearer(tokens_for(identity, CITIZEN_ID))
    problem(client.post(url, content=b"{not", headers={**JSON, **citizen}), 422, "schema_violation")
    assert client.post(url, json={"n": 3}, headers=citizen).json() == {"n": 3}
