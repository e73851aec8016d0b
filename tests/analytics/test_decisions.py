"""Decision support on a small fixed data set of case rows (hand-computed answers)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from govchain.analytics.decisions import (
    DAY_MS,
    department_report,
    departments_overview,
    mean,
    period_of,
    permille,
)
from govchain.analytics.export import overview_table, report_tables, to_csv, to_xlsx
from govchain.analytics.extract import LedgerBlock
from govchain.analytics.index import AnalyticsIndex
from govchain.analytics.schema import CASES, case_rows
from govchain.errors import SchemaViolation
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.receipts import Receipt, entry_bytes

T0 = 1_735_660_800_000  # 2025-01-01T00:00:00+08:00
HOUR = 3_600_000


def _case(
    number: str, service: str, dept: str, events: list[str], *, status: str, outcome: str = "",
    submitted: int, decided: int = 0, deadline: int = 0,
) -> dict[str, Any]:  # fmt: skip
    return {
        "number": number,
        "service": service,
        "status": status,
        "outcome": outcome,
        "submitted_ms": submitted,
        "decided_ms": decided,
        "steps": [{"id": "review", "deadline_ms": deadline}, {"id": "x", "deadline_ms": 0}],
        "history": [
            {"event": e, "dept": dept if i == 0 else "other"} for i, e in enumerate(events)
        ],
    }


def _block(height: int, time_ms: int, calls: list[tuple[str, str, dict[str, Any]]]) -> LedgerBlock:
    entries = []
    for i, (member, method, doc) in enumerate(calls):
        body = {"signer": member, "contract": "cases", "method": method, "args": {},
                "actor": member, "case": doc["number"]}  # fmt: skip
        entries.append(
            entry_bytes(height, i, {"body": body, "signature": "00"}, Receipt("ok", result=doc))
        )
    return LedgerBlock(
        height=height,
        hash=f"{height:064x}",
        time_ms=time_ms,
        tx_ids=tuple(bytes([height, i]) * 16 for i in range(len(calls))),
        entries=tuple(entries),
    )


def _index() -> AnalyticsIndex:
    """Four market cases and one tax case over two months:

    - A (market, licence): submitted Jan 1, decided Jan 3 approved (48 h), deadline Jan 5.
    - B (market, licence): submitted Jan 2, decided Feb 10 rejected (933 h), deadline Jan 9: late.
    - C (market, filing): submitted Jan 20, still open, deadline Feb 1: open and late on Feb 10.
    - D (market, filing): submitted Feb 10, withdrawn the same day.
    - E (tax, refund): submitted Jan 1, decided Jan 2 (24 h).
    """
    a = dict(service="licence", dept="market", submitted=T0, deadline=T0 + 4 * DAY_MS)
    b = dict(service="licence", dept="market", submitted=T0 + DAY_MS, deadline=T0 + 8 * DAY_MS)
    c = dict(service="filing", dept="market", submitted=T0 + 19 * DAY_MS, deadline=T0 + 31 * DAY_MS)
    feb10 = T0 + 40 * DAY_MS
    blocks = [
        _block(1, T0, [
            ("market/admin", "submit", _case("A", events=["submitted"], status="submitted", **a)),
            ("tax/admin", "submit", _case("E", "refund", "tax", ["submitted"], status="submitted",
                                          submitted=T0)),
        ]),
        _block(2, T0 + DAY_MS, [
            ("market/admin", "submit", _case("B", events=["submitted"], status="submitted", **b)),
            ("tax/admin", "decide", _case("E", "refund", "tax", ["submitted", "approved"],
                                          status="issued", outcome="approved", submitted=T0,
                                          decided=T0 + DAY_MS)),
        ]),
        _block(3, T0 + 2 * DAY_MS, [
            ("market/admin", "accept", _case("A", events=["submitted", "accepted"],
                                             status="accepted", **a)),
            ("market/admin", "decide", _case("A", events=["submitted", "accepted", "approved"],
                                             status="issued", outcome="approved",
                                             decided=T0 + 2 * DAY_MS, **a)),
        ]),
        _block(4, T0 + 19 * DAY_MS, [
            ("market/admin", "submit", _case("C", events=["submitted"], status="submitted", **c)),
        ]),
        _block(5, feb10, [
            ("market/admin", "decide", _case("B", events=["submitted", "rejected"],
                                             status="decided", outcome="rejected",
                                             decided=feb10, **b)),
            ("market/admin", "submit", _case("D", "filing", "market", ["submitted"],
                                             status="submitted", submitted=feb10)),
            ("market/admin", "withdraw", _case("D", "filing", "market", ["submitted", "withdrawn"],
                                               status="withdrawn", outcome="withdrawn",
                                               submitted=feb10)),
        ]),
    ]  # fmt: skip
    index = AnalyticsIndex(None, (CASES,))
    index.ingest(blocks)
    return index


def test_case_rows_carry_the_handling_department_and_kind() -> None:
    index = _index()
    rows = index.query(
        "SELECT case_no, kind, event, department FROM cases ORDER BY height, position"
    )
    assert rows == [
        ("A", "opened", "submitted", "market"),
        ("E", "opened", "submitted", "tax"),
        ("B", "opened", "submitted", "market"),
        ("E", "decided", "approved", "tax"),
        ("A", "transition", "accepted", "market"),
        ("A", "decided", "approved", "market"),
        ("C", "opened", "submitted", "market"),
        ("B", "decided", "rejected", "market"),
        ("D", "opened", "submitted", "market"),
        ("D", "transition", "withdrawn", "market"),
    ]


def test_department_report_known_answers() -> None:
    index = _index()
    period = period_of(index)
    feb11 = T0 + 41 * DAY_MS
    assert (period.to_ms, period.now_ms) == (feb11, T0 + 40 * DAY_MS + 1)
    assert period.from_ms == feb11 - 365 * DAY_MS
    report = department_report(index, "market", period)
    by = {s.service: s for s in report.services}
    licence, filing = by["licence"], by["filing"]
    assert (licence.opened, licence.decided, licence.approved, licence.rejected) == (2, 2, 1, 1)
    # A took 48 h, B 39 days - 1 day = 936 h: mean 492 h.
    assert licence.mean_ms == (48 + 936) // 2 * HOUR
    assert (licence.decided_late, licence.overdue_permille) == (1, 500)
    assert (licence.open, licence.open_late) == (0, 0)
    # C is open (deadline Feb 1, now Feb 10: late); D was withdrawn.
    assert (filing.opened, filing.decided, filing.open, filing.open_late) == (2, 0, 1, 1)
    assert [(m.month, m.opened, m.decided, m.decided_late) for m in report.months] == [
        ("2025-01", 3, 1, 0),
        ("2025-02", 1, 1, 1),
    ]
    assert report.months[0].mean_ms == 48 * HOUR
    totals = report.totals()
    assert (totals.opened, totals.decided, totals.open_late) == (4, 2, 1)
    doc = report.to_json()
    assert [s["service"] for s in doc["services"]] == ["filing", "licence"]  # tie: by code
    assert doc["services"][1]["overdue_permille"] == 500 and doc["index_height"] == 5


def test_a_period_is_whole_days_and_counts_only_its_days() -> None:
    index = _index()
    # Jan 1 12:00 to Jan 19 (exclusive, widened to Jan 20 00:00): A and B opened, A decided.
    period = period_of(index, T0 + 12 * HOUR, T0 + 18 * DAY_MS + 1)
    assert (period.from_ms, period.to_ms) == (T0, T0 + 19 * DAY_MS)
    by = {s.service: s for s in department_report(index, "market", period).services}
    assert (by["licence"].opened, by["licence"].decided) == (2, 1)
    assert (by["filing"].opened, by["filing"].open) == (0, 1)  # open now, opened later


def test_derived_tables_are_verified_against_the_case_rows() -> None:
    from govchain.analytics.verify import derived_mismatches

    index = _index()
    con = index.cursor()
    assert derived_mismatches(con, 5) == []
    # E's two days (opened Jan 1, decided Jan 2) change; C (open) is lost.
    con.execute("UPDATE case_days SET opened = opened + 1 WHERE service = 'refund'")
    con.execute("DELETE FROM open_cases")
    found = [(t, k) for t, k, _ in derived_mismatches(con, 5)]
    assert found == [
        ("case_days", "missing"),
        ("case_days", "missing"),
        ("case_days", "unexpected"),
        ("case_days", "unexpected"),
        ("open_cases", "missing"),
    ]
    con.close()


def test_overview_and_rates() -> None:
    index = _index()
    lines = departments_overview(index, period_of(index))
    assert [(d.department, d.opened, d.decided, d.decided_late) for d in lines] == [
        ("market", 4, 2, 1),
        ("tax", 1, 1, 0),
    ]
    assert lines[1].mean_ms == 24 * HOUR
    assert permille(1, 3) == 333 and permille(2, 3) == 667 and permille(1, 0) == 0
    assert mean(5, 2) == 3 and mean(0, 0) == 0
    with pytest.raises(SchemaViolation):
        period_of(index, from_ms=T0, to_ms=T0)


def test_exports_hold_the_same_figures() -> None:
    index = _index()
    report = department_report(index, "market", period_of(index))
    services, months = report_tables(report)
    rows = list(csv.reader(io.StringIO(to_csv(services).decode("utf-8-sig"))))
    assert rows[0][:3] == ["service", "opened", "decided"]
    assert {len(r) for r in rows} == {len(services.columns)}
    assert all(len(r) == len(t.columns) for t in (services, months) for r in t.rows)
    assert rows[2][:8] == ["licence", "2", "2", "1", "1", "492", "1", "500"]
    book = load_workbook(io.BytesIO(to_xlsx([services, months], {"month": "月份"})))
    assert book.sheetnames == ["services", "months"]
    assert [c.value for c in book["months"][1]][:2] == ["月份", "opened"]
    assert [c.value for c in book["months"][2]][:3] == ["2025-01", 3, 1]
    overview = overview_table(departments_overview(index, period_of(index)))
    assert overview.rows[0][:3] == ("market", 4, 2)


def test_formula_like_cells_are_text() -> None:
    from govchain.analytics.export import Table

    table = Table("t", ("a",), (("=1+1",),))
    assert to_csv(table).decode("utf-8-sig").splitlines()[1] == "'=1+1"
    book = load_workbook(io.BytesIO(to_xlsx([table])))
    assert book["t"]["A2"].data_type == "s"


def test_case_rows_skip_results_that_are_not_cases() -> None:
    from govchain.analytics.extract import TxFacts

    facts = TxFacts(1, 0, "00", T0, "cases", "submit", "a/b", "a", {}, True, result=None)
    assert list(case_rows(facts)) == []
    assert canonical_unchecked({}) == b"{}"
