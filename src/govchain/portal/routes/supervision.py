"""Supervision (监管) in the staff workbench: indicators and recorded alerts with the series
behind them, the risk list with each score's explanation, and the random inspection plans with
their draws, recomputation and published results. Every page is server-rendered and works
without JavaScript; charts are drawn by ``partials/chart.html`` (ECharts), each with its
figures in a table.

The pages call the same service functions as the API (``desk_for(request.app.state)``, the
``SupervisionDesk`` of ``/v1/apps/supervision``) and never reach the ledger another way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from govchain.apps.supervision.routes import READERS
from govchain.apps.supervision.service import desk_for
from govchain.errors import Forbidden, NotFound
from govchain.portal.sessions import PortalSession
from govchain.portal.web import render, require

router = APIRouter(include_in_schema=False)

PAGE = 50
"""Scores one page of the risk list shows."""


def reader(request: Request) -> PortalSession:
    """The logged-in staff member, if their role reads supervision (``Forbidden`` if not)."""
    session = require(request, "staff")
    if session.role not in READERS:
        raise Forbidden("supervision is for department staff")
    return session


def series(subject: str, points: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """Chart data of an indicator subject's monthly series: tax (``industry-…``, reported in
    fen) in whole yuan, insured staff (``division-…``) as counted."""
    in_yuan = subject.startswith("industry-")
    return {
        "labels": [p for p, _ in points],
        "values": [v // 100 if in_yuan else v for _, v in points],
        "unit": "yuan" if in_yuan else "people",
    }


@router.get("/staff/supervision")
def overview(request: Request, period: str = "") -> Response:
    """Indicators, recorded alerts (each with its chart), assistance counts and plans."""
    session = reader(request)
    desk = desk_for(request.app.state)
    try:
        signals = [s.to_alert() for s in desk.signals(period)]
        month, cells, total = desk.assistance(period)
    except NotFound:
        signals, month, cells, total = [], "", [], None
    alerts = desk.alerts()
    trends = {a["subject"]: series(a["subject"], desk.trend(a["subject"])) for a in alerts}
    return render(
        request,
        "supervision.html",
        session=session,
        signals=signals,
        alerts=alerts,
        trends=trends,
        month=month,
        cells=cells,
        total=total,
        plans=desk.plans(),
    )


@router.get("/staff/supervision/risk")
def risk(
    request: Request,
    level: Annotated[str, Query(alias="class")] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The risk list, highest first, each score with the facts that made it."""
    session = reader(request)
    desk = desk_for(request.app.state)
    try:
        doc = desk.risk_list(
            "", level if level in ("low", "medium", "high") else "", PAGE, (page - 1) * PAGE
        )
    except NotFound:
        doc = {"period": "", "counts": {}, "total": 0, "scores": [], "factors": []}
    names = {f["fact"]: f["name"] for f in doc["factors"]}
    return render(
        request,
        "supervision_risk.html",
        session=session,
        doc=doc,
        names=names,
        level=level,
        page=page,
        pages=max(1, -(-doc["total"] // PAGE)),
    )


@router.get("/staff/supervision/plans/{plan_id}")
def plan(request: Request, plan_id: str) -> Response:
    """A plan, its draw, the recomputation of the draw from the ledger and its results."""
    session = reader(request)
    desk = desk_for(request.app.state)
    found = desk.plan(plan_id)
    drawn: dict[str, Any] | None = None
    check: dict[str, Any] | None = None
    if found["status"] == "drawn":
        drawn = desk.drawn(plan_id)
        check = desk.verify(plan_id).to_json()
    return render(
        request,
        "supervision_plan.html",
        session=session,
        plan=found,
        drawn=drawn,
        check=check,
        results=desk.results(plan_id),
    )
