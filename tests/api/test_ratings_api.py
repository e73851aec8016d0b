"""Ratings of finished cases (好差评) and service figures through the HTTP API: only the
applicant rates, only once, only after the case ended; a bad rating opens a follow-up that only
the handling department answers; the figures count what happened."""

from __future__ import annotations

from typing import Any

from case_fixtures import api, app, net, node
from case_helpers import (
    REGISTRATION,
    apply_for_registration,
    login_citizen,
    login_staff,
    staff_act,
)
from fastapi import FastAPI

OTHER_ID = "110101199003074477"

__all__ = ["api", "app", "net", "node"]  # fixtures used here


def _rejected_case(api: Any, app: FastAPI, citizen: dict[str, str]) -> str:
    number: str = apply_for_registration(api, citizen).json()["result"]["number"]
    market = login_staff(app, "market")
    approver = login_staff(app, "market", "approver")
    assert staff_act(api, market, "market", number, "accept").status_code == 200
    r = staff_act(api, approver, "market", number, "decide", outcome="reject", reason="名称近似")
    assert r.status_code == 200, r.text
    return number


def test_rating_and_follow_up(api: Any, app: FastAPI) -> None:
    citizen = login_citizen(app)
    number = _rejected_case(api, app, citizen)
    open_case = apply_for_registration(api, citizen).json()["result"]["number"]
    stranger = login_citizen(app, OTHER_ID)
    market = login_staff(app, "market")
    tax = login_staff(app, "tax")

    # Refused, each with its reason, and nothing recorded.
    r = api.post(f"/v1/cases/{open_case}/rating", json={"level": 5}, headers=citizen)
    assert r.status_code == 409 and "once it has ended" in r.json()["detail"]
    r = api.post(f"/v1/cases/{number}/rating", json={"level": 1}, headers=stranger)
    assert r.status_code == 403
    r = api.post(f"/v1/cases/{number}/rating", json={"level": 6}, headers=citizen)
    assert r.status_code == 422
    r = api.post(f"/v1/cases/{number}/rating", json={"level": 1}, headers=market)
    assert r.status_code in (403, 404)
    assert api.get(f"/v1/cases/{number}/rating", headers=citizen).status_code == 404

    r = api.post(
        f"/v1/cases/{number}/rating", json={"level": 1, "comment": "等了很久"}, headers=citizen
    )
    assert r.status_code == 201, r.text
    rating = r.json()["result"]
    assert rating["level"] == 1 and rating["dept"] == "market"
    assert rating["follow_up"]["status"] == "open"
    assert rating["follow_up"]["due_ms"] > rating["time_ms"]
    again = api.post(f"/v1/cases/{number}/rating", json={"level": 5}, headers=citizen)
    assert again.status_code == 409 and "already" in again.json()["detail"]

    waiting = api.get("/v1/departments/market/follow-ups", headers=market).json()
    assert [f["case"] for f in waiting["follow_ups"]] == [number]
    body = {"text": "已电话联系申请人说明名称规则"}
    r = api.post(f"/v1/departments/tax/follow-ups/{number}", json=body, headers=tax)
    assert r.status_code == 403  # another department's follow-up
    r = api.post(f"/v1/departments/market/follow-ups/{number}", json=body, headers=market)
    assert r.status_code == 200, r.text
    shown = api.get(f"/v1/cases/{number}/rating", headers=citizen).json()
    assert shown["follow_up"]["status"] == "answered"
    assert shown["follow_up"]["answer"] == body["text"] and not shown["follow_up"]["late"]
    r = api.post(f"/v1/departments/market/follow-ups/{number}", json=body, headers=market)
    assert r.status_code == 409
    assert api.get("/v1/departments/market/follow-ups", headers=market).json()["follow_ups"] == []


def test_figures_count_cases_decisions_and_ratings(api: Any, app: FastAPI) -> None:
    citizen = login_citizen(app)
    first = _rejected_case(api, app, citizen)
    second = _rejected_case(api, app, citizen)
    apply_for_registration(api, citizen)  # still open: counted, not decided
    for number, level in ((first, 5), (second, 2)):
        r = api.post(f"/v1/cases/{number}/rating", json={"level": level}, headers=citizen)
        assert r.status_code == 201, r.text
    market = login_staff(app, "market")
    rows = api.get("/v1/departments/market/figures", headers=market).json()["services"]
    (fig,) = [f for f in rows if f["service"] == REGISTRATION]
    assert (fig["cases"], fig["decided"], fig["approved"]) == (3, 2, 0)
    assert fig["ratings"] == 2 and fig["satisfied"] == 1 and fig["satisfaction_bp"] == 5000
    assert fig["mean_level_x100"] == 350 and fig["levels"] == [0, 1, 0, 0, 1]
    assert fig["open_follow_ups"] == 1
    assert fig["median_days"] == 0 and fig["p90_days"] == 0  # decided the same day
    # No portal in this process: nobody started or submitted online.
    assert fig["completion_bp"] is None and fig["take_up_bp"] == 0
    citizen_figures = api.get("/v1/departments/market/figures", headers=citizen)
    assert citizen_figures.status_code == 403
