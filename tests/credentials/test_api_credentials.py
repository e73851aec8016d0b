"""The credentials API: staff issue an enterprise's licence credentials; a person acting for the
enterprise lists, downloads (JSON-LD and SD-JWT) and presents them with selective disclosure;
anyone verifies without logging in; errors are ``application/problem+json`` with their code."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, init_network
from govchain.procedures.uscc import issue_uscc

CITIZEN = "11010519491231002X"  # a valid resident identity number (GB 11643 check digit)
STRANGER = "110105198001010032"


def _load(name: str, file: str) -> ModuleType:
    """A helper module of tests/api (loaded by path: test folders are not packages)."""
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "api" / file
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _helpers() -> ModuleType:
    return _load("identity_helpers", "identity_helpers.py")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="cred-api",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        yield create_app(node, ApiSettings(network_dir=root, wait_timeout_s=20.0))
    finally:
        node.stop(drain=True)


@pytest.fixture
def api(app: FastAPI) -> Iterator[Any]:
    # The ASGI client of the API tests (no sockets), from their conftest.
    client = _load("api_test_client", "conftest.py").ApiClient(app)
    try:
        yield client
    finally:
        client.close()


def _staff(app: FastAPI, dept: str, role: str = "officer") -> dict[str, str]:
    h = _helpers()
    login = f"{dept}/{role}-1"
    if app.state.identity.users.find_login(login) is None:
        app.state.identity.users.create_staff(login, f"{dept} {role}", dept, role, h.PASSWORD)
    return dict(h.bearer(h.tokens_for(app.state.identity, login, h.PASSWORD)))


def _citizen(app: FastAPI, resident_id: str) -> tuple[str, dict[str, str]]:
    h = _helpers()
    user = app.state.identity.users.create_citizen(resident_id, "王伟", h.PASSWORD)
    return user.id, dict(h.bearer(h.tokens_for(app.state.identity, resident_id, h.PASSWORD)))


def _import(app: FastAPI, agent: str) -> str:
    uscc = issue_uscc("330106", 9_300_001)
    ent = {
        "uscc": uscc,
        "name": "杭州瑞丰科技有限公司",
        "division": "330106",
        "legal_rep_name": "王伟",
        "legal_rep_ref": "cd" * 32,
        "industry": "65",
        "capital_fen": 5_000_000_00,
        "address": "杭州市西湖区天目山路1号",
        "scope": "软件开发；信息技术咨询服务",
        "agents": [agent],
        "established_ms": app.state.node.clock_ms() - 86_400_000,
    }
    signer = app.state.sharing.signer
    call = signer.call(
        "market", "registry", "import_enterprise", {"enterprise": ent}, actor="market/sharing"
    )
    signer.commit_one(call)
    return uscc


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


def test_holder_lists_downloads_presents_and_anyone_verifies(api: Any, app: FastAPI) -> None:
    rep, rep_auth = _citizen(app, CITIZEN)
    _, stranger = _citizen(app, STRANGER)
    uscc = _import(app, rep)
    market = _staff(app, "market")

    r = api.post(f"/v1/credentials/licences/{uscc}", headers=market)
    assert r.status_code == 200, r.text
    (issued,) = r.json()
    digest = issued["hash"]
    assert issued["credential"]["credentialSubject"]["holderIdentifier"] == uscc

    held = api.get("/v1/credentials/held", headers=rep_auth).json()
    assert [c["hash"] for c in held] == [digest]
    assert api.get("/v1/credentials/held", headers=stranger).json() == []
    _problem(api.get(f"/v1/credentials/{digest}", headers=stranger), 403, "forbidden")
    _problem(api.get("/v1/credentials/held"), 401, "unauthenticated")

    file = api.get(f"/v1/credentials/{digest}", headers=rep_auth).json()
    assert file["credential"] == issued["credential"] and file["evidence"]["tx_id"]
    verified = api.post("/v1/credentials/verify", json={"credential": file}).json()
    assert verified["ok"] is True and verified["notarised"]["hash"] == digest

    sd = api.get(f"/v1/credentials/{digest}?format=sd-jwt", headers=rep_auth).json()
    assert isinstance(sd["credential"], str) and sd["credential"].count("~") > 5
    assert api.post("/v1/credentials/verify", json={"credential": sd["credential"]}).json()["ok"]

    shown = api.post(
        f"/v1/credentials/{digest}/present",
        json={"disclose": ["licenceName", "holder"]},
        headers=rep_auth,
    ).json()
    token = shown["presentation"]
    assert len(token.split("~")) == 4  # issuer JWT, two disclosures, empty key binding
    report = api.post("/v1/credentials/verify", json={"credential": token}).json()
    assert report["ok"] is True, report

    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["licenceName"] = "食品经营许可证"
    bad = api.post("/v1/credentials/verify", json={"credential": tampered}).json()
    assert bad["ok"] is False and bad["failed"] == "proof" and bad["notarised"] is None

    lists = api.get("/v1/credentials/status/market/revocation/0").json()
    assert lists["anchor"]["dept"] == "market" and lists["receipt"]["tx_id"]
    did = api.get("/v1/credentials/dids/market").json()
    assert did["id"] == issued["credential"]["issuer"]

    revoked = api.post(
        f"/v1/credentials/{digest}/status",
        json={"purpose": "revocation", "reason": "依法撤销"},
        headers=market,
    )
    assert revoked.status_code == 200, revoked.text
    after = api.post("/v1/credentials/verify", json={"credential": issued["credential"]}).json()
    assert after["failed"] == "status"
    again = api.post(
        f"/v1/credentials/{digest}/status", json={"purpose": "revocation"}, headers=market
    )
    _problem(again, 409, "already_revoked")
    foreign = api.post(
        f"/v1/credentials/{digest}/status",
        json={"purpose": "suspension"},
        headers=_staff(app, "tax"),
    )
    _problem(foreign, 403, "forbidden")


def test_bills_reimbursed_once_over_http(api: Any, app: FastAPI) -> None:
    tax = _staff(app, "tax")
    body = {
        "bill_type": "non_tax",
        "payer": "王伟",
        "payer_id": CITIZEN,
        "holder": "citizen/0001",
        "payee": "税务局",
        "payee_id": "tax",
        "items": [{"name": "工本费", "quantity": 1, "amount_fen": 1_000}],
    }
    made = api.post("/v1/credentials/bills", json=body, headers=tax)
    assert made.status_code == 201, made.text
    digest = made.json()["hash"]
    refused = api.post("/v1/credentials/bills", json=body, headers=_staff(app, "hrss"))
    _problem(refused, 403, "forbidden")
    ok = api.post(f"/v1/credentials/bills/{digest}/reimburse", headers=_staff(app, "hrss"))
    assert ok.status_code == 200 and ok.json()["reimbursed"]["unit"] == "hrss"
    twice = api.post(f"/v1/credentials/bills/{digest}/reimburse", headers=_staff(app, "customs"))
    _problem(twice, 409, "already_reimbursed")
    bad_items = api.post(
        "/v1/credentials/bills", json={**body, "items": [{"name": "x"}]}, headers=tax
    )
    assert bad_items.status_code in (400, 422)
    assert bad_items.headers["content-type"].startswith("application/problem+json")
