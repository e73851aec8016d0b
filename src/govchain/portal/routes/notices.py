"""The notification centre (消息中心): the notices of the node's notice board that concern the
logged-in person, a bell with the unread count in every page's header, marking them read.

Who sees which notices (``recipients``):

- a citizen: their own, and those of every enterprise they act for (``uscc:<code>``);
- an enterprise's own login: its own and the enterprise's;
- staff: their own and their department's (``dept:<id>``).

A notice addressed to an enterprise or a department is one notice: marking it read marks it
read for everyone who sees it. The bell's count is worked out per page; the enterprises a
person acts for are looked up at most every ``RECIPIENTS_TTL_S`` for it (the notices page
looks them up every time, so a revoked agent stops seeing an enterprise's notices at once).
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response

from govchain.errors import GovchainError, NotFound
from govchain.identity.idnumbers import validate_uscc
from govchain.node.notifications import MAX_MARK, Notice, NoticeBoard, board_for, recipients_for
from govchain.portal.security import check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import node_of, redirect, render, require, session_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Notices on the page."""
RECIPIENTS_TTL_S = 30.0
"""How long the bell reuses the list of enterprises a person acts for."""
_CACHE_MAX = 10_000

_cache: dict[str, tuple[float, tuple[str, ...]]] = {}
_cache_lock = threading.Lock()


def enterprises_of(request: Request, session: PortalSession) -> list[dict[str, Any]]:
    """The enterprises the person acts for (``registry.acting_for``), and for an enterprise's
    own login its own record first."""
    node = node_of(request)
    found: list[dict[str, Any]] = list(
        node.query("registry", "acting_for", {"agent": session.user})
    )
    if session.kind == "enterprise":
        own = _own_uscc(request, session)
        if own and all(f["uscc"] != own for f in found):
            try:
                found.insert(0, node.query("registry", "enterprise", {"uscc": own}))
            except NotFound:  # a login whose enterprise is not in the registry (yet)
                found.insert(0, {"uscc": own, "name": session.name})
    return found


def _own_uscc(request: Request, session: PortalSession) -> str:
    try:
        login = request.app.state.identity.users.get(session.user).login
        return validate_uscc(login)
    except GovchainError:
        return ""


def recipients(request: Request, session: PortalSession, *, fresh: bool = True) -> tuple[str, ...]:
    """The recipients whose notices the session's person sees (module docstring)."""
    if session.kind == "staff":
        return recipients_for(session.user, dept=session.dept)
    now = time.monotonic()
    if not fresh:
        with _cache_lock:
            hit = _cache.get(session.sid)
        if hit is not None and now - hit[0] < RECIPIENTS_TTL_S:
            return hit[1]
    found = recipients_for(
        session.user, usccs=[f["uscc"] for f in enterprises_of(request, session)]
    )
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[session.sid] = (now, found)
    return found


def board(request: Request) -> NoticeBoard:
    """The node's notice board."""
    return board_for(request.app.state)


def unread_for(request: Request, session: PortalSession | None) -> int:
    """The bell's count: unread notices of everyone the person sees notices for."""
    if session is None:
        return 0
    notices = board(request)
    return sum(notices.unread_count(r) for r in recipients(request, session, fresh=False))


def install(app: FastAPI) -> None:
    """Give every page template the bell's count (``notice_bell(request, session)``) and serve
    the notification centre's pages."""
    for env in app.state.portal.templates.values():
        env.globals["notice_bell"] = unread_for
    app.include_router(router)


def _merged(notices: NoticeBoard, whom: tuple[str, ...], unread_only: bool) -> list[Notice]:
    every: list[Notice] = []
    for r in whom:
        every += notices.list(r, unread_only=unread_only, limit=PAGE_SIZE)
    every.sort(key=lambda n: (n.created_ms, int(n.id[1:])), reverse=True)
    return every[:PAGE_SIZE]


@router.get("/notices")
def notices_page(request: Request, unread: Annotated[str, Query(max_length=1)] = "") -> Response:
    """My notices, newest first (only the unread ones with ``unread=1``)."""
    session = require(request)
    firms = {f["uscc"]: f.get("name", f["uscc"]) for f in enterprises_of(request, session)}
    whom = recipients_for(session.user, dept=session.dept if session.kind == "staff" else "",
                          usccs=list(firms))  # fmt: skip
    notices = board(request)
    listed = _merged(notices, whom, unread == "1")
    unread_total = sum(notices.unread_count(r) for r in whom)
    return render(
        request,
        "notices.html",
        session=session,
        notices=listed,
        unread_only=unread == "1",
        unread_total=unread_total,
        firms=firms,
        page_size=PAGE_SIZE,
    )


@router.post("/notices/read")
async def mark_read(request: Request) -> Response:
    """Mark notices read: ``id`` (repeated) or ``all=1``; only notices the person sees."""
    session = session_of(request)
    form = await request.form(max_files=0, max_fields=MAX_MARK + 4)
    if session is None:
        return redirect("/login?next=%2Fnotices")
    csrf = form.get("csrf")
    check_csrf(request, session.csrf, csrf if isinstance(csrf, str) else None)
    notices = board(request)
    whom = recipients(request, session)
    if form.get("all") == "1":
        for r in whom:
            notices.mark_all_read(r)
    else:
        ids = [i for i in form.getlist("id") if isinstance(i, str)][:MAX_MARK]
        for r in whom:
            notices.mark_read(r, ids)
    back = "/notices?unread=1" if form.get("unread") == "1" else "/notices"
    return redirect(back)
