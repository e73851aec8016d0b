"""Enterprise support policies (惠企政策) in the portal.

Staff: the policies with the bulk matching (how many enterprises qualify and nearly qualify,
the expected benefit), one policy with its rule and a test against the registry's enterprises
(sample traces) and, for a proposal, the approval; a page to author a policy (its JSON), lint
and test it and propose it. Enterprises (the legal representative or an agent): the policies
each enterprise they act for qualifies or nearly qualifies for, each clause with the fact's
value, the department and attestation it came from, the grants made without an application,
and a form to decline one.

The pages call the same service functions as the API (``desk_for(request.app.state)``, the
``PolicyDesk`` of ``/v1/apps/policies``) and never reach the ledger another way.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from govchain.apps.policies.routes import APPROVERS, AUTHORS, READERS
from govchain.apps.policies.rules import describe, lint, shipped_policies
from govchain.apps.policies.service import desk_for
from govchain.errors import Forbidden, GovchainError
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.security import check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import language, redirect, render, require

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {
    "qualifies": N_("You qualify"),
    "nearly": N_("One condition is not met"),
    "not": N_("Not eligible"),
}
"""Each matching outcome, as shown."""
POLICY_STATUSES = {
    "proposed": N_("Waiting for approval"),
    "published": N_("Published"),
    "withdrawn": N_("Withdrawn"),
}
"""Each status of a policy, as shown."""
MODES = {
    "automatic": N_("Granted without applying"),
    "application": N_("Apply for it"),
}
"""Each mode of a policy, as shown."""
NOT_READER = N_("Policies are authored and published by department staff.")
NOT_AUTHOR = N_("Only an officer or an administrator proposes policies.")
NOT_APPROVER = N_("Only an approver or an administrator approves policies.")
NOT_JSON = N_("The policy is not valid JSON: {reason}")
NEED_REASON = N_("Say why, in 1 to 500 characters")
NEED_PLEDGE = N_("Pledge that the information is true to apply")
APPLY_FIELDS = (
    ("bank_account_name", N_("Account holder"), "", r".{2,60}"),
    ("bank_name", N_("Bank"), "", r".{2,60}"),
    ("bank_account", N_("Account number"), N_("8 to 30 digits"), r"[0-9]{8,30}"),
    ("contact_name", N_("Contact person"), "", r".{2,40}"),
    ("contact_phone", N_("Contact phone"), N_("A mobile number of 11 digits"), r"1[3-9][0-9]{9}"),
)
"""What the applicant fills in (name, label, hint, pattern): the rest is pre-filled."""
FIELD_PROBLEM = N_("Enter the {label} as asked")


def _say(request: Request, message: str, **params: Any) -> str:
    return i18n.translations(language(request)).gettext(message).format(**params)


def _staff(request: Request, roles: tuple[str, ...], message: str) -> PortalSession:
    session = require(request, "staff")
    if session.role not in roles:
        raise Forbidden(_say(request, message))
    return session


def _labels() -> dict[str, Any]:
    return {"outcomes": STATUS_LABELS, "policy_statuses": POLICY_STATUSES, "modes": MODES}


@router.get("/staff/policies")
def policies_page(request: Request) -> Response:
    """Every policy with how many enterprises qualify and nearly qualify today."""
    session = _staff(request, READERS, NOT_READER)
    desk = desk_for(request.app.state)
    matching = {r["policy"]: r for r in desk.match_all()["policies"]}
    return render(
        request,
        "policies.html",
        session=session,
        records=desk.policies(),
        matching=matching,
        enterprises=len(desk.snapshot().usccs),
        on=desk.today(),
        **_labels(),
    )


@router.get("/staff/policies/new")
def new_policy_page(request: Request) -> Response:
    """The authoring page, started from one of the shipped policies as an example."""
    session = _staff(request, AUTHORS, NOT_AUTHOR)
    example = next(
        (p for p in shipped_policies() if p["issuer"] == session.dept), shipped_policies()[0]
    )
    text = json.dumps(example, ensure_ascii=False, indent=2)
    return render(request, "policies_new.html", session=session, text=text, findings=[],
                  report=None, error="", **_labels())  # fmt: skip


@router.post("/staff/policies/new")
def new_policy(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    policy: Annotated[str, Form(max_length=200_000)] = "",
    action: Annotated[str, Form(max_length=10)] = "test",
) -> Response:
    """Lint and test the policy (``action=test``) or propose it (``action=propose``): the
    findings or the test report are shown on the page; a proposal goes to the policy."""
    session = _staff(request, AUTHORS, NOT_AUTHOR)
    check_csrf(request, session.csrf, csrf)
    desk = desk_for(request.app.state)

    def page(status: int, **extra: Any) -> Response:
        context = {"findings": [], "report": None, "error": ""} | extra
        return render(request, "policies_new.html", status=status, session=session,
                      text=policy, **context, **_labels())  # fmt: skip

    try:
        obj = json.loads(policy)
    except ValueError as exc:
        return page(422, error=_say(request, NOT_JSON, reason=str(exc)))
    findings = lint(obj)
    if findings:
        return page(422, findings=[f.to_json() for f in findings])
    if action != "propose":
        return page(200, report=desk.test_policy(obj))
    try:
        desk.propose(session.dept, session.user, obj)
    except GovchainError as exc:
        return page(409 if exc.code != "forbidden" else 403, error=exc.message)
    return redirect(f"/staff/policies/{obj['id']}")


@router.get("/staff/policies/{policy_id}")
def policy_page(request: Request, policy_id: str) -> Response:
    """One policy: its document, rule and benefit in words, who proposed and approved it,
    its test against the registry's enterprises, and the approval for a proposal."""
    session = _staff(request, READERS, NOT_READER)
    desk = desk_for(request.app.state)
    record = desk.policy(policy_id)
    policy = record["policy"]
    may_approve = (
        record["status"] == "proposed"
        and session.role in APPROVERS
        and (session.dept == policy["issuer"] or session.dept in policy["approvers"])
        and session.user != record["proposed_by"]
    )
    return render(
        request,
        "policies_policy.html",
        session=session,
        record=record,
        policy=policy,
        clauses=[describe(c) for c in _clauses(policy["eligibility"])],
        benefit=_benefit_lines(policy["benefit"]),
        report=desk.test_policy(policy, limit=6),
        may_approve=may_approve,
        grants=[g for g in desk.grants() if g["policy"] == policy_id],
        **_labels(),
    )


@router.post("/staff/policies/{policy_id}/approve")
def approve(
    request: Request,
    policy_id: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    version: Annotated[int, Form(ge=1)] = 1,
) -> Response:
    """Approve (publish) the proposal: another person than its proposer."""
    session = _staff(request, APPROVERS, NOT_APPROVER)
    check_csrf(request, session.csrf, csrf)
    desk_for(request.app.state).approve(session.dept, session.user, policy_id, version)
    return redirect(f"/staff/policies/{policy_id}")


def _clauses(rule: Any) -> list[Any]:
    if isinstance(rule, dict) and list(rule) == ["and"]:
        return list(rule["and"])
    return [rule]


def _benefit_lines(benefit: dict[str, Any]) -> list[dict[str, Any]]:
    if "formula" in benefit:
        return [{"when": "", "amount": describe(benefit["formula"])}]
    return [
        {"when": describe(t["when"]), "amount": describe(t["amount"])} for t in benefit["tiers"]
    ]


# --- enterprises ---------------------------------------------------------------------------------


def _acting(request: Request, session: PortalSession) -> list[dict[str, Any]]:
    desk = desk_for(request.app.state)
    acting = desk.node.query("registry", "acting_for", {"agent": session.user})
    return [e for e in acting if e.get("status") == "active"]


@router.get("/policies/mine")
def my_policies(request: Request) -> Response:
    """The policies each enterprise the person acts for qualifies or nearly qualifies for,
    with the trace of every clause, and the grants made without an application."""
    session = require(request, "public")
    desk = desk_for(request.app.state)
    results = [desk.match(e["uscc"]) for e in _acting(request, session)]
    return _mine(request, session, results, {}, {})


def _mine(
    request: Request,
    session: PortalSession,
    results: list[dict[str, Any]],
    errors: dict[str, str],
    values: dict[str, dict[str, str]],
    status: int = 200,
) -> Response:
    fields = [(name, label, hint) for name, label, hint, _ in APPLY_FIELDS]
    return render(request, "policies_mine.html", status=status, session=session,
                  results=results, errors=errors, values=values, apply_fields=fields,
                  **_labels())  # fmt: skip


@router.post("/policies/mine/{uscc}/{policy_id}/decline")
def decline(
    request: Request,
    uscc: str,
    policy_id: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Decline a grant for an enterprise the person acts for (with a reason)."""
    session = require(request, "public")
    check_csrf(request, session.csrf, csrf)
    if not any(e["uscc"] == uscc for e in _acting(request, session)):
        raise Forbidden(f"{session.user} does not act for {uscc}")
    desk = desk_for(request.app.state)
    reason = reason.strip()
    if not 1 <= len(reason) <= 500:
        results = [desk.match(e["uscc"]) for e in _acting(request, session)]
        errors = {f"{uscc}/{policy_id}": _say(request, NEED_REASON)}
        return _mine(request, session, results, errors, {}, 422)
    desk.decline(uscc, session.user, policy_id, reason)
    return redirect(f"/policies/mine#{policy_id}")


@router.post("/policies/mine/{uscc}/{policy_id}/apply")
async def apply(request: Request, uscc: str, policy_id: str) -> Response:
    """File the policy support application for an enterprise the person acts for: the
    matched facts are pre-filled by the service, the person gives the account and contact
    and pledges; problems are shown next to the fields (422) and nothing is signed."""
    session = require(request, "public")
    form = await request.form()
    posted = {k: str(v)[:200] for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, session.csrf, posted.get("csrf", ""))
    if not any(e["uscc"] == uscc for e in _acting(request, session)):
        raise Forbidden(f"{session.user} does not act for {uscc}")
    desk = desk_for(request.app.state)
    key = f"{uscc}/{policy_id}"
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, label, _, pattern in APPLY_FIELDS:
        value = posted.get(name, "").strip()
        if not re.fullmatch(pattern, value):
            errors[f"{key}/{name}"] = _say(request, FIELD_PROBLEM, label=_say(request, label))
        answers[name] = value
    if posted.get("truthfulness_pledge") != "yes":
        errors[f"{key}/truthfulness_pledge"] = _say(request, NEED_PLEDGE)
    if errors:
        results = [desk.match(e["uscc"]) for e in _acting(request, session)]
        return _mine(request, session, results, errors, {key: answers}, 422)
    answers["truthfulness_pledge"] = True
    filed = await run_in_threadpool(
        desk.apply, uscc, session.user, session.provider_sid, policy_id, answers
    )
    return redirect(f"/cases/{quote(filed['number'], safe='')}/confirmation")
