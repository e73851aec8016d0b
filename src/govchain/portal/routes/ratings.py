"""Ratings (好差评) and service figures: the applicant rates a finished case on its page; staff
answer the follow-ups of bad ratings and read each service's figures (completion rate, digital
take-up, satisfaction, time to decision), the figures GOV.UK services publish.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from govchain.errors import Forbidden
from govchain.node.ratingdesk import answer, figure_book, rate
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.routes.cases import (
    LEVEL_NAMES,
    case_of,
    case_view,
    commit,
    dept_names,
    read_posted,
)
from govchain.portal.web import desk_of, language, redirect, render, require
from govchain.procedures.ratings import MAX_COMMENT, RATEABLE

router = APIRouter(include_in_schema=False)


def _error(request: Request, message: str, **values: Any) -> str:
    return i18n.translations(language(request)).gettext(message) % values


@router.post("/cases/{number}/rating")
async def rate_case(number: str, request: Request) -> Response:
    """Rate a finished case (a ledger transaction); errors go back to the case page."""
    session = require(request, "public")
    data = await read_posted(request, session)
    case = case_of(request, number, session)
    if case["applicant"] != session.user:
        raise Forbidden(f"only the person who applied may rate case {number}", case=number)
    level_text, comment = data.one("level"), data.one("comment")
    errors = []
    if level_text not in ("1", "2", "3", "4", "5"):
        text = _error(request, N_("Choose how satisfied you are"))
        errors.append({"field": "level", "id": "f-level-5", "text": text})
    if len(comment) > MAX_COMMENT:
        text = _error(request, N_("The comment must be at most %(n)s characters"), n=MAX_COMMENT)
        errors.append({"field": "comment", "id": "f-comment", "text": text})
    if errors or case["status"] not in RATEABLE:
        view = case_view(request, case, session)
        return render(
            request, "case.html", status=422, notice="", errors=errors, comment=comment, **view
        )
    desk = desk_of(request)
    await commit(
        request,
        lambda: rate(desk, session.user, session.provider_sid, number, int(level_text), comment),
    )
    return redirect(f"/cases/{number}?done=rated#rating")


@router.get("/staff/figures")
def figures_page(request: Request) -> Response:
    """Each service's figures, with the counts they are made of."""
    session = require(request, "staff")
    book = figure_book(request.app.state, desk_of(request))
    funnel = getattr(request.app.state, "funnel", None)
    online = {} if funnel is None else funnel()
    names = {}
    rows = []
    for code in book.services(session.dept):
        names[code] = desk_of(request).definition(code)["definition"]["name"]
        rows.append(book.figures(code, *online.get(code, (set(), set(), set()))))
    return render(request, "staff_figures.html", rows=rows, names=names, levels=LEVEL_NAMES)


@router.get("/staff/follow-ups")
def follow_ups_page(request: Request) -> Response:
    """Bad ratings of the department's cases waiting for an answer, oldest first."""
    session = require(request, "staff")
    book = figure_book(request.app.state, desk_of(request))
    return render(
        request,
        "staff_follow_ups.html",
        rows=book.follow_ups(session.dept),
        levels=LEVEL_NAMES,
        depts=dept_names(request),
        errors=[],
        done=request.query_params.get("done", ""),
    )


@router.post("/staff/follow-ups/{number}")
async def answer_follow_up(number: str, request: Request) -> Response:
    """Answer one follow-up (a ledger transaction)."""
    session = require(request, "staff")
    data = await read_posted(request, session)
    text = data.one("text")
    if not text or len(text) > MAX_COMMENT:
        book = figure_book(request.app.state, desk_of(request))
        message = N_("Write what was done about it, in at most %(n)s characters")
        return render(
            request,
            "staff_follow_ups.html",
            status=422,
            rows=book.follow_ups(session.dept),
            levels=LEVEL_NAMES,
            depts=dept_names(request),
            errors=[
                {
                    "field": f"text-{number}",
                    "id": f"f-text-{number}",
                    "text": _error(request, message, n=MAX_COMMENT),
                }
            ],
            done="",
        )
    desk = desk_of(request)
    await commit(
        request, lambda: answer(desk, session.dept, session.user, session.role, number, text)
    )
    return redirect("/staff/follow-ups?done=answered")
