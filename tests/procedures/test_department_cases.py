"""Cases a department opens itself (依职权, ``"opened_by": "department"``): the definition's
checks, the engine's transitions (the owner's node or officer opens the case about a subject,
there is no applicant, the applicant's transitions are refused with ``NoApplicant``) and the
``cases`` contract storing such a case under its subject."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govchain.procedures.calendar import load_default_calendar
from govchain.procedures.cases import Actor, Case, Event
from govchain.procedures.definitions import DefinitionRefused, parse_definition
from govchain.procedures.engine import (
    APPLICANT_TRANSITIONS,
    DEPARTMENT,
    IllegalTransition,
    NoApplicant,
    WrongActor,
    apply,
    open_case,
)
from govchain.procedures.uscc import issue_uscc
from govchain.sdk.testing import NetworkHarness

CAL = load_default_calendar()
DEPTS = frozenset({"market", "tax", "hrss"})
T0 = 1_790_000_000_000  # Monday 2026-09-21T14:13:20Z, a working day
SUBJECT = issue_uscc("330106", 9_100_001)


def _names(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def lead_review(**changes: Any) -> dict[str, Any]:
    """A supervision lead the market department opens and the tax department explains."""
    base: dict[str, Any] = {
        "code": "330100-JG-0901",
        "version": 1,
        "opened_by": "department",
        "applicants": [],
        "category": "other",
        "name": _names("线索核查", "Lead review"),
        "summary": _names("部门依职权立案核查。", "A lead the department opens itself."),
        "owner": "market",
        "co_handlers": ["tax"],
        "legal_basis": ["《市场监督管理行政处罚程序规定》"],
        "materials": [],
        "form": {"type": "object", "properties": {"lead": {"type": "string"}}},
        "steps": [
            {
                "id": "explain",
                "name": _names("情况说明", "Explanation"),
                "kind": "review",
                "dept": "tax",
                "role": "officer",
                "days": 5,
            }
        ],
        "decision": {"role": "approver"},
        "outputs": [],
        "fee_fen": 0,
        "time_limit_days": 10,
    }
    return base | changes


LEAD = parse_definition(lead_review(), DEPTS)
NODE = Actor("node", "market/engine", "market", "system", "market/admin")
OFFICER = Actor("staff", "market/li", "market", "officer", "market/admin")
APPROVER = Actor("staff", "market/zhao", "market", "approver", "market/admin")
TAX = Actor("staff", "tax/wang", "tax", "officer", "tax/admin")


def _open(actor: Actor = NODE, kind: str = DEPARTMENT, subject: str = SUBJECT) -> Case:
    event = Event("submit", actor, T0, "01" * 32, {"form_hash": "ab" * 32})
    return open_case("20260920000001", LEAD, event, kind, subject, CAL)


def _do(case: Case, kind: str, actor: Actor, **args: Any) -> Case:
    return apply(case, Event(kind, actor, T0 + 60_000, "02" * 32, args), LEAD, CAL)


def test_the_definition_says_who_opens() -> None:
    assert LEAD.opened_by == "department" and LEAD.applicants == frozenset()
    assert parse_definition(lead_review(steps=[]), DEPTS).steps == ()
    problems = {
        "applicants": lead_review(applicants=["enterprise"]),
        "opened_by": lead_review(opened_by="anyone"),
        "decision.auto": lead_review(steps=[], decision={"role": "approver", "auto": True}),
        "materials[0].held_by": lead_review(
            materials=[
                {
                    "id": "tax_record",
                    "name": _names("纳税记录", "Tax record"),
                    "held_by": {"dept": "tax", "resource": "tax.records", "via": "grant"},
                }
            ]
        ),
    }
    for place, obj in problems.items():
        with pytest.raises(DefinitionRefused) as err:
            parse_definition(obj, DEPTS)
        assert place in [p["place"] for p in err.value.fields["problems"]], place
    applied = copy.deepcopy(lead_review())
    del applied["opened_by"]
    with pytest.raises(DefinitionRefused, match="applicants"):
        parse_definition(applied, DEPTS)  # an applied-for service names its applicants
    with pytest.raises(DefinitionRefused, match="steps"):
        parse_definition(applied | {"applicants": ["enterprise"], "steps": []}, DEPTS)


def test_the_owner_opens_it_accepted_without_an_applicant() -> None:
    case = _open()
    assert (case.status, case.applicant, case.applicant_kind) == (
        "accepted",
        "market/engine",
        DEPARTMENT,
    )
    assert case.subject == SUBJECT and case.session == "" and case.consents == ()
    assert [h["event"] for h in case.history] == ["submitted", "accepted"]
    assert case.steps[0].status == "open" and case.steps[0].deadline_ms > T0
    assert _open(OFFICER).applicant == "market/li"


@pytest.mark.parametrize(
    ("actor", "kind", "subject", "error"),
    [
        (Actor("applicant", "enterprise/e1", "market", "", "market/admin"), "enterprise", SUBJECT,
         WrongActor),
        (TAX, DEPARTMENT, SUBJECT, WrongActor),
        (Actor("staff", "market/qi", "market", "inspector", "market/admin"), DEPARTMENT, SUBJECT,
         WrongActor),
        (NODE, "enterprise", SUBJECT, WrongActor),
        (NODE, DEPARTMENT, "", Exception),
    ],
)  # fmt: skip
def test_only_the_owner_opens_it_about_a_subject(
    actor: Actor, kind: str, subject: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        _open(actor, kind, subject)


def test_the_applicants_transitions_are_refused() -> None:
    case = _open()
    args = {
        "withdraw": {"reason": "不再需要"},
        "resubmit": {"form_hash": "cd" * 32},
        "revoke_consent": {"material": "x"},
        "object": {"step": "explain", "text": "异议"},
        "request_supplement": {"items": ["说明"], "reason": "补充"},
    }
    assert set(args) == APPLICANT_TRANSITIONS
    for kind, a in args.items():
        who = Actor("applicant", case.applicant, "market", "", "market/admin")
        with pytest.raises(NoApplicant) as err:
            _do(case, kind, OFFICER if kind == "request_supplement" else who, **a)
        assert isinstance(err.value, IllegalTransition)
        assert err.value.fields["event"] == kind and err.value.fields["state"] == "accepted"


def test_steps_and_the_decision_run_as_for_any_case() -> None:
    case = _open()
    with pytest.raises(WrongActor):
        _do(case, "complete", OFFICER, step="explain", result="pass")
    case = _do(case, "claim", TAX, step="explain")
    case = _do(case, "complete", TAX, step="explain", result="pass", note="已补缴")
    explained = case.step("explain")
    assert explained is not None and explained.note == "已补缴"
    rejected = _do(case, "decide", APPROVER, outcome="reject", reason="线索不实")
    assert (rejected.status, rejected.outcome) == ("decided", "rejected")
    assert rejected.reason == "线索不实"
    approved = _do(case, "decide", APPROVER, outcome="approve")
    assert (approved.status, approved.outcome) == ("issued", "approved")
    closed = _do(approved, "close", OFFICER)
    assert closed.status == "closed"
    events = [h["event"] for h in closed.history]
    assert events == ["submitted", "accepted", "claimed", "step_pass", "approved", "closed"]


def test_a_case_without_steps_is_decided_by_the_owner() -> None:
    bare = parse_definition(lead_review(steps=[], co_handlers=[]), DEPTS)
    event = Event("submit", NODE, T0, "01" * 32, {"form_hash": "ab" * 32})
    case = open_case("20260920000002", bare, event, DEPARTMENT, SUBJECT, CAL)
    decided = apply(
        case, Event("decide", APPROVER, T0 + 1, "03" * 32, {"outcome": "approve"}), bare, CAL
    )
    assert (decided.status, decided.outcome) == ("issued", "approved")


def test_the_contract_stores_it_under_its_subject() -> None:
    h = NetworkHarness()
    h.publish_definitions([lead_review()])
    submit = {"service": "330100-JG-0901", "subject": "flag-42", "form_hash": "ab" * 32}
    doc = h.must("cases", "submit", submit | {"role": "system"}, actor="market/engine")
    number = doc["number"]
    assert (doc["applicant"], doc["applicant_kind"], doc["status"]) == (
        "market/engine",
        DEPARTMENT,
        "accepted",
    )
    about = h.view("cases", "cases_about", {"subject": "flag-42"})
    assert [c["number"] for c in about] == [number]
    refused = h.call("cases", "submit", submit, member="tax/admin", actor="tax/wang")
    assert refused.status == "failed" and refused.error["code"] == "wrong_actor"
    as_applicant = h.call("cases", "submit", submit | {"session": "s"}, actor="enterprise/e1")
    assert as_applicant.status == "failed" and as_applicant.error["code"] == "wrong_actor"
    withdraw = h.call("cases", "withdraw", {"case": number}, actor="market/engine", case=number)
    assert withdraw.status == "failed" and withdraw.error["code"] == "no_applicant"
    staff = {"member": "tax/admin", "actor": "tax/wang", "case": number}
    h.must("cases", "complete", {"case": number, "role": "officer", "step": "explain",
                                 "result": "pass", "note": "情况属实"}, **staff)  # fmt: skip
    decided = h.must(
        "cases",
        "decide",
        {"case": number, "role": "approver", "outcome": "approve"},
        actor="market/zhao",
        case=number,
    )
    assert decided["status"] == "issued" and decided["outputs"] == []
