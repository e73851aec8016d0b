"""The case engine: one pure function moves every case of every service.

``open_case`` makes a submitted case; ``apply(case, event, definition, calendar)`` returns the
case after one transition or raises a typed error and changes nothing:

- ``IllegalTransition`` (409): the transition is not allowed in the case's (or step's) current
  state; the error names the state.
- ``WrongActor`` (403): the actor is not the department, role or person the step belongs to.
- ``CaseExpired`` (409): a supplement arrived after its deadline.
- ``NoApplicant`` (409): an applicant's transition (withdraw, resubmit, revoke_consent, object,
  request_supplement) on a case a department opened itself (依职权), which has no applicant.
- ``SchemaViolation`` (422): bad arguments (a missing reason, an unknown step ...).

The on-chain ``cases`` contract and the tests call this same function. Deadlines count working
days (``procedures.calendar``) from block time; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from govchain.errors import Conflict, Forbidden, SchemaViolation
from govchain.procedures.calendar import WorkCalendar, add_working_days, working_days_between
from govchain.procedures.cases import TERMINAL, Actor, Case, Event, StepState
from govchain.procedures.cases import evolve as replace
from govchain.procedures.definitions import ServiceDefinition

MAX_TEXT = 500
"""Longest reason, note or objection on-chain."""
MAX_ITEMS = 20
"""Most items one supplement request lists."""
_HASH_CHARS = frozenset("0123456789abcdef")


class IllegalTransition(Conflict):
    """The transition is not allowed in the current state."""

    code = "illegal_transition"


class WrongActor(Forbidden):
    """The actor may not make this transition."""

    code = "wrong_actor"


class CaseExpired(Conflict):
    """The time to act has passed."""

    code = "case_expired"


class NoApplicant(IllegalTransition):
    """The transition belongs to an applicant, and the case (opened by a department) has
    none."""

    code = "no_applicant"


APPLICANT_TRANSITIONS = frozenset(
    {"withdraw", "resubmit", "revoke_consent", "object", "request_supplement"}
)
"""Transitions made by, or waiting for, the applicant (a supplement request asks the applicant
for something; an objection answers a notice to the public about an application): none of them
exists for a case a department opened itself."""
DEPARTMENT = "department"
"""``applicant_kind`` of a case a department opened itself (依职权)."""


def _text(args: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = args.get(key, "")
    if type(value) is not str or len(value) > MAX_TEXT or (required and not value.strip()):
        need = "a non-empty" if required else "a"
        raise SchemaViolation(
            f"{key!r} must be {need} text of at most {MAX_TEXT} characters", field=key
        )
    return value


def check_hash(value: Any, field: str) -> str:
    """Return ``value`` if it is a 64-character lower-case hex hash."""
    if type(value) is not str or len(value) != 64 or not set(value) <= _HASH_CHARS:
        raise SchemaViolation(f"{field} must be 64 lower-case hex characters", field=field)
    return value


def check_materials(
    value: Any, defn: ServiceDefinition, field: str = "materials"
) -> dict[str, str]:
    """Return ``{material id: hash}`` after checking every id is one of the definition's."""
    if not isinstance(value, Mapping):
        raise SchemaViolation(f"{field} must map material ids to hashes", field=field)
    known = {m.id for m in defn.materials}
    out: dict[str, str] = {}
    for mid, h in value.items():
        if mid not in known:
            raise SchemaViolation(f"{defn.code} has no material {mid!r}", field=f"{field}.{mid}")
        out[mid] = check_hash(h, f"{field}.{mid}")
    return out


def _entry(case: Case, event: Event, name: str, step: str = "") -> Case:
    a = event.actor
    item = {
        "event": name,
        "tx": event.tx,
        "time_ms": event.time_ms,
        "actor": a.person,
        "dept": a.dept,
        "role": a.role,
        "step": step,
    }
    return replace(case, history=(*case.history, item))


def open_case(
    number: str,
    defn: ServiceDefinition,
    event: Event,
    applicant_kind: str,
    subject: str,
    cal: WorkCalendar,
) -> Case:
    """Return a new submitted case (``event`` is the ``submit`` transition).

    A service ``opened_by`` its department is opened by the owner's node or staff (officer or
    admin) about ``subject``, with ``applicant_kind`` ``department``: the submitting person is
    recorded as applicant, nobody consents or logs in, and the case is accepted at once (a
    department does not accept its own case)."""
    args = event.args
    if defn.opened_by == DEPARTMENT:
        _need_opener(defn, event.actor, applicant_kind, subject)
        session = ""
    else:
        if event.actor.kind != "applicant":
            raise WrongActor("only the applicant (through the handling node) submits a case")
        if applicant_kind not in defn.applicants:
            raise WrongActor(
                f"{defn.code} is for {', '.join(sorted(defn.applicants))}, not {applicant_kind}"
            )
        session = args.get("session", "")
        if type(session) is not str or not session or len(session) > 128:
            raise SchemaViolation("the applicant's login session is required", field="session")
    materials = check_materials(args.get("materials", {}), defn)
    consents = args.get("consents", [])
    held = {m.id for m in defn.materials if m.held_by}
    if not isinstance(consents, list) or not set(consents) <= held:
        raise SchemaViolation(
            "consents must list materials held by other departments", field="consents"
        )
    missing = [
        m.id
        for m in defn.materials
        if m.required and m.id not in materials and not (m.held_by and m.id in consents)
    ]
    if missing:
        raise SchemaViolation(
            f"required materials missing: {', '.join(missing)}", field="materials"
        )
    case = Case(
        number=number,
        service=defn.code,
        version=defn.version,
        applicant=event.actor.person,
        applicant_kind=applicant_kind,
        subject=subject,
        status="submitted",
        outcome="",
        reason="",
        submitted_ms=event.time_ms,
        accepted_ms=0,
        decided_ms=0,
        form_hash=check_hash(args.get("form_hash"), "form_hash"),
        materials=materials,
        consents=tuple(sorted(set(consents))),
        session=session,
        steps=tuple(StepState(s.id, "waiting", 0, 0, "", "", "", "", ()) for s in defn.steps),
        supplement=None,
        commitment_deadline_ms=0,
        outputs=(),
        history=(),
    )
    case = _entry(case, event, "submitted")
    if (
        defn.auto_accept or defn.opened_by == DEPARTMENT
    ):  # accepted on submission, by the engine (recorded as such)
        case = replace(case, status="accepted", accepted_ms=event.time_ms)
        system = Event(
            event.type, Actor("node", "system", defn.owner, "", ""), event.time_ms, event.tx, {}
        )
        case = _open_ready(_entry(case, system, "accepted"), defn, event.time_ms, cal)
    return case


# --- who may act ------------------------------------------------------------------------------


def _need_opener(defn: ServiceDefinition, a: Actor, applicant_kind: str, subject: str) -> None:
    """A department's own case: opened by its node or its staff, about a named subject."""
    if a.dept != defn.owner or a.kind not in ("node", "staff"):
        raise WrongActor(
            f"{defn.code} is opened by {defn.owner} itself (依职权): by its node or its staff",
            dept=defn.owner,
        )
    if a.kind == "staff" and a.role not in ("officer", "admin"):
        raise WrongActor(
            f"a case of {defn.code} is opened by an officer of {defn.owner}, not a {a.role}",
            dept=defn.owner,
            roles=["officer"],
        )
    if applicant_kind != DEPARTMENT:
        raise WrongActor(f"{defn.code} has no applicant: it is opened by {defn.owner}")
    if not subject:
        raise SchemaViolation(
            f"a case {defn.owner} opens names what it is about (a USCC, a project ...)",
            field="subject",
        )


def _need_applicant(case: Case, a: Actor) -> None:
    if a.kind != "applicant" or a.person != case.applicant:
        raise WrongActor(f"only the applicant of case {case.number} may do this")


def _need_staff(a: Actor, dept: str, roles: tuple[str, ...]) -> None:
    if a.kind != "staff" or a.dept != dept:
        raise WrongActor(f"this is for staff of {dept}", dept=dept, roles=list(roles))
    if a.role != "admin" and a.role not in roles:
        raise WrongActor(
            f"this is for the {' or '.join(roles)} of {dept}, not a {a.role or 'member'}",
            dept=dept,
            roles=list(roles),
        )


def _need_status(case: Case, event: str, *allowed: str) -> None:
    if case.status not in allowed:
        raise IllegalTransition(
            f"case {case.number} is {case.status}: '{event}' is possible only when it is "
            f"{' or '.join(allowed)}",
            state=case.status,
            event=event,
        )


def _step_of(case: Case, defn: ServiceDefinition, args: Mapping[str, Any]) -> tuple[int, Any]:
    sid = args.get("step")
    for i, s in enumerate(defn.steps):
        if s.id == sid:
            return i, s
    raise SchemaViolation(f"{defn.code} has no step {sid!r}", field="step")


def _need_step(case: Case, i: int, event: str, *allowed: str) -> StepState:
    st = case.steps[i]
    if st.status not in allowed:
        raise IllegalTransition(
            f"step {st.id} of case {case.number} is {st.status}: '{event}' needs it "
            f"{' or '.join(allowed)}",
            state=st.status,
            event=event,
            step=st.id,
        )
    return st


# --- steps ------------------------------------------------------------------------------------


def _with_step(case: Case, i: int, **changes: Any) -> Case:
    steps = list(case.steps)
    steps[i] = replace(steps[i], **changes)
    return replace(case, steps=tuple(steps))


def _open_ready(case: Case, defn: ServiceDefinition, now: int, cal: WorkCalendar) -> Case:
    """Open every waiting step whose predecessors all passed."""
    if all(s.status != "waiting" for s in case.steps):
        return case
    passed = {s.id for s in case.steps if s.status == "done" and s.result == "pass"}
    steps = list(case.steps)
    for i, (d, st) in enumerate(zip(defn.steps, steps, strict=True)):
        if st.status == "waiting" and all(a in passed for a in d.after):
            if d.kind == "notice":  # a public notice runs calendar days, to the millisecond
                deadline = now + d.days * 86_400_000
            else:
                deadline = add_working_days(now, d.days, cal)
            steps[i] = replace(st, status="open", opened_ms=now, deadline_ms=deadline)
    return replace(case, steps=tuple(steps))


def _auto_decide(case: Case, defn: ServiceDefinition, event: Event, cal: WorkCalendar) -> Case:
    """Decide without a person, if the definition says so: reject as soon as a step failed
    (the outcome is certain), approve once every step passed."""
    if not defn.auto_decision or case.status != "accepted":
        return case
    failed = [s for s in case.steps if s.status == "done" and s.result == "fail"]
    if not failed and any(s.status != "done" for s in case.steps):
        return case
    system = Event(
        event.type, Actor("node", "system", defn.owner, "", ""), event.time_ms, event.tx, {}
    )
    if failed:
        reason = f"step {failed[0].id}: {failed[0].note}"
        decided = _decided(case, defn, event.time_ms, "rejected", reason, cal)
        return _entry(decided, system, "rejected")
    return _entry(_decided(case, defn, event.time_ms, "approved", "", cal), system, "approved")


def _decided(
    case: Case, defn: ServiceDefinition, now: int, outcome: str, reason: str, cal: WorkCalendar
) -> Case:
    """The decision: approval issues the outputs (and sets a commitment's check, if the
    approval rests on one); either way an open supplement request ends."""
    if outcome == "approved":
        days = defn.commitment_check_days
        due = add_working_days(now, days, cal) if days else 0
        return replace(
            case, status="issued", outcome="approved", reason="", decided_ms=now,
            commitment_deadline_ms=due, supplement=None,
        )  # fmt: skip
    return replace(
        case, status="decided", outcome="rejected", reason=reason, decided_ms=now, supplement=None
    )


# --- transitions ------------------------------------------------------------------------------

Handler = Callable[[Case, Event, ServiceDefinition, WorkCalendar], Case]


def _accept(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "accept", "submitted")
    _need_staff(e.actor, d.owner, ("officer",))
    case = replace(case, status="accepted", accepted_ms=e.time_ms)
    return _open_ready(_entry(case, e, "accepted"), d, e.time_ms, cal)


def _reject(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "reject", "submitted", "accepted", "supplement_requested")
    roles = ("officer", d.decision_role) if case.status == "submitted" else (d.decision_role,)
    _need_staff(e.actor, d.owner, roles)
    reason = _text(e.args, "reason")
    return _entry(_decided(case, d, e.time_ms, "rejected", reason, cal), e, "rejected")


def _request_supplement(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "request_supplement", "submitted", "accepted")
    depts = {d.owner} | {
        s.dept for s, st in zip(d.steps, case.steps, strict=True) if st.status == "open"
    }
    if e.actor.kind != "staff" or e.actor.dept not in depts:
        raise WrongActor(f"only staff of {', '.join(sorted(depts))} may ask for a supplement")
    items = e.args.get("items")
    if (
        not isinstance(items, list)
        or not 1 <= len(items) <= MAX_ITEMS
        or not all(type(i) is str and 0 < len(i) <= 200 for i in items)
    ):
        raise SchemaViolation(f"items must list 1 to {MAX_ITEMS} things to supply", field="items")
    supplement = {
        "items": list(items),
        "reason": _text(e.args, "reason"),
        "requested_ms": e.time_ms,
        "deadline_ms": add_working_days(e.time_ms, d.supplement_days, cal),
        "back_to": case.status,
        "by": e.actor.dept,
    }
    return _entry(
        replace(case, status="supplement_requested", supplement=supplement),
        e,
        "supplement_requested",
    )


def _resubmit(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "resubmit", "supplement_requested")
    _need_applicant(case, e.actor)
    sup = case.supplement
    assert sup is not None
    if e.time_ms > sup["deadline_ms"]:
        raise CaseExpired(
            f"the supplement for case {case.number} was due by {sup['deadline_ms']} (block time "
            f"{e.time_ms}); the case can only be closed as expired",
            deadline_ms=sup["deadline_ms"],
            state=case.status,
            event="resubmit",
        )
    materials = dict(case.materials)
    materials.update(check_materials(e.args.get("materials", {}), d))
    form_hash = case.form_hash
    if e.args.get("form_hash") is not None:
        form_hash = check_hash(e.args["form_hash"], "form_hash")
    if materials == dict(case.materials) and form_hash == case.form_hash:
        raise SchemaViolation("a supplement must change the form or a material", field="materials")
    # The time spent waiting for the applicant does not count against the departments: open
    # steps' deadlines move on by the working days waited (a notice, counted in calendar time,
    # by the time waited), so a step that was already late stays late.
    waited_days = working_days_between(sup["requested_ms"], e.time_ms, cal)
    waited_ms = e.time_ms - sup["requested_ms"]
    kinds = {s.id: s.kind for s in d.steps}
    steps = []
    for st in case.steps:
        if st.status in ("open", "blocked") and st.deadline_ms:
            if kinds[st.id] == "notice":
                moved = st.deadline_ms + waited_ms
            else:
                moved = (
                    add_working_days(st.deadline_ms, waited_days, cal)
                    if waited_days
                    else st.deadline_ms
                )
            st = replace(st, deadline_ms=moved)
        steps.append(st)
    case = replace(
        case,
        status=sup["back_to"],
        supplement=None,
        materials=materials,
        form_hash=form_hash,
        steps=tuple(steps),
    )
    return _entry(case, e, "resubmitted")


def _claim(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "claim", "accepted")
    i, step = _step_of(case, d, e.args)
    _need_staff(e.actor, step.dept, (step.role,))
    st = _need_step(case, i, "claim", "open", "blocked")
    if st.assignee and st.assignee != e.actor.person:
        raise IllegalTransition(
            f"step {st.id} is claimed by {st.assignee}: an admin of {step.dept} may reassign it",
            state="claimed",
            event="claim",
            step=st.id,
        )
    return _entry(_with_step(case, i, assignee=e.actor.person), e, "claimed", st.id)


def _reassign(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "reassign", "accepted")
    i, step = _step_of(case, d, e.args)
    _need_staff(e.actor, step.dept, ("admin",))
    _need_step(case, i, "reassign", "open", "blocked")
    to = e.args.get("to")
    if type(to) is not str or not to.startswith(step.dept + "/") or len(to) > 128:
        raise SchemaViolation(
            f"'to' must be a staff id of {step.dept} ('{step.dept}/name')", field="to"
        )
    return _entry(_with_step(case, i, assignee=to), e, "reassigned", step.id)


def _complete(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "complete", "accepted")
    i, step = _step_of(case, d, e.args)
    if step.kind not in ("review", "inspection"):
        raise IllegalTransition(
            f"step {step.id} is a {step.kind} step: it is answered, not completed by hand",
            state=case.steps[i].status,
            event="complete",
            step=step.id,
        )
    _need_staff(e.actor, step.dept, (step.role,))
    st = _need_step(case, i, "complete", "open")
    if st.assignee and st.assignee != e.actor.person and e.actor.role != "admin":
        raise WrongActor(f"step {step.id} is claimed by {st.assignee}")
    result = e.args.get("result")
    if result not in ("pass", "fail"):
        raise SchemaViolation("result must be 'pass' or 'fail'", field="result")
    note = _text(e.args, "note", required=result == "fail")
    case = _with_step(case, i, status="done", result=result, note=note, assignee=e.actor.person)
    case = _open_ready(_entry(case, e, f"step_{result}", step.id), d, e.time_ms, cal)
    return _auto_decide(case, d, e, cal)


def _answer_check(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "answer_check", "accepted")
    i, step = _step_of(case, d, e.args)
    if step.kind != "check":
        raise SchemaViolation(f"step {step.id} is not a check", field="step")
    if e.actor.kind not in ("node", "staff") or e.actor.dept != step.dept:
        raise WrongActor(f"only {step.dept} answers check {step.id} from its own data")
    _need_step(case, i, "answer_check", "open", "blocked")
    att = e.args.get("attestation")
    answer = e.args.get("answer")
    if type(att) is not str or not att or len(att) > 128 or type(answer) is not bool:
        raise SchemaViolation(
            "an answer needs the attestation id and its yes/no", field="attestation"
        )
    assert step.check is not None
    if answer:
        case = _with_step(case, i, status="done", result="pass", note="", attestation=att)
        case = _open_ready(_entry(case, e, "check_yes", step.id), d, e.time_ms, cal)
        return _auto_decide(case, d, e, cal)
    advice = step.check.advice
    note = f"{advice.get('zh', '')} / {advice.get('en', '')}"
    return _entry(
        _with_step(case, i, status="blocked", note=note, attestation=att), e, "check_no", step.id
    )


def _attach(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "attach", "submitted", "accepted", "supplement_requested")
    mid = e.args.get("material")
    material = next((m for m in d.materials if m.id == mid and m.held_by), None)
    if material is None:
        raise SchemaViolation(
            f"{d.code} has no material {mid!r} held by a department", field="material"
        )
    if e.actor.kind not in ("node", "staff") or e.actor.dept != material.held_by:
        raise WrongActor(f"only {material.held_by} answers for the material {material.id} it holds")
    if material.id not in case.consents:
        raise WrongActor(
            f"the applicant did not consent to {material.held_by} answering for {material.id}"
        )
    if case.fetched.get(material.id, {}).get("answer"):
        raise IllegalTransition(
            f"material {material.id} of case {case.number} was answered already",
            state="attached",
            event="attach",
        )
    att = check_hash(e.args.get("attestation"), "attestation")
    answer = e.args.get("answer")
    if type(answer) is not bool:
        raise SchemaViolation("answer must be true or false", field="answer")
    fetched = {
        **case.fetched,
        material.id: {
            "dept": material.held_by,
            "attestation": att,
            "answer": answer,
            "time_ms": e.time_ms,
        },
    }
    materials = dict(case.materials)
    if answer:
        materials[material.id] = att
    case = replace(case, fetched=fetched, materials=materials)
    return _entry(case, e, "material_attached" if answer else "material_missing", material.id)


def _object(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "object", "accepted")
    i, step = _step_of(case, d, e.args)
    if not step.objections:
        raise SchemaViolation(f"step {step.id} takes no objections", field="step")
    st = _need_step(case, i, "object", "open", "blocked")
    if e.time_ms >= st.deadline_ms:
        raise CaseExpired(
            f"the notice period of case {case.number} ended at {st.deadline_ms}: objections "
            "are no longer accepted",
            deadline_ms=st.deadline_ms,
            state=st.status,
            event="object",
            step=st.id,
        )
    objection = {
        "by": e.actor.person,
        "dept": e.actor.dept,
        "text": _text(e.args, "text"),
        "time_ms": e.time_ms,
        "tx": e.tx,
        "status": "open",
        "note": "",
    }
    case = _with_step(case, i, status="blocked", objections=(*st.objections, objection))
    return _entry(case, e, "objection", step.id)


def _resolve_objection(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "resolve_objection", "accepted")
    i, step = _step_of(case, d, e.args)
    _need_staff(e.actor, step.dept, (step.role,))
    st = _need_step(case, i, "resolve_objection", "blocked")
    k = e.args.get("index")
    if (
        type(k) is not int
        or not 0 <= k < len(st.objections)
        or st.objections[k]["status"] != "open"
    ):
        raise SchemaViolation("index must name an open objection of the step", field="index")
    upheld = e.args.get("upheld")
    if type(upheld) is not bool:
        raise SchemaViolation("upheld must be true or false", field="upheld")
    note = _text(e.args, "note")
    objections = list(st.objections)
    objections[k] = {**objections[k], "status": "upheld" if upheld else "dismissed", "note": note}
    still_open = any(o["status"] == "open" for o in objections)
    if upheld:
        case = _with_step(
            case, i, status="done", result="fail", note=note, objections=tuple(objections)
        )
        case = _entry(case, e, "objection_upheld", step.id)
        return _auto_decide(case, d, e, cal)
    status = "blocked" if still_open else "open"
    case = _with_step(case, i, status=status, objections=tuple(objections))
    return _entry(case, e, "objection_dismissed", step.id)


def _end_notice(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "end_notice", "accepted")
    i, step = _step_of(case, d, e.args)
    if step.kind != "notice":
        raise SchemaViolation(f"step {step.id} is not a notice", field="step")
    if e.actor.kind not in ("node", "staff") or e.actor.dept != step.dept:
        raise WrongActor(f"only {step.dept} ends notice {step.id}")
    st = _need_step(case, i, "end_notice", "open")
    if e.time_ms < st.deadline_ms:
        raise IllegalTransition(
            f"the notice of case {case.number} runs until {st.deadline_ms}",
            state="running",
            event="end_notice",
            step=st.id,
        )
    case = _with_step(case, i, status="done", result="pass", note="")
    case = _open_ready(_entry(case, e, "notice_ended", step.id), d, e.time_ms, cal)
    return _auto_decide(case, d, e, cal)


def _decide(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "decide", "accepted")
    _need_staff(e.actor, d.owner, (d.decision_role,))
    outcome = e.args.get("outcome")
    if outcome == "reject":
        reason = _text(e.args, "reason")
        return _entry(_decided(case, d, e.time_ms, "rejected", reason, cal), e, "rejected")
    if outcome != "approve":
        raise SchemaViolation("outcome must be 'approve' or 'reject'", field="outcome")
    unfinished = [s.id for s in case.steps if s.status != "done" or s.result != "pass"]
    if unfinished:
        raise IllegalTransition(
            f"case {case.number} cannot be approved: steps not passed: {', '.join(unfinished)}",
            state=case.status,
            event="decide",
            steps=unfinished,
        )
    return _entry(_decided(case, d, e.time_ms, "approved", "", cal), e, "approved")


def _verify_commitment(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "verify_commitment", "issued")
    if not case.commitment_deadline_ms:
        raise IllegalTransition(
            f"case {case.number} has no commitment to check",
            state=case.status,
            event="verify_commitment",
        )
    _need_staff(e.actor, d.owner, ("inspector", "officer"))
    result = e.args.get("result")
    if result not in ("pass", "fail"):
        raise SchemaViolation("result must be 'pass' or 'fail'", field="result")
    if result == "pass":
        case = replace(case, commitment_deadline_ms=0)
        return _entry(case, e, "commitment_kept")
    note = _text(e.args, "note")
    case = replace(case, status="closed", outcome="revoked", reason=note, commitment_deadline_ms=0)
    return _entry(case, e, "commitment_broken")


def _close(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "close", "issued", "decided")
    _need_staff(e.actor, d.owner, ("officer", d.decision_role))
    if case.commitment_deadline_ms:
        raise IllegalTransition(
            f"case {case.number} was approved on a commitment: check it first",
            state=case.status,
            event="close",
        )
    return _entry(replace(case, status="closed"), e, "closed")


def _expire(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "expire", "supplement_requested")
    _need_staff(e.actor, d.owner, ("officer",))
    sup = case.supplement
    assert sup is not None
    if e.time_ms <= sup["deadline_ms"]:
        raise IllegalTransition(
            f"the supplement for case {case.number} is due by {sup['deadline_ms']}",
            state=case.status,
            event="expire",
        )
    case = replace(
        case, status="closed", outcome="expired", reason="supplement not provided in time",
        supplement=None,
    )  # fmt: skip
    return _entry(case, e, "expired")


def _revoke_consent(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    """The applicant takes back a consent: the holding department may no longer answer for
    the material, and an answer it gave no longer counts. A required material then needs the
    applicant's own file, sent with the revocation (``replacement``): the case stays complete
    and keeps its place, and without the file the only way out is to withdraw."""
    _need_status(case, "revoke_consent", "submitted", "accepted", "supplement_requested")
    mid = e.args.get("material")
    material = next((m for m in d.materials if m.id == mid and m.held_by), None)
    if material is None:
        raise SchemaViolation(
            f"{d.code} has no material {mid!r} held by a department", field="material"
        )
    _need_applicant(case, e.actor)
    if material.id not in case.consents:
        raise IllegalTransition(
            f"case {case.number} has no consent in effect for {material.id}",
            state="not_consented",
            event="revoke_consent",
        )
    replacement = e.args.get("replacement")
    if replacement is not None:
        replacement = check_hash(replacement, "replacement")
    elif material.required:
        raise SchemaViolation(
            f"{material.id} is required: send your own file with the revocation "
            "(replacement), or withdraw the application",
            field="replacement",
        )
    materials = dict(case.materials)
    answered = case.fetched.get(material.id)
    if answered is not None and materials.get(material.id) == answered["attestation"]:
        del materials[material.id]
    if replacement is not None:
        materials[material.id] = replacement
    fetched = {k: v for k, v in case.fetched.items() if k != material.id}
    consents = tuple(c for c in case.consents if c != material.id)
    case = replace(case, consents=consents, fetched=fetched, materials=materials)
    return _entry(case, e, "consent_revoked", material.id)


def _withdraw(case: Case, e: Event, d: ServiceDefinition, cal: WorkCalendar) -> Case:
    _need_status(case, "withdraw", "submitted", "accepted", "supplement_requested")
    _need_applicant(case, e.actor)
    reason = _text(e.args, "reason", required=False)
    case = replace(case, status="withdrawn", outcome="withdrawn", reason=reason, supplement=None)
    return _entry(case, e, "withdrawn")


TRANSITIONS: dict[str, Handler] = {
    "accept": _accept,
    "reject": _reject,
    "request_supplement": _request_supplement,
    "resubmit": _resubmit,
    "claim": _claim,
    "reassign": _reassign,
    "complete": _complete,
    "answer_check": _answer_check,
    "attach": _attach,
    "object": _object,
    "resolve_objection": _resolve_objection,
    "end_notice": _end_notice,
    "decide": _decide,
    "verify_commitment": _verify_commitment,
    "close": _close,
    "expire": _expire,
    "withdraw": _withdraw,
    "revoke_consent": _revoke_consent,
}
"""Every transition after ``submit``, by name."""


def apply(case: Case, event: Event, defn: ServiceDefinition, cal: WorkCalendar) -> Case:
    """Return ``case`` after ``event``; raise a typed error (changing nothing) if it may not
    happen now, or not by this actor."""
    handler = TRANSITIONS.get(event.type)
    if handler is None:
        raise SchemaViolation(f"unknown transition {event.type!r}", field="transition")
    if case.status in TERMINAL:
        raise IllegalTransition(
            f"case {case.number} is {case.status}: nothing more can happen to it",
            state=case.status,
            event=event.type,
        )
    if defn.code != case.service or defn.version != case.version:
        raise SchemaViolation("the definition is not the one the case runs under", field="service")
    if case.applicant_kind == DEPARTMENT and event.type in APPLICANT_TRANSITIONS:
        raise NoApplicant(
            f"case {case.number} was opened by {defn.owner} itself and has no applicant: "
            f"'{event.type}' is not possible",
            state=case.status,
            event=event.type,
        )
    return handler(case, event, defn, cal)


def overdue(case: Case, now_ms: int) -> list[StepState]:
    """Return the case's open or blocked steps whose time limit passed before ``now_ms``."""
    if case.status != "accepted":  # decided, withdrawn, or waiting for the applicant
        return []
    return [s for s in case.steps if s.status in ("open", "blocked") and 0 < s.deadline_ms < now_ms]
