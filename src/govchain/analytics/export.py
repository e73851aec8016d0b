"""Reports as tables, and tables as CSV and XLSX files (openpyxl), for download and the CLI.

A ``Table`` is what every view of a report shows: the portal's HTML tables, the CLI's Rich
tables and the exported files hold the same columns and the same integer figures. Column titles
are given by the caller (the portal translates them; files use the English keys unless told).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook

from govchain.analytics.decisions import DepartmentReport, DepartmentSummary

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
"""Media type of a CSV export."""
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
"""Media type of an XLSX export."""
SERVICE_COLUMNS = (
    "service",
    "opened",
    "decided",
    "approved",
    "rejected",
    "mean_hours",
    "decided_late",
    "overdue_permille",
    "open",
    "open_late",
)
"""Columns of a report's per-service table."""
MONTH_COLUMNS = ("month", "opened", "decided", "mean_hours", "decided_late", "overdue_permille")
"""Columns of a report's monthly table."""
OVERVIEW_COLUMNS = (
    "department",
    "opened",
    "decided",
    "mean_hours",
    "decided_late",
    "overdue_permille",
)
"""Columns of the departments overview."""
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table of scalar cells."""

    name: str
    """Short name (sheet name, file suffix)."""
    columns: tuple[str, ...]
    """Column keys."""
    rows: tuple[tuple[Any, ...], ...]
    """Rows, each as long as ``columns``."""


def hours(ms: int) -> int:
    """Return whole hours, rounded half up."""
    return (ms * 2 + HOUR_MS) // (2 * HOUR_MS)


def report_tables(report: DepartmentReport) -> list[Table]:
    """Return a department report as its two tables: per service and per month."""
    services = tuple(
        (
            s.service,
            s.opened,
            s.decided,
            s.approved,
            s.rejected,
            hours(s.mean_ms),
            s.decided_late,
            s.overdue_permille,
            s.open,
            s.open_late,
        )
        for s in report.services
    )
    months = tuple(
        (m.month, m.opened, m.decided, hours(m.mean_ms), m.decided_late, m.overdue_permille)
        for m in report.months
    )
    return [Table("services", SERVICE_COLUMNS, services), Table("months", MONTH_COLUMNS, months)]


def overview_table(lines: Sequence[DepartmentSummary]) -> Table:
    """Return the departments overview as a table."""
    return Table(
        "departments",
        OVERVIEW_COLUMNS,
        tuple(
            (
                d.department,
                d.opened,
                d.decided,
                hours(d.mean_ms),
                d.decided_late,
                d.overdue_permille,
            )
            for d in lines
        ),
    )


def _titles(table: Table, titles: dict[str, str] | None) -> list[str]:
    return [titles.get(c, c) if titles else c for c in table.columns]


def to_csv(table: Table, titles: dict[str, str] | None = None) -> bytes:
    """Return one table as UTF-8 CSV with a byte-order mark (so spreadsheet programs read the
    Chinese text as UTF-8), header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_titles(table, titles))
    for row in table.rows:
        # A cell that starts like a formula is written as text (CSV injection).
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@" else v for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def to_xlsx(tables: Sequence[Table], titles: dict[str, str] | None = None) -> bytes:
    """Return tables as one XLSX workbook, a sheet per table, figures as numbers."""
    book = Workbook()
    first = True
    for table in tables:
        sheet = book.active if first else book.create_sheet()
        first = False
        assert sheet is not None  # a new workbook has an active sheet
        sheet.title = table.name[:31]
        sheet.append(_titles(table, titles))
        for row in table.rows:
            sheet.append(list(row))
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text, never a formula
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
