"""The funds contract on the SDK's in-memory network: projects checked field by field,
disbursements within the budget, evidence notarised once, flags raised once with integer
inputs, and the handling of a flag (who may assign, explain and close, in which order)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.funds.app import APP
from govchain.apps.funds.contract import handled, handling_problem, project_problems
from govchain.apps.funds.records import validate_project
from govchain.errors import MalformedEncoding, SchemaViolation
from govchain.ledger.receipts import Receipt
from govchain.sdk.testing import ContractHarness

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


def test_handling_follows_the_workflow(h: ContractHarness) -> None:
    fid = (
        ok(raise_flag(h, {"z_milli": 4100}, subject="FP-2026-902"))["id"]
        if ok(
            h.call(
                "create_project",
                {"project": sample("FP-2026-902")},
                member="market/admin",
                actor="market/li",
            )
        )
        else ""
    )

    def step(method: str, member: str, actor: str, **args: Any) -> Receipt:
        return h.call(method, {"flag": fid, **args}, member=member, actor=actor)

    refused(step("assign_flag", "market/admin", "market/li", to="market/li"), "not_allowed")
    refused(step("explain_flag", "market/admin", "market/li", explanation="先说明"), "bad_state")
    ok(step("assign_flag", "hrss/admin", "hrss/wang", to="market/li"))
    refused(
        step("explain_flag", "market/admin", "market/zhao", explanation="别人说明"), "not_allowed"
    )
    ok(step("explain_flag", "market/admin", "market/li", explanation="单价含征地费用。"))
    refused(
        step("close_flag", "market/admin", "market/li", outcome="dismissed", reason="自己关闭"),
        "not_allowed",
    )
    ok(step("close_flag", "hrss/admin", "hrss/wang", outcome="dismissed", reason="说明合理。"))
    flag = h.view("flag", {"flag_id": fid})
    assert flag["status"] == "closed" and flag["outcome"] == "dismissed"
    assert [s["event"] for s in flag["handling"]] == ["assign", "explain", "close"]
    assert h.view("flags", {"status": "closed"})[0]["id"] == fid


EVENTS = st.sampled_from(["assign", "explain", "close"])
ACTORS = st.sampled_from([("hrss", "hrss/wang"), ("market", "market/li"), ("tax", "tax/zhou")])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(EVENTS, ACTORS), max_size=12))
def test_handling_never_skips_a_step(steps: list[tuple[str, tuple[str, str]]]) -> None:
    """Whatever is tried, a flag is closed only by its raising department, after an
    explanation by the person it was last assigned to."""
    flag: dict[str, Any] = {
        "id": "F000001", "dept": "hrss", "owners": ["market"], "status": "open",
        "assignee": "", "outcome": "", "handling": [],
    }  # fmt: skip
    args = {"to": "market/li", "explanation": "说明", "outcome": "confirmed", "reason": "属实"}
    for event, (dept, actor) in steps:
        if handling_problem(flag, event, dept, actor, args):
            continue
        flag = handled(flag, event, {"dept": dept, "actor": actor}, args)
    events = [(s["event"], s["actor"]) for s in flag["handling"]]
    if flag["status"] == "closed":
        assert events[-1] == ("close", "hrss/wang")
        assert events[-2] == ("explain", "market/li") and events[-3][0] == "assign"
    assert all(e != "close" for e, _ in events[:-1])
