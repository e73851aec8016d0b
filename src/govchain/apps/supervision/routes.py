"""HTTP routes of supervision, mounted under ``/v1/apps/supervision``.

Public (一公开): the plans, their draws, the recomputation of a draw from the ledger and the
published results. Department staff (a login, roles checked per route): reporting facts (the
department's own kinds), risk scores with their explanations, indicators, alerts, the counts of
people who may need assistance, and planning, drawing and publishing inspections. Writes are
signed by the node with the staff member's department key, the member as actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govchain.apps.supervision.alerts import post_notices
from govchain.apps.supervision.contract import (
    MAX_DELAY,
    MAX_INSPECTORS,
    MAX_PER_TARGET,
    MAX_ROWS,
    MAX_TARGETS,
    MAX_VALUE,
)
from govchain.apps.supervision.service import SupervisionDesk, desk_for
from govchain.errors import Forbidden
from govchain.identity.oidc import Principal
from govchain.sdk.answers import COMMIT_ANSWERS, problem_responses

public = APIRouter(tags=["supervision"])
"""Plans, draws, verification and results: public."""
user = APIRouter(tags=["supervision"])
"""Everything else: department staff, roles checked per route."""
ROUTERS = {"public": public, "user": user}
"""Who may call which routes."""

READERS = ("admin", "officer", "inspector", "approver", "auditor")
"""Staff roles that read scores, indicators and alerts."""
WRITERS = ("admin", "officer")
"""Staff roles that report facts, plan, draw, publish and record alerts."""


def _staff(roles: tuple[str, ...]) -> Callable[[Request], Principal]:
    def check(request: Request) -> Principal:
        p: Principal | None = getattr(request.state, "principal", None)
        if p is None or p.kind != "staff" or p.role not in roles:
            raise Forbidden(f"this is for department staff ({', '.join(roles)})")
        return p

    return check


def _desk(request: Request) -> SupervisionDesk:
    return desk_for(request.app.state)


Reader = Annotated[Principal, Depends(_staff(READERS))]
Writer = Annotated[Principal, Depends(_staff(WRITERS))]
Desk = Annotated[SupervisionDesk, Depends(_desk)]

# The shapes the contract's checks accept (``contract.py``), stated so that the description
# says them: a request of another shape is refused with 422 before it reaches the desk.
ID = "^[A-Za-z0-9_-]{3,64}$"
"""A batch, plan or inspector id."""
MONTH = "^(199[0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
"""A month ``YYYY-MM`` from 1990 to 2999."""
USCC = "^[0-9A-HJ-NP-RTUW-Y]{18}$"
"""18 characters of the unified social credit code's alphabet (GB 32100)."""
DIVISION = "^[0-9]{6}$"
"""A six-digit administrative division code (GB/T 2260)."""

Uscc = Annotated[str, Field(pattern=USCC, description="Unified social credit code")]
"""An enterprise's unified social credit code in a body."""
Period = Annotated[
    str,
    Query(
        pattern=f"^({MONTH[1:-1]})?$",
        description="Month `YYYY-MM` (default: the last month with tax facts)",
    ),
]
"""The month a reading is about, as a query parameter."""
FactRow = tuple[
    Uscc,
    Annotated[str, Field(pattern="^[0-9]{2,4}$", description="Industry (GB/T 4754)")],
    Annotated[str, Field(pattern=DIVISION, description="Division (GB/T 2260)")],
    Annotated[int, Field(ge=0, le=MAX_VALUE, description="The fact's value")],
]
"""A fact ``[uscc, industry, division, value]``."""
Subject = Annotated[
    str,
    Path(
        pattern="^(industry-[0-9]{2}|division-[0-9]{6})$",
        description="`industry-<GB/T 4754 division, 2 digits>` or `division-<GB/T 2260 code>`",
    ),
]
"""An indicator's subject: what its series is grouped by, and the group."""

_NOT_STAFF = "The caller is not staff of a role this route is for."
_NO_FACTS = "No facts are reported yet: there is no month to default to."
_READ = problem_responses({403: _NOT_STAFF})
_FACTS = problem_responses({403: _NOT_STAFF, 404: _NO_FACTS})
_NO_PLAN = "There is no such plan."
_NOT_DRAWN = "There is no such plan, or it is not drawn yet."


def _writes(answers: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return problem_responses({**COMMIT_ANSWERS, 403: _NOT_STAFF, **answers})


class ReportCreate(BaseModel):
    """A batch of facts the caller's department holds."""

    model_config = ConfigDict(extra="forbid")

    batch: str = Field(pattern=ID)
    """The batch's id (unique)."""
    kind: Literal["tax", "social", "complaint", "penalty", "abnormal", "inspection"]
    """Kind of fact (tax, social, complaint and abnormal are each held by one department)."""
    period: str = Field(pattern=MONTH)
    """Month."""
    rows: list[FactRow] = Field(min_length=1, max_length=MAX_ROWS)
    """Rows ``[uscc, industry, division, value]``."""


class Weights(BaseModel):
    """The draw weight of each risk class."""

    model_config = ConfigDict(extra="forbid")

    low: int = Field(ge=1, le=100)
    """Weight of a low-risk enterprise."""
    medium: int = Field(ge=1, le=100)
    """Weight of a medium-risk enterprise."""
    high: int = Field(ge=1, le=100)
    """Weight of a high-risk enterprise."""


class Inspector(BaseModel):
    """A member of a plan's inspector pool."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID)
    """Inspector id (unique in the pool)."""
    name: str = Field(min_length=1, max_length=60)
    """Name."""
    division: str = Field(pattern=DIVISION)
    """Division the inspector works in (kept from enterprises registered there)."""
    related: list[Uscc] = Field(max_length=50)
    """Enterprises the inspector declared a relation with."""


class PlanCreate(BaseModel):
    """An inspection plan of the caller's department."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID)
    """Plan id."""
    title: str = Field(min_length=2, max_length=200)
    """Title."""
    filter: dict[
        Literal["industry", "division", "status"], Annotated[str, Field(max_length=10)]
    ] = Field(default_factory=dict)
    """Registry filter: ``industry`` and ``division`` prefixes, ``status``."""
    targets: int = Field(ge=1, le=MAX_TARGETS)
    """Enterprises to inspect."""
    per_target: int = Field(default=2, ge=1, le=MAX_PER_TARGET)
    """Inspectors per enterprise (the pool holds at least as many)."""
    delay: int = Field(default=1, ge=1, le=MAX_DELAY)
    """Blocks between the seal and the seed block."""
    weights: Weights = Field(default_factory=lambda: Weights(low=1, medium=2, high=4))
    """Draw weight of each risk class."""
    inspectors: list[Inspector] = Field(min_length=1, max_length=MAX_INSPECTORS)
    """The inspector pool."""


class ResultCreate(BaseModel):
    """The result of one drawn inspection."""

    model_config = ConfigDict(extra="forbid")

    uscc: Uscc
    """The inspected enterprise."""
    outcome: Literal["pass", "issues", "fail"]
    """Outcome."""
    findings: str = Field(min_length=2, max_length=2000)
    """What was found."""


def _written(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "receipt": f"/v1/transactions/{doc['tx_id']}/receipt"}


@public.get("/plans", summary="Inspection plans (public)")
async def list_plans(desk: Desk) -> dict[str, Any]:
    """Every plan with its status, newest first."""
    plans = await run_in_threadpool(desk.plans)
    return {"plans": plans}


@public.get(
    "/plans/{plan_id}", summary="One plan (public)", responses=problem_responses({404: _NO_PLAN})
)
async def get_plan(plan_id: str, desk: Desk) -> dict[str, Any]:
    """A plan, its rules and inspector pool."""
    return await run_in_threadpool(desk.plan, plan_id)


@public.get(
    "/plans/{plan_id}/draw",
    summary="A plan's draw (public)",
    responses=problem_responses({404: _NOT_DRAWN}),
)
async def get_draw(plan_id: str, desk: Desk) -> dict[str, Any]:
    """The recorded draw: seed, targets and inspectors, members passed over."""
    return await run_in_threadpool(desk.drawn, plan_id)


@public.get(
    "/plans/{plan_id}/verify",
    summary="Recompute a draw from the ledger",
    responses=problem_responses({404: _NOT_DRAWN}),
)
async def verify_draw(plan_id: str, desk: Desk) -> dict[str, Any]:
    """Recompute the draw from the plan, its population and the seed block; compare."""
    found = await run_in_threadpool(desk.verify, plan_id)
    return found.to_json()


@public.get(
    "/plans/{plan_id}/results",
    summary="Published results (public)",
    responses=problem_responses({404: _NO_PLAN}),
)
async def get_results(plan_id: str, desk: Desk) -> dict[str, Any]:
    """The published results of a plan's inspections."""
    return {"plan": plan_id, "results": await run_in_threadpool(desk.results, plan_id)}


@user.post(
    "/reports",
    summary="Report a batch of facts",
    responses=_writes(
        {
            403: f"{_NOT_STAFF} Or facts of this kind are held by another department.",
            409: f"The batch is reported already. {COMMIT_ANSWERS[409]}",
            413: "The batch's transaction is over the network's size limit (`too_large`).",
        }
    ),
)
async def report(body: ReportCreate, who: Writer, desk: Desk) -> dict[str, Any]:
    """Report a batch of facts held by the caller's department."""
    rows = [list(row) for row in body.rows]  # the contract's rows are JSON arrays
    doc = await run_in_threadpool(
        desk.report, who.dept, who.user, body.batch, body.kind, body.period, rows
    )
    return _written(doc)


@user.get("/risk", summary="Risk scores", responses=_FACTS)
async def risk_list(
    who: Reader,
    desk: Desk,
    period: Period = "",
    risk: Literal["", "low", "medium", "high"] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Enterprises by risk score, highest first, each with its explanation."""
    return await run_in_threadpool(desk.risk_list, period, risk, limit, offset)


@user.get(
    "/risk/{uscc}",
    summary="One enterprise's score and its inputs",
    responses=problem_responses(
        {403: _NOT_STAFF, 404: f"{_NO_FACTS} Or none about this enterprise."}
    ),
)
async def risk_of(uscc: str, who: Reader, desk: Desk, period: Period = "") -> dict[str, Any]:
    """The score, each fact with its value, weight and points, and the monthly series."""
    return await run_in_threadpool(desk.score_of, uscc, period)


@user.get("/indicators", summary="What the indicators flag", responses=_FACTS)
async def indicators(who: Reader, desk: Desk, period: Period = "") -> dict[str, Any]:
    """The subjects whose series crossed an indicator's threshold, with the figures."""
    found = await run_in_threadpool(desk.signals, period)
    return {"signals": [s.to_alert() for s in found]}


@user.get("/trend/{subject}", summary="A subject's monthly series", responses=_READ)
async def trend(subject: Subject, who: Reader, desk: Desk) -> dict[str, Any]:
    """The series behind an indicator subject, by month."""
    points = await run_in_threadpool(desk.trend, subject)
    return {"subject": subject, "points": [{"period": p, "value": v} for p, v in points]}


@user.get("/assistance", summary="People who may need assistance (counts)", responses=_FACTS)
async def assistance(who: Reader, desk: Desk, period: Period = "") -> dict[str, Any]:
    """Counts by district, cells under 10 suppressed; never names."""
    month, cells, total = await run_in_threadpool(desk.assistance, period)
    return {
        "period": month,
        "cells": [
            {"division": c.group, "count": c.count, "suppressed": c.suppressed} for c in cells
        ],
        "total": total,
    }


@user.get("/alerts", summary="Recorded alerts", responses=_READ)
async def alerts(who: Reader, desk: Desk) -> dict[str, Any]:
    """Every alert recorded on the ledger, newest first, with its inputs."""
    return {"alerts": await run_in_threadpool(desk.alerts)}


@user.post(
    "/alerts",
    summary="Record and deliver the month's alerts",
    responses=_writes({404: _NO_FACTS}),
)
async def record_alerts(
    request: Request, who: Writer, desk: Desk, period: Period = ""
) -> dict[str, Any]:
    """Record every new signal of the month as an alert and post it to its recipients."""
    done = await run_in_threadpool(desk.record_alerts, who.dept, who.user, period)
    from govchain.node.notifications import board_for

    board = board_for(request.app.state)
    names = {i.id: i.name for i in desk.indicators}
    for alert in done:
        await run_in_threadpool(post_notices, board, alert, names[alert["indicator"]])
    return {"recorded": done}


@user.post(
    "/plans",
    summary="Plan an inspection",
    responses=_writes(
        {
            409: f"A plan with this id exists. {COMMIT_ANSWERS[409]}",
            422: (
                "A field is refused; or inspector ids repeat, the pool is smaller than "
                "`per_target`, or the filter selects no enterprise of the registry."
            ),
        }
    ),
)
async def open_plan(body: PlanCreate, who: Writer, desk: Desk) -> dict[str, Any]:
    """Commit a plan, its population from the registry and its seal."""
    return _written(await run_in_threadpool(desk.open_plan, who.dept, who.user, body.model_dump()))


@user.post(
    "/plans/{plan_id}/draw",
    summary="Draw a sealed plan (once)",
    responses=_writes(
        {
            404: _NO_PLAN,
            409: f"The plan is drawn already. {COMMIT_ANSWERS[409]}",
            503: f"The seed block is not committed yet. {COMMIT_ANSWERS[503]}",
        }
    ),
)
async def draw(plan_id: str, who: Writer, desk: Desk) -> dict[str, Any]:
    """Draw targets and inspectors with the seed block; a second draw is refused."""
    return _written(await run_in_threadpool(desk.draw, who.dept, who.user, plan_id))


@user.post(
    "/plans/{plan_id}/results",
    summary="Publish an inspection's result",
    responses=_writes({404: f"{_NOT_DRAWN} Or the enterprise was not drawn in it."}),
)
async def publish(plan_id: str, body: ResultCreate, who: Writer, desk: Desk) -> dict[str, Any]:
    """Publish the result of one drawn inspection."""
    doc = await run_in_threadpool(
        desk.publish, who.dept, who.user, plan_id, body.uscc, body.outcome, body.findings
    )
    return _written(doc)
