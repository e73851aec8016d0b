"""Cases through the HTTP API: an enterprise registered by a citizen, handled by staff of
three departments; bad input refused with typed problems and nothing written; the receipts of
the timeline verify offline."""

from __future__ import annotations

from typing import Any

from case_fixtures import api, app, net, node
from case_helpers import (
    CUSTOMS_FILING,
    FORM,
    apply_for_registration,
    login_citizen,
    login_staff,
    register_enterprise,
    staff_act,
    wait_for,
)
from fastapi import FastAPI

from govchain.crypto import get_suite
from govchain.ledger.bundles import verify_bundle
from govchain.node.network import NetworkDir
from govchain.node.node import Node

__all__ = ["api", "app", "net", "node"]  # fixtures used here


def test_registration_end_to_end(api: Any, app: FastAPI, net: NetworkDir, node: Node) -> None:
    citizen = login_citizen(app)
    r = apply_for_registration(api, citizen)
    assert r.status_code == 201, r.text
    case = r.json()["result"]
    number = case["number"]
    assert case["status"] == "submitted" and case["applicant"].startswith("citizen/")

    market, tax, hrss = (login_staff(app, d) for d in ("market", "tax", "hrss"))
    approver = login_staff(app, "market", "approver")
    queue = api.get("/v1/departments/market/queue", headers=market).json()
    assert [d["case"] for d in queue["decisions"]] == [number]

    assert staff_act(api, market, "market", number, "accept").status_code == 200
    assert staff_act(api, market, "market", number, "claim", step="review").status_code == 200
    r = staff_act(api, market, "market", number, "complete", step="review", result="pass")
    assert r.json()["result"]["steps"][1]["status"] == "open"  # tax and hrss in parallel
    assert (
        staff_act(api, tax, "tax", number, "complete", step="tax_setup", result="pass").status_code
        == 200
    )
    assert (
        staff_act(
            api, hrss, "hrss", number, "complete", step="social_insurance", result="pass"
        ).status_code
        == 200
    )
    refused = staff_act(api, market, "market", number, "decide", outcome="approve")
    assert refused.status_code == 403 and refused.json()["code"] == "wrong_actor"
    r = staff_act(api, approver, "market", number, "decide", outcome="approve")
    assert r.status_code == 200, r.text
    outputs = r.json()["result"]["outputs"]
    uscc = outputs[0]["uscc"]
    assert staff_act(api, market, "market", number, "close").json()["result"]["status"] == "closed"

    ent = api.get(f"/v1/enterprises/{uscc}").json()
    assert ent["name"] == FORM["name"] and ent["status"] == "active"
    assert [lic["type"] for lic in ent["licences"]] == ["business_licence"]

    shown = api.get(f"/v1/cases/{number}", headers=citizen).json()
    events = [t["event"] for t in shown["timeline"]]
    passes = ["step_pass"] * 3
    assert events == ["submitted", "accepted", "claimed", *passes, "approved", "closed"]
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    for entry in shown["timeline"]:
        bundle = api.get(entry["receipt"]).json()
        verified = verify_bundle(bundle, genesis, suite)
        assert verified.tx_id == entry["tx"] and verified.status == "ok"
        # The case number is given at submission, so the submitting transaction has none.
        assert verified.case == ("" if entry["event"] == "submitted" else number)


def test_bad_input_is_refused_and_changes_nothing(
    api: Any, app: FastAPI, net: NetworkDir, node: Node
) -> None:
    citizen = login_citizen(app)
    height = node.ledger.height
    bad_form = {k: v for k, v in FORM.items() if k != "contact_phone"} | {
        "capital_fen": "many",
        "legal_rep_id": "110105194912310021",  # a wrong check digit
    }
    r = apply_for_registration(api, citizen, form=bad_form)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"contact_phone", "capital_fen", "legal_rep_id"}
    assert "check digit" in errors["legal_rep_id"]

    forged = apply_for_registration(api, citizen, materials={"application": "ab" * 32})
    assert forged.status_code == 422 and forged.json()["code"] == "unknown_material"
    assert node.ledger.height == height  # nothing was signed

    r = apply_for_registration(api, citizen)
    number = r.json()["result"]["number"]
    market, tax = login_staff(app, "market", "approver"), login_staff(app, "tax")
    wrong = staff_act(api, tax, "tax", number, "accept")
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_actor"
    early = staff_act(api, market, "market", number, "decide", outcome="approve")
    assert early.status_code == 409 and early.json()["state"] == "submitted"
    other = login_citizen(app, "110105198001010032")
    assert api.get(f"/v1/cases/{number}", headers=other).status_code == 403
    taken = apply_for_registration(api, other)
    assert taken.status_code == 409 and taken.json()["code"] == "name_taken"

    w = api.post(f"/v1/cases/{number}/withdraw", json={"reason": "改期申请"}, headers=citizen)
    assert w.json()["result"]["status"] == "withdrawn"
    again = api.post(f"/v1/cases/{number}/withdraw", json={}, headers=citizen)
    assert again.status_code == 409 and again.json()["state"] == "withdrawn"
    # The name is free again once the case that reserved it is withdrawn.
    assert apply_for_registration(api, other).status_code == 201


def test_permit_with_the_register_prefilled(api: Any, app: FastAPI, node: Node) -> None:
    citizen = login_citizen(app)
    uscc = register_enterprise(api, app, citizen)
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
    fetched = wait_for(lambda: api.get(f"/v1/cases/{number}", headers=citizen).json()["fetched"])
    assert fetched["business_licence"]["dept"] == "market"
    assert fetched["business_licence"]["answer"] is True
    customs = login_staff(app, "customs")
    for transition, extra in (("accept", {}), ("complete", {"step": "review", "result": "pass"})):
        assert (
            staff_act(api, customs, "customs", case["number"], transition, **extra).status_code
            == 200
        )
    decided = staff_act(api, customs, "customs", case["number"], "decide", outcome="approve").json()
    licence = decided["result"]["outputs"][0]["licence"]
    shown = api.get(f"/v1/licences/{licence}").json()
    assert shown["holder"] == uscc and shown["issuer"] == "customs" and shown["status"] == "active"
    ent = api.get(f"/v1/enterprises/{uscc}").json()
    assert sorted(lic["type"] for lic in ent["licences"]) == [
        "business_licence",
        "customs_declarant",
    ]

    stranger = login_citizen(app, "110105198001010032")
    height = node.ledger.height
    refused = api.post("/v1/cases", json=body | {"materials": {}}, headers=stranger)
    assert refused.status_code == 403 and uscc in refused.json()["detail"]
    assert node.ledger.height == height
