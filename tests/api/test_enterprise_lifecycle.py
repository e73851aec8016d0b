"""The enterprise life cycle end to end on an embedded network of four departments, through
the HTTP API: a citizen registers an enterprise; the enterprise obtains two permits (a customs
filing handled by customs, and a prepackaged-food filing decided without a person from the
register's answer); it is deregistered in one application that every department clears from its
own data — tax first answers "no" (arrears), then "yes" after payment; after the 20-day public
notice (a test clock) the decision is made without a person, the enterprise is deregistered
and its licences revoked. Every receipt of every case verifies offline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from case_helpers import (
    CUSTOMS_FILING,
    login_citizen,
    login_staff,
    register_enterprise,
    staff_act,
    wait_for,
)
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.cli.apps import publish_definitions
from govchain.crypto import get_suite
from govchain.ledger.bundles import verify_bundle
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.sdk import find_app
from govchain.sharing.requests import build_request

DAY_MS = 86_400_000
START_MS = 1_796_004_000_000  # 2026-12-01T02:00:00Z, a Tuesday


class Clock:
    """The node's clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        self.now += 1  # strictly increasing block times
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def net(tmp_path: Path) -> NetworkDir:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="lifecycle-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(root)


@pytest.fixture
def node(net: NetworkDir, clock: Clock) -> Iterator[Node]:
    n = open_embedded(net.root, in_memory=True, clock_ms=clock)
    n.start()
    try:
        service = find_app("enterprise")
        publish_definitions(n, net.root, service.definitions(), service.resources())
        yield n
    finally:
        n.close()


@pytest.fixture
def app(node: Node, net: NetworkDir) -> FastAPI:
    return create_app(node, ApiSettings(network_dir=net.root, wait_timeout_s=20.0))


@pytest.fixture
def api(app: FastAPI, client_for: Callable[[FastAPI], Any]) -> Any:
    return client_for(app)


def _data(app: FastAPI, node: Node, kind: str, args: dict[str, Any], dept: str = "tax") -> None:
    """Publish or erase a record as the department that owns it (its own data)."""
    sharing = app.state.sharing
    cred = sharing.signer.local(dept)
    request = build_request(
        chain=node.genesis.chain_id,
        kind=kind,
        signer=cred.member,
        actor=f"{dept}/officer-zhao",
        args=args,
        time_ms=node.clock_ms(),
        sign=lambda m: node.suite.sign(cred.member_private, m),
        purpose="征收管理",
    )
    getattr(sharing, kind)(request.envelope())


def _upload(api: Any, who: dict[str, str], service: str) -> str:
    r = api.post(
        f"/v1/cases/materials?service={service}&name=application.pdf",
        content=f"%PDF {service}".encode(),
        headers=who,
    )
    assert r.status_code == 201, r.text
    digest: str = r.json()["hash"]
    return digest


def _case(api: Any, who: dict[str, str], number: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/v1/cases/{number}", headers=who).json()
    return found


def test_register_two_permits_and_deregister(
    api: Any, app: FastAPI, node: Node, net: NetworkDir, clock: Clock
) -> None:
    rep = login_citizen(app)
    uscc = register_enterprise(api, app, rep)
    # The register's department mirrors the new enterprise into its own data (an attestation
    # source for the filings below).
    assert wait_for(lambda: app.state.registry_feed.published >= 1)
    numbers: list[str] = []

    # Permit 1: the customs declarant filing, reviewed by a customs officer.
    filing = {
        "service": "330100-BA-0003",
        "subject": uscc,
        "form": CUSTOMS_FILING,
        "materials": {"application": _upload(api, rep, "330100-BA-0003")},
        "consents": ["business_licence"],
    }
    r = api.post("/v1/cases", json=filing, headers=rep)
    assert r.status_code == 201, r.text
    customs_case = r.json()["result"]["number"]
    numbers.append(customs_case)
    customs = login_staff(app, "customs")
    for transition, extra in (
        ("accept", {}),
        ("complete", {"step": "review", "result": "pass"}),
        ("decide", {"outcome": "approve"}),
    ):
        r = staff_act(api, customs, "customs", customs_case, transition, **extra)
        assert r.status_code == 200, r.text

    # Permit 2: prepackaged food, accepted on submission and decided by the register's answer.
    form = {
        **{
            k: v for k, v in CUSTOMS_FILING.items() if k in ("application_kind", "application_date")
        },
        "signatory_name": "王伟",
        "truthfulness_pledge": True,
        "licence_delivery": "电子证照",
        "contact_name": "李娜",
        "contact_phone": "13900002222",
        "principal_name": "王伟",
        "principal_phone": "13800001234",
        "premises_property_cert": "浙(2026)杭州市不动产权第0012345号",
        "premises_address": "杭州市西湖区文三路100号",
        "premises_district": "西湖区",
        "premises_ownership": "自有",
        "operating_area_m2": 80,
        "prepackaged_items": ["预包装食品（不含冷藏冷冻食品）"],
    }
    food = {**filing, "service": "330100-BA-0001", "form": form}
    food["materials"] = {"application": _upload(api, rep, "330100-BA-0001")}
    r = api.post("/v1/cases", json=food, headers=rep)
    assert r.status_code == 201, r.text
    food_case = r.json()["result"]["number"]
    numbers.append(food_case)
    decided = wait_for(lambda: _case(api, rep, food_case)["status"] == "issued")
    assert decided, _case(api, rep, food_case)

    ent = api.get(f"/v1/enterprises/{uscc}").json()
    licences = {lic["type"]: lic["number"] for lic in ent["licences"]}
    assert set(licences) == {"business_licence", "customs_declarant", "prepackaged_food_filing"}

    # Tax holds unpaid arrears: deregistration is blocked there, and says what to do.
    arrears = {
        "tax_type": "增值税",
        "amount_fen": 1_280_000,
        "due_date": "2026-10-15",
        "settled": False,
    }
    _data(
        app,
        node,
        "publish",
        {"resource": "tax.arrears", "record": "a-1", "subject": uscc, "data": arrears},
    )
    dereg = {
        "service": "330100-ZX-0001",
        "subject": uscc,
        "form": {"reason": "决议解散", "contact_phone": "13800001234", "no_debts": True},
        "materials": {
            "application": _upload(api, rep, "330100-ZX-0001"),
            "commitment": _upload(api, rep, "330100-ZX-0001"),
        },
    }
    r = api.post("/v1/cases", json=dereg, headers=rep)
    assert r.status_code == 201, r.text
    number = r.json()["result"]["number"]
    numbers.append(number)

    def tax_step() -> dict[str, Any]:
        return next(s for s in _case(api, rep, number)["steps"] if s["id"] == "tax_arrears")

    assert wait_for(lambda: tax_step()["status"] == "blocked")
    assert "缴清欠税" in tax_step()["note"]
    assert api.get(f"/v1/enterprises/{uscc}").json()["status"] == "deregistering"
    others = [
        s
        for s in _case(api, rep, number)["steps"]
        if s["kind"] == "check" and s["id"] != "tax_arrears"
    ]
    assert all(s["status"] == "done" and s["result"] == "pass" for s in others)

    # Payment: tax's data changes, the check runs again by itself and passes.
    _data(app, node, "erase", {"resource": "tax.arrears", "record": "a-1", "reason": "已缴清"})
    assert wait_for(lambda: tax_step()["status"] == "done")

    # A creditor's objection after the notice period is refused; the decision needs no person.
    notice = next(s for s in _case(api, rep, number)["steps"] if s["id"] == "notice")
    clock.now = notice["deadline_ms"] + 1
    assert wait_for(lambda: _case(api, rep, number)["status"] == "issued")
    late = api.post(
        f"/v1/cases/{number}/objections",
        json={"step": "notice", "text": "尚有货款未付"},
        headers=rep,
    )
    assert late.status_code == 409
    case = _case(api, rep, number)
    assert case["outcome"] == "approved"
    assert [h["event"] for h in case["history"]][-2:] == ["notice_ended", "approved"]
    ent = api.get(f"/v1/enterprises/{uscc}").json()
    assert ent["status"] == "deregistered"
    assert {lic["status"] for lic in ent["licences"]} == {"revoked"}

    # Every transition of every case verifies offline against genesis alone.
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    for n in numbers:
        for entry in _case(api, rep, n)["timeline"]:
            verified = verify_bundle(api.get(entry["receipt"]).json(), genesis, suite)
            assert verified.tx_id == entry["tx"] and verified.status == "ok"
