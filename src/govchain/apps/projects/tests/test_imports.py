"""Importing the registry from CSV, XLSX and JSON: every column, list cells split on new lines
and semicolons, integers read as integers; a malformed file refused whole with each problem's
line and field, and nothing from it imported (the committed registry is unchanged)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.apps.projects.imports import (
    CSV,
    JSON,
    XLSX,
    ImportRefused,
    ImportRow,
    chunks,
    media_type_of,
    parse_csv,
    parse_file,
    parse_json,
    parse_xlsx,
)
from govchain.apps.projects.service import ProjectDesk
from govchain.apps.projects.tests.samples import (
    BOOKING_APPLICATION,
    CHINESE,
    ENGLISH,
    FOOD_SAMPLING,
    HOSPITAL_BOOKING,
    SAMPLES,
    SCHOOL_ENROLMENT,
    cells,
    csv_bytes,
    variant,
    xlsx_bytes,
)
from govchain.errors import SchemaViolation


def entries(rows: list[ImportRow]) -> list[dict[str, Any]]:
    return [r.entry for r in rows]


def problems(exc: pytest.ExceptionInfo[ImportRefused]) -> list[tuple[int, str, str]]:
    return [(p["line"], p["field"], p["reason"]) for p in exc.value.fields["problems"]]


# --- files that are read ------------------------------------------------------------------------


def test_csv_with_chinese_headers_bom_and_friendly_cells() -> None:
    booking = cells(HOSPITAL_BOOKING, sep="；")
    booking[ENGLISH.index("status")] = "在用"
    booking[ENGLISH.index("user_count")] = "12,000,000"
    booking[ENGLISH.index("name")] = "  全省预约挂号服务系统 "  # trimmed
    school = cells(SCHOOL_ENROLMENT)  # list cells on several lines: the row spans lines 3-6
    data = b"\xef\xbb\xbf" + csv_bytes([booking, school], CHINESE)
    rows = parse_csv(data)
    assert entries(rows) == [HOSPITAL_BOOKING, SCHOOL_ENROLMENT]
    assert [r.line for r in rows] == [2, 3]
    assert isinstance(rows[0].entry["user_count"], int)


def test_csv_written_by_a_chinese_spreadsheet_in_gb18030() -> None:
    data = csv_bytes([cells(FOOD_SAMPLING)], CHINESE, encoding="gb18030")
    assert entries(parse_file(data, CSV)) == [FOOD_SAMPLING]


def test_xlsx_with_date_and_number_cells() -> None:
    row = cells(BOOKING_APPLICATION)
    row[ENGLISH.index("start_date")] = date(2027, 1, 10)
    row[ENGLISH.index("end_date")] = datetime(2027, 12, 31, 0, 0)
    row[ENGLISH.index("budget_fen")] = 500_000_000.0  # spreadsheets keep numbers as floats
    empty_end = cells(HOSPITAL_BOOKING, sep=";")
    empty_end[ENGLISH.index("end_date")] = None
    rows = parse_xlsx(xlsx_bytes([row, [None] * 15, empty_end]))
    assert entries(rows) == [BOOKING_APPLICATION, HOSPITAL_BOOKING]
    assert [r.line for r in rows] == [2, 4]  # the empty row 3 is skipped
    assert type(rows[0].entry["budget_fen"]) is int


def test_json_array_or_entries_object() -> None:
    assert entries(parse_json(json.dumps(list(SAMPLES)).encode())) == list(SAMPLES)
    doc = json.dumps({"entries": [FOOD_SAMPLING]}, ensure_ascii=False).encode()
    rows = parse_file(doc, JSON)
    assert entries(rows) == [FOOD_SAMPLING] and rows[0].line == 0


_item = st.text(alphabet="预约挂号排班查询统计 ABCxyz123（）、，。", min_size=2, max_size=30).map(
    str.strip
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    functions=st.lists(_item.filter(lambda t: len(t) >= 2), min_size=1, max_size=8, unique=True),
    users=st.lists(_item.filter(bool), min_size=1, max_size=3, unique=True),
    budget=st.integers(0, 10**14),
    sep=st.sampled_from(["\n", "；", ";", "\r\n"]),
)
def test_csv_and_xlsx_round_trip(
    functions: list[str], users: list[str], budget: int, sep: str
) -> None:
    entry = variant(HOSPITAL_BOOKING, functions=functions, users=users, budget_fen=budget)
    assert entries(parse_csv(csv_bytes([cells(entry, sep)]))) == [entry]
    assert entries(parse_xlsx(xlsx_bytes([cells(entry, sep)]))) == [entry]


# --- files that are refused ---------------------------------------------------------------------


def test_a_malformed_csv_is_refused_with_every_problem_line_and_field() -> None:
    bad_budget = cells(FOOD_SAMPLING)
    bad_budget[ENGLISH.index("budget_fen")] = "12.5"
    bad_budget[ENGLISH.index("start_date")] = "2019-02-30"
    no_users = cells(variant(FOOD_SAMPLING, id="SYS-MARKET-0002"))
    no_users[ENGLISH.index("users")] = ""
    twice = cells(HOSPITAL_BOOKING)
    rows = [cells(HOSPITAL_BOOKING), cells(SCHOOL_ENROLMENT), bad_budget, no_users, twice]
    # Lines: header 1, booking 2-6 (its list cells hold new lines), school 7-10, then 11-14 ...
    data = csv_bytes(rows)
    with pytest.raises(ImportRefused) as err:
        parse_csv(data)
    lines = data.decode().splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line.startswith(("SYS-", "PRJ-"))]
    booking, _school, bad, empty, again = starts
    assert problems(err) == [
        (bad, "budget_fen", "must be an integer, not 12.5"),
        (bad, "start_date", "is not a calendar date from 1900 on"),
        (empty, "users", "must have 1 to 20 items"),
        (again, "id", f"repeats the id SYS-HEALTH-0001 of line {booking}"),
    ]
    assert err.value.code == "import_refused" and err.value.fields["count"] == 4
    assert err.value.message.startswith("the CSV file has 4 problem(s); nothing was imported.")


def test_a_malformed_xlsx_is_refused_with_row_numbers() -> None:
    bad = cells(SCHOOL_ENROLMENT)
    bad[ENGLISH.index("status")] = "planned"
    bad[ENGLISH.index("user_count")] = 12.5
    bad[ENGLISH.index("department")] = "教育"
    with pytest.raises(ImportRefused) as err:
        parse_file(xlsx_bytes([cells(FOOD_SAMPLING), bad]), XLSX)
    assert problems(err) == [
        (3, "user_count", "must be an integer, not 12.5"),
        (3, "status", "must be one of in_use, in_development, pending"),
        (3, "department", "must be a department code: 2 to 32 characters a-z, 0-9 and '_'"),
    ]


def test_a_malformed_json_file_names_the_index_and_field() -> None:
    doc = [FOOD_SAMPLING, variant(HOSPITAL_BOOKING, functions=[], budget_fen=1.5), "text"]
    with pytest.raises(ImportRefused) as err:
        parse_json(json.dumps(doc).encode())
    assert problems(err) == [
        (1, "functions", "must have 1 to 60 items"),
        (1, "budget_fen", "must be an integer"),
        (2, "", "an entry must be a JSON object"),
    ]
    with pytest.raises(ImportRefused) as err:
        parse_json(b'[{"id": "SYS-A-1",}]')
    assert problems(err)[0][:2] == (0, "") and "is not JSON" in problems(err)[0][2]
    with pytest.raises(ImportRefused):
        parse_json(b"{}")
    with pytest.raises(ImportRefused):
        parse_json(b"[]")


def test_header_problems_are_all_listed() -> None:
    header = [*ENGLISH[:-1], "colour", "name"]
    with pytest.raises(ImportRefused) as err:
        parse_csv(csv_bytes([cells(FOOD_SAMPLING)], header))
    assert problems(err) == [
        (1, "colour", "is not a column of the registry"),
        (1, "name", "is a repeated column"),
        (1, "end_date", "column is missing from the header"),
    ]
    stray = [*cells(FOOD_SAMPLING), "", "说明"]
    with pytest.raises(ImportRefused) as err:
        parse_csv(csv_bytes([stray]))
    assert problems(err) == [(2, "", "a value in column 17, which has no header")]
    for empty in (b"", b"\n\n", csv_bytes([])):
        with pytest.raises(ImportRefused):
            parse_csv(empty)


def test_not_a_workbook_and_unknown_types() -> None:
    with pytest.raises(ImportRefused) as err:
        parse_xlsx(b"PK\x03\x04 not really a zip")
    assert problems(err)[0][:2] == (0, "") and "is not an XLSX workbook" in problems(err)[0][2]
    assert media_type_of("text/csv; charset=utf-8") == CSV
    assert media_type_of("application/octet-stream", "registry.XLSX") == XLSX
    with pytest.raises(SchemaViolation):
        media_type_of("application/pdf", "registry.pdf")


def test_chunks_fit_the_transaction_size() -> None:
    rows = [ImportRow(i, variant(FOOD_SAMPLING, id=f"SYS-M-{i:04d}")) for i in range(30)]
    size = len(json.dumps(rows[0].entry, ensure_ascii=False, separators=(",", ":")).encode()) + 1
    batches = chunks(rows, 4 * size + 10)
    assert [len(b) for b in batches] == [4] * 7 + [2]
    assert [r for b in batches for r in b] == rows
    with pytest.raises(ImportRefused) as err:
        chunks(rows[:2], size - 1)
    assert [p[0] for p in problems(err)] == [0, 1]


# --- through the node: all or nothing -------------------------------------------------------------


def test_a_refused_file_imports_nothing_and_a_good_one_everything(desk: ProjectDesk) -> None:
    base = [variant(FOOD_SAMPLING, id=f"SYS-IMP-{i:04d}") for i in range(1, 41)]
    bad = [cells(e, sep=";") for e in base]  # one line per row
    bad[37][ENGLISH.index("end_date")] = "2018-01-01"  # before its start: line 39
    before = desk.registry().entries
    with pytest.raises(ImportRefused) as err:
        desk.import_file("market", "market/officer-1", csv_bytes(bad), CSV)
    assert problems(err) == [(39, "end_date", "must not be before start_date")]
    assert desk.registry().entries == before

    report = desk.import_file("market", "market/officer-1", csv_bytes(bad[:37]), CSV, dry_run=True)
    assert report.count == 37 and report.transactions == [] and report.dry_run
    assert desk.registry().entries == before

    data = xlsx_bytes([cells(e) for e in base])
    report = desk.import_file("market", "market/officer-1", data, XLSX)
    assert report.count == 40 and report.by_status == {"in_use": 40}
    assert sum(t["count"] for t in report.transactions) == 40
    assert report.transactions[0]["first"] == "SYS-IMP-0001"
    registered = {e["id"]: e for e in desk.registry().entries}
    assert all(registered[e["id"]]["keeper"] == "market" for e in base)
    assert registered["SYS-IMP-0040"]["actor"] == "market/officer-1"

    # A file naming one id already registered is refused whole, naming its line.
    again = [variant(FOOD_SAMPLING, id="SYS-IMP-0100"), base[5]]
    count = len(desk.registry().entries)
    with pytest.raises(ImportRefused) as err:
        desk.import_file("market", "market/officer-1", json.dumps(again).encode(), JSON)
    assert problems(err) == [(1, "id", "SYS-IMP-0006 is already registered")]
    assert len(desk.registry().entries) == count
