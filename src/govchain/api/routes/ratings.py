"""Ratings of finished cases (好差评), their follow-ups, and each service's figures.

The applicant rates a case once it has ended (five levels; 1 or 2 opens a follow-up the handling
department must answer); staff of that department list and answer the open follow-ups and read
the figures of the services (completion rate, digital take-up, satisfaction, time to decision).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from govchain.api.auth import USER, dept_staff, requires
from govchain.api.deps import NodeDep, SettingsDep
from govchain.api.openapi import COMMIT_ANSWERS, problem_responses
from govchain.api.params import DeptPath
from govchain.api.routes.casework import _may_read, _run, desk_of, principal_of
from govchain.errors import NotFound
from govchain.node.ratingdesk import answer, figure_book, rate, rating_of

router = APIRouter(tags=["cases"])

STAFF = dept_staff("officer", "approver", "admin")
"""Staff of the department in the path who answer follow-ups and read figures."""
_STRICT = ConfigDict(extra="forbid", strict=True)


class RatingCreate(BaseModel):
    """An applicant's rating of a finished case."""

    model_config = _STRICT
    level: Annotated[int, Field(ge=1, le=5)]
    """1 very dissatisfied, 2 dissatisfied, 3 neutral, 4 satisfied, 5 very satisfied."""
    comment: str = Field(default="", max_length=500)


class FollowUpAnswer(BaseModel):
    """A department's answer to a bad rating."""

    model_config = _STRICT
    text: str = Field(min_length=1, max_length=500)


@router.post(
    "/v1/cases/{number}/rating",
    status_code=201,
    dependencies=[requires(USER)],
    summary="Rate a finished case (好差评; ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "Only the applicant rates a case.",
            404: "No case with this number.",
            409: "The case has not ended yet, or it has already been rated.",
        }
    ),
)
async def rate_case(
    number: str, body: RatingCreate, request: Request, node: NodeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Once per case, after it ended (decided, issued, closed or withdrawn). A rating of 1 or 2
    opens a follow-up the handling department must answer within five working days."""
    p = principal_of(request)
    desk = desk_of(request)
    return await _run(
        request,
        node,
        settings,
        lambda: rate(desk, p.user, p.sid, number, body.level, body.comment),
    )


@router.get(
    "/v1/cases/{number}/rating",
    dependencies=[requires(USER)],
    summary="A case's rating and its follow-up",
    responses=problem_responses({403: "Not your case.", 404: "No such case, or no rating."}),
)
def show_rating(number: str, request: Request) -> dict[str, Any]:
    """The applicant (or a person acting for the enterprise) and the handling staff."""
    desk = desk_of(request)
    _may_read(desk, desk.case(number), principal_of(request))
    found = rating_of(desk, number)
    if found is None:
        raise NotFound(f"case {number} has no rating", case=number)
    return found


@router.get(
    "/v1/departments/{dept}/follow-ups",
    dependencies=[requires(STAFF)],
    summary="Bad ratings the department has not answered yet",
)
def follow_ups(dept: DeptPath, request: Request) -> dict[str, Any]:
    """Oldest first, each with its due time (``follow_up.due_ms``)."""
    book = figure_book(request.app.state, desk_of(request))
    return {"dept": dept, "follow_ups": book.follow_ups(dept)}


@router.post(
    "/v1/departments/{dept}/follow-ups/{number}",
    dependencies=[requires(STAFF)],
    summary="Answer a bad rating's follow-up (ledger transaction)",
    responses=problem_responses(
        {
            **COMMIT_ANSWERS,
            403: "The follow-up is another department's.",
            404: "The case has no rating.",
            409: "The rating has no open follow-up.",
        }
    ),
)
async def answer_follow_up(
    dept: DeptPath,
    number: str,
    body: FollowUpAnswer,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """What the department did about it; shown to the applicant with the rating."""
    p = principal_of(request)
    desk = desk_of(request)
    return await _run(
        request, node, settings, lambda: answer(desk, dept, p.user, p.role, number, body.text)
    )


@router.get(
    "/v1/departments/{dept}/figures",
    dependencies=[requires(STAFF)],
    summary="The figures of every service with cases (completion, take-up, satisfaction, time)",
)
def figures(dept: DeptPath, request: Request) -> dict[str, Any]:
    """The services the department owns or co-handles. Rates in basis points, mean rating
    times 100, times in working days. Online counts come from the portal's click log when the
    portal runs in this process."""
    book = figure_book(request.app.state, desk_of(request))
    online = online_counts(request.app.state)
    rows = [
        book.figures(code, *online.get(code, (set(), set(), set()))).to_json()
        for code in book.services(dept)
    ]
    return {"dept": dept, "services": rows}


def online_counts(state: Any) -> dict[str, tuple[set[str], set[str], set[str]]]:
    """Per service: who started, who submitted, and which cases were submitted online (from the
    portal's click log when one runs in this process; none otherwise)."""
    funnel = getattr(state, "funnel", None)
    return {} if funnel is None else dict(funnel())
