"""Ratings of finished cases (好差评) and service figures, as the node serves them.

An applicant's rating is signed by the handling department's node for the logged-in applicant
(like a withdrawal), a follow-up's answer by the department for its staff member; the
``ratings`` contract checks both again when the block runs. Figures read committed state and
are kept per height (cases and ratings change only with blocks).
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

from govchain.errors import Conflict, Forbidden, NotFound
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.procedures import layout
from govchain.procedures.calendar import WorkCalendar, load_default_calendar, parse_calendar
from govchain.procedures.figures import ServiceFigures, summarise
from govchain.procedures.layout import CALENDAR_KEY
from govchain.procedures.ratings import RATEABLE, rating_key


def rate(
    desk: CaseDesk, applicant: str, session: str, number: str, level: int, comment: str
) -> Transaction:
    """Return the applicant's rating of their case, signed by the handling department; refuse
    at once (nothing signed) a case that is not theirs, not ended or already rated."""
    case = desk.case(number)
    if case["applicant"] != applicant:
        raise Forbidden(f"only the applicant of case {number} may rate it")
    if case["status"] not in RATEABLE:
        raise Conflict(
            f"case {number} is {case['status']}: it can be rated once it has ended",
            case=number,
            status=case["status"],
        )
    if desk.node.ledger.state.get_value(rating_key(number)) is not None:
        raise Conflict(f"case {number} has already been rated", case=number)
    dept = desk.definition(case["service"], case["version"])["definition"]["owner"]
    args = {"case": number, "level": level, "comment": comment, "session": session}
    return desk.sign(dept, "ratings", "rate", args, applicant, case=number)


def answer(
    desk: CaseDesk, dept: str, person: str, role: str, number: str, text: str
) -> Transaction:
    """Return a staff member's answer to a bad rating's follow-up, signed by the department."""
    args = {"case": number, "text": text, "role": role}
    return desk.sign(dept, "ratings", "answer", args, person, case=number)


def rating_of(desk: CaseDesk, number: str) -> dict[str, Any] | None:
    """The rating of a case, or ``None`` if it has none."""
    raw = desk.node.ledger.state.get_value(rating_key(number))
    return None if raw is None else dict(orjson.loads(raw))


class FigureBook:
    """Every service's cases and ratings, read from committed state once per height."""

    def __init__(self, desk: CaseDesk) -> None:
        self.desk = desk
        self._lock = threading.Lock()
        self._height = -1
        self._cases: dict[str, list[dict[str, Any]]] = {}
        self._ratings: dict[str, list[dict[str, Any]]] = {}
        self._calendar: WorkCalendar = load_default_calendar()

    def _refresh(self) -> None:
        ledger = self.desk.node.ledger
        height = ledger.height
        if height == self._height:
            return
        state = ledger.state
        cases: dict[str, list[dict[str, Any]]] = {}
        for _, v in state.iter_range(layout.CASES + b"case/"):
            if v.value is None:
                continue
            case = orjson.loads(v.value)
            cases.setdefault(case["service"], []).append(case)
        ratings: dict[str, list[dict[str, Any]]] = {}
        for _, v in state.iter_range(rating_key("")):
            if v.value is None:
                continue
            r = orjson.loads(v.value)
            ratings.setdefault(r["service"], []).append(r)
        raw_cal = state.get_value(CALENDAR_KEY)
        self._calendar = (
            load_default_calendar() if raw_cal is None else parse_calendar(orjson.loads(raw_cal))
        )
        self._cases, self._ratings, self._height = cases, ratings, height

    def services(self, dept: str = "") -> list[str]:
        """Codes of the services that have cases (``dept``: only those it owns or
        co-handles)."""
        with self._lock:
            self._refresh()
            codes = sorted(self._cases)
        if not dept:
            return codes
        return [code for code in codes if dept in self._handlers(code)]

    def _handlers(self, code: str) -> tuple[str, ...]:
        found = self.desk.definition(code)["definition"]
        return (found["owner"], *found.get("co_handlers", []))

    def service_of(self, number: str) -> str | None:
        """The service of a case (``None``: no such case)."""
        try:
            return str(self.desk.case(number)["service"])
        except NotFound:
            return None

    def figures(
        self,
        service: str,
        started: set[str] | None = None,
        submitted: set[str] | None = None,
        online_cases: set[str] | None = None,
    ) -> ServiceFigures:
        """A service's figures; the online counts come from the portal's click log (empty
        where no portal runs)."""
        with self._lock:
            self._refresh()
            return summarise(
                service,
                self._cases.get(service, []),
                self._ratings.get(service, []),
                started or set(),
                submitted or set(),
                online_cases or set(),
                self._calendar,
            )

    def follow_ups(self, dept: str) -> list[dict[str, Any]]:
        """The department's bad ratings whose follow-up is still open, oldest first."""
        with self._lock:
            self._refresh()
            rows = [
                r
                for by_service in self._ratings.values()
                for r in by_service
                if r["dept"] == dept and (r.get("follow_up") or {}).get("status") == "open"
            ]
        return sorted(rows, key=lambda r: r["time_ms"])


def figure_book(state: Any, desk: CaseDesk) -> FigureBook:
    """The figure book kept on an app's state (one per running app)."""
    book: FigureBook | None = getattr(state, "figure_book", None)
    if book is None or book.desk is not desk:
        book = FigureBook(desk)
        state.figure_book = book
    return book
