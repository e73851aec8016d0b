"""The portal's pages of duplication review (项目重复性审查), driven like a browser on the
seeded in-process node of ``conftest.site`` (whose ``deploy_in_process`` commits the
``projects`` contract with every other service): staff list the applications and the registry,
open an application and read its review, candidate by candidate and function by function; an
approver of another department records the decision, which the applicant department then
reads; the applicant's own approver gets no form and a forged post is refused with nothing
written; citizens get no page; a post without its CSRF token is refused. One browser check:
the pages in Debian's Chromium with axe-core (``browser.Visitor``), served from the same
in-process application through Playwright's request routing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser import Audits, Visitor, launch
from playwright.sync_api import Route, sync_playwright

from conftest import ORIGIN, Client, Site, csrf_of
from govchain.apps.projects.service import ProjectDesk, desk_for
from govchain.apps.projects.tests.samples import (
    BOOKING_APPLICATION,
    FOOD_SAMPLING,
    HOSPITAL_BOOKING,
    SCHOOL_ENROLMENT,
    variant,
)
from govchain.errors import NotFound
from govchain.portal import i18n
from govchain.portal.routes.projects import (
    NEED_REASON,
    NEED_RECOMMENDATION,
    NEED_TARGET,
    NO_TARGET,
    SELF_REVIEW,
    WRONG_TARGET,
    form_problems,
    may_decide,
)

SYSTEM = "SYS-PTEST-0001"
"""An in-use system of health (the hospital booking system), kept by the data bureau."""
PROJECT = "PRJ-PTEST-0001"
"""A project in development (school enrolment)."""
BOOKING = "APP-PTEST-0001"
"""Human resources and social security's application: a reworded copy of ``SYSTEM``."""
ENROL_HOUSING = "APP-PTEST-0002"
"""Housing's application for a school enrolment system."""
ENROL_TRANSPORT = "APP-PTEST-0003"
"""Transport's application for the same school enrolment system."""
SAMPLING = "APP-PTEST-0004"
"""Customs' application for food sampling: a copy of market regulation's system in use."""
ZH = i18n.translations("zh")


def zh(message: str) -> str:
    """A portal message in Chinese."""
    return ZH.gettext(message)


@pytest.fixture(scope="module")
def desk(site: Site) -> ProjectDesk:
    """The registry of the sample systems and three applications, all registered by the data
    bureau (大数据发展管理局), which keeps the registry for the departments."""
    found = desk_for(site.app.state)
    enrolment = {"status": "pending", "start_date": "2027-02-01", "end_date": "2027-12-31"}
    for entry in (
        variant(HOSPITAL_BOOKING, id=SYSTEM),
        variant(SCHOOL_ENROLMENT, id=PROJECT),
        variant(FOOD_SAMPLING, id="SYS-PTEST-0002"),
        variant(
            BOOKING_APPLICATION,
            id=BOOKING,
            department="hrss",
            department_name="省人力资源和社会保障厅",
        ),
        variant(
            SCHOOL_ENROLMENT,
            id=ENROL_HOUSING,
            department="housing",
            department_name="省住房和城乡建设厅",
            name="随迁子女入学报名系统",
            **enrolment,
        ),
        variant(
            SCHOOL_ENROLMENT,
            id=ENROL_TRANSPORT,
            department="transport",
            department_name="省交通运输厅",
            name="职工子女入学网上报名平台",
            **enrolment,
        ),
        variant(
            FOOD_SAMPLING,
            id=SAMPLING,
            status="pending",
            department="customs",
            department_name="杭州海关",
            name="进口食品抽检管理系统",
            start_date="2027-03-01",
        ),
    ):
        found.register("data", "data/officer", entry)
    return found


@pytest.fixture
def person(site: Site, desk: ProjectDesk) -> Iterator[Any]:
    """``person(login, lang="zh")``: a browser logged in as a demo login."""

    def open_as(login: str, lang: str = "zh") -> Client:
        c = site.client()
        c.http.cookies.set(i18n.COOKIE, lang)
        c.login(site.logins.get(login, login))
        return c

    yield open_as


def form_action(entry_id: str) -> str:
    return f'action="/staff/projects/{entry_id}/decision"'


def rows(page: str) -> list[str]:
    """The table rows of a page, their tags removed, their text unescaped."""
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, re.S)
        found.append(" | ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells))
    return found


def decide(c: Client, entry_id: str, **form: str) -> Any:
    """Post the decision form of an entry page with its CSRF token."""
    token = csrf_of(c.get(f"/staff/projects/{entry_id}").text)
    return c.post(f"/staff/projects/{entry_id}/decision", data={"csrf": token, **form})


# --- the form's rules, without a node ---------------------------------------------------------


CANDIDATES = [
    {"id": "SYS-A-1", "status": "in_use"},
    {"id": "PRJ-B-1", "status": "in_development"},
    {"id": "APP-C-1", "status": "pending"},
]


@pytest.mark.parametrize(
    ("recommendation", "target", "reason", "expected"),
    [
        ("reuse", "SYS-A-1", "可直接复用", {}),
        ("join", "PRJ-B-1", "并入", {}),
        ("merge", "APP-C-1", "合并申报", {}),
        ("build", "", "单独建设", {}),
        ("", "", "理由", {"recommendation": NEED_RECOMMENDATION}),
        ("rebuild", "", "理由", {"recommendation": NEED_RECOMMENDATION}),
        ("build", "SYS-A-1", "理由", {"target": NO_TARGET}),
        ("reuse", "", "理由", {"target": NEED_TARGET}),
        ("reuse", "PRJ-B-1", "理由", {"target": WRONG_TARGET}),  # not in use
        ("join", "SYS-X-9", "理由", {"target": WRONG_TARGET}),  # not a candidate
        ("build", "", " 好 ", {"reason": NEED_REASON}),
        ("build", "", "长" * 1001, {"reason": NEED_REASON}),
    ],
)
def test_the_decision_form_takes_a_target_of_the_fitting_status_and_a_reason(
    recommendation: str, target: str, reason: str, expected: dict[str, str]
) -> None:
    form = {"recommendation": recommendation, "target": target, "reason": reason}
    chosen, aimed, text, problems = form_problems(form, CANDIDATES)
    assert problems == expected
    if not problems:
        assert (chosen, aimed, text) == (recommendation, target or None, reason.strip())


def test_only_an_approver_of_another_department_may_decide_a_pending_application() -> None:
    application = {
        "id": "APP-X-0001",
        "status": "pending",
        "department": "transport",
        "keeper": "data",
    }
    review = {
        "application": "APP-X-0001",
        "recommendation": "build",
        "target": None,
        "confidence": 700,
        "reasons": ["没有相似条目"],
        "candidates": [],
    }
    assert may_decide(application, "data", "approver", review)  # it keeps, transport applied
    assert may_decide(application, "health", "approver", review)
    assert not may_decide(application, "transport", "approver", review)  # self review
    assert not may_decide(application, "data", "officer", review)  # not an approver
    assert not may_decide({**application, "status": "reviewed"}, "data", "approver", review)
    own = {**application, "keeper": "transport"}  # filed by transport itself
    assert not may_decide(own, "transport", "approver", review)
    assert may_decide(own, "data", "approver", review)


# --- the pages --------------------------------------------------------------------------------


def test_staff_list_the_applications_and_filter_them(person: Any) -> None:
    hrss = person("hrss/officer", "en")
    page = hrss.get("/staff/projects")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'href="/staff/projects" aria-current="page">Project review</a>' in text  # nav
    assert "Waiting for review" in text and "Reviewed" in text
    for ident in (BOOKING, ENROL_HOUSING, ENROL_TRANSPORT):
        assert f'href="/staff/projects/{ident}"' in text
    assert f'href="/staff/projects/{SYSTEM}"' not in text  # the registry is listed apart
    mine = next(r for r in rows(text) if BOOKING in r)
    assert "Your department" in mine and "5,000,000.00 yuan" in mine  # 500,000,000 fen
    assert not any("Your department" in r for r in rows(text) if ENROL_HOUSING in r)
    # Filters: department, words, status (the registry's systems in use).
    by_dept = hrss.get("/staff/projects", params={"department": "housing"}).text
    assert ENROL_HOUSING in by_dept and BOOKING not in by_dept
    by_words = hrss.get("/staff/projects", params={"q": "挂号"}).text
    assert BOOKING in by_words and ENROL_HOUSING not in by_words
    in_use = hrss.get("/staff/projects", params={"status": "in_use"}).text
    assert SYSTEM in in_use and "SYS-PTEST-0002" in in_use and BOOKING not in in_use
    assert 'href="/staff/projects?status=in_use" aria-current="page"' in in_use
    developing = hrss.get("/staff/projects", params={"status": "in_development"}).text
    assert PROJECT in developing and SYSTEM not in developing
    assert hrss.get("/staff/projects", params={"status": "lost"}).status_code == 422


def test_an_application_shows_its_review_candidates_and_function_matches(
    person: Any, desk: ProjectDesk
) -> None:
    hrss = person("hrss/officer", "en")
    r = hrss.get(f"/staff/projects/{BOOKING}")
    assert r.status_code == 200, r.text
    page = r.text
    # Its fields: purpose, functions numbered, resources, users, budget in yuan, dates, keeper.
    entry = desk.entry(BOOKING)
    assert html.escape(entry["purpose"]) in page
    assert all(f"<li>{f}</li>" in page for f in entry["functions"])
    assert "<code>health.resident_health_records</code>" in page
    assert "5,000,000.00 yuan" in page and "about 10,000,000 people" in page
    assert "2027-01-10" in page and "2027-12-31" in page and "Applied on" in page
    assert "大数据发展管理局" in page  # kept by the data bureau
    # The review: a reworded copy of the hospital booking system in use is found first.
    review = desk.review(BOOKING)
    assert review["recommendation"] == "reuse" and review["target"] == SYSTEM
    top = review["candidates"][0]
    assert top["id"] == SYSTEM
    assert "Recommendation: Reuse a system in use" in page
    assert f"Confidence: {review['confidence'] // 10}%" in page
    assert all(html.escape(reason) in page for reason in review["reasons"])
    table = rows(page)
    row = next(r for r in table if r.startswith(HOSPITAL_BOOKING["name"]))
    coverage = f"{top['coverage'] // 10}.{top['coverage'] % 10}%"
    assert SYSTEM in row and "In use" in row and coverage in row
    assert "8,600,000.00 yuan" in row and "health.resident_health_records" in row
    # Function by function: each matching pair side by side, with its similarity.
    theirs = HOSPITAL_BOOKING["functions"]
    assert len(top["functions"]) >= 3
    for m in top["functions"]:
        mine = f"{m['function'] + 1}. {entry['functions'][m['function']]}"
        match = f"{m['matches'] + 1}. {theirs[m['matches']]}"
        score = f"{m['score'] // 10}.{m['score'] % 10}%"
        assert f"{mine} | {match} | {score}" in table, (mine, match)
    # A known pair (samples.py: the first function, reworded).
    assert any(
        r.startswith("1. 患者用手机和网站预约医院门诊号源 | 1. 患者通过手机应用和网站")
        for r in table
    )
    assert page.count("<details") == len(review["candidates"])
    # History: the registration, with its transaction's receipt.
    tx = desk.history(BOOKING)[0]["tx_id"]
    assert f'href="/v1/transactions/{tx}/receipt"' in page
    # Read-only for the applicant department's officer.
    assert form_action(BOOKING) not in page and "<textarea" not in page
    assert hrss.get("/staff/projects/APP-NONE-0001").status_code == 404


def test_an_approver_of_another_department_records_the_decision(
    person: Any, desk: ProjectDesk
) -> None:
    reviewer = person("data/approver", "en")
    page = reviewer.get(f"/staff/projects/{BOOKING}").text
    assert form_action(BOOKING) in page
    # Preselected from the review: reuse, the system in use.
    assert re.search(
        r'<input type="radio" id="decision-recommendation" [^>]*value="reuse" checked', page
    )
    assert f'<option value="{SYSTEM}" selected>' in page
    assert re.search(
        rf'<optgroup label="To reuse: systems in use">\s*<option value="{SYSTEM}"', page
    )

    reason = "人社厅的需求可由卫健委在用的预约挂号系统满足，开放接口即可复用。"
    r = decide(reviewer, BOOKING, recommendation="reuse", target=SYSTEM, reason=reason)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(rf"/staff/projects/{BOOKING}\?tx=[0-9a-f]{{64}}#decision", location)
    decision = desk.decision(BOOKING)
    assert decision["recommendation"] == "reuse" and decision["target"] == SYSTEM
    assert decision["dept"] == "data" and decision["changed"] is False
    assert decision["tx_id"] in location
    done = reviewer.get(location.split("#")[0]).text
    assert "The review decision is recorded." in done and form_action(BOOKING) not in done

    # The applicant department sees the decision and the evidence, read-only (in Chinese).
    applicant = person("hrss/approver")
    seen = applicant.get(f"/staff/projects/{BOOKING}").text
    assert zh("Review decision") in seen and html.escape(reason) in seen
    assert zh("The decision confirmed the review's recommendation.") in seen
    assert zh("The review the decision rests on") in seen
    assert f'href="/v1/transactions/{decision["tx_id"]}/receipt"' in seen
    assert "大数据发展管理局" in seen and "data/approver" in seen
    assert form_action(BOOKING) not in seen and "<textarea" not in seen
    listed = applicant.get("/staff/projects").text
    reviewed = next(r for r in rows(listed) if BOOKING in r)
    assert zh("Reuse a system in use") in reviewed and SYSTEM in reviewed
    history = desk.history(BOOKING)
    assert [h["change"] for h in history] == ["registered", "reviewed"]
    assert history[-1]["tx_id"] == decision["tx_id"]

    # Once decided, another decision is refused (409) and nothing changes.
    again = reviewer.post(
        f"/staff/projects/{BOOKING}/decision",
        data={"csrf": csrf_of(page), "recommendation": "join", "target": PROJECT, "reason": "改"},
    )
    assert again.status_code == 409, again.text
    assert "This application has been decided already" in again.text
    assert desk.decision(BOOKING)["tx_id"] == decision["tx_id"]


def test_a_decision_that_changes_the_recommendation_says_so(person: Any, desk: ProjectDesk) -> None:
    review = desk.review(SAMPLING)
    assert review["recommendation"] == "reuse" and review["target"] == "SYS-PTEST-0002"
    health = person("health/approver", "en")
    reason = "进口食品抽检涉及口岸查验流程，市场监管系统无法承载，在公共平台上单独建设。"
    r = decide(health, SAMPLING, recommendation="build", target="", reason=reason)
    assert r.status_code == 303, r.text
    decision = desk.decision(SAMPLING)
    assert decision["changed"] is True and decision["target"] is None
    assert decision["reviewed"] == {"recommendation": "reuse", "target": "SYS-PTEST-0002"}
    customs = person("customs/officer", "en")
    page = customs.get(f"/staff/projects/{SAMPLING}").text
    assert "The decision changed the review's recommendation." in html.unescape(page)
    assert "Build it separately on the common platform" in page and html.escape(reason) in page
    assert "卫生健康委员会" in page and "health/approver" in page  # who decided
    listed = next(r for r in rows(customs.get("/staff/projects").text) if SAMPLING in r)
    assert "Build it separately" in listed and "changed from the review's recommendation" in listed


def test_form_errors_are_shown_next_to_the_fields_and_nothing_is_written(
    person: Any, desk: ProjectDesk
) -> None:
    reviewer = person("data/approver", "en")
    before = desk.entry(ENROL_TRANSPORT)
    r = decide(reviewer, ENROL_TRANSPORT, recommendation="build", target=SYSTEM, reason="")
    assert r.status_code == 422, r.text
    page = r.text
    assert 'class="error-summary"' in page
    assert '<a href="#decision-target">A recommendation to build has no target' in page
    assert '<a href="#decision-reason">Write the reason, 2 to 1000 characters</a>' in page
    assert 'id="decision-target-error"' in page and 'id="decision-reason-error"' in page
    assert re.search(r'value="build" checked', page)  # the answers are kept
    r = decide(reviewer, ENROL_TRANSPORT, recommendation="reuse", target=PROJECT, reason="复用")
    assert r.status_code == 422 and "Choose one of the entries listed" in r.text
    assert desk.entry(ENROL_TRANSPORT) == before
    with pytest.raises(NotFound):
        desk.decision(ENROL_TRANSPORT)


def test_the_applicants_own_approver_gets_no_form_and_a_forged_post_is_refused(
    person: Any, desk: ProjectDesk
) -> None:
    housing = person("housing/approver")
    page = housing.get(f"/staff/projects/{ENROL_HOUSING}").text
    assert form_action(ENROL_HOUSING) not in page and "<textarea" not in page
    assert zh("Your department applied for this project: another department reviews it.") in page
    before = desk.entry(ENROL_HOUSING)
    forged = housing.post(
        f"/staff/projects/{ENROL_HOUSING}/decision",
        data={"csrf": csrf_of(page), "recommendation": "build", "reason": "自己批准自己"},
    )
    assert forged.status_code == 403, forged.text
    assert zh(SELF_REVIEW) in forged.text and 'class="error-summary"' in forged.text
    # Who decides is checked before the form: an empty form is refused the same way.
    empty = housing.post(f"/staff/projects/{ENROL_HOUSING}/decision", data={"csrf": csrf_of(page)})
    assert empty.status_code == 403 and zh(SELF_REVIEW) in empty.text
    # An officer of another department may read but not decide.
    officer = person("transport/officer")
    token = csrf_of(officer.get(f"/staff/projects/{ENROL_HOUSING}").text)
    posted = officer.post(
        f"/staff/projects/{ENROL_HOUSING}/decision",
        data={"csrf": token, "recommendation": "build", "reason": "单独建设"},
    )
    assert posted.status_code == 403
    assert desk.entry(ENROL_HOUSING) == before
    with pytest.raises(NotFound):
        desk.decision(ENROL_HOUSING)


def test_a_post_without_its_csrf_token_or_from_another_site_is_refused(
    person: Any, desk: ProjectDesk
) -> None:
    reviewer = person("data/approver", "en")
    form = {"recommendation": "build", "reason": "单独建设"}
    path = f"/staff/projects/{ENROL_HOUSING}/decision"
    assert reviewer.post(path, data=form).status_code == 403
    assert reviewer.post(path, data={**form, "csrf": "forged"}).status_code == 403
    token = csrf_of(reviewer.get(f"/staff/projects/{ENROL_HOUSING}").text)
    cross = reviewer.post(
        path, data={**form, "csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403 and "another site" in cross.text
    assert desk.entry(ENROL_HOUSING)["status"] == "pending"


def test_citizens_and_anonymous_visitors_get_no_staff_page(site: Site, person: Any) -> None:
    citizen = person("citizen")
    for path in ("/staff/projects", f"/staff/projects/{BOOKING}", "/staff/projects/merges"):
        assert citizen.get(path).status_code == 403, path
        anonymous = site.client().get(path)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    token = csrf_of(citizen.get("/").text)
    posted = citizen.post(
        f"/staff/projects/{ENROL_TRANSPORT}/decision",
        data={"csrf": token, "recommendation": "build", "reason": "单独建设"},
    )
    assert posted.status_code == 403


def test_merge_candidates_pair_the_overlapping_applications(person: Any, desk: ProjectDesk) -> None:
    transport = person("transport/officer", "en")
    r = transport.get("/staff/projects/merges")
    assert r.status_code == 200, r.text
    pair = next(
        p
        for p in desk.merge_candidates()["pairs"]
        if {p["first"], p["second"]} == {ENROL_HOUSING, ENROL_TRANSPORT}
    )
    row = next(x for x in rows(r.text) if ENROL_HOUSING in x and ENROL_TRANSPORT in x)
    assert "随迁子女入学报名系统" in row and "职工子女入学网上报名平台" in row
    assert "省住房和城乡建设厅" in row and "Your department" in row  # transport's own
    assert f"{pair['coverage'] // 10}.{pair['coverage'] % 10}%" in row
    for ident in (ENROL_HOUSING, ENROL_TRANSPORT):
        assert f'href="/staff/projects/{ident}"' in r.text
    assert BOOKING not in row


def test_the_pages_are_in_chinese_first_with_a_strict_csp(person: Any) -> None:
    officer = person("transport/officer")
    for path, wanted in (
        ("/staff/projects", ("项目重复性审查", "待审查", "登记库：在用系统", "只看本部门的")),
        (f"/staff/projects/{ENROL_TRANSPORT}", ("逐项功能比对", "最相似的条目", "登记历史")),
        ("/staff/projects/merges", ("可合并的项目申请", "共同功能")),
    ):
        r = officer.get(path)
        assert r.status_code == 200, path
        assert '<html lang="zh-CN">' in r.text
        for text in wanted:
            assert text in r.text, (path, text)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", r.text), path


# --- in a real browser --------------------------------------------------------------------------


def test_the_pages_pass_axe_in_chromium(site: Site, person: Any) -> None:
    """The list, an application with its review and the decision form, a decided one and the
    merge candidates, in Chromium with axe-core, at desktop and phone width, the CSP
    enforced. The browser's requests are answered by the in-process application (as a
    logged-in approver of the data bureau) through Playwright's routing: no server to start."""
    staff = person("data/approver")

    def answer(route: Route) -> None:
        request = route.request
        if request.method != "GET":
            route.abort()
            return
        r = staff.get(request.url)
        headers = {
            k: v
            for k, v in r.headers.items()
            if k.lower() not in ("set-cookie", "content-length", "content-encoding")
        }
        route.fulfill(status=r.status_code, headers=headers, body=r.content)

    with sync_playwright() as p:
        chromium = launch(p)
        try:
            v = Visitor(chromium, ORIGIN, Audits())
            v.context.route(f"{ORIGIN}/**", answer)
            for path in (
                f"/staff/projects/{ENROL_TRANSPORT}",  # the review and the decision form
                f"/staff/projects/{BOOKING}",
                "/staff/projects/merges",
                "/staff/projects",
            ):
                audit = v.goto(path)
                assert audit.status == 200, path
                assert audit.passes > 10, audit
            # htmx (an enhancement): the search replaces the results in place, and the
            # address follows, so the filtered list can be bookmarked.
            page = v.page
            page.evaluate("window.notReloaded = true")
            page.fill("#q", "挂号")
            with page.expect_response(lambda r: "q=" in r.url):
                page.click("form[role=search] button[type=submit]")
            page.wait_for_function(
                "id => !document.querySelector('#results').innerText.includes(id)",
                arg=ENROL_HOUSING,
            )
            assert page.evaluate("window.notReloaded === true")
            assert BOOKING in page.inner_text("#results")
            assert "q=" in page.url
            v.check()
            problems = v.problems()
            v.close()
        finally:
            chromium.close()
    assert not problems, "\n".join(problems)
