"""Decision support (部门决策) in the staff workbench: every department's cases, processing time
and overdue rate side by side, and the staff member's own department in detail (per service, per
month), over a period they choose, with charts and CSV / XLSX downloads.

The pages read the analytics index through the same functions as ``/v1/analytics/decisions``
(``analytics.decisions``, ``analytics.export``), never the node's hot path, and who may read what
is the API's rule: department staff (admin, officer, auditor) see the overview, and a
department's report is for its own staff.

Charts are drawn by ``static/charts.js`` with the vendored Apache ECharts, which this module also
serves gzip-compressed (``/assets/echarts-…``): 500 KB as it is, about 170 KB compressed, and
only the pages with a chart load it.
"""

from __future__ import annotations

import datetime
import gzip
import threading
from collections.abc import Mapping
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from govchain.analytics.decisions import (
    DepartmentReport,
    Period,
    department_report,
    departments_overview,
    period_of,
)
from govchain.analytics.export import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    Table,
    hours,
    overview_table,
    report_tables,
    to_csv,
    to_xlsx,
)
from govchain.analytics.follow import index_for
from govchain.analytics.queries import day_of, day_start_ms
from govchain.errors import Forbidden, GovchainError, SchemaViolation
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.security import HEADERS
from govchain.portal.sessions import PortalSession
from govchain.portal.web import desk_of, language, render, require

router = APIRouter(include_in_schema=False)

READERS = ("admin", "officer", "auditor")
"""Staff roles that read decision support (those of ``/v1/analytics/decisions``)."""
INDEX_WAIT_S = 10.0
"""How long a page waits for the index to hold the blocks committed before it was asked."""
ECHARTS = "echarts-6.1.0.simple.min.js"
"""The vendored ECharts build (line, bar and pie), under ``static/vendor``."""
ECHARTS_PATH = "/assets/" + ECHARTS
"""Where the pages load it from (compressed when the browser accepts gzip)."""
COLUMN_TITLES = {
    "service": N_("Service"),
    "department": N_("Department"),
    "month": N_("Month"),
    "opened": N_("Opened"),
    "decided": N_("Cases decided"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "mean_hours": N_("Mean processing time (hours)"),
    "decided_late": N_("Decided late"),
    "overdue_permille": N_("Overdue rate (‰)"),
    "open": N_("Open now"),
    "open_late": N_("Open past the limit"),
}
"""Column titles of the tables and downloads, as message ids (translated per page)."""
PRESETS = (30, 90, 365)
"""Periods offered as links, in days up to the last indexed day."""


def reader(request: Request) -> PortalSession:
    """The logged-in staff member, if their role reads decision support (``Forbidden`` if
    not)."""
    session = require(request, "staff")
    if session.role not in READERS:
        raise Forbidden("decision support is for department staff (admin, officer, auditor)")
    return session


def parse_day(value: str, field: str) -> int | None:
    """The day number (UTC+8) of a ``YYYY-MM-DD`` date ('' gives ``None``)."""
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise SchemaViolation("a date is written YYYY-MM-DD", field=field) from None
    return (day - datetime.date(1970, 1, 1)).days


def iso_day(day: int) -> str:
    """The ``YYYY-MM-DD`` date of a day number."""
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def choose_period(request: Request, first: str, last: str) -> tuple[Period, list[dict[str, str]]]:
    """The period a page shows: the days ``first`` to ``last`` inclusive, or the default
    one; with the errors of what was refused (each naming its field), the default then."""
    index = index_for(request.app.state)
    request.app.state.analytics.wait_caught_up(INDEX_WAIT_S)
    errors = []
    try:
        start, end = parse_day(first, "from"), parse_day(last, "to")
        from_ms = None if start is None else day_start_ms(start)
        to_ms = None if end is None else day_start_ms(end + 1)
        return period_of(index, from_ms, to_ms), []
    except SchemaViolation as exc:
        errors.append({"field": str(exc.fields.get("field", "from")), "message": exc.message})
    return period_of(index), errors


def period_context(period: Period) -> dict[str, Any]:
    """What the period form and the preset links show."""
    first, end = period.days
    last_indexed = day_of(period.now_ms - 1)
    return {
        "first": iso_day(first),
        "last": iso_day(end - 1),
        "presets": [
            {"days": n, "from": iso_day(last_indexed - n + 1), "to": iso_day(last_indexed)}
            for n in PRESETS
        ],
        "as_of": period.now_ms - 1,
    }


def titles(lang: str) -> dict[str, str]:
    """The column titles in a language."""
    tr = i18n.translations(lang)
    return {key: tr.gettext(msg) for key, msg in COLUMN_TITLES.items()}


def dept_names(request: Request, lang: str) -> dict[str, str]:
    """Department id → name (the genesis holds the Chinese name)."""
    return {
        d.id: d.name if lang == "zh" else d.id for d in desk_of(request).node.genesis.departments
    }


def service_names(request: Request, lang: str) -> dict[str, str]:
    """Service code → name in the language, from the committed definitions."""
    try:
        found = desk_of(request).node.query("services", "definitions", {})
    except GovchainError:
        return {}
    return {d["code"]: i18n.text(lang, d.get("name", d["code"])) for d in found if d}


def month_series(report: DepartmentReport) -> dict[str, Any]:
    """The monthly trend as chart data: labels and the series of each chart."""
    months = report.months
    return {
        "labels": [m.month for m in months],
        "cases": [[m.opened for m in months], [m.decided for m in months]],
        "hours": [hours(m.mean_ms) for m in months],
        "overdue": [m.overdue_permille for m in months],
    }


def _download(body: bytes, media: str, name: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _export(tables: list[Table], fmt: str, stem: str, lang: str) -> Response:
    names = titles(lang)
    if fmt == "xlsx":
        return _download(to_xlsx(tables, names), XLSX_MEDIA_TYPE, f"{stem}.xlsx")
    return _download(to_csv(tables[0], names), CSV_MEDIA_TYPE, f"{stem}.csv")


@router.get("/staff/decisions")
def overview(
    request: Request,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """Every department's cases, processing time and overdue rate over a period."""
    session = reader(request)
    lang = language(request)
    period, errors = choose_period(request, first, last)
    index = index_for(request.app.state)
    lines = departments_overview(index, period)
    names = dept_names(request, lang)
    return render(
        request,
        "decisions.html",
        session=session,
        lines=lines,
        names=names,
        errors=errors,
        hours=hours,
        period=period_context(period),
        query=_query(period),
        by_dept={
            "labels": [names.get(d.department, d.department) for d in lines],
            "opened": [d.opened for d in lines],
            "decided": [d.decided for d in lines],
            "hours": [hours(d.mean_ms) for d in lines],
            "overdue": [d.overdue_permille for d in lines],
        },
    )


@router.get("/staff/decisions/download")
def overview_download(
    request: Request,
    fmt: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")] = "csv",
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """The overview as CSV or XLSX, column titles in the page's language."""
    reader(request)
    period, errors = choose_period(request, first, last)
    _refuse(errors)
    lines = departments_overview(index_for(request.app.state), period)
    return _export([overview_table(lines)], fmt, _stem("departments", period), language(request))


DeptPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]


def own_department(session: PortalSession, dept: str) -> None:
    """Refuse a department's report to staff of another department (the API's rule)."""
    if session.dept != dept:
        raise Forbidden(f"staff of {session.dept} may not read the report of {dept}", dept=dept)


@router.get("/staff/decisions/{dept}")
def department(
    request: Request,
    dept: DeptPath,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """A department's cases per service, processing times, overdue rates and monthly trend."""
    session = reader(request)
    own_department(session, dept)
    lang = language(request)
    period, errors = choose_period(request, first, last)
    report = department_report(index_for(request.app.state), dept, period)
    services = service_names(request, lang)
    return render(
        request,
        "decisions_department.html",
        session=session,
        report=report,
        totals=report.totals(),
        dept_name=dept_names(request, lang).get(dept, dept),
        services=services,
        errors=errors,
        hours=hours,
        period=period_context(period),
        query=_query(period),
        months=month_series(report),
        by_service={
            "labels": [services.get(s.service, s.service) for s in report.services],
            "opened": [s.opened for s in report.services],
        },
    )


@router.get("/staff/decisions/{dept}/download")
def department_download(
    request: Request,
    dept: DeptPath,
    fmt: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")] = "csv",
    table: Annotated[str, Query(pattern="^(services|months)$")] = "services",
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """A department's report as CSV (one table: ``services`` or ``months``) or XLSX (both,
    a sheet each), column titles in the page's language."""
    session = reader(request)
    own_department(session, dept)
    period, errors = choose_period(request, first, last)
    _refuse(errors)
    tables = report_tables(department_report(index_for(request.app.state), dept, period))
    if fmt == "csv":
        tables = [t for t in tables if t.name == table]
    stem = _stem(f"{dept}-{table}" if fmt == "csv" else f"{dept}-decisions", period)
    return _export(tables, fmt, stem, language(request))


def _refuse(errors: list[dict[str, str]]) -> None:
    if errors:
        raise SchemaViolation(errors[0]["message"], field=errors[0]["field"])


def _query(period: Period) -> str:
    first, end = period.days
    return f"from={iso_day(first)}&to={iso_day(end - 1)}"


def _stem(name: str, period: Period) -> str:
    first, end = period.days
    return f"{name}-{iso_day(first)}-{iso_day(end - 1)}"


# --- the charting library, compressed ------------------------------------------------------

_ECHARTS: dict[str, bytes] = {}
_ECHARTS_LOCK = threading.Lock()


def echarts_bodies() -> Mapping[str, bytes]:
    """The vendored ECharts as it is (``identity``) and gzip-compressed (``gzip``), read and
    compressed once per process."""
    with _ECHARTS_LOCK:
        if not _ECHARTS:
            raw = resources.files("govchain.portal").joinpath("static/vendor", ECHARTS).read_bytes()
            # mtime=0: the same bytes on every start, so caches and ETags stay valid.
            _ECHARTS.update(identity=raw, gzip=gzip.compress(raw, compresslevel=9, mtime=0))
        return _ECHARTS


@router.get(ECHARTS_PATH)
def echarts(request: Request) -> Response:
    """The charting library, gzip-compressed when the browser accepts it; cached for a year
    (its name changes with its version)."""
    bodies = echarts_bodies()
    accepts = request.headers.get("accept-encoding", "")
    zipped = any(part.split(";")[0].strip() == "gzip" for part in accepts.split(","))
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if zipped:
        headers["Content-Encoding"] = "gzip"
    body = bodies["gzip" if zipped else "identity"]
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
