"""Who acts for my enterprise (企业经办人授权): the enterprises a person acts for, the people
authorised for each; the legal representative (or the enterprise's own login) authorises a
registered user as an agent and revokes an agent, each a ``registry.add_agent`` /
``remove_agent`` ledger transaction signed by the registration authority's node for the person
— the same call as ``POST``/``DELETE /v1/enterprises/{uscc}/agents``. An agent then acts for
the enterprise everywhere in the portal (applications, cases, notices).

Only the legal representative manages agents here: the registry contract lets any person who
acts for an enterprise change its agents (the API keeps that rule); the portal asks for more,
as an agent should not appoint further agents without the representative.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from govchain.errors import Conflict, Forbidden, GovchainError, NotFound, SchemaViolation
from govchain.identity.idnumbers import validate_resident_id, validate_uscc
from govchain.identity.users import User
from govchain.node.notifications import board_for
from govchain.portal.messages import N_
from govchain.portal.routes.notices import enterprises_of
from govchain.portal.security import check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import desk_of, node_of, redirect, render, require
from govchain.procedures.registry_contract import REGISTRATION_AUTHORITY
from govchain.sharing.layout import subject_ref

router = APIRouter(include_in_schema=False)

DONE = {
    "added": N_("The person is authorised to act for the enterprise."),
    "removed": N_("The authorisation is revoked."),
}
"""What the page says once after a change."""
ENTERPRISE_STATUSES = (N_("active"), N_("deregistering"), N_("deregistered"), N_("revoked"))
"""The registry's statuses of an enterprise, as the page names them."""


def _user(request: Request, user_id: str) -> User | None:
    try:
        found: User = request.app.state.identity.users.get(user_id)
        return found
    except NotFound:
        return None


def manages(request: Request, session: PortalSession, ent: dict[str, Any]) -> bool:
    """Whether the person may authorise and revoke the enterprise's agents: its legal
    representative (their identity number's reference is the record's ``legal_rep_ref``) or
    the enterprise's own login, while they act for it."""
    if session.user not in ent.get("agents", ()):
        return False
    me = _user(request, session.user)
    if me is None:
        return False
    if session.kind == "enterprise":
        return me.login == str(ent["uscc"])
    node = node_of(request)
    ref = subject_ref(node.suite, node.genesis.chain_id, me.login)
    return bool(ent.get("legal_rep_ref")) and ref == ent["legal_rep_ref"]


def _mask(login: str) -> str:
    # Enough to recognise one's own people, not enough to learn their numbers.
    return login[:4] + "*" * (len(login) - 8) + login[-4:] if len(login) > 8 else login


def _describe(request: Request, session: PortalSession, agent: str) -> dict[str, Any]:
    user = _user(request, agent)
    return {
        "id": agent,
        "name": user.name if user else "",
        "kind": user.kind if user else agent.partition("/")[0],
        "login": _mask(user.login) if user else "",
        "me": agent == session.user,
    }


def _firms(request: Request, session: PortalSession) -> list[dict[str, Any]]:
    return [
        {
            "uscc": ent["uscc"],
            "name": ent.get("name", ent["uscc"]),
            "status": ent.get("status", ""),
            "manages": manages(request, session, ent),
            "agents": [_describe(request, session, a) for a in ent["agents"]],
        }
        for ent in enterprises_of(request, session)
        if "agents" in ent
    ]


@router.get("/enterprises/agents")
def agents_page(
    request: Request,
    done: Annotated[str, Query(max_length=20)] = "",
    tx: Annotated[str, Query(max_length=64, pattern=r"^[0-9a-f]*$")] = "",
) -> Response:
    """The enterprises I act for, who acts for each, and (for the representative) the forms."""
    session = require(request, "public")
    return render(
        request,
        "agents.html",
        session=session,
        firms=_firms(request, session),
        done=DONE.get(done, ""),
        tx=tx,
        errors={},
        values={},
    )


def _enterprise(request: Request, session: PortalSession, uscc: str) -> dict[str, Any]:
    try:
        code = validate_uscc(uscc)
    except GovchainError:
        raise NotFound("no such enterprise") from None
    ent: dict[str, Any] = node_of(request).query("registry", "enterprise", {"uscc": code})
    if not manages(request, session, ent):
        raise Forbidden(
            "only the legal representative of the enterprise may change who acts for it",
            uscc=code,
        )
    return ent


async def _commit(request: Request, uscc: str, agent: str, method: str, actor: str) -> str:
    desk = desk_of(request)
    timeout = float(request.app.state.settings.wait_timeout_s)

    def run() -> str:
        tx = desk.sign(
            REGISTRATION_AUTHORITY, "registry", method, {"uscc": uscc, "agent": agent}, actor
        )
        desk.commit_one(tx, timeout)
        return tx.tx_id.hex()

    return await run_in_threadpool(run)


def _notify(request: Request, ent: dict[str, Any], agent: str, added: bool, tx: str) -> None:
    """Tell the enterprise (its representative and agents) and the person concerned."""
    name = str(ent.get("name", ent["uscc"]))
    if added:
        title = {"zh": f"已授权经办人：{name}", "en": f"Agent authorised for {name}"}
        body = {
            "zh": f"一名用户已被授权代表{name}办理事项。",
            "en": f"A person was authorised to act for {name}.",
        }
    else:
        title = {"zh": f"已撤销经办人授权：{name}", "en": f"Agent authorisation revoked: {name}"}
        body = {
            "zh": f"一名用户代表{name}办理事项的授权已撤销。",
            "en": f"A person's authorisation to act for {name} was revoked.",
        }
    source = {"tx": tx, "uscc": ent["uscc"], "agent": agent}
    kind = "agent.authorised" if added else "agent.revoked"
    notices = board_for(request.app.state)
    notices.post(f"uscc:{ent['uscc']}", kind, title, body, link="/enterprises/agents",
                 source=source, key=f"tx:{tx}")  # fmt: skip
    notices.post(agent, kind, title, body, link="/enterprises/agents", source=source,
                 key=f"tx:{tx}")  # fmt: skip


@router.post("/enterprises/{uscc}/agents")
async def add_agent(
    uscc: str,
    request: Request,
    login: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Authorise the registered user whose identity number (or credit code) is ``login``."""
    session = require(request, "public")
    check_csrf(request, session.csrf, csrf)
    ent = _enterprise(request, session, uscc)
    error = ""
    agent = None
    value = login.strip().upper()
    try:
        number = validate_uscc(value) if len(value) == 18 and not value[:17].isdigit() else ""
        if not number:
            number = validate_resident_id(value)
        agent = request.app.state.identity.users.find_login(number)
        if agent is None or agent.kind not in ("citizen", "enterprise"):
            error = N_("Nobody with this number has registered with the portal.")
        elif agent.id in ent["agents"]:
            error = N_("This person already acts for the enterprise.")
    except SchemaViolation:
        error = N_("Enter an 18-character resident identity number or credit code.")
    if error or agent is None:
        return _form_again(request, session, uscc, error, value)
    try:
        tx = await _commit(request, ent["uscc"], agent.id, "add_agent", session.user)
    except Conflict as exc:  # another change got there first, or the most agents allowed
        return _form_again(request, session, uscc, exc.message, value)
    _notify(request, ent, agent.id, True, tx)
    return redirect(f"/enterprises/agents?done=added&tx={tx}")


def _form_again(
    request: Request, session: PortalSession, uscc: str, error: str, value: str
) -> Response:
    """The same page with the error next to the field and in the summary at the top."""
    return render(
        request,
        "agents.html",
        status=422,
        session=session,
        firms=_firms(request, session),
        done="",
        tx="",
        errors={uscc: error},
        values={uscc: value},
    )


@router.post("/enterprises/{uscc}/agents/remove")
async def remove_agent(
    uscc: str,
    request: Request,
    agent: Annotated[str, Form(max_length=128)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Revoke an agent's authorisation (not the representative's own)."""
    session = require(request, "public")
    check_csrf(request, session.csrf, csrf)
    ent = _enterprise(request, session, uscc)
    if agent not in ent["agents"]:
        raise NotFound("this person does not act for the enterprise")
    if agent == session.user:
        raise Conflict("you cannot revoke your own authorisation here")
    tx = await _commit(request, ent["uscc"], agent, "remove_agent", session.user)
    _notify(request, ent, agent, False, tx)
    return redirect(f"/enterprises/agents?done=removed&tx={tx}")
