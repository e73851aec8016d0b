"""Decision support per department (部门决策): cases per service, processing time, overdue rate
and monthly trends, read from the analytics index (``queries``).

A report covers a period of whole days (UTC+8) ``[from_ms, to_ms)``; open cases are counted at
the last indexed block (the report's "now": never the wall clock, so the same index gives the
same report). Rates are integers in per mille (‰), rounded half up; times are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govchain.analytics import queries
from govchain.analytics.index import AnalyticsIndex
from govchain.errors import SchemaViolation

DAY_MS = queries.DAY_MS
"""One day in milliseconds."""
DEFAULT_PERIOD_DAYS = 365
"""Period of a report when none is given: the year up to its "as of" time."""


def permille(part: int, whole: int) -> int:
    """Return ``part / whole`` in per mille, rounded half up (0 when ``whole`` is 0)."""
    if whole <= 0:
        return 0
    return (part * 2000 + whole) // (2 * whole)


def mean(total: int, count: int) -> int:
    """Return the integer mean ``total / count`` rounded half up (0 when ``count`` is 0)."""
    if count <= 0:
        return 0
    return (total * 2 + count) // (2 * count)


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """One service's figures in a department's report."""

    service: str
    """Service code."""
    opened: int
    """Cases submitted in the period."""
    decided: int
    """Cases decided (approved or rejected) in the period."""
    approved: int
    """Of those, approved."""
    rejected: int
    """Of those, rejected."""
    mean_ms: int
    """Mean processing time of the decided cases (submission to decision)."""
    decided_late: int
    """Decided cases decided after their time limit."""
    open: int
    """Cases open at the last indexed block."""
    open_late: int
    """Open cases past their time limit then."""

    @property
    def overdue_permille(self) -> int:
        """Share of decided cases decided late, in per mille."""
        return permille(self.decided_late, self.decided)


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One calendar month (UTC+8) of a department's trend."""

    month: str
    """``YYYY-MM``."""
    opened: int
    """Cases submitted that month."""
    decided: int
    """Cases decided that month."""
    mean_ms: int
    """Mean processing time of those decided."""
    decided_late: int
    """Of those, decided after their time limit."""

    @property
    def overdue_permille(self) -> int:
        """Share decided late, in per mille."""
        return permille(self.decided_late, self.decided)


@dataclass(frozen=True, slots=True)
class DepartmentSummary:
    """One department's line in the overview."""

    department: str
    """Department id."""
    opened: int
    """Cases submitted in the period."""
    decided: int
    """Cases decided in the period."""
    mean_ms: int
    """Mean processing time of those decided."""
    decided_late: int
    """Of those, decided after their time limit."""

    @property
    def overdue_permille(self) -> int:
        """Share decided late, in per mille."""
        return permille(self.decided_late, self.decided)


@dataclass(frozen=True, slots=True)
class Period:
    """What a report covers."""

    from_ms: int
    """Start (inclusive): the first millisecond of a day (UTC+8)."""
    to_ms: int
    """End (exclusive): the first millisecond of the day after the last."""
    now_ms: int
    """Time open cases are counted at (just after the last indexed block)."""

    @property
    def days(self) -> tuple[int, int]:
        """The period as day numbers ``[first, end)``."""
        return queries.day_of(self.from_ms), queries.day_of(self.to_ms)


@dataclass(frozen=True, slots=True)
class DepartmentReport:
    """Decision support for one department."""

    department: str
    """Department id."""
    period: Period
    """What the report covers."""
    index_height: int
    """Height of the last block the index held when the report was made."""
    services: tuple[ServiceFigures, ...]
    """Per service, most cases first."""
    months: tuple[MonthFigures, ...]
    """Per month, oldest first."""

    def totals(self) -> ServiceFigures:
        """Return the department's totals over every service (``service`` is '')."""
        s = self.services
        decided = sum(x.decided for x in s)
        return ServiceFigures(
            service="",
            opened=sum(x.opened for x in s),
            decided=decided,
            approved=sum(x.approved for x in s),
            rejected=sum(x.rejected for x in s),
            mean_ms=mean(sum(x.mean_ms * x.decided for x in s), decided),
            decided_late=sum(x.decided_late for x in s),
            open=sum(x.open for x in s),
            open_late=sum(x.open_late for x in s),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (every figure an integer)."""
        return {
            "department": self.department,
            "from_ms": self.period.from_ms,
            "to_ms": self.period.to_ms,
            "now_ms": self.period.now_ms,
            "index_height": self.index_height,
            "services": [
                {**_fields(x), "overdue_permille": x.overdue_permille} for x in self.services
            ],
            "months": [{**_fields(m), "overdue_permille": m.overdue_permille} for m in self.months],
        }


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in type(obj).__slots__}


def period_of(
    index: AnalyticsIndex, from_ms: int | None = None, to_ms: int | None = None
) -> Period:
    """Return a report's period, widened to whole days (UTC+8): by default the
    ``DEFAULT_PERIOD_DAYS`` up to and including the day of the last indexed block
    (``SchemaViolation`` if it is empty or reversed)."""
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise SchemaViolation("the period must start before it ends", field="from_ms")
    last = int(index.query(queries.LAST_BLOCK_TIME)[0][0])
    end_day = -(-(to_ms + queries.CST_OFFSET_MS) // DAY_MS) if to_ms is not None else None
    if end_day is None:
        end_day = queries.day_of(last) + 1
    first_day = queries.day_of(from_ms) if from_ms is not None else end_day - DEFAULT_PERIOD_DAYS
    if first_day >= end_day:
        raise SchemaViolation("the period must start before it ends", field="from_ms")
    return Period(queries.day_start_ms(first_day), queries.day_start_ms(end_day), last + 1)


def department_report(index: AnalyticsIndex, department: str, period: Period) -> DepartmentReport:
    """Return a department's cases per service, processing times, overdue rates and monthly
    trend over ``period``, and its cases open now."""
    height = index.height
    first, end = period.days
    rows = index.query(queries.CASES_PER_SERVICE, [department, first, end])
    still = {
        str(r[0]): (int(r[1]), int(r[2]))
        for r in index.query(queries.OPEN_CASES_PER_SERVICE, [period.now_ms, department])
    }
    services = []
    seen = set()
    for service, opened, decided, approved, rejected, took, late in rows:
        open_, open_late = still.get(service, (0, 0))
        seen.add(service)
        services.append(
            ServiceFigures(
                str(service),
                int(opened),
                int(decided),
                int(approved),
                int(rejected),
                mean(int(took), int(decided)),
                int(late),
                open_,
                open_late,
            )
        )
    for service in sorted(set(still) - seen):
        open_, open_late = still[service]
        services.append(ServiceFigures(service, 0, 0, 0, 0, 0, 0, open_, open_late))
    months = tuple(
        MonthFigures(str(m), int(o), int(d), mean(int(t), int(d)), int(late))
        for m, o, d, _a, _r, t, late in index.query(
            queries.MONTHLY_TRENDS, [department, first, end]
        )
    )
    return DepartmentReport(department, period, height, tuple(services), months)


def departments_overview(index: AnalyticsIndex, period: Period) -> list[DepartmentSummary]:
    """Return every department's line over ``period``, by department id."""
    first, end = period.days
    return [
        DepartmentSummary(str(d), int(o), int(n), mean(int(t), int(n)), int(late))
        for d, o, n, _a, _r, t, late in index.query(queries.DEPARTMENTS_OVERVIEW, [first, end])
    ]
