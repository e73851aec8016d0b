"""The policies contract on the SDK's in-memory network: publication by approval, attested
facts with revocation and expiry, grants without an application (免申即享) that record the
attestations relied on and stand when facts change later, and declining a grant."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govchain.apps.policies.app import APP
from govchain.apps.policies.contract import civil_date, full_years
from govchain.apps.policies.rules import shipped_policies
from govchain.procedures.publishing import publication_plan
from govchain.procedures.uscc import issue_uscc
from govchain.sdk.testing import DEPARTMENTS, ContractHarness

POLICIES = {p["id"]: p for p in shipped_policies()}
RD = POLICIES["zj-rd-expense-support"]
AGENT = "person/legal-rep-1"
ESTABLISHED_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z


def _enterprise(h: ContractHarness, serial: int, industry: str = "6513") -> str:
    uscc = issue_uscc("330106", serial)
    ent = {
        "uscc": uscc,
        "name": f"杭州{'甲乙丙丁戊己庚辛'[serial % 8]}{'云星海川'[serial % 4]}科技有限公司",
        "division": "330106",
        "legal_rep_name": "张三",
        "legal_rep_ref": "ab" * 32,
        "industry": industry,
        "capital_fen": 1_000_000_00,
        "address": "杭州市西湖区文三路1号",
        "scope": "软件开发",
        "employees": 30,
        "established_ms": ESTABLISHED_MS,
        "agents": [AGENT],
    }
    r = h.call("import_enterprise", {"enterprise": ent}, contract="registry")
    assert r.status == "ok", r.error
    return uscc


def _ok(r: Any) -> Any:
    assert r.status == "ok", r.error
    return r.result


def _publish(h: ContractHarness, policy: dict[str, Any]) -> None:
    _ok(h.call("propose", {"policy": policy}, member=f"{policy['issuer']}/officer", actor="p1"))
    args = {
        "policy_id": policy["id"],
        "version": h.view("policy", {"policy_id": policy["id"]})["version"],
    }
    _ok(h.call("approve", args, member=f"{policy['issuer']}/admin", actor="p2"))


GRANT_SERVICES = {
    str(d["owner"]): d for d in APP.definitions() if d.get("opened_by") == "department"
}
"""The grant cases' services (免申即享), by issuing department."""


def _open_case(h: ContractHarness, policy: dict[str, Any], uscc: str) -> str:
    """Publish the issuer's grant service (once) and open its case for the enterprise under
    the policy, as the issuer's node does; return the case number."""
    issuer = policy["issuer"]
    service = GRANT_SERVICES[issuer]
    if h.view("list", contract="services") == [] or not any(
        row["code"] == service["code"] for row in h.view("list", contract="services")
    ):
        admins = {d: f"{d}/admin" for d in DEPARTMENTS}
        plan = publication_plan([service], lambda c: None, DEPARTMENTS, admins, h.suite.hash)
        for phase in plan.phases:
            for c in phase:
                _ok(h.call(c.method, dict(c.args), contract="services", member=c.member))
    args = {
        "service": service["code"],
        "subject": uscc,
        "form_hash": "ab" * 32,
        "particulars": {"policy": policy["id"]},
        "role": "system",
    }
    opened = h.call(
        "submit", args, contract="cases", member=f"{issuer}/admin", actor=f"{issuer}/engine"
    )
    return str(_ok(opened)["number"])


def _grant(h: ContractHarness, policy: dict[str, Any], uscc: str, case: str = "") -> Any:
    """Open the grant's case (unless given) and decide the grant on it."""
    number = case or _open_case(h, policy, uscc)
    args = {"policy_id": policy["id"], "uscc": uscc, "case": number}
    return h.call("grant", args, member=f"{policy['issuer']}/admin")


RD_FACTS = {
    "rd_expense_fen": 50_000_000,
    "rd_share_bps": 450,
    "tax_credit_rating": "B",
    "tax_arrears": False,
}


def _attest(h: ContractHarness, uscc: str, facts: dict[str, Any], dept: str = "tax") -> list[str]:
    rows = [{"uscc": uscc, "attribute": k, "value": v} for k, v in facts.items()]
    ids: list[str] = _ok(h.call("attest", {"facts": rows}, member=f"{dept}/officer"))["ids"]
    return ids


@pytest.fixture
def h() -> ContractHarness:
    return ContractHarness.for_app(APP)


def test_civil_date_and_full_years() -> None:
    # Known answers: 2026-01-01T00:00Z is 08:00 in Beijing; 2025-12-31T16:00Z is midnight there.
    assert civil_date(1_767_225_600_000) == "2026-01-01"
    assert civil_date(1_767_196_800_000) == "2026-01-01"
    assert civil_date(1_767_196_799_999) == "2025-12-31"
    assert civil_date(951_782_400_000) == "2000-02-29"
    assert full_years("2020-03-01", "2026-02-28") == 5
    assert full_years("2020-03-01", "2026-03-01") == 6


def test_publication_needs_another_person(h: ContractHarness) -> None:
    r = h.call("propose", {"policy": RD}, member="hrss/admin", actor="p1")
    assert r.status == "failed" and "not_issuer" in str(r.error)
    _ok(h.call("propose", {"policy": RD}, member="tax/officer", actor="p1"))
    same = h.call("approve", {"policy_id": RD["id"], "version": 1}, member="tax/admin", actor="p1")
    assert "same_person" in str(same.error)
    other = h.call(
        "approve", {"policy_id": RD["id"], "version": 1}, member="hrss/admin", actor="p9"
    )
    assert "not_approver" in str(other.error)
    _ok(h.call("approve", {"policy_id": RD["id"], "version": 1}, member="tax/admin", actor="p2"))
    record = h.view("policy", {"policy_id": RD["id"]})
    assert record["status"] == "published" and record["approved_by"] == "p2"


def test_a_co_approving_department_may_publish(h: ContractHarness) -> None:
    policy = POLICIES["hz-high-tech-award"]
    assert policy["approvers"] == ["market"]
    _ok(h.call("propose", {"policy": policy}, member="tax/officer", actor="p1"))
    _ok(
        h.call(
            "approve", {"policy_id": policy["id"], "version": 1}, member="market/admin", actor="m1"
        )
    )
    assert h.view("policy", {"policy_id": policy["id"]})["approved_dept"] == "market"


def test_malformed_policy_is_refused_with_its_place(h: ContractHarness) -> None:
    bad = copy.deepcopy(RD)
    bad["eligibility"]["and"][0] = {">=": [{"var": "rd_budget"}, 1]}
    r = h.call("propose", {"policy": bad}, member="tax/officer")
    assert r.status == "failed"
    assert "eligibility.and[0].>=[0].var: unknown attribute 'rd_budget'" in str(r.error)


def test_only_the_holder_attests(h: ContractHarness) -> None:
    uscc = _enterprise(h, 1)
    r = h.call("attest", {"facts": [{"uscc": uscc, "attribute": "employees", "value": 5}]})
    assert "not_holder" in str(r.error)  # market/admin: employees are held by hrss
    r = h.call(
        "attest",
        {"facts": [{"uscc": uscc, "attribute": "rd_share_bps", "value": 10_001}]},
        member="tax/officer",
    )
    assert "bad_facts" in str(r.error)


def test_grant_records_the_attestations_relied_on(h: ContractHarness) -> None:
    uscc = _enterprise(h, 2)
    _publish(h, RD)
    ids = _attest(h, uscc, RD_FACTS)
    decision = _ok(_grant(h, RD, uscc))
    assert decision["amount_fen"] == 5_000_000  # 10% of 500,000 yuan, under the 1 million cap
    relied = {f["attribute"]: f for f in decision["facts"]}
    assert sorted(relied) == sorted(RD_FACTS)
    assert sorted(f["attestation"] for f in decision["facts"]) == sorted(ids)
    assert relied["rd_share_bps"] == {
        "attribute": "rd_share_bps", "value": 450, "dept": "tax", "attestation": ids[1],
    }  # fmt: skip
    again = _grant(h, RD, uscc)
    assert "granted" in str(again.error)
    assert h.view("grants", {"uscc": uscc}) == [decision]


def test_a_fact_changing_after_the_grant_leaves_the_decision(h: ContractHarness) -> None:
    uscc = _enterprise(h, 3)
    _publish(h, RD)
    _attest(h, uscc, RD_FACTS)
    decision = _ok(_grant(h, RD, uscc))
    _attest(h, uscc, {"rd_share_bps": 100, "tax_arrears": True})
    assert h.view("check", {"policy_id": RD["id"], "uscc": uscc})["status"] == "not"
    assert h.view("decision", {"policy_id": RD["id"], "uscc": uscc}) == decision


def test_a_revoked_attestation_blocks_a_grant_not_yet_made(h: ContractHarness) -> None:
    uscc = _enterprise(h, 4)
    _publish(h, RD)
    ids = _attest(h, uscc, RD_FACTS)
    assert h.view("check", {"policy_id": RD["id"], "uscc": uscc})["status"] == "qualifies"
    _ok(h.call("revoke", {"attestation": ids[1], "reason": "申报有误，已更正"}, member="tax/admin"))
    check = h.view("check", {"policy_id": RD["id"], "uscc": uscc})
    assert check["status"] == "nearly" and "rd_share_bps" not in check["facts"]
    r = _grant(h, RD, uscc)
    assert r.status == "failed" and "not_eligible" in str(r.error)
    assert h.view("decision", {"policy_id": RD["id"], "uscc": uscc}) is None


def test_an_expired_attestation_no_longer_counts(h: ContractHarness) -> None:
    uscc = _enterprise(h, 5)
    _publish(h, RD)
    rows = [{"uscc": uscc, "attribute": k, "value": v} for k, v in RD_FACTS.items()]
    _ok(h.call("attest", {"facts": rows, "valid_days": 1}, member="tax/officer"))
    h.advance(2 * 86_400_000)
    r = _grant(h, RD, uscc)
    assert "not_eligible" in str(r.error)


def test_registry_facts_come_from_the_register(h: ContractHarness) -> None:
    uscc = _enterprise(h, 6, industry="27")
    _publish(h, RD)
    check = h.view("check", {"policy_id": RD["id"], "uscc": uscc})
    assert check["facts"] == {
        "industry_division": 27,
        "industry_section": "C",
        "district": "330106",
        "years_in_business": 6,  # established 2020-01-01, checked on 2026-01-01 and after
        "registered_capital_fen": 100_000_000,
    }
    assert check["sources"]["district"] == {"dept": "market", "attestation": "registry:" + uscc}


def test_decline_by_the_enterprise_releases_the_budget(h: ContractHarness) -> None:
    uscc = _enterprise(h, 7)
    _publish(h, RD)
    _attest(h, uscc, RD_FACTS)
    _ok(_grant(h, RD, uscc))
    args = {"policy_id": RD["id"], "uscc": uscc, "reason": "本年度不申领"}
    stranger = h.call("decline", args, member="tax/admin", actor="person/other")
    assert "not_agent" in str(stranger.error)
    _ok(h.call("decline", args, member="tax/admin", actor=AGENT))
    decision = h.view("decision", {"policy_id": RD["id"], "uscc": uscc})
    assert decision["status"] == "declined" and decision["declined"] == "本年度不申领"


def test_budget_caps_the_grants(h: ContractHarness) -> None:
    policy = copy.deepcopy(RD)
    policy["budget_fen"] = 7_000_000
    _publish(h, policy)
    a, b = _enterprise(h, 8), _enterprise(h, 9)
    _attest(h, a, RD_FACTS)
    _attest(h, b, RD_FACTS)
    _ok(_grant(h, RD, a))
    r = _grant(h, RD, b)
    assert "budget_exhausted" in str(r.error)


def test_application_policies_are_not_granted_automatically(h: ContractHarness) -> None:
    policy = POLICIES["hz-tax-contribution-award"]
    _publish(h, policy)
    uscc = _enterprise(h, 10)
    _attest(h, uscc, {"tax_paid_fen": 2 * 10**9, "tax_arrears": False})
    r = _grant(h, policy, uscc)
    assert "not_automatic" in str(r.error)
    check = h.view("check", {"policy_id": policy["id"], "uscc": uscc})
    assert check["status"] == "qualifies" and check["benefit_fen"] == 50 * 10**6


def test_a_grant_is_decided_on_the_issuers_own_case(h: ContractHarness) -> None:
    uscc, other = _enterprise(h, 11), _enterprise(h, 12)
    _publish(h, RD)
    _attest(h, uscc, RD_FACTS)
    assert "no_case" in str(_grant(h, RD, uscc, case="20260101999999").error)
    elsewhere = _open_case(h, RD, other)  # the case of another enterprise
    assert "wrong_case" in str(_grant(h, RD, uscc, case=elsewhere).error)
    number = _open_case(h, RD, uscc)
    decided = {"case": number, "role": "approver", "outcome": "reject", "reason": "测试"}
    _ok(h.call("decide", decided, contract="cases", member="tax/admin", actor="tax/zhao"))
    assert "case_decided" in str(_grant(h, RD, uscc, case=number).error)
    decision = _ok(_grant(h, RD, uscc))
    case = h.view("case", {"case": decision["case"]}, contract="cases")
    assert (case["subject"], case["applicant_kind"], case["status"]) == (
        uscc,
        "department",
        "accepted",
    )
    assert case["particulars"] == {"policy": RD["id"]}
