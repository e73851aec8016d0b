"""The funds contract on the SDK's in-memory network: projects checked field by field,
disbursements within the budget, evidence notarised once, flags raised once with integer
inputs, and a flag's case (the handling is the case engine's: see the node tests) recorded on
it only when it is the raising department's own case about the flag."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govchain.apps.funds.app import APP
from govchain.apps.funds.contract import project_problems
from govchain.apps.funds.records import validate_project
from govchain.errors import MalformedEncoding, SchemaViolation
from govchain.ledger.receipts import Receipt
from govchain.procedures.publishing import publication_plan
from govchain.sdk.testing import DEPARTMENTS, ContractHarness

PAYEE = "91330100G400003788"
OTHER = "91330100G40000749Y"


def sample(pid: str = "FP-2026-901", budget: int = 1_000_000) -> dict[str, Any]:
    return {
        "id": pid,
        "name": "测试村道路硬化",
        "fund": "public_welfare",
        "category": "rural_road",
        "unit": "km",
        "quantity": 2,
        "budget_fen": budget,
        "start_date": "2026-01-05",
        "payees": [{"id": PAYEE, "name": "测试工程有限公司"}],
        "milestones": [
            {"id": "M1", "name": "路基", "amount_fen": budget // 2, "due": "2026-04-01"},
            {"id": "M2", "name": "路面", "amount_fen": budget - budget // 2, "due": "2026-08-01"},
        ],
        "related": [],
    }


def ok(r: Receipt) -> Any:
    assert r.status == "ok", r.error
    return r.result


def refused(r: Receipt, code: str) -> str:
    assert r.status == "failed", r.result
    assert r.error is not None and r.error["code"] == f"funds.{code}", r.error
    return str(r.error["message"])


@pytest.fixture(scope="module")
def h() -> ContractHarness:
    h = ContractHarness.for_app(APP)
    ok(h.call("create_project", {"project": sample()}, member="market/admin", actor="market/li"))
    return h


def pay(h: ContractHarness, amount: int, payee: str = PAYEE) -> Receipt:
    args = {
        "project": "FP-2026-901",
        "milestone": "M1",
        "payee": payee,
        "amount_fen": amount,
        "paid_on": "2026-04-10",
        "purpose": "路基进度款",
    }
    return h.call("disburse", args, member="market/admin", actor="market/li")


def test_project_fields_are_checked() -> None:
    bad = sample()
    bad["milestones"][0]["amount_fen"] += 1
    assert project_problems(bad) == [
        ["milestones", "the milestones plan 1000001 fen; the budget is 1000000"]
    ]
    with pytest.raises(SchemaViolation) as caught:
        validate_project({**sample(), "payees": [{"id": "91330100G400003789", "name": "某公司"}]})
    assert caught.value.fields["field"] == "payees[0].id"  # a wrong check character


def test_projects_are_registered_once(h: ContractHarness) -> None:
    again = h.call("create_project", {"project": sample()}, member="tax/admin", actor="tax/li")
    refused(again, "exists")
    assert h.view("project", {"project_id": "FP-2026-901"})["dept"] == "market"


def test_disbursements_stay_within_the_budget(h: ContractHarness) -> None:
    first = ok(pay(h, 600_000))
    assert first["id"] == "FP-2026-901-D001" and first["paid_fen"] == 600_000
    assert "exceed the budget" in refused(pay(h, 400_001), "bad_disbursement")
    assert "not a payee" in refused(pay(h, 1, OTHER), "bad_disbursement")
    assert ok(pay(h, 400_000))["paid_fen"] == 1_000_000


def test_evidence_is_notarised_once(h: ContractHarness) -> None:
    args = {
        "project": "FP-2026-901",
        "milestone": "M1",
        "digest": "ab" * 32,
        "kind": "acceptance",
        "title": "路基验收报告",
    }
    ok(h.call("add_evidence", args, member="market/admin", actor="market/li"))
    refused(h.call("add_evidence", args, member="tax/admin", actor="tax/li"), "exists")
    assert h.view("evidence", {"digest": "ab" * 32})["milestone"] == "M1"


def raise_flag(h: ContractHarness, inputs: dict[str, Any], subject: str = "FP-2026-901") -> Receipt:
    args = {
        "rule": "peer_outlier",
        "subject": subject,
        "projects": [subject],
        "inputs": inputs,
        "index_height": 1,
    }
    return h.call("raise_flag", args, member="hrss/admin", actor="hrss/wang")


def test_flags_take_integer_inputs_and_are_raised_once(h: ContractHarness) -> None:
    with pytest.raises(MalformedEncoding):  # a float cannot even be signed
        raise_flag(h, {"z": 3.7})
    assert "300 characters" in refused(raise_flag(h, {"note": "长" * 301}), "bad_flag")
    flag = ok(raise_flag(h, {"z_milli": 3700}))
    assert flag["id"].startswith("F")
    refused(raise_flag(h, {"z_milli": 3700}), "exists")
    recorded = h.view("flag", {"flag_id": flag["id"]})
    assert recorded["owners"] == ["market"] and recorded["dept"] == "hrss"


def _flag_service() -> dict[str, Any]:
    """The shipped flag case's service, for this network: raised by hrss, explained by
    market (the harness has neither the data bureau nor transport)."""
    defn = copy.deepcopy(APP.definitions()[0])
    defn.update(code="330100-JG-0901", owner="hrss", co_handlers=["market"])
    defn["steps"][0]["dept"] = "market"
    return defn


def test_a_flag_is_linked_to_its_own_case(h: ContractHarness) -> None:
    ok(h.call("create_project", {"project": sample("FP-2026-903")}, member="market/admin",
              actor="market/li"))  # fmt: skip
    fid = ok(raise_flag(h, {"z_milli": 4200}, subject="FP-2026-903"))["id"]
    assert h.view("flag", {"flag_id": fid})["case"] == ""
    defn = _flag_service()
    admins = {d: f"{d}/admin" for d in DEPARTMENTS}
    for phase in publication_plan([defn], lambda c: None, DEPARTMENTS, admins, h.suite.hash).phases:
        for c in phase:
            ok(h.call(c.method, dict(c.args), contract="services", member=c.member))

    def open_case(subject: str, member: str = "hrss/admin") -> str:
        args = {"service": defn["code"], "subject": subject, "form_hash": "ab" * 32,
                "role": "system"}  # fmt: skip
        dept = member.split("/")[0]
        return str(ok(h.call("submit", args, contract="cases", member=member,
                             actor=f"{dept}/funds-scan"))["number"])  # fmt: skip

    def link(case: str, member: str = "hrss/admin") -> Receipt:
        return h.call("link_case", {"flag": fid, "case": case}, member=member, actor="hrss/wang")

    number = open_case(fid)
    refused(link(number, "market/admin"), "not_allowed")
    refused(link("20260101999999"), "not_found")
    refused(link(open_case("F999999")), "wrong_case")
    assert ok(link(number))["case"] == number
    refused(link(number), "exists")
    assert h.view("flag", {"flag_id": fid})["case"] == number
    case = h.view("case", {"case": number}, contract="cases")
    assert (case["subject"], case["applicant_kind"], case["status"]) == (
        fid, "department", "accepted",
    )  # fmt: skip
    assert [s["id"] for s in case["steps"] if s["status"] == "open"] == ["explain"]
