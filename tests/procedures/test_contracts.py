"""The ``services``, ``cases`` and ``registry`` contracts on an in-memory network: publication
approved by the departments concerned, the calendar changed by a majority, queues and overdue
flags, the registry's direct calls. Each refusal leaves a failed receipt and changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govchain.procedures.publishing import publication_plan
from govchain.procedures.services_contract import definition_hash
from govchain.procedures.uscc import issue_uscc
from govchain.sdk import find_app
from govchain.sdk.testing import NetworkHarness

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    app = find_app("enterprise")
    return {
        "definitions": {d["code"]: d for d in app.definitions()},
        "resources": app.resources(),
    }


@pytest.fixture
def h(shipped: dict[str, Any]) -> NetworkHarness:
    harness = NetworkHarness()
    harness.publish_resources(shipped["resources"])
    return harness


def _state(h: NetworkHarness) -> list[tuple[bytes, Any]]:
    """The services contract's state (a failed call still uses its signer's nonce)."""
    return [(k, v.value) for k, v in h.ledger.state.iter_range(b"c/services/")]


def test_publication_needs_every_department_concerned(
    h: NetworkHarness, shipped: dict[str, Any]
) -> None:
    reg = shipped["definitions"]["330100-DJ-0001"]
    refused = h.call("services", "propose", {"definition": reg}, member="tax/admin")
    assert refused.status == "failed" and "owner" in refused.error["message"]
    assert h.must("services", "propose", {"definition": reg})["needs"] == ["market", "tax", "hrss"]
    digest = definition_hash(reg, h.suite.hash)
    args = {"code": reg["code"], "version": 1, "hash": digest}
    wrong = h.call("services", "approve", {**args, "hash": "00" * 32}, member="tax/admin")
    assert wrong.status == "failed" and wrong.error["code"] == "conflict"
    outsider = h.call("services", "approve", args, member="customs/admin")
    assert outsider.status == "failed" and outsider.error["code"] == "forbidden"
    h.must("services", "approve", args, member="market/admin")
    h.must("services", "approve", args, member="tax/admin")
    early = h.call("services", "publish", {"code": reg["code"], "version": 1})
    assert early.status == "failed" and "hrss" in early.error["message"]
    h.must("services", "approve", args, member="hrss/admin")
    h.must("services", "publish", {"code": reg["code"], "version": 1})
    head = h.view("services", "definition", {"code": reg["code"]})["current"]
    assert head["version"] == 1 and head["hash"] == digest
    assert head["approvals"] == ["hrss", "market", "tax"]

    again = h.call("services", "propose", {"definition": reg})
    assert again.status == "failed" and "propose version 2" in again.error["message"]
    v2 = copy.deepcopy(reg) | {"version": 2, "time_limit_days": 2}
    h.must("services", "propose", {"definition": v2})


def test_a_refused_definition_names_every_problem(
    h: NetworkHarness, shipped: dict[str, Any]
) -> None:
    bad = copy.deepcopy(shipped["definitions"]["330100-ZX-0001"])
    bad["steps"][0]["check"]["resource"] = "tax.nonexistent"
    bad["steps"][1]["dept"] = "police"
    before = _state(h)
    r = h.call("services", "propose", {"definition": bad})
    assert r.status == "failed" and r.error["code"] == "definition_refused"
    assert "steps[1].dept" in r.error["message"]
    good_dept = copy.deepcopy(shipped["definitions"]["330100-ZX-0001"])
    good_dept["steps"][0]["check"]["resource"] = "tax.nonexistent"
    r = h.call("services", "propose", {"definition": good_dept})
    assert "no resource 'tax.nonexistent'" in r.error["message"]
    good_dept["steps"][0]["check"]["resource"] = "hrss.insurance_accounts"
    r = h.call("services", "propose", {"definition": good_dept})
    assert "belongs to hrss, not tax" in r.error["message"]
    assert _state(h) == before


def test_calendar_changes_with_a_majority(h: NetworkHarness) -> None:
    # 2026-10-12 (a Monday) becomes a holiday: deadlines counted over it move by a day.
    args = {"year": 2026, "holidays": ["2026-10-12"], "workdays": [], "source": "测试通知"}
    first = h.must("services", "propose_calendar", args, member="market/admin")
    assert first["in_force"] is False
    for dept in ("tax", "hrss", "customs"):
        r = h.must("services", "approve_calendar", {"year": 2026}, member=f"{dept}/admin")
        assert r["in_force"] is False
    r = h.must("services", "approve_calendar", {"year": 2026}, member="health/admin")
    assert r["in_force"] is True
    cal = h.view("services", "calendar")
    assert "2026-10-12" in cal["years"]["2026"]["holidays"]
    refused = h.call("services", "propose_calendar", {**args, "holidays": ["2026-13-01"]})
    assert refused.status == "failed"


def _import(h: NetworkHarness, uscc: str, agent: str, name: str = "杭州瑞丰科技有限公司") -> None:
    ent = {
        "uscc": uscc,
        "name": name,
        "division": "330106",
        "legal_rep_name": "张敏",
        "legal_rep_ref": "cd" * 32,
        "industry": "65",
        "capital_fen": 5_000_000_00,
        "address": "杭州市西湖区天目山路1号",
        "scope": "软件开发；信息技术咨询服务",
        "agents": [agent],
        "established_ms": h.time_ms - 400 * DAY_MS,
    }
    h.must("registry", "import_enterprise", {"enterprise": ent})


def test_registry_agents_and_revocation(h: NetworkHarness) -> None:
    uscc = issue_uscc("330106", 9_000_001)
    _import(h, uscc, "citizen/rep")
    dup = h.call("registry", "import_enterprise", {"enterprise": {"uscc": uscc}})
    assert dup.status == "failed"
    taken = h.view("registry", "name", {"name": "杭州瑞丰科技有限公司"})
    assert taken["available"] is False and taken["holder"]["uscc"] == uscc
    stranger = h.call(
        "registry", "add_agent", {"uscc": uscc, "agent": "citizen/x"}, actor="citizen/other"
    )
    assert stranger.status == "failed" and stranger.error["code"] == "forbidden"
    h.must("registry", "add_agent", {"uscc": uscc, "agent": "citizen/clerk"}, actor="citizen/rep")
    h.must(
        "registry", "remove_agent", {"uscc": uscc, "agent": "citizen/rep"}, actor="citizen/clerk"
    )
    last = h.call(
        "registry", "remove_agent", {"uscc": uscc, "agent": "citizen/clerk"}, actor="citizen/clerk"
    )
    assert last.status == "failed"
    not_authority = h.call(
        "registry", "revoke", {"uscc": uscc, "reason": "虚假登记"}, member="tax/admin"
    )
    assert not_authority.status == "failed" and not_authority.error["code"] == "forbidden"
    h.must("registry", "revoke", {"uscc": uscc, "reason": "虚假登记"})
    assert h.view("registry", "enterprise", {"uscc": uscc})["status"] == "revoked"


def test_queues_and_overdue_flags(h: NetworkHarness, shipped: dict[str, Any]) -> None:
    defs = [shipped["definitions"]["330100-BA-0003"]]
    plan = publication_plan(
        defs, lambda c: None, h.departments, {d: f"{d}/admin" for d in h.departments}, h.suite.hash
    )
    assert plan.codes == ("330100-BA-0003",)
    h.publish_definitions(defs)
    uscc = issue_uscc("330106", 9_000_002)
    _import(h, uscc, "enterprise/e1")
    submit = {
        "service": "330100-BA-0003",
        "subject": uscc,
        "form_hash": "ab" * 32,
        "materials": {"application": "cd" * 32},
        "consents": ["business_licence"],
        "session": "sid-1",
    }
    number = h.must("cases", "submit", submit, actor="enterprise/e1")["number"]
    assert h.view("cases", "decisions", {"dept": "customs"})[0]["case"] == number
    staff = {"member": "customs/admin", "actor": "customs/li", "case": number}
    h.must("cases", "accept", {"case": number, "role": "officer"}, **staff)
    queue = h.view("cases", "queue", {"dept": "customs", "role": "officer"})
    assert [(e["case"], e["step"], e["overdue"]) for e in queue] == [(number, "review", False)]
    deadline = queue[0]["deadline_ms"]
    assert h.view("cases", "overdue", {"dept": "customs", "now_ms": deadline - 1}) == []
    late = h.view("cases", "overdue", {"dept": "customs", "now_ms": deadline + 1})
    assert [e["case"] for e in late] == [number]
    h.must("cases", "claim", {"case": number, "role": "officer", "step": "review"}, **staff)
    done = {"case": number, "role": "officer", "step": "review", "result": "pass"}
    wang = {"member": "customs/admin", "actor": "customs/wang", "case": number}
    other = h.call("cases", "complete", done, **wang)
    assert other.status == "failed" and other.error["code"] == "wrong_actor"
    move = {"case": number, "role": "admin", "step": "review", "to": "customs/wang"}
    h.must("cases", "reassign", move, **{**staff, "actor": "customs/chief"})
    h.must("cases", "complete", done, **wang)
    assert h.view("cases", "queue", {"dept": "customs"}) == []
    mine = h.view("cases", "cases_of", {"applicant": "enterprise/e1"})
    assert [c["number"] for c in mine] == [number]
    about = h.view("cases", "cases_about", {"subject": uscc})
    assert [c["number"] for c in about] == [number]
