"""The supervision API (``/v1/apps/supervision``) over HTTP on an embedded demo node: facts
reported by the departments that hold them, risk scores with their explanation, a random
inspection planned over the enterprise registry, drawn once with a later block's hash, recomputed
by anyone from the ledger and its results published; alerts recorded with their inputs and
delivered, signed, to a webhook on 127.0.0.1 off the request's path.

(The service's routes are tested here rather than in ``apps/supervision/tests``: services may not
import the API layer that serves them.)"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.enterprise.demo import seed_demo
from govchain.apps.projects.tests.nodes import staff_login
from govchain.apps.supervision.alerts import DELIVERY_HEADER, SIGNATURE_HEADER, check_signature
from govchain.apps.supervision.demo import HOLDERS, registry_profiles
from govchain.apps.supervision.demodata import SEED, batch_id, generate
from govchain.cli.apps import deploy_in_process
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import (
    DEMO_DEPARTMENTS,
    DEMO_SERVICE_DEPARTMENTS,
    NetworkDir,
    init_network,
)

N = 300
"""Enterprises whose facts are reported (the registry's 20 among them)."""
SECRET = "webhook-test-key-0123456789"
"""The webhook's HMAC key."""
Login = Callable[[str, str], dict[str, str]]


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: answers 500 to the first ``fail_first`` posts, then 204; can be
    held (``gate``) to show that recording does not wait for delivery."""

    fail_first = 1
    seen: ClassVar[list[tuple[bytes, str, str]]] = []
    gate = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.gate.wait(30)
        cls = type(self)
        if cls.fail_first > 0:
            cls.fail_first -= 1
            self.send_response(500)
        else:
            cls.seen.append((body, self.headers[SIGNATURE_HEADER], self.headers[DELIVERY_HEADER]))
            self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("HeldReceiver", (Receiver,), {"seen": [], "gate": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", handler
    finally:
        handler.gate.set()
        server.shutdown()
        server.server_close()
        thread.join()


class ApiClient:
    """Calls the routes in-process through an anyio blocking portal."""

    def __init__(self, app: FastAPI) -> None:
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver/v1/apps/supervision",
            timeout=120,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._http.request, method, url, **kwargs))

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._portal_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, receiver: tuple[str, type[Receiver]]
) -> Iterator[FastAPI]:
    root: Path = tmp_path_factory.mktemp("supervision-api") / "net"
    init_network(
        root,
        chain_id="supervision-api",
        suite_name="intl",
        departments=[*DEMO_DEPARTMENTS, *DEMO_SERVICE_DEPARTMENTS],
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        deploy_in_process(node, root)
        settings = ApiSettings(
            network_dir=root,
            wait_timeout_s=30.0,
            identity_dir=NetworkDir(root).identity_dir,
            alert_webhook_url=receiver[0],
            alert_webhook_secret=SECRET,
        )
        made = create_app(node, settings)
        seed_demo(node, made.state, root, count=20)  # the enterprise registry
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
    made: dict[tuple[str, str], dict[str, str]] = {}

    def get(dept: str, role: str) -> dict[str, str]:
        if (dept, role) not in made:
            made[dept, role] = staff_login(app.state.identity, dept, role)
        return made[dept, role]

    return get


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = r.json()
    return doc


@pytest.fixture(scope="module")
def reported(app: FastAPI, client: ApiClient, login: Login) -> Any:
    """The reduced demo data set, each batch POSTed by an officer of the department holding
    it, except the first batch (kept to make the block after a plan's seal)."""
    data = generate(N, SEED, registry_profiles(app.state.node, N))
    batches = sorted(data.rows.items())
    for (kind, period), rows in batches[1:]:
        dept = HOLDERS[kind]
        body = {"batch": batch_id(kind, period, 0), "kind": kind, "period": period, "rows": rows}
        ok(client.request("POST", "/reports", json=body, headers=login(dept, "officer")))
    return data, batches[0]


def test_a_department_reports_only_what_it_holds(
    client: ApiClient, login: Login, reported: Any
) -> None:
    data, _ = reported
    rows = [[p.uscc, p.industry, p.division, 1] for p in data.profiles[:2]]
    body = {"batch": "tax-by-market", "kind": "tax", "period": data.last, "rows": rows}
    problem(client.request("POST", "/reports", json=body, headers=login("market", "officer")), 403)
    month = sorted(p for k, p in data.rows if k == "tax")[-2]
    again = {"batch": batch_id("tax", month, 0), "kind": "tax", "period": month}
    problem(
        client.request(
            "POST", "/reports", json={**again, "rows": rows}, headers=login("tax", "officer")
        ),
        409,
    )
    assert client.request("GET", "/risk").status_code in (401, 403)  # no login


def test_risk_scores_come_with_their_explanation(
    client: ApiClient, login: Login, reported: Any
) -> None:
    data, _ = reported
    doc = ok(client.request("GET", "/risk?limit=20", headers=login("market", "inspector")))
    assert sum(doc["counts"].values()) == len(data.profiles)
    scores = doc["scores"]
    assert [s["score"] for s in scores] == sorted((s["score"] for s in scores), reverse=True)
    weights = {f["fact"]: f["weight"] for f in doc["factors"]}
    for s in scores:
        assert s["score"] == sum(c["points"] for c in s["contributions"])
        for c in s["contributions"]:
            assert c["weight"] == weights[c["fact"]]
    # The collapsing enterprises injected in the data are the top of the list.
    assert scores[0]["risk"] == "high" and scores[0]["uscc"] in data.risky
    one = ok(client.request("GET", f"/risk/{scores[0]['uscc']}", headers=login("tax", "officer")))
    assert one["score"] == scores[0]["score"]
    assert one["contributions"] == scores[0]["contributions"]
    assert set(one["series"]) >= {"tax", "social", "complaint"}
    assert one["series"]["tax"]  # the monthly facts behind the score
    problem(client.request("GET", "/risk/91330100000000000X", headers=login("tax", "officer")), 404)


def plan_body(plan_id: str) -> dict[str, Any]:
    inspectors = [
        {"id": f"insp-{i:02d}", "name": f"检查员{i}", "division": d, "related": []}
        for i, d in enumerate(["330102", "330105", "330106", "330108", "330110", "330127"])
    ]
    return {
        "id": plan_id,
        "title": "接口测试抽查计划",
        "filter": {"status": "active"},
        "targets": 5,
        "per_target": 2,
        "delay": 1,
        "inspectors": inspectors,
    }


def test_plan_draw_verify_and_publish(
    app: FastAPI, client: ApiClient, login: Login, reported: Any
) -> None:
    data, ((kind, period), rows) = reported
    market = login("market", "officer")
    sealed = ok(client.request("POST", "/plans", json=plan_body("api-2026-q4"), headers=market))
    plan = sealed["plan"]
    members = app.state.supervision.registry_members({"status": "active"})
    assert plan["status"] == "sealed" and plan["population"] == len(members) > 5
    assert plan["seed_height"] == plan["sealed_height"] + 1
    # The seed block does not exist yet: a draw now is refused, not guessed.
    if app.state.node.ledger.height < plan["seed_height"]:
        problem(client.request("POST", "/plans/api-2026-q4/draw", headers=market), 503)
    last = {"batch": batch_id(kind, period, 0), "kind": kind, "period": period, "rows": rows}
    ok(client.request("POST", "/reports", json=last, headers=login(HOLDERS[kind], "officer")))
    drawn = ok(client.request("POST", "/plans/api-2026-q4/draw", headers=market))
    targets = drawn["draw"]["targets"]
    assert len(targets) == 5 and all(len(t["inspectors"]) == 2 for t in targets)
    assert drawn["receipt"].startswith("/v1/transactions/")
    again = problem(client.request("POST", "/plans/api-2026-q4/draw", headers=market), 409)
    assert "never repeated" in again["detail"]
    # Anyone recomputes the draw from the ledger: no login.
    check = ok(client.request("GET", "/plans/api-2026-q4/verify"))
    assert check["ok"] and check["problems"] == [] and check["targets"] == 5
    assert check["seed"] == check["recorded_seed"]
    header = app.state.node.ledger.header(plan["seed_height"]).header
    assert check["seed"] == header.hash(app.state.node.ledger.h).hex()
    public = ok(client.request("GET", "/plans/api-2026-q4/draw"))
    assert [t["uscc"] for t in public["targets"]] == [t["uscc"] for t in targets]
    # Results: only of a drawn enterprise, by the planning department's staff; public.
    first = targets[0]["uscc"]
    result = {"uscc": first, "outcome": "issues", "findings": "台账不全，责令整改"}
    ok(client.request("POST", "/plans/api-2026-q4/results", json=result, headers=market))
    undrawn = next(p.uscc for p in data.profiles if p.uscc not in {t["uscc"] for t in targets})
    problem(
        client.request(
            "POST",
            "/plans/api-2026-q4/results",
            json={**result, "uscc": undrawn},
            headers=market,
        ),
        404,
    )
    published = ok(client.request("GET", "/plans/api-2026-q4/results"))["results"]
    assert [(r["uscc"], r["outcome"]) for r in published] == [(first, "issues")]
    listed = ok(client.request("GET", "/plans"))["plans"]
    assert any(p["id"] == "api-2026-q4" and p["status"] == "drawn" for p in listed)


def test_alerts_are_recorded_with_their_inputs_and_posted_to_the_webhook(
    app: FastAPI,
    client: ApiClient,
    login: Login,
    reported: Any,
    receiver: tuple[str, type[Receiver]],
) -> None:
    _, handler = receiver
    data, _ = reported
    flagged = ok(client.request("GET", "/indicators", headers=login("data", "officer")))
    assert flagged["signals"], "the injected drop of one industry's tax crosses its threshold"
    # The receiver holds every post until released: recording must not wait for it.
    recorded = ok(client.request("POST", "/alerts", headers=login("data", "officer")))["recorded"]
    assert handler.seen == []
    assert {(a["indicator"], a["subject"]) for a in recorded} == {
        (s["indicator"], s["subject"]) for s in flagged["signals"]
    }
    assert any(a["subject"] == f"industry-{data.drop_industry}" for a in recorded)
    for a in recorded:
        assert a["inputs"] and a["figures"]["change_permille"] <= a["threshold"]
        assert a["tx_id"] and a["height"] > 0
    handler.gate.set()
    dispatcher = app.state.supervision.dispatcher
    assert dispatcher.wait_idle(60)
    delivered = {d.alert: d for d in dispatcher.deliveries()}
    assert all(d.delivered for d in delivered.values())
    assert max(d.attempts for d in delivered.values()) == 2  # the first post got a 500
    by_id = {delivery: (body, signature) for body, signature, delivery in handler.seen}
    for a in recorded:
        ident = f"{a['indicator']}/{a['subject']}/{a['period']}"
        body, signature = by_id[ident]
        assert check_signature(SECRET.encode(), body, signature)
        assert not check_signature(b"another-key-0123456789", body, signature)
        assert json.loads(body)["tx_id"] == a["tx_id"]
    # Recorded once per indicator, subject and month; listed with their inputs.
    assert ok(client.request("POST", "/alerts", headers=login("data", "officer")))["recorded"] == []
    listed = ok(client.request("GET", "/alerts", headers=login("tax", "officer")))["alerts"]
    assert {a["tx_id"] for a in recorded} <= {a["tx_id"] for a in listed}
    counts = ok(client.request("GET", "/assistance", headers=login("hrss", "officer")))
    # Counts only: a cell of 1 to 9 people is never published (zero says nobody).
    assert all(c["count"] is None or c["count"] == 0 or c["count"] >= 10 for c in counts["cells"])
    assert all((c["count"] is None) == bool(c["suppressed"]) for c in counts["cells"])


def test_a_webhook_needs_an_http_url_and_a_real_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        ApiSettings(tmp_path, alert_webhook_url="ftp://127.0.0.1/x", alert_webhook_secret=SECRET)
    with pytest.raises(ValueError, match="16 characters"):
        ApiSettings(tmp_path, alert_webhook_url="http://127.0.0.1/x", alert_webhook_secret="short")
    quiet = ApiSettings(
        tmp_path, alert_webhook_url="http://127.0.0.1/x", alert_webhook_secret=SECRET
    )
    assert SECRET not in repr(quiet)  # settings may be logged; the key is not in them
