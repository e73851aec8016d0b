"""The staff workbench (工作台): the department's queues, one case with what the person may do
to it now, and those actions as ledger transactions.

Nothing a person's role does not allow is offered: a button is shown only when the case engine,
run over the committed case (``CaseDesk.preview``), would let this person make that transition
now. The handlers sign through ``CaseDesk.staff_step``, which runs the same check again, and the
contract checks once more when the block runs, so a forged post is refused before anything is
written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from govchain.errors import (
    Conflict,
    Forbidden,
    GovchainError,
    InvalidInput,
    NotFound,
    SchemaViolation,
)
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.node.node import Node
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.security import HEADERS, check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import desk_of, language, redirect, render, require
from govchain.procedures.calendar import add_working_days, parse_calendar
from govchain.procedures.cases import TERMINAL, Actor
from govchain.procedures.definitions import CASE_ROLES
from govchain.procedures.engine import (
    MAX_ITEMS,
    MAX_TEXT,
)

router = APIRouter(include_in_schema=False)

QUEUE_LIMIT = 200
"""Most steps and decisions one queue page lists."""
MAX_BATCH = 50
"""Most cases one batch action handles."""
ACTIONS: dict[str, str] = {
    "accept": N_("Accept the case"),
    "claim": N_("Claim the step"),
    "complete": N_("Complete the step"),
    "request_supplement": N_("Ask for a supplement"),
    "reject": N_("Reject the case"),
    "decide": N_("Record the decision"),
    "resolve_objection": N_("Resolve the objection"),
    "verify_commitment": N_("Record the commitment check"),
    "close": N_("Close the case"),
    "expire": N_("Close as expired"),
    "reassign": N_("Reassign the step"),
}
"""Staff transitions the workbench offers, each with its button."""
STEP_ACTIONS = frozenset({"claim", "complete", "reassign", "resolve_objection"})
"""Transitions that act on one step of a case."""
ROLES = (N_("officer"), N_("inspector"), N_("approver"), N_("admin"), N_("auditor"), N_("system"))
"""Roles of the people (and ``system``: a department's node) acting on cases, as shown."""
RESULTS = {"pass": N_("passed"), "fail": N_("failed")}
"""Results of a finished step."""
OBJECTIONS = {"open": N_("not yet resolved"), "upheld": N_("upheld"), "dismissed": N_("dismissed")}
"""States of an objection to a public notice."""
EVENTS = frozenset(
    {
        N_("claimed"),
        N_("reassigned"),
        N_("step_pass"),
        N_("step_fail"),
        N_("resubmitted"),
        N_("check_yes"),
        N_("check_no"),
        N_("material_attached"),
        N_("material_missing"),
        N_("objection"),
        N_("objection_upheld"),
        N_("objection_dismissed"),
        N_("notice_ended"),
        N_("commitment_kept"),
        N_("commitment_broken"),
        N_("consent_revoked"),
        # marked in ``portal.messages``, as case statuses and outcomes
        *("submitted", "accepted", "supplement_requested", "approved", "rejected"),
        *("closed", "expired", "withdrawn"),
    }
)
"""Timeline events (``procedures.engine``), translated when shown."""
OUTPUTS = {
    "enterprise.register": N_("Enterprise registered"),
    "licence.issue": N_("Licence issued"),
    "certificate.issue": N_("Certificate issued"),
    "enterprise.deregister": N_("Enterprise deregistered"),
}
"""What an approval issued, by kind."""
NEXT_ACTION = {"submitted": "accept", "accepted": "decide", "decided": "close", "issued": "close"}
"""The transition a case in the decision queue waits for, by its status (an approval on a
commitment waits for ``verify_commitment`` first)."""

NEED_RESULT = N_("Choose pass or fail")
NEED_FAIL_NOTE = N_("Write a note saying why it fails")
NEED_REASON = N_("Write the reason")
NEED_ITEMS = N_("List 1 to {items} things to supply, one per line, each at most 200 characters")
NEED_OUTCOME = N_("Choose approve or reject")
NEED_UPHELD = N_("Choose uphold or dismiss")
NEED_NOTE = N_("Write a note")
TOO_LONG = N_("Write at most {chars} characters")
NEED_STAFF_ID = N_("Enter the staff id of the person taking over, like {example}")
NEED_SELECTION = N_("Select at least one case")
_PROBE = "-"  # stands for a person's text when asking the engine whether an action is open
_PROBES: dict[str, dict[str, Any]] = {
    "accept": {},
    "decide": {"outcome": "reject", "reason": _PROBE},  # approving may wait for steps
    "verify_commitment": {"result": "pass"},
    "close": {},
}
_HASH = re.compile(r"[0-9a-f]{64}")
_ITEM = re.compile(r"([0-9A-Za-z-]{1,40})(?::([a-z0-9_]{1,40}))?")


@dataclass(frozen=True, slots=True)
class Action:
    """Something the person may do to a case now (the case engine said so)."""

    transition: str
    """Transition name."""
    step: str = ""
    """Step it acts on ('' for the whole case)."""
    index: int = -1
    """Objection it resolves (-1 for none)."""
    options: tuple[str, ...] = ()
    """Choices the engine allows (``decide``: ``approve`` and/or ``reject``)."""

    @property
    def form_id(self) -> str:
        """Id of the action's form on the page (its fields' ids start with it)."""
        parts = [self.transition, self.step, str(self.index) if self.index >= 0 else ""]
        return "-".join(p for p in parts if p)


# --- asking the engine ----------------------------------------------------------------------------


def actor_of(session: PortalSession) -> Actor:
    """The logged-in staff member as the case engine sees them."""
    return Actor("staff", session.user, session.dept, session.role, f"{session.dept}/admin")


def allowed(
    desk: CaseDesk, number: str, actor: Actor, transition: str, args: Mapping[str, Any]
) -> bool:
    """Whether the engine would let ``actor`` make the transition now."""
    try:
        desk.preview(number, transition, actor, args)
    except (Forbidden, Conflict, InvalidInput):  # wrong actor, illegal now, bad arguments
        return False
    return True


def actions_for(desk: CaseDesk, case: Mapping[str, Any], session: PortalSession) -> list[Action]:
    """Every action the engine would let this person take on the case now."""
    if case["status"] in TERMINAL:
        return []
    number, actor = case["number"], actor_of(session)

    def may(transition: str, args: Mapping[str, Any]) -> bool:
        return allowed(desk, number, actor, transition, args)

    out: list[Action] = []
    outcomes = tuple(
        outcome
        for outcome, args in (
            ("approve", {"outcome": "approve"}),
            ("reject", {"outcome": "reject", "reason": _PROBE}),
        )
        if may("decide", args)
    )
    for transition, args in (
        ("accept", {}),
        ("request_supplement", {"items": [_PROBE], "reason": _PROBE}),
        ("reject", {"reason": _PROBE}),
        ("verify_commitment", {"result": "pass"}),
        ("close", {}),
        ("expire", {}),
    ):
        if transition == "reject" and outcomes:
            continue  # the decision form rejects too
        if may(transition, args):
            out.append(Action(transition))
    if outcomes:
        out.append(Action("decide", options=outcomes))
    for st in case["steps"]:
        if st["status"] not in ("open", "blocked"):
            continue  # a waiting or finished step takes no action
        sid = st["id"]
        if st["assignee"] != session.user and may("claim", {"step": sid}):
            out.append(Action("claim", sid))
        if may("complete", {"step": sid, "result": "pass"}):
            out.append(Action("complete", sid))
        if may("reassign", {"step": sid, "to": f"{session.dept}/{_PROBE}"}):
            out.append(Action("reassign", sid))
        for k, objection in enumerate(st["objections"]):
            probe = {"step": sid, "index": k, "upheld": False, "note": _PROBE}
            if objection["status"] == "open" and may("resolve_objection", probe):
                out.append(Action("resolve_objection", sid, k))
    return out


# --- committing -----------------------------------------------------------------------------------


def commit(desk: CaseDesk, txs: list[Transaction], timeout_s: float) -> list[GovchainError | None]:
    """Submit signed transactions together, wait until they are durable, and return each one's
    refusal (``None`` for those that took effect)."""
    return [o if isinstance(o, GovchainError) else None for o in desk.commit(txs, timeout_s)]


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.wait_timeout_s)


# --- reading --------------------------------------------------------------------------------------


def _definition(desk: CaseDesk, code: str, version: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = desk.definition(code, version)["definition"]
    return found


def _may_read(defn: Mapping[str, Any], session: PortalSession, number: str) -> None:
    handlers = {defn["owner"], *defn.get("co_handlers", []), *(s["dept"] for s in defn["steps"])}
    if session.dept not in handlers:
        raise Forbidden(f"staff of {session.dept} do not handle case {number}")


def _dept_names(desk: CaseDesk) -> dict[str, str]:
    return {d.id: d.name for d in desk.node.genesis.departments}


def _due_soon_limit(node: Node, now: int) -> int:
    """End of the next working day: a deadline up to it is due within one working day."""
    try:
        return add_working_days(now, 1, parse_calendar(node.query("services", "calendar", {})))
    except GovchainError:  # no calendar covers today: flag only what is overdue
        return now


def _queue_context(
    request: Request, session: PortalSession, role: str, overdue: bool, mine: bool
) -> dict[str, Any]:
    desk = desk_of(request)
    node = desk.node
    admin = session.role == "admin"
    role = role if admin and role in CASE_ROLES else ("" if admin else session.role)
    now = node.clock_ms()
    soon = _due_soon_limit(node, now)
    actor = actor_of(session)
    names: dict[str, dict[str, Any]] = {}

    def defn(code: str) -> dict[str, Any]:
        if code not in names:
            names[code] = _definition(desk, code)
        return names[code]

    args = {"dept": session.dept, "role": role, "limit": QUEUE_LIMIT, "now_ms": now}
    steps = []
    for row in node.query("cases", "overdue" if overdue else "queue", args):
        if mine and row["assignee"] != session.user:
            continue
        d = defn(row["service"])
        step = next((s for s in d["steps"] if s["id"] == row["step"]), {"name": row["step"]})
        steps.append(
            {
                **row,
                "service_name": d["name"],
                "step_name": step["name"],
                "due_soon": not row["overdue"] and 0 < row["deadline_ms"] <= soon,
                "can_claim": row["assignee"] != session.user
                and allowed(desk, row["case"], actor, "claim", {"step": row["step"]}),
            }
        )
    steps.sort(key=lambda r: (r["deadline_ms"] or 2**62, r["case"], r["step"]))
    decisions = []
    if not mine:
        for row in node.query("cases", "decisions", {"dept": session.dept, "limit": QUEUE_LIMIT}):
            late = 0 < row["due_ms"] < now
            if overdue and not late:
                continue
            nxt = "verify_commitment" if row["due_ms"] else NEXT_ACTION.get(row["status"], "")
            if nxt and allowed(desk, row["case"], actor, nxt, _PROBES[nxt]):
                decisions.append(
                    {**row, "service_name": defn(row["service"])["name"], "next": nxt,
                     "overdue": late}
                )  # fmt: skip
    return {
        "admin": admin,
        "role": role,
        "overdue": overdue,
        "mine": mine,
        "steps": steps,
        "decisions": decisions,
        "now": now,
        "dept_name": _dept_names(desk).get(session.dept, session.dept),
    }


def _materials(desk: CaseDesk, case: Mapping[str, Any], defn: Mapping[str, Any], dept: str) -> Any:
    """The case's materials as shown: each with where it comes from and, for the department
    that holds the file, its name and size (a download link)."""
    owner = defn["owner"]
    rows = []
    declared = [
        {"id": "", "name": {"zh": "申请表", "en": "Application form"}, "held_by": None},
        *defn["materials"],
    ]
    for m in declared:
        digest = case["form_hash"] if not m["id"] else case["materials"].get(m["id"], "")
        fetched = case.get("fetched", {}).get(m["id"]) if m["id"] else None
        meta = None
        if digest and fetched is None and dept == owner:
            try:
                found = desk.materials.meta(owner, digest)
                meta = {"name": found["name"], "size": found["size"]}
            except GovchainError:  # this node does not keep it
                meta = None
        rows.append(
            {
                "id": m["id"],
                "name": m["name"],
                "held_by": (m.get("held_by") or {}).get("dept", ""),
                "digest": digest,
                "fetched": fetched,
                "consented": m["id"] in case["consents"],
                "file": meta,
            }
        )
    return rows


def _case_page(
    request: Request,
    session: PortalSession,
    number: str,
    *,
    status: int = 200,
    failed: str = "",
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    done: str = "",
    tx: str = "",
) -> Response:
    desk = desk_of(request)
    case = desk.case(number)
    defn = _definition(desk, case["service"], case["version"])
    _may_read(defn, session, number)
    declared = {s["id"]: s for s in defn["steps"]}
    steps = [
        {**st, **{k: declared[st["id"]][k] for k in ("name", "dept", "role")}}
        for st in case["steps"]
    ]
    actions = actions_for(desk, case, session)
    now = desk.node.clock_ms()
    return render(
        request,
        "staff_case.html",
        status=status,
        session=session,
        case=case,
        defn=defn,
        steps=steps,
        now=now,
        actions=[a for a in actions if not a.step],
        step_actions={s["id"]: [a for a in actions if a.step == s["id"]] for s in steps},
        labels=ACTIONS,
        roles=ROLES,
        events=EVENTS,
        results=RESULTS,
        objection_states=OBJECTIONS,
        outputs=OUTPUTS,
        depts=_dept_names(desk),
        materials=_materials(desk, case, defn, session.dept),
        failed=failed,
        failed_shown=any(a.form_id == failed for a in actions),
        errors=dict(errors or {}),
        values=dict(values or {}),
        done=done if done in ACTIONS and _HASH.fullmatch(tx) else "",
        tx=tx,
    )


# --- pages ----------------------------------------------------------------------------------------


@router.get("/staff")
def workbench(
    request: Request,
    role: Annotated[str, Query(max_length=32)] = "",
    overdue: bool = False,
    mine: bool = False,
) -> Response:
    """The department's queue for the person's role (admins: every role, or one): open and
    blocked steps, and cases waiting for the department to accept, decide or close."""
    session = require(request, "staff")
    context = _queue_context(request, session, role, overdue, mine)
    return render(
        request,
        "staff_queue.html",
        session=session,
        roles=ROLES,
        case_roles=sorted(CASE_ROLES),
        labels=ACTIONS,
        **context,
    )


@router.post("/staff/batch")
def batch(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    action: Annotated[str, Form(max_length=20)] = "",
    item: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Claim (steps) or accept (cases) several at once: each its own transaction; the page
    lists each one's outcome."""
    session = require(request, "staff")
    check_csrf(request, session.csrf, csrf)
    if action not in ("claim", "accept"):
        raise SchemaViolation(f"no batch action {action!r}", field="action")
    chosen = list(dict.fromkeys(item or []))[:MAX_BATCH]
    desk = desk_of(request)
    results: list[dict[str, Any]] = []
    built: list[tuple[dict[str, Any], Transaction]] = []
    for value in chosen:
        m = _ITEM.fullmatch(value)
        number, step = (m.group(1), m.group(2) or "") if m else (value[:40], "")
        row: dict[str, Any] = {"case": number, "step": step, "tx": "", "problem": ""}
        results.append(row)
        try:
            if m is None or (action == "claim") != bool(step):
                raise SchemaViolation(f"{value[:60]!r} names no case step", field="item")
            args = {"step": step} if step else {}
            tx = desk.staff_step(session.dept, session.user, session.role, number, action, args)
        except GovchainError as exc:
            row["problem"] = exc.message
            continue
        built.append((row, tx))
    if built:
        try:
            refusals = commit(desk, [tx for _, tx in built], _timeout(request))
        except GovchainError as exc:  # nothing of the batch is known to have committed
            refusals = [exc] * len(built)
        for (row, tx), refusal in zip(built, refusals, strict=True):
            row["tx"] = "" if refusal else tx.tx_id.hex()
            row["problem"] = refusal.message if refusal else ""
    problem = "" if chosen else _text(request, NEED_SELECTION)
    return render(
        request,
        "staff_batch.html",
        session=session,
        action=action,
        label=ACTIONS[action],
        results=results,
        problem=problem,
    )


@router.get("/staff/cases/{number}")
def show_case(
    number: str,
    request: Request,
    done: Annotated[str, Query(max_length=32)] = "",
    tx: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """A case: its facts, the actions the person may take now, its steps, materials,
    consents and timeline (each entry with its verifiable receipt)."""
    session = require(request, "staff")
    return _case_page(request, session, number, done=done, tx=tx)


@router.get("/staff/cases/{number}/materials/{digest}")
def download(number: str, digest: str, request: Request) -> Response:
    """A file of the case, for staff of the department that keeps it."""
    session = require(request, "staff")
    desk = desk_of(request)
    case = desk.case(number)
    defn = _definition(desk, case["service"], case["version"])
    _may_read(defn, session, number)
    fetched = case.get("fetched", {})
    uploaded = {h for mid, h in case["materials"].items() if mid not in fetched}
    if digest not in uploaded | {case["form_hash"]}:
        raise NotFound(f"case {number} cites no file {digest}")
    meta, data = desk.materials.read(defn["owner"], digest, session.dept)
    media = str(meta.get("media_type") or "application/octet-stream")
    if not re.fullmatch(r"(application/(pdf|json)|image/(png|jpeg))", media):
        media = "application/octet-stream"  # never let a browser render an uploaded page
    headers = {
        **HEADERS,
        "content-disposition": f"attachment; filename*=UTF-8''{quote(str(meta['name']))}",
    }
    return Response(data, media_type=media, headers=headers)


@router.post("/staff/cases/{number}/{transition}")
def act(
    number: str,
    transition: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    step: Annotated[str, Form(max_length=40)] = "",
    index: Annotated[str, Form(max_length=10)] = "",
    result: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    items: Annotated[str, Form(max_length=20000)] = "",
    outcome: Annotated[str, Form(max_length=10)] = "",
    upheld: Annotated[str, Form(max_length=10)] = "",
    to: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One action on a case. Problems with the form are shown next to its fields; a refusal
    of the engine for this person is a 403 page; success returns to the case with the
    transaction that recorded it."""
    session = require(request, "staff")
    check_csrf(request, session.csrf, csrf)
    if transition not in ACTIONS:
        raise NotFound(f"no staff action {transition!r}")
    values = {
        "step": step, "index": index, "result": result, "note": note, "reason": reason,
        "items": items, "outcome": outcome, "upheld": upheld, "to": to,
    }  # fmt: skip
    args, problems = arguments(transition, values, session.dept)
    example = f"{session.dept}/officer-2"
    fill: dict[str, str | int] = {"chars": MAX_TEXT, "items": MAX_ITEMS, "example": example}
    errors = {k: _text(request, v, **fill) for k, v in problems.items()}
    target = Action(transition, step if transition in STEP_ACTIONS else "", args.get("index", -1))
    status = 422
    if not errors:
        desk = desk_of(request)
        try:
            tx = desk.staff_step(session.dept, session.user, session.role, number, transition, args)
            refusal = commit(desk, [tx], _timeout(request))[0]
            if refusal is not None:
                raise refusal
        except (InvalidInput, Conflict) as exc:  # bad arguments, or the case moved on
            status = 409 if isinstance(exc, Conflict) else 422
            errors = {str(exc.fields.get("field") or ""): exc.message}
        else:
            return redirect(f"/staff/cases/{quote(number)}?done={transition}&tx={tx.tx_id.hex()}")
    return _case_page(
        request, session, number, status=status, failed=target.form_id, errors=errors,
        values=values,
    )  # fmt: skip


# --- the action forms -----------------------------------------------------------------------------


def _text(request: Request, message: str, **params: str | int) -> str:
    """A message in the request's language, with its ``{name}`` places filled."""
    return i18n.translations(language(request)).gettext(message).format(**params)


def arguments(
    transition: str, values: Mapping[str, str], dept: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The transition's arguments from its form, and the problems found (field -> message id,
    to be translated)."""
    args: dict[str, Any] = {}
    problems: dict[str, str] = {}

    def text(name: str, needed: str | None) -> str:
        value = values.get(name, "").strip()
        if len(value) > MAX_TEXT:
            problems[name] = TOO_LONG
        elif needed and not value:
            problems[name] = needed
        return value

    if transition in STEP_ACTIONS:
        args["step"] = values.get("step", "")
    if transition in ("complete", "verify_commitment"):
        args["result"] = values.get("result", "")
        if args["result"] not in ("pass", "fail"):
            problems["result"] = NEED_RESULT
        note = text("note", NEED_FAIL_NOTE if args["result"] == "fail" else None)
        if transition == "complete" or note:
            args["note"] = note
    elif transition == "reject":
        args["reason"] = text("reason", NEED_REASON)
    elif transition == "request_supplement":
        lines = [line.strip() for line in values.get("items", "").splitlines() if line.strip()]
        if not 1 <= len(lines) <= MAX_ITEMS or any(len(line) > 200 for line in lines):
            problems["items"] = NEED_ITEMS
        args["items"] = lines
        args["reason"] = text("reason", NEED_REASON)
    elif transition == "decide":
        args["outcome"] = values.get("outcome", "")
        if args["outcome"] not in ("approve", "reject"):
            problems["outcome"] = NEED_OUTCOME
        if args["outcome"] == "reject":
            args["reason"] = text("reason", NEED_REASON)
    elif transition == "resolve_objection":
        raw = values.get("index", "")
        args["index"] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 5 else -1
        if values.get("upheld") not in ("uphold", "dismiss"):
            problems["upheld"] = NEED_UPHELD
        args["upheld"] = values.get("upheld") == "uphold"
        args["note"] = text("note", NEED_NOTE)
    elif transition == "reassign":
        args["to"] = values.get("to", "").strip()
        if not re.fullmatch(re.escape(dept) + r"/[a-z0-9._-]{1,64}", args["to"]):
            problems["to"] = NEED_STAFF_ID
    return args, problems
