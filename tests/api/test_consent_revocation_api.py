"""Revoking a consent through the HTTP API (``POST /v1/cases/{number}/revoke-consent``): the
market department has answered for the business licence of a customs filing; the applicant
takes the consent back, first without a file of their own (refused: the licence is required),
then with one. Afterwards the contract refuses market's answer for it, and the node's case
worker does not answer again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from case_fixtures import api, app, net, node
from case_helpers import CUSTOMS_FILING, FORM, login_citizen, register_enterprise, wait_for
from fastapi import FastAPI

from govchain.errors import Forbidden
from govchain.node.node import Node

FILING = "330100-BA-0003"
"""报关单位备案: its business licence is held by market (answered by attestation)."""

__all__ = ["api", "app", "net", "node"]  # fixtures used here


def upload(api: Any, who: dict[str, str], name: str, data: bytes) -> str:
    r = api.post(
        f"/v1/cases/materials?service={FILING}&name={name}",
        content=data,
        headers={**who, "content-type": "application/pdf"},
    )
    assert r.status_code == 201, r.text
    digest: str = r.json()["hash"]
    return digest


def test_revoking_a_consent_through_the_api(api: Any, app: FastAPI, node: Node) -> None:
    citizen = login_citizen(app)
    uscc = register_enterprise(api, app, citizen)
    form = {**CUSTOMS_FILING, "premises_address": FORM["address"]}
    body = {
        "service": FILING,
        "subject": uscc,
        "form": form,
        "materials": {"application": upload(api, citizen, "form.pdf", b"%PDF-1.7 filing")},
        "consents": ["business_licence"],
    }
    r = api.post("/v1/cases", json=body, headers=citizen)
    assert r.status_code == 201, r.text
    number = r.json()["result"]["number"]
    path = f"/v1/cases/{number}"
    fetched = wait_for(lambda: api.get(path, headers=citizen).json()["fetched"])
    answered = fetched["business_licence"]
    assert answered["dept"] == "market" and answered["answer"] is True

    height = node.ledger.height
    revoke = f"{path}/revoke-consent"
    # The licence is required: without the applicant's own file, nothing is written.
    refused = api.post(revoke, json={"material": "business_licence"}, headers=citizen)
    assert refused.status_code == 422, refused.text
    assert "withdraw" in refused.json()["detail"]
    # A hash of a file nobody uploaded, a malformed one, a material nobody holds, a stranger.
    unknown = api.post(
        revoke, json={"material": "business_licence", "replacement": "ab" * 32}, headers=citizen
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_material"
    malformed = api.post(
        revoke, json={"material": "business_licence", "replacement": "xyz"}, headers=citizen
    )
    assert malformed.status_code == 422
    not_held = api.post(revoke, json={"material": "application"}, headers=citizen)
    assert not_held.status_code == 422
    stranger = login_citizen(app, "110105198001010032")
    own = upload(api, citizen, "licence.pdf", b"%PDF-1.7 business licence")
    foreign = api.post(
        revoke, json={"material": "business_licence", "replacement": own}, headers=stranger
    )
    assert foreign.status_code == 403
    assert node.ledger.height == height

    done = api.post(
        revoke, json={"material": "business_licence", "replacement": own}, headers=citizen
    )
    assert done.status_code == 200, done.text
    case = done.json()["result"]
    assert case["consents"] == [] and case["fetched"] == {}
    assert case["materials"]["business_licence"] == own
    assert case["history"][-1]["event"] == "consent_revoked"
    assert case["history"][-1]["step"] == "business_licence"
    assert done.json()["receipt"]["status"] == "ok"
    again = api.post(
        revoke, json={"material": "business_licence", "replacement": own}, headers=citizen
    )
    assert again.status_code == 409 and again.json()["state"] == "not_consented"

    # The contract refuses market's answer now, even signed by market's own key.
    desk = app.state.casedesk
    tx = desk.sign(
        "market", "cases", "attach",
        {"case": number, "material": "business_licence", "attestation": answered["attestation"],
         "answer": True, "role": "system"},
        "market/system", case=number,
    )  # fmt: skip
    with pytest.raises(Forbidden) as info:
        desk.commit_one(tx, 20.0)
    assert "did not consent" in info.value.message
    # The case worker does not answer again (it answers only with a consent in effect).
    time.sleep(1.0)
    later = api.get(path, headers=citizen).json()
    assert later["fetched"] == {} and later["materials"]["business_licence"] == own
    # Staff cannot revoke on the applicant's behalf: it is not a staff action.
    staff_try = api.post(
        f"/v1/departments/customs/cases/{number}/revoke_consent", json={}, headers=citizen
    )
    assert staff_try.status_code in (401, 403, 404)
