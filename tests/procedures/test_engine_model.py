"""Stateful property: the case engine against a small reference model of the procedure rules.

Random sequences of transitions by random actors (the applicant, another applicant, staff of
each department in each role, admins, department nodes, the public) drive real cases of four
definitions: enterprise registration, simplified and ordinary deregistration (shipped) and a
commitment-based permit written here. The model is a table of which transition is legal in
which case status and step status, and who may make it; after every transition the engine must
agree with it:

- a transition the model allows succeeds, and changes the case the way the model says (case and
  step statuses, results, assignees, objections, notice and supplement deadlines, the history);
- a transition the model refuses is refused with the error type of one of the reasons the model
  found (``IllegalTransition``/``CaseExpired``, a 409 ``Conflict`` naming the current state in
  ``fields["state"]``; ``WrongActor``, a 403; ``SchemaViolation`` for a step the case has not);
- a refused transition changes nothing, and a terminal case never changes again;
- invariants: known statuses, ``decided_ms`` set once decided, ``outcome`` empty exactly until
  the case is decided, withdrawn or expired, done steps have a result, a supplement request
  only while one is open, no overdue step in a case that cannot act, the JSON round trip.

Materials held by another department are attached by it (with the applicant's consent), until
the applicant revokes the consent (a required one only with their own file instead). A rule
(and the teardown) drives every case to exactly one terminal state, closed or withdrawn.
Deadline arithmetic in working days is checked by example in ``test_engine.py``; the model
keeps only the calendar-time deadlines it needs (notices, supplements).
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import govchain.apps.enterprise
from govchain.errors import GovchainError, SchemaViolation
from govchain.procedures.calendar import DAY_MS, add_working_days, load_default_calendar
from govchain.procedures.cases import (
    STATUSES,
    STEP_STATUSES,
    TERMINAL,
    Actor,
    Case,
    Event,
    case_from_json,
    case_to_json,
)
from govchain.procedures.definitions import ServiceDefinition, Step, parse_definition
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
FAR = 253_402_300_799_999 - 30 * 366 * DAY_MS  # later than any deadline of these runs


def _load(path: str) -> ServiceDefinition:
    return parse_definition(json.loads((SERVICES / path).read_text("utf-8")), DEPTS)


def _names(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


PERMIT = parse_definition(
    {
        "code": "330100-WS-0911",
        "version": 1,
        "category": "permit",
        "name": _names("公共场所卫生许可（告知承诺）", "Public-place hygiene permit (commitment)"),
        "summary": _names("承诺即发证，事后核查。", "Granted on a commitment, checked afterwards."),
        "owner": "health",
        "co_handlers": ["fire"],
        "legal_basis": ["《国务院关于深化“证照分离”改革进一步激发市场主体发展活力的通知》"],
        "applicants": ["enterprise"],
        "materials": [
            {"id": "pledge", "name": _names("承诺书", "Signed commitment")},
            {
                "id": "premises",
                "name": _names("场所产权", "Premises record"),
                "held_by": {
                    "dept": "housing",
                    "resource": "housing.property",
                    "via": "attestation",
                },
            },
            {
                "id": "fire_record",
                "name": _names("消防记录", "Fire record"),
                "required": False,
                "held_by": {"dept": "fire", "resource": "fire.inspections", "via": "attestation"},
            },
        ],
        "form": {"type": "object", "properties": {"address": {"type": "string"}}},
        "steps": [
            {
                "id": "review",
                "name": _names("审查", "Review"),
                "kind": "review",
                "dept": "health",
                "role": "officer",
                "days": 2,
            },
            {
                "id": "site",
                "name": _names("消防检查", "Fire inspection"),
                "kind": "inspection",
                "dept": "fire",
                "role": "inspector",
                "days": 3,
                "after": ["review"],
            },
        ],
        "decision": {"role": "approver"},
        "outputs": [
            {
                "kind": "licence.issue",
                "licence_type": "hygiene_permit",
                "licence_name": _names("公共场所卫生许可证", "Public-place hygiene permit"),
                "validity_years": 4,
            }
        ],
        "fee_fen": 0,
        "time_limit_days": 5,
        "supplement_days": 10,
        "commitment": {"check_days": 20},
    },
    DEPTS,
)
DEFINITIONS = {
    d.code: d
    for d in (
        _load("registration/330100-DJ-0001.json"),
        _load("deregistration/330100-ZX-0001.json"),
        _load("deregistration/330100-ZX-0002.json"),
        PERMIT,
    )
}

# --- who acts -------------------------------------------------------------------------------------

ACTOR_DEPTS = ("market", "tax", "hrss", "customs", "health", "fire", "housing")
ROLES = ("officer", "inspector", "approver", "admin")
STAFF = tuple(
    Actor("staff", f"{d}/{r}-a", d, r, f"{d}/{r}-key") for d in ACTOR_DEPTS for r in ROLES
) + tuple(Actor("staff", f"{d}/officer-b", d, "officer", f"{d}/officer-key") for d in ACTOR_DEPTS)
NODES = tuple(Actor("node", f"{d}/system", d, "system", f"{d}/node") for d in ACTOR_DEPTS)
PUBLIC = Actor("public", "citizen/passer-by", "tax", "", "tax/node")
BY_DEPT = {d: [a for a in STAFF + NODES if a.dept == d] for d in ACTOR_DEPTS}


def applicant_of(defn: ServiceDefinition) -> tuple[Actor, Actor, str]:
    """The applicant, another applicant of the same kind, and the kind."""
    kind = "citizen" if "citizen" in defn.applicants else "enterprise"
    return (
        Actor("applicant", f"{kind}/applicant-1", "market", "", "market/node"),
        Actor("applicant", f"{kind}/applicant-2", "market", "", "market/node"),
        kind,
    )


# --- the reference model ------------------------------------------------------------------------

CASE_STATUS: dict[str, frozenset[str]] = {
    "accept": frozenset({"submitted"}),
    "reject": frozenset({"submitted", "accepted", "supplement_requested"}),
    "request_supplement": frozenset({"submitted", "accepted"}),
    "resubmit": frozenset({"supplement_requested"}),
    "claim": frozenset({"accepted"}),
    "reassign": frozenset({"accepted"}),
    "complete": frozenset({"accepted"}),
    "answer_check": frozenset({"accepted"}),
    "attach": frozenset({"submitted", "accepted", "supplement_requested"}),
    "object": frozenset({"accepted"}),
    "resolve_objection": frozenset({"accepted"}),
    "end_notice": frozenset({"accepted"}),
    "decide": frozenset({"accepted"}),
    "verify_commitment": frozenset({"issued"}),
    "close": frozenset({"issued", "decided"}),
    "expire": frozenset({"supplement_requested"}),
    "withdraw": frozenset({"submitted", "accepted", "supplement_requested"}),
    "revoke_consent": frozenset({"submitted", "accepted", "supplement_requested"}),
}
"""In which case statuses each transition is legal."""
STEP_STATUS: dict[str, frozenset[str]] = {
    "claim": frozenset({"open", "blocked"}),
    "reassign": frozenset({"open", "blocked"}),
    "complete": frozenset({"open"}),
    "answer_check": frozenset({"open", "blocked"}),
    "object": frozenset({"open", "blocked"}),
    "resolve_objection": frozenset({"blocked"}),
    "end_notice": frozenset({"open"}),
}
"""Transitions on one step, and the step statuses they need."""
UNDECIDED = frozenset({"submitted", "accepted", "supplement_requested"})


@dataclass
class MStep:
    """The model of one step."""

    spec: Step
    status: str = "waiting"
    result: str = ""
    assignee: str = ""
    deadline: int = 0  # notices only: calendar time
    objections: list[str] = field(default_factory=list)


@dataclass
class Supplement:
    requested: int
    deadline: int
    back_to: str


@dataclass
class Model:
    """The model of one case."""

    defn: ServiceDefinition
    applicant: str
    status: str
    outcome: str
    steps: list[MStep]
    history: list[str]
    supplement: Supplement | None = None
    commitment: bool = False
    fetched: dict[str, bool] = field(default_factory=dict)
    consents: frozenset[str] = frozenset()

    def step(self, sid: Any) -> MStep | None:
        return next((s for s in self.steps if s.spec.id == sid), None)


@dataclass(frozen=True)
class Fault:
    """One reason the model refuses a transition: the error type and the states it may name."""

    error: type[GovchainError]
    states: frozenset[str] | None = None


def _staff(actor: Actor, dept: str, roles: set[str]) -> bool:
    return (
        actor.kind == "staff"
        and actor.dept == dept
        and (actor.role in roles or actor.role == "admin")
    )


def may(m: Model, t: str, actor: Actor, step: MStep | None, material: Any = None) -> bool:
    """Whether ``actor`` is who may make transition ``t`` (on ``step``, or ``material``)."""
    d = m.defn
    if t == "accept":
        return _staff(actor, d.owner, {"officer"})
    if t == "reject":
        roles = {"officer", d.decision_role} if m.status == "submitted" else {d.decision_role}
        return _staff(actor, d.owner, roles)
    if t == "request_supplement":
        depts = {d.owner} | {s.spec.dept for s in m.steps if s.status == "open"}
        return actor.kind == "staff" and actor.dept in depts
    if t in ("resubmit", "withdraw", "revoke_consent"):
        return actor.kind == "applicant" and actor.person == m.applicant
    if t == "decide":
        return _staff(actor, d.owner, {d.decision_role})
    if t == "verify_commitment":
        return _staff(actor, d.owner, {"inspector", "officer"})
    if t == "close":
        return _staff(actor, d.owner, {"officer", d.decision_role})
    if t == "expire":
        return _staff(actor, d.owner, {"officer"})
    if t == "object":
        return True
    if t == "attach":
        held = {mt.id: mt.held_by for mt in d.materials if mt.held_by}
        if actor.kind not in ("node", "staff") or actor.dept != held.get(material):
            return False
        return material in m.consents  # the holder answers only with the applicant's consent
    assert step is not None
    if t in ("claim", "complete", "resolve_objection"):
        return _staff(actor, step.spec.dept, {step.spec.role})
    if t == "reassign":
        return _staff(actor, step.spec.dept, {"admin"})
    assert t in ("answer_check", "end_notice")
    return actor.kind in ("node", "staff") and actor.dept == step.spec.dept


def faults(m: Model, t: str, actor: Actor, args: dict[str, Any], now: int) -> list[Fault]:
    """Every reason the model finds to refuse the transition (none: it must succeed)."""
    if m.status in TERMINAL:
        return [Fault(IllegalTransition, frozenset({m.status}))]
    out: list[Fault] = []
    here = frozenset({m.status})
    if m.status not in CASE_STATUS[t]:
        out.append(Fault(IllegalTransition, here))
    step: MStep | None = None
    if t in STEP_STATUS:
        step = m.step(args["step"])
        if step is None:
            return [*out, Fault(SchemaViolation)]
        kind = step.spec.kind
        if t == "complete" and kind not in ("review", "inspection"):
            out.append(Fault(IllegalTransition, frozenset({step.status})))
        if (
            (t == "answer_check" and kind != "check")
            or (t == "end_notice" and kind != "notice")
            or (t == "object" and not step.spec.objections)
        ):
            out.append(Fault(SchemaViolation))
    if t == "attach":
        held = {mt.id for mt in m.defn.materials if mt.held_by}
        if args["material"] not in held:
            return [*out, Fault(SchemaViolation)]
        if m.fetched.get(args["material"]):
            out.append(Fault(IllegalTransition, frozenset({"attached"})))
    if t == "revoke_consent":
        held = {mt.id: mt for mt in m.defn.materials if mt.held_by}
        if args["material"] not in held:
            return [*out, Fault(SchemaViolation)]
        if args["material"] not in m.consents:
            out.append(Fault(IllegalTransition, frozenset({"not_consented"})))
        if held[args["material"]].required and "replacement" not in args:
            out.append(Fault(SchemaViolation))
    if not may(m, t, actor, step, args.get("material")):
        out.append(Fault(WrongActor))
    if step is not None:
        if step.status not in STEP_STATUS[t]:
            out.append(Fault(IllegalTransition, frozenset({step.status})))
        if t == "claim" and step.assignee not in ("", actor.person):
            out.append(Fault(IllegalTransition, frozenset({"claimed", step.status})))
        if t == "complete" and step.assignee not in ("", actor.person) and actor.role != "admin":
            out.append(Fault(WrongActor))
        if t == "reassign" and not str(args["to"]).startswith(step.spec.dept + "/"):
            out.append(Fault(SchemaViolation))
        if t == "resolve_objection":
            k = args["index"]
            if not 0 <= k < len(step.objections) or step.objections[k] != "open":
                out.append(Fault(SchemaViolation))
        if t == "object" and step.status in ("open", "blocked") and now >= step.deadline:
            out.append(Fault(CaseExpired, frozenset({step.status, m.status})))
        if t == "end_notice" and step.status == "open" and now < step.deadline:
            out.append(Fault(IllegalTransition, frozenset({"running", step.status})))
    sup = m.supplement
    if t == "resubmit" and sup is not None and now > sup.deadline:
        out.append(Fault(CaseExpired, here))
    if t == "expire" and sup is not None and now <= sup.deadline:
        out.append(Fault(IllegalTransition, here))
    unfinished = any(s.status != "done" or s.result != "pass" for s in m.steps)
    if t == "decide" and args["outcome"] == "approve" and unfinished:
        out.append(Fault(IllegalTransition, here))
    if t == "verify_commitment" and m.status == "issued" and not m.commitment:
        out.append(Fault(IllegalTransition, here))
    if t == "close" and m.commitment:
        out.append(Fault(IllegalTransition, here))
    return out


def _open_ready(m: Model, now: int) -> None:
    passed = {s.spec.id for s in m.steps if s.status == "done" and s.result == "pass"}
    for s in m.steps:
        if s.status == "waiting" and all(a in passed for a in s.spec.after):
            s.status = "open"
            if s.spec.kind == "notice":
                s.deadline = now + s.spec.days * DAY_MS


def _decide(m: Model, outcome: str) -> str:
    if outcome == "approved":
        m.status, m.outcome, m.commitment = "issued", "approved", m.defn.commitment_check_days > 0
    else:
        m.status, m.outcome = "decided", "rejected"
    m.supplement = None
    return outcome


def _auto_decide(m: Model) -> list[str]:
    """An automatic decision rejects as soon as a step failed, approves once all passed."""
    if not m.defn.auto_decision or m.status != "accepted":
        return []
    if any(s.status == "done" and s.result == "fail" for s in m.steps):
        return [_decide(m, "rejected")]
    if all(s.status == "done" for s in m.steps):
        return [_decide(m, "approved")]
    return []


def model_open(
    defn: ServiceDefinition, applicant: str, consents: frozenset[str], now: int
) -> Model:
    m = Model(defn, applicant, "submitted", "", [MStep(s) for s in defn.steps], ["submitted"])
    m.consents = consents
    if defn.auto_accept:  # the engine accepts it at once, and says so in the timeline
        m.status = "accepted"
        m.history.append("accepted")
        _open_ready(m, now)
    return m


def model_apply(m: Model, t: str, actor: Actor, args: dict[str, Any], now: int) -> list[str]:
    """Apply a transition the model allows; return the history entries it adds."""
    step = m.step(args.get("step"))
    if t == "accept":
        m.status = "accepted"
        _open_ready(m, now)
        return ["accepted"]
    if t == "reject":
        return [_decide(m, "rejected")]
    if t == "request_supplement":
        deadline = add_working_days(now, m.defn.supplement_days, CAL)
        m.supplement = Supplement(now, deadline, m.status)
        m.status = "supplement_requested"
        return ["supplement_requested"]
    if t == "resubmit":
        assert m.supplement is not None
        for s in m.steps:  # nobody could object while the applicant was away
            if s.spec.kind == "notice" and s.status in ("open", "blocked"):
                s.deadline += now - m.supplement.requested
        m.status, m.supplement = m.supplement.back_to, None
        return ["resubmitted"]
    if t == "withdraw":
        m.status, m.outcome, m.supplement = "withdrawn", "withdrawn", None
        return ["withdrawn"]
    if t == "expire":
        m.status, m.outcome, m.supplement = "closed", "expired", None
        return ["expired"]
    if t == "close":
        m.status = "closed"
        return ["closed"]
    if t == "revoke_consent":  # the holder's answer no longer counts
        m.consents = m.consents - {args["material"]}
        m.fetched.pop(args["material"], None)
        return ["consent_revoked"]
    if t == "attach":
        m.fetched[args["material"]] = args["answer"]
        return ["material_attached" if args["answer"] else "material_missing"]
    if t == "decide":
        return [_decide(m, "approved" if args["outcome"] == "approve" else "rejected")]
    if t == "verify_commitment":
        m.commitment = False
        if args["result"] == "pass":
            return ["commitment_kept"]
        m.status, m.outcome = "closed", "revoked"
        return ["commitment_broken"]
    assert step is not None
    if t == "claim":
        step.assignee = actor.person
        return ["claimed"]
    if t == "reassign":
        step.assignee = args["to"]
        return ["reassigned"]
    if t == "object":
        step.status = "blocked"
        step.objections.append("open")
        return ["objection"]
    if t == "resolve_objection":
        upheld = args["upheld"]
        step.objections[args["index"]] = "upheld" if upheld else "dismissed"
        if upheld:
            step.status, step.result = "done", "fail"
            return ["objection_upheld", *_auto_decide(m)]
        step.status = "blocked" if "open" in step.objections else "open"
        return ["objection_dismissed"]
    if t == "answer_check" and not args["answer"]:
        step.status = "blocked"
        return ["check_no"]
    if t == "complete":
        step.status, step.result, step.assignee = "done", args["result"], actor.person
        entry = f"step_{args['result']}"
    else:  # answer_check yes, end_notice
        step.status, step.result = "done", "pass"
        entry = "check_yes" if t == "answer_check" else "notice_ended"
    _open_ready(m, now)
    return [entry, *_auto_decide(m)]


def assert_agrees(m: Model, c: Case) -> None:
    """The engine's case is what the model says."""
    assert (c.status, c.outcome) == (m.status, m.outcome)
    for ms, cs in zip(m.steps, c.steps, strict=True):
        assert (cs.id, cs.status, cs.result, cs.assignee) == (
            ms.spec.id,
            ms.status,
            ms.result,
            ms.assignee,
        )
        assert [o["status"] for o in cs.objections] == ms.objections, cs.id
        if ms.spec.kind == "notice" and ms.status in ("open", "blocked"):
            assert cs.deadline_ms == ms.deadline, cs.id
    assert (c.supplement is None) == (m.supplement is None)
    if m.supplement is not None and c.supplement is not None:
        assert c.supplement["deadline_ms"] == m.supplement.deadline
        assert c.supplement["back_to"] == m.supplement.back_to
    assert (c.commitment_deadline_ms > 0) == m.commitment
    assert {k: v["answer"] for k, v in c.fetched.items()} == m.fetched
    for k, yes in m.fetched.items():
        assert (c.materials.get(k) == c.fetched[k]["attestation"]) == yes
    assert [h["event"] for h in c.history] == m.history


# --- the machine ----------------------------------------------------------------------------------

_CST = datetime.timezone(datetime.timedelta(hours=8))
STARTS = tuple(
    int(datetime.datetime.fromisoformat(f"{d}T09:30:00").replace(tzinfo=_CST).timestamp()) * 1000
    for d in ("2026-03-02", "2026-09-18", "2026-09-28", "2026-12-30")
)
WAITS = (1_000, 3_600_000, DAY_MS, 3 * DAY_MS, 21 * DAY_MS, 46 * DAY_MS)
TEXT = "说明 / note"
FINISHING = frozenset(
    {
        "withdraw",
        "resubmit",
        "expire",
        "accept",
        "resolve_objection",
        "answer_check",
        "complete",
        "end_notice",
        "decide",
        "verify_commitment",
        "close",
    }
)
RARE = frozenset(
    {
        "object",
        "resolve_objection",
        "claim",
        "reassign",
        "request_supplement",
        "resubmit",
        "expire",
        "attach",
        "revoke_consent",
    }
)


T = TypeVar("T")


def pick(data: st.DataObject, items: Sequence[T], label: str) -> T:
    """One of ``items``, drawn by index so that a failing example prints as a number."""
    return items[data.draw(st.integers(0, len(items) - 1), label=label)]


@dataclass
class Tracked:
    """One case under test: the engine's record and the model's."""

    defn: ServiceDefinition
    case: Case
    model: Model
    applicant: Actor
    other: Actor
    final: Case | None = None


class CasesVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cases: list[Tracked] = []
        self.now = STARTS[0]
        self.tx = 0
        self.fresh = 0

    # - helpers -

    def _event(self, t: str, actor: Actor, args: dict[str, Any]) -> Event:
        self.tx += 1
        return Event(t, actor, self.now, f"{self.tx:064x}", args)

    def _submit(self, defn: ServiceDefinition) -> None:
        applicant, other, kind = applicant_of(defn)
        args = {
            "form_hash": "ab" * 32,
            "materials": {m.id: "cd" * 32 for m in defn.materials if m.required and not m.held_by},
            "consents": [m.id for m in defn.materials if m.held_by and m.required],
            "session": "session-1",
        }
        number = f"20260302-{len(self.cases) + 1:05d}-7"
        subject = "" if kind == "citizen" else "91330106MA2H3K4X0B"
        case = open_case(number, defn, self._event("submit", applicant, args), kind, subject, CAL)
        model = model_open(defn, applicant.person, frozenset(args["consents"]), self.now)
        assert_agrees(model, case)
        self.cases.append(Tracked(defn, case, model, applicant, other))
        self.now += 1_000

    def _actors(self, tr: Tracked) -> tuple[Actor, ...]:
        return (tr.applicant, tr.other, PUBLIC, *STAFF, *NODES)

    def _args(self, tr: Tracked, t: str, target: str, choice: int) -> dict[str, Any]:
        """Well-formed arguments of transition ``t``; ``choice`` picks among the variants."""
        self.fresh += 1
        first = next(m.id for m in tr.defn.materials if not m.held_by)
        variants: dict[str, dict[str, Any]] = {
            "reject": {"reason": TEXT},
            "request_supplement": {"items": ["材料"], "reason": TEXT},
            "resubmit": {"materials": {first: f"{self.fresh:064x}"}},
            "complete": {"result": ("pass", "fail")[choice % 2], "note": TEXT},
            "answer_check": {"attestation": f"att-{self.fresh}", "answer": choice % 2 == 0},
            "object": {"text": TEXT},
            "resolve_objection": {"index": choice // 2, "upheld": choice % 2 == 1, "note": TEXT},
            "decide": {"outcome": ("approve", "reject")[choice % 2], "reason": TEXT},
            "verify_commitment": {"result": ("pass", "fail")[choice % 2], "note": TEXT},
            "reassign": {"to": STAFF[choice % len(STAFF)].person},
            "attach": {
                "material": target,
                "attestation": f"{self.fresh:064x}",
                "answer": choice % 2 == 0,
            },
            # with the applicant's own file instead, or without one
            "revoke_consent": {"material": target}
            | ({"replacement": f"{self.fresh:064x}"} if choice % 2 == 0 else {}),
        }
        args = variants.get(t, {})
        if t in STEP_STATUS:
            args["step"] = target
        return args

    def candidates(
        self, tr: Tracked, only: frozenset[str] | None = None
    ) -> Iterator[tuple[str, Actor, dict[str, Any]]]:
        """Transitions (of kinds ``only``) the model allows now, each with an actor who may."""
        m = tr.model
        for t in sorted(TRANSITIONS):
            if m.status not in CASE_STATUS[t] or (only is not None and t not in only):
                continue
            if t in STEP_STATUS:  # (what it acts on, whose it is, how many argument variants)
                targets = [
                    (s.spec.id, s.spec.dept, 2 * max(1, len(s.objections)))
                    for s in m.steps
                    if s.status in STEP_STATUS[t]
                ]
            elif t == "attach":
                targets = [(mt.id, mt.held_by, 2) for mt in m.defn.materials if mt.held_by]
            elif t == "revoke_consent":
                targets = [(mt.id, "", 2) for mt in m.defn.materials if mt.id in m.consents]
            else:
                targets = [("", m.defn.owner, 2)]
            for target, dept, variants in targets:
                if t in ("resubmit", "withdraw", "revoke_consent"):
                    actors: list[Actor] = [tr.applicant]
                elif t == "object":
                    actors = [PUBLIC, tr.other]
                elif t == "request_supplement":
                    actors = [a for a in STAFF if may(m, t, a, None)]
                else:
                    actors = BY_DEPT.get(dept, [])
                for choice in range(len(STAFF)) if t == "reassign" else range(variants):
                    if t == "reassign" and not STAFF[choice].person.startswith(dept + "/"):
                        continue
                    args = self._args(tr, t, target, choice)
                    step = m.step(target)
                    for actor in actors:
                        if may(m, t, actor, step, target) and not faults(
                            m, t, actor, args, self.now
                        ):
                            yield t, actor, args

    def _check(self, tr: Tracked, t: str, actor: Actor, args: dict[str, Any]) -> bool:
        """Make the transition on the engine and on the model, and compare; True if it passed."""
        now = self.now
        expected = faults(tr.model, t, actor, args, now)
        before = json.dumps(case_to_json(tr.case), sort_keys=True)
        event = self._event(t, actor, args)
        self.now += 1_000  # block time moves on between transactions
        try:
            after = apply(tr.case, event, tr.defn, CAL)
        except GovchainError as err:
            assert expected, f"a legal {t} by {actor} was refused: {err!r} {err.fields}"
            assert any(
                type(err) is f.error and (f.states is None or err.fields.get("state") in f.states)
                for f in expected
            ), f"{t} by {actor}: got {type(err).__name__} {err.fields}, expected one of {expected}"
            assert json.dumps(case_to_json(tr.case), sort_keys=True) == before
            return False
        assert not expected, f"an illegal {t} by {actor} succeeded; the model says {expected}"
        assert json.dumps(case_to_json(tr.case), sort_keys=True) == before, "input changed"
        added = model_apply(tr.model, t, actor, args, now)
        tr.model.history.extend(added)
        assert after.history[: len(tr.case.history)] == tr.case.history
        assert [h["event"] for h in after.history[len(tr.case.history) :]] == added
        tr.case = after
        assert_agrees(tr.model, after)
        return True

    def _finish(self, tr: Tracked, withdraw: bool) -> None:
        """Drive a case to its end: withdraw it, or carry it through to closing."""
        order = (
            ("withdraw", lambda a: withdraw),
            ("resubmit", lambda a: True),
            ("expire", lambda a: True),
            ("accept", lambda a: True),
            ("resolve_objection", lambda a: not a["upheld"]),
            ("answer_check", lambda a: a["answer"]),
            ("complete", lambda a: a["result"] == "pass"),
            ("end_notice", lambda a: True),
            ("decide", lambda a: a["outcome"] == "approve"),
            ("verify_commitment", lambda a: a["result"] == "pass"),
            ("close", lambda a: True),
        )
        for _ in range(200):
            if tr.case.status in TERMINAL:
                break
            found = list(self.candidates(tr, FINISHING))
            pick = next(
                (c for t, wanted in order for c in found if c[0] == t and wanted(c[2])), None
            )
            ends = [
                s.deadline for s in tr.model.steps if s.spec.kind == "notice" and s.status == "open"
            ]
            if pick is None and ends:  # a notice still runs: let it run out
                self.now = max(self.now, max(ends))
                continue
            if pick is None:  # a step failed: only a rejection is left
                pick = next((c for c in found if c[0] == "decide"), None)
            assert pick is not None, f"case stuck in {tr.case.status}: {tr.model}"
            assert self._check(tr, *pick)
        assert tr.case.status in TERMINAL

    # - rules -

    @initialize(code=st.sampled_from(sorted(DEFINITIONS)), start=st.sampled_from(STARTS))
    def first_case(self, code: str, start: int) -> None:
        self.now = start
        self._submit(DEFINITIONS[code])

    @precondition(
        lambda self: (
            len(self.cases) < 8 and sum(tr.case.status not in TERMINAL for tr in self.cases) < 3
        )
    )
    @rule(code=st.sampled_from(sorted(DEFINITIONS)))
    def another_case(self, code: str) -> None:
        self._submit(DEFINITIONS[code])

    @rule(wait=st.sampled_from(WAITS))
    def time_passes(self, wait: int) -> None:
        self.now += wait

    @rule(data=st.data())
    def anyone_tries_anything(self, data: st.DataObject) -> None:
        tr = pick(data, self.cases, "case")
        t = data.draw(st.sampled_from(sorted(TRANSITIONS)), label="transition")
        actor = pick(data, self._actors(tr), "actor")
        targets = [s.id for s in tr.defn.steps] + [mt.id for mt in tr.defn.materials] + ["nope"]
        target = data.draw(st.sampled_from(targets), label="step or material")
        choice = data.draw(st.integers(0, len(STAFF) - 1), label="choice")
        self._check(tr, t, actor, self._args(tr, t, target, choice))

    @rule(data=st.data())
    def someone_does_what_is_allowed(self, data: st.DataObject) -> None:
        bold = data.draw(st.booleans(), label="may end the case")
        for _ in range(data.draw(st.integers(1, 6), label="how many")):
            live = [tr for tr in self.cases if tr.case.status not in TERMINAL]
            if not live:
                break
            tr = pick(data, live, "live case")
            found: dict[str, list[tuple[str, Actor, dict[str, Any]]]] = {}
            for c in self.candidates(tr):
                if bold or c[0] not in ("withdraw", "reject", "expire", "close"):
                    found.setdefault(c[0], []).append(c)
            if not found:
                continue
            # The kind of transition first, so that the many ways of answering checks do not
            # crowd out the one way of objecting.
            t = data.draw(st.sampled_from(sorted(found)), label="transition")
            assert self._check(tr, *pick(data, found[t], "who and how"))

    @rule(data=st.data())
    def something_less_usual_happens(self, data: st.DataObject) -> None:
        # Objections, claims and supplements are a few of many allowed transitions: this rule
        # gives them a fair share.
        t = data.draw(st.sampled_from(sorted(RARE)), label="transition")
        found = [(tr, c) for tr in self.cases for c in self.candidates(tr, frozenset({t}))]
        if found:
            tr, c = pick(data, found, "where, who and how")
            assert self._check(tr, *c)

    @rule(data=st.data())
    def an_objection_is_heard(self, data: st.DataObject) -> None:
        # An objection and its resolution, whatever else is still open in the case.
        found = [(tr, c) for tr in self.cases for c in self.candidates(tr, frozenset({"object"}))]
        if not found:
            return
        tr, (t, actor, args) = pick(data, found, "objection")
        assert self._check(tr, t, actor, args)
        step = tr.model.step(args["step"])
        assert step is not None
        officer = next(a for a in STAFF if a.dept == step.spec.dept and a.role == step.spec.role)
        upheld = data.draw(st.booleans(), label="upheld")
        resolution = {
            "step": step.spec.id,
            "index": len(step.objections) - 1,
            "upheld": upheld,
            "note": TEXT,
        }
        self._check(tr, "resolve_objection", officer, resolution)

    @rule(data=st.data())
    def someone_is_too_late(self, data: st.DataObject) -> None:
        # Deadlines are the edges of the model: jump to one and act just after it.
        late: list[tuple[Tracked, str, Actor, dict[str, Any], int]] = []
        for tr in self.cases:
            m = tr.model
            if m.supplement is not None:
                args = self._args(tr, "resubmit", "", 0)
                late.append((tr, "resubmit", tr.applicant, args, m.supplement.deadline + 1))
            for s in m.steps:
                if m.status == "accepted" and s.spec.objections and s.status != "done":
                    args = self._args(tr, "object", s.spec.id, 0)
                    late.append((tr, "object", PUBLIC, args, s.deadline))
        if late:
            tr, t, actor, args, when = pick(data, late, "too late for what")
            self.now = max(self.now, when)
            self._check(tr, t, actor, args)

    @precondition(lambda self: any(tr.case.status not in TERMINAL for tr in self.cases))
    @rule(data=st.data())
    def a_case_is_finished(self, data: st.DataObject) -> None:
        live = [tr for tr in self.cases if tr.case.status not in TERMINAL]
        tr = pick(data, live, "live case")
        self._finish(tr, withdraw=data.draw(st.booleans(), label="withdraw"))
        if len(self.cases) < 8:  # keep cases running for the other rules
            self._submit(DEFINITIONS[data.draw(st.sampled_from(sorted(DEFINITIONS)), label="next")])

    # - invariants -

    @invariant()
    def every_case_holds(self) -> None:
        for tr in self.cases:
            c = tr.case
            assert c.status in STATUSES
            if c.status in ("issued", "decided"):
                assert c.decided_ms > 0
            assert (c.outcome == "") == (c.status in UNDECIDED)
            for s in c.steps:
                assert s.status in STEP_STATUSES
                assert (s.status == "done") == (s.result in ("pass", "fail")), s
            assert (c.supplement is not None) == (c.status == "supplement_requested")
            if c.status != "accepted":
                assert overdue(c, FAR) == [], "a step is overdue in a case that cannot act"
            assert case_from_json(json.loads(json.dumps(case_to_json(c)))) == c
            if tr.final is not None:
                assert c == tr.final, "a terminal case changed"
            elif c.status in TERMINAL:
                tr.final = copy.deepcopy(c)

    def teardown(self) -> None:
        for tr in self.cases:
            self._finish(tr, withdraw=False)
            assert tr.case.status in TERMINAL
            for t in ("withdraw", "close", "accept"):
                assert not self._check(tr, t, tr.applicant if t == "withdraw" else STAFF[3], {})


# One failure is shrunk and reported, without the "explain" phase: on this machine, explaining
# or shrinking several failures at once takes minutes where shrinking one takes seconds.
CasesVsModel.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
TestCasesVsModel = CasesVsModel.TestCase
