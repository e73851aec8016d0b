"""The portal in a real browser: Debian's Chromium (Playwright) against a real ``govchain
demo`` started for this module.

Every page a test opens is audited (``browser.Visitor.check``): axe-core finds no ``serious``
or ``critical`` WCAG 2.2 A/AA violation, the page with everything it loads weighs under
200 KB, it does not scroll sideways at phone width (390×844), and the console shows no error
(the portal's Content Security Policy stays enforced). The steps named in ``SHOTS`` are
photographed at desktop and phone size into ``docs/images/portal/``.

The whole journey: a citizen finds a service by a Chinese search, logs in at the provider,
consents, applies; a customs officer accepts, claims, completes the review and approves; the
citizen sees the decision and verifies the decision's receipt offline with
``govchain verify-receipt``. The same login and an application are also done with the keyboard
alone. The demo requires a one-time code of every staff login: the officers type the code
``govchain user demo-otp`` prints. The account pages (notices, my data, agents), a case with
its rating form and the staff's service figures and follow-ups are audited too.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import MAX_PAGE_BYTES, SHOTS, Audits, Visitor, launch
from playwright.sync_api import Browser, sync_playwright

from conftest import GOVCHAIN, Demo, need
from govchain.apps.enterprise.demo import DEMO_PASSWORD
from govchain.portal import i18n

SERVICE = "330100-BA-0003"
"""The service applied for: 报关单位备案 (customs declarant filing), found by searching 报关;
one review step and the decision, both by a customs officer."""
OFFICER = "customs/officer"
"""The staff login who handles it."""
STEPS = ("home", "search", "guide", "provider-login", "apply-form", "apply-check", "staff-case")
"""Screenshots kept (with ``case-decided``), each ``<step>-desktop.png`` and ``-phone.png``."""
ZH = i18n.translations("zh")


@pytest.fixture(scope="module")
def audits(demo: Demo) -> Iterator[Audits]:
    """Every page audited in this module; the figures are printed at the end (``-s``)."""
    found = Audits()
    yield found
    print("\naxe / weight / phone width of the portal's pages:\n" + found.summary())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module."""
    with sync_playwright() as p:
        chromium = launch(p)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def visitors(browser: Browser, demo: Demo, audits: Audits) -> Iterator[list[Visitor]]:
    """Browser contexts made by a test (closed afterwards); ``visitor`` below makes them."""
    made: list[Visitor] = []
    yield made
    for v in made:
        v.close()


def visitor(
    made: list[Visitor], browser: Browser, demo: Demo, audits: Audits, locale: str = "zh-CN"
) -> Visitor:
    """A new person in their own browser context."""
    made.append(Visitor(browser, demo.url, audits, locale))
    return made[-1]


def clean(*people: Visitor) -> None:
    """Fail, listing them, on the problems of every page these people saw."""
    problems = [p for v in people for p in v.problems()]
    assert not problems, "\n".join(problems)


def demo_otp(demo: Demo, login: str) -> str:
    """The one-time code of a demo staff account now, as ``govchain user demo-otp`` prints
    it from the demo's network directory."""
    done = subprocess.run(
        [str(GOVCHAIN), "user", "demo-otp", login, "--network", str(demo.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    code = done.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), code
    return code


def log_in_at_provider(
    v: Visitor, login: str, shot: str | None = None, demo: Demo | None = None
) -> None:
    """On the provider's login page: fill in the login and the password (and, for staff of
    the ``demo``, the one-time code), submit."""
    assert "/oidc/authorize" in v.page.url, v.page.url
    v.check(shot)
    v.page.fill("input[name=login]", login)
    v.page.fill("input[name=password]", DEMO_PASSWORD)
    if demo is not None:
        v.page.fill("input[name=otp]", demo_otp(demo, login))
    with v.page.expect_navigation():
        v.page.click("form[action='/oidc/authorize'] button[type=submit]")


def zh(message: str) -> str:
    """A portal message in Chinese."""
    return ZH.gettext(message)


# --- finding a service, anonymously ---------------------------------------------------------


def test_home_search_and_guide(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor]
) -> None:
    v = visitor(visitors, browser, demo, audits)
    page = v.page
    v.goto("/", shot="home")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.locator("h1").inner_text() == zh("What do you need to do?")
    page.fill("#q", "注销")
    with page.expect_navigation():
        page.press("#q", "Enter")
    v.check()
    found = page.locator("ul.results a").all_inner_texts()
    assert any("注销" in name for name in found), found
    assert page.locator("a[href='/services/330100-ZX-0001']").count() == 1
    page.fill("#q", "食品")
    with page.expect_navigation():
        page.press("#q", "Enter")
    v.check()
    assert page.locator("a[href='/services/330100-XK-0001']").count() == 1  # 食品经营许可
    page.fill("#q", "报关")
    with page.expect_navigation():
        page.click("form[role=search] button[type=submit]")
    v.check(shot="search")
    with page.expect_navigation():
        page.click(f"a[href='/services/{SERVICE}']")
    v.check(shot="guide")
    assert page.locator("h1").inner_text() == "报关单位备案"
    assert page.locator(f"a[href='/services/{SERVICE}/apply']").count() == 1
    v.goto("/services?event=close_business")
    assert page.locator("ul.results li").count() >= 2
    error = v.goto("/services/no-such-service")
    assert error.status == 404
    assert page.locator("h1").inner_text() == zh("This could not be done")
    clean(v)


# --- logging in and out ---------------------------------------------------------------------


def test_login_through_the_provider_and_logout(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor]
) -> None:
    v = visitor(visitors, browser, demo, audits)
    page = v.page
    v.goto(f"/services/{SERVICE}")
    with page.expect_navigation():
        page.click("header a[href^='/login']")
    v.check()  # the portal's login page: what happens, demo accounts
    assert page.locator("table code", has_text=demo.logins["citizen"]).count() == 1
    with page.expect_navigation():
        page.click("a[href^='/login/start']")
    log_in_at_provider(v, demo.logins["citizen"], shot="provider-login")
    v.check()
    assert v.path() == f"/services/{SERVICE}"  # back where the person was
    assert page.locator("header form[action='/logout']").count() == 1
    assert page.locator("header .who").inner_text().strip()  # the person's name
    cookies = {c["name"]: c for c in v.context.cookies()}
    assert cookies["govchain_portal"]["httpOnly"] and cookies["govchain_portal"]["secure"]
    # one login is every service: a second login start comes straight back (single sign-on)
    with page.expect_navigation():
        page.goto("/login/start?next=/")
    assert v.path() == "/"
    with page.expect_navigation():
        page.click("header form[action='/logout'] button")
    v.check()
    assert page.locator("header a[href^='/login']").count() == 1
    assert "govchain_portal" not in {c["name"] for c in v.context.cookies()}
    # the provider's session ended too: logging in again asks for the password
    page.goto("/login/start?next=/")
    assert "/oidc/authorize" in page.url and page.locator("input[name=password]").count() == 1
    clean(v)
    need(demo.paths, "cases")
    page.goto("/cases")
    v.check()
    assert v.path().startswith("/login?next=%2Fcases"), v.path()


# --- languages ------------------------------------------------------------------------------


def test_english_is_remembered_across_pages(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor]
) -> None:
    v = visitor(visitors, browser, demo, audits)
    page = v.page
    v.goto("/services?q=报关")
    assert page.get_attribute("html", "lang") == "zh-CN"
    with page.expect_navigation():
        page.click("header a[lang=en]")
    v.check()
    assert page.get_attribute("html", "lang") == "en"
    assert v.path() == "/services?q=%E6%8A%A5%E5%85%B3"  # the same page
    assert page.locator("h1").inner_text() == "Services"
    assert "Customs declarant filing" in page.locator("ul.results").inner_text()
    for path in ("/", f"/services/{SERVICE}", "/login"):
        v.goto(path)
        assert page.get_attribute("html", "lang") == "en", path
    assert page.locator("h1").inner_text() == "Log in once for every service"
    with page.expect_navigation():
        page.click("header a[lang=zh]")
    assert page.get_attribute("html", "lang") == "zh-CN"
    clean(v)


# --- phone ----------------------------------------------------------------------------------


def test_pages_fit_a_phone(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor]
) -> None:
    """Every page is checked at phone width as it is audited; here a phone context (touch,
    mobile viewport meta honoured) opens the widest pages too."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        base_url=demo.url,
    )
    try:
        page = ctx.new_page()
        for path in (
            "/",
            "/services",
            f"/services/{SERVICE}",
            "/services/330100-XK-0001",
            "/login",
        ):
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide on a phone"
    finally:
        ctx.close()


# --- the whole journey ----------------------------------------------------------------------

FORM = {
    "application_date": "2026-12-07",
    "signatory_name": "肖慧",
    "contact_name": "肖慧",
    "contact_phone": "13800138000",
    "customs_office": "杭州海关",
}
"""Text answers of the filing form (the register fills in the enterprise's particulars)."""
CHOICES = ("application_kind", "licence_delivery", "declarant_kind", "trade_kind")
"""Radio and checkbox groups: the first option of each."""
PDF = b"%PDF-1.4\n% govchain test: customs declarant filing form\n%%EOF\n"


CONTINUE = "main form button[type=submit]:not(.visually-hidden):not([name=more])"
"""A form page's Continue button (not the hidden default button, not "add a row")."""


def apply_with_the_mouse(v: Visitor, shots: bool) -> str:
    """From the application's task list, logged in: every page of the application; return
    the case number."""
    page = v.page
    assert v.path() == f"/services/{SERVICE}/apply", v.path()
    v.check()  # the task list
    with page.expect_navigation():
        page.click("main a.button")
    if "/apply/who" in page.url:
        v.check()
        page.locator("input[name=subject]:not([value=''])").first.check()
        with page.expect_navigation():
            page.click(CONTINUE)
    assert "/apply/consent" in page.url, page.url
    v.check()
    for box in page.locator("input[name=consent]").all():
        box.check()
    with page.expect_navigation():
        page.click(CONTINUE)
    assert "/apply/form" in page.url, page.url
    v.check("apply-form" if shots else None)
    # an empty form first: the error summary links to each field
    with page.expect_navigation():
        page.click(CONTINUE)
    v.check()
    assert page.locator(".error-summary a").count() >= len(FORM)
    for name, value in FORM.items():
        page.fill(f"[name={name}]", value)
    for name in CHOICES:
        page.locator(f"input[name={name}]").first.check()
    page.check("input[name=truthfulness_pledge]")
    with page.expect_navigation():
        page.click(CONTINUE)
    assert "/apply/materials" in page.url, page.url
    v.check()
    upload = {"name": "报关单位备案信息表.pdf", "mimeType": "application/pdf", "buffer": PDF}
    page.set_input_files("#m-application", files=[upload])
    with page.expect_navigation():
        page.click(CONTINUE)
    assert "/apply/check" in page.url, page.url
    v.check("apply-check" if shots else None)
    assert "杭州海关" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.click(f"form[action='/services/{SERVICE}/apply/check'] button")
    found = re.search(r"/cases/([^/]+)/confirmation$", page.url)
    assert found, page.url
    v.check()
    return found.group(1)


def handle_as_officer(v: Visitor, number: str, demo: Demo) -> None:
    """A customs officer: the workbench, the case, accept, claim, complete, approve."""
    page = v.page
    v.goto("/login/start?next=/staff")
    log_in_at_provider(v, OFFICER, demo=demo)
    assert v.path() == "/staff", v.path()
    v.check()
    with page.expect_navigation():
        page.click(f"a[href='/staff/cases/{number}']")
    v.check()
    for transition in ("accept", "claim", "complete", "decide"):
        form = page.locator(f"form[action='/staff/cases/{number}/{transition}']")
        assert form.count() == 1, f"no {transition} on {page.url}"
        if transition == "complete":
            form.locator("input[name=result][value=pass]").check()
            form.locator("textarea[name=note]").fill("材料齐全，信息属实")
        if transition == "decide":
            form.locator("input[name=outcome][value=approve]").check()
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert f"done={transition}" in page.url, page.url
        v.check("staff-case" if transition == "decide" else None)


def test_apply_handle_decide_and_verify(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor], tmp_path: Path
) -> None:
    need(demo.paths, "apply", "cases", "case", "staff")
    citizen = visitor(visitors, browser, demo, audits)
    page = citizen.page
    citizen.goto("/")
    page.fill("#q", "报关")
    with page.expect_navigation():
        page.press("#q", "Enter")
    citizen.check()
    with page.expect_navigation():
        page.click(f"a[href='/services/{SERVICE}']")
    citizen.check()
    with page.expect_navigation():
        page.click(f"a[href='/services/{SERVICE}/apply']")
    assert v_path_is_login(citizen)  # not logged in yet: the portal asks first
    citizen.check()
    with page.expect_navigation():
        page.click("a[href^='/login/start']")
    log_in_at_provider(citizen, demo.logins["citizen"])
    number = apply_with_the_mouse(citizen, shots=True)
    citizen.goto("/cases")
    assert page.locator(f"a[href='/cases/{number}']").count() == 1
    assert citizen.goto("/staff").status == 403  # the workbench is for staff (a 403 page)
    if "activity" in demo.paths:  # not part of this journey, but audited like every page
        citizen.goto("/me/activity")

    officer = visitor(visitors, browser, demo, audits)
    handle_as_officer(officer, number, demo)

    citizen.goto(f"/cases/{number}", shot="case-decided")
    facts = page.locator("dl.facts").inner_text()
    assert zh("approved") in facts, facts
    approved = page.locator("ol.steps li", has_text=zh("Application approved"))
    assert approved.count() == 1, page.locator("ol.steps").inner_text()
    with page.expect_download() as download:
        approved.locator("a").click()
    receipt = tmp_path / "decision.receipt.json"
    download.value.save_as(receipt)
    verified = subprocess.run(
        [str(GOVCHAIN), "verify-receipt", str(receipt), "--network", str(demo.root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "receipt verified" in verified.stdout
    clean(citizen, officer)


def v_path_is_login(v: Visitor) -> bool:
    """Whether the visitor is on the portal's login page."""
    return v.path().startswith("/login?next=")


# --- the keyboard alone ---------------------------------------------------------------------


def press(v: Visitor, key: str) -> None:
    """Press a key that leads to another page, and wait for it."""
    with v.page.expect_navigation():
        v.page.keyboard.press(key)


def test_keyboard_only_login_and_application(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor]
) -> None:
    """Tab, Shift+Tab, Enter and Space (and typing text): never the mouse. Every element the
    focus passes shows where it is."""
    v = visitor(visitors, browser, demo, audits)
    page = v.page
    v.goto("/")
    # the first Tab reaches the skip link, which jumps over the header
    page.keyboard.press("Tab")
    assert v.focused()["href"] == "#main"  # type: ignore[index]
    v.tab_to(lambda f: f["href"].startswith("/login?next="))
    press(v, "Enter")
    v.check()
    v.tab_to(lambda f: f["href"].startswith("/login/start"))
    press(v, "Enter")
    v.check()
    v.tab_to(lambda f: f["name"] == "login")
    page.keyboard.type(demo.logins["citizen"])
    v.tab_to(lambda f: f["name"] == "password")
    page.keyboard.type(DEMO_PASSWORD)
    v.tab_to(lambda f: f["tag"] == "button")
    press(v, "Enter")
    v.check()
    assert page.locator("header form[action='/logout']").count() == 1  # logged in
    # find the service: the search box, then the result, then the guide's Apply
    v.tab_to(lambda f: f["name"] == "q")
    page.keyboard.type("报关")
    press(v, "Enter")
    v.check()
    v.tab_to(lambda f: f["href"] == f"/services/{SERVICE}")
    press(v, "Enter")
    v.check()
    v.tab_to(lambda f: f["href"] == f"/services/{SERVICE}/apply")
    press(v, "Enter")
    v.check()
    need(demo.paths, "apply", "case")
    v.tab_to(lambda f: f["href"].startswith(f"/services/{SERVICE}/apply/"))
    press(v, "Enter")
    if "/apply/who" in page.url:
        v.check()
        v.tab_to(lambda f: f["name"] == "subject")
        page.keyboard.press("Space")
        v.tab_to(lambda f: f["tag"] == "button" and f["action"].endswith("/apply/who"))
        press(v, "Enter")
    v.check()
    v.tab_to(lambda f: f["name"] == "consent")
    page.keyboard.press("Space")
    v.tab_to(lambda f: f["tag"] == "button" and f["action"].endswith("/apply/consent"))
    press(v, "Space")
    v.check()
    assert "/apply/form" in page.url, page.url
    for name in ("application_kind", "truthfulness_pledge", "licence_delivery"):
        v.tab_to(lambda f, n=name: f["name"] == n)
        page.keyboard.press("Space")
    for name in ("application_date", "signatory_name"):
        v.tab_to(lambda f, n=name: f["name"] == n)
        if name == "application_date":
            type_date(v, name)
        else:
            page.keyboard.type(FORM[name])
    for name in ("contact_name", "contact_phone", "customs_office"):
        v.tab_to(lambda f, n=name: f["name"] == n)
        page.keyboard.type(FORM[name])
    for name in ("declarant_kind", "trade_kind"):
        v.tab_to(lambda f, n=name: f["name"] == n)
        page.keyboard.press("Space")
    v.tab_to(lambda f: f["tag"] == "button" and f["action"].endswith("/apply/form"))
    press(v, "Enter")
    v.check()
    assert "/apply/materials" in page.url, page.url
    v.tab_to(lambda f: f["name"] == "file-application")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(
        files=[{"name": "form.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    v.tab_to(lambda f: f["tag"] == "button" and f["action"].endswith("/apply/materials"))
    press(v, "Enter")
    v.check()
    assert "/apply/check" in page.url, page.url
    v.tab_to(lambda f: f["tag"] == "button" and f["action"].endswith("/apply/check"))
    press(v, "Enter")
    v.check()
    assert re.search(r"/cases/[^/]+/confirmation$", page.url), page.url
    clean(v)


# --- the account pages, a rating form, the staff's figures -------------------------------------


def test_account_rating_and_figures_pages(
    browser: Browser, demo: Demo, audits: Audits, visitors: list[Visitor]
) -> None:
    """The citizen's notices, data and agents pages, one of their finished cases with its
    rating form (and a consent's revocation page when they have a consent in effect); the
    enterprise's agents; an officer's notices, service figures and follow-ups."""
    need(demo.paths, "cases", "case")
    citizen = visitor(visitors, browser, demo, audits)
    page = citizen.page
    citizen.goto("/login/start?next=/notices")
    log_in_at_provider(citizen, demo.logins["citizen"])
    assert citizen.path() == "/notices", citizen.path()
    citizen.check()
    citizen.goto("/me/data")
    assert page.locator("h1").inner_text() == zh("My data")
    revoke = page.locator("a[href^='/me/data/consents/']")
    if revoke.count():
        with page.expect_navigation():
            revoke.first.click()
        citizen.check()
        assert page.locator("input[type=file][name=file]").count() == 1
    citizen.goto("/enterprises/agents")
    # A finished case of theirs shows the rating form (the demo has some).
    page.goto("/cases")
    numbers = page.locator("main a[href^='/cases/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    rated = None
    for href in numbers:
        page.goto(href)
        if page.locator(f"form[action='{href}/rating']").count():
            rated = href
            break
    assert rated is not None, f"no case of the demo citizen can be rated: {numbers}"
    citizen.check()
    assert page.locator(f"form[action='{rated}/rating'] input[name=level]").count() == 5

    enterprise = visitor(visitors, browser, demo, audits)
    enterprise.goto("/login/start?next=/enterprises/agents")
    log_in_at_provider(enterprise, demo.logins["enterprise"])
    enterprise.check()
    enterprise.goto("/me/data")

    officer = visitor(visitors, browser, demo, audits)
    officer.goto("/login/start?next=/staff/figures")
    log_in_at_provider(officer, "market/officer", demo=demo)
    assert officer.path() == "/staff/figures", officer.path()
    officer.check()
    officer.goto("/staff/follow-ups")
    officer.goto("/notices")
    clean(citizen, enterprise, officer)


def type_date(v: Visitor, name: str) -> None:
    """Type 2026-12-07 into the focused date input. Chromium's date input is typed field by
    field, and headless Chromium orders them month, day, year whatever the page's locale
    (measured with zh-CN and de-DE; its ICU locale is en-US): the keys follow that order."""
    v.page.keyboard.type("12072026")
    value = v.page.eval_on_selector(f"[name={name}]", "e => e.value")
    assert value == "2026-12-07", f"the date input took 12072026 as {value!r}"


CHART_PAGE_BYTES = 300_000
"""Heaviest a page with charts may be: the charting library alone is ~170 KB compressed, so
these pages have their own budget instead of the 200 KB of the others."""


def test_dashboards_in_a_browser(demo: Demo, browser: Browser) -> None:
    """Decision support and supervision pages draw their charts (ECharts, loaded only there),
    pass axe-core and fit a phone; screenshots for docs/decisions.md and docs/supervision.md."""
    audits = Audits()
    v = Visitor(browser, demo.url, audits)
    page = v.page
    v.page.goto("/login/start?next=/staff/decisions")
    login = demo.logins["market/officer"]
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", DEMO_PASSWORD)
    if page.locator("input[name=otp]").count():
        page.fill("input[name=otp]", demo_otp(demo, login))
    with page.expect_navigation():
        page.click("form[action='/oidc/authorize'] button[type=submit]")
    assert v.path().startswith("/staff/decisions"), v.path()
    page.wait_for_selector("#departments-cases canvas")
    v.check("dashboard-decisions")
    assert page.locator("details[data-chart-table][open]").count() == 0  # folded
    for path, drawn, shot in (
        ("/staff/decisions/market", "#month-cases canvas", "dashboard-department"),
        ("/staff/supervision", "div.chart canvas", "dashboard-supervision"),
        ("/staff/supervision/risk", "#risk-classes canvas", None),
    ):
        page.goto(path)
        page.wait_for_selector(drawn)
        v.check(shot)
        if shot == "dashboard-department":  # every chart of the report, for the docs
            page.screenshot(path=SHOTS / f"{shot}-full.png", full_page=True)
    v.goto("/staff")  # no chart: the library is not loaded
    v.close()
    problems = []
    for audit in audits.pages:
        charted = audit.name.startswith(("dashboard-", "/staff/supervision", "/staff/decisions"))
        for problem in audit.problems():
            if charted and f"(limit {MAX_PAGE_BYTES})" in problem:
                continue  # judged against CHART_PAGE_BYTES below
            problems.append(problem)
        if charted:
            assert audit.weight < CHART_PAGE_BYTES, (audit.name, audit.weight)
        else:
            assert audit.weight < MAX_PAGE_BYTES, (audit.name, audit.weight)
    assert not problems, "\n".join(problems)
    for name in ("decisions-desktop", "department-phone", "department-full", "supervision-desktop"):
        shot = SHOTS / f"dashboard-{name}.png"
        assert shot.exists() and shot.stat().st_size > 1000, shot
    print("\n" + audits.summary())


def test_the_audit_finds_what_it_looks_for(browser: Browser) -> None:
    """The checks are not vacuous: a page with an image without a text alternative, grey on
    white text, a wide block and a failing script fails each of them."""
    v = Visitor(browser, "http://127.0.0.1", Audits())  # a page of its own: no server
    try:
        v.page.set_content(
            '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
            '<img src="data:,"><p style="color:#ccc;background:#fff">faint</p>'
            '<div style="width:800px">wide</div><script>nothing.here()</script></main></body>'
            "</html>"
        )
        found = " ".join(v.check().problems())
    finally:
        v.close()
    for expected in (
        "critical image-alt",
        "serious color-contrast",
        "px wide on a phone",
        "nothing",
    ):
        assert expected in found, (expected, found)


def test_screenshots_were_saved() -> None:
    """The docs show these (``docs/portal.md``)."""
    for step in (*STEPS, "case-decided"):
        for size in ("desktop", "phone"):
            shot = SHOTS / f"{step}-{size}.png"
            assert shot.exists() and shot.stat().st_size > 1000, shot
