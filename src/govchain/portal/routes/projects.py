"""Duplication review (项目重复性审查) in the staff workbench: the registry's applications,
systems and projects; one entry with its history, its review (the candidates and, for each,
which function matches which) and its decision; the decision form; merge candidates.

The pages call the same service functions as the API (``desk_for(request.app.state)``, the
``ProjectDesk`` of ``/v1/apps/projects``) and never reach the ledger another way. Every staff
role reads (``READERS``); the decision form is offered only to an approver of a department the
contract lets decide, while the application is pending: ``contract.decision_problem``, the
same function the contract runs, is asked first, so the applicant department's approver sees
the review read-only. A forged post is refused by ``ProjectDesk.decide`` before anything is
signed (and by the contract again when the block runs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from govchain.apps.projects.contract import RECOMMENDATIONS, STATUSES, decision_problem
from govchain.apps.projects.routes import DECIDERS, READERS
from govchain.apps.projects.service import ProjectDesk, desk_for
from govchain.errors import (
    Conflict,
    Forbidden,
    GovchainError,
    InvalidInput,
    NotFound,
    SchemaViolation,
)
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.security import check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import language, redirect, render, require

router = APIRouter(include_in_schema=False)

PAGE = 50
"""Entries one table of the list shows."""
MAX_PAIRS = 200
"""Merge candidates the merge page lists (the most overlapping first)."""
REASON_CHARS = (2, 1000)
"""Shortest and longest reason of a decision (the contract's rule)."""
APPLICATIONS = ("pending", "reviewed")
"""Statuses of an application (before and after its decision)."""
STATUS_LABELS = {
    "in_use": N_("In use"),
    "in_development": N_("In development"),
    "pending": N_("Waiting for review"),
    "reviewed": N_("Reviewed"),
    "retired": N_("Retired"),
}
"""Each status of an entry, as shown."""
RECOMMENDATION_LABELS = {
    "reuse": N_("Reuse a system in use"),
    "join": N_("Join a project in development"),
    "merge": N_("Merge with another application"),
    "build": N_("Build it separately on the common platform"),
}
"""Each recommendation, in words."""
TARGET_STATUSES = {
    "reuse": ("in_use",),
    "join": ("in_development",),
    "merge": ("pending", "reviewed"),
}
"""Status the target of each recommendation must have (``contract.decision_problem``)."""
TARGET_GROUPS = {
    "reuse": N_("To reuse: systems in use"),
    "join": N_("To join: projects in development"),
    "merge": N_("To merge with: other applications"),
}
"""The target list's groups."""
RELATIONS = {
    "same": N_("Same department"),
    "related": N_("Related department (same sector)"),
    "other": N_("Department of another sector"),
}
"""How a candidate's department relates to the applicant's."""
CHANGES = {
    "registered": N_("Registered"),
    "updated": N_("Changed by its keeper"),
    "retired": N_("Retired"),
    "reviewed": N_("Reviewed"),
}
"""What each version of an entry changed."""
STARTED = {
    "in_use": N_("In use since"),
    "in_development": N_("Started on"),
    "pending": N_("Applied on"),
    "reviewed": N_("Applied on"),
    "retired": N_("Started on"),
}
"""What an entry's start date means, by its status."""

NEED_RECOMMENDATION = N_("Choose a recommendation")
NEED_TARGET = N_("Choose the entry to reuse, join or merge with")
WRONG_TARGET = N_("Choose one of the entries listed for this recommendation")
NO_TARGET = N_("A recommendation to build has no target: choose none")
NEED_REASON = N_("Write the reason, {shortest} to {longest} characters")
SELF_REVIEW = N_("Your department applied for this project: another department reviews it.")
NOT_PENDING = N_("This application has been decided already: nothing was recorded.")
NOT_DECIDER = N_("Only an approver records a review decision.")
_HASH = re.compile(r"[0-9a-f]{64}")


def reader(request: Request) -> PortalSession:
    """The logged-in staff member, if their role reads the registry (``Forbidden`` if not)."""
    session = require(request, "staff")
    if session.role not in READERS:
        raise Forbidden("the registry of government IT systems is for department staff")
    return session


def may_decide(
    entry: Mapping[str, Any], dept: str, role: str, review: Mapping[str, Any] | None
) -> bool:
    """Whether a staff member may record the decision on an entry now: an approver, of a
    department the contract lets review it, while it is pending (with its review at hand)."""
    if role not in DECIDERS or entry.get("status") != "pending" or review is None:
        return False
    # The contract's own check, with a decision that is otherwise acceptable: only who decides
    # and when can make it fail.
    code, _ = decision_problem(dict(entry), dept, "build", None, None, "--", dict(review))
    return code == ""


def form_problems(
    values: Mapping[str, str], candidates: Sequence[Mapping[str, Any]]
) -> tuple[str, str | None, str, dict[str, str]]:
    """The decision a form asks for (recommendation, target or ``None``, reason) and the
    problems found (field -> message id): the target must be one of the review's candidates
    of the fitting status (none for build), the reason 2 to 1000 characters."""
    problems: dict[str, str] = {}
    recommendation = values.get("recommendation", "")
    target = values.get("target", "").strip() or None
    reason = values.get("reason", "").strip()
    if recommendation not in RECOMMENDATIONS:
        problems["recommendation"] = NEED_RECOMMENDATION
    elif recommendation == "build":
        if target is not None:
            problems["target"] = NO_TARGET
    elif target is None:
        problems["target"] = NEED_TARGET
    elif not any(
        c["id"] == target and c["status"] in TARGET_STATUSES[recommendation] for c in candidates
    ):
        problems["target"] = WRONG_TARGET
    if not REASON_CHARS[0] <= len(reason) <= REASON_CHARS[1]:
        problems["reason"] = NEED_REASON
    return recommendation, target, reason, problems


# --- reading ------------------------------------------------------------------------------------


def _say(request: Request, message: str, **params: str | int) -> str:
    """A message in the request's language, with its ``{name}`` places filled."""
    return i18n.translations(language(request)).gettext(message).format(**params)


def _dept_names(desk: ProjectDesk) -> dict[str, str]:
    """Department names: the registry's, then the network's members' (which win)."""
    names = {str(e["department"]): str(e["department_name"]) for e in desk.registry().entries}
    names.update({d.id: d.name for d in desk.node.genesis.departments})
    return names


def _version_before(desk: ProjectDesk, entry_id: str, height: int | None) -> dict[str, Any] | None:
    """An entry as it was before block ``height`` (its current version when ``None``; ``None``
    if it did not exist then)."""
    if height is None:
        return desk.registry().by_id.get(entry_id) or desk.entry(entry_id)
    found = None
    for version in desk.history(entry_id):
        if version["height"] < height:
            found = version["record"]
    return found


def _candidates(
    desk: ProjectDesk,
    application: Mapping[str, Any],
    review: Mapping[str, Any],
    height: int | None,
    dept: str,
) -> list[dict[str, Any]]:
    """The review's candidates as shown: each with the alignment of the application's
    functions with its own, side by side (every function of the application, matched or
    not), read as both entries were when the review was made."""
    own = list(application["functions"])
    out = []
    for c in review["candidates"]:
        try:
            other = _version_before(desk, c["id"], height)
        except NotFound:
            other = None
        theirs = list(other["functions"]) if other else []
        by_function = {int(m["function"]): m for m in c["functions"]}
        rows = []
        for i, sentence in enumerate(own):
            m = by_function.get(i)
            j = m.get("matches") if m else None
            rows.append(
                {
                    "number": i + 1,
                    "function": sentence,
                    "matches": j + 1 if j is not None else None,
                    "match": theirs[j] if j is not None and 0 <= j < len(theirs) else "",
                    "score": m["score"] if m else None,
                }
            )
        out.append(
            {
                **c,
                "department_name": c.get("department_name") or c["department"],
                "rows": rows,
                "matched": len(by_function),
                "mine": c["department"] == dept,
            }
        )
    return out


def _review_of(
    desk: ProjectDesk, entry: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, int | None]:
    """An application's review and decision, and the height the review was made before: the
    recorded evidence of a decided one (what the decision rests on), else a review now."""
    if entry["status"] == "reviewed":
        decision = desk.decision(entry["id"])
        return dict(decision["evidence"]), decision, int(decision["height"])
    if entry["status"] == "pending":
        review = desk.review(entry["id"])
        review.pop("height", None)
        return review, None, None
    return None, None, None


def _entry_page(
    request: Request,
    session: PortalSession,
    entry_id: str,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    tx: str = "",
) -> Response:
    """An entry's page, with the form's answers and problems after a refused post, and the
    notice of a decision just recorded in transaction ``tx``."""
    desk = desk_for(request.app.state)
    entry = desk.entry(entry_id)
    history = desk.history(entry_id)
    review, decision, height = _review_of(desk, entry)
    application = entry
    if height is not None:  # the application as the review saw it
        application = _version_before(desk, entry_id, height) or entry
    candidates = _candidates(desk, application, review, height, session.dept) if review else []
    deciding = may_decide(entry, session.dept, session.role, review)
    chosen = dict(values or {})
    if deciding and not chosen and review is not None:
        chosen = {"recommendation": review["recommendation"], "target": review["target"] or ""}
    return render(
        request,
        "projects_entry.html",
        status=status,
        session=session,
        entry=entry,
        history=history,
        review=review,
        decision=decision,
        application_functions=application["functions"],
        candidates=candidates,
        deciding=deciding,
        targets={
            rec: [c for c in candidates if c["status"] in wanted]
            for rec, wanted in TARGET_STATUSES.items()
        },
        errors=dict(errors or {}),
        values=chosen,
        done=bool(decision and _HASH.fullmatch(tx) and decision["tx_id"] == tx),
        depts=_dept_names(desk),
        **_labels(),
    )


def _labels() -> dict[str, Any]:
    """The labels the pages translate (statuses, recommendations …) and the reason's length."""
    return {
        "statuses": STATUS_LABELS,
        "recommendations": RECOMMENDATION_LABELS,
        "relations": RELATIONS,
        "changes": CHANGES,
        "started": STARTED,
        "groups": TARGET_GROUPS,
        "reason_chars": REASON_CHARS,
    }


def _table(
    desk: ProjectDesk, status: str, department: str, q: str, after: str, alone: bool
) -> dict[str, Any]:
    """One page of entries of a status, each reviewed application with its decision, and the
    links on: the next page (the table shown alone) or the whole list of that status."""
    found = desk.entries(status=status, department=department, query=q, after=after, limit=PAGE)
    rows = []
    for e in found["entries"]:
        decision = desk.decision(e["id"]) if e["status"] == "reviewed" else None
        rows.append({"entry": e, "decision": decision})
    base = {"status": status, "department": department, "q": q}
    more = ""
    if found["next"] is not None:
        more = _link(**base, after=found["next"] if alone else "")
    return {
        "status": status,
        "rows": rows,
        "total": found["total"],
        "more": more,
        "first": _link(**base) if alone and after else "",
    }


def _link(**params: str) -> str:
    """The list page with the non-empty parameters."""
    kept = {k: v for k, v in params.items() if v}
    return "/staff/projects" + ("?" + urlencode(kept) if kept else "")


# --- pages --------------------------------------------------------------------------------------


@router.get("/staff/projects")
def entries(
    request: Request,
    status: Annotated[str, Query(max_length=20)] = "",
    department: Annotated[str, Query(max_length=32)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The applications (waiting for review, and reviewed with their decision), or the
    registry's entries of one status; filtered by department and words, in id order."""
    session = reader(request)
    if status and status not in STATUSES:
        raise SchemaViolation(f"status must be one of {', '.join(STATUSES)}", field="status")
    desk = desk_for(request.app.state)
    q = " ".join(q.split())
    shown = (status,) if status else APPLICATIONS
    tables = [_table(desk, s, department, q, after if status else "", bool(status)) for s in shown]
    names = _dept_names(desk)
    in_registry = sorted({str(e["department"]) for e in desk.registry().entries})
    return render(
        request,
        "projects.html",
        session=session,
        view=status,
        department=department,
        q=q,
        after=after,
        tables=tables,
        departments=[(code, names.get(code, code)) for code in in_registry],
        dept_name=names.get(session.dept, session.dept),
        mine_link=_link(status=status, department=session.dept, q=q),
        **_labels(),
    )


@router.get("/staff/projects/merges")
def merges(request: Request) -> Response:
    """Pairs of pending applications that ask for the same or overlapping things."""
    session = reader(request)
    desk = desk_for(request.app.state)
    found = desk.merge_candidates()
    registry = desk.registry().by_id
    names = _dept_names(desk)
    pairs = []
    for p in found["pairs"][:MAX_PAIRS]:
        sides = []
        for side in ("first", "second"):
            e = registry.get(p[side], {})
            code = p[side + "_department"]
            sides.append(
                {
                    "id": p[side],
                    "name": p[side + "_name"],
                    "department": code,
                    "department_name": e.get("department_name") or names.get(code, code),
                    "budget_fen": int(e.get("budget_fen", 0)),
                    "mine": code == session.dept,
                }
            )
        pairs.append({**p, "sides": sides})
    return render(
        request,
        "projects_merges.html",
        session=session,
        pairs=pairs,
        count=found["count"],
        height=found["height"],
        shown=len(pairs),
    )


@router.get("/staff/projects/{entry_id}")
def show_entry(
    entry_id: str, request: Request, tx: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """An entry: its fields and history; for an application its review (the candidates and
    the functions each matches) and decision, and the decision form for who may decide."""
    session = reader(request)
    return _entry_page(request, session, entry_id, tx=tx)


@router.post("/staff/projects/{entry_id}/decision")
def decide(
    entry_id: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    recommendation: Annotated[str, Form(max_length=20)] = "",
    target: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Record the decision on a pending application (an approver of a department that may
    review it). Who decides is checked first: a refusal is shown on the page (403 for a
    department that may not decide, 409 once decided); then the form, its problems next to
    its fields (422); nothing is signed before both pass. Success returns to the entry with
    the transaction that recorded it."""
    session = reader(request)
    check_csrf(request, session.csrf, csrf)
    if session.role not in DECIDERS:
        raise Forbidden(_say(request, NOT_DECIDER))
    desk = desk_for(request.app.state)
    entry = desk.entry(entry_id)
    values = {"recommendation": recommendation, "target": target, "reason": reason}

    def refused(status: int, message: str) -> Response:
        errors = {"": _say(request, message)}
        return _entry_page(request, session, entry_id, status=status, errors=errors, values=values)

    if entry["status"] != "pending":
        return refused(409, NOT_PENDING)
    review = desk.review(entry_id)
    review.pop("height", None)
    if not may_decide(entry, session.dept, session.role, review):
        return refused(403, SELF_REVIEW)
    rec, chosen, text, problems = form_problems(values, review["candidates"])
    lo, hi = REASON_CHARS
    errors = {k: _say(request, v, shortest=lo, longest=hi) for k, v in problems.items()}
    status = 422
    if not errors:
        try:  # the desk checks again, with the contract's function, before it signs
            done = desk.decide(session.dept, session.user, entry_id, rec, chosen, text)
        except Forbidden as exc:  # the contract's self_review
            status, errors = 403, {"": exc.message}
        except Conflict as exc:  # decided meanwhile, or refused when the block ran
            not_pending = exc.fields.get("field") == "application"
            status, errors = 409, {"": _say(request, NOT_PENDING) if not_pending else exc.message}
        except (InvalidInput, NotFound) as exc:  # e.g. the target changed status meanwhile
            errors = {str(exc.fields.get("field") or ""): exc.message}
        except GovchainError as exc:  # e.g. the evidence the node computed was refused
            status, errors = 409, {"": exc.message}
        else:
            return redirect(f"/staff/projects/{quote(entry_id)}?tx={done['tx_id']}#decision")
    return _entry_page(request, session, entry_id, status=status, errors=errors, values=values)
