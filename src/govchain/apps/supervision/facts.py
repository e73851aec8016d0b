"""Enterprise facts as the departments reported them, gathered per enterprise and month: what
risk scores and indicators are computed from.

A ``FactBook`` is built from fact rows ``(batch, kind, period, uscc, industry, division, value)``
— the rows of the analytics index's ``sv_facts`` table, or of the demo generator — and is a pure
function of them: the same rows in any order give the same book (a later report of the same
enterprise, kind and month adds to it, as a correction batch would).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

FactRow = tuple[str, str, str, str, str, str, int]
"""``(batch, kind, period, uscc, industry, division, value)``."""


def period_add(period: str, months: int) -> str:
    """The month ``months`` after (negative: before) ``period`` (``YYYY-MM``)."""
    n = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def periods_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included."""
    out = [first]
    while out[-1] < last:
        out.append(period_add(out[-1], 1))
    return out


@dataclass(slots=True)
class FactBook:
    """Facts by kind, enterprise and month, with the batches each month's facts came in."""

    values: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """``values[kind][uscc][period]``: the month's value (summed over batches)."""
    industry: dict[str, str] = field(default_factory=dict)
    """Industry code (GB/T 4754) of each enterprise, as last reported."""
    division: dict[str, str] = field(default_factory=dict)
    """Division code (GB/T 2260) of each enterprise's registered address."""
    batches: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """Batches that reported each ``(kind, period)``."""
    periods: set[str] = field(default_factory=set)
    """Every month some fact was reported for."""

    def add(self, rows: Iterable[FactRow]) -> None:
        """Add fact rows."""
        values, industry, division = self.values, self.industry, self.division
        batches, periods = self.batches, self.periods
        for batch, kind, period, uscc, ind, div, value in rows:
            per = values.setdefault(kind, {}).setdefault(uscc, {})
            per[period] = per.get(period, 0) + value
            if ind:
                industry[uscc] = ind
            if div:
                division[uscc] = div
            batches.setdefault((kind, period), set()).add(batch)
            periods.add(period)

    @classmethod
    def of(cls, rows: Iterable[FactRow]) -> FactBook:
        """A book of ``rows``."""
        book = cls()
        book.add(rows)
        return book

    def latest(self, kind: str = "tax") -> str:
        """The last month with facts of ``kind`` ('' if none)."""
        found = [p for k, p in self.batches if k == kind]
        return max(found, default="")

    def series(self, kind: str, uscc: str) -> dict[str, int]:
        """One enterprise's values of ``kind`` by month."""
        return self.values.get(kind, {}).get(uscc, {})

    def window(self, kind: str, uscc: str, last: str, months: int) -> int:
        """The sum of ``kind`` over the ``months`` months ending with ``last``."""
        s = self.series(kind, uscc)
        return sum(s.get(period_add(last, -i), 0) for i in range(months))

    def count(self, kind: str, uscc: str, last: str, months: int) -> int:
        """How many of the ``months`` months ending with ``last`` have a non-zero ``kind``."""
        s = self.series(kind, uscc)
        return sum(1 for i in range(months) if s.get(period_add(last, -i), 0) > 0)

    def latest_value(self, kind: str, uscc: str, last: str) -> int:
        """The value of the latest month not after ``last`` that has one (0 if none)."""
        s = self.series(kind, uscc)
        months = [p for p in s if p <= last]
        return s[max(months)] if months else 0

    def enterprises(self) -> list[str]:
        """Every enterprise with facts, in code order."""
        return sorted(set(self.industry) | set(self.division))

    def inputs(self, kind: str, periods: Iterable[str]) -> list[str]:
        """The batches that reported ``kind`` for ``periods``, sorted."""
        out: set[str] = set()
        for p in periods:
            out |= self.batches.get((kind, p), set())
        return sorted(out)
