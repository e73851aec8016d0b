"""Helpers of the case tests over HTTP: users with tokens, uploads, applications, staff
actions, and a whole registration."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from fastapi import FastAPI
from identity_helpers import CITIZEN_ID, PASSWORD, bearer, tokens_for

from govchain.errors import Conflict

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


def login_staff(app: FastAPI, dept: str, role: str = "officer") -> dict[str, str]:
    identity = app.state.identity
    login = f"{dept}/{role}-1"
    with contextlib.suppress(Conflict):  # made by an earlier call
        identity.users.create_staff(login, f"{dept} {role}", dept, role, PASSWORD)
    return bearer(tokens_for(identity, login, PASSWORD))


def login_citizen(app: FastAPI, resident_id: str = CITIZEN_ID) -> dict[str, str]:
    identity = app.state.identity
    identity.users.create_citizen(resident_id, "王伟", PASSWORD)
    return bearer(tokens_for(identity, resident_id, PASSWORD))


def upload_material(api: Any, who: dict[str, str], name: str) -> str:
    r = api.post(
        f"/v1/cases/materials?service={REGISTRATION}&name={name}",
        content=f"{name} 的内容".encode(),
        headers={**who, "content-type": "application/pdf"},
    )
    assert r.status_code == 201, r.text
    digest: str = r.json()["hash"]
    return digest


def apply_for_registration(api: Any, who: dict[str, str], **changes: Any) -> Any:
    materials = {
        m: upload_material(api, who, f"{m}.pdf")
        for m in ("application", "articles", "shareholders", "appointments", "premises")
    }
    body = {
        "service": REGISTRATION,
        "form": FORM,
        "materials": materials,
    }
    body.update(changes)
    return api.post("/v1/cases", json=body, headers=who)


def staff_act(
    api: Any, who: dict[str, str], dept: str, number: str, transition: str, **body: Any
) -> Any:
    return api.post(f"/v1/departments/{dept}/cases/{number}/{transition}", json=body, headers=who)


def register_enterprise(api: Any, app: FastAPI, applicant: dict[str, str]) -> str:
    """Register the enterprise of ``FORM`` through the whole procedure; return its USCC."""
    number = apply_for_registration(api, applicant).json()["result"]["number"]
    market, tax, hrss = (login_staff(app, d) for d in ("market", "tax", "hrss"))
    approver = login_staff(app, "market", "approver")
    for who, dept, transition, body in (
        (market, "market", "accept", {}),
        (market, "market", "complete", {"step": "review", "result": "pass"}),
        (tax, "tax", "complete", {"step": "tax_setup", "result": "pass"}),
        (hrss, "hrss", "complete", {"step": "social_insurance", "result": "pass"}),
        (approver, "market", "decide", {"outcome": "approve"}),
    ):
        r = staff_act(api, who, dept, number, transition, **body)
        assert r.status_code == 200, r.text
    uscc: str = r.json()["result"]["outputs"][0]["uscc"]
    return uscc


def wait_for(probe: Any, seconds: float = 20.0) -> Any:
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
