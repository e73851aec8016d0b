"""Service figures: the performance a service publishes (as GOV.UK services do).

Four figures per service, each with the counts it is made of so that a reader can check it:

- **completion rate**: of the people who started an application in the portal, the share who
  submitted one (from the click log: the first page of the application, and the confirmation
  page of a case of that service);
- **digital take-up**: the share of the service's cases submitted by the applicant online through
  the portal (the others came through the API: counters, intermediaries, other systems);
- **satisfaction**: the share of ratings that are satisfied or very satisfied (4 or 5 of 5), the
  mean level, and the bad ratings' follow-ups still open;
- **time to decision**: median and 90th percentile, in working days, from submission to the
  decision, over the decided cases.

Rates are integer basis points (1 % = 100) and means are hundredths, so figures are exact and
the same on every node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govchain.procedures.calendar import WorkCalendar, working_days_between

SATISFIED = 4
"""Lowest level counted as satisfied."""


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """The published figures of one service."""

    service: str
    """Service code."""
    cases: int
    """Cases submitted (any channel)."""
    decided: int
    """Cases decided (approved or rejected)."""
    approved: int
    """Cases approved."""
    started_online: int
    """People who opened the portal's application for the service."""
    submitted_online: int
    """Of them, people who submitted (reached a case's confirmation page)."""
    online_cases: int
    """Cases whose confirmation page the portal showed (submitted online by the applicant)."""
    completion_bp: int | None
    """``submitted_online / started_online`` in basis points (None: nobody started)."""
    take_up_bp: int | None
    """``online_cases / cases`` in basis points (None: no cases)."""
    ratings: int
    """Ratings given."""
    satisfied: int
    """Ratings of 4 or 5."""
    satisfaction_bp: int | None
    """``satisfied / ratings`` in basis points (None: no ratings)."""
    mean_level_x100: int | None
    """Mean rating times 100 (None: no ratings)."""
    levels: tuple[int, int, int, int, int]
    """How many ratings of each level, 1 to 5."""
    open_follow_ups: int
    """Bad ratings the department has not answered yet."""
    median_days: int | None
    """Median working days from submission to decision (None: nothing decided)."""
    p90_days: int | None
    """90th percentile of the same."""

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON (every field)."""
        return {name: getattr(self, name) for name in self.__slots__}


def _bp(part: int, whole: int) -> int | None:
    return None if whole == 0 else part * 10_000 // whole


def _rank(sorted_values: list[int], per_cent: int) -> int | None:
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return None
    k = max(1, -(-per_cent * len(sorted_values) // 100))
    return sorted_values[k - 1]


def summarise(
    service: str,
    cases: Iterable[Mapping[str, Any]],
    ratings: Iterable[Mapping[str, Any]],
    started: set[str],
    submitted: set[str],
    online_cases: set[str],
    cal: WorkCalendar,
) -> ServiceFigures:
    """Return a service's figures from its case records, its ratings, the pseudonyms that
    started and submitted an application online, and the case numbers submitted online."""
    n_cases = decided = approved = online = 0
    days: list[int] = []
    for case in cases:
        n_cases += 1
        if case["number"] in online_cases:
            online += 1
        if case.get("decided_ms") and case["outcome"] in ("approved", "rejected", "revoked"):
            decided += 1
            approved += case["outcome"] != "rejected"
            days.append(working_days_between(case["submitted_ms"], case["decided_ms"], cal))
    days.sort()
    levels = [0, 0, 0, 0, 0]
    open_follow_ups = 0
    for r in ratings:
        levels[r["level"] - 1] += 1
        follow = r.get("follow_up")
        open_follow_ups += follow is not None and follow["status"] == "open"
    n_ratings = sum(levels)
    satisfied = sum(levels[SATISFIED - 1 :])
    total = sum(level * count for level, count in zip(range(1, 6), levels, strict=True))
    done = len(submitted & started)
    return ServiceFigures(
        service=service,
        cases=n_cases,
        decided=decided,
        approved=approved,
        started_online=len(started),
        submitted_online=done,
        online_cases=online,
        completion_bp=_bp(done, len(started)),
        take_up_bp=_bp(online, n_cases),
        ratings=n_ratings,
        satisfied=satisfied,
        satisfaction_bp=_bp(satisfied, n_ratings),
        mean_level_x100=None if n_ratings == 0 else total * 100 // n_ratings,
        levels=(levels[0], levels[1], levels[2], levels[3], levels[4]),
        open_follow_ups=open_follow_ups,
        median_days=_rank(days, 50),
        p90_days=_rank(days, 90),
    )
