"""The dashboards of the staff workbench: decision support per department and across
departments (period, charts, CSV and XLSX downloads, staff only) and the supervision pages'
charts, all through the chart partial (``partials/chart.html``, ``static/charts.js``).

In process (``site``): every chart's data attribute holds the figures of its table, which are
those of ``analytics.decisions`` over the same index; the downloads open (``csv``, openpyxl).
In a real browser: ``test_browser.py::test_dashboards_in_a_browser`` (on the browser tests'
``govchain demo``).
"""

from __future__ import annotations

import csv
import datetime
import gzip
import html
import io
import json
import re
from importlib import resources
from typing import Any

import pytest
from openpyxl import load_workbook

from conftest import Site
from govchain.analytics.decisions import department_report, departments_overview, period_of
from govchain.analytics.export import hours
from govchain.analytics.follow import index_for
from govchain.analytics.queries import day_of, day_start_ms
from govchain.apps.supervision.demo import seed as seed_supervision
from govchain.portal import i18n

ZH = i18n.translations("zh")
CHART = re.compile(r"data-chart='([^']*)'")
ECHARTS = "/assets/echarts-6.1.0.simple.min.js"
SUPERVISED = 60
"""Enterprises of the supervision facts seeded for these tests."""


def charts_of(page: str) -> dict[str, dict[str, Any]]:
    """The charts of a page by element id: kind, labels, series (from ``data-chart``)."""
    found = {}
    for tag in re.findall(r"<div class=\"chart\"[^>]*>", page):
        ident = re.search(r'id="([^"]+)"', tag)
        data = CHART.search(tag)
        assert ident and data, tag
        found[ident.group(1)] = json.loads(html.unescape(data.group(1)))
    return found


@pytest.fixture(scope="module")
def officer(site: Site) -> Any:
    """A market regulation officer, logged in (Chinese pages)."""
    c = site.client()
    c.login(site.logins["market/officer"])
    index_for(site.app.state)
    assert site.app.state.analytics.wait_caught_up(30)
    return c


def test_the_overview_shows_every_department_with_its_charts(site: Site, officer: Any) -> None:
    r = officer.get("/staff/decisions")
    assert r.status_code == 200, r.text
    assert '<html lang="zh-CN"' in r.text and ZH.gettext("Decision support") in r.text
    index = index_for(site.app.state)
    lines = departments_overview(index, period_of(index))
    assert lines, "the demo's cases are indexed"
    names = {d.id: d.name for d in site.node.genesis.departments}
    charts = charts_of(r.text)
    opened = charts["departments-cases"]
    assert opened["kind"] == "bar"
    assert opened["labels"] == [names[d.department] for d in lines]
    assert opened["series"][0]["values"] == [d.opened for d in lines]
    assert charts["departments-hours"]["series"][0]["values"] == [hours(d.mean_ms) for d in lines]
    assert charts["departments-overdue"]["series"][0]["values"] == [
        d.overdue_permille for d in lines
    ]
    # Only the own department's report is linked; the downloads carry the period.
    assert 'href="/staff/decisions/market?from=' in r.text
    assert "/staff/decisions/tax?" not in r.text
    assert "/staff/decisions/download?format=xlsx&amp;from=" in r.text
    assert ECHARTS in r.text and "/static/charts.js" in r.text
    english = officer.get("/lang/en", params={"next": "/staff/decisions"})
    assert english.status_code == 303
    en = officer.get("/staff/decisions").text
    assert '<html lang="en"' in en and "Cases opened per department" in en
    officer.get("/lang/zh")


def test_a_department_report_per_service_and_month(site: Site, officer: Any) -> None:
    index = index_for(site.app.state)
    last = day_of(period_of(index).now_ms - 1)
    first = last - 59
    start = datetime.date(1970, 1, 1) + datetime.timedelta(days=first)
    end = datetime.date(1970, 1, 1) + datetime.timedelta(days=last)
    r = officer.get("/staff/decisions/market", params={"from": str(start), "to": str(end)})
    assert r.status_code == 200, r.text
    report = department_report(
        index, "market", period_of(index, day_start_ms(first), day_start_ms(last + 1))
    )
    assert report.services
    charts = charts_of(r.text)
    assert charts["service-cases"]["series"][0]["values"] == [s.opened for s in report.services]
    trend = charts["month-cases"]
    assert trend["kind"] == "line"
    assert trend["labels"] == [m.month for m in report.months]
    assert trend["series"][0]["values"] == [m.opened for m in report.months]
    assert trend["series"][1]["values"] == [m.decided for m in report.months]
    assert charts["month-overdue"]["series"][0]["values"] == [
        m.overdue_permille for m in report.months
    ]
    # The form shows the period asked for; each figure is in a table too.
    assert f'value="{start}"' in r.text and f'value="{end}"' in r.text
    assert r.text.count("<details open data-chart-table>") == len(charts)
    for s in report.services:
        assert f'<span class="hint">{s.service}</span>' in r.text


def test_a_date_that_is_not_one_is_named_and_the_default_period_shown(officer: Any) -> None:
    r = officer.get("/staff/decisions", params={"from": "2026-02-30"})
    assert r.status_code == 200
    assert 'class="error-summary"' in r.text and 'href="#from"' in r.text
    refused = officer.get("/staff/decisions/download", params={"from": "yesterday"})
    assert refused.status_code == 422


def test_csv_and_xlsx_downloads_open(site: Site, officer: Any) -> None:
    index = index_for(site.app.state)
    period = period_of(index)
    lines = departments_overview(index, period)
    got = officer.get("/staff/decisions/download", params={"format": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0][:2] == [ZH.gettext("Department"), ZH.gettext("Opened")]
    assert [r[0] for r in rows[1:]] == [d.department for d in lines]
    assert [int(r[1]) for r in rows[1:]] == [d.opened for d in lines]
    book = load_workbook(
        io.BytesIO(officer.get("/staff/decisions/market/download?format=xlsx").content)
    )
    assert book.sheetnames == ["services", "months"]
    report = department_report(index, "market", period)
    sheet = [list(r) for r in book["services"].iter_rows(values_only=True)]
    assert sheet[0][0] == ZH.gettext("Service")
    assert [(r[0], r[1], r[2]) for r in sheet[1:]] == [
        (s.service, s.opened, s.decided) for s in report.services
    ]
    months = officer.get(
        "/staff/decisions/market/download", params={"format": "csv", "table": "months"}
    )
    month_rows = list(csv.reader(io.StringIO(months.content.decode("utf-8-sig"))))
    assert [r[0] for r in month_rows[1:]] == [m.month for m in report.months]


def test_decision_support_is_for_staff_only(site: Site) -> None:
    anonymous = site.client()
    r = anonymous.get("/staff/decisions")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    citizen = site.client()
    citizen.login(site.logins["citizen"])
    assert citizen.get("/staff/decisions").status_code == 403
    assert citizen.get("/staff/decisions/download?format=csv").status_code == 403
    approver = site.client()
    approver.login(site.logins["market/approver"])
    assert approver.get("/staff/decisions").status_code == 403  # not a reader role
    other = site.client()
    other.login(site.logins["tax/officer"])
    assert other.get("/staff/decisions").status_code == 200
    assert other.get("/staff/decisions/market").status_code == 403  # another department's
    assert other.get("/staff/decisions/market/download?format=xlsx").status_code == 403
    assert other.get("/staff/decisions/tax").status_code == 200


def test_only_pages_with_charts_load_the_library(site: Site, officer: Any) -> None:
    workbench = officer.get("/staff").text
    assert 'href="/staff/decisions"' in workbench  # linked from the workbench
    for page in (workbench, officer.get("/").text, officer.get("/services").text):
        assert ECHARTS not in page and "charts.js" not in page


def test_the_library_is_served_compressed(site: Site) -> None:
    raw = (
        resources.files("govchain.portal")
        .joinpath("static/vendor/echarts-6.1.0.simple.min.js")
        .read_bytes()
    )
    c = site.client()
    zipped = c.get(ECHARTS, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-type"].startswith("text/javascript")
    assert int(zipped.headers["content-length"]) < len(raw) // 2
    assert zipped.content == raw  # httpx decodes it
    plain = c.get(ECHARTS, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == raw
    assert gzip.decompress(gzip.compress(raw)) == raw


@pytest.fixture(scope="module")
def supervised(site: Site) -> Site:
    """The supervision demo (facts of a few enterprises, a plan and its draw, the alerts)."""
    seed_supervision(site.node, site.app.state, SUPERVISED)
    return site


def test_the_supervision_pages_draw_their_charts_with_the_partial(
    supervised: Site, officer: Any
) -> None:
    desk = supervised.app.state.supervision
    page = officer.get("/staff/supervision")
    assert page.status_code == 200, page.text
    assert "<svg" not in page.text  # the inline SVG charts are gone
    charts = charts_of(page.text)
    alerts = desk.alerts()
    assert alerts, "the demo's last month raises an alert"
    trend = charts["trend-1"]
    points = desk.trend(alerts[0]["subject"])
    assert trend["labels"] == [p for p, _ in points]
    assert trend["series"][0]["values"] == [v // 100 for _, v in points]  # fen to yuan
    _month, cells, _total = desk.assistance()
    shown = [c for c in cells if c.count is not None]
    if shown:
        assert charts["assistance"]["series"][0]["values"] == [c.count for c in shown]
    assert alerts[0]["subject"] in page.text  # the alerts' table is kept
    risk = officer.get("/staff/supervision/risk")
    pie = charts_of(risk.text)["risk-classes"]
    counts = desk.risk_list("", "", 1, 0)["counts"]
    assert pie["kind"] == "pie"
    assert pie["series"][0]["values"] == [counts["high"], counts["medium"], counts["low"]]
    assert ECHARTS in risk.text
