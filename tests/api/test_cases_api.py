"""Cases through the HTTP API: an enterprise registered by a citizen, handled by staff of
three departments; bad input refused with typed problems and nothing written; the receipts of
the timeline verify offline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.cli.apps import publish_definitions
from govchain.ledger.genesis import Params
from govchain.crypto import get_suite
from govchain.errors import Conflict
from govchain.ledger.bundles import verify_bundle
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.sdk import find_app
from conftest import ApiClient
from identity_helpers import CITIZEN_ID, PASSWORD, bearer, tokens_for

REGISTRATION = "330100-DJ-0001"
FORM = {
    "name": "杭州恒瑞餐饮管理有限公司",
    "division": "330106",
    "legal_rep_name": "王伟",
    "legal_rep_id": CITIZEN_ID,
    "industry": "6210",
    "capital_fen": 100_000_000,
    "address": "杭州市西湖区文三路100号",
    "scope": "餐饮服务；食品销售",
    "contact_phone": "13800001234",
}


@pytest.fixture
def net(tmp_path: Path) -> NetworkDir:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="cases-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


@pytest.fixture
def node(net: NetworkDir) -> Iterator[Node]:
    n = open_embedded(net.root, in_memory=True)
    n.start()
    try:
        app = find_app("enterprise")
        publish_definitions(n, net.root, app.definitions(), app.resources())
        yield n
    finally:
        n.stop(drain=True)


@pytest.fixture
def app(node: Node, net: NetworkDir) -> FastAPI:
    return create_app(node, ApiSettings(network_dir=net.root, wait_timeout_s=20.0))


@pytest.fixture
def api(app: FastAPI) -> Iterator[ApiClient]:
    c = ApiClient(app)
    try:
        yield c
    finally:
        c.close()


def _staff(app: FastAPI, dept: str, role: str = "officer") -> dict[str, str]:
    identity = app.state.identity
    login = f"{dept}/{role}-1"
    try:
        identity.users.create_staff(login, f"{dept} {role}", dept, role, PASSWORD)
    except Conflict:
        pass  # made by an earlier call
    return bearer(tokens_for(identity, login, PASSWORD))


def _citizen(app: FastAPI, resident_id: str = CITIZEN_ID) -> dict[str, str]:
    identity = app.state.identity
    identity.users.create_citizen(resident_id, "王伟", PASSWORD)
    return bearer(tokens_for(identity, resident_id, PASSWORD))


def _upload(api: ApiClient, who: dict[str, str], name: str) -> str:
    r = api.post(
        f"/v1/cases/materials?service={REGISTRATION}&name={name}",
        content=f"{name} 的内容".encode(),
        headers={**who, "content-type": "application/pdf"},
    )
    assert r.status_code == 201, r.text
    digest: str = r.json()["hash"]
    return digest


def _apply(api: ApiClient, who: dict[str, str], **changes: Any) -> Any:
    materials = {
        m: _upload(api, who, f"{m}.pdf")
        for m in ("application", "articles", "shareholders", "appointments", "premises")
    }
    body = {
        "service": REGISTRATION,
        "form": FORM,
        "materials": materials,
    }
    body.update(changes)
    return api.post("/v1/cases", json=body, headers=who)


def _act(
    api: ApiClient, who: dict[str, str], dept: str, number: str, transition: str, **body: Any
) -> Any:
    return api.post(f"/v1/departments/{dept}/cases/{number}/{transition}", json=body, headers=who)


def test_registration_end_to_end(api: ApiClient, app: FastAPI, net: NetworkDir, node: Node) -> None:
    citizen = _citizen(app)
    r = _apply(api, citizen)
    assert r.status_code == 201, r.text
    case = r.json()["result"]
    number = case["number"]
    assert case["status"] == "submitted" and case["applicant"].startswith("citizen/")

    market, tax, hrss = (_staff(app, d) for d in ("market", "tax", "hrss"))
    approver = _staff(app, "market", "approver")
    queue = api.get("/v1/departments/market/queue", headers=market).json()
    assert [d["case"] for d in queue["decisions"]] == [number]

    assert _act(api, market, "market", number, "accept").status_code == 200
    assert _act(api, market, "market", number, "claim", step="review").status_code == 200
    r = _act(api, market, "market", number, "complete", step="review", result="pass")
    assert r.json()["result"]["steps"][1]["status"] == "open"  # tax and hrss in parallel
    assert (
        _act(api, tax, "tax", number, "complete", step="tax_setup", result="pass").status_code
        == 200
    )
    assert (
        _act(
            api, hrss, "hrss", number, "complete", step="social_insurance", result="pass"
        ).status_code
        == 200
    )
    refused = _act(api, market, "market", number, "decide", outcome="approve")
    assert refused.status_code == 403 and refused.json()["code"] == "wrong_actor"
    r = _act(api, approver, "market", number, "decide", outcome="approve")
    assert r.status_code == 200, r.text
    outputs = r.json()["result"]["outputs"]
    uscc = outputs[0]["uscc"]
    assert _act(api, market, "market", number, "close").json()["result"]["status"] == "closed"

    ent = api.get(f"/v1/enterprises/{uscc}").json()
    assert ent["name"] == FORM["name"] and ent["status"] == "active"
    assert [lic["type"] for lic in ent["licences"]] == ["business_licence"]

    shown = api.get(f"/v1/cases/{number}", headers=citizen).json()
    events = [t["event"] for t in shown["timeline"]]
    assert events == [
        "submitted", "accepted", "claimed", "step_pass", "step_pass", "step_pass", "approved", "closed",
    ]  # fmt: skip
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    for entry in shown["timeline"]:
        bundle = api.get(entry["receipt"]).json()
        verified = verify_bundle(bundle, genesis, suite)
        assert verified.tx_id == entry["tx"] and verified.status == "ok"
        # The case number is given at submission, so the submitting transaction has none.
        assert verified.case == ("" if entry["event"] == "submitted" else number)


def test_bad_input_is_refused_and_changes_nothing(
    api: ApiClient, app: FastAPI, net: NetworkDir, node: Node
) -> None:
    citizen = _citizen(app)
    height = node.ledger.height
    bad_form = {k: v for k, v in FORM.items() if k != "contact_phone"} | {
        "capital_fen": "many",
        "legal_rep_id": "110105194912310021",  # a wrong check digit
    }
    r = _apply(api, citizen, form=bad_form)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"contact_phone", "capital_fen", "legal_rep_id"}
    assert "check digit" in errors["legal_rep_id"]

    forged = _apply(api, citizen, materials={"application": "ab" * 32})
    assert forged.status_code == 422 and forged.json()["code"] == "unknown_material"
    assert node.ledger.height == height  # nothing was signed

    r = _apply(api, citizen)
    number = r.json()["result"]["number"]
    market, tax = _staff(app, "market", "approver"), _staff(app, "tax")
    wrong = _act(api, tax, "tax", number, "accept")
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_actor"
    early = _act(api, market, "market", number, "decide", outcome="approve")
    assert early.status_code == 409 and early.json()["state"] == "submitted"
    other = _citizen(app, "110105198001010032")
    assert api.get(f"/v1/cases/{number}", headers=other).status_code == 403
    taken = _apply(api, other)
    assert taken.status_code == 409 and taken.json()["code"] == "name_taken"

    w = api.post(f"/v1/cases/{number}/withdraw", json={"reason": "改期申请"}, headers=citizen)
    assert w.json()["result"]["status"] == "withdrawn"
    again = api.post(f"/v1/cases/{number}/withdraw", json={}, headers=citizen)
    assert again.status_code == 409 and again.json()["state"] == "withdrawn"
    # The name is free again once the case that reserved it is withdrawn.
    assert _apply(api, other).status_code == 201


def _register(api: ApiClient, app: FastAPI, citizen: dict[str, str]) -> str:
    """Register the enterprise of ``FORM`` through the whole procedure; return its USCC."""
    number = _apply(api, citizen).json()["result"]["number"]
    market, tax, hrss = (_staff(app, d) for d in ("market", "tax", "hrss"))
    approver = _staff(app, "market", "approver")
    for who, dept, transition, body in (
        (market, "market", "accept", {}),
        (market, "market", "complete", {"step": "review", "result": "pass"}),
        (tax, "tax", "complete", {"step": "tax_setup", "result": "pass"}),
        (hrss, "hrss", "complete", {"step": "social_insurance", "result": "pass"}),
        (approver, "market", "decide", {"outcome": "approve"}),
    ):
        r = _act(api, who, dept, number, transition, **body)
        assert r.status_code == 200, r.text
    uscc: str = r.json()["result"]["outputs"][0]["uscc"]
    return uscc


def _wait(probe: Any, seconds: float = 20.0) -> Any:
    """Poll ``probe`` until it returns something true (the node's workers are threads)."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


CUSTOMS_FILING = {
    "application_kind": "新办",
    "application_date": "2026-12-07",
    "signatory_name": "王伟",
    "truthfulness_pledge": True,
    "licence_delivery": "电子证照",
    "contact_name": "李娜",
    "contact_phone": "13900002222",
    "declarant_kind": "进出口货物收发货人",
    "customs_office": "杭州海关",
    "trade_kind": ["一般贸易"],
}


def test_permit_with_the_register_prefilled(api: ApiClient, app: FastAPI, node: Node) -> None:
    citizen = _citizen(app)
    uscc = _register(api, app, citizen)
    code = "330100-BA-0003"
    filled = api.get(f"/v1/services/{code}/prefill?subject={uscc}", headers=citizen).json()["form"]
    assert filled["uscc"] == uscc and filled["enterprise_name"] == FORM["name"]
    upload = api.post(
        f"/v1/cases/materials?service={code}&name=application.pdf",
        content=b"%PDF-1.7 customs filing",
        headers=citizen,
    ).json()["hash"]
    # The register's fields are taken from the register: a different name is overwritten.
    form = {
        **CUSTOMS_FILING,
        "enterprise_name": "别的名字有限公司",
        "premises_address": FORM["address"],
    }
    body = {
        "service": code,
        "subject": uscc,
        "form": form,
        "materials": {"application": upload},
        "consents": ["business_licence"],
    }
    r = api.post("/v1/cases", json=body, headers=citizen)
    assert r.status_code == 201, r.text
    case = r.json()["result"]
    assert case["applicant_kind"] == "enterprise" and case["consents"] == ["business_licence"]
    # The register's department answers for the business licence it holds (an attestation).
    number = case["number"]
    fetched = _wait(lambda: api.get(f"/v1/cases/{number}", headers=citizen).json()["fetched"])
    assert fetched["business_licence"]["dept"] == "market"
    assert fetched["business_licence"]["answer"] is True
    customs = _staff(app, "customs")
    for transition, extra in (("accept", {}), ("complete", {"step": "review", "result": "pass"})):
        assert _act(api, customs, "customs", case["number"], transition, **extra).status_code == 200
    decided = _act(api, customs, "customs", case["number"], "decide", outcome="approve").json()
    licence = decided["result"]["outputs"][0]["licence"]
    shown = api.get(f"/v1/licences/{licence}").json()
    assert shown["holder"] == uscc and shown["issuer"] == "customs" and shown["status"] == "active"
    ent = api.get(f"/v1/enterprises/{uscc}").json()
    assert sorted(lic["type"] for lic in ent["licences"]) == [
        "business_licence",
        "customs_declarant",
    ]

    stranger = _citizen(app, "110105198001010032")
    height = node.ledger.height
    refused = api.post("/v1/cases", json=body | {"materials": {}}, headers=stranger)
    assert refused.status_code == 403 and uscc in refused.json()["detail"]
    assert node.ledger.height == height
