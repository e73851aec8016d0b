"""The portal's protections, in process (httpx ``ASGITransport``, no sockets): cookies, the
Content Security Policy and what it implies for the HTML, CSRF and cross-site posts, who may
see which page, sessions ending, the login rate limit, redirects that stay on the site, and no
password or token ever written into a page."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from conftest import (
    FILING,
    ORIGIN,
    Client,
    Site,
    csrf_of,
    hidden_inputs,
    need,
    pages_to_visit,
)
from govchain.apps.enterprise.demo import DEMO_PASSWORD
from govchain.portal.security import RateLimit
from govchain.portal.sessions import IDLE_S, SessionStore

EVIL = "https://evil.example"
"""Another site."""


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def logged_in(site: Site, who: str = "citizen") -> Client:
    """A client logged in as a demo login (``citizen``, ``enterprise``, ``market/officer`` …)."""
    c = site.client()
    c.login(site.logins[who])
    return c


def is_logged_in(c: Client) -> bool:
    """Whether the home page shows a logged-in person (the logout form)."""
    page = c.get("/")
    assert page.status_code == 200
    return 'action="/logout"' in page.text


# --- cookies --------------------------------------------------------------------------------


def cookie_headers(responses: list[httpx.Response]) -> dict[str, str]:
    """Every cookie set in these responses: name → its ``Set-Cookie`` header."""
    found = {}
    for r in responses:
        for header in r.headers.get_list("set-cookie"):
            found[header.split("=", 1)[0]] = header
    return found


def test_cookies_are_httponly_secure_and_samesite_lax(site: Site) -> None:
    c = site.client()
    c.login(site.logins["citizen"])
    c.get("/lang/en", params={"next": "/"})
    cookies = cookie_headers(c.seen)
    # the portal's session, the language choice, the provider's login session
    assert {"govchain_portal", "govchain_lang", "govchain_session"} <= set(cookies)
    for name, header in cookies.items():
        attributes = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
        assert "httponly" in attributes, header
        assert "secure" in attributes, header
        assert attributes.get("samesite", "").lower() == "samesite=lax", header
        assert name != "govchain_portal" or attributes["path"].lower() == "path=/", header


# --- headers and HTML of every page -----------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
INLINE_CODE = (
    ("inline <script>", INLINE_SCRIPT),
    ("style= attribute", STYLE_ATTRIBUTE),
    ("<style> element", STYLE_ELEMENT),
    ("inline event handler", EVENT_ATTRIBUTE),
    ("javascript: URL", JAVASCRIPT_URL),
)
"""What the CSP would refuse to run or apply (the page would break where it is used)."""


def check_page(response: httpx.Response) -> list[str]:
    """What is wrong with a page's security headers and HTML (empty when nothing)."""
    where = str(response.request.url)
    problems = []
    csp = response.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d for d in csp.split(";") if d.strip() for d in [d.strip()]}
    if not csp:
        problems.append(f"{where}: no Content-Security-Policy")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"{where}: the CSP allows inline code: {csp}")
    for needed in ("default-src", "script-src", "style-src", "frame-ancestors", "form-action"):
        if needed not in directives:
            problems.append(f"{where}: the CSP has no {needed}")
    if response.headers.get("x-content-type-options") != "nosniff":
        problems.append(f"{where}: no X-Content-Type-Options: nosniff")
    if response.headers.get("x-frame-options") != "DENY":
        problems.append(f"{where}: no X-Frame-Options: DENY")
    if "no-store" not in response.headers.get("cache-control", ""):
        problems.append(f"{where}: a personal page may be cached (Cache-Control)")
    for name, pattern in INLINE_CODE:
        hit = pattern.search(response.text)
        if hit:
            problems.append(f"{where}: {name}: {hit.group(0)[:80]}")
    return problems


def test_every_page_has_a_strict_csp_and_no_inline_code(site: Site) -> None:
    pages = pages_to_visit(site)
    clients = {
        "anonymous": site.client(),
        "citizen": logged_in(site),
        "staff": logged_in(site, "market/officer"),
    }
    problems: list[str] = []
    seen = 0
    for who, paths in pages.items():
        for path in paths:
            r = clients[who].get(path)
            assert r.status_code in (200, 403, 404), (who, path, r.status_code)
            assert r.headers["content-type"].startswith("text/html"), (who, path)
            problems += check_page(r)
            seen += 1
    # the provider's login page too
    start = site.client().get("/login/start")
    provider = site.client().get(start.headers["location"])
    assert provider.status_code == 200
    assert "unsafe-inline" not in provider.headers["content-security-policy"]
    assert not INLINE_SCRIPT.search(provider.text) and not STYLE_ATTRIBUTE.search(provider.text)
    assert not problems, "\n".join(problems)
    assert seen >= 12


# --- forged posts ---------------------------------------------------------------------------


def test_a_forged_logout_is_refused_and_changes_nothing(site: Site) -> None:
    c = logged_in(site)
    token = csrf_of(c.get("/").text)
    forged = [
        ({}, {}),  # no token
        ({"csrf": "x" * 43}, {}),  # a wrong one
        ({"csrf": token}, {"Origin": EVIL}),  # the right one, posted from another site
        ({"csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
        ({"csrf": token}, {"Origin": "http://testserver"}),  # our host, another scheme
    ]
    for data, headers in forged:
        r = c.post("/logout", data=data, headers=headers)
        assert r.status_code == 403, (data, headers, r.status_code)
        assert "text/html" in r.headers["content-type"]
        assert is_logged_in(c), (data, headers)  # nothing happened
    ok = c.post("/logout", data={"csrf": token}, headers={"Origin": ORIGIN})
    assert ok.status_code == 303 and not is_logged_in(c)


def test_a_login_form_posted_from_another_site_is_refused(site: Site) -> None:
    c = site.client()
    start = c.get("/login/start")
    page = c.get(start.headers["location"])
    fields = {**hidden_inputs(page.text), "login": site.logins["citizen"]}
    fields["password"] = DEMO_PASSWORD
    r = c.post("/oidc/authorize", data=fields, headers={"Origin": EVIL})
    assert r.status_code == 403
    assert "govchain_session" not in c.http.cookies


FILING_FORM = {
    "application_kind": "新办",
    "application_date": "2026-12-07",
    "signatory_name": "肖慧",
    "truthfulness_pledge": "true",
    "licence_delivery": "电子证照",
    "contact_name": "肖慧",
    "contact_phone": "13800138000",
    "declarant_kind": "进出口货物收发货人",
    "customs_office": "杭州海关",
    "trade_kind": "一般贸易",
}


def forged(c: Client, action: str, token: str) -> None:
    """Post to ``action`` without the token, with a wrong one, and with the right one from
    another site: each is refused (403)."""
    for headers, data in (
        ({}, {}),
        ({}, {"csrf": "x" * 43}),
        ({"Origin": EVIL}, {"csrf": token}),
        ({"Sec-Fetch-Site": "cross-site"}, {"csrf": token}),
    ):
        r = c.post(action, data=data, headers=headers)
        assert r.status_code == 403, (action, headers, r.status_code)


def test_a_forged_application_is_refused_and_nothing_is_filed(site: Site) -> None:
    """A draft is taken to its last page; a forged submit files nothing, the real one does."""
    need(site.paths, "apply", "case")
    c = logged_in(site)
    citizen = site.logins["citizen"]
    before = len(site.cases_of(citizen))
    base = f"/services/{FILING}/apply"
    who = c.get(f"{base}/who")
    token = csrf_of(who.text)
    subject = re.findall(r'name="subject" value="([^"]+)"', who.text)[0]
    for step in ("who", "consent", "form", "materials", "check", "discard"):
        forged(c, f"{base}/{step}", token)
    steps = (
        ("who", {"subject": subject}, None),
        ("consent", {"consent": "business_licence"}, None),
        ("form", FILING_FORM, None),
        ("materials", {}, {"file-application": ("form.pdf", b"%PDF-1.4 test", "application/pdf")}),
    )
    for step, data, files in steps:
        r = c.post(f"{base}/{step}", data={"csrf": token, **data}, files=files)
        assert r.status_code == 303, (step, r.status_code, r.text[:2000])
    assert c.get(f"{base}/check").status_code == 200  # the draft is complete
    forged(c, f"{base}/check", token)
    assert len(site.cases_of(citizen)) == before  # nothing filed
    filed = c.post(f"{base}/check", data={"csrf": token}, headers={"Origin": ORIGIN})
    assert filed.status_code == 303 and filed.headers["location"].endswith("/confirmation")
    assert len(site.cases_of(citizen)) == before + 1  # the same post with its token files
    number = filed.headers["location"].split("/")[2]
    forged(c, f"/cases/{number}/withdraw", token)
    assert site.node.query("cases", "case", {"case": number})["status"] == "submitted"


def test_a_forged_staff_action_is_refused_and_changes_nothing(site: Site) -> None:
    need(site.paths, "staff")
    officer = logged_in(site, "market/officer")
    token = csrf_of(officer.get("/staff").text)
    queue = site.node.query("cases", "queue", {"dept": "market", "limit": 100})
    number = str(queue[0]["case"])
    before = site.node.query("cases", "case", {"case": number})
    for transition in ("accept", "claim", "decide", "reject"):
        forged(officer, f"/staff/cases/{number}/{transition}", token)
    forged(officer, "/staff/batch", token)
    assert site.node.query("cases", "case", {"case": number}) == before


# --- who may see what -----------------------------------------------------------------------


def test_another_persons_case_is_forbidden(site: Site) -> None:
    need(site.paths, "case")
    c = logged_in(site)
    mine = site.cases_of(site.logins["citizen"])
    assert mine, "the demo citizen has cases"
    assert c.get(f"/cases/{mine[0]['number']}").status_code == 200
    other = site.someone_elses_case(site.logins["citizen"])
    r = c.get(f"/cases/{other}")
    assert r.status_code == 403
    case = site.node.query("cases", "case", {"case": other})
    assert case["applicant"] not in r.text  # nothing of the case is shown
    assert "/v1/transactions/" not in r.text and case["form_hash"] not in r.text


def test_staff_pages_are_forbidden_to_citizens(site: Site) -> None:
    need(site.paths, "staff")
    c = logged_in(site)
    r = c.get("/staff")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    staff = logged_in(site, "market/officer")
    assert staff.get("/staff").status_code == 200


def test_protected_pages_ask_to_log_in(site: Site) -> None:
    need(site.paths, "cases")
    r = site.client().get("/cases")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcases"


# --- sessions ending ------------------------------------------------------------------------


@pytest.fixture
def clock(site: Site) -> Iterator[Clock]:
    """The portal's session store on a clock the test moves (restored afterwards)."""
    portal = site.app.state.portal
    original = portal.sessions
    moved = Clock()
    portal.sessions = SessionStore(clock=moved)
    try:
        yield moved
    finally:
        portal.sessions = original


def test_an_idle_session_ends(site: Site, clock: Clock) -> None:
    c = logged_in(site)
    clock.now += IDLE_S - 1
    assert is_logged_in(c)  # used: the idle time starts again
    clock.now += IDLE_S - 1
    assert is_logged_in(c)
    clock.now += IDLE_S + 1
    assert not is_logged_in(c)
    assert len(site.app.state.portal.sessions) == 0  # forgotten, not only hidden
    need(site.paths, "cases")
    r = c.get("/cases")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_ending_the_provider_session_ends_the_portal_session(site: Site) -> None:
    c = logged_in(site)
    session = c.session()
    assert session is not None and is_logged_in(c)
    site.app.state.identity.provider.end_session(session.provider_sid)
    assert not is_logged_in(c)  # the access token is refused and cannot be refreshed
    assert c.session() is None


# --- the login rate limit -------------------------------------------------------------------


def test_starting_logins_is_rate_limited_per_address(site: Site) -> None:
    portal = site.app.state.portal
    original = portal.logins
    clock = Clock()
    portal.logins = RateLimit(30, 60.0, clock=clock)
    try:
        c = site.client(host="192.0.2.7")
        for _ in range(30):
            assert c.get("/login/start").status_code == 302
        refused = c.get("/login/start")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert 1 <= int(refused.headers["retry-after"]) <= 61
        assert "too_many_requests" in refused.text
        assert "unsafe-inline" not in refused.headers["content-security-policy"]
        # another address is not held up; the same one is let in again after the window
        assert site.client(host="192.0.2.8").get("/login/start").status_code == 302
        clock.now += 61
        assert c.get("/login/start").status_code == 302
    finally:
        portal.logins = original


# --- redirects stay on the site -------------------------------------------------------------

ELSEWHERE = (
    "//evil.example",
    "https://evil.example",
    "http://evil.example/",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
)


def stays_here(location: str) -> bool:
    """Whether a ``Location`` stays on this site, read as a browser reads it (browsers drop
    tabs and newlines and treat ``\\`` as ``/``)."""
    seen = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    parts = urlsplit(seen)
    return not parts.scheme and not parts.netloc and seen.startswith("/") and "//" not in seen[:2]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_next_cannot_send_the_browser_to_another_site(site: Site, target: str) -> None:
    c = site.client()
    r = c.get("/lang/zh", params={"next": target})
    assert r.status_code == 303 and stays_here(r.headers["location"]), r.headers["location"]
    page = c.get("/login", params={"next": target})
    links = re.findall(r'href="(/login/start\?next=[^"]*)"', page.text)
    assert links == ["/login/start?next=%2F"], links
    back = c.login(site.logins["citizen"], next_path=target)
    assert back.headers["location"] == "/", back.headers["location"]


def test_a_stale_login_answer_starts_a_new_login_from_home(site: Site) -> None:
    """A login answer the portal does not know (too late, used already) asks to log in again,
    and the new login goes home, not back to the stale answer (which would fail again)."""
    c = site.client()
    stale = c.get("/callback", params={"state": "unknown-state", "code": "x"})
    assert stale.status_code == 303 and stale.headers["location"] == "/login?next=%2F"
    back = c.login(site.logins["citizen"])
    replay = c.get(back.request.url.path, params=dict(back.request.url.params))
    assert replay.status_code == 303 and replay.headers["location"] == "/login?next=%2F"


def test_next_keeps_a_path_of_this_site(site: Site) -> None:
    c = site.client()
    back = c.login(site.logins["citizen"], next_path="/services?q=注销")
    assert unquote(back.headers["location"]) == "/services?q=注销"


# --- no secret in a page --------------------------------------------------------------------


def test_no_password_or_token_is_written_into_a_page_or_a_log(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = site.client()
    # a wrong password first: the provider's answer must not repeat it
    start = c.get("/login/start")
    form_page = c.get(start.headers["location"])
    wrong = "Wrong-password-2026-x"
    fields = {**hidden_inputs(form_page.text), "login": site.logins["citizen"], "password": wrong}
    failed = c.post("/oidc/authorize", data=fields, headers={"Origin": ORIGIN})
    assert failed.status_code == 401 and wrong not in failed.text
    assert 'type="password"' in failed.text and 'value="' + wrong not in failed.text
    c.login(site.logins["citizen"])
    for path in pages_to_visit(site)["citizen"]:
        c.get(path)
    session = c.session()
    assert session is not None
    secrets = {
        "password": DEMO_PASSWORD,
        "access token": session.access_token,
        "refresh token": session.refresh_token,
        "portal session id": session.sid,
        "provider session": c.http.cookies.get("govchain_session", path="/oidc") or "",
    }
    assert all(len(v) >= 16 for v in secrets.values()), "every secret was found"
    for r in c.seen:
        for name, value in secrets.items():
            assert value not in r.text, f"{r.request.url} shows the {name}"
        location = r.headers.get("location", "")
        for name in ("password", "access token", "refresh token", "portal session id"):
            assert secrets[name] not in location, f"{r.request.url} redirects with the {name}"
    for record in caplog.records:
        for name, value in secrets.items():
            assert value not in record.getMessage(), f"{record.name} logged the {name}"
    assert wrong not in caplog.text


def test_the_staff_home_is_shown_only_to_staff(site: Site) -> None:
    staff = logged_in(site, "market/officer")
    citizen = logged_in(site)
    staff_home, citizen_home = staff.get("/").text, citizen.get("/").text
    assert 'href="/staff"' in staff_home and 'href="/cases"' not in staff_home
    assert 'href="/cases"' in citizen_home and 'href="/staff"' not in citizen_home
