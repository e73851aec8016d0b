"""The service's HTTP routes, mounted alone in a bare FastAPI application over the session's
node (the platform's API, its login and its problem answers are tested with the API: a service
may not import the layer that serves it). A stand-in middleware says who is logged in."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import anyio
import orjson
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message, Scope

from govchain.apps.funds.routes import ROUTERS
from govchain.apps.funds.service import FundsDesk
from govchain.errors import Forbidden

BASE = "/v1/apps/funds"


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer."""

    status_code: int
    """Status."""
    body: bytes
    """Body."""

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode()

    def json(self) -> Any:
        """The body as JSON."""
        return orjson.loads(self.body)


class Client:
    """Calls the application in-process through its ASGI interface (the HTTP client library
    is for the access layer only)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes = b"",
        json: Any = None,
    ) -> Answer:
        """Send one request; return the answer (an exception of the app is raised)."""
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        if json is not None:
            content = orjson.dumps(json)
            sent["content-type"] = "application/json"
        sent["content-length"] = str(len(content))
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(params or {}).encode(),
            "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        status = 0
        body = bytearray()
        pending: list[Message] = [{"type": "http.request", "body": content, "more_body": False}]

        async def receive() -> Message:
            return pending.pop() if pending else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        async def call() -> None:
            await self.app(scope, receive, send)

        anyio.run(call)
        return Answer(status, bytes(body))

    def get(self, path: str, **kw: Any) -> Answer:
        """GET."""
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Answer:
        """POST."""
        return self.request("POST", path, **kw)


@pytest.fixture(scope="module")
def client(scanned_desk: FundsDesk) -> Client:
    app = FastAPI()
    app.state.funds = scanned_desk  # what ``desk_for`` returns
    app.state.node = scanned_desk.node

    @app.middleware("http")
    async def principal(request: Request, call_next):  # type: ignore[no-untyped-def]
        who = request.headers.get("x-test-user", "")
        dept, _, role = who.partition(":")
        request.state.principal = (
            SimpleNamespace(kind="staff", user=f"{dept}/{role}-1", dept=dept, role=role)
            if who
            else None
        )
        return await call_next(request)

    for router in ROUTERS.values():
        app.include_router(router, prefix=BASE)
    return Client(app)


@pytest.fixture(scope="module")
def scanned_desk(loaded: FundsDesk) -> FundsDesk:
    loaded.scan("data", "data/officer-1")
    return loaded


def as_staff(dept: str, role: str) -> dict[str, str]:
    return {"x-test-user": f"{dept}:{role}"}


def test_lists_and_shows(client: Client) -> None:
    doc = client.get(f"{BASE}/projects", headers=as_staff("data", "inspector")).json()
    assert doc["count"] == 50
    assert sum(p["open_flags"] for p in doc["projects"]) > 0
    one = client.get(f"{BASE}/projects/FP-2025-001", headers=as_staff("fire", "auditor")).json()
    assert one["project"]["id"] == "FP-2025-001" and one["disbursements"]
    flags = client.get(
        f"{BASE}/flags", params={"status": "open"}, headers=as_staff("data", "officer")
    )
    first = flags.json()["flags"][0]
    shown = client.get(f"{BASE}/flags/{first['id']}", headers=as_staff("data", "officer")).json()
    assert shown["inputs"] == first["inputs"]


def test_staff_only(client: Client) -> None:
    with pytest.raises(Forbidden):
        client.get(f"{BASE}/projects")


def test_evidence_upload_and_disbursement(client: Client, scanned_desk: FundsDesk) -> None:
    project = scanned_desk.project("FP-2025-002")
    owner = project["dept"]
    milestone = project["milestones"][-1]["id"]
    posted = client.post(
        f"{BASE}/projects/FP-2025-002/milestones/{milestone}/evidence",
        params={"kind": "acceptance", "title": "竣工验收报告（补充）"},
        content="验收结论：合格（路由测试）".encode(),
        headers={**as_staff(owner, "officer"), "content-type": "application/octet-stream"},
    )
    assert posted.status_code == 201, posted.text
    digest = posted.json()["digest"]
    assert scanned_desk.evidence_item(digest)["in_store"]
    assert posted.json()["receipt"].startswith("/v1/transactions/")
    left = project["budget_fen"] - project["paid_fen"]
    paid = client.post(
        f"{BASE}/projects/FP-2025-002/disbursements",
        json={
            "milestone": milestone,
            "payee": project["payees"][0]["id"],
            "amount_fen": left,
            "paid_on": "2026-12-01",
            "purpose": "竣工验收款",
        },
        headers=as_staff(owner, "officer"),
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["result"]["paid_fen"] == project["budget_fen"]
