"""The analytics index (status, verification, rebuild) and decision support per department,
as JSON, CSV or XLSX. The index follows the node's commits in the background
(``analytics.follow``); these routes read it, never the node's hot path."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from govchain.analytics.decisions import department_report, departments_overview, period_of
from govchain.analytics.export import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    overview_table,
    report_tables,
    to_csv,
    to_xlsx,
)
from govchain.analytics.follow import index_for
from govchain.analytics.index import AnalyticsIndex
from govchain.api.auth import dept_staff, requires, staff
from govchain.api.deps import NodeDep
from govchain.api.openapi import problem_responses
from govchain.procedures.calendar import MAX_MS

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

READERS = ("admin", "officer", "auditor")
"""Staff roles that read decision support."""
Format = Literal["json", "csv", "xlsx"]
DeptPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
FromMs = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_MS,
        description="Start of the period (ms, inclusive): before `to_ms`, or without it before "
        "the end of the last indexed block's day.",
    ),
]
ToMs = Annotated[
    int | None, Query(ge=1, le=MAX_MS, description="End of the period (ms, exclusive).")
]


_EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figures as JSON, or with `format` as a CSV or XLSX file to download.",
        "content": {
            CSV_MEDIA_TYPE.split(";")[0]: {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **problem_responses(
        {
            422: "A period that is empty: `from_ms` not before `to_ms` (or, without `to_ms`, "
            "not before the end of the last indexed block's day)."
        }
    ),
}
"""The answers of a decision-support route: JSON by default, CSV and XLSX on request."""


def _index(request: Request) -> AnalyticsIndex:
    return index_for(request.app.state)


def _download(body: bytes, media: str, name: str) -> Response:
    return Response(
        body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/status",
    dependencies=[requires(staff(*READERS))],
    summary="The analytics index: height, lag behind the ledger, tables",
)
def status(request: Request, node: NodeDep) -> dict[str, Any]:
    """Height of the last indexed block, how many committed blocks it lags, rows per table."""
    index = _index(request)
    follower = request.app.state.analytics
    return {
        "height": index.height,
        "ledger_height": node.ledger.height,
        "lag": index.lag(node.ledger),
        "tables": index.tables(),
        "extractor_errors": index.extractor_errors,
        "rebuilds": follower.rebuilds,
        "error": None if follower.error is None else follower.error.to_dict(),
    }


@router.post(
    "/verify",
    dependencies=[requires(staff("admin", "auditor"))],
    summary="Compare the index with the ledger, height by height",
)
def verify(request: Request, node: NodeDep) -> dict[str, Any]:
    """Row counts and row hashes per height against the ledger's blocks; differing rows are
    named (``mismatches``)."""
    return _index(request).verify(node.ledger).to_json()


@router.post(
    "/rebuild",
    dependencies=[requires(staff("admin"))],
    summary="Drop the index and build it again from the ledger",
)
def rebuild(request: Request, node: NodeDep) -> dict[str, Any]:
    """Index every committed block again; return the blocks indexed."""
    index = _index(request)
    return {"blocks": index.rebuild(node.ledger), "height": index.height}


@router.get(
    "/decisions",
    dependencies=[requires(staff(*READERS))],
    summary="Cases and processing times of every department",
    responses=_EXPORTS,
)
def overview(
    request: Request,
    from_ms: FromMs = None,
    to_ms: ToMs = None,
    format: Format = "json",
) -> Any:
    """Per department: cases opened and decided in the period, mean processing time, share
    decided after the time limit (per mille)."""
    index = _index(request)
    period = period_of(index, from_ms, to_ms)
    lines = departments_overview(index, period)
    if format == "csv":
        return _download(to_csv(overview_table(lines)), CSV_MEDIA_TYPE, "departments.csv")
    if format == "xlsx":
        return _download(to_xlsx([overview_table(lines)]), XLSX_MEDIA_TYPE, "departments.xlsx")
    return {
        "from_ms": period.from_ms,
        "to_ms": period.to_ms,
        "index_height": index.height,
        "departments": [
            {
                "department": d.department,
                "opened": d.opened,
                "decided": d.decided,
                "mean_ms": d.mean_ms,
                "decided_late": d.decided_late,
                "overdue_permille": d.overdue_permille,
            }
            for d in lines
        ],
    }


@router.get(
    "/decisions/{dept}",
    dependencies=[requires(dept_staff(*READERS))],
    summary="A department's decision support: cases per service, processing time, trends",
    responses=_EXPORTS,
)
def department(
    request: Request,
    dept: DeptPath,
    from_ms: FromMs = None,
    to_ms: ToMs = None,
    format: Format = "json",
) -> Any:
    """Per service: opened, decided, approved, rejected, mean processing time, decided late,
    open now and open past the limit; per month (UTC+8): the trend. Periods are whole days."""
    index = _index(request)
    report = department_report(index, dept, period_of(index, from_ms, to_ms))
    tables = report_tables(report)
    if format == "csv":
        return _download(to_csv(tables[0]), CSV_MEDIA_TYPE, f"{dept}-services.csv")
    if format == "xlsx":
        return _download(to_xlsx(tables), XLSX_MEDIA_TYPE, f"{dept}-decisions.xlsx")
    return report.to_json()
