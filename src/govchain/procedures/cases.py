"""Case (办件) records, transition events and who acts: the data the case engine works on.

A case is stored on-chain as ``case_to_json(case)``; ``case_from_json`` reads it back. Both are
exact inverses (tested), so the engine can be a pure function over typed records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

STATUSES = (
    "submitted",
    "accepted",
    "supplement_requested",
    "decided",
    "issued",
    "closed",
    "withdrawn",
)
"""Case statuses; ``closed`` and ``withdrawn`` are terminal."""
TERMINAL = frozenset({"closed", "withdrawn"})
"""Statuses a case never leaves."""
_R = TypeVar("_R", "Case", "StepState")
STEP_STATUSES = ("waiting", "open", "blocked", "done")
"""``waiting`` for earlier steps, ``open`` to act on, ``blocked`` (a check said no, or an
objection waits), ``done`` (with a result)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a transition, as the transaction says it."""

    kind: str
    """``staff`` (a department member acting for a person), ``applicant`` (the handling node
    acting for the logged-in applicant), ``node`` (a department's node answering from its own
    data) or ``public`` (anyone, e.g. an objection during a notice period)."""
    person: str
    """The acting person's id (staff ``dept/name``, applicant's pseudonymous id)."""
    dept: str
    """Department of the signing member."""
    role: str
    """Staff role of the person (``officer``, ``inspector``, ``approver``, ``admin``)."""
    member: str
    """The signing member."""


@dataclass(frozen=True, slots=True)
class Event:
    """One requested transition."""

    type: str
    """Transition name (``accept``, ``claim``, ``complete`` ...)."""
    actor: Actor
    """Who asks for it."""
    time_ms: int
    """Block time."""
    tx: str
    """Transaction id (hex)."""
    args: Mapping[str, Any]
    """The transition's arguments."""


@dataclass(frozen=True, slots=True)
class StepState:
    """A step of one case."""

    id: str
    """Step id of the definition."""
    status: str
    """One of ``STEP_STATUSES``."""
    opened_ms: int
    """When it opened (0 while waiting)."""
    deadline_ms: int
    """End of its time limit (0 while waiting)."""
    assignee: str
    """Person who claimed it ('' if nobody)."""
    result: str
    """``pass`` or ``fail`` once done; '' before."""
    note: str
    """Reason or note of the last action on it (a check's advice when it said no)."""
    attestation: str
    """Attestation id of the last check answer ('' if none)."""
    objections: tuple[Mapping[str, Any], ...]
    """Objections to a notice: ``{by, text, time_ms, status, note}``."""


@dataclass(frozen=True, slots=True)
class Case:
    """A case (办件)."""

    number: str
    """Case number (also the transactions' ``case`` field)."""
    service: str
    """Service code."""
    version: int
    """Definition version the case runs under."""
    applicant: str
    """Applicant's pseudonymous id."""
    applicant_kind: str
    """``citizen`` or ``enterprise``; ``department`` for a case a department opened itself
    (依职权, ``opened_by: department``), whose ``applicant`` is the member who opened it."""
    subject: str
    """What the case is about (a USCC for an enterprise; '' if only the applicant)."""
    status: str
    """One of ``STATUSES``."""
    outcome: str
    """'' until decided; then ``approved``, ``rejected``, later ``revoked``, or ``expired``,
    ``withdrawn``."""
    reason: str
    """Reason of a rejection, expiry or revocation."""
    submitted_ms: int
    """Block time of submission."""
    accepted_ms: int
    """Block time of acceptance (0 before)."""
    decided_ms: int
    """Block time of the decision (0 before)."""
    form_hash: str
    """Hash of the application form (the form stays with the handling department)."""
    materials: Mapping[str, str]
    """Material id -> hash of the uploaded file."""
    consents: tuple[str, ...]
    """Materials the applicant consented to have fetched from the departments that hold them."""
    session: str
    """Login session the applicant's submission was checked against."""
    steps: tuple[StepState, ...]
    """Steps, in definition order."""
    supplement: Mapping[str, Any] | None
    """Open supplement request: ``{items, reason, requested_ms, deadline_ms, back_to}``."""
    commitment_deadline_ms: int
    """Commitment-based approval: the check is due by then (0: none or checked)."""
    outputs: tuple[Mapping[str, Any], ...]
    """What approval issued (licence numbers, registry changes)."""
    history: tuple[Mapping[str, Any], ...]
    """Timeline: ``{event, tx, time_ms, actor, dept, role, step}`` per transition."""
    fetched: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Materials answered by the department that holds them (with the applicant's consent):
    material id -> ``{dept, attestation, answer, time_ms}``."""

    def step(self, step_id: str) -> StepState | None:
        """Return the state of a step."""
        for s in self.steps:
            if s.id == step_id:
                return s
        return None


_set = object.__setattr__


def evolve(obj: _R, **changes: Any) -> _R:
    """``dataclasses.replace`` for these slotted records, without its per-call field
    introspection (the case engine copies a case several times per transition)."""
    slots = type(obj).__slots__
    unknown = [name for name in changes if name not in slots]
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {unknown[0]!r}")
    new = object.__new__(type(obj))
    for name in slots:
        _set(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


def _step_json(s: StepState) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": s.status,
        "opened_ms": s.opened_ms,
        "deadline_ms": s.deadline_ms,
        "assignee": s.assignee,
        "result": s.result,
        "note": s.note,
        "attestation": s.attestation,
        "objections": [dict(o) for o in s.objections],
    }


def case_to_json(c: Case) -> dict[str, Any]:
    """Return the stored (canonical-JSON-ready) form of a case."""
    return {
        "number": c.number,
        "service": c.service,
        "version": c.version,
        "applicant": c.applicant,
        "applicant_kind": c.applicant_kind,
        "subject": c.subject,
        "status": c.status,
        "outcome": c.outcome,
        "reason": c.reason,
        "submitted_ms": c.submitted_ms,
        "accepted_ms": c.accepted_ms,
        "decided_ms": c.decided_ms,
        "form_hash": c.form_hash,
        "materials": dict(c.materials),
        "consents": list(c.consents),
        "session": c.session,
        "steps": [_step_json(s) for s in c.steps],
        "supplement": None if c.supplement is None else dict(c.supplement),
        "commitment_deadline_ms": c.commitment_deadline_ms,
        "outputs": [dict(o) for o in c.outputs],
        "history": [dict(h) for h in c.history],
        "fetched": {k: dict(v) for k, v in c.fetched.items()},
    }


def case_from_json(obj: Mapping[str, Any]) -> Case:
    """Read a stored case."""
    return Case(
        number=obj["number"],
        service=obj["service"],
        version=obj["version"],
        applicant=obj["applicant"],
        applicant_kind=obj["applicant_kind"],
        subject=obj["subject"],
        status=obj["status"],
        outcome=obj["outcome"],
        reason=obj["reason"],
        submitted_ms=obj["submitted_ms"],
        accepted_ms=obj["accepted_ms"],
        decided_ms=obj["decided_ms"],
        form_hash=obj["form_hash"],
        materials=dict(obj["materials"]),
        consents=tuple(obj["consents"]),
        session=obj["session"],
        steps=tuple(
            StepState(
                id=s["id"],
                status=s["status"],
                opened_ms=s["opened_ms"],
                deadline_ms=s["deadline_ms"],
                assignee=s["assignee"],
                result=s["result"],
                note=s["note"],
                attestation=s["attestation"],
                objections=tuple(s["objections"]),
            )
            for s in obj["steps"]
        ),
        supplement=obj["supplement"],
        commitment_deadline_ms=obj["commitment_deadline_ms"],
        outputs=tuple(obj["outputs"]),
        history=tuple(obj["history"]),
        fetched=dict(obj.get("fetched", {})),
    )
