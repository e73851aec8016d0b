"""Tests of the working-day calendar in ``govchain.procedures.calendar``.

Known answers come from 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04); the 2027 year is
derived from 《全国年节及纪念日放假办法》 (2024) and checked here against its lunar dates. The
properties compare the deadline arithmetic with a day-by-day reference count.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.errors import SchemaViolation
from govchain.procedures.calendar import (
    DAY_MS,
    MAX_DAYS,
    WorkCalendar,
    add_working_days,
    calendar_to_json,
    is_working_day,
    load_default_calendar,
    local_date,
    merge_year,
    parse_calendar,
    working_days_between,
)

CAL = load_default_calendar()
D = datetime.date


def cst_ms(iso: str, hour: int = 10) -> int:
    """Block time in ms of ``hour``:00 China Standard Time (UTC+8) on the ISO date."""
    moment = datetime.datetime.fromisoformat(f"{iso}T{hour:02d}:00:00+08:00")
    return int(moment.timestamp()) * 1000


def end_of(iso: str) -> int:
    """The last ms of the CST day ``iso`` (23:59:59.999 +08:00)."""
    return cst_ms(iso, 0) + DAY_MS - 1


def reference_between(start_ms: int, end_ms: int, cal: WorkCalendar) -> int:
    """Day-by-day count, the obvious way, to check the arithmetic one against."""
    day, last, count = local_date(start_ms, cal), local_date(end_ms, cal), 0
    while day < last:
        day += datetime.timedelta(days=1)
        count += is_working_day(day, cal)
    return count


# --- the shipped data: 国务院办公厅关于2026年部分节假日安排的通知 -------------------------------


def test_shipped_calendar_covers_2026_official_and_2027_derived() -> None:
    assert (CAL.first_year, CAL.last_year, CAL.offset_minutes, CAL.calendar_id) == (
        2026,
        2027,
        480,
        "cn",
    )
    assert CAL.provenance[0][0] == "official"
    assert "2026年部分节假日安排" in CAL.provenance[0][1]
    assert CAL.provenance[1][0] == "derived"


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2026-01-01", "2026-01-03"),  # 元旦
        ("2026-02-15", "2026-02-23"),  # 春节: 腊月二十八 to 正月初七, 9 days
        ("2026-04-04", "2026-04-06"),  # 清明节
        ("2026-05-01", "2026-05-05"),  # 劳动节
        ("2026-06-19", "2026-06-21"),  # 端午节
        ("2026-09-25", "2026-09-27"),  # 中秋节
        ("2026-10-01", "2026-10-07"),  # 国庆节
    ],
)
def test_2026_holiday_periods_are_days_off(first: str, last: str) -> None:
    day = D.fromisoformat(first)
    while day <= D.fromisoformat(last):
        assert not is_working_day(day, CAL), day
        day += datetime.timedelta(days=1)
    # The day before and the day after each period are working days in 2026.
    assert is_working_day(D.fromisoformat(first) - datetime.timedelta(days=1), CAL)
    assert is_working_day(D.fromisoformat(last) + datetime.timedelta(days=1), CAL)


def test_2026_spring_festival_and_make_up_workdays() -> None:
    assert not is_working_day(D(2026, 2, 17), CAL)  # 春节, 正月初一, a Tuesday
    make_up = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    for iso in make_up:
        day = D.fromisoformat(iso)
        assert day.weekday() >= 5 and is_working_day(day, CAL), iso
    assert sorted(CAL.workdays) == make_up
    # An ordinary weekend stays a weekend.
    assert not is_working_day(D(2026, 3, 7), CAL)
    assert not is_working_day(D(2026, 3, 8), CAL)


def test_2027_derived_from_the_statutory_days() -> None:
    # 除夕 2027-02-05 (Fri) to 初三 02-08; 初一 and 初二 are on the weekend -> 补假 02-09, 02-10.
    for iso in ["2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-04-05"]:
        assert not is_working_day(D.fromisoformat(iso), CAL), iso
    # 劳动节 05-01/02 and 国庆节 10-02/03 fall on weekends: made up on the following Mon/Tue.
    for iso in ["2027-05-03", "2027-05-04", "2027-06-09", "2027-09-15", "2027-10-04", "2027-10-05"]:
        assert not is_working_day(D.fromisoformat(iso), CAL), iso
    assert is_working_day(D(2027, 2, 11), CAL) and is_working_day(D(2027, 10, 6), CAL)
    assert not [iso for iso in CAL.workdays if iso.startswith("2027")]


def test_outside_the_covered_years_only_weekends_are_off() -> None:
    assert is_working_day(D(2028, 10, 2), CAL)  # a Monday; 2028 is not covered
    assert not is_working_day(D(2028, 10, 1), CAL)  # a Sunday
    assert is_working_day(D(2025, 12, 31), CAL)


# --- deadlines -------------------------------------------------------------------------------


def test_local_date_is_china_standard_time() -> None:
    assert local_date(cst_ms("2026-03-02", 0), CAL) == D(2026, 3, 2)
    assert local_date(cst_ms("2026-03-02", 0) - 1, CAL) == D(2026, 3, 1)
    # 2026-03-01T16:00Z is already 00:00 on March 2 in Beijing.
    utc = datetime.datetime(2026, 3, 1, 16, tzinfo=datetime.UTC)
    assert local_date(int(utc.timestamp()) * 1000, CAL) == D(2026, 3, 2)


def test_friday_plus_one_working_day_is_monday_end() -> None:
    assert add_working_days(cst_ms("2026-03-06", 17), 1, CAL) == end_of("2026-03-09")
    assert add_working_days(cst_ms("2026-03-06", 17), 0, CAL) == end_of("2026-03-06")
    assert add_working_days(cst_ms("2026-03-06", 17), 5, CAL) == end_of("2026-03-13")


def test_deadline_across_national_day_2026() -> None:
    # Wednesday 2026-09-30, +1: Oct 1-7 are off, Thursday Oct 8 is the first working day.
    start = cst_ms("2026-09-30", 9)
    assert add_working_days(start, 1, CAL) == end_of("2026-10-08")
    assert add_working_days(start, 2, CAL) == end_of("2026-10-09")
    # Saturday 2026-10-10 is a make-up workday (调休上班).
    assert add_working_days(start, 3, CAL) == end_of("2026-10-10")
    assert add_working_days(start, 4, CAL) == end_of("2026-10-12")
    # From Friday Sept 18: Sunday Sept 20 works, Sept 25-27 are 中秋节.
    start = cst_ms("2026-09-18", 9)
    assert add_working_days(start, 1, CAL) == end_of("2026-09-20")
    assert add_working_days(start, 5, CAL) == end_of("2026-09-24")
    assert add_working_days(start, 6, CAL) == end_of("2026-09-28")


def test_deadline_across_spring_festival_2026() -> None:
    # Friday 2026-02-13 + 1: Saturday 02-14 is a make-up workday; + 2: Tuesday 02-24.
    start = cst_ms("2026-02-13", 15)
    assert add_working_days(start, 1, CAL) == end_of("2026-02-14")
    assert add_working_days(start, 2, CAL) == end_of("2026-02-24")
    assert working_days_between(start, end_of("2026-02-28"), CAL) == 6


def test_working_days_between_known_answers() -> None:
    # 2026 has 365 days: 261 weekdays, 19 on holidays, plus 6 make-up weekend days.
    start, end = cst_ms("2025-12-31"), cst_ms("2026-12-31")
    assert working_days_between(start, end, CAL) == 261 - 19 + 6
    assert working_days_between(end, start, CAL) == 0
    assert working_days_between(start, start + 1, CAL) == 0


def test_bad_days_and_times_are_rejected() -> None:
    for days in (-1, MAX_DAYS + 1, True):
        with pytest.raises(SchemaViolation) as err:
            add_working_days(cst_ms("2026-03-06"), days, CAL)
        assert err.value.fields["field"] == "days"
    with pytest.raises(SchemaViolation) as err:
        add_working_days(-5, 1, CAL)
    assert err.value.fields["field"] == "start_ms"
    with pytest.raises(SchemaViolation):
        is_working_day(datetime.datetime(2026, 3, 6), CAL)


def test_longest_deadline_is_computed() -> None:
    deadline = add_working_days(cst_ms("2026-01-05"), MAX_DAYS, CAL)
    assert working_days_between(cst_ms("2026-01-05"), deadline, CAL) == MAX_DAYS


# --- parsing ---------------------------------------------------------------------------------


def shipped_json() -> dict[str, Any]:
    return copy.deepcopy(calendar_to_json(CAL))


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("years", "2026", "holidays", 3), "2026-02-30", "years.2026.holidays[3]"),
        (("years", "2026", "holidays", 3), "20260216", "years.2026.holidays[3]"),
        (("years", "2026", "holidays", 0), "2027-01-01", "years.2026.holidays[0]"),
        (("years", "2026", "holidays", 1), "2026-01-01", "years.2026.holidays[1]"),
        (("years", "2026", "workdays", 0), "2026-01-05", "years.2026.workdays[0]"),
        (("years", "2026", "workdays", 0), "2026-01-03", "years.2026.workdays[0]"),
        (("years", "2027", "status"), "guessed", "years.2027.status"),
        (("years", "2027", "comment"), "x", "years.2027.comment"),
        (("timezone_offset_minutes",), 480.0, "timezone_offset_minutes"),
        (("colour",), "red", "colour"),
        (("id",), "", "id"),
    ],
)
def test_bad_calendars_are_rejected_with_the_place(
    path: tuple[Any, ...], value: object, field: str
) -> None:
    obj = shipped_json()
    target: Any = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(SchemaViolation) as err:
        parse_calendar(obj)
    assert err.value.fields["field"] == field


def test_missing_keys_and_gaps_are_rejected() -> None:
    obj = shipped_json()
    del obj["years"]["2026"]["workdays"]
    with pytest.raises(SchemaViolation) as err:
        parse_calendar(obj)
    assert err.value.fields["field"] == "years.2026.workdays"
    obj = shipped_json()
    obj["years"]["2029"] = obj["years"].pop("2027")
    obj["years"]["2029"]["holidays"] = []
    with pytest.raises(SchemaViolation) as err:
        parse_calendar(obj)
    assert err.value.fields["field"] == "years"


def test_merge_year_replaces_and_extends() -> None:
    updated = merge_year(CAL, 2027, ["2027-02-05"], ["2027-02-20"], source="notice 2027")
    assert not is_working_day(D(2027, 2, 5), updated)
    assert is_working_day(D(2027, 2, 8), updated)  # no longer listed
    assert is_working_day(D(2027, 2, 20), updated)  # a Saturday made a workday
    assert updated.provenance[1] == ("official", "notice 2027")
    assert updated.holidays >= {iso for iso in CAL.holidays if iso.startswith("2026")}
    extended = merge_year(CAL, 2028, ["2028-01-03"], [], status="derived", source="rules")
    assert (extended.first_year, extended.last_year) == (2026, 2028)
    with pytest.raises(SchemaViolation) as err:
        merge_year(CAL, 2030, [], [])
    assert err.value.fields["field"] == "year"
    with pytest.raises(SchemaViolation) as err:
        merge_year(CAL, 2027, ["2027-13-01"], [])
    assert err.value.fields["field"] == "years.2027.holidays[0]"


# --- properties ------------------------------------------------------------------------------

_YEAR_DAYS = [D(2026, 1, 1) + datetime.timedelta(days=i) for i in range(365 * 2)]


@st.composite
def calendars(draw: st.DrawFn) -> WorkCalendar:
    """Random 2026-2027 calendars: any days off, make-up workdays on the other weekend days."""
    off = draw(st.sets(st.sampled_from(_YEAR_DAYS), max_size=80))
    weekend = [d for d in _YEAR_DAYS if d.weekday() >= 5 and d not in off]
    on = draw(st.sets(st.sampled_from(weekend), max_size=20))
    years = {
        str(y): {
            "status": draw(st.sampled_from(["official", "derived"])),
            "source": draw(st.text(min_size=1, max_size=8).filter(str.strip)),
            "holidays": [d.isoformat() for d in off if d.year == y],
            "workdays": [d.isoformat() for d in on if d.year == y],
        }
        for y in (2026, 2027)
    }
    offset = draw(st.sampled_from([480, 0, -300, 330]))
    return parse_calendar({"id": "test", "timezone_offset_minutes": offset, "years": years})


starts = st.integers(min_value=cst_ms("2025-11-01"), max_value=cst_ms("2028-02-01"))


@settings(max_examples=60, deadline=None)
@given(cal=calendars(), start=starts, n=st.integers(min_value=1, max_value=400))
def test_deadline_is_the_end_of_a_working_day(cal: WorkCalendar, start: int, n: int) -> None:
    deadline = add_working_days(start, n, cal)
    day = local_date(deadline, cal)
    assert is_working_day(day, cal)
    assert local_date(deadline + 1, cal) == day + datetime.timedelta(days=1)
    assert deadline > start
    assert working_days_between(start, deadline, cal) == n
    assert reference_between(start, deadline, cal) == n


@settings(max_examples=60, deadline=None)
@given(cal=calendars(), start=starts, n=st.integers(min_value=0, max_value=200))
def test_deadline_is_monotone_in_days(cal: WorkCalendar, start: int, n: int) -> None:
    assert add_working_days(start, n, cal) < add_working_days(start, n + 1, cal)


@settings(max_examples=80, deadline=None)
@given(cal=calendars(), start=starts, end=starts)
def test_between_matches_the_day_by_day_count(cal: WorkCalendar, start: int, end: int) -> None:
    expected = reference_between(start, end, cal) if end > start else 0
    assert working_days_between(start, end, cal) == expected


@settings(max_examples=60, deadline=None)
@given(cal=calendars())
def test_json_round_trip(cal: WorkCalendar) -> None:
    assert parse_calendar(calendar_to_json(cal)) == cal
    assert calendar_to_json(parse_calendar(calendar_to_json(cal))) == calendar_to_json(cal)
