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

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from govchain.apps.supervision.alerts import post_notices
from govchain.apps.supervision.service import SupervisionDesk, desk_for
from govchain.errors import Forbidden
from govchain.identity.oidc import Principal

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


class ReportCreate(BaseModel):
    """A batch of facts the caller's department holds."""

    model_config = ConfigDict(extra="forbid")

    batch: str = Field(min_length=3, max_length=64)
    """The batch's id (unique)."""
    kind: Literal["tax", "social", "complaint", "penalty", "abnormal", "inspection"]
    """Kind of fact."""
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    """Month."""
    rows: list[list[Any]] = Field(min_length=1, max_length=500)
    """Rows ``[uscc, industry, division, value]``."""


class PlanCreate(BaseModel):
    """An inspection plan of the caller's department."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=3, max_length=64)
    """Plan id."""
    title: str = Field(min_length=2, max_length=200)
    """Title."""
    filter: dict[str, str] = Field(default_factory=dict)
    """Registry filter: ``industry`` and ``division`` prefixes, ``status``."""
    targets: int = Field(ge=1, le=500)
    """Enterprises to inspect."""
    per_target: int = Field(default=2, ge=1, le=5)
    """Inspectors per enterprise."""
    delay: int = Field(default=1, ge=1, le=100)
    """Blocks between the seal and the seed block."""
    weights: dict[str, int] = Field(default_factory=lambda: {"low": 1, "medium": 2, "high": 4})
    """Draw weight of each risk class."""
    inspectors: list[dict[str, Any]] = Field(min_length=1, max_length=200)
    """Pool ``{id, name, division, related}``."""


class ResultCreate(BaseModel):
    """The result of one drawn inspection."""

    model_config = ConfigDict(extra="forbid")

    uscc: str = Field(min_length=18, max_length=18)
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


@public.get("/plans/{plan_id}", summary="One plan (public)")
async def get_plan(plan_id: str, desk: Desk) -> dict[str, Any]:
    """A plan, its rules and inspector pool."""
    return await run_in_threadpool(desk.plan, plan_id)


@public.get("/plans/{plan_id}/draw", summary="A plan's draw (public)")
async def get_draw(plan_id: str, desk: Desk) -> dict[str, Any]:
    """The recorded draw: seed, targets and inspectors, members passed over."""
    return await run_in_threadpool(desk.drawn, plan_id)


@public.get("/plans/{plan_id}/verify", summary="Recompute a draw from the ledger")
async def verify_draw(plan_id: str, desk: Desk) -> dict[str, Any]:
    """Recompute the draw from the plan, its population and the seed block; compare."""
    found = await run_in_threadpool(desk.verify, plan_id)
    return found.to_json()


@public.get("/plans/{plan_id}/results", summary="Published results (public)")
async def get_results(plan_id: str, desk: Desk) -> dict[str, Any]:
    """The published results of a plan's inspections."""
    return {"plan": plan_id, "results": await run_in_threadpool(desk.results, plan_id)}


@user.post("/reports", summary="Report a batch of facts")
async def report(body: ReportCreate, who: Writer, desk: Desk) -> dict[str, Any]:
    """Report a batch of facts held by the caller's department."""
    doc = await run_in_threadpool(
        desk.report, who.dept, who.user, body.batch, body.kind, body.period, body.rows
    )
    return _written(doc)


@user.get("/risk", summary="Risk scores")
async def risk_list(
    who: Reader,
    desk: Desk,
    period: str = "",
    risk: Literal["", "low", "medium", "high"] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Enterprises by risk score, highest first, each with its explanation."""
    return await run_in_threadpool(desk.risk_list, period, risk, limit, offset)


@user.get("/risk/{uscc}", summary="One enterprise's score and its inputs")
async def risk_of(uscc: str, who: Reader, desk: Desk, period: str = "") -> dict[str, Any]:
    """The score, each fact with its value, weight and points, and the monthly series."""
    return await run_in_threadpool(desk.score_of, uscc, period)


@user.get("/indicators", summary="What the indicators flag")
async def indicators(who: Reader, desk: Desk, period: str = "") -> dict[str, Any]:
    """The subjects whose series crossed an indicator's threshold, with the figures."""
    found = await run_in_threadpool(desk.signals, period)
    return {"signals": [s.to_alert() for s in found]}


@user.get("/trend/{subject}", summary="A subject's monthly series")
async def trend(subject: str, who: Reader, desk: Desk) -> dict[str, Any]:
    """The series behind an indicator subject, by month."""
    points = await run_in_threadpool(desk.trend, subject)
    return {"subject": subject, "points": [{"period": p, "value": v} for p, v in points]}


@user.get("/assistance", summary="People who may need assistance (counts)")
async def assistance(who: Reader, desk: Desk, period: str = "") -> dict[str, Any]:
    """Counts by district, cells under 10 suppressed; never names."""
    month, cells, total = await run_in_threadpool(desk.assistance, period)
    return {
        "period": month,
        "cells": [
            {"division": c.group, "count": c.count, "suppressed": c.suppressed} for c in cells
        ],
        "total": total,
    }


@user.get("/alerts", summary="Recorded alerts")
async def alerts(who: Reader, desk: Desk) -> dict[str, Any]:
    """Every alert recorded on the ledger, newest first, with its inputs."""
    return {"alerts": await run_in_threadpool(desk.alerts)}


@user.post("/alerts", summary="Record and deliver the month's alerts")
async def record_alerts(
    request: Request, who: Writer, desk: Desk, period: str = ""
) -> dict[str, Any]:
    """Record every new signal of the month as an alert and post it to its recipients."""
    done = await run_in_threadpool(desk.record_alerts, who.dept, who.user, period)
    from govchain.node.notifications import board_for

    board = board_for(request.app.state)
    names = {i.id: i.name for i in desk.indicators}
    for alert in done:
        await run_in_threadpool(post_notices, board, alert, names[alert["indicator"]])
    return {"recorded": done}


@user.post("/plans", summary="Plan an inspection")
async def open_plan(body: PlanCreate, who: Writer, desk: Desk) -> dict[str, Any]:
    """Commit a plan, its population from the registry and its seal."""
    return _written(await run_in_threadpool(desk.open_plan, who.dept, who.user, body.model_dump()))


@user.post("/plans/{plan_id}/draw", summary="Draw a sealed plan (once)")
async def draw(plan_id: str, who: Writer, desk: Desk) -> dict[str, Any]:
    """Draw targets and inspectors with the seed block; a second draw is refused."""
    return _written(await run_in_threadpool(desk.draw, who.dept, who.user, plan_id))


@user.post("/plans/{plan_id}/results", summary="Publish an inspection's result")
async def publish(plan_id: str, body: ResultCreate, who: Writer, desk: Desk) -> dict[str, Any]:
    """Publish the result of one drawn inspection."""
    doc = await run_in_threadpool(
        desk.publish, who.dept, who.user, plan_id, body.uscc, body.outcome, body.findings
    )
    return _written(doc)
