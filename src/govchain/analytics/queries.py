"""Decision-support queries, one SQL statement per question, named by what it answers.

They read the tables the index keeps from the case engine's rows (``schema``): ``case_days``
(per department, service and day: opened, decided, processing time, decided late) and
``open_cases`` (the cases not ended at the last indexed block), so that a dashboard reads a few
thousand rows, not every case row. Every figure is an integer (counts, milliseconds); days and
months are those of China Standard Time (UTC+8), the time the portal shows. Parameters are
positional, in the order each constant's docstring gives.
"""

from __future__ import annotations

CST_OFFSET_MS = 8 * 3600 * 1000
"""China Standard Time minus UTC."""
DAY_MS = 86_400_000
"""One day in milliseconds."""

_SUMS = """
    sum(opened) AS opened,
    sum(decided) AS decided,
    sum(approved) AS approved,
    sum(rejected) AS rejected,
    sum(took_ms) AS took_ms,
    sum(decided_late) AS decided_late"""

CASES_PER_SERVICE = f"""
SELECT service, {_SUMS}
FROM case_days
WHERE department = ? AND day >= ? AND day < ?
GROUP BY service
ORDER BY opened DESC, service
"""
"""Per service of a department, over days ``[from_day, to_day)``: cases opened, decided,
approved, rejected, total processing time of the decided ones (submission to decision, ms),
decided after their time limit. Parameters: department, from_day, to_day."""

OPEN_CASES_PER_SERVICE = """
SELECT service, count(*) AS open,
    count(*) FILTER (WHERE deadline_ms > 0 AND deadline_ms < ?) AS open_late
FROM open_cases
WHERE department = ?
GROUP BY service
ORDER BY service
"""
"""Per service of a department, cases open at the last indexed block and those of them past
their time limit at ``now_ms``. Parameters: now_ms, department."""

MONTHLY_TRENDS = f"""
SELECT month, {_SUMS}
FROM case_days
WHERE department = ? AND day >= ? AND day < ?
GROUP BY month
ORDER BY month
"""
"""Per calendar month of a department, over days ``[from_day, to_day)``: the same sums as
``CASES_PER_SERVICE``. Parameters: department, from_day, to_day."""

DEPARTMENTS_OVERVIEW = f"""
SELECT department, {_SUMS}
FROM case_days
WHERE day >= ? AND day < ?
GROUP BY department
ORDER BY department
"""
"""Per department, over days ``[from_day, to_day)``: the same sums as ``CASES_PER_SERVICE``.
Parameters: from_day, to_day."""

LAST_BLOCK_TIME = "SELECT coalesce(max(time_ms), 0) FROM blocks"
"""Time of the last indexed block (the "now" of a report: never the wall clock)."""


def day_of(time_ms: int) -> int:
    """Return the day number (days since 1970-01-01, UTC+8) of a time."""
    return (time_ms + CST_OFFSET_MS) // DAY_MS


def day_start_ms(day: int) -> int:
    """Return the first millisecond of a day number."""
    return day * DAY_MS - CST_OFFSET_MS
