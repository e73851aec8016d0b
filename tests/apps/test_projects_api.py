"""The duplication review API (``/v1/apps/projects``) on an embedded node: staff roles, the
registry's reads and writes, imports refused whole, the review and merge candidates over the
committed registry, and decisions recorded with the node's own review as evidence.

(The service's routes are tested here rather than in ``apps/projects/tests``: services may not
import the API layer that serves them.)"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.projects.tests.nodes import deploy, make_network, staff_login
from govchain.apps.projects.tests.samples import (
    BOOKING_APPLICATION,
    ENGLISH,
    FOOD_SAMPLING,
    HOSPITAL_BOOKING,
    SCHOOL_ENROLMENT,
    cells,
    csv_bytes,
    variant,
)
from govchain.node.embedded import open_embedded

Login = Callable[[str, str], dict[str, str]]


class ApiClient:
    """Calls the service's routes in-process through an anyio blocking portal."""

    def __init__(self, app: FastAPI) -> None:
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver/v1/apps/projects",
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._http.request, method, url, **kwargs))

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._portal_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    net = make_network(tmp_path_factory.mktemp("projects-api") / "net")
    node = open_embedded(net.root, in_memory=True)
    node.start()
    try:
        made = create_app(node, ApiSettings(network_dir=net.root, wait_timeout_s=30.0))
        deploy(made.state.casedesk)
        yield made
    finally:
        node.stop(drain=True)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[ApiClient]:
    c = ApiClient(app)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def login(app: FastAPI) -> Login:
    """``login(dept, role)``: the bearer header of that staff member (made once each)."""
    made: dict[tuple[str, str], dict[str, str]] = {}

    def get(dept: str, role: str) -> dict[str, str]:
        if (dept, role) not in made:
            made[dept, role] = staff_login(app.state.identity, dept, role)
        return made[dept, role]

    return get


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = r.json()
    assert doc["code"] == code, doc
    return doc


@pytest.fixture(scope="module")
def scenario(client: ApiClient, login: Login) -> dict[str, Any]:
    """The sample systems registered by their departments' officers; the booking application
    by medical insurance; two more applications asking the same school enrolment system."""
    for entry, dept in (
        (HOSPITAL_BOOKING, "health"),
        (SCHOOL_ENROLMENT, "tax"),
        (FOOD_SAMPLING, "market"),
        (BOOKING_APPLICATION, "medical_insurance"),
        (variant(SCHOOL_ENROLMENT, id="APP-2027-0201", status="pending"), "tax"),
        (
            variant(
                SCHOOL_ENROLMENT,
                id="APP-2027-0202",
                status="pending",
                department="market",
                name="中小学入学网上报名系统",
            ),
            "market",
        ),
    ):
        ok(client.request("POST", "/entries", json=entry, headers=login(dept, "officer")), 201)
    return {"reviewer": login("tax", "approver")}


def test_every_route_needs_a_staff_login_with_the_right_role(
    client: ApiClient, login: Login
) -> None:
    assert client.request("GET", "/entries").status_code == 401
    inspector = login("market", "inspector")
    assert ok(client.request("GET", "/entries", headers=inspector))["entries"] is not None
    officer, approver = login("market", "officer"), login("market", "approver")
    body = {"recommendation": "build", "reason": "单独建设"}
    path = "/applications/APP-2027-0001/decision"
    doc = problem(client.request("POST", path, json=body, headers=officer), 403, "forbidden")
    assert doc["detail"] == "this is for department staff (approver)"
    problem(client.request("POST", "/entries", json={}, headers=approver), 403, "forbidden")


def test_register_show_and_history(client: ApiClient, login: Login) -> None:
    officer = login("health", "officer")
    entry = variant(HOSPITAL_BOOKING, id="SYS-HEALTH-0100", name="全省120急救调度系统")
    doc = ok(client.request("POST", "/entries", json=entry, headers=officer), 201)
    assert doc["result"]["ids"] == ["SYS-HEALTH-0100"]
    assert doc["receipt"] == f"/v1/transactions/{doc['tx_id']}/receipt"
    shown = ok(client.request("GET", "/entries/SYS-HEALTH-0100", headers=officer))
    assert {k: shown["entry"][k] for k in entry} == entry
    assert shown["entry"]["keeper"] == "health" and shown["entry"]["actor"] == "health/officer-1"
    assert shown["decision"] is None
    (version,) = shown["history"]
    assert version["tx_id"] == doc["tx_id"] and version["receipt"] == doc["receipt"]

    # Changed by its keeper only; the history chains the versions.
    other = login("market", "officer")
    change = {"user_count": 13_000_000}
    path = "/entries/SYS-HEALTH-0100"
    problem(client.request("PATCH", path, json=change, headers=other), 403, "forbidden")
    ok(client.request("PATCH", path, json=change, headers=officer))
    body = {"reason": "并入全省急救指挥平台"}
    ok(client.request("POST", path + "/retire", json=body, headers=officer))
    history = ok(client.request("GET", path, headers=other))["history"]
    assert [h["status"] for h in history] == ["in_use", "in_use", "retired"]
    assert [h["change"] for h in history] == ["registered", "updated", "retired"]
    assert [h["previous_tx"] for h in history] == ["", history[0]["tx_id"], history[1]["tx_id"]]
    assert history[2]["record"]["reason"] == "并入全省急救指挥平台"


def test_bad_entries_are_refused_before_anything_is_signed(
    client: ApiClient, login: Login, app: FastAPI
) -> None:
    officer = login("health", "officer")
    height = app.state.node.ledger.height
    bad = variant(HOSPITAL_BOOKING, id="SYS-HEALTH-0101", functions=[], budget_fen=1.5)
    doc = problem(
        client.request("POST", "/entries", json=bad, headers=officer), 422, "schema_violation"
    )
    assert doc["problems"] == [
        {"field": "functions", "reason": "must have 1 to 60 items"},
        {"field": "budget_fen", "reason": "must be an integer"},
    ]
    problem(client.request("POST", "/entries", json=[1], headers=officer), 422, "schema_violation")
    problem(client.request("GET", "/entries/SYS-HEALTH-0101", headers=officer), 404, "not_found")
    assert app.state.node.ledger.height == height
    dup = variant(FOOD_SAMPLING, id="SYS-HEALTH-0100")
    problem(client.request("POST", "/entries", json=dup, headers=officer), 409, "conflict")


def test_imports_are_all_or_nothing(client: ApiClient, login: Login) -> None:
    officer = login("market", "officer")
    rows = [cells(variant(FOOD_SAMPLING, id=f"SYS-API-{i:04d}"), ";") for i in range(1, 6)]
    rows[3][ENGLISH.index("users")] = ""
    rows[4][ENGLISH.index("id")] = "sys-api-5"
    csv_type = {"content-type": "text/csv; charset=utf-8"}
    total = ok(client.request("GET", "/entries", headers=officer))["total"]
    doc = problem(
        client.request("POST", "/imports", content=csv_bytes(rows), headers=officer | csv_type),
        422,
        "import_refused",
    )
    assert doc["problems"] == [
        {"line": 5, "field": "users", "reason": "must have 1 to 20 items"},
        {
            "line": 6,
            "field": "id",
            "reason": "must be 3 to 40 characters A-Z, 0-9 and '-', starting with a letter",
        },
    ]
    assert doc["count"] == 2
    assert ok(client.request("GET", "/entries", headers=officer))["total"] == total

    good = csv_bytes(rows[:3])
    dry = ok(
        client.request("POST", "/imports?dry_run=true", content=good, headers=officer | csv_type),
        201,
    )
    assert dry == {
        "format": "csv",
        "count": 3,
        "by_status": {"in_use": 3},
        "dry_run": True,
        "transactions": [],
    }
    assert ok(client.request("GET", "/entries", headers=officer))["total"] == total
    done = ok(client.request("POST", "/imports", content=good, headers=officer | csv_type), 201)
    (tx,) = done["transactions"]
    assert tx["count"] == 3 and tx["first"] == "SYS-API-0001" and tx["last"] == "SYS-API-0003"
    assert tx["receipt"] == f"/v1/transactions/{tx['tx_id']}/receipt"
    assert ok(client.request("GET", "/entries", headers=officer))["total"] == total + 3

    as_json = json.dumps([variant(FOOD_SAMPLING, id="SYS-API-0009")]).encode()
    done = ok(
        client.request(
            "POST",
            "/imports?filename=registry.json",
            content=as_json,
            headers=officer | {"content-type": "application/octet-stream"},
        ),
        201,
    )
    assert done["format"] == "json" and done["count"] == 1
    problem(
        client.request(
            "POST",
            "/imports",
            content=b"%PDF",
            headers=officer | {"content-type": "application/pdf"},
        ),
        422,
        "schema_violation",
    )


def test_list_filter_search_and_pages(
    client: ApiClient, login: Login, scenario: dict[str, Any]
) -> None:
    who = login("tax", "auditor")
    pending = ok(client.request("GET", "/entries?status=pending&limit=1000", headers=who))
    ids = [e["id"] for e in pending["entries"]]
    assert {"APP-2027-0201", "APP-2027-0202"} <= set(ids) and ids == sorted(ids)
    found = ok(client.request("GET", "/entries", params={"q": "入学 报名"}, headers=who))
    assert {e["id"] for e in found["entries"]} >= {"PRJ-EDU-0001", "APP-2027-0201"}
    assert all("入学" in json.dumps(e, ensure_ascii=False) for e in found["entries"])
    market = ok(client.request("GET", "/entries?department=market&status=pending", headers=who))
    assert [e["id"] for e in market["entries"]] == ["APP-2027-0202"]
    seen: list[str] = []
    after = ""
    while True:
        page = ok(
            client.request("GET", "/entries", params={"after": after, "limit": 3}, headers=who)
        )
        seen += [e["id"] for e in page["entries"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == sorted(seen) and len(seen) == page["total"]
    problem(client.request("GET", "/entries?status=old", headers=who), 422, "schema_violation")


def test_review_finds_the_reworded_copy_and_merge_candidates(
    client: ApiClient, login: Login, scenario: dict[str, Any]
) -> None:
    who = login("health", "inspector")
    review = ok(client.request("GET", "/applications/APP-2027-0001/review", headers=who))
    assert review["application"] == "APP-2027-0001"
    top = review["candidates"][0]
    assert top["id"] == "SYS-HEALTH-0001" and top["status"] == "in_use"
    assert review["recommendation"] == "reuse" and review["target"] == "SYS-HEALTH-0001"
    assert 0 <= review["confidence"] <= 1000 and review["reasons"]
    assert all(type(c["score"]) is int for c in review["candidates"])
    assert (
        len(
            ok(client.request("GET", "/applications/APP-2027-0001/review?k=1", headers=who))[
                "candidates"
            ]
        )
        == 1
    )
    problem(client.request("GET", "/applications/APP-NONE-1/review", headers=who), 404, "not_found")

    merges = ok(client.request("GET", "/merge-candidates", headers=who))
    pairs = {(p["first"], p["second"]): p for p in merges["pairs"]}
    pair = pairs[("APP-2027-0201", "APP-2027-0202")]
    assert (
        pair["second_name"] == "中小学入学网上报名系统" and pair["first_department"] == "education"
    )


def test_a_decision_records_the_review_as_evidence(
    client: ApiClient, login: Login, scenario: dict[str, Any], app: FastAPI
) -> None:
    path = "/applications/APP-2027-0001/decision"
    reviewer = scenario["reviewer"]
    problem(client.request("GET", path, headers=reviewer), 404, "not_found")
    own = login("medical_insurance", "approver")
    body = {
        "recommendation": "reuse",
        "target": "SYS-HEALTH-0001",
        "reason": "在用系统已覆盖全部功能",
    }
    doc = problem(client.request("POST", path, json=body, headers=own), 403, "forbidden")
    assert "another one reviews it" in doc["detail"]
    height = app.state.node.ledger.height
    for bad, status in (
        ({**body, "target": "PRJ-EDU-0001"}, 422),
        ({**body, "target": None}, 422),
        ({**body, "target": "SYS-NONE-0001"}, 404),
        ({**body, "reason": "x"}, 422),
        ({**body, "recommendation": "copy"}, 422),
        ({**body, "evidence": {}}, 422),
    ):
        assert client.request("POST", path, json=bad, headers=reviewer).status_code == status, bad
    assert app.state.node.ledger.height == height

    review = ok(client.request("GET", "/applications/APP-2027-0001/review", headers=reviewer))
    changed = {"recommendation": "build", "target": None, "reason": "医保结算接口需单独建设"}
    done = ok(client.request("POST", path, json=changed, headers=reviewer), 201)
    decision = done["decision"]
    assert decision["recommendation"] == "build" and decision["changed"] is True
    assert decision["reviewed"] == {"recommendation": "reuse", "target": "SYS-HEALTH-0001"}
    assert decision["dept"] == "tax" and decision["actor"] == "tax/approver-1"
    del review["height"]
    assert decision["evidence"] == review
    assert done["receipt"] == f"/v1/transactions/{decision['tx_id']}/receipt"

    # The applicant department sees it; the application is reviewed, its history chained.
    applicant = login("medical_insurance", "officer")
    assert ok(client.request("GET", path, headers=applicant))["tx_id"] == decision["tx_id"]
    shown = ok(client.request("GET", "/entries/APP-2027-0001", headers=applicant))
    assert shown["entry"]["status"] == "reviewed" and shown["decision"] == decision
    assert [h["tx_id"] for h in shown["history"]][-1] == decision["tx_id"]
    again = client.request("POST", path, json=changed, headers=reviewer)
    problem(again, 409, "conflict")
