"""The case engine, example by example: every transition of ``TRANSITIONS`` and ``open_case``.

The procedures are the shipped ones (enterprise registration 330100-DJ-0001, simplified and
ordinary deregistration 330100-ZX-0001/0002) and a commitment-based permit written here
(告知承诺制, 国发〔2021〕7号: the licence is granted at once and the commitment checked later).
Deadlines are known answers from the real calendar: 国务院办公厅关于2026年部分节假日安排的通知
(National Day 2026-10-01..07 with make-up workdays Sunday 2026-09-20 and Saturday 2026-10-10,
Mid-Autumn Festival Friday 2026-09-25).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

import govchain.apps.enterprise
from govchain.errors import Conflict, Forbidden, GovchainError, SchemaViolation
from govchain.procedures.calendar import DAY_MS, add_working_days, load_default_calendar
from govchain.procedures.cases import (
    STATUSES,
    Actor,
    Case,
    Event,
    case_from_json,
    case_to_json,
    evolve,
)
from govchain.procedures.definitions import ServiceDefinition, parse_definition
from govchain.procedures.engine import (
    TRANSITIONS,
    CaseExpired,
    IllegalTransition,
    WrongActor,
    apply,
    open_case,
    overdue,
)

CAL = load_default_calendar()
DEPTS = frozenset({"market", "tax", "hrss", "customs", "health", "fire", "housing", "transport"})
SERVICES = Path(govchain.apps.enterprise.__file__).parent / "services"


def _load(path: str) -> ServiceDefinition:
    return parse_definition(json.loads((SERVICES / path).read_text("utf-8")), DEPTS)


REG = _load("registration/330100-DJ-0001.json")
SIMPLE = _load("deregistration/330100-ZX-0001.json")
ORDINARY = _load("deregistration/330100-ZX-0002.json")


def _names(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def commitment_permit(auto: bool = False) -> dict[str, Any]:
    """A public-health permit on commitment (告知承诺制): granted at once, checked in 20 days.

    ``auto``: the permit is decided from a data check alone, without a review."""
    if auto:
        steps: list[dict[str, Any]] = [
            {
                "id": "record",
                "name": _names("违法记录核查", "No violations on record"),
                "kind": "check",
                "dept": "health",
                "role": "officer",
                "days": 1,
                "check": {
                    "resource": "health.violations",
                    "predicate": {"filter": [["closed", "eq", False]], "count": ["eq", 0]},
                    "statement": "无未结违法记录",
                    "advice": _names("请先处理违法记录。", "Settle the violations first."),
                },
            }
        ]
    else:
        steps = [
            {
                "id": "review",
                "name": _names("承诺材料审查", "Review of the commitment"),
                "kind": "review",
                "dept": "health",
                "role": "officer",
                "days": 2,
            }
        ]
    return {
        "code": "330100-WS-0901" if not auto else "330100-WS-0902",
        "version": 1,
        "category": "permit",
        "name": _names("公共场所卫生许可（告知承诺）", "Public-place hygiene permit (commitment)"),
        "summary": _names("承诺即发证，事后核查。", "Granted on a commitment, checked afterwards."),
        "owner": "health",
        "legal_basis": ["《国务院关于深化“证照分离”改革进一步激发市场主体发展活力的通知》"],
        "applicants": ["enterprise"],
        "materials": [
            {"id": "application", "name": _names("申请书", "Application"), "required": True},
            {"id": "pledge", "name": _names("承诺书", "Signed commitment"), "required": True},
        ],
        "form": {"type": "object", "properties": {"address": {"type": "string"}}},
        "steps": steps,
        "auto_accept": auto,
        "decision": {"role": "approver", "auto": auto},
        "outputs": [
            {
                "kind": "licence.issue",
                "licence_type": "hygiene_permit",
                "licence_name": _names("公共场所卫生许可证", "Public-place hygiene permit"),
                "validity_years": 4,
            }
        ],
        "fee_fen": 0,
        "time_limit_days": 2,
        "supplement_days": 10,
        "commitment": {"check_days": 20},
    }


PERMIT = parse_definition(commitment_permit(), DEPTS)


def _with_held_materials() -> dict[str, Any]:
    obj = commitment_permit()
    obj["code"] = "330100-WS-0903"
    obj["materials"] += [
        {
            "id": "premises",
            "name": _names("场所产权", "Premises record"),
            "held_by": {"dept": "housing", "resource": "housing.property", "via": "attestation"},
        },
        {
            "id": "fire_record",
            "name": _names("消防检查记录", "Fire inspection record"),
            "required": False,
            "held_by": {"dept": "fire", "resource": "fire.inspections", "via": "attestation"},
        },
    ]
    return obj


HELD = parse_definition(_with_held_materials(), DEPTS)
AUTO_PERMIT = parse_definition(commitment_permit(auto=True), DEPTS)

# --- time, people, events -----------------------------------------------------------------------

_CST = datetime.timezone(datetime.timedelta(hours=8))


def cst(iso: str, hour: int = 10, minute: int = 0) -> int:
    """Block time in ms of ``hour:minute`` China Standard Time on the ISO date."""
    return (
        int(
            datetime.datetime.fromisoformat(iso)
            .replace(hour=hour, minute=minute, tzinfo=_CST)
            .timestamp()
        )
        * 1000
    )


def end_of(iso: str) -> int:
    """The last ms of the CST day: 23:59:59.999 +08:00."""
    return cst(iso, 0) + DAY_MS - 1


def h(label: str) -> str:
    """A 64-hex hash standing for an uploaded document."""
    return hashlib.sha256(label.encode()).hexdigest()


def staff(dept: str, role: str = "officer", name: str = "zhang") -> Actor:
    return Actor("staff", f"{dept}/{name}", dept, role, f"{dept}/{role}-key")


def node(dept: str) -> Actor:
    return Actor("node", f"{dept}/system", dept, "system", f"{dept}/node")


CITIZEN = Actor("applicant", "citizen/7d1c", "market", "", "market/node")
OTHER_CITIZEN = Actor("applicant", "citizen/0b9e", "market", "", "market/node")
FIRM = Actor("applicant", "enterprise/91330106MA2H3K4X0B", "market", "", "market/node")
PUBLIC = Actor("public", "citizen/5a5a", "tax", "", "tax/node")
_tx = itertools.count(1)


def ev(kind: str, actor: Actor, at: int, **args: Any) -> Event:
    return Event(kind, actor, at, f"{next(_tx):064x}", args)


def submission(defn: ServiceDefinition) -> dict[str, Any]:
    """Valid submit arguments: every required upload, consent for every required held one."""
    return {
        "form_hash": h("form"),
        "materials": {m.id: h(m.id) for m in defn.materials if m.required and not m.held_by},
        "consents": [m.id for m in defn.materials if m.held_by and m.required],
        "session": "session-1",
    }


def snapshot(case: Case) -> str:
    return json.dumps(case_to_json(case), sort_keys=True, ensure_ascii=False)


class Run:
    """One case moved step by step; checks purity and that refusals change nothing."""

    def __init__(self, defn: ServiceDefinition, at: int, applicant: Actor | None = None) -> None:
        self.defn = defn
        self.applicant = applicant or (CITIZEN if "citizen" in defn.applicants else FIRM)
        kind = "citizen" if self.applicant.person.startswith("citizen/") else "enterprise"
        subject = "" if kind == "citizen" else "91330106MA2H3K4X0B"
        self.case = open_case(
            "20260302-00001-7",
            defn,
            ev("submit", self.applicant, at, **submission(defn)),
            kind,
            subject,
            CAL,
        )

    def do(self, kind: str, actor: Actor, at: int, **args: Any) -> Case:
        before = snapshot(self.case)
        after = apply(self.case, ev(kind, actor, at, **args), self.defn, CAL)
        assert snapshot(self.case) == before, "apply changed its input"
        assert after.history[: len(self.case.history)] == self.case.history
        assert len(after.history) > len(self.case.history)
        self.case = after
        return after

    def refuse(
        self, error: type[GovchainError], kind: str, actor: Actor, at: int, **args: Any
    ) -> GovchainError:
        before = snapshot(self.case)
        with pytest.raises(error) as info:
            apply(self.case, ev(kind, actor, at, **args), self.defn, CAL)
        assert type(info.value) is error, info.value
        assert snapshot(self.case) == before, "a refused transition changed the case"
        return info.value

    def step(self, sid: str) -> Any:
        st = self.case.step(sid)
        assert st is not None
        return st

    def events(self) -> list[str]:
        return [e["event"] for e in self.case.history]


def checks_yes(run: Run, at: int) -> None:
    """Every check step of the case answered yes by its department's node."""
    for s in run.defn.steps:
        if s.kind == "check" and run.step(s.id).status in ("open", "blocked"):
            run.do(
                "answer_check", node(s.dept), at, step=s.id, attestation=f"att-{s.id}", answer=True
            )


def test_transitions_are_the_documented_ones() -> None:
    # A new transition needs its tests here and in test_engine_model.py.
    assert set(TRANSITIONS) == {
        "accept",
        "reject",
        "request_supplement",
        "resubmit",
        "claim",
        "reassign",
        "complete",
        "answer_check",
        "attach",
        "object",
        "resolve_objection",
        "end_notice",
        "decide",
        "verify_commitment",
        "close",
        "expire",
        "withdraw",
        "revoke_consent",
    }


# --- open_case ----------------------------------------------------------------------------------


def test_open_case_makes_a_submitted_case() -> None:
    t = cst("2026-03-02", 9)
    run = Run(REG, t)
    c = run.case
    assert (c.status, c.outcome, c.reason) == ("submitted", "", "")
    assert (c.service, c.version, c.applicant, c.applicant_kind) == (
        REG.code,
        REG.version,
        CITIZEN.person,
        "citizen",
    )
    assert (c.submitted_ms, c.accepted_ms, c.decided_ms) == (t, 0, 0)
    assert c.form_hash == h("form") and c.session == "session-1"
    assert dict(c.materials) == submission(REG)["materials"]
    assert [(s.id, s.status, s.opened_ms, s.deadline_ms) for s in c.steps] == [
        (s.id, "waiting", 0, 0) for s in REG.steps
    ]
    assert c.supplement is None and c.commitment_deadline_ms == 0 and c.outputs == ()
    assert len(c.history) == 1
    entry = c.history[0]
    assert (entry["event"], entry["time_ms"], entry["actor"], entry["step"]) == (
        "submitted",
        t,
        CITIZEN.person,
        "",
    )
    assert len(entry["tx"]) == 64


def _open(defn: ServiceDefinition, actor: Actor, kind: str, **changes: Any) -> Case:
    args = {**submission(defn), **changes}
    return open_case("n-1", defn, ev("submit", actor, cst("2026-03-02"), **args), kind, "", CAL)


def test_open_case_refusals() -> None:
    with pytest.raises(WrongActor):
        _open(REG, staff("market"), "citizen")
    with pytest.raises(WrongActor):  # registration is for citizens, not enterprises
        _open(REG, FIRM, "enterprise")
    required = next(m.id for m in REG.materials if m.required and not m.held_by)
    materials = {k: v for k, v in submission(REG)["materials"].items() if k != required}
    with pytest.raises(SchemaViolation) as info:
        _open(REG, CITIZEN, "citizen", materials=materials)
    assert info.value.fields["field"] == "materials" and required in info.value.message
    with pytest.raises(SchemaViolation) as info:
        _open(REG, CITIZEN, "citizen", materials={**materials, required: "ABC"})
    assert info.value.fields["field"] == f"materials.{required}"
    with pytest.raises(SchemaViolation) as info:
        _open(REG, CITIZEN, "citizen", materials={**materials, "passport": h("p")})
    assert info.value.fields["field"] == "materials.passport"
    with pytest.raises(SchemaViolation) as info:  # consent only for materials others hold
        _open(REG, CITIZEN, "citizen", consents=[required])
    assert info.value.fields["field"] == "consents"
    with pytest.raises(SchemaViolation) as info:
        _open(REG, CITIZEN, "citizen", session="")
    assert info.value.fields["field"] == "session"
    with pytest.raises(SchemaViolation) as info:
        _open(REG, CITIZEN, "citizen", form_hash="0" * 63)
    assert info.value.fields["field"] == "form_hash"


def test_a_held_material_is_fetched_with_consent_instead_of_uploaded() -> None:
    c = _open(HELD, FIRM, "enterprise")
    assert c.consents == ("premises",) and "premises" not in c.materials
    assert c.fetched == {}
    with pytest.raises(SchemaViolation):  # neither uploaded nor consented to
        _open(HELD, FIRM, "enterprise", consents=[])
    uploaded = {**submission(HELD)["materials"], "premises": h("deed")}
    c = _open(HELD, FIRM, "enterprise", consents=[], materials=uploaded)
    assert c.materials["premises"] == h("deed")


# --- attach: the department holding a material answers for it ----------------------------------


def test_the_holding_department_attaches_a_material() -> None:
    t = cst("2026-03-02")
    run = Run(HELD, t)
    run.refuse(
        SchemaViolation,
        "attach",
        node("housing"),
        t,
        material="application",
        attestation=h("a"),
        answer=True,
    )
    run.refuse(
        SchemaViolation,
        "attach",
        node("housing"),
        t,
        material="nope",
        attestation=h("a"),
        answer=True,
    )
    run.refuse(
        WrongActor,
        "attach",
        node("market"),
        t,
        material="premises",
        attestation=h("a"),
        answer=True,
    )
    run.refuse(WrongActor, "attach", FIRM, t, material="premises", attestation=h("a"), answer=True)
    run.refuse(
        WrongActor,
        "attach",
        node("fire"),
        t,
        material="fire_record",
        attestation=h("a"),
        answer=True,
    )  # no consent for it
    run.refuse(
        SchemaViolation,
        "attach",
        node("housing"),
        t,
        material="premises",
        attestation="att-1",
        answer=True,
    )
    run.refuse(
        SchemaViolation,
        "attach",
        node("housing"),
        t,
        material="premises",
        attestation=h("a"),
        answer="yes",
    )
    run.do(
        "attach", node("housing"), t, material="premises", attestation=h("no record"), answer=False
    )
    assert run.case.fetched["premises"] == {
        "dept": "housing",
        "attestation": h("no record"),
        "answer": False,
        "time_ms": t,
    }
    assert "premises" not in run.case.materials
    assert (run.events()[-1], run.case.history[-1]["step"]) == ("material_missing", "premises")
    run.do("accept", staff("health"), t + 1)
    run.do(
        "attach",
        staff("housing", "inspector"),
        t + 2,
        material="premises",
        attestation=h("deed"),
        answer=True,
    )
    assert run.case.fetched["premises"]["answer"] is True
    assert run.case.materials["premises"] == h("deed")
    assert run.events()[-1] == "material_attached"
    err = run.refuse(
        IllegalTransition,
        "attach",
        node("housing"),
        t + 3,
        material="premises",
        attestation=h("again"),
        answer=True,
    )
    assert (err.fields["state"], err.fields["event"]) == ("attached", "attach")
    assert case_from_json(json.loads(json.dumps(case_to_json(run.case)))) == run.case


def test_attach_only_before_the_decision() -> None:
    t = cst("2026-03-02")
    run = Run(HELD, t)
    run.do("request_supplement", staff("health"), t, items=["x"], reason="x")
    run.do("attach", node("housing"), t, material="premises", attestation=h("a"), answer=False)
    run.do("reject", staff("health", "approver"), t, reason="x")
    err = run.refuse(
        IllegalTransition,
        "attach",
        node("housing"),
        t,
        material="premises",
        attestation=h("b"),
        answer=True,
    )
    assert err.fields["state"] == "decided"


# --- registration: accept, steps in parallel, decide, close --------------------------------------


def test_registration_happy_path() -> None:
    t = cst("2026-03-02")  # a Monday
    run = Run(REG, t - 3_600_000)
    run.do("accept", staff("market"), t)
    assert run.case.status == "accepted" and run.case.accepted_ms == t
    review = run.step("review")
    assert (review.status, review.opened_ms, review.deadline_ms) == (
        "open",
        t,
        end_of("2026-03-03"),
    )
    assert [run.step(s).status for s in ("tax_setup", "social_insurance")] == ["waiting"] * 2

    err = run.refuse(WrongActor, "complete", staff("tax"), t + 1, step="review", result="pass")
    assert isinstance(err, Forbidden) and err.fields["dept"] == "market"
    run.do("claim", staff("market"), t + 2, step="review")
    assert run.step("review").assignee == "market/zhang"
    t2 = cst("2026-03-03", 15)
    run.do("complete", staff("market"), t2, step="review", result="pass")
    assert (run.step("review").status, run.step("review").result) == ("done", "pass")
    for sid in ("tax_setup", "social_insurance"):  # both open at once: parallel steps
        st = run.step(sid)
        assert (st.status, st.opened_ms, st.deadline_ms) == ("open", t2, end_of("2026-03-04"))

    err = run.refuse(
        IllegalTransition, "decide", staff("market", "approver"), t2 + 1, outcome="approve"
    )
    assert err.fields["state"] == "accepted"
    assert err.fields["steps"] == ["tax_setup", "social_insurance"]
    run.do("complete", staff("hrss"), t2 + 2, step="social_insurance", result="pass")
    run.do("complete", staff("tax"), t2 + 3, step="tax_setup", result="pass")
    assert run.case.status == "accepted"  # a person decides registration
    run.refuse(WrongActor, "decide", staff("market"), t2 + 4, outcome="approve")
    run.refuse(WrongActor, "decide", staff("tax", "approver"), t2 + 4, outcome="approve")
    run.refuse(SchemaViolation, "decide", staff("market", "approver"), t2 + 4, outcome="yes")
    run.do("decide", staff("market", "approver"), t2 + 5, outcome="approve")
    c = run.case
    assert (c.status, c.outcome, c.decided_ms, c.commitment_deadline_ms) == (
        "issued",
        "approved",
        t2 + 5,
        0,
    )
    run.refuse(WrongActor, "close", staff("tax"), t2 + 6)
    run.do("close", staff("market"), t2 + 6)
    assert (run.case.status, run.case.outcome) == ("closed", "approved")
    assert run.events() == [
        "submitted",
        "accepted",
        "claimed",
        "step_pass",
        "step_pass",
        "step_pass",
        "approved",
        "closed",
    ]
    assert [e["step"] for e in run.case.history][2:6] == [
        "review",
        "review",
        "social_insurance",
        "tax_setup",
    ]
    assert run.case.history[6]["actor"] == "market/zhang"
    assert run.case.history[6]["role"] == "approver"
    err = run.refuse(IllegalTransition, "withdraw", CITIZEN, t2 + 7)
    assert (err.fields["state"], err.fields["event"]) == ("closed", "withdraw")


def test_accept_belongs_to_the_owners_officer() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    err = run.refuse(WrongActor, "accept", staff("tax"), t)
    assert isinstance(err, Forbidden) and err.code == "wrong_actor"
    run.refuse(WrongActor, "accept", staff("market", "approver"), t)
    run.refuse(WrongActor, "accept", node("market"), t)
    run.refuse(WrongActor, "accept", CITIZEN, t)
    run.do("accept", staff("market", "admin", "chen"), t)  # an admin acts for any role
    err = run.refuse(IllegalTransition, "accept", staff("market"), t)
    assert isinstance(err, Conflict) and err.fields["state"] == "accepted"


def test_reject_before_and_after_acceptance() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.refuse(SchemaViolation, "reject", staff("market"), t, reason="  ")
    run.do("reject", staff("market"), t, reason="材料不齐 / materials missing")
    c = run.case
    assert (c.status, c.outcome, c.reason, c.decided_ms) == (
        "decided",
        "rejected",
        "材料不齐 / materials missing",
        t,
    )
    run.refuse(IllegalTransition, "withdraw", CITIZEN, t + 1)
    run.refuse(WrongActor, "close", staff("market", "inspector"), t + 1)
    run.do("close", staff("market", "approver"), t + 1)
    assert (run.case.status, run.case.outcome) == ("closed", "rejected")

    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.refuse(WrongActor, "reject", staff("market"), t, reason="no")  # only before acceptance
    run.do("reject", staff("market", "approver"), t, reason="name taken")
    assert run.events()[-1] == "rejected"


def test_a_failed_step_stops_the_procedure_and_only_rejection_remains() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.refuse(SchemaViolation, "complete", staff("market"), t, step="review", result="fail")
    run.refuse(SchemaViolation, "complete", staff("market"), t, step="review", result="ok")
    run.do("complete", staff("market"), t, step="review", result="fail", note="名称重复")
    assert (run.step("review").result, run.step("review").note) == ("fail", "名称重复")
    assert run.step("tax_setup").status == "waiting"
    run.refuse(IllegalTransition, "complete", staff("market"), t, step="review", result="pass")
    run.refuse(IllegalTransition, "decide", staff("market", "approver"), t, outcome="approve")
    run.refuse(SchemaViolation, "decide", staff("market", "approver"), t, outcome="reject")
    run.do("decide", staff("market", "approver"), t, outcome="reject", reason="name taken")
    assert (run.case.status, run.case.outcome, run.case.reason) == (
        "decided",
        "rejected",
        "name taken",
    )


def test_claim_reassign_and_who_completes() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.refuse(IllegalTransition, "claim", staff("market"), t, step="review")  # not accepted yet
    run.do("accept", staff("market"), t)
    run.refuse(SchemaViolation, "claim", staff("market"), t, step="nope")
    run.refuse(IllegalTransition, "claim", staff("tax"), t, step="tax_setup")  # still waiting
    run.refuse(WrongActor, "claim", staff("tax"), t, step="review")
    run.do("claim", staff("market", name="zhang"), t, step="review")
    run.do("claim", staff("market", name="zhang"), t, step="review")  # again: no harm
    err = run.refuse(IllegalTransition, "claim", staff("market", name="li"), t, step="review")
    assert (err.fields["state"], err.fields["step"]) == ("claimed", "review")
    run.refuse(WrongActor, "complete", staff("market", name="li"), t, step="review", result="pass")
    run.refuse(WrongActor, "reassign", staff("market"), t, step="review", to="market/li")
    run.refuse(WrongActor, "reassign", staff("tax", "admin"), t, step="review", to="market/li")
    run.refuse(SchemaViolation, "reassign", staff("market", "admin"), t, step="review", to="tax/li")
    run.do("reassign", staff("market", "admin", "chen"), t, step="review", to="market/li")
    assert run.step("review").assignee == "market/li"
    assert run.events()[-1] == "reassigned"
    run.refuse(
        WrongActor, "complete", staff("market", name="zhang"), t, step="review", result="pass"
    )
    run.do("complete", staff("market", name="li"), t, step="review", result="pass")
    assert run.step("review").assignee == "market/li"
    run.refuse(
        IllegalTransition, "reassign", staff("market", "admin"), t, step="review", to="market/wu"
    )
    # An admin may complete a step someone else claimed.
    run.do("claim", staff("tax", name="he"), t, step="tax_setup")
    run.do("complete", staff("tax", "admin", "sun"), t, step="tax_setup", result="pass")
    assert run.step("tax_setup").assignee == "tax/sun"


def test_wrong_department_is_forbidden_everywhere() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("claim", {"step": "review"}),
        ("complete", {"step": "review", "result": "pass"}),
        ("reassign", {"step": "review", "to": "market/li"}),
        ("reject", {"reason": "x"}),
        ("decide", {"outcome": "reject", "reason": "x"}),
        ("request_supplement", {"items": ["x"], "reason": "x"}),
    ]
    for kind, args in attempts:
        err = run.refuse(WrongActor, kind, staff("customs", "admin"), t, **args)
        assert isinstance(err, Forbidden)


# --- withdrawal ----------------------------------------------------------------------------------


def test_withdraw_before_the_decision() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.refuse(WrongActor, "withdraw", OTHER_CITIZEN, t)
    run.refuse(WrongActor, "withdraw", staff("market", "admin"), t)
    run.refuse(SchemaViolation, "withdraw", CITIZEN, t, reason=7)
    run.do("withdraw", CITIZEN, t, reason="不办了")
    assert (run.case.status, run.case.outcome, run.case.reason) == (
        "withdrawn",
        "withdrawn",
        "不办了",
    )
    assert run.case.decided_ms == 0
    for later in ("accept", "withdraw", "close"):
        err = run.refuse(IllegalTransition, later, staff("market", "admin"), t + 1)
        assert err.fields["state"] == "withdrawn"

    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.do("withdraw", CITIZEN, t + 1)
    assert run.case.status == "withdrawn" and run.case.reason == ""

    run = Run(REG, t)
    run.do("request_supplement", staff("market"), t, items=["章程"], reason="unsigned")
    run.do("withdraw", CITIZEN, t + 1)
    assert run.case.status == "withdrawn" and run.case.supplement is None


def test_withdraw_is_refused_after_the_decision() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.do("decide", staff("market", "approver"), t, outcome="reject", reason="no")
    err = run.refuse(IllegalTransition, "withdraw", CITIZEN, t + 1)
    assert (err.fields["state"], err.fields["event"]) == ("decided", "withdraw")
    assert "decided" in err.message


# --- supplements (补正) ---------------------------------------------------------------------------


def test_supplement_then_resubmit_shifts_the_deadlines_by_the_wait() -> None:
    t = cst("2026-03-02")  # Monday; the review is due at the end of Tuesday
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    assert run.step("review").deadline_ms == end_of("2026-03-03")
    asked = cst("2026-03-02", 11)
    run.refuse(SchemaViolation, "request_supplement", staff("market"), asked, items=[], reason="x")
    run.refuse(SchemaViolation, "request_supplement", staff("market"), asked, items=["章程"])
    run.refuse(WrongActor, "request_supplement", staff("tax"), asked, items=["x"], reason="x")
    run.refuse(WrongActor, "request_supplement", CITIZEN, asked, items=["x"], reason="x")
    run.do(
        "request_supplement",
        staff("market", "inspector"),
        asked,
        items=["公司章程"],
        reason="章程未签字",
    )
    c = run.case
    assert c.status == "supplement_requested"
    assert c.supplement is not None
    assert c.supplement["items"] == ["公司章程"] and c.supplement["back_to"] == "accepted"
    assert c.supplement["deadline_ms"] == add_working_days(asked, REG.supplement_days, CAL)
    err = run.refuse(IllegalTransition, "claim", staff("market"), asked, step="review")
    assert err.fields["state"] == "supplement_requested"
    run.refuse(
        IllegalTransition, "request_supplement", staff("market"), asked, items=["x"], reason="x"
    )
    back = cst("2026-03-05")  # Thursday: 3 working days of waiting
    run.refuse(WrongActor, "resubmit", OTHER_CITIZEN, back, materials={"articles": h("v2")})
    run.refuse(SchemaViolation, "resubmit", CITIZEN, back)  # nothing changed
    run.refuse(SchemaViolation, "resubmit", CITIZEN, back, materials={"passport": h("v2")})
    run.do("resubmit", CITIZEN, back, materials={"articles": h("articles v2")})
    c = run.case
    assert (c.status, c.supplement) == ("accepted", None)
    assert c.materials["articles"] == h("articles v2")
    assert run.step("review").deadline_ms == end_of("2026-03-06")  # Tuesday + 3 working days
    assert run.events()[-2:] == ["supplement_requested", "resubmitted"]


def test_supplement_before_acceptance_returns_to_submitted() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("request_supplement", staff("market"), t, items=["x"], reason="unreadable")
    run.do("resubmit", CITIZEN, t + 1, form_hash=h("form v2"))
    assert (run.case.status, run.case.form_hash) == ("submitted", h("form v2"))


def test_a_co_handler_with_an_open_step_may_ask_for_a_supplement() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.refuse(WrongActor, "request_supplement", staff("tax"), t, items=["x"], reason="x")
    run.do("complete", staff("market"), t, step="review", result="pass")
    run.refuse(WrongActor, "request_supplement", staff("customs"), t, items=["x"], reason="x")
    run.do("request_supplement", staff("tax"), t, items=["银行账户"], reason="missing")
    assert run.case.supplement is not None and run.case.supplement["by"] == "tax"


def test_a_late_supplement_expires_the_case() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.do("request_supplement", staff("market"), t, items=["x"], reason="x")
    sup = run.case.supplement
    assert sup is not None
    due = sup["deadline_ms"]
    err = run.refuse(IllegalTransition, "expire", staff("market"), due)  # still in time
    assert err.fields["state"] == "supplement_requested"
    run.do("resubmit", CITIZEN, due, materials={"articles": h("just in time")})

    run.do("request_supplement", staff("market"), due + 1, items=["x"], reason="x")
    sup = run.case.supplement
    assert sup is not None
    late = sup["deadline_ms"] + 1
    err = run.refuse(CaseExpired, "resubmit", CITIZEN, late, materials={"articles": h("late")})
    assert isinstance(err, Conflict) and err.fields["deadline_ms"] == sup["deadline_ms"]
    run.refuse(WrongActor, "expire", staff("tax"), late)
    run.refuse(WrongActor, "expire", staff("market", "approver"), late)
    run.do("expire", staff("market"), late)
    c = run.case
    assert (c.status, c.outcome, c.supplement) == ("closed", "expired", None)
    assert c.reason and c.decided_ms == 0
    assert run.events()[-1] == "expired"


def test_case_expired_names_the_state() -> None:
    # Bug report: CaseExpired is a Conflict like IllegalTransition and must name the state it
    # refused in (``fields["state"]``), as the API and the stateful model read it.
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("request_supplement", staff("market"), t, items=["x"], reason="x")
    sup = run.case.supplement
    assert sup is not None
    err = run.refuse(
        CaseExpired, "resubmit", CITIZEN, sup["deadline_ms"] + 1, materials={"articles": h("late")}
    )
    assert err.fields.get("state") == "supplement_requested"

    run = Run(SIMPLE, t)
    notice = run.step("notice")
    err = run.refuse(CaseExpired, "object", PUBLIC, notice.deadline_ms, step="notice", text="x")
    assert err.fields.get("state") == "open"


def test_a_rejection_during_a_supplement_closes_the_supplement_request() -> None:
    # Bug report: the rejected case still shows an open supplement request (withdraw and expire
    # clear it; reject does not).
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.do("request_supplement", staff("market"), t, items=["x"], reason="x")
    run.do("reject", staff("market", "approver"), t + 1, reason="false documents")
    assert (run.case.status, run.case.outcome) == ("decided", "rejected")
    assert run.case.supplement is None


def test_a_supplement_does_not_forgive_an_overdue_step() -> None:
    # Bug report: the review was due at the end of Tuesday 03-03; the supplement is asked for on
    # Thursday (already 2 working days late) and answered on Monday 03-09. Shifted by the
    # 2 working days of waiting, the review is due on Thursday 03-05 and is still overdue; the
    # engine instead gives it until the end of Monday.
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    assert [s.id for s in overdue(run.case, cst("2026-03-05"))] == ["review"]
    run.do("request_supplement", staff("market"), cst("2026-03-05"), items=["x"], reason="x")
    back = cst("2026-03-09")
    run.do("resubmit", CITIZEN, back, materials={"articles": h("v2")})
    assert run.step("review").deadline_ms < back
    assert [s.id for s in overdue(run.case, back + 3_600_000)] == ["review"]


# --- deadlines on the real calendar -------------------------------------------------------------


@pytest.mark.parametrize(
    ("opened", "hour", "due"),
    [
        ("2026-03-06", 10, "2026-03-09"),  # Friday -> Monday
        ("2026-03-06", 23, "2026-03-09"),  # late on Friday: the day still does not count
        ("2026-03-06", 0, "2026-03-09"),  # 00:xx CST is still Thursday in UTC
        ("2026-09-24", 10, "2026-09-28"),  # Thursday; Mid-Autumn Festival on Friday 09-25
        ("2026-09-30", 10, "2026-10-08"),  # National Day 10-01..07
        ("2026-10-09", 10, "2026-10-10"),  # Friday -> make-up workday Saturday 10-10
        ("2026-09-18", 10, "2026-09-20"),  # Friday -> make-up workday Sunday 09-20
        ("2026-12-31", 10, "2027-01-04"),  # New Year's Day 2027 on a Friday
    ],
)
def test_a_one_day_step_is_due_at_the_end_of_the_next_working_day(
    opened: str, hour: int, due: str
) -> None:
    t = cst(opened, hour, 30)
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    review = run.step("review")
    assert REG.step("review") is not None and REG.steps[0].days == 1
    assert (review.opened_ms, review.deadline_ms) == (t, end_of(due))


def test_overdue_lists_open_steps_past_their_deadline() -> None:
    t = cst("2026-03-06")  # Friday: the review is due at the end of Monday
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    due = end_of("2026-03-09")
    assert overdue(run.case, due) == []
    assert [s.id for s in overdue(run.case, due + 1)] == ["review"]
    run.do("complete", staff("market"), due + 2, step="review", result="pass")
    assert overdue(run.case, due + 3) == []
    # Completed in the first ms of Tuesday: the next steps are due at the end of Wednesday.
    assert overdue(run.case, end_of("2026-03-11")) == []
    later = end_of("2026-03-11") + 1
    assert [s.id for s in overdue(run.case, later)] == ["tax_setup", "social_insurance"]

    run = Run(SIMPLE, t)  # a blocked check counts too
    run.do("answer_check", node("tax"), t, step="tax_arrears", attestation="a1", answer=False)
    late = [s.id for s in overdue(run.case, end_of("2026-03-09") + 1)]
    assert "tax_arrears" in late and "notice" not in late


def test_no_step_is_overdue_in_a_case_that_cannot_act() -> None:
    # Bug report: overdue() lists the open steps of withdrawn and rejected cases, and of cases
    # waiting for the applicant's supplement (time that does not count against departments).
    t = cst("2026-03-02")
    far = cst("2026-12-01")
    run = Run(SIMPLE, t)
    run.do("withdraw", FIRM, t + 1)
    assert overdue(run.case, far) == []

    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.do("decide", staff("market", "approver"), t + 1, outcome="reject", reason="no")
    assert overdue(run.case, far) == []

    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    run.do("request_supplement", staff("market"), t + 1, items=["x"], reason="x")
    assert overdue(run.case, cst("2026-03-10")) == []


# --- simplified deregistration: automatic acceptance, checks, notice, automatic decision ---------


def test_simplified_deregistration_without_a_visit() -> None:
    t = cst("2026-09-28")
    run = Run(SIMPLE, t)
    c = run.case
    assert (c.status, c.accepted_ms) == ("accepted", t)  # auto_accept
    assert all(s.status == "open" and s.opened_ms == t for s in c.steps)
    notice = run.step("notice")
    # 20 calendar days to the millisecond, not 20 working days (which would end in November).
    assert notice.deadline_ms == t + 20 * DAY_MS == cst("2026-10-18")
    assert run.step("tax_arrears").deadline_ms == end_of("2026-09-29")

    run.refuse(
        WrongActor,
        "answer_check",
        node("hrss"),
        t,
        step="tax_arrears",
        attestation="a",
        answer=True,
    )
    run.refuse(
        WrongActor, "answer_check", PUBLIC, t, step="tax_arrears", attestation="a", answer=True
    )
    run.refuse(
        SchemaViolation,
        "answer_check",
        node("tax"),
        t,
        step="tax_arrears",
        attestation="a",
        answer="yes",
    )
    run.refuse(
        SchemaViolation,
        "answer_check",
        node("market"),
        t,
        step="notice",
        attestation="a",
        answer=True,
    )
    run.refuse(IllegalTransition, "complete", staff("tax"), t, step="tax_arrears", result="pass")
    checks_yes(run, t + 1000)
    assert all(s.status == "done" and s.result == "pass" for s in run.case.steps[:-1])
    assert run.case.status == "accepted"  # the notice still runs
    run.refuse(SchemaViolation, "end_notice", node("tax"), t, step="tax_arrears")
    run.refuse(WrongActor, "end_notice", node("tax"), notice.deadline_ms, step="notice")
    err = run.refuse(
        IllegalTransition, "end_notice", node("market"), notice.deadline_ms - 1, step="notice"
    )
    assert err.fields["event"] == "end_notice"
    run.do("end_notice", node("market"), notice.deadline_ms, step="notice")
    c = run.case
    assert (c.status, c.outcome, c.decided_ms) == ("issued", "approved", notice.deadline_ms)
    assert run.events()[-2:] == ["notice_ended", "approved"]
    assert c.history[-1]["actor"] == "system" and c.history[-1]["dept"] == "market"
    run.do("close", staff("market"), notice.deadline_ms + 1)
    assert (run.case.status, run.case.outcome) == ("closed", "approved")


def test_a_check_answered_no_blocks_with_advice_until_answered_yes() -> None:
    t = cst("2026-03-02")
    run = Run(SIMPLE, t)
    run.do("answer_check", node("tax"), t, step="tax_arrears", attestation="att-1", answer=False)
    st = run.step("tax_arrears")
    assert (st.status, st.result, st.attestation) == ("blocked", "", "att-1")
    advice = SIMPLE.steps[0].check
    assert advice is not None
    assert advice.advice["zh"] in st.note and advice.advice["en"] in st.note
    assert run.events()[-1] == "check_no"
    run.do("claim", staff("tax"), t, step="tax_arrears")  # a blocked step can be claimed
    run.do(
        "answer_check", staff("tax"), t + 1, step="tax_arrears", attestation="att-2", answer=False
    )
    assert run.step("tax_arrears").status == "blocked"
    later = cst("2026-03-04")
    run.do("answer_check", node("tax"), later, step="tax_arrears", attestation="att-3", answer=True)
    st = run.step("tax_arrears")
    assert (st.status, st.result, st.note, st.attestation) == ("done", "pass", "", "att-3")
    run.refuse(
        IllegalTransition,
        "answer_check",
        node("tax"),
        later,
        step="tax_arrears",
        attestation="att-4",
        answer=False,
    )
    checks_yes(run, later)
    run.do("end_notice", node("market"), run.step("notice").deadline_ms, step="notice")
    assert run.case.outcome == "approved"


def test_an_objection_blocks_the_notice_and_a_dismissal_lets_it_end() -> None:
    t = cst("2026-03-02")
    run = Run(SIMPLE, t)
    checks_yes(run, t)
    end = run.step("notice").deadline_ms
    run.refuse(SchemaViolation, "object", PUBLIC, t, step="tax_arrears", text="x")
    run.refuse(SchemaViolation, "object", PUBLIC, t, step="notice", text=" ")
    run.do("object", PUBLIC, t + 1000, step="notice", text="公司尚欠货款 / unpaid invoices")
    st = run.step("notice")
    assert st.status == "blocked" and len(st.objections) == 1
    objection = st.objections[0]
    assert (objection["by"], objection["status"], objection["time_ms"]) == (
        PUBLIC.person,
        "open",
        t + 1000,
    )
    err = run.refuse(IllegalTransition, "end_notice", node("market"), end, step="notice")
    assert err.fields["state"] == "blocked"
    run.do("object", staff("tax"), t + 2000, step="notice", text="another one")
    run.refuse(
        WrongActor,
        "resolve_objection",
        staff("tax"),
        t + 3000,
        step="notice",
        index=0,
        upheld=False,
        note="x",
    )
    run.refuse(
        SchemaViolation,
        "resolve_objection",
        staff("market"),
        t + 3000,
        step="notice",
        index=2,
        upheld=False,
        note="x",
    )
    run.refuse(
        SchemaViolation,
        "resolve_objection",
        staff("market"),
        t + 3000,
        step="notice",
        index=0,
        upheld="no",
        note="x",
    )
    run.do(
        "resolve_objection",
        staff("market"),
        t + 3000,
        step="notice",
        index=0,
        upheld=False,
        note="已结清 / settled",
    )
    assert run.step("notice").status == "blocked"  # one objection is still open
    run.refuse(
        SchemaViolation,
        "resolve_objection",
        staff("market"),
        t + 4000,
        step="notice",
        index=0,
        upheld=False,
        note="again",
    )
    run.do(
        "resolve_objection",
        staff("market", "admin"),
        t + 4000,
        step="notice",
        index=1,
        upheld=False,
        note="unfounded",
    )
    st = run.step("notice")
    assert st.status == "open"
    assert [o["status"] for o in st.objections] == ["dismissed", "dismissed"]
    run.do("end_notice", staff("market"), end, step="notice")
    assert run.case.outcome == "approved"
    assert run.events()[-5:] == [
        "objection",
        "objection_dismissed",
        "objection_dismissed",
        "notice_ended",
        "approved",
    ]


def test_an_upheld_objection_rejects_automatically() -> None:
    t = cst("2026-03-02")
    run = Run(SIMPLE, t)
    checks_yes(run, t)
    run.do("object", PUBLIC, t + 1, step="notice", text="unpaid wages")
    run.do(
        "resolve_objection",
        staff("market"),
        t + 2,
        step="notice",
        index=0,
        upheld=True,
        note="wages unpaid",
    )
    c = run.case
    notice = run.step("notice")
    assert (notice.status, notice.result) == ("done", "fail")
    assert (c.status, c.outcome, c.decided_ms) == ("decided", "rejected", t + 2)
    assert "notice" in c.reason and "wages unpaid" in c.reason
    assert run.events()[-2:] == ["objection_upheld", "rejected"]
    run.do("close", staff("market"), t + 3)
    assert (run.case.status, run.case.outcome) == ("closed", "rejected")


def test_an_upheld_objection_rejects_even_while_a_check_waits() -> None:
    # Bug report: with an automatic decision the engine waits for every step to be done before
    # rejecting. A check answered "no" waits for the applicant, so the case hangs accepted with
    # a failed notice; the outcome is already certain and is decided at once.
    t = cst("2026-03-02")
    run = Run(SIMPLE, t)
    run.do("answer_check", node("tax"), t, step="tax_arrears", attestation="a", answer=False)
    run.do("object", PUBLIC, t + 1, step="notice", text="unpaid wages")
    run.do(
        "resolve_objection",
        staff("market"),
        t + 2,
        step="notice",
        index=0,
        upheld=True,
        note="wages unpaid",
    )
    assert (run.case.status, run.case.outcome) == ("decided", "rejected")
    assert run.events()[-1] == "rejected"


def test_an_objection_after_the_notice_period_is_too_late() -> None:
    t = cst("2026-03-02")
    run = Run(SIMPLE, t)
    end = run.step("notice").deadline_ms
    run.do("object", PUBLIC, end - 1, step="notice", text="just in time")
    err = run.refuse(CaseExpired, "object", PUBLIC, end, step="notice", text="too late")
    assert isinstance(err, Conflict) and err.fields["deadline_ms"] == end
    run.do(
        "resolve_objection",
        staff("market"),
        end + 1,
        step="notice",
        index=0,
        upheld=False,
        note="unfounded",
    )
    run.refuse(CaseExpired, "object", PUBLIC, end + 2, step="notice", text="too late")
    run.do("end_notice", node("market"), end + 2, step="notice")
    assert run.step("notice").result == "pass"


def test_a_supplement_extends_the_notice_by_the_calendar_time_waited() -> None:
    # Bug report: nobody can object while the case waits for a supplement, so the notice is
    # extended by the time waited, in calendar time like the notice itself. Opened 2026-09-28
    # 10:00 it ends 2026-10-18 10:00; 8 days of waiting (09-30 to 10-08, over National Day) move
    # the end to 2026-10-26 10:00. The engine recounts it in working days: 2026-10-19 23:59.
    t = cst("2026-09-28")
    run = Run(SIMPLE, t)
    assert run.step("notice").deadline_ms == cst("2026-10-18")
    run.do(
        "request_supplement",
        staff("market"),
        cst("2026-09-30"),
        items=["承诺书"],
        reason="unsigned",
    )
    run.refuse(IllegalTransition, "object", PUBLIC, cst("2026-10-01"), step="notice", text="x")
    run.do("resubmit", FIRM, cst("2026-10-08"), materials={"commitment": h("signed")})
    assert run.step("notice").deadline_ms == cst("2026-10-26")


# --- ordinary deregistration: a 45-day creditors' notice, then a review ---------------------------


def test_ordinary_deregistration() -> None:
    t = cst("2026-03-02")
    run = Run(ORDINARY, t)
    assert run.case.status == "submitted"
    run.do("accept", staff("market"), t)
    assert run.step("creditors").deadline_ms == t + 45 * DAY_MS
    assert run.step("liquidation_review").status == "waiting"
    checks_yes(run, t + 1)
    assert run.step("liquidation_review").status == "waiting"
    end = run.step("creditors").deadline_ms
    run.do("end_notice", staff("market"), end, step="creditors")
    assert run.case.status == "accepted"  # no automatic decision here
    review = run.step("liquidation_review")
    assert (review.status, review.opened_ms) == ("open", end)
    assert review.deadline_ms == add_working_days(end, 3, CAL)
    run.do("complete", staff("market", "admin"), end + 1, step="liquidation_review", result="pass")
    assert run.case.status == "accepted"
    run.do("decide", staff("market", "approver"), end + 2, outcome="approve")
    assert (run.case.status, run.case.outcome) == ("issued", "approved")


# --- commitment-based approval (告知承诺制) -------------------------------------------------------


def _approved_permit(t: int) -> Run:
    run = Run(PERMIT, t)
    run.do("accept", staff("health"), t)
    run.do("complete", staff("health"), t, step="review", result="pass")
    run.do("decide", staff("health", "approver"), t, outcome="approve")
    return run


def test_commitment_approval_is_checked_before_closing() -> None:
    t = cst("2026-03-02")
    run = _approved_permit(t)
    c = run.case
    assert (c.status, c.outcome) == ("issued", "approved")
    assert c.commitment_deadline_ms == add_working_days(t, 20, CAL) == end_of("2026-03-30")
    err = run.refuse(IllegalTransition, "close", staff("health"), t + 1)
    assert err.fields["state"] == "issued"
    run.refuse(WrongActor, "verify_commitment", staff("fire", "inspector"), t + 1, result="pass")
    run.refuse(WrongActor, "verify_commitment", staff("health", "approver"), t + 1, result="pass")
    run.refuse(
        SchemaViolation, "verify_commitment", staff("health", "inspector"), t + 1, result="maybe"
    )
    run.do("verify_commitment", staff("health", "inspector"), t + 1, result="pass")
    assert (run.case.commitment_deadline_ms, run.case.status) == (0, "issued")
    assert run.events()[-1] == "commitment_kept"
    run.refuse(IllegalTransition, "verify_commitment", staff("health"), t + 2, result="pass")
    run.do("close", staff("health"), t + 2)
    assert (run.case.status, run.case.outcome) == ("closed", "approved")


def test_a_broken_commitment_revokes_and_closes() -> None:
    t = cst("2026-03-02")
    run = _approved_permit(t)
    run.refuse(SchemaViolation, "verify_commitment", staff("health"), t + 1, result="fail")
    run.do(
        "verify_commitment",
        staff("health"),
        t + 1,
        result="fail",
        note="现场与承诺不符 / premises not as pledged",
    )
    c = run.case
    assert (c.status, c.outcome, c.commitment_deadline_ms) == ("closed", "revoked", 0)
    assert c.reason == "现场与承诺不符 / premises not as pledged" and c.decided_ms == t
    assert run.events()[-1] == "commitment_broken"
    run.refuse(IllegalTransition, "verify_commitment", staff("health"), t + 2, result="pass")


def test_no_commitment_to_check_without_commitment_approval() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    run.do("accept", staff("market"), t)
    for sid in ("review", "tax_setup", "social_insurance"):
        step = REG.step(sid)
        assert step is not None
        run.do("complete", staff(step.dept), t, step=sid, result="pass")
    run.do("decide", staff("market", "approver"), t, outcome="approve")
    assert run.case.commitment_deadline_ms == 0
    err = run.refuse(IllegalTransition, "verify_commitment", staff("market"), t, result="pass")
    assert err.fields["state"] == "issued"


def test_an_automatic_commitment_approval_still_has_its_commitment_checked() -> None:
    # Bug report: the automatic decision approves without setting commitment_deadline_ms, so a
    # commitment-based permit decided from data alone is never checked (and closes at once).
    t = cst("2026-03-02")
    run = Run(AUTO_PERMIT, t)
    run.do("answer_check", node("health"), t, step="record", attestation="a", answer=True)
    assert (run.case.status, run.case.outcome) == ("issued", "approved")
    assert run.case.commitment_deadline_ms == add_working_days(t, 20, CAL)


# --- apply itself ---------------------------------------------------------------------------------


def test_apply_refuses_unknown_transitions_and_other_definitions() -> None:
    t = cst("2026-03-02")
    run = Run(REG, t)
    err = run.refuse(SchemaViolation, "approve", staff("market"), t)
    assert err.fields["field"] == "transition"
    with pytest.raises(SchemaViolation) as info:
        apply(run.case, ev("accept", staff("market"), t), SIMPLE, CAL)
    assert info.value.fields["field"] == "service"
    obj = dict(REG.raw)
    obj["version"] = 2
    with pytest.raises(SchemaViolation):
        apply(run.case, ev("accept", staff("market"), t), parse_definition(obj, DEPTS), CAL)


def _terminal_cases() -> list[Case]:
    t = cst("2026-03-02")
    withdrawn = Run(REG, t)
    withdrawn.do("withdraw", CITIZEN, t)
    closed = Run(REG, t)
    closed.do("reject", staff("market"), t, reason="x")
    closed.do("close", staff("market"), t)
    revoked = _approved_permit(t)
    revoked.do("verify_commitment", staff("health"), t, result="fail", note="x")
    return [withdrawn.case, closed.case, revoked.case]


@pytest.mark.parametrize("kind", sorted(TRANSITIONS))
def test_terminal_cases_never_change(kind: str) -> None:
    for case in _terminal_cases():
        defn = {c.code: c for c in (REG, PERMIT)}[case.service]
        before = snapshot(case)
        with pytest.raises(IllegalTransition) as info:
            apply(
                case,
                ev(kind, staff(defn.owner, "admin"), cst("2026-06-01"), step="review"),
                defn,
                CAL,
            )
        assert (info.value.fields["state"], info.value.fields["event"]) == (case.status, kind)
        assert snapshot(case) == before


# --- the records ----------------------------------------------------------------------------------


def test_evolve_is_replace_for_the_records() -> None:
    c = Run(REG, cst("2026-03-02")).case
    changed = evolve(c, status="accepted", accepted_ms=5)
    assert changed == dataclasses.replace(c, status="accepted", accepted_ms=5)
    assert c.status == "submitted"  # the original is untouched
    step = evolve(c.steps[0], status="open")
    assert step == dataclasses.replace(c.steps[0], status="open")
    # Bug report: like dataclasses.replace, a misspelt field must fail loudly; evolve silently
    # drops it, so a typo in a transition would leave the case unchanged without an error.
    with pytest.raises(TypeError):
        evolve(c, statuss="accepted")


# --- the stored form ------------------------------------------------------------------------------


def _cases_in_every_state() -> list[Case]:
    t = cst("2026-03-02")
    out: list[Case] = []
    run = Run(REG, t)
    out.append(run.case)  # submitted
    run.do("accept", staff("market"), t)
    run.do("claim", staff("market"), t, step="review")
    out.append(run.case)  # accepted
    run.do("request_supplement", staff("market"), t, items=["章程", "股东名册"], reason="缺")
    out.append(run.case)  # supplement_requested
    run.do("resubmit", CITIZEN, t + 1, materials={"articles": h("v2")})
    run.do("decide", staff("market", "approver"), t + 2, outcome="reject", reason="驳回")
    out.append(run.case)  # decided
    run.do("close", staff("market"), t + 3)
    out.append(run.case)  # closed
    simple = Run(SIMPLE, t)
    simple.do("answer_check", node("tax"), t, step="tax_arrears", attestation="a", answer=False)
    simple.do("object", PUBLIC, t, step="notice", text="异议")
    out.append(simple.case)  # accepted, with a blocked check and an objection
    simple.do("withdraw", FIRM, t + 1, reason="改为一般注销")
    out.append(simple.case)  # withdrawn
    permit = _approved_permit(t)
    out.append(permit.case)  # issued, commitment pending
    held = Run(HELD, t)
    held.do("attach", node("housing"), t, material="premises", attestation=h("deed"), answer=True)
    out.append(held.case)  # submitted, with a material attached by its holder
    return out


def test_case_json_round_trip_in_every_state() -> None:
    cases = _cases_in_every_state()
    assert {c.status for c in cases} == set(STATUSES)
    for c in cases:
        doc = case_to_json(c)
        assert case_from_json(doc) == c
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
        assert case_from_json(json.loads(text)) == c
        assert (
            json.dumps(
                case_to_json(case_from_json(json.loads(text))), sort_keys=True, ensure_ascii=False
            )
            == text
        )
