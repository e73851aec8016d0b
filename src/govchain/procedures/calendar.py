"""The working-day calendar: holidays, make-up workdays (调休上班) and working-day deadlines.

Case deadlines count working days (工作日) from block time. Which days are working days is data:
the State Council General Office publishes each year's holidays and make-up workdays, and the
calendar is updated on-chain by a transaction, so every node computes the same deadline.

A day is a working day when it is listed in ``workdays``, or when it is a Monday to Friday not
listed in ``holidays``. Outside ``first_year..last_year`` nothing is listed, so only Saturdays and
Sundays are rest days there. Dates are local to a fixed UTC offset (480 minutes: China Standard
Time, which has no daylight saving time). Everything here is pure and deterministic, except
:func:`load_default_calendar`, which reads the calendar shipped in the package.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from govchain.errors import SchemaViolation

DAY_MS = 86_400_000
"""Milliseconds in a day (a fixed offset has no daylight saving time, so every day is this long)."""
MAX_DAYS = 3650
"""Largest number of working days a deadline may count (about 14 years)."""
MAX_MS = 253_402_300_799_999 - 20 * 366 * DAY_MS
"""Latest accepted block time: leaves room for a deadline of MAX_DAYS before the year 9999 ends."""
STATUSES = frozenset({"official", "derived"})
"""``official``: copied from the published notice; ``derived``: computed from the statute."""

_EPOCH = datetime.date(1970, 1, 1)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TOP_KEYS = frozenset({"id", "timezone_offset_minutes", "years"})
_YEAR_KEYS = frozenset({"status", "source", "holidays", "workdays"})
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_YEAR = re.compile(r"[1-9][0-9]{3}")


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """A holiday calendar for a run of consecutive years, in one fixed-offset time zone."""

    holidays: frozenset[str]
    """ISO dates that are days off (weekdays, and the weekend days inside a holiday period)."""
    workdays: frozenset[str]
    """ISO dates of Saturdays and Sundays that are working days (调休上班)."""
    offset_minutes: int
    """Local time minus UTC, in minutes (480 = China Standard Time, UTC+8)."""
    first_year: int
    """First year the calendar covers."""
    last_year: int
    """Last year the calendar covers; before first_year and after it only weekends are off."""
    calendar_id: str
    """Short name of the calendar (``cn``), the ``id`` of its JSON form."""
    provenance: tuple[tuple[str, str], ...]
    """(status, source) of each covered year, first_year first."""

    def __post_init__(self) -> None:
        if len(self.provenance) != self.last_year - self.first_year + 1:
            raise _violation("needs one (status, source) per covered year", "provenance")


def _violation(message: str, field: str) -> SchemaViolation:
    return SchemaViolation(f"{field}: {message}", field=field)


def _check_int(value: object, field: str, low: int, high: int) -> int:
    # bool is an int in Python, but never a valid number here.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _violation("must be an integer", field)
    if not low <= value <= high:
        raise _violation(f"must be between {low} and {high}", field)
    return value


def _check_keys(obj: object, keys: frozenset[str], field: str) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise _violation("must be an object", field)
    for key in sorted(map(str, obj)):
        if key not in keys:
            raise _violation("unknown key", f"{field}.{key}" if field else key)
    for key in sorted(keys):
        if key not in obj:
            raise _violation("missing", f"{field}.{key}" if field else key)
    return obj


def _parse_dates(value: object, year: int, field: str, holidays: set[str] | None) -> set[str]:
    # With ``holidays`` given, the list is of make-up workdays: weekend days that are not off.
    if not isinstance(value, list):
        raise _violation("must be a list of ISO dates", field)
    seen: set[str] = set()
    for i, item in enumerate(value):
        place = f"{field}[{i}]"
        # fromisoformat alone also takes "20260101"; one spelling per day keeps sets comparable.
        if not isinstance(item, str) or not _ISO_DATE.fullmatch(item):
            raise _violation("must be a date written YYYY-MM-DD", place)
        try:
            day = datetime.date.fromisoformat(item)
        except ValueError:
            raise _violation("is not a calendar date", place) from None
        if day.year != year:
            raise _violation(f"is not in the year {year}", place)
        if item in seen:
            raise _violation("is listed twice", place)
        if holidays is not None and item in holidays:
            raise _violation("is also listed as a holiday", place)
        if holidays is not None and day.weekday() < 5:
            raise _violation("is not a Saturday or Sunday", place)
        seen.add(item)
    return seen


def parse_calendar(obj: object) -> WorkCalendar:
    """Validate the JSON form of a calendar and return it; SchemaViolation names the bad place."""
    top = _check_keys(obj, _TOP_KEYS, "")
    cal_id = top["id"]
    if not isinstance(cal_id, str) or not _ID.fullmatch(cal_id):
        raise _violation("must be 1-32 lower-case letters, digits or dashes", "id")
    offset = _check_int(top["timezone_offset_minutes"], "timezone_offset_minutes", -720, 840)
    years = top["years"]
    if not isinstance(years, dict) or not years:
        raise _violation("must be a non-empty object", "years")
    for key in years:
        if not isinstance(key, str) or not _YEAR.fullmatch(key) or int(key) > 9000:
            raise _violation("must be a year from 1000 to 9000", f"years.{key}")
    numbers = sorted(int(key) for key in years)
    if numbers != list(range(numbers[0], numbers[-1] + 1)):
        # A gap would silently read as a year without holidays.
        raise _violation("must be consecutive years", "years")
    holidays: set[str] = set()
    workdays: set[str] = set()
    provenance: list[tuple[str, str]] = []
    for year in numbers:
        place = f"years.{year}"
        entry = _check_keys(years[str(year)], _YEAR_KEYS, place)
        status, source = entry["status"], entry["source"]
        if not isinstance(status, str) or status not in STATUSES:
            raise _violation(f"must be one of {sorted(STATUSES)}", f"{place}.status")
        if not isinstance(source, str) or not source.strip():
            raise _violation("must be a non-empty string", f"{place}.source")
        off = _parse_dates(entry["holidays"], year, f"{place}.holidays", None)
        holidays |= off
        workdays |= _parse_dates(entry["workdays"], year, f"{place}.workdays", off)
        provenance.append((status, source))
    first, last = numbers[0], numbers[-1]
    return WorkCalendar(
        frozenset(holidays), frozenset(workdays), offset, first, last, cal_id, tuple(provenance)
    )


def calendar_to_json(cal: WorkCalendar) -> dict[str, object]:
    """Return the JSON form of ``cal`` (dates sorted), which parse_calendar reads back."""
    years = _years_json(cal)
    return {"id": cal.calendar_id, "timezone_offset_minutes": cal.offset_minutes, "years": years}


def _years_json(cal: WorkCalendar) -> dict[str, object]:
    years: dict[str, object] = {}
    for index, year in enumerate(range(cal.first_year, cal.last_year + 1)):
        prefix = f"{year:04d}-"
        status, source = cal.provenance[index]
        years[str(year)] = {
            "status": status,
            "source": source,
            "holidays": sorted(d for d in cal.holidays if d.startswith(prefix)),
            "workdays": sorted(d for d in cal.workdays if d.startswith(prefix)),
        }
    return years


def merge_year(
    cal: WorkCalendar,
    year: int,
    holidays: Iterable[str],
    workdays: Iterable[str],
    *,
    status: str = "official",
    source: str = "on-chain calendar update",
) -> WorkCalendar:
    """Return ``cal`` with one year's entries replaced (or a year added next to the covered ones).

    Used by the on-chain update transaction when a new notice is published; the result is
    validated like a parsed calendar, so a bad entry is refused with its place named.
    """
    _check_int(year, "year", 1000, 9000)
    if not cal.first_year - 1 <= year <= cal.last_year + 1:
        raise _violation("must be a covered year or next to one", "year")
    for name, dates in (("holidays", holidays), ("workdays", workdays)):
        if isinstance(dates, str | bytes) or not isinstance(dates, Iterable):
            raise _violation("must be a list of ISO dates", f"years.{year}.{name}")
    years = _years_json(cal)
    years[str(year)] = {
        "status": status,
        "source": source,
        "holidays": list(holidays),
        "workdays": list(workdays),
    }
    obj = {"id": cal.calendar_id, "timezone_offset_minutes": cal.offset_minutes, "years": years}
    return parse_calendar(obj)


@functools.cache
def load_default_calendar() -> WorkCalendar:
    """Return the calendar shipped with govchain (2026 official, 2027 derived), read once."""
    text = (
        resources.files("govchain.procedures")
        .joinpath("data", "calendar-cn-2026-2027.json")
        .read_text("utf-8")
    )
    return parse_calendar(json.loads(text))


def local_date(ms: int, cal: WorkCalendar) -> datetime.date:
    """Return the local date (in the calendar's time zone) of a block time in ms since the epoch."""
    _check_int(ms, "ms", 0, MAX_MS)
    return _EPOCH + datetime.timedelta(days=(ms + cal.offset_minutes * 60_000) // DAY_MS)


def is_working_day(day: datetime.date, cal: WorkCalendar) -> bool:
    """Tell whether ``day`` is a working day: a listed make-up workday, or an unlisted weekday."""
    # A datetime is a date too, but its isoformat() would never match a listed day.
    if type(day) is not datetime.date:
        raise _violation("must be a datetime.date", "day")
    iso = day.isoformat()
    if iso in cal.workdays:
        return True
    return day.weekday() < 5 and iso not in cal.holidays


def add_working_days(start_ms: int, days: int, cal: WorkCalendar) -> int:
    """Return the deadline of ``days`` working days from ``start_ms``, in ms.

    The deadline is the last millisecond (23:59:59.999 local) of the ``days``-th working day after
    the local day of ``start_ms``; the starting day itself does not count (期限开始之日不计算在内).
    ``days == 0`` gives the end of the starting day.
    """
    _check_int(start_ms, "start_ms", 0, MAX_MS)
    _check_int(days, "days", 0, MAX_DAYS)
    day = local_date(start_ms, cal)
    one = datetime.timedelta(days=1)
    counted = 0
    while counted < days:
        day += one
        if is_working_day(day, cal):
            counted += 1
    # The next local day starts at its UTC midnight minus the offset; the deadline 1 ms before.
    return (day - _EPOCH).days * DAY_MS + DAY_MS - cal.offset_minutes * 60_000 - 1


def _weekdays_through(ordinal: int) -> int:
    # Number of Mondays..Fridays among proleptic ordinals 1..ordinal; ordinal 1 is a Monday.
    return ordinal // 7 * 5 + min(ordinal % 7, 5)


def working_days_between(start_ms: int, end_ms: int, cal: WorkCalendar) -> int:
    """Count the working days after the local day of ``start_ms`` up to that of ``end_ms``.

    The starting day is excluded and the ending day included, as in add_working_days; the count
    is 0 when ``end_ms <= start_ms``. Weekdays are counted by arithmetic and only the days inside
    the covered years are looked up, so a long span costs no more than the calendar's length.
    """
    _check_int(start_ms, "start_ms", 0, MAX_MS)
    _check_int(end_ms, "end_ms", 0, MAX_MS)
    if end_ms <= start_ms:
        return 0
    first = local_date(start_ms, cal) + datetime.timedelta(days=1)
    last = local_date(end_ms, cal)  # first == last + 1 when both are on one day: the count is 0
    count = _weekdays_through(last.toordinal()) - _weekdays_through(first.toordinal() - 1)
    day = max(first, datetime.date(cal.first_year, 1, 1))
    stop = min(last, datetime.date(cal.last_year, 12, 31))
    one = datetime.timedelta(days=1)
    while day <= stop:
        iso = day.isoformat()
        if iso in cal.workdays:
            count += 1
        elif iso in cal.holidays and day.weekday() < 5:
            count -= 1
        day += one
    return count
