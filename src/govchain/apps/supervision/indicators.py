"""Decision indicators (部门决策) over the reported facts, with their thresholds as data, and
counts of people who may need assistance with small cells suppressed.

An indicator (``data/indicators.json``) names a series (tax by industry, insured staff by
district), a threshold on the month-over-month change in per mille, the smallest base it looks at
and the recipients of its alerts. ``evaluate`` returns one ``Signal`` per subject whose change
crossed the threshold, with the figures behind it and the batches they came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from govchain.apps.supervision.facts import FactBook, period_add
from govchain.errors import SchemaViolation

SERIES = {"tax_by_industry": ("tax", "industry"), "insured_by_division": ("social", "division")}
"""Series an indicator may watch: the kind of fact summed, and what it is grouped by."""
MIN_CELL = 10
"""Smallest count of people published; smaller cells are suppressed."""


@dataclass(frozen=True, slots=True)
class Indicator:
    """A watched series and its threshold."""

    id: str
    """Identifier, e.g. ``industry-tax-mom``."""
    series: str
    """One of ``SERIES``."""
    name: Mapping[str, str]
    """Its name in Chinese and English."""
    threshold_permille: int
    """Alert when the change on the month before is at or below this (negative: a drop)."""
    min_base: int
    """Subjects whose previous month is below this are not looked at (too small to mean much)."""
    recipients: tuple[str, ...]
    """Who is alerted (``dept:<id>`` ...)."""
    advice: Mapping[str, str]
    """What the alert asks the recipients to consider."""


@dataclass(frozen=True, slots=True)
class Signal:
    """A subject whose series crossed an indicator's threshold in one month."""

    indicator: str
    """The indicator's id."""
    subject: str
    """What crossed it, e.g. ``industry-52`` or ``division-330106``."""
    period: str
    """The month."""
    figures: Mapping[str, int]
    """previous, current, change_permille, threshold_permille, enterprises."""
    inputs: tuple[str, ...]
    """Batches the two months' facts came in."""
    recipients: tuple[str, ...]
    """Who is alerted."""

    def to_alert(self) -> dict[str, Any]:
        """The ``alert`` argument of the contract's ``alert`` entry."""
        return {
            "indicator": self.indicator,
            "subject": self.subject,
            "period": self.period,
            "figures": dict(self.figures),
            "threshold": self.figures["threshold_permille"],
            "inputs": list(self.inputs),
            "recipients": list(self.recipients),
        }


def parse_indicators(doc: Any) -> tuple[Indicator, ...]:
    """Check an indicators document and return its indicators (``SchemaViolation`` naming the
    place)."""
    items = doc.get("indicators") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SchemaViolation("the document holds a list of indicators", field="indicators")
    out = []
    for i, d in enumerate(items):
        where = f"indicators[{i}]"
        if not isinstance(d, dict) or d.get("series") not in SERIES:
            raise SchemaViolation(f"{where}.series must be one of {', '.join(SERIES)}", field=where)
        t, base = d.get("threshold_permille"), d.get("min_base")
        if not isinstance(t, int) or not -1000 <= t < 0 or not isinstance(base, int) or base < 1:
            raise SchemaViolation(
                f"{where}: threshold_permille from -1000 to -1, min_base ≥ 1", field=where
            )
        recipients = d.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            raise SchemaViolation(f"{where}.recipients must not be empty", field=where)
        out.append(
            Indicator(str(d["id"]), d["series"], d["name"], t, base, tuple(recipients), d["advice"])
        )
    return tuple(out)


@cache
def default_indicators() -> tuple[Indicator, ...]:
    """The indicators shipped in ``data/indicators.json``."""
    text = resources.files("govchain.apps.supervision").joinpath("data/indicators.json")
    return parse_indicators(json.loads(text.read_text("utf-8")))


def series(book: FactBook, name: str, period: str) -> dict[str, tuple[int, int]]:
    """The series ``name`` in one month: ``{group: (sum, enterprises)}`` (industries grouped
    by their GB/T 4754 division, the first two digits)."""
    kind, by = SERIES[name]
    out: dict[str, tuple[int, int]] = {}
    for uscc, months in book.values.get(kind, {}).items():
        value = months.get(period)
        if value is None:
            continue
        group = book.industry.get(uscc, "")[:2] if by == "industry" else book.division.get(uscc)
        if not group:
            continue
        total, n = out.get(group, (0, 0))
        out[group] = (total + value, n + 1)
    return out


def change_permille(previous: int, current: int) -> int:
    """The change from ``previous`` to ``current`` in per mille, rounded towards zero."""
    diff = (current - previous) * 1000
    return diff // previous if diff >= 0 else -(-diff // previous)


def evaluate(book: FactBook, indicator: Indicator, period: str) -> list[Signal]:
    """Return the subjects whose series crossed ``indicator``'s threshold in ``period``, in
    subject order, each with the figures and input batches behind it."""
    kind, by = SERIES[indicator.series]
    before = period_add(period, -1)
    prev, cur = series(book, indicator.series, before), series(book, indicator.series, period)
    inputs = tuple(book.inputs(kind, (before, period)))
    out = []
    for group in sorted(prev):
        p, _ = prev[group]
        c, n = cur.get(group, (0, 0))
        if p < indicator.min_base:
            continue
        change = change_permille(p, c)
        if change > indicator.threshold_permille:
            continue
        figures = {
            "previous": p,
            "current": c,
            "change_permille": change,
            "threshold_permille": indicator.threshold_permille,
            "enterprises": n,
        }
        out.append(
            Signal(
                indicator.id,
                f"{by}-{group}",
                period,
                figures,
                inputs[:100],
                indicator.recipients,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Cell:
    """One published count of people."""

    group: str
    """The group (a division code)."""
    count: int | None
    """How many people (``None``: suppressed)."""
    suppressed: str
    """Why it is not shown: ``small`` (< ``MIN_CELL``), ``complementary`` (it would reveal a
    small cell through the total) or ''."""


def suppress(counts: Mapping[str, int], min_cell: int = MIN_CELL) -> list[Cell]:
    """Publishable cells of ``counts``: those under ``min_cell`` suppressed, and, when exactly
    one is (the total would give it away), the next smallest too. Zero cells are published:
    they say nobody."""
    small = sorted(g for g, n in counts.items() if 0 < n < min_cell)
    hidden = dict.fromkeys(small, "small")
    if len(small) == 1:
        rest = sorted((n, g) for g, n in counts.items() if g not in hidden and n > 0)
        if rest:
            hidden[rest[0][1]] = "complementary"
    return [Cell(g, None if g in hidden else counts[g], hidden.get(g, "")) for g in sorted(counts)]


def assistance_counts(
    book: FactBook, period: str, min_cell: int = MIN_CELL
) -> tuple[list[Cell], int | None]:
    """How many insured people left employment in ``period`` in each district (the month's
    drop of each enterprise's insured headcount, summed over the district's enterprises): people
    who may need assistance, as counts only, small cells suppressed. Returns the cells and the
    total (``None`` when it is itself smaller than ``min_cell``)."""
    before = period_add(period, -1)
    counts: dict[str, int] = {}
    for uscc, months in book.values.get("social", {}).items():
        if before not in months:
            continue
        left = max(0, months[before] - months.get(period, 0))
        division = book.division.get(uscc, "")
        if division:
            counts[division] = counts.get(division, 0) + left
    total = sum(counts.values())
    return suppress(counts, min_cell), total if total >= min_cell or total == 0 else None
