"""Key projects and public-welfare funds (重点项目和公益资金监管) in the staff workbench: the
projects with what is paid and their open flags; one project with its milestones, evidence,
disbursements and flags; one flag with the inputs that raised it, its handling, and the form
of the next handling step for whoever may take it.

The pages call the same service functions as the API (``desk_for(request.app.state)``, the
``FundsDesk`` of ``/v1/apps/funds``). A flag is handled in its case (办件) on the case engine:
the steps here are its transitions (claim or reassign, complete the ``explain`` step, decide),
and the page links to the case in the staff workbench. Who may take a step is asked of the case
engine (``FundsDesk.next_steps``) before a form is shown, and again before anything is signed
(and by the ``cases`` contract when the block runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from govchain.apps.funds.routes import READERS, WRITERS
from govchain.apps.funds.service import FundsDesk, desk_for
from govchain.errors import Conflict, Forbidden, GovchainError, InvalidInput
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.security import check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import language, redirect, render, require

router = APIRouter(include_in_schema=False)

RULE_LABELS = {
    "missing_evidence": N_("Disbursement without its milestone's evidence"),
    "shared_payee": N_("Same payee across unrelated projects"),
    "peer_outlier": N_("Amount out of line with peer projects"),
    "isolation_forest": N_("Irregular payment (isolation forest)"),
}
"""Each rule, in words."""
FLAG_STATUS_LABELS = {
    "open": N_("Open"),
    "assigned": N_("Assigned"),
    "explained": N_("Explained"),
    "closed": N_("Closed"),
}
"""Each status of a flag."""
OUTCOME_LABELS = {"confirmed": N_("Confirmed"), "dismissed": N_("Dismissed")}
"""How a closed flag ended."""
STEP_LABELS = {"assign": N_("Assigned to"), "explain": N_("Explained"), "close": N_("Closed")}
"""Each handling step."""
KIND_LABELS = {
    "photo": N_("Site photo"),
    "acceptance": N_("Acceptance report"),
    "invoice": N_("Invoice"),
}
"""Each kind of evidence."""


def reader(request: Request) -> PortalSession:
    """The logged-in staff member, if their role reads fund supervision."""
    session = require(request, "staff")
    if session.role not in READERS:
        raise Forbidden("fund supervision is for department staff")
    return session


def _labels() -> dict[str, Any]:
    return {
        "rules": RULE_LABELS,
        "flag_statuses": FLAG_STATUS_LABELS,
        "outcomes": OUTCOME_LABELS,
        "steps": STEP_LABELS,
        "kinds": KIND_LABELS,
    }


def _dept_names(desk: FundsDesk) -> dict[str, str]:
    return {d.id: d.name for d in desk.node.genesis.departments}


def next_steps(desk: FundsDesk, flag: Mapping[str, Any], session: PortalSession) -> list[str]:
    """The handling steps the case engine would let this staff member take on the flag now."""
    if session.role not in WRITERS and session.role != "admin":
        return []
    return desk.next_steps(flag, session.dept, session.user, session.role)


@router.get("/staff/funds")
def overview(request: Request) -> Response:
    """The projects (what is paid, open flags) and the flags not closed yet."""
    session = reader(request)
    desk = desk_for(request.app.state)
    projects = desk.projects()
    flags = desk.flags()
    counts = {s: sum(1 for f in flags if f["status"] == s) for s in FLAG_STATUS_LABELS}
    say = i18n.translations(language(request)).gettext
    rules = list(RULE_LABELS)
    categories = sorted({str(p["category"]) for p in projects})
    # Charts take integers: amounts in units of 10,000 yuan (1,000,000 fen), rounded down.
    in_wan = [
        [sum(int(p[key]) for p in projects if p["category"] == c) // 1_000_000 for c in categories]
        for key in ("budget_fen", "paid_fen")
    ]
    return render(
        request,
        "funds.html",
        session=session,
        projects=projects,
        flags=[f for f in flags if f["status"] != "closed"],
        counts=counts,
        rule_names=[say(RULE_LABELS[r]) for r in rules],
        not_closed=[
            sum(1 for f in flags if f["rule"] == r and f["status"] != "closed") for r in rules
        ],
        closed=[sum(1 for f in flags if f["rule"] == r and f["status"] == "closed") for r in rules],
        categories=categories,
        budget_wan=in_wan[0],
        paid_wan=in_wan[1],
        depts=_dept_names(desk),
        may_scan=session.role in WRITERS,
        **_labels(),
    )


@router.post("/staff/funds/scan")
def scan(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Raise flags from the analytics index for the staff member's department."""
    session = reader(request)
    check_csrf(request, session.csrf, csrf)
    if session.role not in WRITERS:
        raise Forbidden("raising flags is for officers, inspectors, approvers and admins")
    desk_for(request.app.state).scan(session.dept, session.user)
    return redirect("/staff/funds#flags")


@router.get("/staff/funds/projects/{project_id}")
def project(project_id: str, request: Request) -> Response:
    """A project: milestones with their evidence, disbursements, flags."""
    session = reader(request)
    desk = desk_for(request.app.state)
    view = desk.project_view(project_id)
    flagged = {f["subject"] for f in view["flags"]}
    by_milestone: dict[str, list[dict[str, Any]]] = {}
    for e in view["evidence"]:
        by_milestone.setdefault(e["milestone"], []).append(e)
    return render(
        request,
        "funds_project.html",
        session=session,
        project=view["project"],
        disbursements=view["disbursements"],
        evidence=by_milestone,
        flags=view["flags"],
        flagged=flagged,
        depts=_dept_names(desk),
        payees={p["id"]: p["name"] for p in view["project"]["payees"]},
        **_labels(),
    )


def _flag_page(
    request: Request,
    session: PortalSession,
    flag_id: str,
    *,
    status: int = 200,
    error: str = "",
    values: Mapping[str, str] | None = None,
) -> Response:
    desk = desk_for(request.app.state)
    flag = desk.flag(flag_id)
    inputs = [
        (k, v if isinstance(v, str) else orjson.dumps(v).decode())
        for k, v in flag["inputs"].items()
    ]
    return render(
        request,
        "funds_flag.html",
        status=status,
        session=session,
        flag=flag,
        inputs=inputs,
        possible=next_steps(desk, flag, session),
        error=error,
        values=dict(values or {}),
        depts=_dept_names(desk),
        **_labels(),
    )


@router.get("/staff/funds/flags/{flag_id}")
def show_flag(flag_id: str, request: Request) -> Response:
    """A flag: what raised it (rule or detector, with its inputs), its handling, and the form
    of the next step for whoever may take it."""
    session = reader(request)
    return _flag_page(request, session, flag_id)


@router.post("/staff/funds/flags/{flag_id}")
def handle_flag(
    flag_id: str,
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    step: Annotated[str, Form(max_length=10)] = "",
    to: Annotated[str, Form(max_length=128)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Take one handling step (assign, explain, close); a refusal is shown on the page with
    what was typed, nothing signed."""
    session = reader(request)
    check_csrf(request, session.csrf, csrf)
    desk = desk_for(request.app.state)
    values = {"step": step, "to": to, "text": text, "outcome": outcome}
    try:
        who = (session.dept, session.user)
        if step == "assign":
            desk.assign(*who, flag_id, to.strip() or session.user, text.strip(), role=session.role)
        elif step == "explain":
            desk.explain(*who, flag_id, text.strip(), role=session.role)
        elif step == "close":
            desk.close(*who, flag_id, outcome, text.strip(), role=session.role)
        else:
            raise InvalidInput("choose a handling step", field="step")
    except Forbidden as exc:
        return _flag_page(request, session, flag_id, status=403, error=exc.message, values=values)
    except Conflict as exc:
        return _flag_page(request, session, flag_id, status=409, error=exc.message, values=values)
    except InvalidInput as exc:
        return _flag_page(request, session, flag_id, status=422, error=exc.message, values=values)
    except GovchainError as exc:
        return _flag_page(request, session, flag_id, status=409, error=exc.message, values=values)
    return redirect(f"/staff/funds/flags/{quote(flag_id)}#handling")
